//! `omnidesk audio devices|transcribe|say` and `omnidesk camera list|snap`.

use std::path::Path;

use anyhow::{Context as _, Result};
use omnidesk::audio;
use omnidesk::config;

use super::args::{AudioArgs, AudioCommand, CameraArgs, CameraCommand};
use super::context::Context;
use super::voice;

pub fn audio(ctx: &Context, args: &AudioArgs) -> Result<()> {
    match &args.command {
        AudioCommand::Devices { use_device, json } => devices(ctx, use_device.as_deref(), *json),
        AudioCommand::Transcribe {
            file,
            whisper_model,
            json,
        } => transcribe(ctx, file, whisper_model.as_deref(), *json),
        AudioCommand::Say { text, out, json } => {
            let text = super::ask::question_text(text)?;
            voice::say(ctx, &text, out.as_deref(), *json)
        }
    }
}

/// `omnidesk audio transcribe FILE`.
fn transcribe(ctx: &Context, file: &Path, model: Option<&Path>, json: bool) -> Result<()> {
    let whisper = voice::whisper(ctx, model).context(
        "no Whisper model: pass --whisper-model or set [audio] whisper_model \
         (scripts/fetch-test-models.sh whisper-tiny-en makes one)",
    )?;
    let clip = omnidesk::media::audio::load(file, 16_000, &Default::default())?;
    let t = whisper.transcribe(&clip)?;
    if json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        println!("{}", t.text);
    }
    Ok(())
}

fn devices(ctx: &Context, use_device: Option<&str>, json: bool) -> Result<()> {
    let devices = audio::list_input_devices()?;
    if let Some(wanted) = use_device {
        if wanted == "default" {
            config::remember_input_device(&ctx.config_path, None)?;
            eprintln!("Using the system default microphone.");
        } else {
            let found = devices
                .iter()
                .find(|d| d.id == wanted || d.name == wanted)
                .ok_or_else(|| audio::AudioError::DeviceNotFound {
                    name: wanted.to_string(),
                })?;
            config::remember_input_device(&ctx.config_path, Some(&found.id))?;
            eprintln!(
                "Using {} ({}); saved in {}",
                found.name,
                found.id,
                ctx.config_path.display()
            );
        }
        return Ok(());
    }
    let chosen = ctx.config.audio.input_device.as_deref();
    if json {
        println!("{}", serde_json::to_string_pretty(&devices)?);
        return Ok(());
    }
    if devices.is_empty() {
        eprintln!("No input devices found.");
    }
    for d in &devices {
        let in_use = Some(d.id.as_str()) == chosen || (d.is_default && chosen.is_none());
        let mark = if in_use { "*" } else { " " };
        println!("{mark} {:<32} {}", d.id, d.name);
    }
    Ok(())
}

pub fn camera(args: &CameraArgs) -> Result<()> {
    let source = voice::camera_source(args.fake);
    match &args.command {
        CameraCommand::List { json } => {
            let cams = source.list()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&cams)?);
            } else if cams.is_empty() {
                eprintln!("No cameras found.");
            } else {
                for c in cams {
                    println!("{:>3}  {}  {}", c.index, c.name, c.description);
                }
            }
            Ok(())
        }
        CameraCommand::Snap { file, index } => {
            let image = omnidesk::camera::snapshot(&*source, *index, &Default::default())
                .context("cannot take a snapshot")?;
            omnidesk::media::image::save(&image, file)?;
            eprintln!(
                "Saved {}×{} to {}",
                image.width,
                image.height,
                file.display()
            );
            Ok(())
        }
    }
}
