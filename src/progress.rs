//! Progress of long runs (`run`, `verify`): an indicatif bar with frames done and the time left,
//! drawn on standard error only when it is a terminal and only once the run has taken longer than
//! [`DELAY`] (or `BNN_GEN_PROGRESS_DELAY_MS`); otherwise nothing at all is printed, so piped output
//! and logs stay clean.
//!
//! Workers on any thread report frames with [`Progress::inc`] or [`Progress::set`] (an atomic
//! counter); a ticker thread, started only on a terminal, draws the bar every 100 ms.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Runs shorter than this show no bar.
pub const DELAY: Duration = Duration::from_secs(1);

/// [`DELAY`], or `BNN_GEN_PROGRESS_DELAY_MS` milliseconds when that is set (the tests draw a bar at
/// once on a pseudo-terminal with 0).
fn delay() -> Duration {
    std::env::var("BNN_GEN_PROGRESS_DELAY_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(DELAY, Duration::from_millis)
}

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

struct Shared {
    done: AtomicU64,
    finished: AtomicBool,
}

/// A progress report of `total` frames.
pub struct Progress {
    shared: Arc<Shared>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// A bar titled `what` (e.g. "golden model") over `total` frames, on standard error if it is
    /// a terminal; silent otherwise.
    pub fn new(what: &str, total: u64) -> Progress {
        Self::with_terminal(what, total, std::io::stderr().is_terminal())
    }

    /// Counts but never draws (library callers, tests).
    pub fn hidden() -> Progress {
        Self::with_terminal("", 0, false)
    }

    fn with_terminal(what: &str, total: u64, terminal: bool) -> Progress {
        let shared = Arc::new(Shared {
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        });
        let ticker = terminal.then(|| {
            let shared = Arc::clone(&shared);
            let what = what.to_string();
            std::thread::spawn(move || tick(&shared, &what, total))
        });
        Progress { shared, ticker }
    }

    /// `frames` more are done.
    pub fn inc(&self, frames: u64) {
        self.shared.done.fetch_add(frames, Ordering::Relaxed);
    }

    /// `frames` are done in all.
    pub fn set(&self, frames: u64) {
        self.shared.done.store(frames, Ordering::Relaxed);
    }

    /// Frames done so far.
    pub fn done(&self) -> u64 {
        self.shared.done.load(Ordering::Relaxed)
    }

    /// Removes the bar (if one was drawn); also on drop.
    pub fn finish(&mut self) {
        self.shared.finished.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The ticker thread: waits for [`delay`], then draws the bar until the run finishes.
fn tick(shared: &Shared, what: &str, total: u64) {
    let start = Instant::now();
    let delay = delay();
    let mut bar: Option<indicatif::ProgressBar> = None;
    while !shared.finished.load(Ordering::Relaxed) {
        if start.elapsed() >= delay {
            let bar = bar.get_or_insert_with(|| {
                let b = indicatif::ProgressBar::new(total);
                let style = indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} frames, {per_sec}, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
                b.set_style(style);
                b.set_message(what.to_string());
                b
            });
            bar.set_position(shared.done.load(Ordering::Relaxed).min(total));
        }
        std::thread::park_timeout(TICK);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_any_thread_without_a_terminal() {
        let mut p = Progress::hidden();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        p.inc(1);
                    }
                });
            }
        });
        assert_eq!(p.done(), 400);
        p.set(7);
        assert_eq!(p.done(), 7);
        p.finish();
        assert!(p.ticker.is_none());
    }
}
