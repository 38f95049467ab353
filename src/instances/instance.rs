//! One managed container as the index holds it, and what is derived from its description: the
//! service port, how it tells readiness, whether the current run is ready, and its API view.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::activity::{Activity, Seen};
use super::policy::{self, Facts, IdleRules};
use super::readiness::Readiness;
use crate::domain::limits::Limits;
use crate::domain::volumes::Volume;
use crate::domain::{ContainerInfo, Health, IdleAction, InstanceLabels, RunState};

#[derive(Debug, Clone)]
pub struct Instance {
    pub info: ContainerInfo,
    pub port: u16,
    /// Whether `port` was given or found (else it is the default, 80).
    pub port_known: bool,
    pub readiness: Readiness,
    /// The run (its start time) a readiness probe succeeded for.
    pub(super) probed_ready: Option<SystemTime>,
    /// It was unpaused since Docker last found it healthy: Docker's checks fail while a
    /// container is paused, so an `unhealthy` from then says nothing of the app; it counts again
    /// once Docker has found it healthy (or a new run starts).
    pub(super) health_stale: bool,
    /// The last request let through (or traffic seen); shared by every view of this container
    /// so the hot path records it under the read lock. A stop claims it ([`Activity`]).
    pub(super) activity: Activity,
    /// Its own idle timeout (`Some(None)`: never idles) and action, from its labels; `None`:
    /// the setting's.
    pub idle_timeout: Option<Option<Duration>>,
    pub idle_action: Option<IdleAction>,
    /// Its own pause timeout (`Some(None)`: stays paused), from its label; `None`: the setting's.
    pub pause_timeout: Option<Option<Duration>>,
    /// When the index learnt this description ([`super::index::Index::applied`]).
    pub(super) learnt: u64,
}

