//! The program's output streams, kept up to a cap, and the exchange with the launcher.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::output::{Captured, OutputStream, OutputTap, RunError};

/// Output far past the cap is not worth reading on: the run is stopped once both streams
/// together pass twice the cap and a margin, so a program that prints somewhat more than
/// is kept still ends on its own.
pub(super) struct Flood {
    total: AtomicU64,
    /// Bytes kept of each stream (changed from outside on a sandbox claimed after its start).
    pub cap: Arc<AtomicU64>,
    pub cut: CancellationToken,
}

impl Flood {
    const MARGIN: u64 = 16 * 1024 * 1024;

    pub fn new(cap: Arc<AtomicU64>) -> Flood {
        Flood { total: AtomicU64::new(0), cap, cut: CancellationToken::new() }
    }

    fn cap(&self) -> u64 {
        self.cap.load(Ordering::SeqCst)
    }

    fn add(&self, n: u64) {
        let limit = self.cap().saturating_mul(2).saturating_add(Self::MARGIN);
        if self.total.fetch_add(n, Ordering::Relaxed) + n > limit {
            self.cut.cancel();
        }
    }
}

pub(super) async fn exchange(mut control: UnixStream, payload: Vec<u8>) -> Result<Vec<u8>, RunError> {
    let protocol = |e: std::io::Error| RunError::Protocol(e.to_string());
    control.write_all(&payload).await.map_err(protocol)?;
    control.shutdown().await.map_err(protocol)?;
    let mut raw = Vec::new();
    // The spec is in: a launcher killed from here on may reset the connection, which ends
    // its report as an end of file would (empty: the sandbox was lost).
    let _ = control.read_to_end(&mut raw).await;
    Ok(raw)
}

/// Reads a stream to its end, keeping at most the flood's cap of bytes, so a flood of output
/// costs the daemon a fixed amount of memory and never blocks the writer. What is kept also
/// goes to `tap` as it comes.
pub(super) async fn capture(
    stream: Option<impl AsyncRead + Unpin>,
    flood: &Flood,
    (tap, which): (&OutputTap, OutputStream),
) -> Captured {
    let mut out = Captured::default();
    let Some(mut stream) = stream else { return out };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.total_bytes += n as u64;
                flood.add(n as u64);
                let room = flood.cap().saturating_sub(out.bytes.len() as u64) as usize;
                let kept = &chunk[..n.min(room)];
                out.bytes.extend_from_slice(kept);
                out.truncated |= n > room;
                if let Some(sink) = tap.sink().filter(|_| !kept.is_empty()) {
                    sink.chunk(which, kept);
                }
            }
        }
    }
    if let Some(sink) = tap.sink() {
        sink.end(which);
    }
    out
}
