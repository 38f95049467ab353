//! The `POST /deploy` body: read once, every field checked before anything is created, into a
//! [`DeploySpec`] that cannot hold a value Docker would refuse.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::idle::{IdleAction, IdleTimeout};
use super::instance_labels;
use super::limits::{LimitRules, Limits, MemoryField};
use super::volumes::{self, Volume};
use super::wire::integral;
use super::{deploy_schema, image_reference, InstanceName, PullPolicy};

/// The body of `POST /deploy`, as the old spawner's clients send it. Unknown fields are refused:
/// the body grants nothing beyond these (no binds, no privileges, no host network).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{1,62}$")]
    pub name: String,
    #[schema(
        pattern = "^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$"
    )]
    pub image: String,
    /// One of the site's `allowed_networks`; default: spawner's own.
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    #[schema(schema_with = deploy_schema::labels)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[schema(schema_with = deploy_schema::envs)]
    pub envs: Option<BTreeMap<String, String>>,
    /// The app's port; default: the traefik port label, the health-check URL's port, the image's
    /// single exposed port, else 80.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    /// `false`: create it stopped. Default `true`.
    #[serde(default)]
    pub start: Option<bool>,
    /// e.g. `"512m"` or bytes; default and maximum from the settings.
    #[serde(default)]
    #[schema(schema_with = deploy_schema::memory)]
    pub memory: Option<MemoryField>,
    /// CPUs, from 0.01 to the site's `max_cpus`.
    #[serde(default)]
    #[schema(minimum = 0.01, maximum = 2)]
    pub cpus: Option<f64>,
    /// Processes, from 1 to the site's `max_pids_limit`.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 1, maximum = 1024)]
    pub pids_limit: Option<u32>,
    /// e.g. `"30m"`, `"4s"`; `"0"`: never idles. Default: the setting.
    #[serde(default)]
    #[schema(pattern = "^(0|[1-9][0-9]{0,2}(s|m|h))$")]
    pub idle_timeout: Option<String>,
    /// `"stop"` or `"pause"` (not on Swarm). Default: the setting.
    #[serde(default)]
    #[schema(value_type = Option<IdleAction>)]
    pub idle_action: Option<String>,
    /// How long it stays paused before it is stopped, e.g. `"1h"`; `"0"`: stays paused.
    /// Default: the setting.
    #[serde(default)]
    #[schema(pattern = "^(0|[1-9][0-9]{0,2}(s|m|h))$")]
    pub pause_timeout: Option<String>,
    /// `{"<volume-name>": "/path/in/container"}`: named volumes of the instance's own.
    #[serde(default)]
    #[schema(schema_with = deploy_schema::volumes)]
    pub volumes: Option<BTreeMap<String, String>>,
    /// `"never"`, `"missing"` or `"always"`. Default: the setting.
    #[serde(default)]
    #[schema(value_type = Option<PullPolicy>)]
    pub pull_policy: Option<String>,
    /// `true`: the app may register a service worker although, in cookie and path routing, it
    /// shares the site's origin (the worker then sees the whole site). Default `false`.
    #[serde(default)]
    pub service_worker: Option<bool>,
}

/// A deploy request that has passed every check that needs no Docker call.
#[derive(Debug, Clone)]
pub struct DeploySpec {
    pub name: InstanceName,
    pub image: String,
    pub network: String,
    /// The client's own labels; spawner adds its own at creation
    /// ([`InstanceLabels::for_deploy`](super::InstanceLabels::for_deploy)).
    pub labels: BTreeMap<String, String>,
    pub envs: BTreeMap<String, String>,
    pub port: Option<u16>,
    pub start: bool,
    pub limits: Limits,
    /// `None`: the setting's.
    pub idle_timeout: Option<IdleTimeout>,
    pub idle_action: Option<IdleAction>,
    pub pause_timeout: Option<IdleTimeout>,
    pub volumes: Vec<Volume>,
    /// It may register a service worker on a shared origin.
    pub service_worker: bool,
    /// `None`: the setting's.
    pub pull_policy: Option<PullPolicy>,
}

