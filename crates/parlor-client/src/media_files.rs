//! Media-file sources for a publisher: VP8 from an IVF file and Opus from an Ogg file,
//! read one item ahead, optionally looping, and paced on one clock.
//!
//! * [`VideoFile`] places every frame on a video timeline in 90 kHz ticks, from the
//!   file's timestamps and time base. With looping, the next pass starts one frame
//!   interval (the last one seen) after the last frame, so the timeline keeps increasing.
//! * [`AudioFile`] hands out the packets with their durations (48 kHz samples, from each
//!   packet's TOC), restarting at the end with looping.
//! * [`Pacer`] is the sans-IO schedule over both: every video frame is due at its
//!   timeline position, every audio packet at the sum of the durations of the packets
//!   before it, both as an offset from one start instant that the caller keeps (so timers
//!   set against it never drift). RTP timestamps follow the same clocks (90 kHz video,
//!   48 kHz audio, each from a base the caller picks, e.g. at random). A keyframe request
//!   ([`Pacer::keyframe_requested`]) skips ahead to the file's next keyframe and shifts the
//!   video clock so that it is due now — what an encoder answering a PLI does — but never
//!   sooner than a frame interval after the last frame sent.
//!
//! Nothing here prints: what happens to a file on the way (a restart, a read error taken
//! as the end of a pass) is queued as a [`FileNotice`] for the caller to report.
//!
//! ```no_run
//! use std::time::Instant;
//! use parlor_client::media_files::{AudioFile, Pacer, Track, VideoFile};
//! # fn send(_: &[u8], _: u32) {}
//! # fn main() -> Result<(), parlor_client::media_files::MediaFileError> {
//! let video = VideoFile::open("clip.ivf".as_ref(), true)?;
//! let audio = AudioFile::open("clip.ogg".as_ref(), true)?;
//! let mut pacer = Pacer::new(video, Some(audio), rand::random(), rand::random());
//! let start = Instant::now();
//! while let Some((track, due)) = pacer.next_due() {
//!     std::thread::sleep((start + due).saturating_duration_since(Instant::now()));
//!     match track {
//!         Track::Video => { let f = pacer.next_video().unwrap(); send(&f.frame.data, f.rtp_time) }
//!         Track::Audio => { let p = pacer.next_audio().unwrap(); send(&p.data, p.rtp_time) }
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parlor_media::ivf::{FOURCC_VP8, IvfHeader, IvfReader};
use parlor_media::ogg_opus::OggOpusReader;
use parlor_proto::signaling::VideoDimensions;

/// The video RTP clock rate (and the timeline's unit), Hz.
pub const VIDEO_HZ: u64 = 90_000;
/// The Opus RTP clock rate, Hz.
pub const AUDIO_HZ: u64 = 48_000;

/// Why a media file cannot be used. The messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum MediaFileError {
    /// The file cannot be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a readable IVF or Ogg Opus file.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// The IVF file holds another codec than VP8.
    #[error("{}: the codec is {:?}, not VP8 (VP80)", path.display(), String::from_utf8_lossy(fourcc))]
    NotVp8 {
        /// The file.
        path: PathBuf,
        /// Its FourCC.
        fourcc: [u8; 4],
    },
    /// The IVF header's time base has a zero in it.
    #[error("{}: invalid time base {num}/{den}", path.display())]
    TimeBase {
        /// The file.
        path: PathBuf,
        /// Numerator.
        num: u32,
        /// Denominator.
        den: u32,
    },
    /// The file holds no frame (IVF) or no audio packet (Ogg).
    #[error("{} has no {what}", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// `"frames"` or `"audio packets"`.
        what: &'static str,
    },
}

/// Something that happened while reading a file, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileNotice {
    /// The file ended and starts over; `pass` counts from 1 (2 is the first restart).
    StartingOver {
        /// The pass that starts.
        pass: u64,
    },
    /// Reading failed; the rest of the pass is skipped, as if the file ended there.
    ReadError(String),
    /// The file could not be reopened to start over: it ends here.
    RestartFailed(String),
}

