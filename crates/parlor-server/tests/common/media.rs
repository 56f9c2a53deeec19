//! Media for tests that check recorded and composed files: test pictures made by ffmpeg
//! (once, shared by concurrent tests) and decoded frames read back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// `ffmpeg <args> FILE` into `dir` unless `name` exists there (written under a temporary
/// name and hard-linked into place, so a concurrent test never reads half a file).
pub fn make(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    if path.exists() {
        return path;
    }
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .arg(&tmp)
        .output()
        .expect("ffmpeg (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg making {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match std::fs::hard_link(&tmp, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("{}: {e}", path.display()),
    }
    let _ = std::fs::remove_file(&tmp);
    path
}

/// 2 s of one solid colour (`0xRRGGBB`), VP8 320x240 at 30 fps, a keyframe every `gop`
/// frames, at `kbps`.
pub fn colour_ivf(dir: &Path, rgb: u32, gop: u32, kbps: u32) -> PathBuf {
    let source = format!("color=c=0x{rgb:06X}:size=320x240:rate=30:duration=2");
    let (gop_s, rate) = (gop.to_string(), format!("{kbps}k"));
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", &source,
        "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", &gop_s,
        "-b:v", &rate, "-auto-alt-ref", "0", "-lag-in-frames", "0", "-f", "ivf",
    ];
    make(
        dir,
        &format!("colour-{rgb:06x}-2s-g{gop}-{kbps}k.ivf"),
        &args,
    )
}

/// One decoded frame of a `w`×`h` video at `t` seconds, RGB24.
pub fn frame_at(path: &Path, t: f64, w: usize, h: usize) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-ss", &format!("{t:.3}"), "-i"])
        .arg(path)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "decoding the frame at {t} s: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), w * h * 3, "a {w}x{h} frame at {t} s");
    out.stdout
}

/// The mean colour of the (2r+1)² pixels around (x, y) of an RGB24 frame `w` wide.
pub fn colour_at(frame: &[u8], w: usize, (x, y): (usize, usize), r: usize) -> [i32; 3] {
    let mut sum = [0i64; 3];
    let mut n = 0;
    for yy in y - r..=y + r {
        for xx in x - r..=x + r {
            let i = (yy * w + xx) * 3;
            for c in 0..3 {
                sum[c] += i64::from(frame[i + c]);
            }
            n += 1;
        }
    }
    sum.map(|s| (s / n) as i32)
}

/// `0xRRGGBB` as [r, g, b].
pub fn rgb(c: u32) -> [i32; 3] {
    [
        (c >> 16) as i32 & 255,
        (c >> 8) as i32 & 255,
        c as i32 & 255,
    ]
}
