//! Configuration validation and the scene's bookkeeping (no processes).

use super::*;

fn cfg() -> LiveConfig {
    LiveConfig {
        width: 640,
        height: 360,
        fps: 15,
        video_bitrate_bps: 1_000_000,
        has_audio: true,
        has_video: true,
        hls: Some(HlsConfig {
            dir: "/tmp/x".into(),
            dvr: false,
            low_latency: false,
        }),
        rtmp: vec![],
    }
}

fn target(id: &str, url: &str) -> RtmpTarget {
    RtmpTarget {
        id: id.into(),
        url: url.into(),
    }
}

fn err(c: &LiveConfig) -> String {
    match c.validate() {
        Err(LiveError::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn a_valid_config_passes() {
    let mut c = cfg();
    c.rtmp = (0..MAX_RTMP_TARGETS)
        .map(|i| target(&format!("t{i}"), "rtmps://live.example.com:443/app/key"))
        .collect();
    c.validate().unwrap();
    c.hls = None;
    c.validate().unwrap();
}

#[test]
fn odd_or_out_of_range_sizes_are_refused() {
    let mut c = cfg();
    c.width = 641;
    assert!(err(&c).contains("width 641 must be even"));
    let mut c = cfg();
    c.height = 8;
    assert!(err(&c).contains("height 8"));
    let mut c = cfg();
    c.width = 8192;
    assert!(err(&c).contains("width"));
    // Without video the size does not matter.
    let mut c = cfg();
    c.has_video = false;
    c.width = 641;
    c.validate().unwrap();
}

#[test]
fn frame_rate_bit_rate_and_tracks_are_checked() {
    for fps in [0, 61] {
        let mut c = cfg();
        c.fps = fps;
        assert!(err(&c).contains("fps"));
    }
    let mut c = cfg();
    c.video_bitrate_bps = 1000;
    assert!(err(&c).contains("bit rate"));
    let mut c = cfg();
    c.has_audio = false;
    c.has_video = false;
    assert!(err(&c).contains("audio or video"));
    let mut c = cfg();
    c.hls = None;
    assert!(err(&c).contains("HLS or an RTMP target"));
}

#[test]
fn six_targets_are_too_many() {
    let mut c = cfg();
    c.rtmp = (0..6)
        .map(|i| target(&format!("t{i}"), "rtmp://h/app/key"))
        .collect();
    assert!(err(&c).contains("6 RTMP targets; at most 5"));
}

#[test]
fn target_urls_and_ids_are_checked() {
    for (url, why) in [
        ("http://h/app/key", "scheme"),
        ("srt://h:9000", "scheme"),
        ("rtmp://h", "no application"),
        ("rtmp:///app/key", "no host"),
        ("rtmp://h/app/key with space", "spaces"),
        ("h/app/key", "not a URL"),
    ] {
        let mut c = cfg();
        c.rtmp = vec![target("a", url)];
        let m = err(&c);
        assert!(m.contains(why), "{url}: {m}");
    }
    let mut c = cfg();
    c.rtmp = vec![target("a", "RTMP://h/a/k"), target("a", "rtmp://h/a/k")];
    assert!(err(&c).contains("unique"));
    c.rtmp = vec![target("", "rtmp://h/a/k")];
    assert!(err(&c).contains("unique and non-empty"));
}

#[test]
fn placements_set_each_sources_decoder_size() {
    use crate::layout::Rect;
    let scene = SceneShared {
        inner: Mutex::default(),
        generation: AtomicU64::new(0),
        width: 640,
        height: 360,
    };
    let a = Arc::new(SourceShared::new("a".into(), true, true));
    let b = Arc::new(SourceShared::new("b".into(), true, false));
    {
        let mut s = lock(&scene.inner);
        s.sources.insert("a".into(), a.clone());
        s.sources.insert("b".into(), b.clone());
        s.placements = vec![Placement {
            stream_id: "a".into(),
            slot: Rect::new(0, 0, 320, 360),
            video: Rect::new(0, 60, 319, 241),
            z: 0,
            fit: ObjectFit::Contain,
        }];
        scene.changed(&s);
    }
    assert_eq!(
        *lock(&a.want),
        Some(VideoSize {
            w: 320,
            h: 242,
            cover: false
        })
    );
    assert_eq!(*lock(&b.want), None);
    let (mut draw, mut audible) = (Vec::new(), Vec::new());
    scene.draw_list(640, 360, &mut draw, &mut audible);
    assert_eq!(draw.len(), 1);
    assert_eq!(draw[0].1, Rect::new(0, 60, 320, 242));
    assert_eq!(audible.len(), 1);
    let g = scene.generation.load(Ordering::Relaxed);
    scene.remove_if(&a);
    assert!(scene.generation.load(Ordering::Relaxed) > g);
    scene.draw_list(640, 360, &mut draw, &mut audible);
    assert!(draw.is_empty() && audible.is_empty());
}

#[test]
fn handles_cross_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<LiveCompositor>();
    sync::<LiveCompositor>();
    send::<SourceInput>();
    sync::<SourceInput>();
}
