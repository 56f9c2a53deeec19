//! HLS: the encoder's `tee` muxer writes the segments and the playlist itself (encoded
//! once, no second process), and a watcher thread says when the first segment is listed.
//!
//! The alternative, a second ffmpeg remuxing the fan-out's TS (`-c copy -f hls`), was
//! measured at 1.6 % of a core for a 2.6 Mbps stream: cheap, but one more process,
//! pipe and failure to handle, for an isolation that `onfail=ignore` (below) gives too.
//!
//! | mode | segments | playlist | GOP |
//! |---|---|---|---|
//! | normal | 2 s | rolling, 6 entries, older segments deleted (`delete_segments`) | 2 s |
//! | `dvr` | 2 s | every segment (`hls_list_size 0`, `hls_playlist_type event`) | 2 s |
//! | `low_latency` | 1 s | rolling, 6 entries (or all with `dvr`) | 1 s |
//!
//! The playlist is `dir/index.m3u8`, segments `dir/seg-00000.ts` …; `temp_file` makes
//! ffmpeg write both under a temporary name and rename them into place, so a reader
//! never sees half a playlist or a growing segment. `independent_segments` is declared
//! (each segment starts with a key frame: the GOP is fixed at the segment length,
//! `sc_threshold 0`). After an encoder restart the new ffmpeg appends to the existing
//! playlist (`append_list`), which keeps the numbering and marks a discontinuity. The
//! HLS slave is `onfail=ignore`: if writing HLS fails (disk full, directory removed),
//! HLS stops but the encoder and the RTMP targets go on.
//!
//! Expected latency (glass to glass, players start three segments from the live edge):
//! about 3 × segment + ~0.5 s: 6–7 s normally, 3–4 s with `low_latency`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::proc::Signal;
use super::{EventSink, HlsConfig, LiveEvent};

/// The playlist's file name in the HLS directory.
pub const PLAYLIST: &str = "index.m3u8";
/// The segments' file name pattern in the HLS directory.
pub const SEGMENT_PATTERN: &str = "seg-%05d.ts";

/// Segment length in seconds (also the GOP length).
pub(crate) fn segment_secs(cfg: &HlsConfig) -> u32 {
    if cfg.low_latency { 1 } else { 2 }
}

/// Escapes `s` for one level of ffmpeg's `av_get_token` parsing: a backslash before
/// every ASCII character that is not a letter, digit, `/`, `.`, `-`, `_`, `+` or `%`
/// (those are never delimiters, quotes or escapes).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii()
            && !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '+' | '%'))
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `tee` muxer's slave for HLS: `[f=hls:opt=val:…]dir/index.m3u8`.
///
/// The tee output is parsed twice: the slave list is split on `|` by `av_get_token`
/// (which unescapes once), then each slave's options are split on `:` by
/// `av_opt_get_key_value` (`av_get_token` again); the file name after `]` is used as
/// it is after the first level. So option values are escaped twice and the file name
/// once. `%` in the directory is doubled for the segment pattern.
pub(crate) fn tee_slave(cfg: &HlsConfig, append: bool) -> String {
    let dir = cfg.dir.to_string_lossy();
    let segments = format!("{}/{SEGMENT_PATTERN}", dir.replace('%', "%%"));
    let mut flags = vec!["temp_file", "independent_segments"];
    if !cfg.dvr {
        flags.push("delete_segments");
    }
    if append {
        flags.extend(["append_list", "discont_start"]);
    }
    let mut opts: Vec<(&str, String)> = vec![
        ("f", "hls".into()),
        // A failing HLS write (disk full, directory removed) stops HLS, not the
        // encoder: the RTMP targets go on.
        ("onfail", "ignore".into()),
        ("hls_time", segment_secs(cfg).to_string()),
        ("hls_list_size", if cfg.dvr { "0" } else { "6" }.into()),
        ("hls_flags", flags.join("+")),
        ("hls_segment_filename", segments),
    ];
    if cfg.dvr {
        opts.push(("hls_playlist_type", "event".into()));
    }
    let opts: Vec<String> = opts
        .into_iter()
        .map(|(k, v)| format!("{k}={}", escape(&escape(&v))))
        .collect();
    format!(
        "[{}]{}",
        opts.join(":"),
        escape(&format!("{dir}/{PLAYLIST}"))
    )
}

/// Whether a playlist lists at least one segment.
fn has_segment(playlist: &str) -> bool {
    playlist.lines().any(|l| l.starts_with("#EXTINF"))
}

/// Watches `dir/index.m3u8` until it lists a segment: sends [`LiveEvent::HlsReady`] and
/// records how long it took after `started`. Stops early when `stop` is set.
pub(crate) fn watch(
    dir: &Path,
    started: Instant,
    ready_after: Arc<std::sync::Mutex<Option<Duration>>>,
    events: EventSink,
    stop: Arc<Signal>,
) {
    let path = dir.join(PLAYLIST);
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if has_segment(&text) {
                let after = started.elapsed();
                *super::proc::lock(&ready_after) = Some(after);
                tracing::info!(after_ms = after.as_millis() as u64, "HLS playlist ready");
                events(LiveEvent::HlsReady);
                return;
            }
        }
        if stop.wait(Duration::from_millis(100)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn cfg(dir: &str, dvr: bool, low_latency: bool) -> HlsConfig {
        HlsConfig {
            dir: PathBuf::from(dir),
            dvr,
            low_latency,
        }
    }

    #[test]
    fn slave_options_by_mode() {
        let s = tee_slave(&cfg("/srv/hls/b1", false, false), false);
        assert_eq!(
            s,
            "[f=hls:onfail=ignore:hls_time=2:hls_list_size=6:\
             hls_flags=temp_file+independent_segments+delete_segments:\
             hls_segment_filename=/srv/hls/b1/seg-%05d.ts]/srv/hls/b1/index.m3u8"
        );
        let s = tee_slave(&cfg("/h", true, true), true);
        assert!(s.contains("hls_time=1:hls_list_size=0:"), "{s}");
        assert!(!s.contains("delete_segments"), "{s}");
        assert!(s.contains("append_list"), "{s}");
        assert!(s.contains("hls_playlist_type=event"), "{s}");
    }

    #[test]
    fn special_characters_are_escaped_per_level() {
        assert_eq!(escape("a:b|c d"), "a\\:b\\|c\\ d");
        let s = tee_slave(&cfg("/tmp/we:ird|dir%", false, false), false);
        // Option value: escaped twice; `%` doubled for the pattern first.
        assert!(
            s.contains("hls_segment_filename=/tmp/we\\\\\\:ird\\\\\\|dir%%/seg-%05d.ts]"),
            "{s}"
        );
        // File name: escaped once.
        assert!(s.ends_with("]/tmp/we\\:ird\\|dir%/index.m3u8"), "{s}");
    }

    #[test]
    fn readiness_needs_a_segment() {
        assert!(!has_segment("#EXTM3U\n#EXT-X-VERSION:3\n"));
        assert!(has_segment("#EXTM3U\n#EXTINF:2.0,\nseg-00000.ts\n"));
    }
}
