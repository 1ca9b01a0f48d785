//! The `omnidesk` binary as users and scripts run it: separate processes,
//! a real SQLite file, real signals.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn omnidesk(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
    let config = data.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "[engine]\nthreads = 2\nn_ctx = 1024\n").unwrap();
    }
    c.env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env("OMNIDESK_MODEL", common::test_model())
        .env_remove("OMNIDESK_LOG");
    c
}

fn run_ok(c: &mut Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_conversation_written_by_one_process_is_read_back_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let asked = json(&run_ok(omnidesk(dir.path()).args([
        "ask",
        "--json",
        "--temp",
        "0",
        "-n",
        "16",
        "What is two plus two?",
    ])));
    let id = asked["conversation_id"]
        .as_i64()
        .expect("stored conversation id");
    let text = asked["text"].as_str().unwrap().to_string();
    assert!(!text.is_empty());
    assert!(asked["stats"]["prompt_tokens"].as_u64().unwrap() > 0);

    // A second process continues it: the history is replayed to the model.
    let again = json(&run_ok(omnidesk(dir.path()).args([
        "ask",
        "--json",
        "--temp",
        "0",
        "-n",
        "8",
        "--conversation",
        &id.to_string(),
        "And three plus three?",
    ])));
    assert_eq!(again["conversation_id"].as_i64(), Some(id));

    // A third reads it all back.
    let shown = json(&run_ok(omnidesk(dir.path()).args([
        "history",
        "--json",
        &id.to_string(),
    ])));
    let messages = shown["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(messages[0]["content"], "What is two plus two?");
    assert_eq!(messages[1]["content"].as_str(), Some(text.as_str()));
    assert!(
        messages[1]["stats"]["stats"]["generated_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );

    let listed = json(&run_ok(omnidesk(dir.path()).args(["history", "--json"])));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let found = json(&run_ok(omnidesk(dir.path()).args([
        "history",
        "--json",
        "--search",
        "three plus",
    ])));
    assert_eq!(found.as_array().unwrap().len(), 1);
}

/// A follow-up in a fresh process restores the conversation the last one
/// saved instead of reading it again; with saving off it reads it all.
#[test]
fn a_follow_up_in_a_fresh_process_restores_the_saved_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let question = "Here is what I know about lighthouses: a keeper tends the lamp, the lens \
        gathers the light into a beam, a fog horn warns ships when the beam cannot be seen, \
        and the tower stands on rocks along a stormy coast. What else should I know?";
    let first =
        json(&run_ok(omnidesk(dir.path()).args([
            "ask", "--json", "--temp", "0", "-n", "16", question,
        ])));
    let id = first["conversation_id"].as_i64().unwrap().to_string();
    // A copy of the history with saving off, for the cold read.
    let cold_dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if f.file_type().unwrap().is_file() {
            std::fs::copy(f.path(), cold_dir.path().join(f.file_name())).unwrap();
        }
    }
    std::fs::write(
        cold_dir.path().join("config.toml"),
        "[engine]\nthreads = 2\nn_ctx = 1024\nkv_cache_mib = 0\n",
    )
    .unwrap();
    let follow_up = |d: &Path| {
        json(&run_ok(omnidesk(d).args([
            "ask",
            "--json",
            "--temp",
            "0",
            "-n",
            "12",
            "--conversation",
            &id,
            "Which of those matters most?",
        ])))
    };
    let restored = follow_up(dir.path());
    let s = &restored["stats"];
    let first_cells = first["stats"]["prompt_tokens"].as_u64().unwrap();
    assert!(
        s["prompt_restored"].as_u64().unwrap() >= first_cells
            && s["prompt_evaluated"].as_u64().unwrap() < 30,
        "{s}"
    );
    let cold = follow_up(cold_dir.path());
    assert_eq!(cold["stats"]["prompt_restored"], 0);
    assert_eq!(cold["stats"]["prompt_reused"], 0);
    assert!(!cold_dir.path().join("kv-cache").exists(), "saving is off");
    // The texts may differ: see tests/engine.rs,
    // a_conversation_is_restored_from_disk_after_a_restart.
}

/// Regenerate twice, edit once, each in its own process: every version is
/// kept, and the model is given the branch that is shown.
#[test]
fn regenerated_and_edited_messages_are_kept_as_versions_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let ask = |extra: &[&str], seed: &str| {
        let mut c = omnidesk(dir.path());
        c.args(["ask", "--json", "--temp", "1", "--seed", seed, "-n", "12"])
            .args(extra)
            .env("OMNIDESK_LOG", "omnidesk::engine::prompt=debug");
        let out = run_ok(&mut c);
        (
            json(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (first, _) = ask(&["Name a colour."], "1");
    let id = first["conversation_id"].as_i64().unwrap().to_string();
    let conv = ["--conversation", id.as_str()];
    let (second, prompt) = ask(&[&conv[..], &["--regenerate"]].concat(), "2");
    assert!(prompt.contains("Name a colour."), "{prompt}");
    let (third, _) = ask(&[&conv[..], &["--regenerate"]].concat(), "3");
    let answers: Vec<&str> = [&first, &second, &third]
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert_ne!(answers[1], answers[2], "the seeds should give two answers");

    let history = |extra: &[&str]| {
        json(&run_ok(
            omnidesk(dir.path())
                .args(["history", "--json", id.as_str()])
                .args(extra),
        ))
    };
    let shown = history(&[]);
    let messages = shown["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "one question, the newest answer");
    assert_eq!(messages[1]["content"].as_str(), Some(answers[2]));
    let versions: Vec<i64> = messages[1]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(versions.len(), 3);
    assert_eq!(shown["all_messages"].as_array().unwrap().len(), 4);

    // Show version 2 and continue: the model reads version 2, not 3.
    let picked = history(&["--select", &versions[1].to_string()]);
    assert_eq!(picked["messages"][1]["content"].as_str(), Some(answers[1]));
    let (_, prompt) = ask(&[&conv[..], &["And another one?"]].concat(), "4");
    assert!(prompt.contains(answers[1].trim()), "{prompt}");
    assert!(!prompt.contains(answers[2].trim()), "{prompt}");

    // Edit the first question: a new branch beside the old one.
    let q = messages[0]["id"].as_i64().unwrap().to_string();
    let (edited, prompt) = ask(&[&conv[..], &["--edit", &q, "Name a fruit."]].concat(), "5");
    assert!(!prompt.contains("Name a colour."), "{prompt}");
    let shown = history(&[]);
    let messages = shown["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["content"], "Name a fruit.");
    assert_eq!(messages[0]["versions"].as_array().unwrap().len(), 2);
    assert_eq!(messages[1]["content"], edited["text"]);
    assert_eq!(shown["all_messages"].as_array().unwrap().len(), 8);

    // The old question is still there, with the branch it had.
    let back = history(&["--select", &q]);
    let texts: Vec<&str> = back["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts[..2], ["Name a colour.", answers[1]]);
    assert_eq!(texts.len(), 4);

    // Export with every version and import as a new conversation; the
    // Markdown shows the branch on display.
    let file = dir.path().join("out/tides.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    run_ok(
        omnidesk(dir.path())
            .args(["export", id.as_str(), "-o"])
            .arg(&file),
    );
    let imported = json(&run_ok(
        omnidesk(dir.path()).args(["import", "--json"]).arg(&file),
    ));
    let new_id = imported["conversation"]["id"].as_i64().unwrap().to_string();
    assert_ne!(new_id, id);
    assert_eq!(imported["messages"], 8);
    let copy = json(&run_ok(omnidesk(dir.path()).args([
        "history",
        "--json",
        new_id.as_str(),
    ])));
    let contents = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(contents(&copy, "messages"), contents(&back, "messages"));
    assert_eq!(contents(&copy, "all_messages").len(), 8);
    let md = dir.path().join("out/tides.md");
    run_ok(
        omnidesk(dir.path())
            .args(["export", id.as_str(), "-o"])
            .arg(&md),
    );
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains(
            "## You\n\n*One of 2 versions; the others are in the JSON export.*\n\nName a colour.\n"
        ),
        "{md}"
    );
    assert!(md.contains("One of 3 versions"), "{md}");
    let refused = omnidesk(dir.path())
        .args(["import"])
        .arg(dir.path().join("out/tides.md"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not an Omnidesk conversation export")
    );

    // An answer's id is not a question to edit.
    let out = omnidesk(dir.path())
        .args(["ask", "--conversation", id.as_str(), "--edit"])
        .arg(versions[0].to_string())
        .arg("x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a question"));
}

#[test]
fn no_save_leaves_the_history_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = json(&run_ok(omnidesk(dir.path()).args([
        "ask",
        "--json",
        "--no-save",
        "-n",
        "4",
        "Hi",
    ])));
    assert!(out["conversation_id"].is_null());
    let listed = json(&run_ok(omnidesk(dir.path()).args(["history", "--json"])));
    assert_eq!(listed.as_array().unwrap().len(), 0);
}

#[test]
fn a_text_file_as_model_fails_cleanly_with_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("model.gguf");
    std::fs::write(&fake, "just some text\n").unwrap();
    let out = omnidesk(dir.path())
        .args(["ask", "--json", "--model"])
        .arg(&fake)
        .arg("hello")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let body = json(&out);
    assert_eq!(body["error"]["code"], "INVALID_MODEL");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("text file"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn a_corrupt_database_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("omnidesk.db");
    let garbage = b"this is not an sqlite database at all".repeat(200);
    std::fs::write(&db, &garbage).unwrap();
    let out = omnidesk(dir.path()).args(["history"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("corrupt") || stderr.contains("not a database"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}

#[test]
fn help_explains_every_command() {
    let out = run_ok(Command::new(env!("CARGO_BIN_EXE_omnidesk")).arg("--help"));
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["chat", "ask", "history", "info", "bench"] {
        assert!(help.contains(cmd), "--help lacks {cmd}: {help}");
    }
    let out = run_ok(Command::new(env!("CARGO_BIN_EXE_omnidesk")).args(["ask", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--json") && help.contains("--model") && help.contains("--seed"));
}

#[test]
fn info_shows_backend_devices_and_model_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let out = json(&run_ok(omnidesk(dir.path()).args(["info", "--json"])));
    assert!(!out["backend"]["devices"].as_array().unwrap().is_empty());
    assert_eq!(out["model"]["architecture"], "gemma3");
    let text = run_ok(omnidesk(dir.path()).arg("info"));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("general.architecture = gemma3"), "{text}");
}

#[test]
fn ctrl_c_in_chat_stops_the_answer_not_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = omnidesk(dir.path())
        .args(["chat", "--temp", "1", "--seed", "9", "-n", "2000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"Tell me a very long story about a lighthouse keeper.\n")
        .unwrap();
    stdin.flush().unwrap();
    // Wait until the answer is streaming.
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(120);
    let n = stdout.read(&mut buf).unwrap();
    assert!(n > 0, "no answer started");
    assert!(Instant::now() < deadline);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "Ctrl-C killed the program"
    );
    stdin.write_all(b"/exit\n").unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[stopped]"), "{stderr}");

    // The cut-short answer was stored with its finish reason.
    let listed = json(&run_ok(omnidesk(dir.path()).args(["history", "--json"])));
    let id = listed[0]["id"].as_i64().unwrap();
    let shown = json(&run_ok(omnidesk(dir.path()).args([
        "history",
        "--json",
        &id.to_string(),
    ])));
    assert_eq!(shown["messages"][1]["stats"]["finish"], "cancelled");
}

/// The `[safety]` output filter on a real answer: a word the model really
/// writes is masked in the stream and in the history, `stop` ends the
/// answer before it, and a bad pattern is refused with its code.
#[test]
fn the_output_filter_masks_or_stops_a_real_answer() {
    let ask = |dir: &Path| {
        json(&run_ok(omnidesk(dir).args([
            "ask",
            "--json",
            "--temp",
            "0",
            "-n",
            "32",
            "Write two sentences about the sea.",
        ])))
    };
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = ask(plain_dir.path())["text"].as_str().unwrap().to_string();
    // The longest word of the real answer (letters only) is the one to filter.
    let word = plain
        .split(|c: char| !c.is_ascii_alphabetic())
        .max_by_key(|w| w.len())
        .unwrap()
        .to_string();
    assert!(word.len() >= 3, "no word to filter in {plain:?}");
    let whole = |text: &str| {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.eq_ignore_ascii_case(&word))
    };
    assert!(whole(&plain));

    let config = |dir: &Path, action: &str, extra: &str| {
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "[engine]\nthreads = 2\nn_ctx = 1024\n[safety]\nenabled = true\nwords = [\"{}\"]\naction = \"{action}\"\n{extra}",
                word.to_uppercase()
            ),
        )
        .unwrap();
    };
    let masked_dir = tempfile::tempdir().unwrap();
    config(masked_dir.path(), "mask", "");
    let masked = ask(masked_dir.path());
    let text = masked["text"].as_str().unwrap();
    assert!(!whole(text) && text.contains("•••"), "{text:?}");
    let id = masked["conversation_id"].as_i64().unwrap().to_string();
    let history = json(&run_ok(
        omnidesk(masked_dir.path()).args(["history", &id, "--json"]),
    ));
    let saved = history["messages"][1]["content"].as_str().unwrap();
    assert_eq!(saved, text, "the history keeps what was shown");

    let stop_dir = tempfile::tempdir().unwrap();
    config(stop_dir.path(), "stop", "");
    let stopped = ask(stop_dir.path());
    let text = stopped["text"].as_str().unwrap();
    assert!(!whole(text), "{text:?}");
    let at = plain.to_lowercase().find(&word.to_lowercase()).unwrap();
    assert!(
        plain.starts_with(text) && text.len() <= at,
        "{text:?} is not the answer cut before {word:?}: {plain:?}"
    );

    let bad_dir = tempfile::tempdir().unwrap();
    config(bad_dir.path(), "mask", "patterns = [\"(unclosed\"]\n");
    let out = omnidesk(bad_dir.path())
        .args(["ask", "--json", "-n", "4", "Hi"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("not a valid regular expression"), "{err}");
}
