//! At most `REGISTER_PER_MINUTE` registrations per client address (see [`crate::proxy`] for
//! which address) in a minute: each one costs an argon2 hash and a container, so one client
//! cannot fill the host. The minute starts at an address's first attempt; past the cap the answer
//! is 429 with `Retry-After`, the seconds until that minute ends. Every attempt counts, refused
//! or not. The counters are in memory: a restart forgets them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many addresses, the ones whose minute is over are dropped on the next attempt.
const PRUNE_ABOVE: usize = 10_000;

pub struct RegisterLimit {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RegisterLimit {
    /// `per_minute` 0: no cap.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::default(),
        }
    }

    /// Counts an attempt from `addr`; past the cap, `Err` with the wait until its minute ends
    /// (whole seconds, at least 1: what `Retry-After` says).
    pub fn admit(&self, addr: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(addr).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *count) = (now, 0);
        }
        if *count < self.per_minute {
            *count += 1;
            Ok(())
        } else {
            let left = WINDOW.saturating_sub(now.duration_since(*start));
            Err(left.as_secs_f64().ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_cap_per_minute_and_then_the_wait_until_the_minute_ends() {
        let limit = RegisterLimit::new(2);
        let t0 = Instant::now();
        assert_eq!(limit.admit(ip("192.0.2.1"), t0), Ok(()));
        assert_eq!(
            limit.admit(ip("192.0.2.1"), t0 + Duration::from_secs(1)),
            Ok(())
        );
        assert_eq!(
            limit.admit(ip("192.0.2.1"), t0 + Duration::from_millis(20_500)),
            Err(40)
        );
        assert_eq!(
            limit.admit(ip("192.0.2.2"), t0 + Duration::from_secs(2)),
            Ok(()),
            "another address has its own minute"
        );
        assert_eq!(
            limit.admit(ip("192.0.2.1"), t0 + Duration::from_millis(59_999)),
            Err(1)
        );
        assert_eq!(limit.admit(ip("192.0.2.1"), t0 + WINDOW), Ok(()));
    }

    #[test]
    fn zero_means_no_cap() {
        let limit = RegisterLimit::new(0);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(limit.admit(ip("192.0.2.1"), now), Ok(()));
        }
    }

    #[test]
    fn addresses_whose_minute_is_over_are_dropped_when_there_are_many() {
        let limit = RegisterLimit::new(1);
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE as u32 {
            limit.admit(IpAddr::from(i.to_be_bytes()), t0).unwrap();
        }
        limit.admit(ip("192.0.2.1"), t0 + WINDOW).unwrap();
        assert_eq!(limit.windows.lock().unwrap().len(), 1);
    }
}
