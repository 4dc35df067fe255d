//! Time sources. Every time the engine reads comes from a [`Clock`], so tests can replace it.

#[cfg(not(target_os = "linux"))]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(target_os = "linux"))]
use std::time::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the engine reads time from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic time since an arbitrary fixed point: measures elapsed time and budget windows.
    fn monotonic(&self) -> Duration;
    /// Wall-clock seconds since the Unix epoch: only for `Retry-After` HTTP-dates.
    fn unix_seconds(&self) -> f64;
}

/// The real clocks: `Instant` and `SystemTime`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// On Linux the coarse monotonic clock: a read is a few ns against ~30 for `Instant::now`
    /// (two reads per decision were a quarter of its cost), and its resolution (one kernel tick,
    /// 1-4 ms) is far finer than anything the engine times: budget slots of a tenth of a
    /// window, deadlines and breaker periods in seconds.
    #[cfg(target_os = "linux")]
    fn monotonic(&self) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every
        // Linux since 2.6.32, and on failure `ts` stays zero, which only makes time stand still.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        Duration::new(
            ts.tv_sec.max(0) as u64,
            ts.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    }

    #[cfg(not(target_os = "linux"))]
    fn monotonic(&self) -> Duration {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }

    fn unix_seconds(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A clock that moves only when told to: for vectors and tests.
#[derive(Debug)]
pub struct ManualClock {
    start_unix: f64,
    elapsed_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start_unix` seconds since the Unix epoch.
    pub fn new(start_unix: f64) -> ManualClock {
        ManualClock {
            start_unix,
            elapsed_nanos: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward (negative, NaN or infinite amounts are ignored).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .elapsed_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(nanos))
            });
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance_seconds(&self, seconds: f64) {
        if let Ok(by) = Duration::try_from_secs_f64(seconds) {
            self.advance(by);
        }
    }
}

impl Clock for ManualClock {
    fn monotonic(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Acquire))
    }

    fn unix_seconds(&self) -> f64 {
        self.start_unix + self.monotonic().as_secs_f64()
    }
}
