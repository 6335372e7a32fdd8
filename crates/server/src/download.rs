//! A session file's download as a response body: read from the open file in bounded chunks
//! as the caller takes them (never the whole file in memory), its transfer's place held until
//! the body is done or dropped.

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use executor::FileDownload;
use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

/// Bytes read from the file at a time: the most one download holds besides the transport's
/// own buffers.
const CHUNK_BYTES: usize = 128 * 1024;

/// A 200 with the file's bytes, its `Content-Length` and `content_type`.
pub fn response(download: FileDownload, content_type: &str) -> Response {
    let FileDownload { file, size, transfer, .. } = download;
    let reader = tokio::fs::File::from_std(file).take(size);
    let chunks = ReaderStream::with_capacity(reader, CHUNK_BYTES).map(move |chunk| {
        // The place is freed with the stream.
        let _held = &transfer;
        chunk
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    let octets = HeaderValue::from_static("application/octet-stream");
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap_or(octets));
    response
}
