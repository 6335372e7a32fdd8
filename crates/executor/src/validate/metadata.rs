//! User metadata of a file (E2B's `metadata=` of `files.write`): kept as `user.e2b.<key>`
//! extended attributes, so checked against what the kernel and one filesystem block keep.

use std::collections::BTreeMap;

/// The attributes' namespace, counted in their names.
const PREFIX_LEN: usize = "user.e2b.".len();
/// An attribute's whole name is at most 255 bytes.
pub const MAX_METADATA_KEY_BYTES: usize = 255 - PREFIX_LEN;
/// Names and values of one file's metadata together: one 4 KiB block keeps them all.
pub const MAX_METADATA_BYTES: usize = 4096;

/// Whether `metadata` can be kept on a file: keys non-empty and short enough, keys and values
/// printable US-ASCII, all of it within one block.
pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<(), String> {
    let printable = |s: &str| s.bytes().all(|b| (0x20..=0x7e).contains(&b));
    let mut total = 0;
    for (key, value) in metadata {
        if key.is_empty() {
            return Err("a metadata key must not be empty".into());
        }
        if key.len() > MAX_METADATA_KEY_BYTES {
            return Err(format!("the metadata key {key:?} is over {MAX_METADATA_KEY_BYTES} bytes"));
        }
        if !printable(key) || !printable(value) {
            return Err(format!("the metadata {key:?} is not printable US-ASCII"));
        }
        total += PREFIX_LEN + key.len() + value.len();
    }
    if total > MAX_METADATA_BYTES {
        return Err(format!("the metadata take {total} bytes, over the {MAX_METADATA_BYTES} a file keeps"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_within_a_block_of_printable_text() {
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(validate_metadata(&one("owner", "alice")).is_ok());
        assert!(validate_metadata(&one("", "x")).is_err());
        assert!(validate_metadata(&one("k", "caf\u{e9}")).is_err());
        assert!(validate_metadata(&one(&"k".repeat(247), "")).is_err());
        assert!(validate_metadata(&one("k", &"v".repeat(4090))).is_err());
    }
}
