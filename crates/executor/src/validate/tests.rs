use serde_json::json;

use super::*;

fn draft(code: &str) -> RequestDraft {
    RequestDraft { code: code.into(), ..RequestDraft::default() }
}

fn build(d: RequestDraft) -> Result<ExecutionRequest, ExecuteError> {
    build_request(d, &LimitPolicy::default())
}

/// The field an `Invalid` error names; panics on anything else.
fn invalid_field(d: RequestDraft) -> String {
    match build(d) {
        Err(ExecuteError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn minimal_request_takes_the_defaults() {
    let req = build(draft("print(1)")).unwrap();
    assert_eq!(req.language, Language::Python);
    assert_eq!(req.timeout_ms, 30_000);
    assert_eq!(req.workspace, WorkspaceChoice::Fresh);
    assert_eq!(req.event, None);
    assert_eq!(req.stdin, "");
    let hex = req.execution_id.strip_prefix("exec_").unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn empty_or_blank_code_is_invalid() {
    assert_eq!(invalid_field(draft("")), "code");
    assert_eq!(invalid_field(draft(" \n\t")), "code");
}

#[test]
fn code_over_the_cap_is_too_large() {
    let policy = LimitPolicy { max_code_bytes: 4, ..LimitPolicy::default() };
    let err = build_request(draft("12345"), &policy).unwrap_err();
    assert!(matches!(err, ExecuteError::TooLarge { actual: 5, limit: 4, .. }), "{err:?}");
    assert!(build_request(draft("1234"), &policy).is_ok());
}

#[test]
fn language_aliases_parse_and_unknown_lists_the_accepted() {
    let d = RequestDraft { language: Some("JS".into()), ..draft("1") };
    assert_eq!(build(d).unwrap().language, Language::Javascript);
    let d = RequestDraft { language: Some("cobol".into()), ..draft("1") };
    let err = build(d).unwrap_err();
    assert_eq!(err.to_string(), format!("language: unknown language \"cobol\"; accepted: {}", Language::ACCEPTED));
}

#[test]
fn timeout_is_rounded_to_milliseconds_and_range_checked() {
    let d = RequestDraft { timeout_secs: Some(1.0004), ..draft("1") };
    assert_eq!(build(d).unwrap().timeout_ms, 1000);
    let d = RequestDraft { timeout_secs: Some(2.5), ..draft("1") };
    assert_eq!(build(d).unwrap().timeout_ms, 2500);
    let d = RequestDraft { timeout_secs: Some(3600.0), ..draft("1") };
    assert_eq!(build(d).unwrap().timeout_ms, 3_600_000);
    for bad in [0.0, 0.5, -1.0, 3600.5, f64::NAN, f64::INFINITY] {
        let d = RequestDraft { timeout_secs: Some(bad), ..draft("1") };
        let err = build(d).unwrap_err();
        assert_eq!(err.to_string(), format!("timeout: must be between 1 and 3600 seconds, got {bad}"));
    }
}

#[test]
fn execution_id_is_kept_when_safe() {
    let d = RequestDraft { execution_id: Some("exec_test-001.a".into()), ..draft("1") };
    assert_eq!(build(d).unwrap().execution_id, "exec_test-001.a");
    for bad in ["", "a/b", "a b", "..", ".", "é", &"x".repeat(129)] {
        let d = RequestDraft { execution_id: Some(bad.into()), ..draft("1") };
        assert_eq!(invalid_field(d), "execution_id", "{bad:?}");
    }
    let d = RequestDraft { execution_id: Some("x".repeat(128)), ..draft("1") };
    assert!(build(d).is_ok());
}

/// The persistent workspace a draft gets.
fn persistent(d: RequestDraft) -> String {
    match build(d).unwrap().workspace {
        WorkspaceChoice::Persistent(name) => name,
        other => panic!("expected a persistent workspace, got {other:?}"),
    }
}

#[test]
fn session_wins_over_the_shared_workspace() {
    let d = RequestDraft { shared_workspace: Some("nvidia-default".into()), ..draft("1") };
    assert!(persistent(d).starts_with("nvidia-default@"));
    let d = RequestDraft {
        session_id: Some("abc123".into()),
        shared_workspace: Some("nvidia-default".into()),
        ..draft("1")
    };
    assert!(persistent(d).starts_with("session-abc123@"));
    let d = RequestDraft { session_id: Some("../x".into()), ..draft("1") };
    assert_eq!(invalid_field(d), "session_id");
}

#[test]
fn persistent_workspaces_are_the_tenants_own() {
    let of = |tenant: &str, session: Option<&str>| {
        persistent(RequestDraft {
            tenant_id: Some(tenant.into()),
            session_id: session.map(Into::into),
            shared_workspace: Some("nvidia-default".into()),
            ..draft("1")
        })
    };
    assert_eq!(of("a", Some("s1")), of("a", Some("s1")));
    assert_ne!(of("a", Some("s1")), of("b", Some("s1")));
    assert_ne!(of("a", None), of("b", None));
    // Tenant and id are not simply glued together: "a-b" + "c" is not "a" + "b-c".
    assert_ne!(of("a-b", Some("c")), of("a", Some("b-c")));
    assert_eq!(of("default", Some("s1")), persistent(RequestDraft { session_id: Some("s1".into()), ..draft("1") }));
    // The longest tenant and id still make a valid directory name.
    let longest = of(&"t".repeat(128), Some(&"s".repeat(128)));
    assert!(longest.len() <= 255, "{} bytes", longest.len());
}

#[test]
fn event_comes_from_json_stdin_only_when_not_given() {
    let d = RequestDraft { stdin: Some(" {\"name\": \"Alice\"}\n".into()), ..draft("1") };
    let req = build(d).unwrap();
    assert_eq!(req.event, Some(json!({"name": "Alice"})));
    assert_eq!(req.stdin, " {\"name\": \"Alice\"}\n", "stdin itself is kept as sent");

    let d = RequestDraft { stdin: Some("hello".into()), ..draft("1") };
    assert_eq!(build(d).unwrap().event, None);
    let d = RequestDraft { stdin: Some("{\"a\": 1}".into()), event: Some(json!([1, 2])), ..draft("1") };
    assert_eq!(build(d).unwrap().event, Some(json!([1, 2])));
}

fn with_env(pairs: &[(&str, &str)]) -> RequestDraft {
    let env_vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    RequestDraft { env_vars, ..draft("1") }
}

#[test]
fn env_var_names_and_values_are_checked() {
    assert!(build(with_env(&[("_A1", "x"), ("PATH_EXTRA", "")])).is_ok());
    assert_eq!(invalid_field(with_env(&[("1A", "x")])), "env_vars.1A");
    assert_eq!(invalid_field(with_env(&[("A-B", "x")])), "env_vars.A-B");
    assert_eq!(invalid_field(with_env(&[("", "x")])), "env_vars.");
    assert_eq!(invalid_field(with_env(&[("A", "x\0y")])), "env_vars.A");
    let long = "A".repeat(129);
    assert_eq!(invalid_field(with_env(&[(&long, "x")])), format!("env_vars.{long}"));
}

#[test]
fn env_vars_count_and_total_size_are_capped() {
    let names: Vec<String> = (0..257).map(|i| format!("V{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    assert_eq!(invalid_field(with_env(&many)), "env_vars");
    let big = "x".repeat(128 * 1024);
    assert_eq!(invalid_field(with_env(&[("A", &big)])), "env_vars");
}

#[test]
fn limits_must_be_within_one_and_the_cap() {
    let policy = LimitPolicy::default();
    let ok = RequestedLimits { memory_mb: Some(policy.max_memory_mb), max_output_bytes: Some(1), max_processes: None };
    let req = build(RequestDraft { limits: ok, ..draft("1") }).unwrap();
    assert_eq!(req.limits.memory_mb, Some(policy.max_memory_mb));
    assert_eq!(req.limits.max_processes, None, "defaults are the service's to fill");

    let cases = [
        (RequestedLimits { memory_mb: Some(0), ..Default::default() }, "limits.memory_mb"),
        (RequestedLimits { memory_mb: Some(policy.max_memory_mb + 1), ..Default::default() }, "limits.memory_mb"),
        (
            RequestedLimits { max_output_bytes: Some(policy.max_output_bytes + 1), ..Default::default() },
            "limits.max_output_bytes",
        ),
        (RequestedLimits { max_processes: Some(0), ..Default::default() }, "limits.max_processes"),
    ];
    for (limits, field) in cases {
        assert_eq!(invalid_field(RequestDraft { limits, ..draft("1") }), field);
    }
}

fn template(language: Language, memory_mb: u64, timeout_secs: u64) -> crate::Template {
    crate::Template {
        name: "t".into(),
        description: String::new(),
        language,
        packages: Vec::new(),
        limits: crate::templates::TemplateLimits { memory_mb, timeout_secs },
        origin: crate::templates::Origin::Builtin,
        egress: None,
    }
}

#[test]
fn a_template_gives_the_language_and_must_match_it() {
    let node = Some(template(Language::Javascript, 512, 30));
    let req = build(RequestDraft { template: node.clone(), ..draft("1") }).unwrap();
    assert_eq!((req.language, req.template.map(|t| t.name)), (Language::Javascript, Some("t".into())));
    let d = RequestDraft { template: node.clone(), language: Some("python".into()), ..draft("1") };
    let err = build(d).unwrap_err().to_string();
    assert!(
        err.starts_with("template: template \"t\" is for javascript, but the request's language is python"),
        "{err}"
    );
    // A shell script runs in any template's environment.
    let shell = build(RequestDraft { template: node, language: Some("shell".into()), ..draft("1") }).unwrap();
    assert_eq!((shell.language, shell.template.map(|t| t.name)), (Language::Shell, Some("t".into())));
}

#[test]
fn template_limits_are_defaults_within_the_caps() {
    let data = Some(template(Language::Python, 1024, 60));
    let req = build(RequestDraft { template: data.clone(), ..draft("1") }).unwrap();
    assert_eq!((req.timeout_ms, req.limits.memory_mb), (60_000, Some(1024)));
    let asked = RequestedLimits { memory_mb: Some(300), ..RequestedLimits::default() };
    let d = RequestDraft { template: data.clone(), timeout_secs: Some(5.0), limits: asked, ..draft("1") };
    let req = build(d).unwrap();
    assert_eq!((req.timeout_ms, req.limits.memory_mb), (5_000, Some(300)));
    // A server with lower caps than the template's limits runs it at its caps.
    let policy = LimitPolicy { max_memory_mb: 512, max_timeout_secs: 20.0, ..LimitPolicy::default() };
    let req = build_request(RequestDraft { template: data, ..draft("1") }, &policy).unwrap();
    assert_eq!((req.timeout_ms, req.limits.memory_mb), (20_000, Some(512)));
    // Without a template, the server's defaults stay (unset memory: the server's at run time).
    let req = build(draft("1")).unwrap();
    assert_eq!((req.timeout_ms, req.limits.memory_mb), (30_000, None));
}
