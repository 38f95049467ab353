//! Docker's answers in domain terms: inspect responses into [`ContainerInfo`], event messages into
//! [`Event`], stats into [`Stats`], network inspections into [`NetworkInfo`], and bollard's errors into [`BackendError`] by status code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerStatsResponse, EventMessage,
    HealthStatusEnum, HostConfig, NetworkInspect,
};

use crate::backend::{BackendError, Event, EventKind, Op, Stats};
use crate::domain::instance_labels::{has_fixed_addresses, Labels};
use crate::domain::limits::Limits;
use crate::domain::{ContainerInfo, Health, NetworkInfo, RunState, ICC_OPTION};

/// Maps a bollard error by the daemon's status: 404, 409, 400 become their kinds; a daemon that
/// does not answer at all is `Unavailable`.
pub fn error(op: Op, target: &str) -> impl FnOnce(bollard::errors::Error) -> BackendError + '_ {
    move |e| {
        use bollard::errors::Error as E;
        let target = target.to_string();
        match &e {
            E::DockerResponseServerError { status_code, .. } => match status_code {
                404 => BackendError::NotFound {
                    op,
                    target,
                    source: e.into(),
                },
                409 => BackendError::Conflict {
                    op,
                    target,
                    source: e.into(),
                },
                400 => BackendError::Rejected {
                    op,
                    target,
                    source: e.into(),
                },
                _ => BackendError::Failed {
                    op,
                    target,
                    source: e.into(),
                },
            },
            E::JsonDataError { .. } | E::JsonSerdeError { .. } => BackendError::Failed {
                op,
                target,
                source: e.into(),
            },
            _ => BackendError::Unavailable {
                op,
                source: e.into(),
            },
        }
    }
}

/// A container that exists but is not spawner's is, to spawner, not there.
pub fn not_managed(name_or_id: &str) -> BackendError {
    BackendError::NotFound {
        op: Op::Inspect,
        target: name_or_id.to_string(),
        source: format!("no container named {name_or_id} is managed by spawner").into(),
    }
}

/// An inspect's answer, `None` when there is no such thing.
pub fn found<T>(result: Result<T, BackendError>) -> Result<Option<T>, BackendError> {
    match result {
        Ok(answer) => Ok(Some(answer)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// An inspect's answer as "does it exist".
pub fn exists<T>(result: Result<T, BackendError>) -> Result<bool, BackendError> {
    found(result).map(|answer| answer.is_some())
}

/// bollard reports Docker's 304 ("already started", "already stopped") as an error; it is not.
pub fn already_done_is_done(
    result: Result<(), bollard::errors::Error>,
    op: Op,
    id: &str,
) -> Result<(), BackendError> {
    match result {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        other => other.map_err(error(op, id)),
    }
}

/// Docker answers pausing a paused container (and unpausing a running one) with a 500 whose
/// message says so; that state is what was asked for.
pub fn said_already(
    result: Result<(), bollard::errors::Error>,
    phrase: &str,
    op: Op,
    id: &str,
) -> Result<(), BackendError> {
    match result {
        Err(bollard::errors::Error::DockerResponseServerError { message, .. })
            if message.contains(phrase) =>
        {
            Ok(())
        }
        other => other.map_err(error(op, id)),
    }
}

/// Docker's RFC 3339 times; its zero time (`0001-01-01T00:00:00Z`, "never") and anything
/// unreadable are `None`, never a made-up date.
pub fn parse_time(raw: Option<&str>) -> Option<SystemTime> {
    let raw = raw?;
    if raw.starts_with("0001-01-01T") {
        return None; // Go's zero time: "never"
    }
    match humantime::parse_rfc3339_weak(raw.trim_end_matches('Z')) {
        Ok(t) if t > UNIX_EPOCH => Some(t),
        Ok(_) => None,
        Err(e) => {
            log::warn!("Docker sent an unreadable time {raw:?} ({e}); ignoring it");
            None
        }
    }
}

/// The limits a container runs with (0: none), as its host configuration says.
pub fn limits_of(host: &HostConfig) -> Limits {
    Limits {
        memory_bytes: host.memory.unwrap_or_default().max(0) as u64,
        cpus: host.nano_cpus.unwrap_or_default() as f64 / 1e9,
        pids: host
            .pids_limit
            .unwrap_or_default()
            .clamp(0, u32::MAX as i64) as u32,
    }
}

pub fn to_info(response: ContainerInspectResponse) -> Option<ContainerInfo> {
    let id = response.id?;
    let limits = response.host_config.as_ref().map(limits_of);
    let name = response
        .name
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let config = response.config.unwrap_or_default();
    let state = response.state.unwrap_or_default();
    let run_state = match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => RunState::Removing,
        Some(ContainerStateStatusEnum::EXITED) | Some(ContainerStateStatusEnum::STOPPING) => {
            RunState::Exited
        }
        Some(ContainerStateStatusEnum::DEAD) => RunState::Dead,
        _ => RunState::Created,
    };
    let health = match state.health.as_ref().and_then(|h| h.status) {
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
        _ => Health::None,
    };
    let healthcheck = config
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_deref())
        .and_then(healthcheck_command);
    let exposed_tcp_ports = config
        .exposed_ports
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.strip_suffix("/tcp").and_then(|n| n.parse().ok()))
        .collect();
    let attached = response
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    let networks = attached.keys().cloned().collect();
    // A stopped container keeps its networks and fixed addresses, not the addresses of a run.
    let fixed_ips = attached
        .iter()
        .filter_map(|(net, endpoint)| {
            let fixed = endpoint.ipam_config.as_ref()?.ipv4_address.as_deref()?;
            Some((net.clone(), fixed.parse().ok()?))
        })
        .collect();
    let ips = attached
        .into_iter()
        .filter_map(|(net, endpoint)| {
            let ip = endpoint.ip_address?.parse().ok()?;
            Some((net, ip))
        })
        .collect();
    let running = run_state == RunState::Running || run_state == RunState::Paused;
    Some(ContainerInfo {
        id,
        name,
        image: config.image.unwrap_or_default(),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        state: run_state,
        health,
        healthcheck,
        // Docker reports 0 for a container that runs or never ran: that is no exit code.
        exit_code: state.exit_code.filter(|_| !running),
        started_at: parse_time(state.started_at.as_deref()),
        finished_at: parse_time(state.finished_at.as_deref()),
        exposed_tcp_ports,
        networks,
        ips,
        fixed_ips,
        limits,
    })
}