impl DeploySpec {
    /// Parses the raw body. `default_network` is used when the body names none; `allowed_networks`
    /// are the only networks a client may choose; `limits` bound what it may ask for.
    pub fn parse(
        body: &[u8],
        default_network: &str,
        allowed_networks: &[String],
        limits: &LimitRules,
    ) -> Result<Self, String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(
                "the request body is empty; send JSON such as {\"name\":\"minion-1\",\"image\":\"mock-app:latest\"}"
                    .into(),
            );
        }
        let raw: DeployRequest = parse_body(body, "deploy body")?;
        let name = InstanceName::parse(&raw.name)?;
        let image = image_reference::parse(&raw.image)?;
        let network = match raw.network.as_deref().map(str::trim) {
            None | Some("") => default_network.to_string(),
            Some(n) => n.to_string(),
        };
        if ["host", "none"].contains(&network.as_str()) || network.starts_with("container:") {
            return Err(format!(
                "`network` {network:?} is not allowed: instances run on a bridge network ({})",
                allowed_networks.join(", ")
            ));
        }
        if !allowed_networks.contains(&network) {
            return Err(format!(
                "`network` {network:?} is not allowed; use one of: {}",
                allowed_networks.join(", ")
            ));
        }
        let labels = raw.labels.unwrap_or_default();
        check_labels(&labels)?;
        let envs = raw.envs.unwrap_or_default();
        check_envs(&envs)?;
        if raw.port == Some(0) {
            return Err("`port` must be between 1 and 65535".into());
        }
        let limits = limits.resolve(raw.memory.as_ref(), raw.cpus, raw.pids_limit)?;
        let idle_timeout = optional("idle_timeout", &raw.idle_timeout, IdleTimeout::parse)?;
        let idle_action = optional("idle_action", &raw.idle_action, IdleAction::parse)?;
        let pause_timeout = optional("pause_timeout", &raw.pause_timeout, IdleTimeout::parse)?;
        let volumes = volumes::parse(&raw.volumes.unwrap_or_default())?;
        let pull_policy = PullPolicy::parse_field(raw.pull_policy)?;
        Ok(Self {
            name,
            image,
            network,
            labels,
            envs,
            port: raw.port,
            start: raw.start.unwrap_or(true),
            limits,
            idle_timeout,
            idle_action,
            pause_timeout,
            volumes,
            service_worker: raw.service_worker == Some(true),
            pull_policy,
        })
    }
}

/// Reads a JSON body (`what`: "deploy body", …); an error names the field at fault.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    // serde would also read a struct from an array of its fields in order (`["a", "b"]`).
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'[') {
        return Err(format!("the {what} must be a JSON object, not an array"));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match (inner.is_data(), path.as_str()) {
            (false, _) => format!("the {what} is not valid JSON: {inner}"),
            (true, "." | "") => format!("invalid {what}: {inner}"),
            (true, field) => format!("invalid `{field}` in the {what}: {inner}"),
        }
    })
}

/// Refuses a label spawner sets itself, an empty key, and a NUL byte (Docker refuses it).
fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in labels {
        if key.trim().is_empty() {
            return Err("`labels` has an empty key".into());
        }
        if key.contains('\0') || value.contains('\0') {
            return Err(format!(
                "`labels.{}` must not contain a NUL byte",
                key.escape_debug()
            ));
        }
        if instance_labels::is_reserved(key) {
            return Err(format!(
                "`labels.{key}` is set by spawner itself; remove it from the request"
            ));
        }
    }
    Ok(())
}

/// Refuses a name no process could read as an environment variable, and a value with a NUL
/// byte (it would end the variable early; Docker refuses it).
pub fn check_envs(envs: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in envs {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(format!(
                "`envs` key {key:?} is not a valid environment variable name"
            ));
        }
        if value.contains('\0') {
            return Err(format!("`envs.{key}` must not contain a NUL byte"));
        }
    }
    Ok(())
}

