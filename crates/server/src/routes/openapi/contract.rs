//! What the validators enforce, written into the OpenAPI document: id and path patterns,
//! ranges from the daemon's own limits, and the answers every route can give. The daemon
//! serves the document of its own configuration; the committed one has the defaults and a
//! token.

use executor::validate::patterns;
use executor::{Language, LimitPolicy};
use serde_json::{json, Map, Value};

/// What the served document describes of the daemon.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Whether the daemon asks for a token; without one, no operation declares security.
    pub authenticated: bool,
    pub limits: LimitPolicy,
    /// The longest idle `ttl` a session may ask for.
    pub max_ttl_secs: u64,
}

impl Default for Contract {
    fn default() -> Self {
        Contract {
            authenticated: true,
            limits: LimitPolicy::default(),
            max_ttl_secs: executor::SessionConfig::default().max_ttl_secs,
        }
    }
}

/// Request bodies and the fields of theirs that name an id.
const ID_FIELDS: &[(&str, &[&str])] = &[
    ("ExecuteRequest", &["execution_id", "session_id", "tenant_id"]),
    ("CreateSessionRequest", &["tenant_id"]),
    ("SessionExecuteRequest", &["session_id", "tenant_id"]),
    ("DestroySessionRequest", &["session_id", "tenant_id"]),
];

pub fn apply(doc: &mut Value, contract: &Contract) {
    let schemas = &mut doc["components"]["schemas"];
    for (schema, fields) in ID_FIELDS {
        for field in *fields {
            merge(&mut schemas[schema]["properties"][field], id_schema());
        }
    }
    request_bodies(schemas, contract);
    // Only a `generated_code` request's error has the dialect's fields.
    if let Some(fields) = schemas["DialectFields"].as_object_mut() {
        fields.remove("required");
    }
    for (path, operations) in doc["paths"].as_object_mut().into_iter().flatten() {
        for (method, operation) in operations.as_object_mut().into_iter().flatten() {
            operation_answers(path, method, operation, contract);
        }
    }
    // Each file is a part with a file name (any part name); a text part `path` says where it goes.
    doc["paths"]["/session/{id}/files"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"] = json!({
        "type": "object",
        "required": ["upload"],
        "additionalProperties": false,
        "properties": { "path": path_schema(), "upload": { "type": "string", "format": "binary" } },
    });
    if !contract.authenticated {
        if let Some(doc) = doc.as_object_mut() {
            doc.remove("security");
        }
    }
}

fn request_bodies(schemas: &mut Value, contract: &Contract) {
    let limits = &contract.limits;
    let timeout = json!({ "type": "number", "minimum": limits.min_timeout_secs, "maximum": limits.max_timeout_secs });
    merge(&mut schemas["SessionExecuteRequest"]["properties"]["timeout"], timeout);
    merge(&mut schemas["ExecuteRequest"]["properties"]["timeout"], json!({ "maximum": limits.max_timeout_secs }));
    for schema in ["ExecuteRequest", "SessionExecuteRequest"] {
        let properties = &mut schemas[schema]["properties"];
        merge(&mut properties["language"], json!({ "type": "string", "pattern": language_pattern() }));
        merge(&mut properties["code"], json!({ "type": "string", "pattern": patterns::CODE }));
    }
    execute_request(&mut schemas["ExecuteRequest"], limits);
    let caps = [
        ("memory_mb", limits.max_memory_mb),
        ("max_output_bytes", limits.max_output_bytes),
        ("max_processes", limits.max_processes),
    ];
    for (field, cap) in caps {
        merge(&mut schemas["LimitsRequest"]["properties"][field], json!({ "minimum": 1, "maximum": cap }));
    }
    merge(
        &mut schemas["SessionLimits"]["properties"]["max_output_bytes"],
        json!({ "minimum": 1, "maximum": limits.max_output_bytes }),
    );
    let create = &mut schemas["CreateSessionRequest"]["properties"];
    merge(&mut create["ttl"], json!({ "minimum": 1, "maximum": contract.max_ttl_secs }));
    merge(&mut create["scope"], scope_schema());
    for schema in ["ExecuteRequest", "CreateSessionRequest", "TemplateSpec"] {
        merge(&mut schemas[schema]["properties"]["egress"], egress_schema());
    }
    merge(&mut schemas["UploadRequest"]["properties"]["path"], path_schema());
    merge(&mut schemas["UploadRequest"]["properties"]["content_base64"], json!({ "pattern": patterns::BASE64 }));
    // `utf8` is taken for `utf-8`; base64 content must be base64.
    merge(&mut schemas["FileEncoding"], json!({ "enum": ["utf-8", "utf8", "base64"] }));
    schemas["EncodedFile"]["if"] =
        json!({ "required": ["encoding"], "properties": { "encoding": { "const": "base64" } } });
    schemas["EncodedFile"]["then"] = json!({ "properties": { "content": { "pattern": patterns::BASE64 } } });
    template_spec(&mut schemas["TemplateSpec"]);
    process_request(&mut schemas["StartProcessRequest"], limits);
    let caps = [("memory_mb", limits.max_memory_mb), ("timeout_secs", limits.max_timeout_secs.floor() as u64)];
    for (field, cap) in caps {
        merge(&mut schemas["TemplateLimitsSpec"]["properties"][field], json!({ "minimum": 1, "maximum": cap }));
    }
}

