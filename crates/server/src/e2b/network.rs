//! A new sandbox's network as E2B asks for it (`allow_internet_access`, `network`), made into
//! the session's egress policy. The operator's default is the template's policy (none: no
//! network); `allow_internet_access: false`, or `0.0.0.0/0` in `denyOut`, takes it away.
//! Host names in `allowOut` are added to it, the other ranges of `denyOut` are denied to
//! every name it allows. The policy then goes through the service's one check (the
//! operator's switch and cap) like any session's.

use executor::egress::AddressRange;
use executor::{EgressPolicy, SessionHandle};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::E2bError;

/// E2B's `network` of a new sandbox.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkBody {
    #[serde(default)]
    allow_out: Option<Vec<String>>,
    #[serde(default)]
    deny_out: Option<Vec<String>>,
    /// `false`: the sandbox's ports need its traffic token.
    #[serde(default)]
    pub allow_public_traffic: Option<bool>,
    /// The host its ports' requests carry: no port of a sandbox is served yet, so it has no
    /// effect.
    #[serde(default)]
    #[allow(dead_code)]
    mask_request_host: Option<String>,
    #[serde(default)]
    rules: Option<Value>,
    #[serde(default)]
    egress_proxy: Option<Value>,
}

fn present(v: &Option<Value>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()))
}

/// The sandbox's network as its detail shows it, in E2B's terms: everything is denied but
/// the names its policy allows, and its denied ranges hold for those too.
pub fn shown(sandbox: &SessionHandle) -> Value {
    let policy = sandbox.egress();
    let mut deny = vec!["0.0.0.0/0".to_string()];
    deny.extend(policy.iter().flat_map(|p| p.deny.iter().map(ToString::to_string)));
    json!({
        "allowPublicTraffic": !sandbox.ports_need_token(),
        "allowOut": policy.map(EgressPolicy::describe).unwrap_or_default(),
        "denyOut": deny,
    })
}

/// The sandbox's egress policy; `None`: no network.
pub fn policy(
    default: Option<&EgressPolicy>,
    allow_internet_access: Option<bool>,
    network: Option<&NetworkBody>,
) -> Result<Option<EgressPolicy>, E2bError> {
    let empty = NetworkBody::default();
    let network = network.unwrap_or(&empty);
    if present(&network.rules) || present(&network.egress_proxy) {
        return Err(E2bError::bad_request(
            "network.rules and network.egressProxy are not supported: the sandbox's requests go out unchanged",
        ));
    }
    let mut deny = Vec::new();
    for entry in network.deny_out.iter().flatten() {
        let range = AddressRange::parse(entry).map_err(|why| {
            E2bError::bad_request(format!("network.denyOut: {why} (domain names are not supported for deny rules)"))
        })?;
        deny.push(range);
    }
    let (mut names, mut allow_all) = (Vec::new(), false);
    for entry in network.allow_out.iter().flatten() {
        match AddressRange::parse(entry) {
            Ok(range) if range.is_everything() => allow_all = true,
            Ok(_) => {
                return Err(E2bError::bad_request(format!(
                    "network.allowOut: {entry:?}: this server's egress admits host names only, not addresses"
                )))
            }
            Err(_) => names.push(entry.trim().to_string()),
        }
    }
    let deny_all = deny.iter().any(AddressRange::is_everything) && !allow_all;
    let base = match allow_internet_access == Some(false) || deny_all {
        true => None,
        false => default.cloned(),
    };
    let added = EgressPolicy::parse(&names).map_err(|why| E2bError::bad_request(format!("network.allowOut: {why}")))?;
    let mut allow = base.map(|p| p.allow).unwrap_or_default();
    for destination in added.map(|p| p.allow).unwrap_or_default() {
        if !allow.contains(&destination) {
            allow.push(destination);
        }
    }
    deny.retain(|r| !r.is_everything());
    Ok((!allow.is_empty()).then_some(EgressPolicy { allow, deny }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> NetworkBody {
        serde_json::from_str(json).unwrap()
    }

    fn names(policy: Option<EgressPolicy>) -> Vec<String> {
        policy.map(|p| p.describe()).unwrap_or_default()
    }

    #[test]
    fn the_operators_default_unless_taken_away() {
        let default = EgressPolicy::parse(&["pypi.org".into()]).unwrap();
        assert_eq!(names(policy(default.as_ref(), None, None).unwrap()), ["pypi.org"]);
        assert_eq!(names(policy(default.as_ref(), Some(true), None).unwrap()), ["pypi.org"]);
        assert!(policy(default.as_ref(), Some(false), None).unwrap().is_none());
        assert!(policy(None, None, None).unwrap().is_none());
        let deny_all = body(r#"{"denyOut": ["0.0.0.0/0"]}"#);
        assert!(policy(default.as_ref(), None, Some(&deny_all)).unwrap().is_none());
    }

    #[test]
    fn allowed_names_win_over_a_deny_of_everything() {
        let b = body(r#"{"denyOut": ["0.0.0.0/0", "10.0.0.0/8"], "allowOut": ["api.example.com"]}"#);
        let p = policy(None, None, Some(&b)).unwrap().unwrap();
        assert_eq!(p.describe(), ["api.example.com"]);
        assert_eq!(p.deny, [AddressRange::parse("10.0.0.0/8").unwrap()]);
    }

    #[test]
    fn what_cannot_be_expressed_is_refused() {
        for bad in [
            r#"{"allowOut": ["8.8.8.8"]}"#,
            r#"{"allowOut": ["not a host"]}"#,
            r#"{"denyOut": ["example.com"]}"#,
            r#"{"rules": {"api.example.com": []}}"#,
        ] {
            assert!(policy(None, None, Some(&body(bad))).is_err(), "{bad}");
        }
    }
}
