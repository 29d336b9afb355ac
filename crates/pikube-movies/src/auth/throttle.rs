//! How often one client, or one account, may try: a token bucket per key (security review
//! M3). Sign-in and registration each cost an Argon2 hash, and a password can be guessed
//! online; a bucket per client address and one per account bound both.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// `burst` tries at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tries allowed at once, after a quiet while.
    pub burst: u32,
    /// How long each further try waits for.
    pub every: Duration,
}

impl Rate {
    /// `count` tries per `window`, all of them at once if need be.
    pub fn per(count: u32, window: Duration) -> Rate {
        Rate {
            burst: count.max(1),
            every: window / count.max(1),
        }
    }
}

/// Keys never seen, and keys whose bucket has refilled, cost no memory; beyond this many
/// partly drained buckets the oldest are forgotten (a flood of invented keys must not
/// exhaust memory; the price is that a forgotten key starts afresh).
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets by key.
#[derive(Debug)]
pub struct Throttle {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Throttle {
    pub fn new(rate: Rate) -> Throttle {
        Throttle {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let gained = now.duration_since(bucket.at).as_secs_f64() / self.rate.every.as_secs_f64();
        (bucket.tokens + gained).min(f64::from(self.rate.burst))
    }

    /// `Ok` if `key` has a try left, without using it; else how long until it has.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        match buckets.get(key).map(|bucket| self.refilled(*bucket, now)) {
            Some(tokens) if tokens < 1.0 => Err(self.wait_for_one(tokens)),
            _ => Ok(()),
        }
    }

    /// Uses one try of `key`: `Ok` if it had one, else how long until it has.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let tokens = match buckets.get(key) {
            Some(bucket) => self.refilled(*bucket, now),
            None => f64::from(self.rate.burst),
        };
        if tokens < 1.0 {
            return Err(self.wait_for_one(tokens));
        }
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            self.forget_some(&mut buckets, now);
        }
        buckets.insert(
            key.to_owned(),
            Bucket {
                tokens: tokens - 1.0,
                at: now,
            },
        );
        Ok(())
    }

    fn wait_for_one(&self, tokens: f64) -> Duration {
        self.rate.every.mul_f64((1.0 - tokens).max(0.0))
    }

    /// Drops the full buckets (they say nothing a missing one does not), then, if that is
    /// not enough, the least recently used half.
    fn forget_some(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let burst = f64::from(self.rate.burst);
        buckets.retain(|_, bucket| self.refilled(*bucket, now) < burst);
        if buckets.len() >= MAX_KEYS {
            let mut ages: Vec<Instant> = buckets.values().map(|b| b.at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            buckets.retain(|_, bucket| bucket.at > cut);
            tracing::warn!(
                kept = buckets.len(),
                "too many throttled keys; the oldest were forgotten"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval_per_key() {
        let throttle = Throttle::new(Rate::per(3, Duration::from_millis(300)));
        for _ in 0..3 {
            assert_eq!(throttle.take("ada"), Ok(()));
        }
        let wait = throttle.take("ada").unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        // Checking does not use a try.
        assert!(throttle.check("ada").is_err());
        // Other keys are not affected.
        assert_eq!(throttle.take("bob"), Ok(()));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(throttle.check("ada"), Ok(()));
        assert_eq!(throttle.take("ada"), Ok(()));
        assert!(throttle.take("ada").is_err());
    }

    #[test]
    fn invented_keys_do_not_grow_memory_without_bound() {
        let throttle = Throttle::new(Rate::per(2, Duration::from_secs(3600)));
        for n in 0..(MAX_KEYS + 1000) {
            throttle.take(&format!("key-{n}")).unwrap();
        }
        let kept = throttle.buckets.lock().unwrap().len();
        assert!(kept <= MAX_KEYS, "{kept}");
        // The most recent keys are still remembered.
        throttle.take(&format!("key-{}", MAX_KEYS + 999)).unwrap();
        assert!(throttle.take(&format!("key-{}", MAX_KEYS + 999)).is_err());
    }
}
