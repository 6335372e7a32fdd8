//! Whose a request is: the tenant every route that runs code or names a session, an execution
//! or a file takes, from the body's `tenant_id` or the `X-Tenant-ID` header.

use axum::http::HeaderMap;
use executor::validate::check_id;
use executor::{ExecuteError, DEFAULT_TENANT};

use crate::error::ApiError;

/// The header naming the caller's tenant when the body does not.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// The caller's tenant: the body's `tenant_id`, else the `X-Tenant-ID` header, else
/// `default`. Both given and different is a mistake worth saying.
pub fn of(headers: &HeaderMap, body: Option<String>) -> Result<String, ApiError> {
    let header = match headers.get(TENANT_HEADER) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ExecuteError::invalid("tenant_id", "the X-Tenant-ID header is not text"))?
                .to_owned(),
        ),
        None => None,
    };
    let tenant = match (body, header) {
        (Some(b), Some(h)) if b != h => {
            return Err(ExecuteError::invalid(
                "tenant_id",
                format!("the body says {b:?} and the X-Tenant-ID header {h:?}"),
            )
            .into())
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => DEFAULT_TENANT.to_owned(),
    };
    Ok(check_id("tenant_id", tenant)?)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::error::ErrorCode;

    fn with_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TENANT_HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_tenant_comes_from_the_body_or_the_header() {
        assert_eq!(of(&HeaderMap::new(), None).unwrap(), "default");
        assert_eq!(of(&HeaderMap::new(), Some("t1".into())).unwrap(), "t1");
        assert_eq!(of(&with_header("t2"), None).unwrap(), "t2");
        assert_eq!(of(&with_header("t3"), Some("t3".into())).unwrap(), "t3");
        assert_eq!(of(&with_header("t3"), Some("t4".into())).unwrap_err().code(), ErrorCode::Validation);
        assert_eq!(of(&with_header("../x"), None).unwrap_err().code(), ErrorCode::Validation);
        assert_eq!(of(&HeaderMap::new(), Some(String::new())).unwrap_err().code(), ErrorCode::Validation);
    }
}
