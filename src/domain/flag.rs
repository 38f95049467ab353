//! A boolean query parameter (`?purge=true`, `?fallback=true`), read the same way everywhere:
//! `true`, `1` or nothing after `=` mean yes; absent, `false` or `0` mean no; anything else is an
//! error naming the parameter, never a guess.

pub fn parse(name: &str, raw: Option<&str>) -> Result<bool, String> {
    match raw {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(other) => Err(format!("`{name}` {other:?} must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_no_and_anything_else_is_an_error_naming_the_parameter() {
        assert_eq!(parse("purge", None), Ok(false));
        assert_eq!(parse("purge", Some("0")), Ok(false));
        assert_eq!(parse("purge", Some("")), Ok(true));
        assert_eq!(parse("purge", Some("true")), Ok(true));
        let error = parse("fallback", Some("no")).unwrap_err();
        assert!(error.contains("`fallback` \"no\""), "{error}");
    }
}
