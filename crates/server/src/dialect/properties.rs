//! Properties of the unwrapping of `generated_code`, over arbitrary text.

use proptest::prelude::*;

use super::python_literal::parse_str_dict;
use super::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, ..ProptestConfig::default() }
}

/// Python's spelling of `s` as a string literal, each character either as itself (when it
/// needs no escape) or escaped the way `repr` and people write it.
fn python_literal(s: &str, escape: &[bool], quote: char) -> String {
    let mut out = String::from(quote);
    for (c, &escaped) in s.chars().zip(escape.iter().cycle()) {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !escaped && (' '..='~').contains(&c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Text with no line that opens or closes a fence.
fn fence_free_body() -> impl Strategy<Value = String> {
    prop::collection::vec("[^\n]{0,40}", 0..8).prop_map(|lines| {
        lines.into_iter().filter(|l| !l.trim_start().starts_with("```")).map(|l| format!("{l}\n")).collect::<String>()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_text_makes_the_unwrapping_panic(text in any::<String>()) {
        let _ = unwrap_generated_code(&text);
        let _ = fenced_block(&text);
        let _ = parse_str_dict(&text);
    }

    #[test]
    fn dict_like_text_makes_nothing_panic(body in r#"[{}'"\\:, a-z_\nxuU0-9]{0,80}"#) {
        let text = format!("{{'generated_code': {body}");
        let _ = unwrap_generated_code(&text);
        let _ = parse_str_dict(&text);
    }

    #[test]
    fn a_python_literal_of_a_string_unwraps_to_it(
        s in any::<String>(),
        escape in prop::collection::vec(any::<bool>(), 1..8),
        double in any::<bool>(),
    ) {
        let literal = python_literal(&s, &escape, if double { '"' } else { '\'' });
        let dict = format!("{{'generated_code': {literal}, 'timeout': 5}}");
        let entries = parse_str_dict(&dict);
        prop_assert_eq!(entries, Some(vec![("generated_code".to_string(), s.clone())]));
        // The whole unwrapping gives it back too, unless it is itself wrapped.
        if !s.contains("```") && !s.trim_start().starts_with('{') {
            prop_assert_eq!(unwrap_generated_code(&dict), s);
        }
    }

    #[test]
    fn a_json_object_of_a_string_unwraps_to_it(s in any::<String>()) {
        let json = serde_json::json!({ "generated_code": s }).to_string();
        if !s.contains("```") && !s.trim_start().starts_with('{') {
            prop_assert_eq!(unwrap_generated_code(&json), s);
        }
    }

    #[test]
    fn a_fenced_block_unwraps_to_its_body(
        body in fence_free_body(),
        prose in fence_free_body(),
        tag in prop::sample::select(vec!["", "python", "py", "Python3", "js", "bash"]),
    ) {
        let fenced = format!("{prose}```{tag}\n{body}```\nThat is all.\n");
        prop_assert_eq!(fenced_block(&fenced), Some(body.as_str()));
        // Left open at the end (truncated model output), it runs to the end.
        let open = format!("```{tag}\n{body}");
        prop_assert_eq!(fenced_block(&open), Some(body.as_str()));
        if !body.trim_start().starts_with('{') {
            prop_assert_eq!(unwrap_generated_code(&fenced), body);
        }
    }
}
