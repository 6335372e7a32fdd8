//! What a box keeps of each process's output, for a reader who comes later: the last
//! [`LOG_BYTES`] of its stdout, stderr or terminal, each byte at its offset from the first
//! the process wrote, and how it ended. Fed by the same events every stream reads.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::types::{ExitStatus, Stream};

/// Bytes of output kept per process (its latest; older bytes are dropped, and counted).
pub const LOG_BYTES: u64 = 1024 * 1024;
/// Ended processes whose output is kept; past it, the one that ended first is forgotten.
pub const ENDED_KEPT: usize = 32;

/// One chunk of a process's output, as it wrote it.
#[derive(Debug, Clone)]
pub struct OutputChunk {
    pub stream: Stream,
    /// The offset of its first byte among all the bytes the process wrote.
    pub offset: u64,
    pub data: Bytes,
}

/// How a process's output ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputEnd {
    Exited(ExitStatus),
    /// The box ended before the process did.
    BoxEnded,
}

/// A process's output from an offset on.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub chunks: Vec<OutputChunk>,
    /// The offset to ask from next: every byte written so far.
    pub next: u64,
    /// Bytes after the offset asked for that are no longer kept (the log keeps the latest).
    pub dropped: u64,
    /// How it ended; `None` while it runs.
    pub end: Option<OutputEnd>,
}

#[derive(Default)]
struct Log {
    chunks: VecDeque<OutputChunk>,
    /// The offset of the first byte kept.
    start: u64,
    /// Every byte written so far.
    end: u64,
    finished: Option<OutputEnd>,
}

impl Log {
    fn push(&mut self, stream: Stream, data: Bytes) {
        let len = data.len() as u64;
        self.chunks.push_back(OutputChunk { stream, offset: self.end, data });
        self.end += len;
        while self.end - self.start > LOG_BYTES {
            let Some(first) = self.chunks.front_mut() else { break };
            let over = (self.end - self.start - LOG_BYTES).min(first.data.len() as u64);
            if over == first.data.len() as u64 {
                self.chunks.pop_front();
            } else {
                first.data = first.data.slice(over as usize..);
                first.offset += over;
            }
            self.start += over;
        }
    }

    fn read(&self, from: u64) -> ProcessOutput {
        let dropped = self.start.saturating_sub(from);
        let from = from.max(self.start);
        let chunks = self
            .chunks
            .iter()
            .filter(|c| c.offset + c.data.len() as u64 > from)
            .map(|c| {
                let skip = from.saturating_sub(c.offset);
                OutputChunk { stream: c.stream, offset: c.offset + skip, data: c.data.slice(skip as usize..) }
            })
            .collect();
        ProcessOutput { chunks, next: self.end.max(from), dropped, end: self.finished }
    }
}

/// The logs of a box's processes, running and recently ended.
#[derive(Default)]
pub(super) struct Logs {
    logs: HashMap<i32, Log>,
    ended: VecDeque<i32>,
}

impl Logs {
    /// A new process (a pid the box reuses starts a new log).
    pub fn start(&mut self, pid: i32) {
        self.ended.retain(|&p| p != pid);
        self.logs.insert(pid, Log::default());
    }

    pub fn output(&mut self, pid: i32, stream: Stream, data: &Bytes) {
        if let Some(log) = self.logs.get_mut(&pid) {
            log.push(stream, data.clone());
        }
    }

    pub fn finish(&mut self, pid: i32, end: OutputEnd) {
        let Some(log) = self.logs.get_mut(&pid) else { return };
        log.finished = Some(end);
        self.ended.push_back(pid);
        while self.ended.len() > ENDED_KEPT {
            if let Some(oldest) = self.ended.pop_front() {
                self.logs.remove(&oldest);
            }
        }
    }

    pub fn read(&self, pid: i32, from: u64) -> Option<ProcessOutput> {
        self.logs.get(&pid).map(|log| log.read(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(output: &ProcessOutput) -> String {
        output.chunks.iter().map(|c| String::from_utf8_lossy(&c.data).into_owned()).collect()
    }

    #[test]
    fn a_reader_asks_from_an_offset_and_learns_what_was_dropped() {
        let mut logs = Logs::default();
        logs.start(7);
        logs.output(7, Stream::Stdout, &Bytes::from_static(b"hello "));
        logs.output(7, Stream::Stderr, &Bytes::from_static(b"world"));
        let all = logs.read(7, 0).unwrap();
        assert_eq!((text(&all), all.next, all.dropped, all.end), ("hello world".into(), 11, 0, None));
        let later = logs.read(7, 8).unwrap();
        assert_eq!((text(&later), later.chunks[0].offset, later.chunks[0].stream), ("rld".into(), 8, Stream::Stderr));
        assert!(logs.read(7, 11).unwrap().chunks.is_empty());
        let big = Bytes::from(vec![b'x'; LOG_BYTES as usize]);
        logs.output(7, Stream::Stdout, &big);
        let after = logs.read(7, 0).unwrap();
        assert_eq!((after.dropped, after.next), (11, 11 + LOG_BYTES));
        assert_eq!(after.chunks.iter().map(|c| c.data.len() as u64).sum::<u64>(), LOG_BYTES);
    }

    #[test]
    fn ended_processes_are_kept_with_their_end_oldest_forgotten_first() {
        let mut logs = Logs::default();
        for pid in 1..=(ENDED_KEPT as i32 + 1) {
            logs.start(pid);
            logs.finish(pid, OutputEnd::Exited(ExitStatus { code: Some(pid), signal: None }));
        }
        assert!(logs.read(1, 0).is_none());
        let last = logs.read(ENDED_KEPT as i32 + 1, 0).unwrap();
        assert_eq!(last.end, Some(OutputEnd::Exited(ExitStatus { code: Some(ENDED_KEPT as i32 + 1), signal: None })));
    }
}
