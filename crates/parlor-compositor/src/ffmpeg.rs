//! Finding ffmpeg and ffprobe, which the compositor runs as child processes (they are
//! runtime tools, not linked libraries: Debian's `ffmpeg` package provides both).
//!
//! [`detect`] runs `ffmpeg -version` and checks what the compositor needs: the
//! `libx264` and `aac` encoders and the `amix` filter (whether it has `normalize`, added
//! in FFmpeg 4.4; without it the mix is weighted back up). The server calls it at start
//! and reports [`ToolMissing`] instead of failing the first composition.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the compositor knows about the ffmpeg it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegInfo {
    /// The `ffmpeg` executable.
    pub ffmpeg: PathBuf,
    /// The `ffprobe` executable (next to `ffmpeg`, else on `PATH`).
    pub ffprobe: PathBuf,
    /// The version string, e.g. `5.1.6-0+deb12u1`.
    pub version: String,
    /// The major version (0 if the version string is not numeric, as in git builds).
    pub major: u32,
    /// Whether `amix` has the `normalize` option.
    pub amix_normalize: bool,
}

/// ffmpeg, ffprobe or a needed part of them is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolMissing {
    /// The executable could not be run.
    #[error(
        "{tool} not found or not runnable ({reason}); composed archives need it: install Debian's ffmpeg package (apt-get install ffmpeg)"
    )]
    NotFound {
        /// `ffmpeg` or `ffprobe`.
        tool: String,
        /// Why it could not run.
        reason: String,
    },
    /// It runs but lacks an encoder or filter.
    #[error(
        "ffmpeg at {path} has no {what}; install Debian's ffmpeg package (apt-get install ffmpeg), which has it"
    )]
    Lacks {
        /// The ffmpeg that was found.
        path: String,
        /// What it lacks (`libx264 encoder`, …).
        what: String,
    },
}

/// Finds `ffmpeg` on `PATH` (or `PARLOR_FFMPEG` if set) and checks it; see the module
/// documentation.
pub fn detect() -> Result<FfmpegInfo, ToolMissing> {
    let ffmpeg = std::env::var_os("PARLOR_FFMPEG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("ffmpeg"));
    detect_at(&ffmpeg)
}

/// Like [`detect`], with an explicit `ffmpeg` path; `ffprobe` is looked for beside it.
pub fn detect_at(ffmpeg: &Path) -> Result<FfmpegInfo, ToolMissing> {
    let version_out =
        run(ffmpeg, &["-hide_banner", "-version"]).map_err(|reason| ToolMissing::NotFound {
            tool: format!("ffmpeg ({})", ffmpeg.display()),
            reason,
        })?;
    let version = version_out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("ffmpeg version "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("unknown")
        .to_owned();
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let lacks = |what: &str| ToolMissing::Lacks {
        path: ffmpeg.display().to_string(),
        what: what.to_owned(),
    };
    let encoders = run(ffmpeg, &["-hide_banner", "-encoders"])
        .map_err(|_| lacks("working -encoders listing"))?;
    let has_encoder = |name: &str| {
        encoders
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(name))
    };
    if !has_encoder("libx264") {
        return Err(lacks("libx264 encoder"));
    }
    if !has_encoder("aac") {
        return Err(lacks("aac encoder"));
    }
    let amix =
        run(ffmpeg, &["-hide_banner", "-h", "filter=amix"]).map_err(|_| lacks("amix filter"))?;
    if !amix.contains("inputs") {
        return Err(lacks("amix filter"));
    }
    let amix_normalize = amix.contains("normalize");

    let beside = ffmpeg.with_file_name("ffprobe");
    let ffprobe = if ffmpeg.components().count() > 1 && beside.exists() {
        beside
    } else {
        PathBuf::from("ffprobe")
    };
    run(&ffprobe, &["-hide_banner", "-version"]).map_err(|reason| ToolMissing::NotFound {
        tool: format!("ffprobe ({})", ffprobe.display()),
        reason,
    })?;
    Ok(FfmpegInfo {
        ffmpeg: ffmpeg.to_owned(),
        ffprobe,
        version,
        major,
        amix_normalize,
    })
}

/// Runs a tool to completion and returns its stdout (stderr discarded).
fn run(tool: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_names_the_debian_package() {
        let e = detect_at(Path::new("/nonexistent/ffmpeg")).unwrap_err();
        assert!(matches!(e, ToolMissing::NotFound { .. }));
        let msg = e.to_string();
        assert!(msg.contains("apt-get install ffmpeg"), "{msg}");
        assert!(msg.contains("/nonexistent/ffmpeg"), "{msg}");
    }

    #[test]
    fn detects_debians_ffmpeg() {
        let info = detect().expect("ffmpeg is installed (apt-get install ffmpeg)");
        assert!(info.major >= 4, "{info:?}");
        // Debian's ffmpeg (bookworm: 5.1) has amix normalize.
        assert!(info.amix_normalize, "{info:?}");
    }
}
