//! traefik's dynamic configuration (HTTP provider) for every managed container, running or
//! stopped: a router and a service each. A stopped container's route stays, so a held request goes
//! through the moment its container is ready: the service's URL is the instance's fixed address,
//! which it keeps while stopped, or else its name, which traefik resolves when it dials.
//!
//! Maps are ordered, so an unchanged set of instances gives byte-identical output and traefik's
//! poll ignores it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::configuration::Settings;
use crate::domain::Routing;
use crate::instances::Route;

/// Above the catch-all router (priority 1) and any rule-length default.
pub const ROUTER_PRIORITY: u32 = 1000;
pub const AUTH_MIDDLEWARE: &str = "spawner-auth@file";
/// Ahead of the auth middleware: when the container refuses the connection (it stopped a moment
/// before spawner heard of it), traefik asks spawner again, which then starts it.
pub const RETRY_MIDDLEWARE: &str = "spawner-retry@file";
/// The request header that tells `/auth` which instance traefik routed a request to. Each
/// instance router sets it with a `headers` middleware of its own, placed before the auth
/// middleware; traefik's `headers` middleware replaces whatever value the client sent, so the
/// header names the router's instance, never the client's choice.
pub const INSTANCE_HEADER: &str = "X-Spawner-Instance";
/// The same, as HTTP/2 and `HeaderName` write it.
pub const INSTANCE_HEADER_LOWERCASE: &str = "x-spawner-instance";

