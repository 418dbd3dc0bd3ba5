//! A JSON reader that refuses an array where a struct is expected.
//!
//! serde's derived `Deserialize` for a struct also accepts a sequence, filling the
//! fields in order (`{"phone":["11","987"]}` would read as a phone), and
//! `serde_json::Value` offers it one. Request bodies are objects all the way down, so
//! this wraps a `Value` and answers a struct asked of an array with serde's own
//! "invalid type" error; everything else is `Value`'s behaviour. (No crate offers the
//! switch; this is the smallest wrapper that does it.)

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_json::{Map, Value};

/// A JSON value read with structs refused from arrays, at every depth.
pub struct Strict(pub Value);

type Error = serde_json::Error;

impl<'de> Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Seq(items.into_iter())),
            Value::Object(map) => visitor.visit_map(Fields::new(map)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Fields::new(map)),
            Value::Array(_) => Err(de::Error::invalid_type(Unexpected::Seq, &visitor)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Strict(other)),
        }
    }

    /// `Value`'s own: serde_json's raw values are newtypes it alone knows how to fill.
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    // Scalars are `Value`'s own business; sequences and maps come through
    // `deserialize_any`, so their elements are `Strict` too.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Seq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|value| seed.deserialize(Strict(value))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Fields {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl Fields {
    fn new(map: Map<String, Value>) -> Self {
        Fields { entries: map.into_iter(), value: None }
    }
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        seed.deserialize(Strict(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Phone {
        area_code: Option<String>,
        number: Option<String>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        phone: Option<Phone>,
        tags: Option<Vec<Phone>>,
        extra: Option<serde_json::Map<String, Value>>,
    }

    fn read(json: &str) -> Result<Body, String> {
        let value: Value = serde_json::from_str(json).unwrap();
        serde_path_to_error::deserialize(Strict(value)).map_err(|e| format!("{}: {}", e.path().clone(), e.into_inner()))
    }

    #[test]
    fn objects_read_as_before() {
        let body =
            read(r#"{"phone":{"area_code":"11","number":"9"},"tags":[{"number":"1"}],"extra":{"a":[1]}}"#).unwrap();
        assert_eq!(body.phone.unwrap().number.as_deref(), Some("9"));
        assert_eq!(body.tags.unwrap().len(), 1);
        assert!(read(r#"{"phone":null}"#).unwrap().phone.is_none());
    }

    #[test]
    fn an_array_for_a_struct_is_refused_at_any_depth_with_its_path() {
        let error = read(r#"{"phone":["11","9"]}"#).unwrap_err();
        assert!(error.starts_with("phone: invalid type: sequence"), "{error}");
        let error = read(r#"{"tags":[["1"]]}"#).unwrap_err();
        assert!(error.starts_with("tags[0]: invalid type: sequence"), "{error}");
        assert!(read(r#"{"color":1}"#).unwrap_err().contains("unknown field"));
    }
}