impl Instance {
    pub fn new(info: ContainerInfo) -> Self {
        let (port, port_known) = service_port(&info);
        let readiness = Readiness::of(&info, port, port_known);
        let labels = InstanceLabels::of(&info);
        let (idle_timeout, idle_action) = (labels.idle_timeout(), labels.idle_action());
        let pause_timeout = labels.pause_timeout();
        Self {
            info,
            port,
            port_known,
            readiness,
            probed_ready: None,
            health_stale: false,
            activity: Activity::default(),
            idle_timeout,
            idle_action,
            pause_timeout,
            learnt: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// What its sessions are signed with (empty for an instance from before epochs).
    pub fn session_epoch(&self) -> &str {
        InstanceLabels::of(&self.info).session_epoch()
    }

    /// Whether its deploy opted in to service workers on a shared origin.
    pub fn allows_service_worker(&self) -> bool {
        InstanceLabels::of(&self.info).allows_service_worker()
    }

    pub fn is_ready(&self) -> bool {
        let probed = self.probed_ready.is_some() && self.probed_ready == self.info.started_at;
        self.info.state == RunState::Running
            && match self.readiness {
                // Docker's own verdict, or the image's check run by spawner for this run, unless
                // Docker has since found it unhealthy.
                Readiness::DockerHealth => match self.info.health {
                    Health::Healthy => true,
                    Health::Unhealthy if !self.health_stale => false,
                    _ => probed,
                },
                _ => probed,
            }
    }

    /// The container's address on the network it was created on (or its only one).
    pub fn ip(&self) -> Option<IpAddr> {
        let ips = &self.info.ips;
        InstanceLabels::of(&self.info)
            .network()
            .and_then(|net| ips.get(net))
            .or_else(|| ips.values().next())
            .copied()
    }

    /// Where traefik reaches it: its fixed address (valid while it is stopped and across
    /// restarts), or else its name, which traefik resolves when it shares the instance's network.
    pub fn route_host(&self) -> String {
        let fixed = &self.info.fixed_ips;
        InstanceLabels::of(&self.info)
            .network()
            .and_then(|net| fixed.get(net))
            .or_else(|| fixed.values().next())
            .map_or_else(|| self.info.name.clone(), IpAddr::to_string)
    }

    /// Records activity; `false` when a stop has claimed the instance (it is going to sleep).
    pub fn touch(&self, now: SystemTime) -> bool {
        self.activity.touch(now)
    }

    /// What the idle and eviction policy needs of it under `rules`, with the activity it was
    /// read from (a stop claims it only if nothing touched it since).
    pub(super) fn facts(&self, rules: &IdleRules, busy: bool) -> Facts<'_> {
        let seen: Seen = self.activity.seen();
        Facts {
            name: self.name(),
            state: self.info.state,
            since: policy::since(seen.time(), self.info.started_at, rules.boot),
            idle_timeout: self.idle_timeout.unwrap_or(rules.idle_timeout),
            idle_action: self.idle_action.unwrap_or(rules.idle_action),
            pause_timeout: self.pause_timeout.unwrap_or(rules.pause_timeout),
            busy,
            seen,
        }
    }

    /// How the API shows it, with its idle schedule under `rules`.
    pub fn view(&self, rules: &IdleRules) -> InstanceView {
        let idle = self.facts(rules, false);
        InstanceView {
            id: self.info.id.clone(),
            name: self.info.name.clone(),
            image: self.info.image.clone(),
            state: self.info.state,
            health: self.info.health,
            ready: self.is_ready(),
            labels: self.info.labels.clone(),
            port: self.port,
            last_activity: idle.seen.time().and_then(rfc3339),
            idle_timeout: idle
                .idle_timeout
                .map_or_else(|| "0".into(), |t| humantime::format_duration(t).to_string()),
            idle_action: idle.idle_action,
            sleeps_at: idle.sleeps_at().and_then(rfc3339),
            data_kept: None,
            address: self.address().map(|a| a.to_string()),
            limits: self.info.limits,
            volumes: InstanceLabels::of(&self.info).volumes(),
        }
    }

    /// Its address on its network: the fixed one (kept while it is stopped), else the one of
    /// its current run (none while it is stopped).
    pub fn address(&self) -> Option<IpAddr> {
        let labels = InstanceLabels::of(&self.info);
        let on = |ips: &'_ BTreeMap<String, IpAddr>| {
            labels
                .network()
                .and_then(|net| ips.get(net))
                .or_else(|| ips.values().next())
                .copied()
        };
        // A stopped container's last address may be given to another container meanwhile.
        let runs = matches!(self.info.state, RunState::Running | RunState::Paused);
        on(&self.info.fixed_ips).or_else(|| self.ip().filter(|_| runs))
    }
}

/// `None` past the year 9999, which RFC 3339 cannot write (`to_string` would panic there, and
/// with it every list of the instances).
fn rfc3339(t: SystemTime) -> Option<String> {
    use std::fmt::Write;
    let mut text = String::new();
    write!(text, "{}", humantime::format_rfc3339_millis(t))
        .ok()
        .map(|()| text)
}

/// An instance as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: RunState,
    pub health: Health,
    pub ready: bool,
    pub labels: BTreeMap<String, String>,
    pub port: u16,
    #[schema(format = DateTime)]
    pub last_activity: Option<String>,
    /// Its idle timeout, e.g. `"15m"`; `"0"`: it never idles.
    pub idle_timeout: String,
    pub idle_action: IdleAction,
    /// When it will be stopped (or paused) if nothing happens; `null` when it never will or is
    /// not running.
    #[schema(format = DateTime)]
    pub sleeps_at: Option<String>,
    /// What of its data survives a stop, when that is not the whole container (Swarm mode:
    /// only its volumes); absent with Docker, where a stopped container keeps its files.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub data_kept: Option<&'static str>,
    /// Its address on its network (the fixed one, kept while it is stopped; else its current
    /// run's); `null` when it has none (a stopped container without a fixed address, Swarm).
    pub address: Option<String>,
    /// What it may use of the host (0: no limit); `null` when the engine did not say.
    pub limits: Option<Limits>,
    /// Its named volumes and where each is mounted (empty when none).
    pub volumes: Vec<Volume>,
}