/// A video frame read from the file, placed on the video timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    /// Position on the timeline: 90 kHz ticks from the start of the first pass.
    pub t: u64,
    /// The VP8 frame.
    pub data: Vec<u8>,
    /// Whether it is a keyframe.
    pub keyframe: bool,
    /// Index of the frame in the file (counting from 0 in every pass).
    pub index: u64,
}

/// An IVF (VP8) file read one frame ahead, restarting at its end when looping.
#[derive(Debug)]
pub struct VideoFile {
    path: PathBuf,
    looping: bool,
    reader: IvfReader<BufReader<File>>,
    header: IvfHeader,
    next: Option<VideoFrame>,
    /// Timeline position where the current pass starts.
    pass_start: u64,
    /// Timestamp of the current pass's first frame.
    first_pts: Option<u64>,
    frames_in_pass: u64,
    last_t: u64,
    /// Gap between the last two frames: how long the last one lasts.
    last_step: u64,
    /// Restarts so far.
    passes: u64,
    notices: Vec<FileNotice>,
}

fn open_ivf(path: &Path) -> Result<IvfReader<BufReader<File>>, MediaFileError> {
    let file = File::open(path).map_err(|source| MediaFileError::Open {
        path: path.to_owned(),
        source,
    })?;
    IvfReader::new(BufReader::new(file)).map_err(|e| MediaFileError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn open_ogg(path: &Path) -> Result<OggOpusReader<BufReader<File>>, MediaFileError> {
    let file = File::open(path).map_err(|source| MediaFileError::Open {
        path: path.to_owned(),
        source,
    })?;
    OggOpusReader::new(BufReader::new(file)).map_err(|e| MediaFileError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

impl VideoFile {
    /// Opens a VP8 IVF file; checks the codec, the time base, and that a first frame
    /// reads. With `looping`, the file starts over at its end.
    pub fn open(path: &Path, looping: bool) -> Result<VideoFile, MediaFileError> {
        let reader = open_ivf(path)?;
        let header = *reader.header();
        if header.fourcc != FOURCC_VP8 {
            return Err(MediaFileError::NotVp8 {
                path: path.to_owned(),
                fourcc: header.fourcc,
            });
        }
        if header.timebase_num == 0 || header.timebase_den == 0 {
            return Err(MediaFileError::TimeBase {
                path: path.to_owned(),
                num: header.timebase_num,
                den: header.timebase_den,
            });
        }
        let mut file = VideoFile {
            path: path.to_owned(),
            looping: false,
            reader,
            header,
            next: None,
            pass_start: 0,
            first_pts: None,
            frames_in_pass: 0,
            last_t: 0,
            last_step: VIDEO_HZ / 30,
            passes: 0,
            notices: Vec::new(),
        };
        match file.reader.next_frame() {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(MediaFileError::Empty {
                    path: path.to_owned(),
                    what: "frames",
                });
            }
            Err(e) => {
                return Err(MediaFileError::Format {
                    path: path.to_owned(),
                    message: e.to_string(),
                });
            }
        }
        // Start over from the first frame, now that the file is known to be readable.
        file.reader = open_ivf(path)?;
        file.looping = looping;
        file.next = file.read_next();
        Ok(file)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The picture size in the IVF header, unless it says 0.
    pub fn dimensions(&self) -> Option<VideoDimensions> {
        (self.header.width > 0 && self.header.height > 0).then(|| VideoDimensions {
            width: self.header.width.into(),
            height: self.header.height.into(),
        })
    }

    /// How long the last frame read lasts (the gap between the last two), 90 kHz ticks;
    /// 1/30 s before there are two.
    pub fn last_step(&self) -> u64 {
        self.last_step
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.passes
    }

    /// What happened since the last call (restarts, read errors).
    pub fn take_notices(&mut self) -> Vec<FileNotice> {
        std::mem::take(&mut self.notices)
    }

    /// Timestamp units → 90 kHz ticks, rounded.
    fn ticks(&self, pts: u64) -> u64 {
        let (num, den) = (
            u128::from(self.header.timebase_num),
            u128::from(self.header.timebase_den),
        );
        ((u128::from(pts) * u128::from(VIDEO_HZ) * num + den / 2) / den).min(u64::MAX.into()) as u64
    }

    fn read_next(&mut self) -> Option<VideoFrame> {
        loop {
            match self.reader.next_frame() {
                Ok(Some(f)) => {
                    let first = *self.first_pts.get_or_insert(f.pts);
                    let t = self
                        .pass_start
                        .saturating_add(self.ticks(f.pts.saturating_sub(first)));
                    if self.frames_in_pass > 0 && t > self.last_t {
                        self.last_step = t - self.last_t;
                    }
                    self.last_t = t;
                    let index = self.frames_in_pass;
                    self.frames_in_pass += 1;
                    return Some(VideoFrame {
                        t,
                        keyframe: parlor_media::vp8::is_keyframe(&f.data),
                        data: f.data,
                        index,
                    });
                }
                Ok(None) => {
                    if !self.looping || self.frames_in_pass == 0 {
                        return None;
                    }
                    match open_ivf(&self.path) {
                        Ok(reader) => self.reader = reader,
                        Err(e) => {
                            self.notices.push(FileNotice::RestartFailed(e.to_string()));
                            return None;
                        }
                    }
                    self.pass_start = self.last_t.saturating_add(self.last_step);
                    self.first_pts = None;
                    self.frames_in_pass = 0;
                    self.passes += 1;
                    self.notices.push(FileNotice::StartingOver {
                        pass: self.passes + 1,
                    });
                }
                // The reader stops after an error: the next call takes the end-of-file
                // path above.
                Err(e) => self.notices.push(FileNotice::ReadError(e.to_string())),
            }
        }
    }

    /// The next frame, without taking it.
    pub fn peek(&self) -> Option<&VideoFrame> {
        self.next.as_ref()
    }

    /// Takes the next frame (and reads the one after it).
    pub fn advance(&mut self) -> Option<VideoFrame> {
        let frame = self.next.take()?;
        self.next = self.read_next();
        Some(frame)
    }

    /// Drops frames until the next one is a keyframe; returns how many were dropped, or
    /// `None` if no keyframe is left (or none exists in a looped file: at most one whole
    /// pass is searched).
    pub fn skip_to_keyframe(&mut self) -> Option<u64> {
        let passes = self.passes;
        let mut skipped = 0;
        loop {
            let frame = self.next.as_ref()?;
            if frame.keyframe {
                return Some(skipped);
            }
            if self.passes > passes + 1 {
                return None;
            }
            self.next = self.read_next();
            skipped += 1;
        }
    }
}

/// An Opus packet read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPacket {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// Its duration in 48 kHz samples.
    pub duration_48k: u32,
}

/// An Ogg Opus file read one packet ahead, restarting at its end when looping.
#[derive(Debug)]
pub struct AudioFile {
    path: PathBuf,
    looping: bool,
    reader: OggOpusReader<BufReader<File>>,
    next: Option<AudioPacket>,
    packets_in_pass: u64,
    passes: u64,
    notices: Vec<FileNotice>,
}

impl AudioFile {
    /// Opens an Ogg Opus file and checks that a first packet reads. With `looping`, the
    /// file starts over at its end.
    pub fn open(path: &Path, looping: bool) -> Result<AudioFile, MediaFileError> {
        let mut file = AudioFile {
            path: path.to_owned(),
            looping: false,
            reader: open_ogg(path)?,
            next: None,
            packets_in_pass: 0,
            passes: 0,
            notices: Vec::new(),
        };
        match file.reader.next_packet() {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(MediaFileError::Empty {
                    path: path.to_owned(),
                    what: "audio packets",
                });
            }
            Err(e) => {
                return Err(MediaFileError::Format {
                    path: path.to_owned(),
                    message: e.to_string(),
                });
            }
        }
        file.reader = open_ogg(path)?;
        file.looping = looping;
        file.next = file.read_next();
        Ok(file)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.passes
    }

    /// What happened since the last call (restarts, read errors).
    pub fn take_notices(&mut self) -> Vec<FileNotice> {
        std::mem::take(&mut self.notices)
    }

    /// Starts the next pass, if looping and the last one had packets.
    fn restart(&mut self) -> bool {
        if !self.looping || self.packets_in_pass == 0 {
            return false;
        }
        match open_ogg(&self.path) {
            Ok(reader) => self.reader = reader,
            Err(e) => {
                self.notices.push(FileNotice::RestartFailed(e.to_string()));
                return false;
            }
        }
        self.packets_in_pass = 0;
        self.passes += 1;
        self.notices.push(FileNotice::StartingOver {
            pass: self.passes + 1,
        });
        true
    }

    fn read_next(&mut self) -> Option<AudioPacket> {
        loop {
            match self.reader.next_packet() {
                Ok(Some(p)) => {
                    self.packets_in_pass += 1;
                    return Some(AudioPacket {
                        data: p.data,
                        duration_48k: p.duration_48k,
                    });
                }
                Ok(None) => {
                    if !self.restart() {
                        return None;
                    }
                }
                Err(e) => {
                    self.notices.push(FileNotice::ReadError(e.to_string()));
                    // The Ogg reader's position is unspecified after an error: end this
                    // pass by reopening (or stopping).
                    if !self.restart() {
                        return None;
                    }
                }
            }
        }
    }

    /// The next packet, without taking it.
    pub fn peek(&self) -> Option<&AudioPacket> {
        self.next.as_ref()
    }

    /// Takes the next packet (and reads the one after it).
    pub fn advance(&mut self) -> Option<AudioPacket> {
        let packet = self.next.take()?;
        self.next = self.read_next();
        Some(packet)
    }
}

/// Which track is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The video file's next frame.
    Video,
    /// The audio file's next packet.
    Audio,
}

/// A video frame to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacedFrame {
    /// The frame as read.
    pub frame: VideoFrame,
    /// Its RTP timestamp (90 kHz).
    pub rtp_time: u32,
    /// Its position on the sending clock, 90 kHz ticks from the start.
    pub clock: u64,
}

