//! Retries of one function by (class, status), counted lock-free: the counting happens on every
//! retry decision, the reading only when metrics are rendered.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::classify::ALL_CLASSES;
use crate::classify::Class;

/// Distinct (class, status) pairs kept without a lock; more than that (never seen in practice)
/// go to a locked map.
const SLOTS: usize = 32;

#[derive(Debug, Default)]
pub(crate) struct RetryCounts {
    /// 0 = free, else `key()`. A slot's key is set once and never changes.
    keys: [AtomicU32; SLOTS],
    counts: [AtomicU64; SLOTS],
    overflow: Mutex<BTreeMap<(u8, u16), u64>>,
}

fn key(class: Class, status: u16) -> u32 {
    (((class as u32) << 16) | u32::from(status)) + 1
}

impl RetryCounts {
    pub(crate) fn add(&self, class: Class, status: u16) {
        let key = key(class, status);
        let start = (key.wrapping_mul(0x9E37_79B9) >> 27) as usize % SLOTS;
        for i in 0..SLOTS {
            let slot = (start + i) % SLOTS;
            let found = match self.keys[slot].load(Ordering::Acquire) {
                0 => match self.keys[slot].compare_exchange(
                    0,
                    key,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => key,
                    Err(taken) => taken,
                },
                taken => taken,
            };
            if found == key {
                self.counts[slot].fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        *overflow.entry((class as u8, status)).or_insert(0) += 1;
    }

    /// Every count, ordered by class name, then status.
    pub(crate) fn snapshot(&self) -> BTreeMap<(&'static str, u16), u64> {
        let mut out = BTreeMap::new();
        for (k, count) in self.keys.iter().zip(&self.counts) {
            let k = k.load(Ordering::Acquire);
            let n = count.load(Ordering::Relaxed);
            if k != 0 && n > 0 {
                let k = k - 1;
                let class = ALL_CLASSES[(k >> 16) as usize];
                *out.entry((class.as_str(), k as u16)).or_insert(0) += n;
            }
        }
        let overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        for (&(class, status), &n) in overflow.iter() {
            *out.entry((ALL_CLASSES[class as usize].as_str(), status))
                .or_insert(0) += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_index_by_discriminant() {
        for (i, class) in ALL_CLASSES.iter().enumerate() {
            assert_eq!(*class as usize, i);
        }
    }

    #[test]
    fn counts_every_pair_even_past_the_slots() {
        let counts = RetryCounts::default();
        for status in 0..100u16 {
            for _ in 0..=status % 3 {
                counts.add(Class::Transient, 500 + status);
            }
        }
        counts.add(Class::Throttled, 429);
        let snap = counts.snapshot();
        assert_eq!(snap.len(), 101);
        assert_eq!(snap[&("Throttled", 429)], 1);
        for status in 0..100u16 {
            assert_eq!(
                snap[&("Transient", 500 + status)],
                u64::from(status % 3 + 1)
            );
        }
    }

    #[test]
    fn concurrent_adds_are_all_counted() {
        let counts = std::sync::Arc::new(RetryCounts::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let counts = counts.clone();
                std::thread::spawn(move || {
                    for i in 0..1000u16 {
                        counts.add(Class::Transient, 500 + (i + t) % 8);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counts.snapshot().values().sum::<u64>(), 4000);
    }
}