/// Docker's `Test` as a command to exec: `["CMD", args…]` runs the args, `["CMD-SHELL", line]`
/// runs the line with `/bin/sh -c`; `["NONE"]`, an empty test or an unknown form: no check.
pub fn healthcheck_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first()? {
        (kind, args) if kind == "CMD" && !args.is_empty() => Some(args.to_vec()),
        (kind, [line]) if kind == "CMD-SHELL" => {
            Some(vec!["/bin/sh".into(), "-c".into(), line.clone()])
        }
        _ => None,
    }
}

/// The first IPv4 configuration of the network; addresses that do not parse are left out.
pub fn to_network_info(network: NetworkInspect) -> NetworkInfo {
    let v4 = network
        .ipam
        .and_then(|ipam| ipam.config)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.subnet.as_deref().is_some_and(|s| s.contains('.')))
        .unwrap_or_default();
    let options = network.options.unwrap_or_default();
    let network_labels: Labels = network.labels.unwrap_or_default().into_iter().collect();
    NetworkInfo {
        name: network.name.unwrap_or_default(),
        subnet: v4.subnet.and_then(|s| s.parse().ok()),
        ip_range: v4.ip_range.and_then(|s| s.parse().ok()),
        gateway: v4.gateway.and_then(|s| s.parse().ok()),
        icc: options.get(ICC_OPTION).map(String::as_str) != Some("false"),
        internal: network.internal.unwrap_or(false),
        fixed_addresses: has_fixed_addresses(&network_labels),
        in_use: network
            .containers
            .unwrap_or_default()
            .into_values()
            .filter_map(|c| c.ipv4_address?.split('/').next()?.parse().ok())
            .collect(),
    }
}

pub fn to_event(message: EventMessage) -> Option<Event> {
    let time = message
        .time_nano
        .and_then(|n| u64::try_from(n).ok())
        .map(|n| UNIX_EPOCH + Duration::from_nanos(n));
    let actor = message.actor?;
    let exit_code = actor
        .attributes
        .as_ref()
        .and_then(|a| a.get("exitCode"))
        .and_then(|c| c.parse().ok());
    let action = message.action?;
    let kind = match action.as_str() {
        "create" => EventKind::Created,
        "start" | "restart" => EventKind::Started,
        "die" => EventKind::Died { exit_code },
        "stop" => EventKind::Stopped,
        "pause" => EventKind::Paused,
        "unpause" => EventKind::Unpaused,
        "rename" => EventKind::Renamed,
        "update" => EventKind::Updated,
        "destroy" => EventKind::Destroyed,
        "health_status: healthy" => EventKind::Health(Health::Healthy),
        "health_status: unhealthy" => EventKind::Health(Health::Unhealthy),
        other if other.starts_with("health_status") => EventKind::Health(Health::Starting),
        other => EventKind::Other(other.to_string()),
    };
    Some(Event {
        id: actor.id?,
        kind,
        time,
    })
}

pub fn to_stats(sample: ContainerStatsResponse) -> Stats {
    let networks = sample.networks.unwrap_or_default();
    let sum = |field: fn(&bollard::models::ContainerNetworkStats) -> Option<u64>| {
        networks
            .values()
            .map(|n| field(n).unwrap_or(0))
            .sum::<u64>()
    };
    Stats {
        cpu_total_ns: sample
            .cpu_stats
            .and_then(|c| c.cpu_usage)
            .and_then(|u| u.total_usage)
            .unwrap_or(0),
        memory_bytes: sample.memory_stats.and_then(|m| m.usage).unwrap_or(0),
        rx_bytes: sum(|n| n.rx_bytes),
        tx_bytes: sum(|n| n.tx_bytes),
        rx_packets: sum(|n| n.rx_packets),
        tx_packets: sum(|n| n.tx_packets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps_with_trimmed_nanoseconds_order_correctly() {
        let a = parse_time(Some("2026-11-25T14:50:00.12Z")).unwrap();
        let b = parse_time(Some("2026-11-25T14:50:00.123Z")).unwrap();
        assert!(a < b);
    }

    #[test]
    fn the_zero_time_and_garbage_are_no_time_at_all() {
        assert_eq!(parse_time(Some("0001-01-01T00:00:00Z")), None);
        assert_eq!(parse_time(Some("yesterday")), None);
        assert_eq!(parse_time(None), None);
    }
}
