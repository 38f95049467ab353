//! When an instance sleeps and which one makes room: pure functions of activity times, what is
//! under way, the time and the settings, so every rule is tested without an engine. The culler
//! ([`super::culler`]) and the capacity check ([`super::capacity`]) gather the facts and act.

use std::time::{Duration, SystemTime};

use super::activity::Seen;
use crate::configuration::IdleSettings;
pub use crate::domain::IdleAction;
use crate::domain::RunState;

/// The idle rules that hold where an instance's own labels say nothing, and the moment this
/// spawner started (no instance counts as idle for longer than since then).
#[derive(Debug, Clone, Copy)]
pub struct IdleRules {
    /// `None`: instances never idle.
    pub idle_timeout: Option<Duration>,
    pub idle_action: IdleAction,
    /// How long a paused instance stays paused before it is stopped; `None`: for ever.
    pub pause_timeout: Option<Duration>,
    pub boot: SystemTime,
}

impl IdleRules {
    /// The rules of `idle`, for a spawner that started at `boot`.
    pub fn new(idle: &IdleSettings, boot: SystemTime) -> Self {
        Self {
            idle_timeout: idle.idle_timeout,
            idle_action: idle.idle_action,
            pause_timeout: idle.pause_timeout,
            boot,
        }
    }
}

/// One instance as the policy sees it.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub name: &'a str,
    pub state: RunState,
    /// The latest of: its last activity, the start of its current run, spawner's own start.
    pub since: SystemTime,
    /// `None`: it never idles.
    pub idle_timeout: Option<Duration>,
    pub idle_action: IdleAction,
    /// `None`: once paused, it stays paused.
    pub pause_timeout: Option<Duration>,
    /// A start, a stop or a held request is under way for it: it is left alone.
    pub busy: bool,
    /// The activity `since` was read from: a stop claims the instance only if it is unchanged.
    pub seen: Seen,
}

impl Facts<'_> {
    /// What happens to it next if nothing happens, and when: a running instance is put into its
    /// `idle_action` once idle for `idle_timeout`; a paused one is stopped once idle for
    /// `idle_timeout + pause_timeout` (it was paused at about `idle_timeout`). `None` when it
    /// never sleeps (further), or is neither running nor paused.
    pub fn next_sleep(&self) -> Option<(SystemTime, IdleAction)> {
        let idle = self.since.checked_add(self.idle_timeout?)?;
        match self.state {
            RunState::Running => Some((idle, self.idle_action)),
            RunState::Paused => Some((idle.checked_add(self.pause_timeout?)?, IdleAction::Stop)),
            _ => None,
        }
    }

    /// When it goes to sleep (or, paused, is stopped) if nothing happens.
    pub fn sleeps_at(&self) -> Option<SystemTime> {
        self.next_sleep().map(|(at, _)| at)
    }
}

/// The latest of the moments that count as activity (`None`s are ignored).
pub fn since(
    activity: Option<SystemTime>,
    run_started: Option<SystemTime>,
    boot: SystemTime,
) -> SystemTime {
    activity
        .into_iter()
        .chain(run_started)
        .fold(boot, SystemTime::max)
}

/// The instances to put to sleep now, with what to do: running ones idle for their whole
/// timeout (into their `idle_action`), paused ones past their pause timeout too (stopped). Busy
/// ones are left alone.
pub fn idle_now<'f, 'a>(
    instances: &'f [Facts<'a>],
    now: SystemTime,
) -> Vec<(&'f Facts<'a>, IdleAction)> {
    instances
        .iter()
        .filter(|f| !f.busy)
        .filter_map(|f| {
            let (at, action) = f.next_sleep()?;
            (at <= now).then_some((f, action))
        })
        .collect()
}

/// Whether a container in this state takes a place under `max_running`.
pub fn occupies(state: RunState) -> bool {
    matches!(
        state,
        RunState::Running | RunState::Paused | RunState::Restarting
    )
}

