//! Tests against real files made, decoded and probed by ffmpeg/ffprobe.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::fixtures::{self, Fixtures};
use crate::ivf::{FOURCC_VP8, IvfHeader, IvfReader, IvfWriter};
use crate::ogg_opus::{OggOpusReader, OggOpusWriter, OpusPacket};
use crate::vp8::{Vp8Depacketizer, Vp8Packetizer, is_keyframe, payload_starts_keyframe};

fn fixtures() -> &'static Fixtures {
    static FX: OnceLock<Fixtures> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = std::env::temp_dir().join("parlor-media-test-fixtures");
        fixtures::ensure(&dir).expect("creating fixtures with ffmpeg")
    })
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parlor-media-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `ffprobe -show_entries stream=...` of the first stream as key → value.
fn probe_stream(path: &Path, entries: &str) -> HashMap<String, String> {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-count_packets",
            "-select_streams",
            "0",
            "-show_entries",
            &format!("stream={entries}"),
            "-of",
            "default=noprint_wrappers=1",
            path.to_str().unwrap(),
        ],
    );
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn read_ivf(path: &Path) -> (IvfHeader, Vec<(u64, Vec<u8>)>) {
    let mut r = IvfReader::new(BufReader::new(File::open(path).unwrap())).unwrap();
    let header = *r.header();
    let mut frames = Vec::new();
    let mut buf = Vec::new();
    while let Some(pts) = r.read_frame_into(&mut buf).unwrap() {
        frames.push((pts, buf.clone()));
    }
    (header, frames)
}

fn read_ogg(path: &Path) -> (crate::ogg_opus::OpusHead, Vec<OpusPacket>) {
    let r = OggOpusReader::new(BufReader::new(File::open(path).unwrap())).unwrap();
    let head = *r.head();
    let packets = r.collect::<Result<Vec<_>, _>>().unwrap();
    (head, packets)
}

#[test]
fn ivf_fixture_matches_ffprobe() {
    let fx = fixtures();
    let (h, frames) = read_ivf(&fx.video_ivf);
    let probe = probe_stream(
        &fx.video_ivf,
        "codec_name,width,height,time_base,nb_read_frames,nb_read_packets",
    );
    assert_eq!(probe["codec_name"], "vp8");
    assert_eq!(h.fourcc, FOURCC_VP8);
    assert_eq!(probe["width"], h.width.to_string());
    assert_eq!(probe["height"], h.height.to_string());
    assert_eq!((h.width, h.height), (320, 240));
    assert_eq!(
        probe["time_base"],
        format!("{}/{}", h.timebase_num, h.timebase_den)
    );
    assert_eq!((h.timebase_num, h.timebase_den), (1, 30));
    assert_eq!(probe["nb_read_frames"], frames.len().to_string());
    assert_eq!(probe["nb_read_packets"], frames.len().to_string());
    assert_eq!(frames.len(), fixtures::VIDEO_FRAMES as usize);
    assert_eq!(h.frame_count, fixtures::VIDEO_FRAMES);
    for (i, (pts, _)) in frames.iter().enumerate() {
        assert_eq!(*pts, i as u64);
    }

    // Key frames: ours agree with ffprobe's packet flags and recur every 30 frames.
    let flags = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "packet=flags",
            "-of",
            "csv=p=0",
            fx.video_ivf.to_str().unwrap(),
        ],
    );
    let ffprobe_keys: Vec<bool> = flags.lines().map(|l| l.starts_with('K')).collect();
    let ours: Vec<bool> = frames.iter().map(|(_, f)| is_keyframe(f)).collect();
    assert_eq!(ours, ffprobe_keys);
    let key_indices: Vec<usize> = (0..ours.len()).filter(|&i| ours[i]).collect();
    let expected: Vec<usize> = (0..frames.len())
        .step_by(fixtures::KEYFRAME_INTERVAL as usize)
        .collect();
    assert_eq!(key_indices, expected);
}

#[test]
fn ivf_round_trip_is_byte_identical() {
    let fx = fixtures();
    let original = std::fs::read(&fx.video_ivf).unwrap();
    let (h, frames) = read_ivf(&fx.video_ivf);
    // Start with a zero count so `finish` has to patch it.
    let header = IvfHeader {
        frame_count: 0,
        ..h
    };
    let mut w = IvfWriter::new(Cursor::new(Vec::new()), header).unwrap();
    for (pts, data) in &frames {
        w.write_frame(*pts, data).unwrap();
    }
    let written = w.finish().unwrap().into_inner();
    assert_eq!(written.len(), original.len());
    assert!(written == original, "rewritten IVF differs from ffmpeg's");
}

