//! Files of a session's workspace: `PUT /session/{id}/files/{path}` (raw bytes),
//! `POST /session/{id}/files` (JSON with base64 content), `GET /session/{id}/files` (the
//! list) and `GET /session/{id}/files/{path}` (raw bytes, streamed from the file). The tenant is the `X-Tenant-ID`
//! header (default `default`); another tenant's session is not found (404).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use executor::{ExecuteError, SessionFile};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session_id;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::json::{self, JsonBytes};
use crate::state::AppState;
use crate::tenant;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct UploadRequest {
    /// Relative to the workspace (same rules as the files of `/execute`).
    pub path: String,
    /// The file's bytes, base64 (standard alphabet; padding optional).
    pub content_base64: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileUploaded {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub file: SessionFile,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FilesUploaded {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    /// The files written, in the order they came.
    pub files: Vec<SessionFile>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub session_id: String,
    /// Every regular file at any depth, in path order (symlinks and special files are not
    /// listed; beyond 10000 files, the first 10000 found).
    pub files: Vec<SessionFile>,
}

/// A raw request body within the body limit, refused in our error format when over it.
pub struct RawBody(pub Bytes);

impl FromRequest<Arc<AppState>> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let limit = state.options.max_body_bytes;
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(RawBody(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "The request body is too large.",
                format!("the body is over the limit of {limit} bytes"),
                "Upload a smaller file; GET /info lists the file limits.",
            )),
            Err(rejection) => Err(ApiError::validation(
                format!("the body could not be read: {}", rejection.body_text()),
                "Send the whole body in one request with a correct Content-Length.",
            )),
        }
    }
}

fn path_params<T>(params: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    params.map(|Path(p)| p).map_err(|err| {
        ApiError::validation(
            format!("the path is not usable: {}", err.body_text()),
            "Percent-encode the file's path as UTF-8 in the URL.",
        )
    })
}

/// Blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ExecuteError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("file task failed: {e}")))?
        .map_err(Into::into)
}

#[utoipa::path(
    put,
    path = "/session/{id}/files/{path}",
    operation_id = "put_session_file",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("path" = String, Path, description = "The file's path in the workspace, e.g. `data/input.csv`"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "Written (an existing file there is replaced, never written through)", body = FileUploaded),
        (status = 400, description = "The path is refused (absolute, `..`, bad characters, through a symlink)", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`", body = ErrorBody),
        (status = 409, description = "`Executor.Conflict`: the session's code or another upload changed the same path \
            meanwhile; nothing was written, send it again", body = ErrorBody),
        (status = 413, description = "Over the per-file (10 MiB) or per-workspace (100 MiB) cap, counting every file \
            of the workspace at any depth", body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let (id, path) = path_params(params)?;
    let mut files = upload(&state, &headers, id, vec![(path, Vec::from(body))]).await?;
    let file = files.pop().ok_or_else(|| ApiError::internal("the upload described no file"))?;
    Ok((StatusCode::CREATED, Json(FileUploaded { status: "success".into(), file })).into_response())
}

#[utoipa::path(
    post,
    path = "/session/{id}/files",
    operation_id = "upload_session_files",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    request_body(
        description = "JSON `{path, content_base64}`, or `multipart/form-data` where each part with a file name is \
            written at the value of the text part `path` sent before it, else at its file name \
            (`curl -F path=data/in.csv -F file=@in.csv`); the files of one request are written all or none",
        content(
            (UploadRequest = "application/json"),
            (String = "multipart/form-data"),
        )
    ),
    responses(
        (status = 201, description = "Every file written (an existing file there is replaced, never written through)", body = FilesUploaded),
        (status = 400, description = "A path is refused, the content is not base64, or the form is malformed; \
            no file of the request was written", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`", body = ErrorBody),
        (status = 409, description = "`Executor.Conflict`: the session's code or another upload changed the same path \
            meanwhile; no file of the request was written, send it again", body = ErrorBody),
        (status = 413, description = "Over the per-file (10 MiB) or per-workspace (100 MiB) cap, counting every file \
            of the workspace at any depth; no file of the request was written", body = ErrorBody),
        (status = 415, description = "Neither JSON nor multipart/form-data", body = ErrorBody),
    )
)]
pub async fn post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = path_params(params)?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    let uploads = if is_form {
        form_files(Multipart::from_request(request, &state).await.map_err(form_error)?).await?
    } else {
        let JsonBytes(bytes) = JsonBytes::from_request(request, &state).await?;
        let body: UploadRequest = json::decode(json::parse_value(&bytes)?)?;
        vec![(body.path, decode_base64(&body.content_base64)?)]
    };
    let files = upload(&state, &headers, id, uploads).await?;
    Ok((StatusCode::CREATED, Json(FilesUploaded { status: "success".into(), files })).into_response())
}

