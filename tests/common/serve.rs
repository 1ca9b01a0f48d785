//! `omnidesk serve` as a child process on 127.0.0.1 with a free port, for
//! the server, remote-backend and Python-client tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server; killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`
    pub base: String,
    pub token: String,
    pub model_id: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServeProcess {
    /// POST `body` to `path` (under `/v1`) with the token; status and JSON
    /// body (`Null` when it is not JSON).
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let res = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap()
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Serve `model` (plus `extra` flags) with a fresh data dir.
    pub fn start(model: &Path, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "[engine]\nthreads = 2\nn_ctx = 2048\n").unwrap();
        let log = dir.path().join("serve.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
            .args(["serve", "--port", "0", "--model"])
            .arg(model)
            .args(extra)
            .env("OMNIDESK_DATA_DIR", dir.path())
            .env("OMNIDESK_CONFIG", &config)
            .env_remove("OMNIDESK_MMPROJ")
            .env_remove("OMNIDESK_EMBED_MODEL")
            .env_remove("OMNIDESK_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut base, mut token, mut model_id) = (None, None, None);
        while token.is_none() {
            match rx.recv_timeout(Duration::from_secs(180)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("Omnidesk API listening on ") {
                        base = Some(rest.trim().to_string());
                    } else if let Some(rest) = line.strip_prefix("Model: ") {
                        model_id = Some(rest.trim().to_string());
                    } else if let Some(rest) = line.strip_prefix("Token: ") {
                        token = Some(rest.trim().to_string());
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "serve did not start: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        let base = base.expect("listening line");
        Self {
            child,
            base,
            token: token.unwrap_or_default(),
            model_id: model_id.expect("model line"),
            log,
            _dir: dir,
        }
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.base
            .trim_end_matches("/v1")
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in base URL")
    }

    /// The process id (for memory sampling).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGINT (Ctrl-C) and wait for the exit status.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -INT failed");
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not stop within 10 s of Ctrl-C");
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
