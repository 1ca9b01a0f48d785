//! `omnidesk history`: what was said before, from the SQLite store.

use anyhow::Result;

use super::args::HistoryArgs;
use super::context::Context;

pub fn run(ctx: &Context, args: &HistoryArgs) -> Result<()> {
    let store = ctx.open_store()?;
    if let Some(id) = args.delete {
        store.delete_conversation(id)?;
        eprintln!("deleted conversation {id}");
        return Ok(());
    }
    if let Some(id) = args.id {
        let conv = store.conversation(id)?;
        let messages = match args.select {
            Some(m) => store.select_version(id, m)?,
            None => store.messages(id)?,
        };
        if args.json {
            let json = serde_json::json!({
                "conversation": conv,
                "messages": messages,
                "all_messages": store.all_messages(id)?,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            println!("# {} (conversation {})", conv.title, conv.id);
            if let Some(s) = &conv.system_prompt {
                println!("[system] {s}");
            }
            for m in messages {
                println!("[{}{}] {}", m.role, version_mark(&m), m.content);
            }
        }
        return Ok(());
    }
    let list = match &args.search {
        Some(q) => store.search_conversations(q, args.limit)?,
        None => store.list_conversations(args.limit)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if list.is_empty() {
        eprintln!("no conversations yet; start one with `omnidesk chat` or `omnidesk ask`");
    } else {
        println!("{:>6}  {:>5}  TITLE", "ID", "MSGS");
        for c in list {
            println!("{:>6}  {:>5}  {}", c.id, c.message_count, c.title);
        }
    }
    Ok(())
}

/// ` 2/3 #41; other versions: #40 #44` for a message with other versions
/// (`--select` takes those ids), nothing otherwise.
fn version_mark(m: &omnidesk::store::StoredMessage) -> String {
    if m.versions.len() < 2 {
        return String::new();
    }
    let n = m
        .versions
        .iter()
        .position(|v| *v == m.id)
        .map_or(0, |i| i + 1);
    let others: Vec<String> = m
        .versions
        .iter()
        .filter(|v| **v != m.id)
        .map(|v| format!("#{v}"))
        .collect();
    format!(
        " {n}/{} #{}; other versions: {}",
        m.versions.len(),
        m.id,
        others.join(" ")
    )
}
