//! Properties of `POST /execute`'s body over arbitrary input: parsing, decoding, drafting and
//! validating never panic, and what passes is within the rules.

use executor::validate::build_request;
use executor::{ExecuteError, LimitPolicy, WorkspaceChoice};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::ExecuteRequest;
use crate::json;
use crate::state::AppOptions;

/// The body's own field names (often) and others (sometimes).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "code", "generated_code", "language", "timeout", "execution_id", "session_id", "event", "stdin",
            "env_vars", "files", "limits", "tenant_id", "scope", "template", "async", "warm", "memory_mb",
            "max_output_bytes", "max_processes", "content", "encoding",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![".{0,20}", Just("print(1)".to_owned()), Just("base64".to_owned()), Just("a/b.txt".to_owned())]
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|entries| Value::Object(Map::from_iter(entries))),
        ]
    })
}

fn no_template(name: &str) -> Result<executor::Template, ExecuteError> {
    Err(ExecuteError::invalid("template", format!("unknown template {name:?}")))
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_bytes_make_the_parser_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(value) = json::parse_value(&bytes) {
            let _ = json::decode::<ExecuteRequest>(value);
        }
    }

    #[test]
    fn no_body_makes_decoding_or_validation_panic(fields in prop::collection::vec((key(), json_value()), 0..8)) {
        let body = Value::Object(Map::from_iter(fields));
        let Ok(request) = json::decode::<ExecuteRequest>(body) else { return Ok(()) };
        let options = AppOptions { nvidia_template: None, ..AppOptions::default() };
        let Ok(draft) = request.into_draft(&options, no_template) else { return Ok(()) };
        let policy = LimitPolicy::default();
        if let Ok(request) = build_request(draft, &policy) {
            prop_assert!(request.timeout_ms >= 1);
            prop_assert!(request.timeout_ms as f64 <= policy.max_timeout_secs * 1000.0);
            prop_assert!(!request.code.is_empty());
            for file in &request.files {
                prop_assert!(!file.path.starts_with('/') && !file.path.split('/').any(|c| c == ".."));
            }
            if let WorkspaceChoice::Persistent(name) = &request.workspace {
                prop_assert!(!name.contains('/') && name != ".." && !name.is_empty());
            }
        }
    }

    #[test]
    fn a_plain_request_with_any_code_and_timeout_in_range_is_taken(
        (before, visible, after) in (".{0,100}", "[!-~]", ".{0,100}"),
        timeout in 1.0f64..=3600.0,
    ) {
        // Code must have something besides white space.
        let code = format!("{before}{visible}{after}");
        let body = serde_json::json!({"code": code, "timeout": timeout, "language": "python"});
        let request: ExecuteRequest = json::decode(body).expect("decodes");
        let draft = request.into_draft(&AppOptions::default(), no_template).expect("drafts");
        let built = build_request(draft, &LimitPolicy::default()).expect("valid");
        prop_assert_eq!(built.code, code);
        prop_assert_eq!(built.timeout_ms, (timeout * 1000.0).round() as u64);
    }
}
