//! Duration settings: how they are written (`90`, `15m`, `250ms`, `off`) and read.

use std::time::Duration;

use super::ConfigError;

/// A duration setting: whole seconds (`90`) or a number with a unit (`90s`, `15m`, `72h`,
/// `3d`); `None` for anything else, zero, or more than ten years.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = n.checked_mul(match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    })?;
    (1..=10 * 365 * 86_400)
        .contains(&secs)
        .then(|| Duration::from_secs(secs))
}

/// A duration in milliseconds (`250ms`) or as [`parse_duration`] reads it.
pub fn parse_short_duration(text: &str) -> Option<Duration> {
    match text.trim().strip_suffix("ms") {
        Some(ms) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => {
            ms.parse().ok().map(Duration::from_millis)
        }
        Some(_) => None,
        None => parse_duration(text),
    }
}

/// An interval setting that can be `off`: `None` given → `default`; `off` → `None`; else
/// what `parse` accepts, or [`ConfigError::BadInterval`] naming `flag` and saying what is
/// `allowed`.
pub(super) fn interval_or_off(
    value: Option<String>,
    flag: &'static str,
    allowed: &'static str,
    default: Duration,
    parse: impl Fn(&str) -> Option<Duration>,
) -> Result<Option<Duration>, ConfigError> {
    match value {
        None => Ok(Some(default)),
        Some(v) if v.trim() == "off" => Ok(None),
        Some(v) => parse(&v)
            .map(Some)
            .ok_or(ConfigError::BadInterval(flag, v, allowed)),
    }
}
