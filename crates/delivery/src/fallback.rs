//! `{fallback_dir}/{execution_id}.json`: a result waiting for an unreachable control plane,
//! where the seed's operators look for it. The outbox is what gets it delivered; this file is
//! only a view of it, written once, removed when the result is delivered.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::value::RawValue;

/// The file for `execution_id`, unless the id could name something else than a file in `dir`
/// (the executor only accepts ids that cannot, but this is a path built from input).
pub(crate) fn path_for(dir: &Path, execution_id: &str) -> Option<PathBuf> {
    let safe = !execution_id.is_empty()
        && execution_id.len() <= 200
        && execution_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !execution_id.starts_with('.');
    safe.then(|| dir.join(format!("{execution_id}.json")))
}

/// Writes the file unless it is there already. Atomic (a temporary file renamed over), so an
/// operator never reads half a result. Returns whether it was written.
pub(crate) fn write_once(
    dir: &Path,
    execution_id: &str,
    result: &RawValue,
    control_plane_url: &str,
    persisted_at: &str,
) -> io::Result<bool> {
    let Some(path) = path_for(dir, execution_id) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "execution id is not a safe file name"));
    };
    if path.exists() {
        return Ok(false);
    }
    // Results can hold secrets a run printed: only the daemon's user may read them.
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // A struct, not a `Value`: the result's text (exact integers) goes in as it is.
    let content = FallbackFile { execution_id, result, persisted_at, control_plane_url };
    let temp = dir.join(format!(".{execution_id}.json.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temp)?;
        file.write_all(&serde_json::to_vec_pretty(&content).map_err(io::Error::other)?)?;
        file.sync_all()?;
        fs::rename(&temp, &path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.map(|()| true)
}

#[derive(Serialize)]
struct FallbackFile<'a> {
    execution_id: &'a str,
    result: &'a RawValue,
    persisted_at: &'a str,
    control_plane_url: &'a str,
}

/// Removes the file if there is one.
pub(crate) fn remove(dir: &Path, execution_id: &str) -> io::Result<()> {
    let Some(path) = path_for(dir, execution_id) else { return Ok(()) };
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use serde_json::{json, Value};

    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn written_once_private_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("results");
        let result = raw(r#"{"status":"success","return_value":1000000000000000000000000000000}"#);
        assert!(write_once(&dir, "exec-1", &result, "http://cp", "2025-01-06T00:00:00.000Z").unwrap());
        assert!(!write_once(&dir, "exec-1", &raw("{}"), "http://cp", "later").unwrap());
        let text = fs::read_to_string(dir.join("exec-1.json")).unwrap();
        assert!(text.contains(r#""return_value":1000000000000000000000000000000"#), "rounded: {text}");
        let saved: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(saved["result"]["status"], json!("success"));
        assert_eq!(saved["persisted_at"], "2025-01-06T00:00:00.000Z");
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left behind");
        remove(&dir, "exec-1").unwrap();
        remove(&dir, "exec-1").unwrap();
        assert!(!dir.join("exec-1.json").exists());
    }

    #[test]
    fn refuses_ids_that_are_paths() {
        let dir = Path::new("/tmp/results");
        for id in ["", "..", "../x", "a/b", ".hidden"] {
            assert!(path_for(dir, id).is_none(), "{id:?}");
        }
        assert_eq!(path_for(dir, "exec_1.a-b").unwrap(), dir.join("exec_1.a-b.json"));
    }
}
