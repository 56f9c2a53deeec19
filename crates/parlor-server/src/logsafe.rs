//! Client-supplied text, made safe to log.
//!
//! Anything a client sends before (or without) being authenticated can contain newlines
//! and terminal escape sequences that would forge log lines, or be tens of kilobytes long.
//! Wrap such values in [`Untrusted`] wherever they are logged: control characters are
//! escaped (`\n`, `\u{1b}`), and the value is cut after [`MAX_LOGGED_CHARS`] characters
//! with a note of its full length.

use std::fmt;

/// The most characters of one untrusted value written to the log.
pub const MAX_LOGGED_CHARS: usize = 128;

/// Displays client-supplied text escaped and truncated. `tracing::info!(x = %Untrusted(s))`.
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.chars().enumerate() {
            if i == MAX_LOGGED_CHARS {
                return write!(f, "…({} bytes in all)", self.0.len());
            }
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_truncates() {
        let forged = "1_MX4\n2026-01-01T00:00:00Z ERROR \u{1b}[31mfake\u{1b}[0m";
        let shown = Untrusted(forged).to_string();
        assert!(!shown.chars().any(|c| c.is_control()), "{shown}");
        assert!(shown.contains("\\n") && shown.contains("\\u{1b}"));
        let long = "a".repeat(60_000);
        let shown = Untrusted(&long).to_string();
        assert!(shown.len() < MAX_LOGGED_CHARS + 40, "{}", shown.len());
        assert!(shown.ends_with("…(60000 bytes in all)"));
        assert_eq!(Untrusted("plain ünïcode").to_string(), "plain ünïcode");
    }
}
