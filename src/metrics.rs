//! Prometheus metrics (`GET /metrics` on the private port), kept in a registry of the
//! application's own (two spawners in one process, as in the tests, count apart).
//!
//! The hot path only adds one to a counter resolved at start (no label lookup, no lock); the
//! instances-by-state gauge is read from the index when scraped.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Why an instance started, stopped or paused: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A request for it (`/auth`).
    Wake,
    /// The private API (`PUT /deploy/{name}`, `POST /deploy`, `POST …/stop`, recreate).
    Api,
    /// No request and no traffic for its idle timeout.
    Idle,
    /// Stopped to make room under `max_running`.
    Evicted,
    /// Its own health check failed while it started.
    Unhealthy,
    /// traefik never loaded its route.
    NoRoute,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Wake => "wake",
            Reason::Api => "api",
            Reason::Idle => "idle",
            Reason::Evicted => "evicted",
            Reason::Unhealthy => "unhealthy",
            Reason::NoRoute => "no_route",
        }
    }
}

/// `/auth` answers, one counter each, resolved at start.
pub struct AuthOutcomes {
    pub allow: IntCounter,
    pub home: IntCounter,
    pub retry: IntCounter,
    pub not_ready: IntCounter,
    pub capacity: IntCounter,
    pub failed: IntCounter,
}

pub struct Metrics {
    registry: Registry,
    pub auth: AuthOutcomes,
    /// How long a request was held for a starting instance, by readiness kind and result.
    pub held_seconds: HistogramVec,
    /// Requests held now.
    pub held_now: IntGauge,
    starts: IntCounterVec,
    stops: IntCounterVec,
    pub evictions: IntCounterVec,
    instances: IntGaugeVec,
    docker_calls: IntCounterVec,
    docker_errors: IntCounterVec,
    pub pulls: IntCounterVec,
}

/// Registers a metric (made from static, valid options) and hands it back.
fn register<M: Collector + Clone + 'static>(registry: &Registry, made: prometheus::Result<M>) -> M {
    let metric = made.expect("a valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

/// The `held_seconds` buckets: the hot path's wake is tens of milliseconds, a pull minutes.
const HELD_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0,
];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let auth_vec = counter_vec(
            &registry,
            "spawner_auth_decisions_total",
            "ForwardAuth (/auth) answers, by outcome",
            &["outcome"],
        );
        let outcome = |o: &str| auth_vec.with_label_values(&[o]);
        let auth = AuthOutcomes {
            allow: outcome("allow"),
            home: outcome("home"),
            retry: outcome("retry"),
            not_ready: outcome("not_ready"),
            capacity: outcome("capacity"),
            failed: outcome("failed"),
        };
        let held_seconds = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "spawner_held_request_seconds",
                    "How long /auth held a request while its instance started, by readiness kind and result",
                )
                .buckets(HELD_BUCKETS.to_vec()),
                &["readiness", "result"],
            ),
        );
        let held_now = register(
            &registry,
            IntGauge::new(
                "spawner_held_requests",
                "Requests /auth holds now while their instance starts",
            ),
        );
        let instances = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("spawner_instances", "Managed instances, by state"),
                &["state"],
            ),
        );
        let build = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "spawner_build_info",
                    "The running spawner's version (always 1)",
                ),
                &["version"],
            ),
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Self {
            auth,
            held_seconds,
            held_now,
            starts: counter_vec(
                &registry,
                "spawner_starts_total",
                "Instances started or unpaused, by reason",
                &["reason"],
            ),
            stops: counter_vec(
                &registry,
                "spawner_stops_total",
                "Instances stopped or paused by spawner, by reason and action",
                &["reason", "action"],
            ),
            evictions: counter_vec(
                &registry,
                "spawner_evictions_total",
                "Instances stopped to make room under max_running, by what needed the room",
                &["reason"],
            ),
            instances,
            docker_calls: counter_vec(
                &registry,
                "spawner_docker_calls_total",
                "Calls to the container engine, by operation",
                &["operation"],
            ),
            docker_errors: counter_vec(
                &registry,
                "spawner_docker_errors_total",
                "Failed calls to the container engine, by operation and kind",
                &["operation", "kind"],
            ),
            pulls: counter_vec(
                &registry,
                "spawner_image_pulls_total",
                "Image pulls, by result",
                &["result"],
            ),
            registry,
        }
    }

    /// One engine call, and its failure (by kind) if it failed.
    pub fn docker_call(&self, operation: &str, error_kind: Option<&str>) {
        self.docker_calls.with_label_values(&[operation]).inc();
        if let Some(kind) = error_kind {
            self.docker_errors
                .with_label_values(&[operation, kind])
                .inc();
        }
    }

    /// An instance started or unpaused by spawner.
    pub fn started(&self, reason: Reason) {
        self.starts.with_label_values(&[reason.as_str()]).inc();
    }

    /// An instance stopped or paused by spawner (`action`: stop or pause).
    pub fn stopped(&self, reason: Reason, action: &str) {
        self.stops
            .with_label_values(&[reason.as_str(), action])
            .inc();
    }

    pub fn held(&self, readiness: &str, result: &str, held: Duration) {
        self.held_seconds
            .with_label_values(&[readiness, result])
            .observe(held.as_secs_f64());
    }

    /// The exposition, with the instances-by-state gauge set from `states` first.
    pub fn render(&self, states: &BTreeMap<&'static str, i64>) -> String {
        for (state, count) in states {
            self.instances.with_label_values(&[state]).set(*count);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts a request held while its instance starts, for as long as it lives.
pub struct Held<'a>(&'a IntGauge);

impl<'a> Held<'a> {
    pub fn new(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_family() {
        let metrics = Metrics::new();
        metrics.auth.allow.inc();
        metrics.docker_call("start", Some("not_found"));
        metrics.held("http", "ready", Duration::from_millis(40));
        let text = metrics.render(&BTreeMap::from([("running", 2)]));
        for line in [
            "spawner_auth_decisions_total{outcome=\"allow\"} 1",
            "spawner_docker_calls_total{operation=\"start\"} 1",
            "spawner_docker_errors_total{kind=\"not_found\",operation=\"start\"} 1",
            "spawner_instances{state=\"running\"} 2",
            "spawner_held_request_seconds_count{readiness=\"http\",result=\"ready\"} 1",
            "spawner_held_requests 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(text.contains("spawner_build_info{version=\""));
    }
}
