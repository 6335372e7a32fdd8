use super::*;

fn files(list: &[(&str, usize)]) -> Vec<(String, Vec<u8>)> {
    list.iter().map(|(p, n)| (p.to_string(), vec![b'x'; *n])).collect()
}

#[test]
fn ordinary_relative_paths_pass_unchanged() {
    for ok in [
        "a.txt",
        "data/input.csv",
        "deep/er/still/file",
        "My Report v2.txt",
        "-leading-dash",
        "name@host+x=y",
        ".hidden",
        "..dots-then-name",
        "a/.config",
    ] {
        assert_eq!(validate_relative_path(ok).as_deref(), Ok(ok), "{ok:?}");
    }
}

#[test]
fn unsafe_or_unusual_paths_are_rejected() {
    let long_component = "x".repeat(256);
    let long_path = vec!["x"; 600].join("/");
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/..",
        "..",
        ".",
        "./a",
        "a/./b",
        "...",
        "a//b",
        "a/",
        "a\0b",
        "a\\b",
        "tab\tname",
        "new\nline",
        "é",
        " lead",
        "trail ",
        "a/ b",
        long_component.as_str(),
        long_path.as_str(),
    ] {
        assert!(validate_relative_path(bad).is_err(), "{bad:?} should be rejected");
    }
    let max_component = "x".repeat(255);
    assert!(validate_relative_path(&max_component).is_ok());
}

#[test]
fn files_are_checked_for_duplicates_and_parent_clashes() {
    let policy = LimitPolicy::default();
    let ok = check_files(files(&[("a/b.txt", 1), ("a/c.txt", 2), ("b", 0)]), &policy).unwrap();
    assert_eq!(ok.len(), 3);
    assert_eq!(ok[1].path, "a/c.txt");
    assert_eq!(ok[1].content, b"xx");

    let err = check_files(files(&[("a", 1), ("a", 1)]), &policy).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let err = check_files(files(&[("a/b/c", 1), ("a/b", 1)]), &policy).unwrap_err();
    assert!(err.to_string().contains("parent \"a/b\""), "{err}");
    let err = check_files(files(&[("../x", 1)]), &policy).unwrap_err();
    assert!(matches!(&err, ExecuteError::Invalid { field, .. } if field == "files[\"../x\"]"));
}

#[test]
fn file_count_and_sizes_are_capped() {
    let policy = LimitPolicy { max_files: 2, max_file_bytes: 10, max_files_total_bytes: 15, ..LimitPolicy::default() };
    let err = check_files(files(&[("a", 1), ("b", 1), ("c", 1)]), &policy).unwrap_err();
    assert!(matches!(err, ExecuteError::Invalid { .. }), "{err:?}");
    let err = check_files(files(&[("a", 11)]), &policy).unwrap_err();
    assert!(matches!(err, ExecuteError::TooLarge { actual: 11, limit: 10, .. }), "{err:?}");
    let err = check_files(files(&[("a", 10), ("b", 6)]), &policy).unwrap_err();
    assert!(matches!(err, ExecuteError::TooLarge { actual: 16, limit: 15, .. }), "{err:?}");
    assert!(check_files(files(&[("a", 10), ("b", 5)]), &policy).is_ok());
}

#[test]
fn workspace_paths_take_any_name_within_the_kernels_bounds() {
    for ok in ["", "a b/ü:*?/.hidden", &"n".repeat(255), &"ab/".repeat(1365)] {
        assert_eq!(validate_workspace_path(ok), Ok(()), "{ok:?}");
    }
    let refused = [
        ("a/../b".to_string(), "\"..\""),
        ("a\0b".to_string(), "NUL"),
        ("n".repeat(256), "256 bytes, over 255"),
        ("a/".repeat(30_000), "60000 bytes, over 4096"),
    ];
    for (path, why) in refused {
        let err = validate_workspace_path(&path).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
}
