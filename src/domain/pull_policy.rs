//! When spawner pulls an instance's image: `pull_policy`, the setting and the deploy body's field.

/// Like Docker Compose's `pull_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Never pull: the image must be on the Docker host.
    Never,
    /// Pull when the image is not on the Docker host.
    Missing,
    /// Pull at every deploy and recreate (a moving tag gets its latest image).
    Always,
}

impl PullPolicy {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "never" => Ok(PullPolicy::Never),
            "missing" | "if_not_present" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            _ => Err("write never, missing or always".into()),
        }
    }

    /// A body's `pull_policy` field (`None`: the setting's), its error naming the field.
    pub fn parse_field(raw: Option<String>) -> Result<Option<Self>, String> {
        raw.map(|raw| Self::parse(&raw).map_err(|e| format!("invalid `pull_policy` {raw:?}: {e}")))
            .transpose()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Never => "never",
            PullPolicy::Missing => "missing",
            PullPolicy::Always => "always",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_policies_parse_and_others_are_refused() {
        assert_eq!(PullPolicy::parse(" Always").unwrap(), PullPolicy::Always);
        assert_eq!(PullPolicy::parse("missing").unwrap(), PullPolicy::Missing);
        assert_eq!(PullPolicy::parse("never").unwrap().as_str(), "never");
        assert!(PullPolicy::parse("sometimes")
            .unwrap_err()
            .contains("never, missing or always"));
    }
}
