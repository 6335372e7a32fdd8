//! Artifacts: the files a run created or changed in its workspace, and nothing else. Those
//! under the output folder come back with their content (see [`Artifact`]).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use base64::Engine;
use sandbox::workspace_fs::{self, FileEntry};
use sha2::{Digest, Sha256};

use crate::Artifact;

/// Files beyond this many are not listed (a run can create millions).
const MAX_FILES: usize = 10_000;
/// The workspace folder whose files are returned with their content.
pub const OUTPUT_DIR: &str = "output";
/// The largest file whose content is returned.
pub const MAX_CONTENT_BYTES: u64 = 10 * 1024 * 1024;
/// The most content (file bytes, before base64) returned for one run.
pub const MAX_TOTAL_CONTENT_BYTES: u64 = 20 * 1024 * 1024;

/// A session's runtime packages (see `session::egress`): not the run's artifacts.
pub const PACKAGES_DIR: &str = ".packages";

/// What the workspace held before a run, to tell what the run changed.
pub struct Snapshot(HashMap<String, FileEntry>);

pub fn snapshot(workspace: &Path) -> Snapshot {
    let files = workspace_fs::list_files(workspace, MAX_FILES).unwrap_or_default();
    Snapshot(files.into_iter().map(|f| (f.path.clone(), f)).collect())
}

/// Files that are new or changed since `before` (a change of content, size, inode or change
/// time: the code can reset mtime, not ctime), in path order. Output files carry their
/// content while it fits in [`MAX_CONTENT_BYTES`] each and [`MAX_TOTAL_CONTENT_BYTES`] in all.
pub fn changed_since(workspace: &Path, before: &Snapshot) -> Vec<Artifact> {
    let after = workspace_fs::list_files(workspace, MAX_FILES).unwrap_or_default();
    let mut budget = MAX_TOTAL_CONTENT_BYTES;
    let mut artifacts = Vec::new();
    let packages = |path: &str| path.strip_prefix(PACKAGES_DIR).is_some_and(|rest| rest.starts_with('/'));
    for file in after.into_iter().filter(|f| before.0.get(&f.path) != Some(f) && !packages(&f.path)) {
        let cap = is_output(&file.path).then_some(budget.min(MAX_CONTENT_BYTES));
        if let Some((artifact, sent)) = describe(workspace, file, cap) {
            budget -= sent;
            artifacts.push(artifact);
        }
    }
    artifacts
}

/// Whether a workspace path is in the output folder (at any depth).
pub fn is_output(path: &str) -> bool {
    path.strip_prefix(OUTPUT_DIR).is_some_and(|rest| rest.starts_with('/'))
}