fn decode_base64(text: &str) -> Result<Vec<u8>, ApiError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(compact).map_err(|e| {
        ApiError::from(ExecuteError::invalid("content_base64", format!("the content is not valid base64: {e}")))
    })
}

/// The (path, bytes) of each file part of a form. A `path` part places the file part after it;
/// one after the last file part places that file, unless a `path` part already did.
async fn form_files(mut form: Multipart) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let mut files = Vec::new();
    let mut next_path: Option<String> = None;
    let mut last_placed = false;
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                last_placed = next_path.is_some();
                let path = next_path.take().unwrap_or(file_name);
                let bytes = field.bytes().await.map_err(form_error)?;
                files.push((path, Vec::from(bytes)));
            }
            None if field.name() == Some("path") => {
                if next_path.is_some() {
                    return Err(ApiError::validation("the form has two `path` parts in a row", PLACE_FILES));
                }
                next_path = Some(field.text().await.map_err(form_error)?);
            }
            None => {
                let name = field.name().unwrap_or("");
                return Err(ApiError::validation(
                    format!("the form has a text part {name:?}; the only text part is `path`"),
                    PLACE_FILES,
                ));
            }
        }
    }
    if let Some(path) = next_path {
        match files.last_mut() {
            Some(last) if !last_placed => last.0 = path,
            _ => {
                return Err(ApiError::validation(
                    format!("the `path` part {path:?} places no file: none follows it"),
                    PLACE_FILES,
                ))
            }
        }
    }
    if files.is_empty() {
        return Err(ApiError::validation("the form has no file part", PLACE_FILES));
    }
    Ok(files)
}

const PLACE_FILES: &str = "Send each file as a part with a file name, after the `path` part that places it, \
    e.g. curl -F path=data/in.csv -F file=@in.csv.";

fn form_error(err: impl std::fmt::Display + HasStatus) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            "The request body is too large.",
            err.to_string(),
            "Upload fewer or smaller files per request; GET /info lists the file limits.",
        );
    }
    ApiError::validation(
        format!("the multipart form is malformed: {err}"),
        "Send multipart/form-data with a boundary, e.g. curl -F file=@data.csv.",
    )
}

/// Axum's two multipart errors both know their status.
trait HasStatus {
    fn status(&self) -> StatusCode;
}

impl HasStatus for axum::extract::multipart::MultipartError {
    fn status(&self) -> StatusCode {
        axum::extract::multipart::MultipartError::status(self)
    }
}

impl HasStatus for axum::extract::multipart::MultipartRejection {
    fn status(&self) -> StatusCode {
        axum::extract::multipart::MultipartRejection::status(self)
    }
}

/// Writes every file of a request or none of them.
async fn upload(
    state: &AppState,
    headers: &HeaderMap,
    id: String,
    files: Vec<(String, Vec<u8>)>,
) -> Result<Vec<SessionFile>, ApiError> {
    let tenant_id = tenant::of(headers, None)?;
    let id = session_id(id)?;
    let service = Arc::clone(&state.service);
    blocking(move || service.upload_session_files(&id, &tenant_id, files)).await
}

#[utoipa::path(
    get,
    path = "/session/{id}/files",
    operation_id = "list_session_files",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    responses(
        (status = 200, description = "The workspace's regular files, at any depth (the first 10000)", body = FileList),
        (status = 404, description = "`Session X not found or expired`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<String>, PathRejection>,
) -> Result<Json<FileList>, ApiError> {
    let id = session_id(path_params(params)?)?;
    let tenant_id = tenant::of(&headers, None)?;
    let service = Arc::clone(&state.service);
    let session = id.clone();
    let files = blocking(move || service.list_session_files(&session, &tenant_id)).await?;
    Ok(Json(FileList { status: "success".into(), session_id: id, files }))
}

#[utoipa::path(
    get,
    path = "/session/{id}/files/{path}",
    operation_id = "get_session_file",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("path" = String, Path, description = "The file's path in the workspace"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    responses(
        (status = 200, description = "The file's bytes, with its MIME type guessed from the extension",
            content_type = "application/octet-stream"),
        (status = 400, description = "The path is refused (absolute, `..`, bad characters, a symlink on the way, \
            a file with several hard links, not a regular file)", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`, or no such file", body = ErrorBody),
        (status = 503, description = "`Executor.QueueFull`: as many downloads are under way as the daemon (or the \
            tenant) may have at once (`SESSION_MAX_TRANSFERS`, `SESSION_MAX_TRANSFERS_PER_TENANT`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, path) = path_params(params)?;
    let id = session_id(id)?;
    let tenant_id = tenant::of(&headers, None)?;
    let service = Arc::clone(&state.service);
    let shown = path.clone();
    let download = blocking(move || service.download_session_file(&id, &tenant_id, &path)).await?;
    let name = shown.rsplit('/').next().unwrap_or_default().to_owned();
    let mime = download.mime_type.clone();
    let mut response = crate::download::response(download, &mime);
    // The name passed the path rules: no quote, backslash or control character in it.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
