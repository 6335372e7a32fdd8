//! The validators' rules as ECMA-262 regular expressions, for the OpenAPI document: a client
//! generated from it (or a schema-driven tester) sends exactly what the validators accept.
//! The tests below hold each pattern to its validator.

/// An execution, session or tenant id (see [`super::check_id`]): the alphabet, not only dots.
pub const ID: &str = "^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$";
/// Longest id, in characters (all ASCII).
pub const ID_MAX_LEN: usize = super::MAX_ID_LEN;

/// `scope`: no control characters (Unicode's Cc category, as `char::is_control`).
pub const SCOPE: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
pub const SCOPE_MAX_LEN: usize = super::MAX_SCOPE_CHARS;

/// An environment variable's name.
pub const ENV_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]{0,127}$";
/// An environment variable's value: no NUL.
pub const ENV_VALUE: &str = "^[^\\u0000]*$";
pub const ENV_MAX_VARS: usize = super::env::MAX_VARS;

/// Code that runs something: not empty, not only whitespace.
pub const CODE: &str = "\\S";

/// A relative file path in a workspace (see [`super::validate_relative_path`]): components of
/// A-Z a-z 0-9 `_ . @ + = -` and space, none empty, all dots, or starting or ending with a
/// space.
pub const RELATIVE_PATH: &str = concat!(
    "^(?:[A-Za-z0-9_@+=-](?:[A-Za-z0-9_.@+= -]*[A-Za-z0-9_.@+=-])?",
    "|\\.+(?:[A-Za-z0-9_@+=-](?:[A-Za-z0-9_.@+= -]*[A-Za-z0-9_.@+=-])?|[ ][A-Za-z0-9_.@+= -]*[A-Za-z0-9_.@+=-]))",
    "(?:/(?:[A-Za-z0-9_@+=-](?:[A-Za-z0-9_.@+= -]*[A-Za-z0-9_.@+=-])?",
    "|\\.+(?:[A-Za-z0-9_@+=-](?:[A-Za-z0-9_.@+= -]*[A-Za-z0-9_.@+=-])?|[ ][A-Za-z0-9_.@+= -]*[A-Za-z0-9_.@+=-])))*$"
);
pub const RELATIVE_PATH_MAX_LEN: usize = super::files::MAX_PATH_BYTES;

/// Base64 as the daemon decodes it: the standard alphabet, padding optional, ASCII
/// whitespace anywhere.
pub const BASE64: &str = concat!(
    "^[ \\t\\n\\f\\r]*(?:(?:[A-Za-z0-9+/][ \\t\\n\\f\\r]*){4})*",
    "(?:(?:[A-Za-z0-9+/][ \\t\\n\\f\\r]*){2}(?:=[ \\t\\n\\f\\r]*=[ \\t\\n\\f\\r]*)?",
    "|(?:[A-Za-z0-9+/][ \\t\\n\\f\\r]*){3}(?:=[ \\t\\n\\f\\r]*)?)?$"
);

/// A template's name (see `templates::check_name`).
pub const TEMPLATE_NAME: &str = "^[a-z0-9][a-z0-9-]{0,62}$";

// A package spec: no archive file name (any case, trailing spaces aside), no word starting
// with `-` (an option).
macro_rules! package_guards {
    () => {
        concat!(
            "(?!.*\\.(?:[Ww][Hh][Ll]|[Zz][Ii][Pp]|[Tt][Aa][Rr]|[Tt][Gg][Zz]|[Tt][Aa][Rr]\\.[Gg][Zz]",
            "|[Tt][Aa][Rr]\\.[Bb][Zz]2|[Tt][Bb][Zz]|[Tt][Aa][Rr]\\.[Xx][Zz]|[Tt][Xx][Zz]) *$)(?!(?:.* )?-)"
        )
    };
}

/// A pip requirement: a name first (after spaces), no `@` or `/`.
pub const PIP_PACKAGE: &str = concat!("^", package_guards!(), " *[A-Za-z0-9][A-Za-z0-9._\\[\\],<>=!~^* -]*$");
/// An npm package spec: a name first, or `@scope/name` (one `/`, only there).
pub const NPM_PACKAGE: &str = concat!(
    "^",
    package_guards!(),
    "(?:@[A-Za-z0-9._\\[\\],<>=!~@^* -]+/(?!@)[A-Za-z0-9._\\[\\],<>=!~@^* -]+",
    "|[A-Za-z0-9][A-Za-z0-9._\\[\\],<>=!~@^* -]*)$"
);
pub const PACKAGE_MAX_LEN: usize = crate::templates::MAX_SPEC_LEN;
pub const MAX_PACKAGES: usize = crate::templates::MAX_PACKAGES;
pub const TEMPLATE_DESCRIPTION_MAX_LEN: usize = crate::templates::MAX_DESCRIPTION_CHARS;

/// An egress destination (see `egress::Destination::parse`): `*.` optionally, dot-separated
/// labels of letters, digits and hyphens (the last starting with a letter: no address
/// literal), `:port` optionally.
pub const EGRESS_DESTINATION: &str = concat!(
    "^(?:\\*\\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$"
);
pub const EGRESS_DESTINATION_MAX_LEN: usize = crate::egress::MAX_DESTINATION_LEN;
pub const EGRESS_MAX_DESTINATIONS: usize = crate::egress::MAX_DESTINATIONS;

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    fn agree(pattern: &str, valid: impl Fn(&str) -> bool, samples: &[&str]) {
        let re = Regex::new(pattern).unwrap();
        for s in samples {
            assert_eq!(re.is_match(s), valid(s), "pattern {pattern} and its validator disagree on {s:?}");
        }
    }

    #[test]
    fn id_pattern_is_the_id_check() {
        let samples = ["a", "A.b-c_9", ".", "..", "...x", "", "a/b", "a b", "ü", "x.", "-"];
        agree(ID, |s| super::super::check_id("id", s.to_owned()).is_ok(), &samples);
    }

    #[test]
    fn path_pattern_is_the_path_check() {
        let samples = [
            "a", "a/b", "a//b", "/a", "a/", ".", "..", "a/../b", ".a", ". a", ".. a", " a", "a ", "a b", "a/ .",
            "x/.y/z", "a\0b", "é", "a:b", "@+=-_", "...", "a/./b", ". .", ".a.",
        ];
        agree(RELATIVE_PATH, |s| super::super::validate_relative_path(s).is_ok(), &samples);
    }

    #[test]
    fn scope_and_env_patterns_are_their_checks() {
        let scopes = ["user:1", "", "a\nb", "tab\t", "\u{85}", "ok ünïcode"];
        agree(SCOPE, |s| super::super::check_scope(s.to_owned()).is_ok(), &scopes);
        let names = ["A", "_a1", "1a", "", "a-b", "ÄB"];
        agree(ENV_NAME, super::super::env::is_valid_name, &names);
    }

    #[test]
    fn egress_pattern_is_the_destination_check() {
        let samples = [
            "pypi.org",
            "*.example.com",
            "a.b:443",
            "A-b.c0:65535",
            "x",
            "x:0",
            "x:65536",
            "x:01",
            "1.2.3.4",
            "::1",
            "[::1]:80",
            "*.",
            "*",
            "a..b",
            "-a.b",
            "a-.b",
            "a.1b",
            "a_b.c",
            " a.b",
            "a.b ",
            "*.*.a",
            "a.b.",
            "10.0.0.0/8",
            "é.com",
            "a.b:",
            ":80",
        ];
        agree(EGRESS_DESTINATION, |s| crate::egress::Destination::parse(s).is_ok(), &samples);
    }
}
