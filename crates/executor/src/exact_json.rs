//! A JSON value kept as its exact text. A handler's `10**30`, `2**64` or `2n ** 70n` must come
//! back with every digit, which `serde_json::Value` cannot hold: without the
//! `arbitrary_precision` feature (which the workspace cannot turn on: it breaks internally
//! tagged enums) an integer past 64 bits becomes an f64.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// How deeply a handler's or a cell's value may nest: the result holding it then nests at
/// most 127 levels, as deep as serde_json (and so many clients) reads by default. It is also
/// as deep as the daemon took values when it parsed them.
pub const MAX_VALUE_DEPTH: usize = 126;

/// Valid JSON, written compactly: no whitespace between tokens, strings as serde_json writes
/// them (UTF-8, minimal escapes), numbers and literals exactly as the writer sent them.
#[derive(Clone)]
pub struct ExactJson(Box<RawValue>);

impl ExactJson {
    /// Validates `text` as one JSON value and keeps it in the compact form.
    pub fn parse(text: &str) -> Result<ExactJson, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        ExactJson::compacted(raw.get())
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// How deeply arrays and objects nest in it (a scalar is 0, `[]` is 1).
    pub fn depth(&self) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
        for &b in self.get().as_bytes() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    /// `text` must already be valid JSON.
    fn compacted(text: &str) -> Result<ExactJson, serde_json::Error> {
        RawValue::from_string(compact(text)?).map(ExactJson)
    }
}

impl PartialEq for ExactJson {
    fn eq(&self, other: &ExactJson) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for ExactJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl fmt::Display for ExactJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl Serialize for ExactJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ExactJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ExactJson, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        ExactJson::compacted(raw.get()).map_err(D::Error::custom)
    }
}

/// `text` (valid JSON) without whitespace outside strings, each string decoded and written
/// again the way serde_json writes strings (so a lone surrogate escape is refused, as a
/// `Value` refuses it). Numbers, literals and punctuation are copied byte for byte.
fn compact(text: &str) -> Result<String, serde_json::Error> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let end = string_end(bytes, i);
                let decoded: String = serde_json::from_str(&text[i..end])?;
                out.push_str(&serde_json::to_string(&decoded)?);
                i = end;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'"') {
                    i += 1;
                }
                out.push_str(&text[start..i]);
            }
        }
    }
    Ok(out)
}

/// The index just past the string whose opening quote is at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::ExactJson;

    fn compact(text: &str) -> String {
        ExactJson::parse(text).unwrap().get().to_string()
    }

    #[test]
    fn numbers_keep_every_digit() {
        assert_eq!(compact("1000000000000000000000000000000"), "1000000000000000000000000000000");
        let text = r#"{"big": 18446744073709551616, "neg": -1180591620717411303424, "f": [0.1, 1e+300, 1.0]}"#;
        assert_eq!(compact(text), r#"{"big":18446744073709551616,"neg":-1180591620717411303424,"f":[0.1,1e+300,1.0]}"#);
    }

    #[test]
    fn whitespace_goes_and_strings_are_written_as_serde_json_writes_them() {
        let text = " {\n\t\"h\\u00e9llo \\\"q\\\" \\/\" : [ true , null , \"a b\\n\" ] }\r\n";
        assert_eq!(compact(text), "{\"héllo \\\"q\\\" /\":[true,null,\"a b\\n\"]}");
        assert_eq!(compact(r#""\ud83d\ude00""#), "\"😀\"");
    }

    #[test]
    fn depth_counts_nesting_outside_strings() {
        let depth = |text: &str| ExactJson::parse(text).unwrap().depth();
        assert_eq!(depth("7"), 0);
        assert_eq!(depth("[]"), 1);
        assert_eq!(depth(r#"{"a":[1,{"b":[]}],"c":{}}"#), 4);
        assert_eq!(depth(r#"["[[[{", "\"[[", {}]"#), 2);
        assert_eq!(depth(&format!("{}{}", "[".repeat(5000), "]".repeat(5000))), 5000);
    }

    #[test]
    fn what_is_not_json_is_refused() {
        for text in ["", "{", "[1,]", "NaN", "1 2", r#""\ud800""#, "{\"a\":1}x"] {
            assert!(ExactJson::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn serialises_as_the_text_and_reads_back_the_same() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Holder {
            value: Option<ExactJson>,
        }
        let holder: Holder = serde_json::from_str(r#"{"value": [ 123456789012345678901234567890 ]}"#).unwrap();
        let text = serde_json::to_string(&holder).unwrap();
        assert_eq!(text, r#"{"value":[123456789012345678901234567890]}"#);
        let again: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(again.value, holder.value);
        let none: Holder = serde_json::from_str(r#"{"value": null}"#).unwrap();
        assert!(none.value.is_none());
    }
}
