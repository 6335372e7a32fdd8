//! Deserializers that hold request fields to the shape the API documents: serde's derived
//! structs also take a JSON array of their fields, and its integers refuse `5.0`, which JSON
//! Schema (and so every generated client) counts as the integer 5.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Error, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

/// An optional whole number, also when written with a zero fraction (`300.0`).
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    let expected = &"a whole number, at least 0";
    if let Some(n) = number.as_u64() {
        return Ok(Some(n));
    }
    if let Some(n) = number.as_i64() {
        return Err(D::Error::invalid_value(Unexpected::Signed(n), expected));
    }
    match number.as_f64() {
        // Below 2^53 every whole f64 is exact.
        Some(f) if f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&f) => Ok(Some(f as u64)),
        Some(f) => Err(D::Error::invalid_value(Unexpected::Float(f), expected)),
        None => Err(D::Error::invalid_value(Unexpected::Other("number"), expected)),
    }
}

/// An optional object: `null` or absent is `None`, and an array is refused.
pub fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    d.deserialize_option(Optional(PhantomData))
}

/// An object, never an array of its fields.
pub fn required_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(Object(PhantomData))
}

/// Hands the map itself to `T`, so that errors keep the path of the field inside it.
struct Object<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

struct Optional<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Optional<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or null")
    }

    fn visit_none<E: Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        required_object(d).map(Some)
    }
}