/// Which instances may be stopped to make room, the least recently active first: running or
/// paused, not busy, and quiet for at least `grace` (a request let through just before may
/// still be in flight).
pub fn eviction_order<'f, 'a>(
    instances: &'f [Facts<'a>],
    now: SystemTime,
    grace: Duration,
) -> Vec<&'f Facts<'a>> {
    let mut candidates: Vec<&'f Facts<'a>> = instances
        .iter()
        .filter(|f| matches!(f.state, RunState::Running | RunState::Paused))
        .filter(|f| !f.busy && f.since + grace <= now)
        .collect();
    // Paused ones first at equal age: they are asleep already. Then by name, for a stable order.
    candidates.sort_by_key(|f| (f.since, f.state != RunState::Paused, f.name));
    candidates
}

/// Whether a running instance's network counters show traffic since the previous sample of the
/// same run: payload sent, or payload received and answered. Each frame's headers are at most
/// [`HEADER_BYTES`]; what is above that is payload. So TCP keepalives and bare ACKs (no payload),
/// ARP (smaller frames), and multicast chatter the container receives but never answers (the
/// host's IPv6 announcements when its interface appears) are not traffic.
pub fn traffic_between(previous: &TrafficSample, now: &TrafficSample) -> bool {
    if previous.run != now.run {
        return false;
    }
    let payload = |bytes: u64, packets: u64| bytes > packets.saturating_mul(HEADER_BYTES);
    let delta = |now: (u64, u64), before: (u64, u64)| {
        (
            now.0.saturating_sub(before.0),
            now.1.saturating_sub(before.1),
        )
    };
    let (rx, rx_packets) = delta(now.rx, previous.rx);
    let (tx, tx_packets) = delta(now.tx, previous.tx);
    payload(tx, tx_packets) || (payload(rx, rx_packets) && tx_packets > 0)
}

/// Ethernet (14) + IPv4 (20) + TCP with timestamps (32): an empty segment such as a keepalive
/// probe or a bare ACK. Anything sent with data is larger.
pub const HEADER_BYTES: u64 = 66;

/// A container's network counters in one run: (bytes, frames) received and sent, over all
/// its interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSample {
    pub run: Option<SystemTime>,
    pub rx: (u64, u64),
    pub tx: (u64, u64),
}

impl TrafficSample {
    /// The counters of a run as it starts: nothing received or sent yet.
    pub fn start_of(run: Option<SystemTime>) -> Self {
        Self {
            run,
            rx: (0, 0),
            tx: (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn facts(name: &str, since: u64) -> Facts<'_> {
        Facts {
            name,
            state: RunState::Running,
            since: at(since),
            idle_timeout: Some(Duration::from_secs(60)),
            idle_action: IdleAction::Stop,
            pause_timeout: None,
            busy: false,
            seen: Seen::default(),
        }
    }

    fn names<'a>(facts: Vec<&Facts<'a>>) -> Vec<&'a str> {
        facts.into_iter().map(|f| f.name).collect()
    }

    #[test]
    fn activity_counts_from_the_latest_of_request_run_start_and_boot() {
        assert_eq!(since(Some(at(5)), Some(at(9)), at(1)), at(9));
        assert_eq!(since(Some(at(12)), Some(at(9)), at(1)), at(12));
        // A restarted spawner: nothing counts as older than its own start.
        assert_eq!(since(Some(at(5)), Some(at(9)), at(30)), at(30));
        assert_eq!(since(None, None, at(3)), at(3));
    }