/// The service port: `port` (kept as a label), the traefik port label, the health-check URL's
/// port, the image's single exposed port, else 80. The flag says whether it was known at all.
fn service_port(info: &ContainerInfo) -> (u16, bool) {
    let exposed = match info.exposed_tcp_ports.as_slice() {
        [only] => Some(*only),
        _ => None,
    };
    let port = InstanceLabels::of(info).service_port().or(exposed);
    (port.unwrap_or(80), port.is_some())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    pub fn info(labels: &[(&str, &str)], exposed: &[u16], healthcheck: bool) -> ContainerInfo {
        ContainerInfo {
            id: "abc".into(),
            name: "minion-1".into(),
            image: "mock-app:latest".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: RunState::Exited,
            health: Health::None,
            healthcheck: healthcheck.then(|| vec!["/mock-app".into(), "healthcheck".into()]),
            exit_code: Some(0),
            started_at: None,
            finished_at: None,
            exposed_tcp_ports: exposed.to_vec(),
            networks: Vec::new(),
            ips: BTreeMap::new(),
            fixed_ips: BTreeMap::new(),
            limits: None,
        }
    }

    #[test]
    fn the_service_port_follows_the_documented_order() {
        let traefik = "traefik.http.services.minion-1.loadbalancer.server.port";
        let hc = "http://minion-1:9100/status";
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u16], u16);
        let cases: [Case; 5] = [
            (&[("spawner.port", "7000"), (traefik, "9000")], &[], 7000),
            (&[(traefik, "9000"), ("health-check", hc)], &[], 9000),
            (&[("healthcheck", hc)], &[1, 2], 9100),
            (&[], &[8888], 8888),
            (&[], &[1, 2], 80),
        ];
        for (labels, exposed, expected) in cases {
            assert_eq!(service_port(&info(labels, exposed, false)).0, expected);
        }
    }

    #[test]
    fn readiness_prefers_healthcheck_then_label_then_tcp_then_delay() {
        let hc = [("health-check", "http://minion-1:9000/status?x=1")];
        assert_eq!(
            Instance::new(info(&hc, &[], true)).readiness,
            Readiness::DockerHealth
        );
        assert_eq!(
            Instance::new(info(&hc, &[], false)).readiness,
            Readiness::Http {
                port: 9000,
                path: "/status?x=1".into()
            }
        );
        assert_eq!(
            Instance::new(info(&[], &[9000], false)).readiness,
            Readiness::Tcp { port: 9000 }
        );
        assert_eq!(
            Instance::new(info(&[], &[], false)).readiness,
            Readiness::Delay
        );
    }

    #[test]
    fn an_idle_timeout_label_beyond_the_maximum_falls_back_to_the_setting() {
        let huge = [("spawner.idle-timeout", "99999999999h")];
        assert_eq!(Instance::new(info(&huge, &[], false)).idle_timeout, None);
        let day = [("spawner.idle-timeout", "1d")];
        assert_eq!(
            Instance::new(info(&day, &[], false)).idle_timeout,
            Some(Some(Duration::from_secs(86400)))
        );
        let far = UNIX_EPOCH + Duration::from_secs(1 << 40);
        assert_eq!(rfc3339(far), None);
        assert_eq!(
            rfc3339(UNIX_EPOCH).as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn a_probe_counts_only_for_the_run_it_was_made_in() {
        let mut running = info(&[], &[9000], false);
        running.state = RunState::Running;
        running.started_at = Some(UNIX_EPOCH + Duration::from_secs(100));
        let mut instance = Instance::new(running);
        assert!(!instance.is_ready());
        instance.probed_ready = Some(UNIX_EPOCH + Duration::from_secs(99));
        assert!(!instance.is_ready());
        instance.probed_ready = instance.info.started_at;
        assert!(instance.is_ready());
    }
}
