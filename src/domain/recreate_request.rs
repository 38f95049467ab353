//! The body of `POST /deploy/{name}/recreate`: what changes (image, envs); everything else
//! (name, labels, limits, address, volumes) stays as the instance has it.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::deploy_request::{check_envs, parse_body};
use super::{image_reference, PullPolicy};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecreateRequest {
    /// The new image; default: the one it runs.
    #[serde(default)]
    #[schema(
        pattern = "^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$"
    )]
    image: Option<String>,
    /// The new environment (all of it); default: the one it has.
    #[serde(default)]
    #[schema(schema_with = super::deploy_schema::envs)]
    envs: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[schema(value_type = Option<PullPolicy>)]
    pull_policy: Option<String>,
}

/// A recreate request that passed every check that needs no Docker call.
#[derive(Debug, Clone, Default)]
pub struct RecreateSpec {
    /// `None`: the image it has.
    pub image: Option<String>,
    /// `None`: the variables it has; else these replace them.
    pub envs: Option<BTreeMap<String, String>>,
    /// `None`: the setting's.
    pub pull_policy: Option<PullPolicy>,
}

impl RecreateSpec {
    /// An empty body recreates it as it is (a fresh container, the same data).
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        // No body, or JSON `null`: nothing changes but the container.
        if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
            return Ok(Self::default());
        }
        let raw: RecreateRequest = parse_body(body, "recreate body")?;
        let image = raw
            .image
            .as_deref()
            .map(image_reference::parse)
            .transpose()?;
        if let Some(envs) = &raw.envs {
            check_envs(envs)?;
        }
        Ok(Self {
            image,
            envs: raw.envs,
            pull_policy: PullPolicy::parse_field(raw.pull_policy)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_names_what_changes_and_nothing_else() {
        assert!(RecreateSpec::parse(b"").unwrap().image.is_none());
        assert!(RecreateSpec::parse(b" null ").unwrap().image.is_none());
        let spec = RecreateSpec::parse(br#"{"image":"app:2","envs":{"A":"1"}}"#).unwrap();
        assert_eq!(spec.image.as_deref(), Some("app:2"));
        assert_eq!(spec.envs.unwrap()["A"], "1");
        for (body, expected) in [
            (r#"{"name":"other"}"#, "unknown field `name`"),
            (r#"{"volumes":{"a":"/a"}}"#, "unknown field `volumes`"),
            (r#"{"image":""}"#, "`image` must not be empty"),
            (r#"{"envs":{"A=B":"c"}}"#, "`envs`"),
            (r#"{"envs":{"A":"\u0000"}}"#, "`envs.A`"),
            (
                r#"{"image":"App:2"}"#,
                "`image` \"App:2\" is not an image reference",
            ),
            (r#"{"pull_policy":"often"}"#, "invalid `pull_policy`"),
            ("{", "recreate body"),
            // serde alone would read the fields from an array, in order.
            ("[null, null]", "must be a JSON object"),
        ] {
            let err = RecreateSpec::parse(body.as_bytes()).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }
}