/// The artifact of one file, with its content when `content_cap` is given and the file fits
/// in it; and how many bytes of content it carries.
fn describe(workspace: &Path, file: FileEntry, content_cap: Option<u64>) -> Option<(Artifact, u64)> {
    let mut handle = workspace_fs::open_file(workspace, &file.path).ok()?;
    let mut hasher = Sha256::new();
    // The listed size is a hint: a file of a persistent workspace may still change.
    let mut content = content_cap.filter(|cap| file.size <= *cap).map(|_| Vec::with_capacity(file.size as usize));
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = handle.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
        if let Some(bytes) = &mut content {
            if content_cap.is_some_and(|cap| size > cap) {
                content = None;
            } else {
                bytes.extend_from_slice(&buf[..n]);
            }
        }
    }
    let mime_type = mime_guess::from_path(&file.path).first_or_octet_stream().essence_str().to_string();
    let name = Path::new(&file.path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let sent = content.as_ref().map_or(0, |c| c.len() as u64);
    let artifact = Artifact {
        path: file.path,
        size,
        kind: mime_type.clone(),
        mime_type,
        sha256: format!("{:x}", hasher.finalize()),
        name,
        content: content.map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
    };
    Some((artifact, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn find<'a>(artifacts: &'a [Artifact], path: &str) -> &'a Artifact {
        artifacts.iter().find(|a| a.path == path).unwrap_or_else(|| panic!("no artifact {path}: {artifacts:?}"))
    }

    #[test]
    fn output_files_carry_their_content_and_others_do_not() {
        let ws = tempfile::tempdir().unwrap();
        write(ws.path(), "kept.txt", b"same");
        let before = snapshot(ws.path());
        write(ws.path(), "output/plot_0.png", b"\x89PNG\r\n\x1a\nrest");
        write(ws.path(), "output/deep/er/report.csv", b"a,b\n1,2\n");
        write(ws.path(), "outputs.txt", b"not in the folder");
        write(ws.path(), "data/output/x.txt", b"not at the top");
        let artifacts = changed_since(ws.path(), &before);
        let paths: Vec<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["data/output/x.txt", "output/deep/er/report.csv", "output/plot_0.png", "outputs.txt"]);

        let png = find(&artifacts, "output/plot_0.png");
        assert_eq!(
            (png.kind.as_str(), png.mime_type.as_str(), png.name.as_str()),
            ("image/png", "image/png", "plot_0")
        );
        assert_eq!(png.content.as_deref(), Some("iVBORw0KGgpyZXN0"));
        assert_eq!(png.size, 12);
        let csv = find(&artifacts, "output/deep/er/report.csv");
        assert_eq!((csv.kind.as_str(), csv.name.as_str()), ("text/csv", "report"));
        assert_eq!(csv.content.as_deref(), Some("YSxiCjEsMgo="));
        for path in ["outputs.txt", "data/output/x.txt"] {
            let other = find(&artifacts, path);
            assert_eq!(other.content, None, "{path}");
            assert_eq!(other.kind, "text/plain");
        }
    }

    #[test]
    fn content_is_capped_per_file_and_per_run() {
        let ws = tempfile::tempdir().unwrap();
        let before = snapshot(ws.path());
        let mib = 1024 * 1024;
        write(ws.path(), "output/a_big.bin", &vec![1u8; 11 * mib]);
        write(ws.path(), "output/b_nine.bin", &vec![2u8; 9 * mib]);
        write(ws.path(), "output/c_nine.bin", &vec![3u8; 9 * mib]);
        write(ws.path(), "output/d_three.bin", &vec![4u8; 3 * mib]);
        write(ws.path(), "output/e_two.bin", &vec![5u8; 2 * mib]);
        let artifacts = changed_since(ws.path(), &before);
        let sent: Vec<(&str, bool)> = artifacts.iter().map(|a| (a.name.as_str(), a.content.is_some())).collect();
        // 11 MiB is over the per-file cap; 9 + 9 fit in 20; 3 more would not; 2 more do.
        assert_eq!(sent, [("a_big", false), ("b_nine", true), ("c_nine", true), ("d_three", false), ("e_two", true)]);
        let big = find(&artifacts, "output/a_big.bin");
        assert_eq!((big.size, big.kind.as_str()), (11 * mib as u64, "application/octet-stream"));
        assert_eq!(big.sha256.len(), 64);
    }

    #[test]
    fn the_shape_of_an_artifact_in_json() {
        let with = Artifact {
            path: "output/hello.txt".into(),
            size: 6,
            mime_type: "text/plain".into(),
            sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03".into(),
            kind: "text/plain".into(),
            name: "hello".into(),
            content: Some("aGVsbG8K".into()),
        };
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["type"], "text/plain");
        assert_eq!(json["content"], "aGVsbG8K");
        let without = Artifact { content: None, ..with };
        let json = serde_json::to_value(&without).unwrap();
        assert!(json.get("content").is_none(), "{json}");
        // Results recorded before these fields existed still read.
        let old: Artifact =
            serde_json::from_str(r#"{"path":"a.txt","size":1,"mime_type":"text/plain","sha256":"00"}"#).unwrap();
        assert_eq!((old.kind.as_str(), old.name.as_str(), old.content), ("", "", None));
    }
}
