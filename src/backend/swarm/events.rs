//! Swarm's changes as spawner's events. A manager publishes service events (create, update,
//! remove; no labels, so every service's, matched by id when read back), and the node that runs a
//! task publishes its container's events, which name the service. There are no task events: a
//! task's state follows its container's a moment later, so a container event is passed on now
//! and again after [`LATER`], each a read-back of the service.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;

use crate::backend::docker::convert::error;
use crate::backend::{BackendError, Event, EventKind, Op};
use crate::domain::instance_labels;

/// When a container's change is read back again (its task's state changes after it).
const LATER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// How many delayed read-backs may wait at once.
const DELAYED: usize = 256;

const SERVICE_ID: &str = "com.docker.swarm.service.id";

pub fn stream(
    client: bollard::Docker,
    since: SystemTime,
) -> BoxStream<'static, Result<Event, BackendError>> {
    let since = since
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .to_string();
    let open = |filters: HashMap<String, Vec<String>>| {
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .filters(&filters)
            .build();
        client.events(Some(options))
    };
    let services = open(HashMap::from([(
        "type".to_string(),
        vec!["service".to_string()],
    )]));
    let containers = open(HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![instance_labels::managed_filter()]),
    ]));
    let services = services.filter_map(|item| async move {
        match item {
            Ok(message) => service_event(message).map(Ok),
            Err(e) => Some(Err(error(Op::Events, "services")(e))),
        }
    });
    let containers = containers
        .filter_map(|item| async move {
            match item {
                Ok(message) => container_event(message).map(Ok),
                Err(e) => Some(Err(error(Op::Events, "containers")(e))),
            }
        })
        .flat_map_unordered(DELAYED, |item| match item {
            Ok(event) => {
                let now = stream::once(std::future::ready(Ok(event.clone())));
                let later = stream::iter(LATER).then(move |delay| {
                    let event = event.clone();
                    async move {
                        tokio::time::sleep(delay).await;
                        Ok(event)
                    }
                });
                now.chain(later).boxed()
            }
            Err(e) => stream::once(std::future::ready(Err(e))).boxed(),
        });
    stream::select(services, containers).boxed()
}

fn time_of(message: &EventMessage) -> Option<SystemTime> {
    let nanos = u64::try_from(message.time_nano?).ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}

fn service_event(message: EventMessage) -> Option<Event> {
    let time = time_of(&message);
    let kind = match message.action.as_deref()? {
        "create" => EventKind::Created,
        "update" => EventKind::Updated,
        "remove" => EventKind::Destroyed,
        other => EventKind::Other(other.to_string()),
    };
    Some(Event {
        id: message.actor?.id?,
        kind,
        time,
    })
}

/// A task's container changed: its service is read back (the container's own end or removal
/// is not the service's).
fn container_event(message: EventMessage) -> Option<Event> {
    let time = time_of(&message);
    let action = message.action.clone()?;
    let service = message.actor?.attributes?.remove(SERVICE_ID)?;
    let kind = match action.as_str() {
        "start" | "die" | "stop" | "kill" | "oom" => EventKind::Updated,
        a if a.starts_with("health_status") => EventKind::Updated,
        other => EventKind::Other(other.to_string()),
    };
    Some(Event {
        id: service,
        kind,
        time,
    })
}
