//! Signed file URLs (`download_url`, `upload_url`): the SDKs sign a file's path, the
//! operation (`read` for `GET /files`, `write` for `POST /files`), the user and, when given,
//! an expiry (Unix seconds) with the sandbox's envd access token, as
//! `v1_` + unpadded base64 of SHA-256 of `path:operation:user:token[:expiration]`. Such a URL
//! works without the token header, until it expires; its sandbox is the one whose token
//! signed it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::E2bError;

/// The signature of `path` for `operation` by `user` with `token`, as the SDKs compute it.
pub fn sign(path: &str, operation: &str, user: &str, token: &str, expiration: Option<i64>) -> String {
    let raw = match expiration {
        Some(at) => format!("{path}:{operation}:{user}:{token}:{at}"),
        None => format!("{path}:{operation}:{user}:{token}"),
    };
    let digest = Sha256::digest(raw.as_bytes());
    format!("v1_{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest))
}

fn refused(message: &str) -> E2bError {
    E2bError::new(StatusCode::UNAUTHORIZED, message)
}

/// The sandbox among `candidates` whose token signed the query's URL for `operation`, its
/// expiry checked. Every candidate is compared (in constant time), matching or not.
pub fn signer<T>(
    candidates: Vec<T>,
    token: impl Fn(&T) -> &str,
    query: &BTreeMap<String, String>,
    operation: &str,
) -> Result<T, E2bError> {
    let presented = query.get("signature").map(String::as_str).unwrap_or_default();
    let expiration = match query.get("signature_expiration").filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(text.parse::<i64>().map_err(|_| E2bError::bad_request("signature_expiration is not a number"))?)
        }
        None => None,
    };
    let path = query.get("path").map(String::as_str).unwrap_or_default();
    let user = query.get("username").map(String::as_str).unwrap_or_default();
    let mut found = None;
    for sandbox in candidates {
        let expected = sign(path, operation, user, token(&sandbox), expiration);
        let matches: bool = Sha256::digest(expected.as_bytes()).ct_eq(&Sha256::digest(presented.as_bytes())).into();
        if matches && found.is_none() {
            found = Some(sandbox);
        }
    }
    let sandbox = found.ok_or_else(|| refused("invalid signature"))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if expiration.is_some_and(|at| at < now) {
        return Err(refused("signature is already expired"));
    }
    Ok(sandbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_the_sdks() {
        // The Python SDK's get_signature("/home/user/a.txt", "read", None, "token", None).
        let sig = sign("/home/user/a.txt", "read", "", "token", None);
        assert_eq!(sig, "v1_9d+9NQHwSJMj04fFBbl0/qkmU2zFSlzEB4IWXDbnuNE");
        assert_ne!(sig, sign("/home/user/a.txt", "write", "", "token", None));
        assert_ne!(sig, sign("/home/user/a.txt", "read", "", "token", Some(1)));
    }
}
