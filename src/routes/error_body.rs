//! The one shape of every JSON error answer, the private API's and `/auth`'s alike:
//! `{"error": "<what went wrong, and what to do>", "cause": "<the chain under it>",
//! "retry_after": <seconds>}`, the last two only when there is one. `cause` is for the operator
//! (what Docker said); `/auth` answers the instances' users and leaves it to the log. An answer
//! with `retry_after` carries the same value in `Retry-After`: both are written here, once.

use std::error::Error;
use std::fmt::Display;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::error::chain;

/// Every error answer: what went wrong and what to do; the errors under it (not on `/auth`);
/// when trying again may work, in seconds (also in `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ErrorBody {
    /// A sentence for the caller, with no cause under it.
    pub fn new(error: impl Display) -> Self {
        ErrorBody {
            error: error.to_string(),
            cause: None,
            retry_after: None,
        }
    }

    /// The error's own sentence, and the chain of its causes as `cause`.
    pub fn with_causes(error: &dyn Error) -> Self {
        ErrorBody {
            cause: error.source().map(chain),
            ..ErrorBody::new(error)
        }
    }

    /// Tells the caller to ask again after `secs` seconds.
    pub fn retry_after(self, secs: Option<u64>) -> Self {
        ErrorBody {
            retry_after: secs,
            ..self
        }
    }

    /// The answer's head: `status`, and `Retry-After` when the body says when to retry. For an
    /// answer whose body is not this JSON (the waiting page).
    pub fn head(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut head = HttpResponse::build(status);
        if let Some(secs) = self.retry_after {
            head.insert_header((header::RETRY_AFTER, secs));
        }
        head
    }

    pub fn respond(&self, status: StatusCode) -> HttpResponse {
        self.head(status).json(self)
    }
}

/// `{"error": "<message>"}` with `status`.
pub fn json_error(status: StatusCode, message: impl Display) -> HttpResponse {
    ErrorBody::new(message).respond(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[derive(Debug, thiserror::Error)]
    #[error("the deploy failed")]
    struct Outer(#[source] std::io::Error);

    async fn answer(response: HttpResponse) -> (Option<String>, serde_json::Value) {
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[actix_web::test]
    async fn an_error_answers_its_own_sentence_and_its_causes_apart() {
        let e = Outer(std::io::Error::other("disk full"));
        let (retry, body) =
            answer(ErrorBody::with_causes(&e).respond(StatusCode::BAD_GATEWAY)).await;
        assert_eq!(
            body,
            serde_json::json!({"error": "the deploy failed", "cause": "disk full"})
        );
        assert_eq!(retry, None);
    }

    #[actix_web::test]
    async fn a_retry_is_said_in_the_body_and_in_retry_after_alike() {
        let body = ErrorBody::new("wait").retry_after(Some(7));
        let (retry, json) = answer(body.respond(StatusCode::SERVICE_UNAVAILABLE)).await;
        assert_eq!(json, serde_json::json!({"error": "wait", "retry_after": 7}));
        assert_eq!(retry.as_deref(), Some("7"));
    }
}
