//! Small helpers shared by the live pipeline's parts: a stop signal that sleeping threads
//! wait on, and child-process chores (kill and reap, wait with a deadline, keep the
//! tail of stderr).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines of a child's stderr kept for error reasons.
const TAIL_LINES: usize = 4;

/// Locks a mutex, ignoring poisoning (a panicked holder leaves plain data behind).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A one-way flag that threads can sleep on: set once, woken at once.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Signal {
    /// Sets the flag and wakes every waiter.
    pub(crate) fn set(&self) {
        *lock(&self.set) = true;
        self.cv.notify_all();
    }

    /// Whether the flag is set.
    pub(crate) fn is_set(&self) -> bool {
        *lock(&self.set)
    }

    /// Sleeps until `deadline` or until the flag is set; returns whether it is set.
    pub(crate) fn wait_until(&self, deadline: Instant) -> bool {
        let mut set = lock(&self.set);
        loop {
            if *set {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            set = self
                .cv
                .wait_timeout(set, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Sleeps for `d` or until the flag is set; returns whether it is set.
    pub(crate) fn wait(&self, d: Duration) -> bool {
        self.wait_until(Instant::now() + d)
    }
}

/// Kills a child (if still running) and reaps it, so no zombie is left.
pub(crate) fn kill_wait(child: &mut Child) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = child.kill();
    child.wait().ok()
}

/// Waits for a child to exit for at most `d` (polling); `None` if it still runs.
pub(crate) fn wait_timeout(child: &mut Child, d: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + d;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return None,
            Err(_) => return None,
        }
    }
}

/// The last lines a child wrote on stderr.
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    /// The last line that says more than ffmpeg's generic closing words
    /// (`Conversion failed!`, `Exiting normally…`), else the last line.
    pub(crate) fn reason(&self) -> Option<String> {
        let t = lock(&self.0);
        let generic = |l: &&String| {
            l.starts_with("Conversion failed")
                || l.starts_with("Exiting normally")
                || l.starts_with("[out#")
        };
        t.iter()
            .rev()
            .find(|l| !generic(l))
            .or_else(|| t.back())
            .cloned()
    }
}

/// Reads a child's stderr line by line until EOF on a thread named `name`: each line is
/// given to `on_line`, then (with `secret` replaced by `shown`: a stream key is not
/// logged) logged at debug level and kept in the returned tail.
pub(crate) fn read_stderr(
    stderr: impl Read + Send + 'static,
    name: String,
    secret: Option<(String, String)>,
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> std::io::Result<(StderrTail, JoinHandle<()>)> {
    let tail = StderrTail::default();
    let kept = tail.clone();
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                // ffmpeg ends progress lines with \r; keep the text only.
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_matches(|c: char| c.is_whitespace());
                if text.is_empty() {
                    continue;
                }
                on_line(text);
                let text = match &secret {
                    Some((secret, shown)) if !secret.is_empty() => text.replace(secret, shown),
                    _ => text.to_owned(),
                };
                tracing::debug!(process = %name, "{text}");
                let mut t = lock(&kept.0);
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(text.chars().take(300).collect());
            }
        })?;
    Ok((tail, handle))
}

/// An exponential moving average of a latency, in µs, kept in one atomic (0 = none yet).
#[derive(Debug, Default)]
pub(crate) struct LatencyAvg(std::sync::atomic::AtomicU64);

impl LatencyAvg {
    /// Adds a sample (weight 1/16).
    pub(crate) fn add(&self, d: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let us = (d.as_micros() as u64).max(1);
        let old = self.0.load(Relaxed);
        let new = if old == 0 {
            us
        } else {
            old - old / 16 + us / 16
        };
        self.0.store(new.max(1), Relaxed);
    }

    /// The average in ms, if there was a sample.
    pub(crate) fn ms(&self) -> Option<f64> {
        let v = self.0.load(std::sync::atomic::Ordering::Relaxed);
        (v > 0).then(|| v as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_wakes_waiters() {
        let s = Arc::new(Signal::default());
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.wait(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        s.set();
        assert!(t.join().unwrap());
        assert!(s.is_set());
        assert!(s.wait(Duration::from_secs(10)));
    }

    #[test]
    fn latency_average_moves_towards_samples() {
        let a = LatencyAvg::default();
        assert_eq!(a.ms(), None);
        a.add(Duration::from_millis(10));
        assert_eq!(a.ms(), Some(10.0));
        for _ in 0..200 {
            a.add(Duration::from_millis(20));
        }
        assert!((a.ms().unwrap() - 20.0).abs() < 0.1);
    }
}
