//! The media every publisher sends: real VP8 (~600 kbps) and Opus (48 kbps) made by
//! ffmpeg, paced in real time to all publishers from one clock.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parlor_client::{MediaKind, PeerSender};
use parlor_media::ivf::IvfReader;
use parlor_media::ogg_opus::OggOpusReader;

/// Encoded media, in memory.
pub struct Media {
    pub video: Vec<Vec<u8>>,
    pub audio: Vec<Vec<u8>>,
}

impl Media {
    /// Loads (making them with ffmpeg if needed) the fixtures in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Media> {
        let f = parlor_media::fixtures::ensure(dir)?;
        let mut video = Vec::new();
        let mut r = IvfReader::new(std::io::BufReader::new(std::fs::File::open(&f.video_ivf)?))?;
        while let Some(frame) = r.next_frame()? {
            video.push(frame.data);
        }
        let mut audio = Vec::new();
        let mut r =
            OggOpusReader::new(std::io::BufReader::new(std::fs::File::open(&f.audio_ogg)?))?;
        while let Some(p) = r.next_packet()? {
            audio.push(p.data);
        }
        Ok(Media { video, audio })
    }
}

/// The publishers being fed.
pub type Senders = Arc<Mutex<Vec<PeerSender>>>;

/// Feeds every sender 30 video frames and 50 audio packets a second until `stop`.
pub async fn pump(media: Arc<Media>, senders: Senders, stop: tokio::sync::watch::Receiver<bool>) {
    let start = tokio::time::Instant::now();
    let (mut v, mut a) = (0u64, 0u64);
    loop {
        let next_v = start + Duration::from_micros(v * 33_333);
        let next_a = start + Duration::from_millis(a * 20);
        let next = next_v.min(next_a);
        tokio::time::sleep_until(next).await;
        if *stop.borrow() {
            return;
        }
        let mut senders = senders.lock().expect("not poisoned");
        // Publishers that left (the soak's churn) are dropped.
        senders.retain(|s| !s.is_closed());
        if next == next_v {
            let frame = &media.video[(v as usize) % media.video.len()];
            for s in senders.iter_mut().filter(|s| s.has(MediaKind::Video)) {
                match s.layers() {
                    0 => {
                        let _ = s.send_video(frame, (v * 3000) as u32);
                    }
                    n => {
                        // Every layer the same frame, each on a timestamp base of its own.
                        for l in 0..n {
                            let base = (l as u32).wrapping_mul(1_500_000_000);
                            let _ =
                                s.send_video_layer(l, frame, base.wrapping_add((v * 3000) as u32));
                        }
                    }
                }
            }
            v += 1;
        } else {
            let packet = &media.audio[(a as usize) % media.audio.len()];
            for s in senders.iter_mut().filter(|s| s.has(MediaKind::Audio)) {
                let _ = s.send_audio_with_level(
                    packet,
                    (a * 960) as u32,
                    Some(parlor_media::fixtures::AUDIO_LEVEL_DBOV),
                );
            }
            a += 1;
        }
    }
}
