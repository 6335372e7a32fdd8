use super::*;

fn paths(root: &Path) -> Vec<String> {
    list_files(root, 100).unwrap().into_iter().map(|f| f.path).collect()
}

#[test]
fn a_workspace_that_cannot_be_opened_names_no_file_and_an_empty_batch_needs_none() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let (index, err) = write_files(&gone, &[("a.txt", b"a")], None).unwrap_err();
    assert_eq!(index, None, "{err}");
    assert!(err.is_not_found(), "{err}");
    write_files(&gone, &[], None).expect("nothing to write needs no workspace");
}

#[test]
fn a_batch_that_fails_part_way_leaves_the_workspace_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_file(root, "keep.txt", b"old", None).unwrap();
    std::os::unix::fs::symlink("/tmp", root.join("outside")).unwrap();
    let batch: [(&str, &[u8]); 3] = [("keep.txt", b"new"), ("a/b/first.txt", b"1"), ("outside/x.txt", b"x")];
    let (index, err) = write_files(root, &batch, None).unwrap_err();
    assert_eq!(index, Some(2));
    assert!(matches!(err, WorkspaceFsError::Symlink(_)), "{err}");
    assert_eq!(paths(root), ["keep.txt"]);
    assert_eq!(std::fs::read(root.join("keep.txt")).unwrap(), b"old");
    assert!(!root.join("a").exists());
}

#[test]
fn a_replaced_file_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("target"), b"secret").unwrap();
    std::fs::hard_link(root.join("target"), root.join("link")).unwrap();
    write_file(root, "link", b"replaced", None).unwrap();
    assert_eq!(std::fs::read(root.join("target")).unwrap(), b"secret");
    assert_eq!(std::fs::read(root.join("link")).unwrap(), b"replaced");
    assert_eq!(paths(root), ["link", "target"]);
}

#[test]
fn the_walk_counts_files_at_any_depth() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let deep = "d/".repeat(300);
    std::fs::create_dir_all(root.join(&deep)).unwrap();
    std::fs::write(root.join(format!("{deep}deep.bin")), [0u8; 10]).unwrap();
    std::fs::create_dir_all(root.join("w/1")).unwrap();
    std::fs::write(root.join("w/1/a"), [0u8; 5]).unwrap();
    std::fs::write(root.join("top"), [0u8; 1]).unwrap();
    let listing = walk(root, 2).unwrap();
    assert_eq!((listing.count, listing.bytes, listing.files.len()), (3, 16, 2));
    assert_eq!(paths(root), [format!("{deep}deep.bin"), "top".into(), "w/1/a".into()]);
}
