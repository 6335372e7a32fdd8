//! Properties of the path rules over arbitrary text: a path made of allowed components is
//! taken as it is, and no path that could leave the workspace ever is.

use proptest::prelude::*;

use super::validate_relative_path;

/// A component the rules allow: allowed characters, not only dots, no space at either end.
fn component() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.@+=-][A-Za-z0-9_.@+= -]{0,20}[A-Za-z0-9_.@+=-]|[A-Za-z0-9_@+=-]"
        .prop_filter("not only dots", |c| !c.bytes().all(|b| b == b'.'))
}

fn valid_path() -> impl Strategy<Value = String> {
    prop::collection::vec(component(), 1..12).prop_map(|parts| parts.join("/"))
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_path_of_allowed_components_is_taken_as_it_is(path in valid_path()) {
        prop_assert_eq!(validate_relative_path(&path), Ok(path.clone()));
    }

    #[test]
    fn a_dot_dot_component_anywhere_is_refused(
        before in prop::collection::vec(component(), 0..4),
        after in prop::collection::vec(component(), 0..4),
    ) {
        let path = before.into_iter().chain(["..".to_string()]).chain(after).collect::<Vec<_>>().join("/");
        prop_assert!(validate_relative_path(&path).is_err(), "{path:?} was taken");
    }

    #[test]
    fn an_absolute_path_is_refused(path in valid_path()) {
        let absolute = format!("/{path}");
        prop_assert!(validate_relative_path(&absolute).is_err());
    }

    #[test]
    fn a_nul_anywhere_is_refused(path in valid_path(), at in any::<prop::sample::Index>()) {
        let mut with_nul = path.clone();
        with_nul.insert(at.index(path.len() + 1), '\0');
        prop_assert!(validate_relative_path(&with_nul).is_err());
    }

    #[test]
    fn whatever_is_taken_stays_in_the_workspace(path in any::<String>()) {
        if let Ok(taken) = validate_relative_path(&path) {
            prop_assert_eq!(&taken, &path);
            prop_assert!(!taken.starts_with('/') && !taken.contains('\0'));
            prop_assert!(taken.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
        }
    }

    #[test]
    fn traversal_spellings_are_refused(
        path in valid_path(),
        before in prop::sample::select(vec!["", "../", "./", "/", ".//", "a/../"]),
        after in prop::sample::select(vec!["", "/..", "/.", "/", "//", "/../a"]),
    ) {
        prop_assume!(!before.is_empty() || !after.is_empty());
        let tricked = format!("{before}{path}{after}");
        prop_assert!(validate_relative_path(&tricked).is_err(), "{tricked:?} was taken");
    }
}