/// What `POST /execute` alone takes: the dialect's `generated_code`, scopes, environment, files.
fn execute_request(execute: &mut Value, limits: &LimitPolicy) {
    merge(&mut execute["properties"]["generated_code"], json!({ "type": "string", "pattern": patterns::CODE }));
    merge(&mut execute["properties"]["scope"], scope_schema());
    merge(&mut execute["properties"]["env_vars"], env_schema());
    merge(
        &mut execute["properties"]["files"],
        json!({
            "propertyNames": path_schema(),
            "maxProperties": limits.max_files,
        }),
    );
    // One of `code` and `generated_code` (absent and null are alike); the dialect's requests
    // say how long they may run, and any positive time will do. Written as `if`/`then`/`else`
    // rather than `oneOf`: generated clients then build one model with every field.
    execute["if"] = json!({ "required": ["generated_code"], "properties": { "generated_code": { "type": "string" } } });
    execute["then"] = json!({
        "required": ["generated_code", "timeout"],
        "properties": { "timeout": { "type": "number", "exclusiveMinimum": 0 }, "code": { "type": "null" } },
    });
    execute["else"] = json!({
        "required": ["code"],
        "properties": { "code": { "type": "string" }, "timeout": { "minimum": limits.min_timeout_secs } },
    });
}

/// A process to start: a Bash line or a program, an absolute directory, variables as
/// `/execute`'s, a timeout within the limits.
fn process_request(start: &mut Value, limits: &LimitPolicy) {
    let properties = &mut start["properties"];
    merge(&mut properties["command"], json!({ "type": "string", "pattern": patterns::CODE }));
    let no_nul = json!({ "type": "string", "pattern": "^[^\\u0000]*$" });
    merge(&mut properties["argv"], json!({ "minItems": 1, "items": no_nul, "prefixItems": [{ "pattern": "\\S" }] }));
    merge(&mut properties["env"], env_schema());
    merge(&mut properties["cwd"], json!({ "type": "string", "pattern": "^/[^\\u0000]*$" }));
    merge(&mut properties["tag"], json!({ "type": "string", "pattern": "^[^\\u0000]*$", "maxLength": 256 }));
    let timeout = json!({ "type": "number", "minimum": limits.min_timeout_secs, "maximum": limits.max_timeout_secs });
    merge(&mut properties["timeout"], timeout);
    // One of `command` and `argv` (absent and null are alike).
    start["if"] = json!({ "required": ["command"], "properties": { "command": { "type": "string" } } });
    start["then"] = json!({ "properties": { "argv": { "type": "null" } } });
    start["else"] = json!({ "required": ["argv"], "properties": { "argv": { "type": "array" } } });
}

/// A new template: its packages' rules are its language's.
fn template_spec(spec: &mut Value) {
    let properties = &mut spec["properties"];
    merge(&mut properties["name"], json!({ "pattern": patterns::TEMPLATE_NAME }));
    merge(
        &mut properties["description"],
        json!({ "pattern": patterns::ENV_VALUE, "maxLength": patterns::TEMPLATE_DESCRIPTION_MAX_LEN }),
    );
    merge(&mut properties["network"], json!({ "enum": [false] }));
    merge(&mut properties["packages"], json!({ "maxItems": patterns::MAX_PACKAGES }));
    let packages = |pattern: &str| json!({ "properties": { "packages": { "items": { "pattern": pattern, "maxLength": patterns::PACKAGE_MAX_LEN } } } });
    spec["if"] = json!({ "properties": { "language": { "enum": ["python", "py", "python3"] } } });
    spec["then"] = packages(patterns::PIP_PACKAGE);
    spec["else"] = packages(patterns::NPM_PACKAGE);
    spec["else"]["properties"]["language"] = json!({ "enum": ["javascript", "js", "node", "nodejs"] });
}