/// An optional text field of the body, parsed; a value that does not parse names the field.
fn optional<T>(
    field: &str,
    raw: &Option<String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    raw.as_deref()
        .map(|raw| parse(raw).map_err(|e| format!("invalid `{field}` {raw:?}: {e}")))
        .transpose()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A body parsed with networks `net` (the default) and `other`, and limits of 512 MiB, one
    /// CPU and 256 processes.
    pub fn parse(body: &str) -> Result<DeploySpec, String> {
        let default = Limits {
            memory_bytes: 512 << 20,
            cpus: 1.0,
            pids: 256,
        };
        let rules = LimitRules {
            default,
            max: default,
        };
        DeploySpec::parse(
            body.as_bytes(),
            "net",
            &["net".to_string(), "other".to_string()],
            &rules,
        )
    }

    #[test]
    fn the_old_clients_body_is_accepted() {
        let spec = parse(
            r#"{"name":"minion-1","network":"net","image":"mock-app:latest",
                "labels":{"health-check":"http://minion-1:9000/status","traefik.enable":"true"},
                "envs":{"CONNSTR":"db 1","IDLE":"1m"}}"#,
        )
        .unwrap();
        assert_eq!(spec.name.as_str(), "minion-1");
        assert_eq!(spec.envs["CONNSTR"], "db 1");
        assert!(spec.start);
    }

    #[test]
    fn labels_envs_and_network_may_be_missing() {
        let spec = parse(r#"{"name":"mm","image":"i","start":false}"#).unwrap();
        assert_eq!(spec.network, "net");
        assert!(spec.envs.is_empty());
        assert!(spec.labels.is_empty());
        assert!(!spec.start);
    }

    #[test]
    fn idle_fields_and_the_service_worker_are_read_but_default_to_the_settings() {
        let spec =
            parse(r#"{"name":"mm","image":"i","idle_timeout":"0","idle_action":"PAUSE"}"#).unwrap();
        assert_eq!(spec.idle_timeout.unwrap().as_str(), "0");
        assert_eq!(spec.idle_action, Some(IdleAction::Pause));
        let plain = parse(r#"{"name":"mm","image":"i"}"#).unwrap();
        assert_eq!((plain.idle_timeout, plain.idle_action), (None, None));
        assert!(!plain.service_worker);
        let worker = parse(r#"{"name":"mm","image":"i","service_worker":true}"#).unwrap();
        assert!(worker.service_worker);
    }

    #[test]
    fn each_bad_body_names_its_problem() {
        let cases = [
            ("", "empty"),
            ("  ", "empty"),
            ("{", "not valid JSON"),
            (r#"{"image":"i"}"#, "missing field `name`"),
            (r#"{"name":"mm"}"#, "missing field `image`"),
            (r#"{"name":"../x","image":"i"}"#, "`name`"),
            (r#"{"name":"mm","image":""}"#, "`image`"),
            (
                r#"{"name":"mm","image":"i","network":"host"}"#,
                "`network` \"host\"",
            ),
            (
                r#"{"name":"mm","image":"i","network":"elsewhere"}"#,
                "not allowed",
            ),
            (
                r#"{"name":"mm","image":"i","binds":["/:/host"]}"#,
                "unknown field `binds`",
            ),
            (r#"["mm", "i"]"#, "must be a JSON object"),
            (
                r#"{"name":"mm","image":"i","labels":{"origin":"x"}}"#,
                "labels.origin",
            ),
            (r#"{"name":"mm","image":"i","port":0}"#, "`port`"),
            (
                r#"{"name":"mm","image":"i","port":70000}"#,
                "invalid `port`",
            ),
            (r#"{"name":"mm","image":"i","envs":{"A=B":"c"}}"#, "`envs`"),
            (r#"{"name":"mm","image":"i","envs":{"":"c"}}"#, "`envs`"),
            (
                r#"{"name":"mm","image":"i","envs":{"A\u0000":"c"}}"#,
                "`envs`",
            ),
            (
                r#"{"name":"mm","image":"i","envs":{"A":"c\u0000d"}}"#,
                "`envs.A`",
            ),
            (
                r#"{"name":"mm","image":"i","labels":{"a":"\u0000"}}"#,
                "`labels.a`",
            ),
            (
                r#"{"name":"mm","image":"i","labels":{"a\u0000":"b"}}"#,
                "NUL",
            ),
            (r#"{"name":"mm","image":"MOCK-APP:LATEST"}"#, "`image`"),
            (r#"{"name":"mm","image":"i","cpus":0.001}"#, "`cpus`"),
            (
                r#"{"name":"mm","image":"i","volumes":{"v":"/proc"}}"#,
                "`volumes.v`",
            ),
            (
                r#"{"name":"mm","image":"i","idle_timeout":"99999999999h"}"#,
                "invalid `idle_timeout`",
            ),
            (r#"{"name":"mm","image":"i","memory":"1g"}"#, "`memory`"),
            (r#"{"name":"mm","image":"i","cpus":2}"#, "`cpus`"),
            (
                r#"{"name":"mm","image":"i","pids_limit":-1}"#,
                "`pids_limit`",
            ),
            (
                r#"{"name":"mm","image":"i","privileged":true}"#,
                "unknown field",
            ),
            (
                r#"{"name":"mm","image":"i","labels":{"a":1}}"#,
                "invalid type",
            ),
            (
                r#"{"name":"mm","image":"i","idle_timeout":"soon"}"#,
                "invalid `idle_timeout` \"soon\"",
            ),
            (
                r#"{"name":"mm","image":"i","idle_timeout":4}"#,
                "invalid `idle_timeout`",
            ),
            (
                r#"{"name":"mm","image":"i","idle_action":"sleep"}"#,
                "invalid `idle_action` \"sleep\": write stop or pause",
            ),
        ];
        for (body, expected) in cases {
            let err = parse(body).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }
}
