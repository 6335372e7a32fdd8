//! Assembling the API: routes, fallbacks, and the layers every request passes through.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::{middleware, Router};
use executor::ExecutionService;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::{Level, Span};

use crate::auth::{self, ApiToken};
use crate::error::ApiError;
use crate::request_id::{self, RequestId};
use crate::routes;
use crate::state::{AppOptions, AppState};

/// The whole HTTP API. Layers, outermost first: a sandbox's port by its host name (before
/// routing), CORS (only for the configured origins), request id (so everything below,
/// including the panic handler, renders errors with it), tracing, the API token check (before
/// any body is read), panic catching, body limit.
pub fn app(service: Arc<ExecutionService>, options: AppOptions) -> Router {
    assemble(routes::router(), service, options)
}

/// [`app`] with any routes; tests add routes that misbehave on purpose.
pub(crate) fn assemble(router: Router<Arc<AppState>>, service: Arc<ExecutionService>, options: AppOptions) -> Router {
    let max_body_bytes = options.max_body_bytes;
    let token = options.api_token.as_deref().map(ApiToken::new);
    let cors = crate::cors::layer(&options.cors_origins);
    let contract = routes::openapi::Contract {
        authenticated: token.is_some(),
        limits: service.limits().clone(),
        max_ttl_secs: service.session_config().max_ttl_secs,
    };
    let openapi_json = Bytes::from(routes::openapi::document_for(&contract));
    let forwarding = crate::peers::Forwarding { peers: options.peers.clone(), max_body_bytes };
    let ports = crate::ports::Connections::new(options.ports.max_per_session, options.ports.max_per_tenant);
    let state = Arc::new(AppState { service, options, openapi_json, ports });
    // What the MCP tools call: the routes, behind the body limit and the forwarding to peers
    // (the token was checked on the MCP request; its credentials go along to a peer).
    let api = routes::router()
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(forwarding.clone(), crate::peers::forward))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(Arc::clone(&state));
    let mut router = router
        .nest_service("/mcp", crate::mcp::router(api, max_body_bytes))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        // After the token check: a call is forwarded to its owner only once it passed it.
        .layer(middleware::from_fn_with_state(forwarding, crate::peers::forward))
        .layer(CatchPanicLayer::custom(panic_response));
    if let Some(token) = token {
        router = router.layer(middleware::from_fn_with_state(token, auth::middleware));
    }
    let router = router
        // Every error answer is logged once, at its own level, where it is rendered
        // ([`ApiError`]); the layer's own failure line would repeat each 5xx at ERROR.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(Arc::clone(&state));
    // A preflight is answered before the token check, and every answer (errors too) carries
    // the headers an allowed origin's page needs to read it.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    // Outermost, before any routing (it may send a request to the sandbox plane): a request
    // for a sandbox's port by its host name (`{port}-{id}.<domain>`) is the sandbox's
    // server's, not the API's, and none of the API's layers apply to it.
    Router::new().fallback_service(router).layer(middleware::from_fn_with_state(state, crate::e2b::by_host))
}

/// Serves `app` on `listener` until `shutdown` completes, then lets running requests finish.
/// Every accepted connection sends at once (`TCP_NODELAY`): a streamed answer's small last
/// write would otherwise wait for the client's delayed ACK (about 40 ms a call).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|connection| {
        if let Err(e) = connection.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

fn request_span(req: &Request<Body>) -> Span {
    let id = req.extensions().get::<RequestId>().map_or("-", |id| id.0.as_str());
    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
}

/// A handler panicked: log the message, answer in our error format without exposing it.
fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(panic = %message, "a request handler panicked");
    ApiError::internal("the request handler failed unexpectedly; the daemon's log has the cause").into_response()
}
