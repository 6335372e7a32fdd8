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

/// Makes `levels` nested directories `d` under `root`, a file in the deepest: one
/// descriptor at a time, as code in a sandbox can.
fn deep_tree(root: &Path, levels: usize) {
    let mut dir = open_root(root).unwrap();
    for _ in 0..levels {
        nix::sys::stat::mkdirat(&dir, "d", Mode::from_bits_truncate(0o755)).unwrap();
        dir = nix::fcntl::openat(&dir, "d", OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty()).unwrap();
    }
    let file = nix::fcntl::openat(&dir, "leaf", OFlag::O_CREAT | OFlag::O_WRONLY, Mode::from_bits_truncate(0o644));
    drop(file.unwrap());
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn trees_far_deeper_than_a_stack_are_walked_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    deep_tree(&root, 10_000);
    // A small stack: a walk that took a frame per level would overflow it.
    let walked = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let before = open_descriptors();
            let listing = walk(&root, 10).unwrap();
            let listed = list_dir(&root, "", 64).unwrap();
            // Beyond the longest path a route takes, a file is counted, not described.
            assert_eq!((listing.count, listing.files.len()), (1, 0));
            assert_eq!(listed.len(), 64);
            assert_eq!(listed.last().unwrap().path, ["d"; 64].join("/"));
            remove(&root, "d").unwrap();
            assert!(stat(&root, "d").unwrap_err().is_not_found());
            deep_tree(&root, 10_000);
            remove_tree(&root.join("d")).unwrap();
            assert_eq!(open_descriptors(), before, "a descriptor was left open");
            std::fs::read_dir(&root).unwrap().count()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(walked, 0, "the tree was not removed");
}

#[test]
fn names_too_long_for_the_kernel_are_the_callers_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let long = "n".repeat(300);
    for err in [
        make_dir(root, &long, None).unwrap_err(),
        stat(root, &long).unwrap_err(),
        rename(root, &long, "b").unwrap_err(),
    ] {
        assert!(err.is_path_problem(), "{err}");
    }
}

#[test]
fn listings_leave_out_paths_no_route_takes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let name = "n".repeat(255);
    let mut at = open_root(root).unwrap();
    for _ in 0..20 {
        nix::sys::stat::mkdirat(&at, name.as_str(), Mode::from_bits_truncate(0o755)).unwrap();
        at = nix::fcntl::openat(&at, name.as_str(), OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty()).unwrap();
    }
    let listed = list_dir(root, "", 64).unwrap();
    // 16 levels of 256 bytes fit in 4096 bytes; the 17th does not.
    assert_eq!(listed.len(), 16);
    assert!(listed.iter().all(|e| e.path.len() <= MAX_PATH_BYTES));
}
