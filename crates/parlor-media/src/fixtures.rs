//! Test media made with ffmpeg, for tests across the workspace (cargo feature
//! `fixtures`).
//!
//! [`ensure`] creates, once per directory, a VP8 IVF and an Opus Ogg with known
//! properties (the constants below). Files are written under a temporary name and
//! hard-linked into place, so concurrent test processes never see a half-written file;
//! two processes racing on a missing file both generate it and the first link wins (a
//! published fixture is never replaced while another process reads it).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join("my-crate-fixtures");
//! let fx = parlor_media::fixtures::ensure(&dir)?;
//! let reader = parlor_media::ivf::IvfReader::new(std::fs::File::open(&fx.video_ivf)?);
//! # Ok(()) }
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// Width of the fixture video.
pub const VIDEO_WIDTH: u16 = 320;
/// Height of the fixture video.
pub const VIDEO_HEIGHT: u16 = 240;
/// Frame rate of the fixture video; its IVF time base is 1/`VIDEO_FPS`.
pub const VIDEO_FPS: u32 = 30;
/// Length of both fixtures, in seconds.
pub const DURATION_SECS: u32 = 6;
/// Frames in the fixture video.
pub const VIDEO_FRAMES: u32 = VIDEO_FPS * DURATION_SECS;
/// The fixture video has a key frame exactly every this many frames, from frame 0.
pub const KEYFRAME_INTERVAL: u32 = 30;
/// Frequency of the fixture audio's sine tone, in Hz.
pub const AUDIO_TONE_HZ: u32 = 440;
/// The fixture audio's level in dB below full scale (RFC 6464's unit): ffmpeg's `sine`
/// source has an amplitude of 1/8, an RMS of 0.088, −21 dBov. Native publishers of the
/// fixture send it in the audio level extension, as a browser would.
pub const AUDIO_LEVEL_DBOV: u8 = 21;
/// Duration of each fixture audio packet, in 48 kHz samples (20 ms).
pub const AUDIO_PACKET_SAMPLES: u32 = 960;

/// File name of the fixture video inside the directory given to [`ensure`].
pub const VIDEO_FILE: &str = "parlor-testsrc-320x240-30fps-6s-g30-vp8.ivf";
/// File name of the fixture audio inside the directory given to [`ensure`].
pub const AUDIO_FILE: &str = "parlor-sine-440hz-6s-48kbps-20ms-opus.ogg";

/// Paths of the fixture files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixtures {
    /// VP8 in IVF: ffmpeg's `testsrc`, 320×240, 30 fps, 6 s (180 frames), ~600 kbps,
    /// key frames at frames 0, 30, 60, ….
    pub video_ivf: PathBuf,
    /// Opus in Ogg: a 440 Hz mono sine, 6 s, 48 kbps, 20 ms packets.
    pub audio_ogg: PathBuf,
}

/// Creates the fixtures in `dir` (and `dir` itself) if they are missing; returns their
/// paths.
///
/// Fails with [`io::ErrorKind::NotFound`] and a message saying how to install ffmpeg if
/// it is not on `PATH`, and with the ffmpeg's error output if it fails.
pub fn ensure(dir: &Path) -> io::Result<Fixtures> {
    std::fs::create_dir_all(dir)?;
    let fixtures = Fixtures {
        video_ivf: dir.join(VIDEO_FILE),
        audio_ogg: dir.join(AUDIO_FILE),
    };
    let size = format!("{VIDEO_WIDTH}x{VIDEO_HEIGHT}");
    let video_source = format!("testsrc=size={size}:rate={VIDEO_FPS}:duration={DURATION_SECS}");
    let gop = KEYFRAME_INTERVAL.to_string();
    #[rustfmt::skip]
    let video_args = [
        "-f", "lavfi", "-i", &video_source,
        "-c:v", "libvpx", "-b:v", "600k", "-pix_fmt", "yuv420p",
        // A key frame exactly every KEYFRAME_INTERVAL frames.
        "-g", &gop, "-keyint_min", &gop,
        "-deadline", "realtime", "-cpu-used", "8",
        // No alt-ref (invisible) frames: one IVF frame per displayed frame.
        "-auto-alt-ref", "0", "-lag-in-frames", "0",
        "-f", "ivf",
    ];
    create_with_ffmpeg(&fixtures.video_ivf, &video_args)?;

    let audio_source =
        format!("sine=frequency={AUDIO_TONE_HZ}:sample_rate=48000:duration={DURATION_SECS}");
    #[rustfmt::skip]
    let audio_args = [
        "-f", "lavfi", "-i", &audio_source,
        "-c:a", "libopus", "-b:a", "48k", "-frame_duration", "20",
        "-map_metadata", "-1", "-fflags", "+bitexact",
        "-f", "ogg",
    ];
    create_with_ffmpeg(&fixtures.audio_ogg, &audio_args)?;
    Ok(fixtures)
}

/// Runs `ffmpeg <args> <tmp>` and links `tmp` to `path`, unless `path` exists.
fn create_with_ffmpeg(path: &Path, args: &[&str]) -> io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other("fixture path has no file name"))?;
    let tmp = path.with_file_name(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .arg(&tmp)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "ffmpeg not found on PATH (needed to create test fixtures); \
                     install ffmpeg: apt-get install ffmpeg",
                )
            } else {
                io::Error::new(e.kind(), format!("cannot run ffmpeg: {e}"))
            }
        })?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io::Error::other(format!(
            "ffmpeg failed ({}) creating {}: {}",
            output.status,
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    // Publish with a hard link, not a rename: it fails if the file exists, so the first
    // complete fixture is never replaced (ffmpeg's VP8 output is not bit-exact between runs,
    // and a test may be reading the file, or reopen it to loop, while another generates).
    let published = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&tmp);
    published
}

#[cfg(test)]
mod race_tests {
    use super::*;

    #[test]
    fn concurrent_creators_never_replace_the_first_file() {
        let dir = std::env::temp_dir().join(format!("parlor-fixture-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| ensure(&dir).unwrap())).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        let bytes = std::fs::read(&first[0].video_ivf).unwrap();
        // Later calls find the file and leave it alone.
        let again = ensure(&dir).unwrap();
        assert_eq!(std::fs::read(&again.video_ivf).unwrap(), bytes);
        let leftovers = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0, "temporary files are removed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
