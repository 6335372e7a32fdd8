//! `GET /sandboxes` and `GET /v2/sandboxes`: a page of the caller's sandboxes (its tenant's
//! sessions), filtered by `state`, `metadata` (`k=v&...`, each key and value URL-encoded,
//! the whole URL-encoded again as a query parameter),
//! `template` and `startedAfter`, newest first unless `order=asc`; at most `limit` (1 to
//! 100, 100 by default) a page, the next page's cursor in `X-Next-Token`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::{ListOrder, SessionQuery};

use super::control::{caller, listed};
use super::error::E2bError;
use crate::state::AppState;

/// A page's size when the caller gives none, and the most it may ask for (E2B's).
const PAGE: usize = 100;

/// `GET /sandboxes` and `GET /v2/sandboxes`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, E2bError> {
    let tenant = caller(&state, &headers)?;
    let Some(query) = query_of(&pairs)? else { return Ok(Json(Vec::<serde_json::Value>::new()).into_response()) };
    let page = state.service.session_page(&tenant, &query)?;
    let live = page.sessions.iter().filter_map(|s| Some((s, state.service.session_ends_at(s.id(), s.tenant()).ok()?)));
    let body: Vec<_> = live.map(|(s, end)| listed(&state, s, end)).collect();
    let mut response = Json(body).into_response();
    if let Some(next) = page.next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert("x-next-token", next);
    }
    Ok(response)
}

fn get<'a>(pairs: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| names.contains(&k.as_str())).map(|(_, v)| v.as_str())
}

/// What the query asks for; `None` when its states exclude every sandbox (all are running).
fn query_of(pairs: &[(String, String)]) -> Result<Option<SessionQuery>, E2bError> {
    let states: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "state")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = states.iter().find(|s| !matches!(**s, "running" | "paused")) {
        return Err(E2bError::bad_request(format!("state: {bad:?} is not one of running, paused")));
    }
    if !states.is_empty() && !states.contains(&"running") {
        return Ok(None);
    }
    let limit = match get(pairs, &["limit"]) {
        None => PAGE,
        Some(text) => text.trim().parse::<usize>().ok().filter(|n| (1..=PAGE).contains(n)).ok_or_else(|| {
            E2bError::bad_request(format!("limit: must be a whole number from 1 to {PAGE}, got {text:?}"))
        })?,
    };
    let order = match get(pairs, &["order"]).map(str::trim) {
        None | Some("desc") => ListOrder::NewestFirst,
        Some("asc") => ListOrder::OldestFirst,
        Some(other) => return Err(E2bError::bad_request(format!("order: {other:?} is not asc or desc"))),
    };
    let started_after = get(pairs, &["startedAfter", "started_after"]).map(parse_time).transpose()?;
    Ok(Some(SessionQuery {
        metadata: get(pairs, &["metadata"]).map(metadata_pairs).unwrap_or_default(),
        template: get(pairs, &["template"]).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned),
        started_after,
        order,
        limit,
        after: get(pairs, &["nextToken", "next_token"]).filter(|t| !t.is_empty()).map(str::to_owned),
    }))
}

/// An RFC 3339 time with `Z` or a `±hh:mm` offset, as the SDKs write it.
fn parse_time(text: &str) -> Result<SystemTime, E2bError> {
    let bad = || E2bError::bad_request(format!("startedAfter: {text:?} is not an RFC 3339 time"));
    let text = text.trim();
    let (local, offset) = match text.len().checked_sub(6).and_then(|i| text.get(i..).map(|tail| (i, tail))) {
        Some((i, tail)) if (tail.starts_with('+') || tail.starts_with('-')) && tail.as_bytes()[3] == b':' => {
            let hours: u64 = tail[1..3].parse().map_err(|_| bad())?;
            let minutes: u64 = tail[4..6].parse().map_err(|_| bad())?;
            let secs = Duration::from_secs(hours * 3600 + minutes * 60);
            (&text[..i], Some((tail.starts_with('+'), secs)))
        }
        _ => (text.strip_suffix('Z').or_else(|| text.strip_suffix('z')).unwrap_or(text), None),
    };
    let at = humantime::parse_rfc3339_weak(local).map_err(|_| bad())?;
    Ok(match offset {
        // Local time ahead of UTC: the instant is that much earlier.
        Some((true, secs)) => at.checked_sub(secs).ok_or_else(bad)?,
        Some((false, secs)) => at + secs,
        None => at,
    })
}

/// The pairs of a metadata filter (the query parameter's value, already decoded once): the
/// form's encoding, then each key's and value's own.
fn metadata_pairs(text: &str) -> Vec<(String, String)> {
    let once = |s: &str| percent_decode(&s.replace('+', " "));
    let decode = |s: &str| once(&once(s));
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        let pair = |p: &str| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        };
        q.split('&').filter(|p| !p.is_empty()).map(pair).collect()
    }

    #[test]
    fn times_with_offsets_name_the_same_instant() {
        let utc = parse_time("2026-12-07T23:00:00.5Z").unwrap();
        assert_eq!(parse_time("2026-12-08T01:00:00.500000+02:00").unwrap(), utc);
        assert_eq!(parse_time("2026-12-07T22:30:00.5-00:30").unwrap(), utc);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn queries_as_the_sdks_send_them() {
        let q = query_of(&pairs("metadata=user%3Dalice%26app%3Da%252526b%252520c&state=running&limit=1&order=asc"))
            .unwrap()
            .unwrap();
        assert_eq!(q.metadata, [("user".into(), "alice".into()), ("app".into(), "a&b c".into())]);
        assert_eq!((q.limit, q.order), (1, ListOrder::OldestFirst));
        assert!(query_of(&pairs("state=paused")).unwrap().is_none());
        assert!(query_of(&pairs("state=paused&state=running")).unwrap().is_some());
        for bad in ["limit=0", "limit=101", "limit=x", "order=up", "state=gone", "startedAfter=x"] {
            assert!(query_of(&pairs(bad)).is_err(), "{bad}");
        }
        assert_eq!(query_of(&pairs("")).unwrap().unwrap().limit, 100);
    }
}
