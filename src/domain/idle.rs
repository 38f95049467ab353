//! How long an instance may stay idle and what it is then put into: the settings' defaults,
//! which an instance's own labels (from its deploy body) override.

use std::time::Duration;

/// What an idle instance is put into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdleAction {
    /// `docker stop`: memory and CPU freed; the next request starts it again.
    Stop,
    /// `docker pause`: CPU freed, memory kept; the next request unpauses it.
    Pause,
}

impl IdleAction {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "stop" => Ok(IdleAction::Stop),
            "pause" => Ok(IdleAction::Pause),
            _ => Err("write stop or pause".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdleAction::Stop => "stop",
            IdleAction::Pause => "pause",
        }
    }
}

/// The longest idle timeout: beyond it, the times derived from it (when an instance sleeps)
/// could not be written as dates in the API's answers.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// An idle timeout as a deploy body or a label gives it: a duration up to [`MAX_TIMEOUT`], `0`
/// for never.
pub fn parse_timeout(raw: &str) -> Result<Option<Duration>, String> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{e}; write a duration such as 30m or 4s, or 0 for never"))?;
    if d > MAX_TIMEOUT {
        return Err(
            "it is longer than 365 days, the longest idle timeout; write 0 for never".into(),
        );
    }
    Ok((!d.is_zero()).then_some(d))
}

/// An idle timeout from a deploy body: checked by [`parse_timeout`], and kept as it was written
/// (trimmed), which is how its label shows it (`"30m"` stays `"30m"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleTimeout(String);

impl IdleTimeout {
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_timeout(raw)?;
        Ok(Self(raw.trim().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_actions_parse_or_say_what_to_write() {
        assert_eq!(parse_timeout("4s"), Ok(Some(Duration::from_secs(4))));
        assert_eq!(parse_timeout(" 30m "), Ok(Some(Duration::from_secs(1800))));
        assert_eq!(parse_timeout("0"), Ok(None));
        assert!(parse_timeout("soon").unwrap_err().contains("0 for never"));
        assert_eq!(parse_timeout("365d"), Ok(Some(MAX_TIMEOUT)));
        for too_long in ["365d 1s", "99999999999h", "999999999999999999999s"] {
            assert!(parse_timeout(too_long).is_err(), "{too_long}");
        }
        assert_eq!(IdleTimeout::parse(" 1h30m ").unwrap().as_str(), "1h30m");
        assert!(IdleTimeout::parse("365d 1s").is_err());
        assert_eq!(IdleAction::parse("Pause"), Ok(IdleAction::Pause));
        assert!(IdleAction::parse("sleep")
            .unwrap_err()
            .contains("stop or pause"));
    }
}
