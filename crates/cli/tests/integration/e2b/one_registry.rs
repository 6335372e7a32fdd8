//! Sessions are the one registry: a session of the API in a key's tenant is one of that
//! key's E2B sandboxes and the other way round; the list pages through both, newest first,
//! over plain HTTP; another key cannot page into them; an E2B kill ends an API session.

use reqwest::Method;
use serde_json::{json, Value};

use super::http::{control, create, e2b_error};
use super::{tenant_of, KEY, OTHER_KEY};
use crate::common::{self, Daemon};

async fn page(daemon: &Daemon, query: &str, key: &str) -> (Vec<Value>, Option<String>) {
    let response = control(daemon, Method::GET, &format!("/v2/sandboxes?{query}"), Some(key)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let next = response.headers().get("x-next-token").map(|v| v.to_str().unwrap().to_string());
    (response.json::<Vec<Value>>().await.unwrap(), next)
}

async fn session_ids(daemon: &Daemon, tenant: &str) -> Vec<String> {
    let sessions = daemon.client().get(format!("{}/sessions", daemon.base)).header("x-tenant-id", tenant);
    let sessions: Value = sessions.send().await.unwrap().json().await.unwrap();
    sessions["sessions"].as_array().unwrap().iter().map(|s| s["session_id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn sessions_and_e2b_sandboxes_are_one_registry() {
    let Some(daemon) = common::sandboxed().await else { return };
    let tenant = tenant_of(KEY);
    let made = daemon.client().post(format!("{}/session/create", daemon.base)).header("x-tenant-id", &tenant);
    let made: Value = made.json(&json!({})).send().await.unwrap().json().await.unwrap();
    let session = made["session_id"].as_str().unwrap().to_string();
    let (sandbox, _) = create(&daemon, KEY).await;
    // Newest first, one a page, to the end.
    let (first, next) = page(&daemon, "limit=1", KEY).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["sandboxID"], sandbox.as_str());
    let next = next.expect("a next token after a full page");
    let (second, last) = page(&daemon, &format!("limit=1&nextToken={next}"), KEY).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["sandboxID"], session.as_str());
    assert_eq!(second[0]["templateID"], "default", "an API session shows its template's name");
    assert_eq!(last, None, "{second:?}");
    // Another key: none of them, with or without the owner's token.
    assert_eq!(page(&daemon, "", OTHER_KEY).await, (vec![], None));
    assert_eq!(page(&daemon, &format!("limit=1&nextToken={next}"), OTHER_KEY).await, (vec![], None));
    let bad = control(&daemon, Method::GET, "/v2/sandboxes?nextToken=%25%25", Some(KEY));
    assert!(e2b_error(bad, 400).await.contains("next_token"));
    // The API lists both; an E2B kill of the API's session ends it for both.
    let mut listed = session_ids(&daemon, &tenant).await;
    listed.sort();
    let mut both = vec![session.clone(), sandbox.clone()];
    both.sort();
    assert_eq!(listed, both);
    let killed = control(&daemon, Method::DELETE, &format!("/sandboxes/{session}"), Some(KEY)).send().await.unwrap();
    assert_eq!(killed.status(), 204);
    assert_eq!(session_ids(&daemon, &tenant).await, vec![sandbox]);
    assert!(session_ids(&daemon, &tenant_of(OTHER_KEY)).await.is_empty());
}
