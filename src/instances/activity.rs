//! An instance's last activity, shared by every view of it, which the hot path records with one
//! atomic operation under the index's read lock, and which the idle stop and the eviction claim
//! in the same atomic word. So a request and a stop can never both win: either the request
//! touched it first (the claim fails and the instance is left running) or the claim came first
//! (the request sees it claimed and waits for the stop to end, then wakes it again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The word's value while a stop or pause has claimed the instance.
const CLAIMED: u64 = u64::MAX;

#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<AtomicU64>);

/// The word as it was read, to claim it only if nothing touched it since.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen(u64);

fn millis(t: SystemTime) -> u64 {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    u64::try_from(ms).unwrap_or(CLAIMED - 1).min(CLAIMED - 1)
}

impl Activity {
    /// Records activity at `now`; `false` (nothing recorded) when a stop has claimed it. Every
    /// touch changes the word, so a claim made on an earlier reading fails.
    pub fn touch(&self, now: SystemTime) -> bool {
        let now = millis(now);
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                (old != CLAIMED).then(|| now.max(old + 1))
            })
            .is_ok()
    }

    /// The word now, for [`Activity::claim_if_unchanged`].
    pub fn seen(&self) -> Seen {
        Seen(self.0.load(Ordering::Acquire))
    }

    /// Claims it for a stop if nothing touched it since `seen` (and nobody claimed it).
    pub fn claim_if_unchanged(&self, seen: Seen) -> bool {
        seen.0 != CLAIMED
            && self
                .0
                .compare_exchange(seen.0, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Claims it whatever happened (a stop asked for through the API); what it was before, or
    /// `None` when another stop holds it.
    pub fn claim(&self) -> Option<Seen> {
        let old = self.0.swap(CLAIMED, Ordering::AcqRel);
        (old != CLAIMED).then_some(Seen(old))
    }

    /// Ends a claim, restoring the activity it hid.
    pub fn release(&self, seen: Seen) {
        let _ = self
            .0
            .compare_exchange(CLAIMED, seen.0, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl Seen {
    /// Whether a stop or pause held the instance when it was read.
    pub fn is_claimed(self) -> bool {
        self.0 == CLAIMED
    }

    pub fn time(self) -> Option<SystemTime> {
        match self.0 {
            0 | CLAIMED => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn a_touch_after_the_reading_makes_the_claim_fail() {
        let activity = Activity::default();
        activity.touch(at(1000));
        let seen = activity.seen();
        // Even a touch within the same millisecond changes the word.
        assert!(activity.touch(at(1000)));
        assert!(!activity.claim_if_unchanged(seen));
        assert_eq!(activity.seen().time(), Some(at(1001)));
    }

    #[test]
    fn a_claim_makes_every_touch_fail_until_released() {
        let activity = Activity::default();
        activity.touch(at(1000));
        let seen = activity.seen();
        assert!(activity.claim_if_unchanged(seen));
        assert!(!activity.touch(at(2000)));
        assert_eq!(activity.seen().time(), None);
        assert_eq!(activity.claim(), None, "one claim at a time");
        activity.release(seen);
        assert_eq!(activity.seen().time(), Some(at(1000)));
        assert!(activity.touch(at(2000)));
        assert_eq!(activity.seen().time(), Some(at(2000)));
    }

    #[test]
    fn time_never_goes_back() {
        let activity = Activity::default();
        activity.touch(at(5000));
        activity.touch(at(3000));
        assert_eq!(activity.seen().time(), Some(at(5001)));
    }
}
