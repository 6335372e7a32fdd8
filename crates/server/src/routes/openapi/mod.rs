//! `GET /openapi.json`: the API's OpenAPI 3 document, generated from the very types the
//! handlers use, and committed as `docs/openapi.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

mod contract;

pub use contract::Contract;

use crate::dialect::DialectErrorBody;
use crate::error::ErrorBody;
use crate::routes::{execute, executions, health, info, metrics, outbox, root, sessions, templates};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sandbox-executor",
        description = "Runs untrusted Python, JavaScript and Shell in a Linux sandbox. \
            Every error answer has the body `ErrorBody`; answers to `generated_code` \
            (NVIDIA dialect) requests add `process_status`, `stdout` and `stderr`. \
            When the daemon has an API token, every endpoint but `GET /health`, `GET /ready` and `GET /` requires it \
            (`Authorization: Bearer <token>` or `X-API-Key: <token>`) and answers 401 \
            `Executor.Unauthorized` with `WWW-Authenticate: Bearer` without it."
    ),
    paths(
        root::index,
        execute::execute,
        executions::execution,
        health::health,
        health::ready,
        info::info,
        metrics::metrics,
        outbox::outbox,
        templates::list,
        templates::create,
        sessions::create,
        sessions::execute,
        sessions::destroy,
        sessions::list,
        sessions::files::put,
        sessions::files::post,
        sessions::files::list,
        sessions::files::get,
        sessions::ports::forward,
        sessions::processes::start,
        sessions::processes::list,
        sessions::processes::io::output,
        sessions::processes::io::events,
        sessions::processes::io::stdin,
        sessions::processes::io::signal,
        sessions::processes::io::resize,
        openapi_json
    ),
    components(schemas(
        ErrorBody,
        DialectErrorBody,
        execute::ExecutionAccepted,
        executor::ExecutionRecord,
        executor::ExecutionState,
        metrics::MetricsBody
    )),
    modifiers(&TokenSchemes),
    security(("bearer" = []), ("api_key" = [])),
    tags(
        (name = "execution", description = "Running code"),
        (name = "sessions", description = "Stateful sessions: a workspace and long-lived interpreters whose \
            variables live on between calls (seed 003's paths), and the workspace's files"),
        (name = "templates", description = "Environments runs ask for: a language, packages and default limits"),
        (name = "health", description = "Whether and how this host runs code, and its load"),
        (name = "meta", description = "This API's description"),
    )
)]
pub struct ApiDoc;

/// The two equivalent ways of sending the API token.
struct TokenSchemes;

impl Modify for TokenSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// The document as committed (the defaults, with a token): pretty JSON with a trailing newline.
pub fn document_json() -> String {
    document_for(&Contract::default())
}

/// The document of a daemon configured as `contract` says.
pub fn document_for(contract: &Contract) -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    contract::apply(&mut doc, contract);
    let mut json = serde_json::to_string_pretty(&doc).expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses(
        (status = 200, description = "This API's OpenAPI 3 document", content_type = "application/json"),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
    )
)]
pub async fn openapi_json(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], state.openapi_json.clone())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The committed document must match the code; `UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn committed_document_is_current() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let generated = document_json();
        if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
            std::fs::write(&path, &generated).expect("writing docs/openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is out of date; run `UPDATE_OPENAPI=1 cargo test -p server --lib openapi` \
             and commit the result",
            path.display()
        );
    }
}
