//! `GET /deploy/events`: the instances' changes as Server-Sent Events (private port, behind the
//! token). Each change is one event:
//!
//! ```text
//! id: 1764583200000001
//! event: stopped
//! data: {"id":1764583200000001,"change":"stopped","reason":"idle","instance":{…}}
//! ```
//!
//! A client that reconnects sends `Last-Event-ID` (browsers' `EventSource` does it by itself, or
//! give `?last_event_id=`) and first gets the changes it missed, if spawner still keeps them
//! (the last [`BACKLOG`](crate::instances) ones); if it does not, the first event is `reset`:
//! read `GET /deploy` again. Without an id, only changes from now on (read `GET /deploy` first).
//! A comment every 15 s keeps proxies from closing a quiet stream. A client that reads too
//! slowly to keep up is sent `reset` and the stream ends. Each replica sends its own changes
//! and those it sees happen behind its back (README: Private API).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::instances::{FeedEvent, Instances};

use super::deploy::DeployError;

/// A comment this often on a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(serde::Deserialize)]
pub struct Resume {
    last_event_id: Option<String>,
}

/// The id to resume after: the `Last-Event-ID` header, else `?last_event_id=`.
fn last_event_id(request: &HttpRequest, query: &Resume) -> Result<Option<u64>, DeployError> {
    let header = request.headers().get("last-event-id");
    let raw = match header {
        Some(value) => Some(value.to_str().map_err(|_| bad_id())?.to_string()),
        None => query.last_event_id.clone(),
    };
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) => id.parse().map(Some).map_err(|_| bad_id()),
    }
}

fn bad_id() -> DeployError {
    DeployError::BadRequest(
        "Last-Event-ID (or last_event_id) must be the id of an event this stream sent: \
         digits only; leave it out to start from now"
            .into(),
    )
}

fn frame(event: &FeedEvent) -> web::Bytes {
    let data = serde_json::to_string(event).expect("plain data serializes");
    let change = event.change.as_str();
    web::Bytes::from(format!(
        "id: {}\nevent: {change}\ndata: {data}\n\n",
        event.id
    ))
}

fn reset(why: &str) -> web::Bytes {
    web::Bytes::from(format!(
        "event: reset\ndata: {{\"reason\":\"{why}\",\"read\":\"GET /deploy\"}}\n\n"
    ))
}

#[utoipa::path(get, path = "/deploy/events", tag = "operations", operation_id = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this id"),
           ("last_event_id" = Option<String>, Query, description = "The same, for clients that cannot set headers")),
    responses(
        (status = 200, description = "Server-Sent Events: `id:`, `event:` (the change, or `reset`) and `data:` (a FeedEvent) per change",
            content_type = "text/event-stream", body = crate::instances::FeedEvent),
        (status = 400, description = "`Last-Event-ID` is not a number", body = crate::routes::ErrorBody),
    ))]
pub async fn events(
    request: HttpRequest,
    query: web::Query<Resume>,
    instances: web::Data<Instances>,
) -> Result<HttpResponse, DeployError> {
    let last = last_event_id(&request, &query)?;
    let subscription = instances.subscribe(last);
    let mut first: Vec<web::Bytes> = vec![web::Bytes::from_static(b": spawner events\n\n")];
    if subscription.gap {
        first.push(reset("missed"));
    }
    first.extend(subscription.missed.iter().map(|e| frame(e)));
    let body = stream::iter(first).chain(live(subscription.live, instances.into_inner()));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body.map(Ok::<_, std::convert::Infallible>)))
}

/// The live changes, a keep-alive comment on quiet stretches; ends at shutdown, or after a
/// `reset` when the client fell behind.
fn live(
    receiver: tokio::sync::broadcast::Receiver<Arc<FeedEvent>>,
    instances: Arc<Instances>,
) -> impl Stream<Item = web::Bytes> {
    stream::unfold(Some((receiver, instances)), |state| async move {
        let (mut receiver, instances) = state?;
        let next = tokio::select! {
            next = receiver.recv() => next,
            () = tokio::time::sleep(KEEP_ALIVE) => {
                return Some((web::Bytes::from_static(b": keep-alive\n\n"), Some((receiver, instances))));
            }
            () = instances.stopping() => return None,
        };
        match next {
            Ok(event) => Some((frame(&event), Some((receiver, instances)))),
            Err(RecvError::Lagged(_)) => Some((reset("lagged"), None)),
            Err(RecvError::Closed) => None,
        }
    })
}