    #[test]
    fn only_running_quiet_instances_past_their_timeout_sleep() {
        let mut never = facts("never", 0);
        never.idle_timeout = None;
        let mut busy = facts("busy", 0);
        busy.busy = true;
        let mut paused = facts("paused", 0);
        paused.state = RunState::Paused;
        let mut exited = facts("exited", 0);
        exited.state = RunState::Exited;
        let mut pause = facts("pause", 0);
        pause.idle_action = IdleAction::Pause;
        let all = [
            facts("idle", 0),
            facts("exactly", 40),
            facts("recent", 41),
            never,
            busy,
            paused,
            exited,
            pause,
        ];
        let idle = idle_now(&all, at(100));
        let idle_names: Vec<_> = idle.iter().map(|(f, _)| f.name).collect();
        assert_eq!(idle_names, vec!["idle", "exactly", "pause"]);
        assert_eq!(idle[2].1, IdleAction::Pause);
        assert_eq!(all[2].sleeps_at(), Some(at(101)));
        assert_eq!(all[3].sleeps_at(), None);
        assert_eq!(all[5].sleeps_at(), None, "paused, with no pause timeout");
    }

    #[test]
    fn a_paused_instance_is_stopped_once_its_pause_timeout_has_passed_too() {
        let paused = |name, pause_timeout| Facts {
            state: RunState::Paused,
            pause_timeout,
            ..facts(name, 0)
        };
        let mut busy = paused("busy", Some(Duration::from_secs(30)));
        busy.busy = true;
        let all = [
            paused("for-ever", None),
            paused("half-a-minute", Some(Duration::from_secs(30))),
            paused("an-hour", Some(Duration::from_secs(3600))),
            busy,
        ];
        // Paused at about 60 s (its idle timeout), stopped 30 s later.
        assert_eq!(all[1].sleeps_at(), Some(at(90)));
        assert!(idle_now(&all, at(89)).is_empty());
        let due = idle_now(&all, at(90));
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].0.name, due[0].1),
            ("half-a-minute", IdleAction::Stop)
        );
    }

    #[test]
    fn eviction_takes_the_least_recently_active_that_is_not_busy_nor_in_flight() {
        let mut busy = facts("busy", 1);
        busy.busy = true;
        let mut paused = facts("paused", 20);
        paused.state = RunState::Paused;
        let mut exited = facts("exited", 0);
        exited.state = RunState::Exited;
        let all = [
            facts("b", 30),
            facts("a", 20),
            busy,
            paused,
            exited,
            facts("just-now", 99),
        ];
        assert_eq!(
            names(eviction_order(&all, at(100), Duration::from_secs(5))),
            vec!["paused", "a", "b"]
        );
        assert_eq!(
            names(eviction_order(&all, at(100), Duration::ZERO)),
            vec!["paused", "a", "b", "just-now"]
        );
    }

    #[test]
    fn keepalives_arp_and_unanswered_multicast_are_not_traffic_but_any_payload_is() {
        let run = Some(at(1));
        let base = TrafficSample {
            run,
            rx: (1000, 10),
            tx: (500, 5),
        };
        let with = |rx: (u64, u64), tx: (u64, u64)| TrafficSample {
            run,
            rx: (base.rx.0 + rx.0, base.rx.1 + rx.1),
            tx: (base.tx.0 + tx.0, base.tx.1 + tx.1),
        };
        let keepalives = with((2 * 66, 2), (2 * 66, 2));
        let arp = with((42, 1), (42, 1));
        let multicast = with((5 * 90, 5), (0, 0));
        // A 20-byte WebSocket frame each way, each acknowledged.
        let sent = with((66, 1), (66 + 22, 1));
        let received = with((66 + 22, 1), (66, 1));
        let upload = with((10 * 1514, 10), (5 * 66, 5));
        assert!(!traffic_between(&base, &base));
        assert!(!traffic_between(&base, &keepalives));
        assert!(!traffic_between(&base, &arp));
        assert!(!traffic_between(&base, &multicast));
        assert!(traffic_between(&base, &sent));
        assert!(traffic_between(&base, &received));
        assert!(traffic_between(&base, &upload));
        let next_run = TrafficSample {
            run: Some(at(2)),
            ..sent
        };
        assert!(!traffic_between(&base, &next_run), "another run restarts");
    }
}