/// An audio packet to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacedPacket {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// Its RTP timestamp (48 kHz).
    pub rtp_time: u32,
}

/// What [`Pacer::keyframe_requested`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeJump {
    /// Frames skipped to reach the keyframe.
    pub skipped: u64,
    /// The keyframe's index in the file.
    pub index: u64,
    /// When it is due now (offset from the start).
    pub due: Duration,
}

/// The schedule of a video file and an optional audio file (see the [module docs](self)).
/// Times are offsets from the start instant the caller keeps.
#[derive(Debug)]
pub struct Pacer {
    video: VideoFile,
    audio: Option<AudioFile>,
    video_rtp_base: u32,
    audio_rtp_base: u32,
    /// Video timeline minus video clock, in 90 kHz ticks: grows with each keyframe jump.
    video_shift: i64,
    last_video_clock: Option<u64>,
    /// Audio clock: 48 kHz samples sent so far.
    samples: u64,
}

/// 90 kHz or 48 kHz ticks → a duration.
pub fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(hz.max(1));
    Duration::from_nanos(nanos.min(u64::MAX.into()) as u64)
}

/// A duration → 90 kHz or 48 kHz ticks (rounded down).
pub fn duration_to_ticks(d: Duration, hz: u64) -> u64 {
    (d.as_nanos() * u128::from(hz) / 1_000_000_000).min(u64::MAX.into()) as u64
}

