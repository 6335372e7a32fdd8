//! JSON request bodies, with every failure in our error format (never axum's plain-text
//! rejections, never a 422): 415 without a JSON content type, 413 over the size limit, 400 for
//! malformed JSON (with line and column) and for a field of the wrong type or name.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The raw bytes of a JSON body: content type checked, size within `max_body_bytes`.
///
/// Parsing is left to [`parse_value`] and [`decode`] so that a route can look at the raw body
/// when the JSON does not parse (the NVIDIA dialect decorates its errors).
pub struct JsonBytes(pub Bytes);

impl FromRequest<Arc<AppState>> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        check_content_type(req.headers())?;
        let limit = state.options.max_body_bytes;
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(JsonBytes(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "The request body is too large.",
                format!("the body is over the limit of {limit} bytes"),
                format!(
                    "Send a body of at most {limit} bytes; large inputs belong in fewer or \
                         smaller files."
                ),
            )),
            Err(rejection) => Err(ApiError::validation(
                format!("the body could not be read: {}", rejection.body_text()),
                "Send the whole body in one request with a correct Content-Length.",
            )),
        }
    }
}

/// `application/json` or any `application/*+json`, parameters (charset) ignored.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("(not text)"));
    let essence = value.and_then(|v| v.split(';').next()).map(|v| v.trim().to_ascii_lowercase());
    let is_json = essence
        .as_deref()
        .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
    if is_json {
        return Ok(());
    }
    let detail = match value {
        Some(v) => format!("the Content-Type is {v:?}, not application/json"),
        None => "the request has no Content-Type header".to_owned(),
    };
    Err(ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "The request body must be JSON.",
        detail,
        "Send the body as JSON with the header `Content-Type: application/json`.",
    ))
}

/// Parses the body as JSON; a syntax error names its line and column.
pub fn parse_value(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| {
        ApiError::new(
            ErrorCode::Validation,
            "The request body is not valid JSON.",
            format!("invalid JSON: {err}"),
            "Send one well-formed JSON object, for example {\"code\": \"print(1)\"}.",
        )
    })
}

/// Converts parsed JSON into a request type; a wrong type, a missing or an unknown field is
/// reported with the field's path (`limits.memory_mb: invalid type: ...`).
pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let detail = if path == "." { err.inner().to_string() } else { format!("{path}: {}", err.inner()) };
        ApiError::new(
            ErrorCode::Validation,
            "A field of the request has the wrong type, or is not known.",
            detail,
            "Check the request against the schema at GET /openapi.json and send it again.",
        )
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde::Deserialize;

    use super::*;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn json_content_types_are_recognised() {
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/ld+json"] {
            assert!(check_content_type(&with_type(ok)).is_ok(), "{ok}");
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", "json", "text/json"] {
            let err = check_content_type(&with_type(bad)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::UnsupportedMediaType, "{bad}");
        }
        let err = check_content_type(&HeaderMap::new()).unwrap_err();
        assert!(err.detail().contains("no Content-Type"));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = parse_value(b"{\"code\": }").unwrap_err();
        assert!(err.detail().contains("line 1 column 10"), "{}", err.detail());
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        n: u64,
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = decode::<Outer>(serde_json::json!({"inner": {"n": "x"}})).unwrap_err();
        assert!(err.detail().starts_with("inner.n: invalid type: string"), "{}", err.detail());
        let err = decode::<Outer>(serde_json::json!({"inner": {"n": 1}, "x": 1})).unwrap_err();
        assert!(err.detail().starts_with("x: unknown field `x`"), "{}", err.detail());
    }
}