#[test]
fn ogg_fixture_matches_ffprobe() {
    let fx = fixtures();
    let (head, packets) = read_ogg(&fx.audio_ogg);
    assert_eq!(head.channels, 1);
    assert_eq!(head.mapping_family, 0);
    assert_eq!(head.input_sample_rate, 48_000);
    assert!(head.pre_skip > 0);

    let probe = probe_stream(
        &fx.audio_ogg,
        "codec_name,channels,sample_rate,nb_read_packets,duration_ts",
    );
    assert_eq!(probe["codec_name"], "opus");
    assert_eq!(probe["channels"], "1");
    assert_eq!(probe["nb_read_packets"], packets.len().to_string());

    assert!(
        packets
            .iter()
            .all(|p| p.duration_48k == fixtures::AUDIO_PACKET_SAMPLES)
    );
    let total: u64 = packets.iter().map(|p| u64::from(p.duration_48k)).sum();
    let seconds = total as f64 / 48_000.0;
    assert!((6.0..6.1).contains(&seconds), "{seconds} s of packets");

    // Granule positions: increasing, on the last packet of each page only, and the
    // final one is what ffprobe reports as the duration (end trimming included).
    let granules: Vec<u64> = packets.iter().filter_map(|p| p.granule_position).collect();
    assert!(granules.len() > 1);
    assert!(granules.windows(2).all(|w| w[0] < w[1]));
    let last = packets.last().unwrap().granule_position.unwrap();
    assert_eq!(probe["duration_ts"], last.to_string());
    assert!(last <= total);
    assert!(
        last >= 6 * 48_000 + u64::from(head.pre_skip) - 960,
        "final granule {last}"
    );
    // Mid-stream granules equal the durations of the packets up to them.
    let mut sum = 0;
    for p in &packets[..packets.len() - 1] {
        sum += u64::from(p.duration_48k);
        if let Some(g) = p.granule_position {
            assert_eq!(g, sum);
        }
    }
}

#[test]
fn ogg_round_trip_decodes_with_ffmpeg() {
    let fx = fixtures();
    let (head, packets) = read_ogg(&fx.audio_ogg);
    let total: u64 = packets.iter().map(|p| u64::from(p.duration_48k)).sum();
    let final_granule = packets.last().unwrap().granule_position.unwrap();
    let dir = scratch("ogg");

    for trimmed in [false, true] {
        let out_path = dir.join(format!("out-{trimmed}.ogg"));
        let file = std::io::BufWriter::new(File::create(&out_path).unwrap());
        let mut w = OggOpusWriter::new(file, 0x5eed, &head).unwrap();
        for p in &packets {
            w.write_packet(&p.data).unwrap();
        }
        assert_eq!(w.granule_position(), total);
        let file = if trimmed {
            w.finish_with_end_trim(total - final_granule).unwrap()
        } else {
            w.finish().unwrap()
        };
        drop(file);

        // ffmpeg decodes it without complaint.
        let out = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&out_path)
            .args(["-f", "null", "-"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stderr), "");

        let probe = probe_stream(&out_path, "codec_name,duration,duration_ts,nb_read_packets");
        assert_eq!(probe["codec_name"], "opus");
        assert_eq!(probe["nb_read_packets"], packets.len().to_string());
        let expected_ts = if trimmed { final_granule } else { total };
        assert_eq!(probe["duration_ts"], expected_ts.to_string());
        let duration: f64 = probe["duration"].parse().unwrap();
        assert!((duration - 6.0).abs() < 0.05, "ffprobe duration {duration}");

        // Re-reading yields the same packets.
        let (head2, packets2) = read_ogg(&out_path);
        assert_eq!(head2, head);
        assert_eq!(packets2.len(), packets.len());
        for (a, b) in packets.iter().zip(&packets2) {
            assert_eq!(a.data, b.data);
            assert_eq!(a.duration_48k, b.duration_48k);
        }
        // One packet per page: every packet carries its granule position.
        assert!(packets2.iter().all(|p| p.granule_position.is_some()));
        assert_eq!(packets2.last().unwrap().granule_position, Some(expected_ts));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vp8_packetize_fixture_round_trip() {
    let fx = fixtures();
    let (_, frames) = read_ivf(&fx.video_ivf);
    let mut packetizer = Vp8Packetizer::new(0x7ff0); // wraps during the clip
    let mut depacketizer = Vp8Depacketizer::new();
    let mut payload = Vec::with_capacity(1200);
    let mut multi_packet_frames = 0;
    let mut keyframe_starts = 0;
    for (n, (_, frame)) in frames.iter().enumerate() {
        let expected_id = (0x7ff0 + n as u16) & 0x7fff;
        let packets = packetizer.packetize(frame, 1200).unwrap();
        assert_eq!(packets.picture_id(), expected_id);
        let count = packets.len();
        if count > 1 {
            multi_packet_frames += 1;
        }
        for (k, packet) in packets.enumerate() {
            payload.clear();
            packet.append_to(&mut payload);
            assert!(payload.len() <= 1200);
            // S bit on the first packet only, marker on the last only.
            assert_eq!(payload[0] & 0x10 != 0, k == 0);
            assert_eq!(packet.last, k + 1 == count);
            assert_eq!(
                u16::from_be_bytes([payload[2], payload[3]]),
                0x8000 | expected_id
            );
            let starts_key = payload_starts_keyframe(&payload);
            assert_eq!(starts_key, k == 0 && is_keyframe(frame));
            keyframe_starts += usize::from(starts_key);
            let out = depacketizer.push(&payload, packet.last).unwrap();
            if packet.last {
                let out = out.expect("frame completes on the marker packet");
                assert_eq!(out.data, &frame[..]);
                assert_eq!(out.picture_id, Some(expected_id));
                assert_eq!(out.keyframe, n % 30 == 0);
            } else {
                assert!(out.is_none());
            }
        }
    }
    assert_eq!(depacketizer.dropped_frames(), 0);
    assert_eq!(keyframe_starts, frames.len() / 30);
    assert!(multi_packet_frames > 0, "fixture frames all fit one packet");
}

#[test]
fn fixtures_are_reused_and_complete() {
    let fx = fixtures();
    let again = fixtures::ensure(fx.video_ivf.parent().unwrap()).unwrap();
    assert_eq!(&again, fx);
    // No temporary files left behind by this process.
    let ours = format!(".{}.", std::process::id());
    let leftovers: Vec<_> = std::fs::read_dir(fx.video_ivf.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".tmp") && name.contains(&ours)
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