impl Pacer {
    /// Schedules `video` (and `audio`) from time 0, with these RTP timestamp bases.
    pub fn new(
        video: VideoFile,
        audio: Option<AudioFile>,
        video_rtp_base: u32,
        audio_rtp_base: u32,
    ) -> Pacer {
        Pacer {
            video,
            audio,
            video_rtp_base,
            audio_rtp_base,
            video_shift: 0,
            last_video_clock: None,
            samples: 0,
        }
    }

    /// The video file (for its notices).
    pub fn video_mut(&mut self) -> &mut VideoFile {
        &mut self.video
    }

    /// The audio file, if any (for its notices).
    pub fn audio_mut(&mut self) -> Option<&mut AudioFile> {
        self.audio.as_mut()
    }

    fn video_clock(&self, t: u64) -> u64 {
        (t as i64).saturating_sub(self.video_shift).max(0) as u64
    }

    /// What is due next and when (video first on a tie); `None` once both files ended.
    pub fn next_due(&self) -> Option<(Track, Duration)> {
        let video = self
            .video
            .peek()
            .map(|f| ticks_to_duration(self.video_clock(f.t), VIDEO_HZ));
        let audio = self
            .audio
            .as_ref()
            .and_then(AudioFile::peek)
            .map(|_| ticks_to_duration(self.samples, AUDIO_HZ));
        match (video, audio) {
            (None, None) => None,
            (Some(v), None) => Some((Track::Video, v)),
            (None, Some(a)) => Some((Track::Audio, a)),
            (Some(v), Some(a)) if v <= a => Some((Track::Video, v)),
            (Some(_), Some(a)) => Some((Track::Audio, a)),
        }
    }

