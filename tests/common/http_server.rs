//! A small real HTTP/1.1 server on 127.0.0.1 for download tests. It can
//! honour or ignore `Range`, drop the connection after N body bytes, stall,
//! answer any status, or declare a huge `Content-Length`; it logs every
//! request (path, requested range start, status, body bytes sent).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
pub struct Route {
    pub status: u16,
    pub body: Arc<Vec<u8>>,
    /// Answer `Range` requests with 206 (else always 200 with the whole body).
    pub ranges: bool,
    /// Close the connection after this many body bytes, once.
    pub drop_after: Option<u64>,
    /// Send this many body bytes, then hold the connection open, once.
    pub stall_after: Option<u64>,
    /// Declare this Content-Length instead of the body's.
    pub declared_len: Option<u64>,
}

impl Route {
    pub fn file(body: Arc<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body,
            ranges: true,
            ..Self::default()
        }
    }
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub range_start: Option<u64>,
    pub status: u16,
    pub bytes_sent: u64,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: Vec<Hit>,
}

pub struct TestServer {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl TestServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || handle(conn, &st));
            }
        });
        Self { base, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn route(&self, path: &str, route: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        let st = self.state.lock().unwrap();
        st.hits.iter().filter(|h| h.path == path).cloned().collect()
    }
}

fn handle(mut conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range_start = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            range_start = v.trim().trim_end_matches('-').parse::<u64>().ok();
        }
    }
    let route = {
        let mut st = state.lock().unwrap();
        let r = st.routes.get(&path).cloned();
        // One-shot faults apply to the first request only.
        if let Some(live) = st.routes.get_mut(&path) {
            live.drop_after = None;
            live.stall_after = None;
        }
        r
    };
    let Some(route) = route else {
        let _ = conn
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        log(state, path, range_start, 404, 0);
        return;
    };
    let len = route.body.len() as u64;
    let (status, start, extra) = match range_start {
        Some(s) if route.ranges && route.status == 200 && s >= len => {
            (416, 0, format!("Content-Range: bytes */{len}\r\n"))
        }
        Some(s) if route.ranges && route.status == 200 => (
            206,
            s,
            format!("Content-Range: bytes {s}-{}/{len}\r\n", len - 1),
        ),
        _ => (route.status, 0, String::new()),
    };
    let body: &[u8] = if status == 416 || !(200..300).contains(&status) {
        &[]
    } else {
        &route.body[start as usize..]
    };
    let declared = route.declared_len.unwrap_or(body.len() as u64);
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {declared}\r\nAccept-Ranges: bytes\r\n{extra}Connection: close\r\n\r\n"
    );
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    let limit = route
        .drop_after
        .or(route.stall_after)
        .unwrap_or(u64::MAX)
        .min(body.len() as u64) as usize;
    let mut sent = 0u64;
    for chunk in body[..limit].chunks(64 << 10) {
        if conn.write_all(chunk).is_err() {
            break;
        }
        sent += chunk.len() as u64;
    }
    let _ = conn.flush();
    log(state, path, range_start, status, sent);
    if route.stall_after.is_some() {
        std::thread::sleep(Duration::from_secs(20));
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

fn log(state: &Mutex<State>, path: String, range_start: Option<u64>, status: u16, bytes_sent: u64) {
    state.lock().unwrap().hits.push(Hit {
        path,
        range_start,
        status,
        bytes_sent,
    });
}
