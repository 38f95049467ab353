//! How the request bodies' numbers are read. JSON has one number type, and a client (or a JSON
//! Schema tool: an integer is "a number with no fraction") may write the integer 5 as `5.0`:
//! both are read as 5. A fraction, a negative or an out-of-range value is an error.

use serde::{Deserialize, Deserializer};

/// An optional integer field that also takes an integral float (`5.0`).
pub fn integral<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = match (number.as_u64(), number.as_f64()) {
        (Some(n), _) => Some(n),
        (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Some(f as u64),
        _ => None,
    };
    let whole = whole
        .ok_or_else(|| D::Error::custom(format!("{number} is not a whole number of at least 0")))?;
    T::try_from(whole)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("{number} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "integral")]
        n: Option<u16>,
    }

    fn n(json: &str) -> Result<Option<u16>, String> {
        serde_json::from_str::<Body>(json)
            .map(|b| b.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_integer_may_be_written_as_a_float_without_fraction() {
        assert_eq!(n(r#"{"n": 9000}"#), Ok(Some(9000)));
        assert_eq!(n(r#"{"n": 9000.0}"#), Ok(Some(9000)));
        assert_eq!(n(r#"{"n": null}"#), Ok(None));
        assert_eq!(n(r#"{}"#), Ok(None));
        assert!(n(r#"{"n": 1.5}"#).unwrap_err().contains("whole number"));
        assert!(n(r#"{"n": -1}"#).unwrap_err().contains("whole number"));
        assert!(n(r#"{"n": 70000}"#).unwrap_err().contains("too large"));
        assert!(n(r#"{"n": "5"}"#).is_err());
    }
}
