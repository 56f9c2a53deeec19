//! JSON bodies of the Rooms API, read field by field so that every bad value is named
//! (`source.pointer`). An empty body is `{}` (the SDKs send one for calls without
//! parameters, and `sessions.actions.end` sends none at all).

use axum::body::Bytes;
use serde_json::{Map, Value};

use super::error::RoomsError;

/// A request body: a JSON object whose fields are taken one by one.
#[derive(Debug)]
pub struct Body {
    fields: Map<String, Value>,
}

/// A field that may be given, given as null, or absent (PATCH tells them apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

impl Body {
    pub fn parse(bytes: &Bytes) -> Result<Self, RoomsError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body { fields: Map::new() });
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(fields)) => Ok(Body { fields }),
            Ok(_) => Err(RoomsError::bad_request("the body must be a JSON object")),
            Err(e) => Err(RoomsError::bad_request(format!(
                "the body is not valid JSON: {e}"
            ))),
        }
    }

    fn take(&mut self, name: &str) -> Field<Value> {
        match self.fields.remove(name) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Value(v),
        }
    }

    /// A string of 1 to `max` characters.
    pub fn string(&mut self, name: &str, max: usize) -> Result<Field<String>, RoomsError> {
        match self.take(name) {
            Field::Value(Value::String(s)) => {
                let n = s.chars().count();
                if n == 0 || n > max {
                    Err(RoomsError::invalid(
                        name,
                        format!("{name} must be 1 to {max} characters, not {n}"),
                    ))
                } else {
                    Ok(Field::Value(s))
                }
            }
            Field::Value(_) => Err(RoomsError::invalid(
                name,
                format!("{name} must be a string"),
            )),
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// An integer within `min..=max`.
    pub fn integer(&mut self, name: &str, min: i64, max: i64) -> Result<Field<i64>, RoomsError> {
        match self.take(name) {
            Field::Value(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Field::Value(n)),
                _ => Err(RoomsError::invalid(
                    name,
                    format!("{name} must be an integer from {min} to {max}, not {v}"),
                )),
            },
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    pub fn boolean(&mut self, name: &str) -> Result<Field<bool>, RoomsError> {
        match self.take(name) {
            Field::Value(Value::Bool(b)) => Ok(Field::Value(b)),
            Field::Value(v) => Err(RoomsError::invalid(
                name,
                format!("{name} must be true or false, not {v}"),
            )),
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// An http(s) URL (a webhook's).
    pub fn url(&mut self, name: &str) -> Result<Field<String>, RoomsError> {
        let field = self.string(name, 2048)?;
        if let Field::Value(u) = &field {
            let ok = reqwest::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !ok {
                return Err(RoomsError::invalid(
                    name,
                    format!("{name} must be an http or https URL, not {u:?}"),
                ));
            }
        }
        Ok(field)
    }

    /// `participants: "all" | [ids]` (absent: all) and `exclude: [ids]` of a session action.
    pub fn participants(&mut self) -> Result<(Option<Vec<String>>, Vec<String>), RoomsError> {
        let targets = match self.take("participants") {
            Field::Absent | Field::Null => None,
            Field::Value(Value::String(s)) if s == "all" => None,
            Field::Value(v) => Some(Self::ids("participants", v)?),
        };
        let exclude = match self.take("exclude") {
            Field::Absent | Field::Null => Vec::new(),
            Field::Value(v) => Self::ids("exclude", v)?,
        };
        Ok((targets, exclude))
    }

    fn ids(name: &str, v: Value) -> Result<Vec<String>, RoomsError> {
        let bad = || {
            RoomsError::invalid(
                name,
                format!("{name} must be \"all\" or an array of participant ids"),
            )
        };
        let Value::Array(items) = v else {
            return Err(bad());
        };
        if items.len() > 1000 {
            return Err(RoomsError::invalid(
                name,
                format!("{name} lists more than 1000 participants"),
            ));
        }
        items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect()
    }

    /// Fails on any field no one took.
    pub fn finish(self) -> Result<(), RoomsError> {
        match self.fields.into_iter().next() {
            None => Ok(()),
            Some((k, _)) => Err(RoomsError::invalid(
                &k,
                format!("unknown field {k:?} for this endpoint"),
            )),
        }
    }
}
