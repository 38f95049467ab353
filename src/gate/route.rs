//! [`route`]: the part of the ForwardAuth decision that needs nothing but the request, the
//! settings, the session keys and the time (no engine, no server), so every case is unit-tested.

use std::time::SystemTime;

use super::cookies::InstanceCookie;
use super::request::AuthRequest;
use crate::configuration::TraefikSettings;
use crate::domain::{InstanceName, Routing};
use crate::sessions::Sessions;
use crate::traefik::config::INSTANCE_HEADER;

/// The decision that needs nothing but the request and the settings.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// A public path: let it through.
    Public,
    /// No usable instance named: send the client home.
    Home,
    /// This instance must be running and ready.
    Instance(InstanceName),
}

/// Which case a request is.
///
/// On an instance router (`fallback` false) the instance is the one traefik routed to, named by
/// [`INSTANCE_HEADER`]: the request passes only with a valid session for exactly that instance,
/// and without the header it is refused. Whatever traefik's rule matched and however the
/// cookies are shaped, the instance spawner checks is the instance the request goes to.
///
/// On the catch-all (`fallback` true) nothing is forwarded to an instance: the public path
/// passes (to the home), and a session names the instance to make ready before a 307.
///
/// An instance is named only by a session spawner issued (or, with `cookie_signing` off, by the
/// bare name); an instance cookie spawner cannot read byte for byte refuses the request.
/// `epoch_of` tells an instance's session epoch (`None`: no such instance), which the session's
/// signature covers.
pub fn route<'e>(
    request: &AuthRequest,
    fallback: bool,
    traefik: &TraefikSettings,
    sessions: &Sessions,
    now: SystemTime,
    epoch_of: &dyn Fn(&InstanceName) -> Option<&'e str>,
) -> Route {
    let path = request.path();
    let host = request.host.as_deref().map(host_name);
    if fallback && is_public(path, &traefik.public_path) {
        // In host routing the home has a host of its own: nothing public on an instance's.
        if traefik.routing != Routing::Host || host == Some(traefik.host_domain.as_str()) {
            return Route::Public;
        }
    }
    let wanted = match traefik.routing {
        _ if !fallback => request.routed.as_deref(),
        Routing::Path => path
            .strip_prefix(traefik.container_prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| rest.split('/').next().unwrap_or("")),
        Routing::Host => host.and_then(|h| {
            h.strip_suffix(traefik.host_domain.as_str())?
                .strip_suffix('.')
        }),
        // The catch-all in cookie mode: the session alone names the instance to make ready.
        Routing::Cookie => None,
    };
    if traefik.routing == Routing::Path && !sessions.signed() {
        // The old plain mode: the path alone names the instance, as the Go spawner did.
        return wanted
            .and_then(|name| InstanceName::parse(name).ok())
            .map_or(Route::Home, Route::Instance);
    }
    let session = match &request.cookie {
        InstanceCookie::One(value) => sessions.instance_of(value, now, epoch_of),
        InstanceCookie::Absent => None,
        InstanceCookie::Refused(why) => {
            log::debug!("refused: {why}");
            None
        }
    };
    let Some(session) = session else {
        return Route::Home;
    };
    match wanted {
        Some(name) if name == session.as_str() => Route::Instance(session),
        // traefik's `Host` matcher ignores case; a browser lowercases the host.
        Some(name) if fallback && name.eq_ignore_ascii_case(session.as_str()) => {
            Route::Instance(session)
        }
        None if fallback && traefik.routing == Routing::Cookie => Route::Instance(session),
        Some(name) => {
            log::debug!("refused: a session of {session} for instance {name:?}");
            Route::Home
        }
        None => {
            log::warn!("refused: a call without {INSTANCE_HEADER} (not from an instance router)");
            Route::Home
        }
    }
}

/// A `Host` without its port.
fn host_name(host: &str) -> &str {
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
}

/// `public` and the paths under it (`/home`, `/home/…`; never `/homework`).
fn is_public(path: &str, public: &str) -> bool {
    public == "/"
        || path == public
        || path
            .strip_prefix(public)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