    /// Answers a keyframe request at `elapsed` since the start: skips to the file's next
    /// keyframe and makes it due at `elapsed`, or one frame interval after the last frame
    /// sent if that is later (a keyframe right behind it would put two frames within one
    /// frame time). `None` if no keyframe is left (the frames searched are dropped, as
    /// [`VideoFile::skip_to_keyframe`] does).
    pub fn keyframe_requested(&mut self, elapsed: Duration) -> Option<KeyframeJump> {
        let skipped = self.video.skip_to_keyframe()?;
        let frame = self.video.peek()?;
        let now = duration_to_ticks(elapsed, VIDEO_HZ);
        let step = self.video.last_step().max(1);
        let target = now.max(self.last_video_clock.map_or(0, |c| c + step));
        self.video_shift = frame.t as i64 - target as i64;
        Some(KeyframeJump {
            skipped,
            index: frame.index,
            due: ticks_to_duration(target, VIDEO_HZ),
        })
    }

    /// Takes the next video frame with its RTP timestamp.
    pub fn next_video(&mut self) -> Option<PacedFrame> {
        let frame = self.video.advance()?;
        let clock = self.video_clock(frame.t);
        self.last_video_clock = Some(clock);
        Some(PacedFrame {
            rtp_time: self.video_rtp_base.wrapping_add(clock as u32),
            clock,
            frame,
        })
    }