#[derive(Debug, Serialize, PartialEq)]
pub struct DynamicConfig {
    pub http: HttpConfig,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct HttpConfig {
    pub routers: BTreeMap<String, Router>,
    pub services: BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub middlewares: BTreeMap<String, Middleware>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Router {
    pub rule: String,
    pub entry_points: Vec<String>,
    pub middlewares: Vec<String>,
    pub service: String,
    pub priority: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<RouterTls>,
}

/// A router's `tls`: `{}` uses traefik's default certificate store (e.g. a certificate file
/// given to its file provider), `{certResolver}` an ACME resolver of traefik's static
/// configuration.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouterTls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_resolver: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub load_balancer: LoadBalancer,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct LoadBalancer {
    pub servers: Vec<Server>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Server {
    pub url: String,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum Middleware {
    StripPrefix {
        prefixes: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    Headers {
        custom_request_headers: BTreeMap<String, String>,
    },
}

/// What follows the name in a signed session cookie (`.<expires>.<signature>`); optional, so the
/// old plain cookie still routes when signing is off. Names hold no `.`, so `minion-1.…` never
/// matches `minion-10`'s router.
const SIGNED_SUFFIX: &str = r"(?:\.[0-9]+\.[A-Za-z0-9_-]+)?";

/// Escapes every character that is not a letter, digit or `_` (Go's RE2 takes `\` + punctuation
/// as the literal), so a name is matched as itself.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_') && c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub fn build(settings: &Settings, routes: &[Route]) -> DynamicConfig {
    let mut config = HttpConfig {
        routers: BTreeMap::new(),
        services: BTreeMap::new(),
        middlewares: BTreeMap::new(),
    };
    for Route { name, host, port } in routes {
        // Names hold only `[A-Za-z0-9_-]`, so `<a>-instance` and `<b>-strip` never collide.
        let routed = format!("{name}-instance");
        config.middlewares.insert(
            routed.clone(),
            Middleware::Headers {
                custom_request_headers: BTreeMap::from([(INSTANCE_HEADER.into(), name.clone())]),
            },
        );
        let mut middlewares = vec![RETRY_MIDDLEWARE.to_string(), routed, AUTH_MIDDLEWARE.into()];
        let rule = match settings.traefik.routing {
            Routing::Path => {
                let path = format!("{}/{name}", settings.traefik.container_prefix);
                let strip = format!("{name}-strip");
                config.middlewares.insert(
                    strip.clone(),
                    Middleware::StripPrefix {
                        prefixes: vec![path.clone()],
                    },
                );
                middlewares.push(strip);
                format!("Path(`{path}`) || PathPrefix(`{path}/`)")
            }
            Routing::Host => format!("Host(`{name}.{}`)", settings.traefik.host_domain),
            Routing::Cookie => format!(
                "HeaderRegexp(`Cookie`, `(?:^|;\\s*){}={}{SIGNED_SUFFIX}(?:;|$)`)",
                regex_escape(&settings.sessions.cookie_key),
                regex_escape(name)
            ),
        };
        let tls = settings.traefik.router_tls.then(|| RouterTls {
            cert_resolver: Some(settings.traefik.tls_cert_resolver.clone())
                .filter(|r| !r.is_empty()),
        });
        config.routers.insert(
            name.clone(),
            Router {
                rule,
                entry_points: vec![settings.traefik.entrypoint.clone()],
                middlewares,
                service: name.clone(),
                priority: ROUTER_PRIORITY,
                tls,
            },
        );
        config.services.insert(
            name.clone(),
            Service {
                load_balancer: LoadBalancer {
                    servers: vec![Server {
                        url: format!("http://{host}:{port}"),
                    }],
                },
            },
        );
    }
    DynamicConfig { http: config }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: &str) -> Route {
        Route {
            name: "minion-1".into(),
            host: host.into(),
            port: 9000,
        }
    }

    #[test]
    fn services_go_to_the_fixed_address_or_else_the_name() {
        let config = build(&Settings::for_tests(), &[route("10.213.0.7")]);
        let url = &config.http.services["minion-1"].load_balancer.servers[0].url;
        assert_eq!(url, "http://10.213.0.7:9000");
    }

    #[test]
    fn cookie_rules_are_anchored_and_escaped() {
        let config = build(&Settings::for_tests(), &[route("minion-1")]);
        let router = &config.http.routers["minion-1"];
        assert_eq!(
            router.rule,
            r"HeaderRegexp(`Cookie`, `(?:^|;\s*)instance=minion\-1(?:\.[0-9]+\.[A-Za-z0-9_-]+)?(?:;|$)`)"
        );
        assert_eq!(
            router.middlewares,
            [RETRY_MIDDLEWARE, "minion-1-instance", AUTH_MIDDLEWARE]
        );
        let headers = BTreeMap::from([(INSTANCE_HEADER.to_string(), "minion-1".to_string())]);
        assert_eq!(
            config.http.middlewares["minion-1-instance"],
            Middleware::Headers {
                custom_request_headers: headers
            }
        );
        assert_eq!(
            config.http.services["minion-1"].load_balancer.servers[0].url,
            "http://minion-1:9000"
        );
        assert_eq!(regex_escape("a.b*c"), r"a\.b\*c");
    }

    #[test]
    fn path_rules_do_not_let_one_name_catch_another() {
        let mut settings = Settings::for_tests();
        settings.traefik.routing = Routing::Path;
        settings.traefik.container_prefix = "/p".into();
        let config = build(&settings, &[route("minion-1")]);
        let router = &config.http.routers["minion-1"];
        assert_eq!(
            router.rule,
            "Path(`/p/minion-1`) || PathPrefix(`/p/minion-1/`)"
        );
        assert_eq!(router.middlewares[1], "minion-1-instance");
        assert_eq!(router.middlewares[3], "minion-1-strip");
        assert_eq!(
            config.http.middlewares["minion-1-strip"],
            Middleware::StripPrefix {
                prefixes: vec!["/p/minion-1".into()]
            }
        );
    }

    #[test]
    fn host_rules_name_the_instance_host_and_tls_follows_the_settings() {
        let mut settings = Settings::for_tests();
        settings.traefik.routing = Routing::Host;
        settings.traefik.host_domain = "apps.example.com".into();
        let plain = build(&settings, &[route("minion-1")]);
        let router = &plain.http.routers["minion-1"];
        assert_eq!(router.rule, "Host(`minion-1.apps.example.com`)");
        assert_eq!(router.tls, None);
        settings.traefik.router_tls = true;
        let tls = build(&settings, &[route("minion-1")]);
        let json = serde_json::to_value(&tls.http.routers["minion-1"]).unwrap();
        assert_eq!(json["tls"], serde_json::json!({}));
        settings.traefik.tls_cert_resolver = "le".into();
        let acme = build(&settings, &[route("minion-1")]);
        let json = serde_json::to_value(&acme.http.routers["minion-1"]).unwrap();
        assert_eq!(json["tls"], serde_json::json!({"certResolver": "le"}));
    }

    #[test]
    fn the_instance_header_is_named_once_in_two_cases() {
        assert_eq!(
            INSTANCE_HEADER.to_ascii_lowercase(),
            INSTANCE_HEADER_LOWERCASE
        );
    }
}
