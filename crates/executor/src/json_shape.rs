//! Deserializers that hold request fields to the shape the API documents: serde's derived
//! structs also take a JSON array of their fields, and its integers refuse `5.0`, which JSON
//! Schema (and so every generated client) counts as the integer 5.

use serde::de::{DeserializeOwned, Error, Unexpected};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An optional whole number, also when written with a zero fraction (`300.0`).
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    if let Some(n) = number.as_u64() {
        return Ok(Some(n));
    }
    match number.as_f64() {
        // Below 2^53 every whole f64 is exact.
        Some(f) if f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&f) => Ok(Some(f as u64)),
        Some(f) => Err(D::Error::invalid_value(Unexpected::Float(f), &"a whole number, at least 0")),
        None => Err(D::Error::invalid_value(Unexpected::Other("number"), &"a whole number, at least 0")),
    }
}

/// An optional object: `null` or absent is `None`, and an array is refused.
pub fn optional_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None => Ok(None),
        Some(value) => object(value).map(Some),
    }
}

/// An object, never an array of its fields.
pub fn required_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    object(Value::deserialize(d)?)
}

fn object<T: DeserializeOwned, E: Error>(value: Value) -> Result<T, E> {
    match value {
        Value::Object(_) => T::deserialize(value).map_err(E::custom),
        Value::Array(_) => Err(E::invalid_type(Unexpected::Seq, &"a JSON object")),
        other => T::deserialize(other).map_err(E::custom),
    }
}
