//! The executor as a daemon over HTTP: what the `mcp` subcommand's tools call.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Response};
use rmcp::model::Extensions;
use serde_json::Value;

use crate::backend::{Answer, ApiCall, Backend, BoxFuture, Failure, MAX_DOWNLOAD_BYTES};

/// The header naming the caller's tenant.
const TENANT_HEADER: HeaderName = HeaderName::from_static("x-tenant-id");

/// Why the HTTP backend cannot be made from its settings.
#[derive(Debug, thiserror::Error)]
pub enum BackendConfigError {
    #[error("the API token is not visible ASCII")]
    Token,
    #[error("the tenant {0:?} is not ASCII")]
    Tenant(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("the daemon's URL {0:?} is not http:// or https://")]
    Url(String),
}

/// A daemon at `base_url`, called with one API token and one tenant.
#[derive(Debug, Clone)]
pub struct HttpBackend {
    client: reqwest::Client,
    base_url: String,
}

impl HttpBackend {
    /// `token`: the daemon's API token, when it has one; `tenant`: the tenant every call is
    /// made for (the daemon's `default` when `None`).
    pub fn new(base_url: &str, token: Option<&str>, tenant: Option<&str>) -> Result<Self, BackendConfigError> {
        let mut headers = HeaderMap::new();
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| BackendConfigError::Token)?;
            headers.insert(AUTHORIZATION, value);
        }
        if let Some(tenant) = tenant {
            let value = HeaderValue::from_str(tenant).map_err(|_| BackendConfigError::Tenant(tenant.to_owned()))?;
            headers.insert(TENANT_HEADER, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(BackendConfigError::Client)?;
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(BackendConfigError::Url(base_url));
        }
        Ok(HttpBackend { client, base_url })
    }

    async fn send(&self, call: ApiCall) -> Result<Answer, Failure> {
        let call = call.into_http();
        let method = Method::from_bytes(call.method.as_bytes()).expect("a method of the API");
        let mut request = self.client.request(method, format!("{}{}", self.base_url, call.path));
        if let Some((content_type, body)) = call.body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let response = request.send().await.map_err(|e| {
            Failure::Unreachable(format!("the executor at {} could not be reached: {e}", self.base_url))
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = read(response).await?;
            let body = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            return Err(Failure::Api { status: status.as_u16(), body });
        }
        if call.is_file {
            return file(response).await;
        }
        let bytes = read(response).await?;
        Answer::json(&bytes).map_err(|e| {
            Failure::Unreachable(format!("the executor answered {status} with a body that is not JSON: {e}"))
        })
    }
}

/// A file's bytes, at most [`MAX_DOWNLOAD_BYTES`] of them: a larger file is refused before it
/// is read (by its length), or as soon as more comes.
async fn file(mut response: Response) -> Result<Answer, Failure> {
    let mime_type =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/octet-stream");
    let mime_type = mime_type.to_owned();
    let length = response.content_length();
    if let Some(size) = length.filter(|&size| size > MAX_DOWNLOAD_BYTES) {
        return Err(Failure::FileTooLarge { size: Some(size) });
    }
    let mut bytes = Vec::with_capacity(length.unwrap_or(0) as usize);
    let broke = |e: reqwest::Error| Failure::Unreachable(format!("the executor's answer broke off: {e}"));
    while let Some(chunk) = response.chunk().await.map_err(broke)? {
        if (bytes.len() + chunk.len()) as u64 > MAX_DOWNLOAD_BYTES {
            return Err(Failure::FileTooLarge { size: None });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Answer::File { bytes, mime_type })
}

async fn read(response: Response) -> Result<Vec<u8>, Failure> {
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| Failure::Unreachable(format!("the executor's answer broke off: {e}")))
}

impl Backend for HttpBackend {
    fn call<'a>(&'a self, call: ApiCall, _request: &'a Extensions) -> BoxFuture<'a, Result<Answer, Failure>> {
        Box::pin(self.send(call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_taken() {
        assert!(HttpBackend::new("http://127.0.0.1:8080/", None, None).is_ok());
        assert!(HttpBackend::new("ftp://x", None, None).is_err());
        assert!(HttpBackend::new("http://x", Some("to\nken"), None).is_err());
    }
}
