//! Query strings of the Rooms API's lists: deepObject filters (`filter[date_created_at][gte]`,
//! keys percent-encoded by the SDKs), `page[number]`/`page[size]`, `include_*` flags.
//!
//! Every parameter is checked: an unknown one, a repeated one or a bad value is a 400/422
//! naming it (`source.parameter`), never ignored.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::error::RoomsError;
use crate::rooms::model::{Page, TimeRange};

/// `page[size]` bounds and default.
pub const MAX_PAGE_SIZE: u32 = 250;
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The longest query string read.
const MAX_QUERY_BYTES: usize = 8192;

/// A request's parameters, each taken once by the handler that knows it.
#[derive(Debug)]
pub struct Query {
    params: BTreeMap<String, String>,
}

impl Query {
    /// Parses a raw query string (keys and values percent-decoded).
    pub fn parse(raw: Option<&str>) -> Result<Self, RoomsError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_BYTES {
            return Err(RoomsError::bad_request(format!(
                "the query string is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| RoomsError::bad_request(format!("the query string is malformed: {e}")))?;
        let mut params = BTreeMap::new();
        for (k, v) in pairs {
            if params.contains_key(&k) {
                return Err(
                    RoomsError::bad_request(format!("{k} is given more than once"))
                        .with_parameter(&k),
                );
            }
            params.insert(k, v);
        }
        Ok(Query { params })
    }

    /// Takes a string parameter.
    pub fn string(&mut self, name: &str) -> Option<String> {
        self.params.remove(name)
    }

    /// Takes a boolean parameter (`true`/`false`).
    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, RoomsError> {
        match self.params.remove(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(invalid(
                name,
                format!("{name} must be true or false, not {other:?}"),
            )),
        }
    }

    /// Takes `page[number]` and `page[size]`.
    pub fn page(&mut self) -> Result<Page, RoomsError> {
        let number = self.number("page[number]", 1, u32::MAX / MAX_PAGE_SIZE)?;
        let size = self.number("page[size]", 1, MAX_PAGE_SIZE)?;
        Ok(Page {
            number: number.unwrap_or(1),
            size: size.unwrap_or(DEFAULT_PAGE_SIZE),
        })
    }

    fn number(&mut self, name: &str, min: u32, max: u32) -> Result<Option<u32>, RoomsError> {
        let Some(text) = self.params.remove(name) else {
            return Ok(None);
        };
        match text.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(
                name,
                format!("{name} must be an integer from {min} to {max}, not {text:?}"),
            )),
        }
    }

    /// Takes `filter[<name>][eq|gte|lte]` (a date `YYYY-MM-DD` or an RFC 3339 time).
    pub fn time_range(&mut self, name: &str) -> Result<TimeRange, RoomsError> {
        let mut range = TimeRange::default();
        for op in ["eq", "gte", "lte"] {
            let key = format!("filter[{name}][{op}]");
            let Some(text) = self.params.remove(&key) else {
                continue;
            };
            let (start, end) = parse_time(&text).ok_or_else(|| {
                invalid(
                    &key,
                    format!(
                        "{key} must be a date (2026-11-29) or an ISO 8601 time \
                         (2026-11-29T10:00:00Z), not {text:?}"
                    ),
                )
            })?;
            match op {
                "eq" => {
                    range.from = Some(range.from.map_or(start, |f| f.max(start)));
                    range.to = Some(range.to.map_or(end, |t| t.min(end)));
                }
                "gte" => range.from = Some(range.from.map_or(start, |f| f.max(start))),
                _ => range.to = Some(range.to.map_or(end, |t| t.min(end))),
            }
        }
        Ok(range)
    }

    /// Fails on any parameter no one took.
    pub fn finish(self) -> Result<(), RoomsError> {
        match self.params.into_keys().next() {
            None => Ok(()),
            Some(k) => Err(RoomsError::bad_request(format!(
                "unknown query parameter {k:?} for this endpoint"
            ))
            .with_parameter(&k)),
        }
    }
}

fn invalid(name: &str, detail: String) -> RoomsError {
    RoomsError::invalid(name, detail).with_parameter(name)
}

/// A date or time as the inclusive millisecond range it names: a day, or one instant.
fn parse_time(text: &str) -> Option<(i64, i64)> {
    if let Ok(date) = time::Date::parse(text, format_description!("[year]-[month]-[day]")) {
        let start = date.midnight().assume_utc().unix_timestamp() * 1000;
        return Some((start, start + 86_400_000 - 1));
    }
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some((ms, ms))
}

/// An ISO 8601 UTC time with milliseconds, as the Rooms API writes times.
pub fn iso(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_filters_and_pages() {
        let mut q = Query::parse(Some(
            "filter%5Bdate_created_at%5D%5Bgte%5D=2026-11-29&page%5Bnumber%5D=2&page[size]=5",
        ))
        .unwrap();
        let r = q.time_range("date_created_at").unwrap();
        assert_eq!(r.from, Some(1_795_910_400_000));
        assert_eq!(r.to, None);
        assert_eq!(q.page().unwrap(), Page { number: 2, size: 5 });
        q.finish().unwrap();
    }

    #[test]
    fn eq_on_a_date_is_that_day_and_on_a_time_that_instant() {
        let mut q = Query::parse(Some(
            "filter[a][eq]=2026-11-29&filter[b][eq]=2026-11-29T01:02:03.004Z",
        ))
        .unwrap();
        let a = q.time_range("a").unwrap();
        assert_eq!(a.to.unwrap() - a.from.unwrap(), 86_400_000 - 1);
        let b = q.time_range("b").unwrap();
        assert_eq!(b.from, b.to);
        assert_eq!(iso(b.from.unwrap()), "2026-11-29T01:02:03.004Z");
    }

    #[test]
    fn bad_parameters_are_named() {
        for (raw, name) in [
            ("page[size]=0", "page[size]"),
            ("page[size]=251", "page[size]"),
            ("page[number]=x", "page[number]"),
            (
                "filter[date_created_at][gte]=yesterday",
                "filter[date_created_at][gte]",
            ),
        ] {
            let mut q = Query::parse(Some(raw)).unwrap();
            let e = q
                .page()
                .and_then(|_| {
                    q.time_range("date_created_at")
                        .map(|_| ())
                        .map(|_| Page { number: 1, size: 1 })
                })
                .unwrap_err();
            assert!(e.detail.contains(name), "{raw}: {}", e.detail);
        }
        let q = Query::parse(Some("filter[nope]=1")).unwrap();
        assert!(q.finish().unwrap_err().detail.contains("filter[nope]"));
        assert!(Query::parse(Some("a=1&a=2")).is_err());
    }
}