/// The answers a route gives besides its own: the tenant header, the token, the body's
/// size and type are checked before any handler runs.
fn operation_answers(path: &str, method: &str, operation: &mut Value, contract: &Contract) {
    for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
        let name = parameter["name"].as_str().unwrap_or_default().to_owned();
        match name.as_str() {
            "X-Tenant-ID" | "id" => merge(&mut parameter["schema"], id_schema()),
            "path" => merge(&mut parameter["schema"], path_schema()),
            "port" => merge(&mut parameter["schema"], json!({ "minimum": 1, "maximum": 65535 })),
            "format" => merge(&mut parameter["schema"], json!({ "enum": ["json", "prometheus", "text"] })),
            _ => {}
        }
    }
    let takes_body = operation.get("requestBody").is_some();
    let has_parameters = operation.get("parameters").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { return };
    let public = path == "/health" || path == "/";
    if contract.authenticated && !public {
        add(responses, "401", "The API token is missing or wrong");
    }
    if takes_body || has_parameters {
        add(responses, "400", "The request is invalid");
    }
    if matches!(path, "/execute" | "/session/create" | "/session/execute") {
        add(
            responses,
            "422",
            "`Executor.TemplatePackageError`: the template's packages are not in the registry, or not \
             requirements pip or npm can read (the end of the build log says which)",
        );
    }
    if takes_body {
        add(responses, "413", "The body is over the size limit");
        add(responses, "415", "The body is not of a type this operation takes");
    }
    if path.starts_with("/session/") && method != "get" || path.starts_with("/session/{id}") {
        add(responses, "404", "There is no such session for this tenant");
    }
    if !contract.authenticated {
        operation.as_object_mut().map(|o| o.remove("security"));
    } else if public {
        operation["security"] = json!([]);
    }
}

/// Every language name, in any case (`[Pp][Yy]`...).
fn language_pattern() -> String {
    let any_case = |name: &str| -> String {
        name.chars()
            .map(|c| if c.is_ascii_alphabetic() { format!("[{}{}]", c.to_ascii_uppercase(), c) } else { c.to_string() })
            .collect()
    };
    let names: Vec<String> = Language::NAMES.iter().map(|n| any_case(n)).collect();
    format!("^(?:{})$", names.join("|"))
}

fn add(responses: &mut Map<String, Value>, status: &str, description: &str) {
    responses.entry(status).or_insert_with(|| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
        })
    });
}

fn id_schema() -> Value {
    json!({ "type": "string", "pattern": patterns::ID, "minLength": 1, "maxLength": patterns::ID_MAX_LEN })
}

fn path_schema() -> Value {
    json!({
        "type": "string",
        "pattern": patterns::RELATIVE_PATH,
        "minLength": 1,
        "maxLength": patterns::RELATIVE_PATH_MAX_LEN,
    })
}

fn scope_schema() -> Value {
    json!({ "type": "string", "pattern": patterns::SCOPE, "maxLength": patterns::SCOPE_MAX_LEN })
}

fn env_schema() -> Value {
    json!({
        "propertyNames": { "pattern": patterns::ENV_NAME },
        "additionalProperties": { "type": "string", "pattern": patterns::ENV_VALUE },
        "maxProperties": patterns::ENV_MAX_VARS,
    })
}

/// Adds `extra`'s keys to `target` (a nullable field's schema keeps its `null` alternative:
/// the keys go to its non-null branch when it has one).
/// An egress policy: at most so many destinations, each as `egress::Destination` reads it.
fn egress_schema() -> Value {
    json!({
        "maxItems": patterns::EGRESS_MAX_DESTINATIONS,
        "items": {
            "type": "string",
            "pattern": patterns::EGRESS_DESTINATION,
            "maxLength": patterns::EGRESS_DESTINATION_MAX_LEN,
        },
    })
}

fn merge(target: &mut Value, extra: Value) {
    let target = match target.get_mut("oneOf").and_then(Value::as_array_mut) {
        Some(branches) => match branches.iter_mut().find(|b| b["type"] != "null") {
            Some(branch) => branch,
            None => return,
        },
        None => target,
    };
    let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) else { return };
    let nullable = target.get("type").and_then(Value::as_array).is_some_and(|t| t.contains(&json!("null")));
    for (key, mut value) in extra {
        if key == "type" && target.contains_key("type") {
            continue;
        }
        if let (true, "enum", Some(values)) = (nullable, key.as_str(), value.as_array_mut()) {
            values.push(Value::Null);
        }
        target.insert(key, value);
    }
}
