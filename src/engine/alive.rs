//! Counts the threads that run llama.cpp (the engine and embedding
//! threads), so a program can let them finish before it exits.
//!
//! Why: llama.cpp's static destructors run when the process exits. A thread
//! still decoding then (a request dropped at shutdown, a stream cancelled a
//! moment earlier) crashes the process with SIGSEGV after it has otherwise
//! stopped cleanly. [`wait_for_llama_threads`] gives them a bounded time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// One llama.cpp thread, counted while this lives. Made before the thread
/// is spawned and moved into it, so a restart (the new thread spawned by the
/// old one) never shows zero in between.
pub(crate) struct Alive(());

impl Alive {
    pub(crate) fn new() -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wait until no llama.cpp thread runs, at most `timeout`; whether none does.
/// Threads end once every handle to them is dropped and their current
/// (cancelled) step is done.
pub fn wait_for_llama_threads(timeout: Duration) -> bool {
    let start = Instant::now();
    while LIVE.load(Ordering::SeqCst) > 0 {
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_counted_thread_and_gives_up_on_time() {
        let alive = Alive::new();
        let t = std::thread::spawn(move || {
            let _alive = alive;
            std::thread::sleep(Duration::from_millis(100));
        });
        assert!(wait_for_llama_threads(Duration::from_secs(10)));
        t.join().unwrap();
        let stuck = Alive::new();
        assert!(!wait_for_llama_threads(Duration::from_millis(50)));
        drop(stuck);
        assert!(wait_for_llama_threads(Duration::from_secs(1)));
    }
}
