//! One backoff rule for every retry loop: readiness probes (10 ms growing to 250 ms) and
//! reconnecting to the engine's events stream (100 ms growing to 5 s).

use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    next: Duration,
    max: Duration,
    /// Growth per step, in percent (150 = ×1.5).
    growth_percent: u32,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration, growth_percent: u32) -> Self {
        Self {
            first,
            next: first,
            max,
            growth_percent,
        }
    }

    /// For readiness probes: frequent at first (an app is often ready within tens of ms), then
    /// at most four times a second.
    pub const fn probe() -> Self {
        Self::new(Duration::from_millis(10), Duration::from_millis(250), 150)
    }

    /// For reconnecting to a broken engine.
    pub const fn reconnect() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5), 200)
    }

    /// The pause to take now; the next one is longer, up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * self.growth_percent / 100).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Calls `attempt` until it returns true, sleeping between attempts.
    pub async fn retry<F, Fut>(mut self, mut attempt: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        while !attempt().await {
            tokio::time::sleep(self.next_delay()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_maximum_and_reset_to_the_first() {
        let mut b = Backoff::probe();
        let delays: Vec<u128> = (0..10).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays[..4], [10, 15, 22, 33]);
        assert_eq!(delays[9], 250);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(10));
    }
}
