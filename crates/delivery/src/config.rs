//! Where the control plane is and how patiently we talk to it.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::DeliveryError;

/// The control plane's address and the delivery policy.
#[derive(Debug, Clone)]
pub struct ControlPlaneConfig {
    /// `CONTROL_PLANE_URL`, e.g. `http://control-plane:8000` (a path prefix is kept).
    pub base_url: String,
    /// `INTERNAL_API_TOKEN`, sent as `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// Where the internal API lives under `base_url`.
    pub base_path: String,
    pub heartbeat_interval: Duration,
    /// One HTTP round trip, connection included.
    pub request_timeout: Duration,
    /// How long a result is retried before it is dead-lettered.
    pub max_age: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Where a result waiting for an unreachable control plane is also written, for operators.
    pub fallback_dir: Option<PathBuf>,
    pub container_id: String,
    pub pod_name: String,
    pub executor_port: u16,
}

impl ControlPlaneConfig {
    /// The documented defaults for a control plane at `base_url`. The container id and the pod
    /// name default to the host name (a pod's host name is its name), or `POD_NAME` when set.
    pub fn new(base_url: impl Into<String>) -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".to_owned());
        let pod_name = std::env::var("POD_NAME").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| hostname.clone());
        ControlPlaneConfig {
            base_url: base_url.into(),
            token: None,
            base_path: "/api/v1/internal".to_owned(),
            heartbeat_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_age: Duration::from_secs(24 * 3600),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            fallback_dir: Some(PathBuf::from("/tmp/results")),
            container_id: hostname,
            pod_name,
            executor_port: 8080,
        }
    }

    /// The token to send: surrounding whitespace (a token read from a file) is not part of it,
    /// and an empty one (`INTERNAL_API_TOKEN=` in a compose file) means none.
    pub(crate) fn normalized(mut self) -> Self {
        self.token = self.token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        self
    }

    /// Checks the settings and returns the internal API's base URL.
    pub fn validate(&self) -> Result<Url, DeliveryError> {
        let invalid = |why: String| DeliveryError::InvalidConfig(why);
        let url = Url::parse(self.base_url.trim())
            .map_err(|e| invalid(format!("control plane URL {:?}: {e}", self.base_url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("control plane URL {:?}: must be http or https", self.base_url)));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(format!("control plane URL {:?}: has no host", self.base_url)));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(format!("control plane URL {:?}: must not have a query or fragment", self.base_url)));
        }
        if let Some(token) = &self.token {
            // A header value cannot hold control characters; better to refuse at startup than
            // to fail every call.
            if token.chars().any(|c| c.is_control()) {
                return Err(invalid("internal API token holds control characters".to_owned()));
            }
        }
        for (name, value) in [
            ("heartbeat interval", self.heartbeat_interval),
            ("request timeout", self.request_timeout),
            ("max age", self.max_age),
            ("initial backoff", self.backoff_initial),
        ] {
            if value.is_zero() {
                return Err(invalid(format!("{name} must be positive")));
            }
        }
        if self.backoff_max < self.backoff_initial {
            return Err(invalid("maximum backoff is shorter than the initial backoff".to_owned()));
        }
        Ok(join_path(url, &self.base_path))
    }
}

/// `base` with the segments of `path` appended, whatever slashes either has at its ends.
fn join_path(mut base: Url, path: &str) -> Url {
    if let Ok(mut segments) = base.path_segments_mut() {
        segments.pop_if_empty().extend(path.split('/').filter(|s| !s.is_empty()));
    }
    base
}

/// The URL of an endpoint under the internal API's base; each part is one path segment
/// (an execution id is percent-encoded, never interpreted as a path).
pub(crate) fn endpoint(base: &Url, parts: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(parts);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str, path: &str) -> String {
        let mut config = ControlPlaneConfig::new(url);
        config.base_path = path.to_owned();
        config.validate().unwrap().to_string()
    }

    #[test]
    fn slashes_at_either_end_do_not_matter() {
        assert_eq!(base("http://cp:8000", "/api/v1/internal"), "http://cp:8000/api/v1/internal");
        assert_eq!(base("http://cp:8000/", "api/v1/internal/"), "http://cp:8000/api/v1/internal");
        assert_eq!(base("http://cp/prefix/", "/api/v1/internal"), "http://cp/prefix/api/v1/internal");
    }

    #[test]
    fn endpoint_encodes_each_part() {
        let base = ControlPlaneConfig::new("http://cp:8000").validate().unwrap();
        assert_eq!(
            endpoint(&base, &["executions", "a b/c", "result"]).as_str(),
            "http://cp:8000/api/v1/internal/executions/a%20b%2Fc/result"
        );
    }

    #[test]
    fn rejects_what_cannot_work() {
        for url in ["", "cp:8000", "ftp://cp", "http://cp?x=1", "http://"] {
            assert!(ControlPlaneConfig::new(url).validate().is_err(), "{url:?} accepted");
        }
        let mut config = ControlPlaneConfig::new("http://cp");
        config.token = Some("a\nb".to_owned());
        assert!(config.validate().is_err());
        config.token = Some(" t0ken\n".to_owned());
        assert_eq!(config.clone().normalized().token.as_deref(), Some("t0ken"));
        config.token = Some(String::new());
        assert_eq!(config.normalized().token, None);
        let mut config = ControlPlaneConfig::new("http://cp");
        config.backoff_max = Duration::from_millis(1);
        assert!(config.validate().is_err());
    }
}
