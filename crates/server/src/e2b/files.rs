//! envd's `/files`: download one file, upload files (multipart or a raw body, which may be
//! gzip-compressed), with the access token or a signed URL (see `signature.rs`). Paths live
//! under `/home/user`, the sandbox's workspace, which is read and written through the
//! workspace's safe file access (no symlink is ever followed).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use super::error::E2bError;
use super::plane::{shown_path, workspace_path, FilePlane};
use crate::state::AppState;

type Params = Query<BTreeMap<String, String>>;

/// The workspace path of the `path` parameter; the user must be the sandbox's own.
fn checked(query: &BTreeMap<String, String>, path: Option<&str>) -> Result<String, E2bError> {
    if let Some(user) = query.get("username").filter(|u| !u.is_empty()) {
        if user != "user" && user != "root" {
            return Err(E2bError::unauthorized(format!("user {user:?} does not exist in the sandbox")));
        }
    }
    let path = path.ok_or_else(|| E2bError::bad_request("the path parameter is required"))?;
    let rel = workspace_path(path).map_err(|m| E2bError::new(StatusCode::FORBIDDEN, m))?;
    if rel.is_empty() {
        return Err(E2bError::bad_request(format!("{path}: is a directory")));
    }
    Ok(rel)
}

/// `GET /files?path=...`: the file's bytes, streamed from the file.
pub async fn download(
    State(state): State<Arc<AppState>>,
    FilePlane(sandbox): FilePlane,
    Query(query): Params,
) -> Result<Response, E2bError> {
    let rel = checked(&query, query.get("path").map(String::as_str))?;
    let download = state.service.download_session_file(&sandbox.id, &sandbox.tenant, &rel).map_err(|e| match e {
        executor::ExecuteError::SessionNotFound(_) => E2bError::sandbox_gone(&sandbox.id),
        executor::ExecuteError::Invalid { message, .. } => E2bError::bad_request(message),
        e => E2bError::from(e),
    })?;
    Ok(crate::download::response(download, "application/octet-stream"))
}

/// `POST /files`: multipart parts named `file` (each part's file name is its path, unless
/// `path` is given for a single file), or the raw body written at `path`.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    FilePlane(sandbox): FilePlane,
    Query(query): Params,
    request: Request,
) -> Result<Json<Vec<Value>>, E2bError> {
    let metadata = metadata_of(request.headers())?;
    let files = files_of(&state, &query, request).await?;
    if files.is_empty() {
        return Err(E2bError::bad_request("the request holds no file"));
    }
    let gone = |e| match e {
        executor::ExecuteError::SessionNotFound(_) => E2bError::sandbox_gone(&sandbox.id),
        e => E2bError::from(e),
    };
    // Measuring the workspace walks all of it: off the async workers.
    let (service, id, tenant) = (state.service.clone(), sandbox.id.clone(), sandbox.tenant.clone());
    let written = tokio::task::spawn_blocking(move || service.upload_session_files(&id, &tenant, files))
        .await
        .map_err(|e| E2bError::from(executor::ExecuteError::Internal(format!("file task failed: {e}"))))?
        .map_err(gone)?;
    let mut answer = Vec::with_capacity(written.len());
    for file in &written {
        let mut info = entry(&file.path);
        if !metadata.is_empty() {
            let (id, tenant) = (&sandbox.id, &sandbox.tenant);
            state.service.session_set_metadata(id, tenant, &file.path, metadata.clone()).await.map_err(gone)?;
            // What the file keeps (none where its filesystem keeps none), as envd reads it back.
            let kept = state.service.session_stat(id, tenant, &file.path).await.map_err(gone)?.metadata;
            if !kept.is_empty() {
                info["metadata"] = json!(kept);
            }
        }
        answer.push(info);
    }
    Ok(Json(answer))
}

/// The `X-Metadata-<key>` headers of an upload (keys lowercased), checked.
fn metadata_of(headers: &axum::http::HeaderMap) -> Result<BTreeMap<String, String>, E2bError> {
    let mut metadata = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("x-metadata-") {
            let value = value.to_str().map_err(|_| E2bError::bad_request("invalid metadata: a value is not ASCII"))?;
            metadata.entry(key.to_string()).or_insert_with(|| value.to_string());
        }
    }
    executor::validate::validate_metadata(&metadata)
        .map_err(|m| E2bError::bad_request(format!("invalid metadata: {m}")))?;
    Ok(metadata)
}

/// The files of an upload: multipart parts, or the raw body (gzip-compressed or not) at `path`.
async fn files_of(
    state: &Arc<AppState>,
    query: &BTreeMap<String, String>,
    request: Request,
) -> Result<Vec<(String, Vec<u8>)>, E2bError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| E2bError::bad_request(format!("the multipart body is invalid: {}", e.body_text())))?;
        return multipart_files(multipart, query).await;
    }
    let gzip = match request.headers().get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None | Some(b"identity") => false,
        Some(b"gzip") => true,
        Some(_) => return Err(E2bError::bad_request("only gzip and identity content encodings are accepted")),
    };
    let rel = checked(query, query.get("path").map(String::as_str))?;
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|e| E2bError::new(e.status(), format!("the body could not be read: {}", e.body_text())))?;
    let content = match gzip {
        // Inflated no further than either cap lets it be written.
        true => gunzip(bytes, (state.options.max_body_bytes as u64).min(state.service.limits().max_file_bytes)).await?,
        false => Vec::from(bytes),
    };
    Ok(vec![(rel, content)])
}

async fn multipart_files(
    mut multipart: Multipart,
    query: &BTreeMap<String, String>,
) -> Result<Vec<(String, Vec<u8>)>, E2bError> {
    let mut files = Vec::new();
    let bad =
        |e: axum::extract::multipart::MultipartError| E2bError::bad_request(format!("multipart: {}", e.body_text()));
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_owned);
        let content = field.bytes().await.map_err(bad)?;
        files.push((name, Vec::from(content)));
    }
    let single = files.len() == 1;
    files
        .into_iter()
        .map(|(name, content)| {
            let path = if single { query.get("path").map(String::as_str).or(name.as_deref()) } else { name.as_deref() };
            Ok((checked(query, path)?, content))
        })
        .collect()
}

/// The body a gzip upload stands for, inflated as it is read and never past `limit` bytes (the
/// daemon's caps on a request body and on a file hold on what is written, not on what was
/// sent): more is the same 413 as an oversized upload.
async fn gunzip(compressed: Bytes, limit: u64) -> Result<Vec<u8>, E2bError> {
    use std::io::Read;
    let inflated = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(compressed.as_ref()).take(limit + 1).read_to_end(&mut out).map(|_| out)
    })
    .await
    .map_err(|e| E2bError::from(executor::ExecuteError::Internal(format!("inflating the body failed: {e}"))))?
    .map_err(|e| E2bError::bad_request(format!("the body is not valid gzip: {e}")))?;
    if inflated.len() as u64 > limit {
        return Err(E2bError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body inflates past {limit} bytes, the most an upload may write"),
        ));
    }
    Ok(inflated)
}

fn entry(rel: &str) -> Value {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    json!({ "name": name, "type": "file", "path": shown_path(rel) })
}
