//! Sign-in throttling: growing delays, never a lock-out.
//!
//! Failed sign-ins are counted per *key*: an account (attempts from browsers without that
//! account's device cookie), a client address (the same), and a device cookie (attempts that
//! carry it). After [`Throttle::free`] failures in a row under a key, the next attempt under
//! that key waits [`Throttle::first`], doubling with every further failure up to
//! [`Throttle::cap`]. Once the wait is over an attempt is judged as usual, so the right
//! password always gets in after at most `cap`; a success clears the account's and the
//! device's count. Failures older than [`Throttle::window`] are forgotten.

use time::Duration;

/// How failures under one key slow further attempts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures in a row that cost nothing.
    pub free: u32,
    /// The wait after failure `free + 1`.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// A run of failures ends when none came for this long.
    pub window: Duration,
}

impl Throttle {
    /// The wait after the `failures`-th failure in a row: none up to `free`, then `first`,
    /// doubled with every further failure, at most `cap`.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures <= self.free {
            return Duration::ZERO;
        }
        // 2^30 times any first wait is beyond every sensible cap, and still fits.
        let doublings = (failures - self.free - 1).min(30);
        (self.first * 2i32.pow(doublings)).clamp(Duration::ZERO, self.cap)
    }

    /// Per account: five failures free, then 30 s doubling up to 10 minutes.
    pub const ACCOUNT: Throttle = Throttle {
        free: 5,
        first: Duration::seconds(30),
        cap: Duration::minutes(10),
        window: Duration::hours(1),
    };

    /// Per client address: twenty failures free (many people may share an address), then
    /// 30 s doubling up to 10 minutes.
    pub const ADDRESS: Throttle = Throttle {
        free: 20,
        first: Duration::seconds(30),
        cap: Duration::minutes(10),
        window: Duration::hours(1),
    };

    /// Per device cookie: like an account.
    pub const DEVICE: Throttle = Throttle::ACCOUNT;
}

/// Whole seconds to wait for `d` (rounded up, at least one), for `Retry-After`.
pub fn wait_seconds(d: Duration) -> u64 {
    let ms = d.whole_milliseconds().max(1);
    u64::try_from((ms + 999) / 1000).unwrap_or(u64::MAX).max(1)
}

/// The wait in words: seconds under two minutes, whole minutes (rounded up) above.
pub fn wait_text(seconds: u64) -> (String, String) {
    if seconds < 120 {
        (
            format!("{seconds} 秒"),
            format!("{seconds} second{}", if seconds == 1 { "" } else { "s" }),
        )
    } else {
        let m = seconds.div_ceil(60);
        (format!("{m} 分钟"), format!("{m} minutes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stop_at_the_cap() {
        let t = Throttle::ACCOUNT;
        for n in 0..=5 {
            assert_eq!(t.delay(n), Duration::ZERO, "{n}");
        }
        assert_eq!(t.delay(6), Duration::seconds(30));
        assert_eq!(t.delay(7), Duration::seconds(60));
        assert_eq!(t.delay(8), Duration::seconds(120));
        assert_eq!(t.delay(9), Duration::seconds(240));
        assert_eq!(t.delay(10), Duration::seconds(480));
        assert_eq!(t.delay(11), Duration::minutes(10));
        assert_eq!(t.delay(1000), Duration::minutes(10));
        assert_eq!(t.delay(u32::MAX), Duration::minutes(10));
        let a = Throttle::ADDRESS;
        assert_eq!(a.delay(20), Duration::ZERO);
        assert_eq!(a.delay(21), Duration::seconds(30));
        // Never longer than the cap, never negative: the right password always gets in.
        for n in 0..200 {
            assert!(t.delay(n) <= t.cap && t.delay(n) >= Duration::ZERO);
            assert!(t.delay(n + 1) >= t.delay(n));
        }
    }

    #[test]
    fn waits_in_words() {
        assert_eq!(wait_seconds(Duration::milliseconds(1)), 1);
        assert_eq!(wait_seconds(Duration::ZERO), 1);
        assert_eq!(wait_seconds(Duration::milliseconds(29_001)), 30);
        assert_eq!(wait_text(1), ("1 秒".into(), "1 second".into()));
        assert_eq!(wait_text(45), ("45 秒".into(), "45 seconds".into()));
        assert_eq!(wait_text(121), ("3 分钟".into(), "3 minutes".into()));
        assert_eq!(wait_text(600), ("10 分钟".into(), "10 minutes".into()));
    }
}
