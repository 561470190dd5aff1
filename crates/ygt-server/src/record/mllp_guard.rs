//! What keeps the MLLP listener standing under abuse: an idle timeout, a ceiling on concurrent
//! connections, and warnings about malformed input limited to a few per window (5 MB of garbage
//! once wrote 20,400 log lines).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits of the MLLP listener (`ygt serve --mllp-idle-secs`, `--mllp-max-connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MllpLimits {
    /// A connection that sends nothing for this long is closed (senders reconnect).
    pub idle: Duration,
    /// At most this many connections at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
}

impl Default for MllpLimits {
    fn default() -> Self {
        MllpLimits {
            idle: Duration::from_secs(300),
            max_connections: 64,
        }
    }
}

/// Lets at most `burst` warnings through per `window`; the others are counted, and the next
/// warning let through says how many were left out.
pub struct LogLimiter {
    burst: u32,
    window: Duration,
    state: Mutex<Window>,
}

struct Window {
    started: Instant,
    let_through: u32,
    suppressed: u64,
}

impl LogLimiter {
    pub fn new(burst: u32, window: Duration) -> Self {
        LogLimiter {
            burst,
            window,
            state: Mutex::new(Window {
                started: Instant::now(),
                let_through: 0,
                suppressed: 0,
            }),
        }
    }

    /// `Some(n)` when this warning may be written (`n` warnings were left out before it),
    /// `None` when it is to be left out.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if now.duration_since(w.started) >= self.window {
            w.started = now;
            w.let_through = 0;
        }
        if w.let_through >= self.burst {
            w.suppressed += 1;
            return None;
        }
        w.let_through += 1;
        Some(std::mem::take(&mut w.suppressed))
    }
}

impl Default for LogLimiter {
    /// Ten warnings per ten seconds.
    fn default() -> Self {
        LogLimiter::new(10, Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_warnings_becomes_a_few_lines_and_a_count() {
        let l = LogLimiter::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        let first: Vec<_> = (0..1000).map(|_| l.allow_at(t0)).collect();
        assert_eq!(first.iter().filter(|a| a.is_some()).count(), 3);
        assert_eq!(first[..3], [Some(0), Some(0), Some(0)]);
        // Still inside the window: left out.
        assert_eq!(l.allow_at(t0 + Duration::from_secs(9)), None);
        // The next window lets one through and reports what was left out (997 + 1).
        assert_eq!(l.allow_at(t0 + Duration::from_secs(10)), Some(998));
        assert_eq!(l.allow_at(t0 + Duration::from_secs(10)), Some(0));
    }
}