    /// Takes the next audio packet with its RTP timestamp. (A muted sender still takes
    /// packets, so the audio clock goes on.)
    pub fn next_audio(&mut self) -> Option<PacedPacket> {
        let packet = self.audio.as_mut()?.advance()?;
        let rtp_time = self.audio_rtp_base.wrapping_add(self.samples as u32);
        self.samples += u64::from(packet.duration_48k);
        Some(PacedPacket {
            data: packet.data,
            rtp_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parlor_media::ivf::IvfWriter;
    use parlor_media::ogg_opus::{OggOpusWriter, OpusHead};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "parlor-client-media-files-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A VP8 key frame (tag, start code, 64×48) or a delta frame, tagged with `n`.
    fn vp8(key: bool, n: u8) -> Vec<u8> {
        let mut f = if key {
            vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 64, 0, 48, 0]
        } else {
            vec![0x31, 0x00, 0x00]
        };
        f.push(n);
        f
    }

    /// An IVF file of `frames` (pts in units of `timebase`).
    fn ivf(path: &Path, timebase: (u32, u32), frames: &[(u64, Vec<u8>)]) {
        let header = IvfHeader {
            fourcc: FOURCC_VP8,
            width: 64,
            height: 48,
            timebase_num: timebase.0,
            timebase_den: timebase.1,
            frame_count: frames.len() as u32,
        };
        let mut w = IvfWriter::new(File::create(path).unwrap(), header).unwrap();
        for (pts, f) in frames {
            w.write_frame(*pts, f).unwrap();
        }
        w.finish().unwrap();
    }

    /// An Ogg Opus file of `n` 20 ms CELT packets (tagged with their index).
    fn ogg(path: &Path, n: u8) {
        let mut w =
            OggOpusWriter::new(File::create(path).unwrap(), 7, &OpusHead::new(1, 0)).unwrap();
        for i in 0..n {
            w.write_packet(&[0xf8, i]).unwrap();
        }
        w.finish().unwrap();
    }

    /// Frames at 1/30 s (time base 1/30), a keyframe every 4.
    fn clip(dir: &Path, n: u8) -> PathBuf {
        let path = dir.join(format!("clip{n}.ivf"));
        let frames: Vec<_> = (0..n).map(|i| (u64::from(i), vp8(i % 4 == 0, i))).collect();
        ivf(&path, (1, 30), &frames);
        path
    }

    #[test]
    fn video_timeline_follows_the_time_base_and_continues_across_loops() {
        let dir = scratch("video");
        // Time base 1/1000, frames 40 ms apart, starting at pts 500.
        let path = dir.join("ms.ivf");
        let frames: Vec<_> = (0..3)
            .map(|i| (500 + 40 * i, vp8(i == 0, i as u8)))
            .collect();
        ivf(&path, (1, 1000), &frames);
        let mut v = VideoFile::open(&path, true).unwrap();
        assert_eq!(
            v.dimensions(),
            Some(VideoDimensions {
                width: 64,
                height: 48
            })
        );
        let mut ts = Vec::new();
        for _ in 0..7 {
            let f = v.advance().unwrap();
            ts.push((f.t, f.index, f.data[f.data.len() - 1]));
        }
        // 40 ms = 3600 ticks; each pass starts one frame interval after the last frame.
        assert_eq!(
            ts,
            [
                (0, 0, 0),
                (3600, 1, 1),
                (7200, 2, 2),
                (10_800, 0, 0),
                (14_400, 1, 1),
                (18_000, 2, 2),
                (21_600, 0, 0)
            ]
        );
        assert_eq!(v.restarts(), 2);
        assert_eq!(
            v.take_notices(),
            [
                FileNotice::StartingOver { pass: 2 },
                FileNotice::StartingOver { pass: 3 }
            ]
        );
        assert!(v.take_notices().is_empty());

        // Without looping the file ends.
        let mut v = VideoFile::open(&path, false).unwrap();
        assert_eq!((0..5).filter_map(|_| v.advance()).count(), 3);
        assert!(v.peek().is_none() && v.take_notices().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_files_are_refused_with_their_name() {
        let dir = scratch("bad");
        let missing = dir.join("missing.ivf");
        let e = VideoFile::open(&missing, false).unwrap_err();
        assert!(matches!(e, MediaFileError::Open { .. }));
        assert!(e.to_string().contains("missing.ivf"), "{e}");

        let empty = dir.join("empty.ivf");
        ivf(&empty, (1, 30), &[]);
        let e = VideoFile::open(&empty, true).unwrap_err();
        assert_eq!(e.to_string(), format!("{} has no frames", empty.display()));

        let zero = dir.join("zero.ivf");
        ivf(&zero, (1, 0), &[(0, vp8(true, 0))]);
        assert!(matches!(
            VideoFile::open(&zero, false),
            Err(MediaFileError::TimeBase { num: 1, den: 0, .. })
        ));

        let vp9 = dir.join("vp9.ivf");
        ivf(&vp9, (1, 30), &[(0, vp8(true, 0))]);
        let mut bytes = std::fs::read(&vp9).unwrap();
        bytes[8..12].copy_from_slice(b"VP90");
        std::fs::write(&vp9, &bytes).unwrap();
        let e = VideoFile::open(&vp9, false).unwrap_err();
        assert!(e.to_string().contains("not VP8"), "{e}");

        // An IVF file is not Ogg, and the other way round.
        let e = AudioFile::open(&vp9, false).unwrap_err();
        assert!(matches!(e, MediaFileError::Format { .. }), "{e}");
        assert!(e.to_string().contains("Ogg"), "{e}");
        let audio = dir.join("a.ogg");
        ogg(&audio, 2);
        assert!(matches!(
            VideoFile::open(&audio, false),
            Err(MediaFileError::Format { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_truncated_video_ends_its_pass_with_a_notice() {
        let dir = scratch("trunc");
        let path = clip(&dir, 6);
        // Cut the last frame short.
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 2).unwrap();
        let mut v = VideoFile::open(&path, true).unwrap();
        let idx: Vec<u64> = (0..7).map(|_| v.advance().unwrap().index).collect();
        assert_eq!(idx, [0, 1, 2, 3, 4, 0, 1]);
        let notices = v.take_notices();
        assert!(
            matches!(
                &notices[..],
                [
                    FileNotice::ReadError(_),
                    FileNotice::StartingOver { pass: 2 }
                ]
            ),
            "{notices:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn audio_loops_and_reports() {
        let dir = scratch("audio");
        let path = dir.join("a.ogg");
        ogg(&path, 3);
        let mut a = AudioFile::open(&path, true).unwrap();
        let got: Vec<(u8, u32)> = (0..7)
            .map(|_| {
                let p = a.advance().unwrap();
                (p.data[1], p.duration_48k)
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, 960),
                (1, 960),
                (2, 960),
                (0, 960),
                (1, 960),
                (2, 960),
                (0, 960)
            ]
        );
        assert_eq!(a.restarts(), 2);
        assert_eq!(a.take_notices().len(), 2);
        let mut a = AudioFile::open(&path, false).unwrap();
        assert_eq!((0..5).filter_map(|_| a.advance()).count(), 3);

        let empty = dir.join("empty.ogg");
        let w = OggOpusWriter::new(File::create(&empty).unwrap(), 1, &OpusHead::new(2, 0)).unwrap();
        w.finish().unwrap();
        let e = AudioFile::open(&empty, true).unwrap_err();
        assert!(e.to_string().ends_with("has no audio packets"), "{e}");
        // A last page cut short: an error, taken as the end of the pass (and, looping,
        // a restart).
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 1).unwrap();
        let mut a = AudioFile::open(&path, false).unwrap();
        assert_eq!((0..5).filter_map(|_| a.advance()).count(), 2);
        assert!(matches!(&a.take_notices()[..], [FileNotice::ReadError(_)]));
        let mut a = AudioFile::open(&path, true).unwrap();
        let got: Vec<u8> = (0..5).map(|_| a.advance().unwrap().data[1]).collect();
        assert_eq!(got, [0, 1, 0, 1, 0]);
        let notices = a.take_notices();
        assert!(
            matches!(
                &notices[..],
                [
                    FileNotice::ReadError(_),
                    FileNotice::StartingOver { pass: 2 },
                    ..
                ]
            ),
            "{notices:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The schedule: video at its timeline, audio at the sum of durations; RTP times on
    /// the same clocks; a keyframe request jumps ahead without going back in time.
    #[test]
    fn pacer_schedules_and_jumps_to_keyframes() {
        let dir = scratch("pacer");
        let video = VideoFile::open(&clip(&dir, 12), false).unwrap();
        let audio_path = dir.join("a.ogg");
        ogg(&audio_path, 10);
        let audio = AudioFile::open(&audio_path, false).unwrap();
        let mut pacer = Pacer::new(video, Some(audio), u32::MAX - 2999, 100);
        let ms = Duration::from_millis;
        // 0: video (ties go to video), then audio at 0, 20; video at 33.3; audio 40 …
        let mut order = Vec::new();
        while let Some((track, due)) = pacer.next_due() {
            if due > ms(70) {
                break;
            }
            let rtp = match track {
                Track::Video => pacer.next_video().unwrap().rtp_time,
                Track::Audio => pacer.next_audio().unwrap().rtp_time,
            };
            order.push((track, due.as_micros(), rtp));
        }
        assert_eq!(
            order,
            [
                (Track::Video, 0, u32::MAX - 2999),
                (Track::Audio, 0, 100),
                (Track::Audio, 20_000, 1060),
                (Track::Video, 33_333, 0),
                (Track::Audio, 40_000, 2020),
                (Track::Audio, 60_000, 2980),
                (Track::Video, 66_666, 3000),
            ]
        );
        // Frame 3 is next. A request at 200 ms: skip to the keyframe (frame 4), due now.
        let jump = pacer.keyframe_requested(ms(200)).unwrap();
        assert_eq!((jump.skipped, jump.index, jump.due), (1, 4, ms(200)));
        assert_eq!(pacer.next_due(), Some((Track::Audio, ms(80))));
        let f = pacer.next_video().unwrap();
        assert_eq!((f.frame.index, f.clock), (4, 18_000));
        assert_eq!(f.rtp_time, (u32::MAX - 2999).wrapping_add(18_000));
        // Frame 5 follows one interval later.
        let due5 = ticks_to_duration(21_000, VIDEO_HZ);
        assert_eq!(pacer.video_mut().peek().unwrap().index, 5);
        let (_, next_video_due) = {
            let mut p = pacer.next_due().unwrap();
            while p.0 == Track::Audio {
                pacer.next_audio().unwrap();
                p = pacer.next_due().unwrap();
            }
            p
        };
        assert_eq!(next_video_due, due5);
        // A request right after a frame was sent: not sooner than a frame interval later.
        let jump = pacer.keyframe_requested(ms(201)).unwrap();
        assert_eq!(
            (jump.index, jump.due),
            (8, ticks_to_duration(21_000, VIDEO_HZ))
        );
        let f = pacer.next_video().unwrap();
        assert_eq!((f.frame.index, f.clock), (8, 21_000));
        // Past the last keyframe: nothing to jump to; the rest was searched and dropped.
        assert_eq!(pacer.next_video().unwrap().frame.index, 9);
        assert_eq!(pacer.keyframe_requested(ms(300)), None);
        assert_eq!(pacer.next_due(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The ffmpeg-made fixtures read whole, and loop seamlessly.
    #[test]
    fn real_files_loop_seamlessly() {
        let fx =
            parlor_media::fixtures::ensure(&std::env::temp_dir().join("parlor-client-fixtures"))
                .expect("ffmpeg fixtures");
        let mut v = VideoFile::open(&fx.video_ivf, true).unwrap();
        let n = u64::from(parlor_media::fixtures::VIDEO_FRAMES);
        let frames: Vec<VideoFrame> = (0..n + 5).map(|_| v.advance().unwrap()).collect();
        for (i, w) in frames.windows(2).enumerate() {
            assert_eq!(w[1].t - w[0].t, 3000, "frame {i}");
        }
        assert_eq!(frames[n as usize].index, 0);
        assert!(frames[n as usize].keyframe);
        assert_eq!(
            frames.iter().filter(|f| f.keyframe).count() as u32,
            parlor_media::fixtures::VIDEO_FRAMES / parlor_media::fixtures::KEYFRAME_INTERVAL + 1
        );
        let mut a = AudioFile::open(&fx.audio_ogg, true).unwrap();
        let samples: u64 = (0..400)
            .map(|_| u64::from(a.advance().unwrap().duration_48k))
            .sum();
        assert_eq!(
            samples,
            400 * u64::from(parlor_media::fixtures::AUDIO_PACKET_SAMPLES)
        );
        assert_eq!(a.restarts(), 1);
    }
}
