//! `omnidesk export` and `omnidesk import`: a conversation to a file and
//! back, through the library's [`omnidesk::conversation::export`].

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use omnidesk::conversation::export;

use super::args::{ExportArgs, ExportFormat, ImportArgs};
use super::context::Context;

pub fn export(ctx: &Context, args: &ExportArgs) -> Result<()> {
    let store = ctx.open_store()?;
    let exported = export::export(&store, args.id)?;
    let format = args.format.unwrap_or_else(|| {
        match args
            .output
            .as_deref()
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
        {
            Some("md" | "markdown") => ExportFormat::Md,
            _ => ExportFormat::Json,
        }
    });
    let (text, files) = match format {
        ExportFormat::Json => (serde_json::to_string_pretty(&exported)? + "\n", Vec::new()),
        ExportFormat::Md => match &args.output {
            Some(out) => {
                let stem = out
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "conversation".into());
                let md = export::to_markdown(&exported, &format!("{stem}_files"));
                (md.text, md.files)
            }
            // On standard output nothing can be copied: links point at the
            // files where they are.
            None => {
                let mut md = export::to_markdown(&exported, "");
                for (from, to) in &md.files {
                    md.text = md.text.replace(
                        &format!("({})", to.to_string_lossy().replace(' ', "%20")),
                        &format!("({})", from.to_string_lossy().replace(' ', "%20")),
                    );
                }
                (md.text, Vec::new())
            }
        },
    };
    let Some(out) = &args.output else {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(());
    };
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let mut copied = 0;
    let mut missing = 0;
    for (from, to) in &files {
        let to = dir.map_or_else(|| to.clone(), |d| d.join(to));
        if !from.is_file() {
            missing += 1;
            continue;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::copy(from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        copied += 1;
    }
    // Conversations are private: the export is readable by the user only.
    omnidesk::private_file::write_private(out, text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "wrote {} ({} messages{})",
        out.display(),
        exported.messages.len(),
        match (copied, missing) {
            (0, 0) => String::new(),
            (c, 0) => format!(", {c} attachments copied"),
            (c, m) => format!(", {c} attachments copied, {m} no longer on disk"),
        }
    );
    Ok(())
}

pub fn import(ctx: &Context, args: &ImportArgs) -> Result<()> {
    let exported = export::read_json(&args.file)?;
    let store = ctx.open_store()?;
    let imported = export::import(&store, &exported)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&imported)?);
        return Ok(());
    }
    let id = imported.conversation.id;
    println!(
        "imported {:?} as conversation {id} ({} messages)",
        imported.conversation.title, imported.messages
    );
    if imported.attachments_dropped > 0 {
        eprintln!(
            "{} attachments are left out: their files are not on this computer",
            imported.attachments_dropped
        );
    }
    eprintln!("[continue with `omnidesk ask --conversation {id} …`]");
    Ok(())
}
