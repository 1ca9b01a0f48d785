//! The engine's task queue: two bounded FIFO lanes, and the engine thread
//! always takes the interactive lane (the window, the CLI) before the
//! background lane (API clients). However many requests API clients queue,
//! a request from the window waits for at most the one generation already
//! running.
//!
//! A `Mutex` + `Condvar` pair, shared by any number of senders and the one
//! receiver (the engine thread). The receiver sees "disconnected" once
//! every sender is gone and both lanes are empty; senders see it once the
//! receiver is dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Which lane a request waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// The person at this machine (window, CLI): always served first.
    #[default]
    Interactive,
    /// Other programs (the HTTP API): served when no interactive request waits.
    Background,
}

/// Why a task could not be queued (the task is dropped).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendError {
    /// That lane holds its capacity already.
    Full,
    /// The engine thread is gone.
    Disconnected,
}

/// The engine thread is gone and nothing more will arrive.
#[derive(Debug)]
pub(crate) struct Disconnected;

struct State<T> {
    interactive: VecDeque<T>,
    background: VecDeque<T>,
    senders: usize,
    receiver: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    /// The state, even after a panic elsewhere (the queues stay consistent:
    /// every critical section is a single push or pop).
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A queue of `capacity` per lane.
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            interactive: VecDeque::new(),
            background: VecDeque::new(),
            senders: 1,
            receiver: true,
        }),
        ready: Condvar::new(),
        capacity,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The sending side; clones share the queue.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("queue::Sender")
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.senders -= 1;
        if s.senders == 0 {
            self.shared.ready.notify_all();
        }
    }
}

impl<T> Sender<T> {
    /// Queue `task` in `priority`'s lane without waiting.
    pub(crate) fn try_send(&self, priority: Priority, task: T) -> Result<(), SendError> {
        let mut s = self.shared.lock();
        if !s.receiver {
            return Err(SendError::Disconnected);
        }
        let lane = match priority {
            Priority::Interactive => &mut s.interactive,
            Priority::Background => &mut s.background,
        };
        if lane.len() >= self.shared.capacity {
            return Err(SendError::Full);
        }
        lane.push_back(task);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Capacity of each lane.
    pub(crate) fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

/// The engine thread's side.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next task, interactive first; blocks while both lanes are empty.
    ///
    /// # Errors
    /// `Disconnected` once every sender is gone and nothing is queued.
    #[cfg(test)]
    pub(crate) fn recv(&self) -> Result<T, Disconnected> {
        loop {
            if let Some((_, t)) = self.next(true, true)? {
                return Ok(t);
            }
        }
    }

    /// The next task and its lane, interactive first; the background lane
    /// only when `background`. Blocks while there is none when `block`;
    /// otherwise answers `None` at once.
    ///
    /// # Errors
    /// `Disconnected` once every sender is gone and nothing is queued.
    pub(crate) fn next(
        &self,
        block: bool,
        background: bool,
    ) -> Result<Option<(Priority, T)>, Disconnected> {
        let mut s = self.shared.lock();
        loop {
            if let Some(t) = s.interactive.pop_front() {
                return Ok(Some((Priority::Interactive, t)));
            }
            if background {
                if let Some(t) = s.background.pop_front() {
                    return Ok(Some((Priority::Background, t)));
                }
            }
            if s.senders == 0 && s.background.is_empty() {
                return Err(Disconnected);
            }
            if !block {
                return Ok(None);
            }
            s = self.shared.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.receiver = false;
        // Queued tasks are dropped here, so their callers see the engine
        // stop instead of waiting forever.
        s.interactive.clear();
        s.background.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactive_tasks_overtake_background_ones() {
        let (tx, rx) = channel(4);
        tx.try_send(Priority::Background, 1).unwrap();
        tx.try_send(Priority::Background, 2).unwrap();
        tx.try_send(Priority::Interactive, 3).unwrap();
        tx.try_send(Priority::Interactive, 4).unwrap();
        let order: Vec<i32> = (0..4).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(order, vec![3, 4, 1, 2]);
    }

    #[test]
    fn each_lane_is_bounded_on_its_own() {
        let (tx, _rx) = channel(1);
        tx.try_send(Priority::Background, 1).unwrap();
        assert_eq!(tx.try_send(Priority::Background, 2), Err(SendError::Full));
        tx.try_send(Priority::Interactive, 3).unwrap();
    }

    #[test]
    fn the_receiver_ends_when_every_sender_is_gone_and_vice_versa() {
        let (tx, rx) = channel::<i32>(2);
        let tx2 = tx.clone();
        tx2.try_send(Priority::Interactive, 7).unwrap();
        drop(tx);
        drop(tx2);
        assert_eq!(rx.recv().unwrap(), 7);
        assert!(rx.recv().is_err());

        let (tx, rx) = channel::<i32>(2);
        drop(rx);
        assert_eq!(
            tx.try_send(Priority::Interactive, 1),
            Err(SendError::Disconnected)
        );
    }

    #[test]
    fn next_says_the_lane_and_skips_or_waits_as_asked() {
        let (tx, rx) = channel::<i32>(2);
        assert_eq!(rx.next(false, true).unwrap(), None);
        tx.try_send(Priority::Background, 1).unwrap();
        tx.try_send(Priority::Interactive, 2).unwrap();
        assert_eq!(
            rx.next(false, true).unwrap(),
            Some((Priority::Interactive, 2))
        );
        // The background lane is left alone when asked to.
        assert_eq!(rx.next(false, false).unwrap(), None);
        assert_eq!(
            rx.next(true, true).unwrap(),
            Some((Priority::Background, 1))
        );
        drop(tx);
        assert!(rx.next(false, true).is_err());
    }

    #[test]
    fn a_blocked_receiver_wakes_for_a_task() {
        let (tx, rx) = channel::<i32>(2);
        let t = std::thread::spawn(move || rx.recv().unwrap());
        tx.try_send(Priority::Background, 5).unwrap();
        assert_eq!(t.join().unwrap(), 5);
    }
}
