use super::*;

const SD: Resolution = Resolution::SD_LANDSCAPE;
const HD: Resolution = Resolution::HD_LANDSCAPE;
const SD_P: Resolution = Resolution::SD_PORTRAIT;

fn cam(id: &str, seq: u64) -> LayoutStream {
    LayoutStream {
        id: id.into(),
        added_seq: seq,
        has_video: true,
        ..Default::default()
    }
}

fn with_class(mut s: LayoutStream, classes: &[&str]) -> LayoutStream {
    s.classes = classes.iter().map(|c| c.to_string()).collect();
    s
}

fn sized(mut s: LayoutStream, w: u32, h: u32) -> LayoutStream {
    s.size = Some((w, h));
    s
}

fn cams(n: usize) -> Vec<LayoutStream> {
    (0..n).map(|i| cam(&format!("s{i}"), i as u64)).collect()
}

fn slots(p: &[Placement]) -> Vec<(String, Rect)> {
    p.iter().map(|p| (p.stream_id.clone(), p.slot)).collect()
}

fn r(x: u32, y: u32, w: u32, h: u32) -> Rect {
    Rect::new(x, y, w, h)
}

fn custom(css: &str) -> LayoutSpec {
    LayoutSpec::new(LayoutType::Custom, Some(css.into()), None).unwrap()
}

#[test]
fn resolutions_parse_only_opentoks_six() {
    for (s, w, h) in [
        ("640x480", 640, 480),
        ("480x640", 480, 640),
        ("1280x720", 1280, 720),
        ("720x1280", 720, 1280),
        ("1920x1080", 1920, 1080),
        ("1080x1920", 1080, 1920),
    ] {
        let res: Resolution = s.parse().unwrap();
        assert_eq!((res.width, res.height), (w, h));
        assert_eq!(res.to_string(), s);
    }
    for bad in ["640X480", "800x600", "", "640x480 ", "1280x720x1"] {
        let e = bad.parse::<Resolution>().unwrap_err();
        assert!(matches!(e, LayoutError::Resolution(_)), "{bad}");
        assert!(e.to_string().contains("640x480, 480x640"), "{e}");
    }
}

#[test]
fn spec_validation_is_specific() {
    use LayoutType::*;
    assert!(LayoutSpec::new(BestFit, None, Some(Pip)).is_ok());
    assert!(LayoutSpec::new(Custom, Some("stream {}".into()), None).is_ok());
    assert_eq!(
        LayoutSpec::new(Pip, Some("stream {}".into()), None).unwrap_err(),
        LayoutError::StylesheetWithoutCustom(Pip)
    );
    assert_eq!(
        LayoutSpec::new(Custom, None, None).unwrap_err(),
        LayoutError::CustomWithoutStylesheet
    );
    assert_eq!(
        LayoutSpec::new(Pip, None, Some(BestFit)).unwrap_err(),
        LayoutError::ScreenshareTypeWithoutBestFit(Pip)
    );
    assert_eq!(
        LayoutSpec::new(BestFit, None, Some(Custom)).unwrap_err(),
        LayoutError::ScreenshareTypeCustom
    );
    let e = LayoutSpec::new(Custom, Some("stream {\n  colour: red;\n}".into()), None).unwrap_err();
    assert!(
        matches!(e, LayoutError::Stylesheet(StylesheetError { line: 2, .. })),
        "{e}"
    );
    assert!(e.to_string().contains("colour"), "{e}");
    for name in [
        "bestFit",
        "pip",
        "verticalPresentation",
        "horizontalPresentation",
        "custom",
    ] {
        assert_eq!(name.parse::<LayoutType>().unwrap().as_str(), name);
    }
    assert!(matches!(
        "BestFit".parse::<LayoutType>(),
        Err(LayoutError::UnknownType(_))
    ));
}

#[test]
fn order_classes_then_screens_then_owners_then_added() {
    let mut screen = cam("screen", 2);
    screen.video_type = VideoType::Screen;
    let mut owner = cam("owner", 3);
    owner.owner_shares_screen = true;
    let mut classed_screen = with_class(cam("classed-screen", 5), &["x"]);
    classed_screen.video_type = VideoType::Screen;
    let streams = vec![
        cam("plain", 1),
        owner,
        screen,
        with_class(cam("classed", 4), &["y"]),
        classed_screen,
        cam("early", 0),
    ];
    let ids: Vec<&str> = order_streams(&streams)
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "classed-screen",
            "classed",
            "screen",
            "owner",
            "early",
            "plain"
        ]
    );
}

#[test]
fn best_fit_sd() {
    let spec = LayoutSpec::default();
    let cases: [(usize, Vec<Rect>); 6] = [
        (1, vec![r(0, 0, 640, 480)]),
        (2, vec![r(0, 0, 320, 480), r(320, 0, 320, 480)]),
        (
            3,
            vec![r(0, 0, 320, 240), r(320, 0, 320, 240), r(0, 240, 320, 240)],
        ),
        (
            4,
            vec![
                r(0, 0, 320, 240),
                r(320, 0, 320, 240),
                r(0, 240, 320, 240),
                r(320, 240, 320, 240),
            ],
        ),
        (
            5,
            vec![
                r(0, 0, 213, 160),
                r(213, 0, 214, 160),
                r(427, 0, 213, 160),
                r(0, 160, 213, 160),
                r(213, 160, 214, 160),
            ],
        ),
        (
            9,
            vec![
                r(0, 0, 213, 160),
                r(213, 0, 214, 160),
                r(427, 0, 213, 160),
                r(0, 160, 213, 160),
                r(213, 160, 214, 160),
                r(427, 160, 213, 160),
                r(0, 320, 213, 160),
                r(213, 320, 214, 160),
                r(427, 320, 213, 160),
            ],
        ),
    ];
    for (n, want) in cases {
        let got: Vec<Rect> = layout(&cams(n), &spec, SD).iter().map(|p| p.slot).collect();
        assert_eq!(got, want, "{n} streams");
    }
    // 10–16: 4×4 of 160×120.
    let p = layout(&cams(16), &spec, SD);
    assert_eq!(p.len(), 16);
    assert_eq!(p[9].slot, r(160, 240, 160, 120));
    assert_eq!(p[15].slot, r(480, 360, 160, 120));
    // Never more than 16.
    let p = layout(&cams(20), &spec, SD);
    assert_eq!(p.len(), 16);
    assert!(p.iter().all(|p| p.stream_id != "s16"));
}

#[test]
fn best_fit_hd_and_portrait() {
    let spec = LayoutSpec::default();
    let got = slots(&layout(&cams(2), &spec, HD));
    assert_eq!(got[0].1, r(0, 0, 640, 720));
    assert_eq!(got[1].1, r(640, 0, 640, 720));
    let got: Vec<Rect> = layout(&cams(6), &spec, HD).iter().map(|p| p.slot).collect();
    assert_eq!(
        got,
        [
            r(0, 0, 427, 240),
            r(427, 0, 426, 240),
            r(853, 0, 427, 240),
            r(0, 240, 427, 240),
            r(427, 240, 426, 240),
            r(853, 240, 427, 240),
        ]
    );
    let got: Vec<Rect> = layout(&cams(2), &spec, SD_P)
        .iter()
        .map(|p| p.slot)
        .collect();
    assert_eq!(got, [r(0, 0, 240, 640), r(240, 0, 240, 640)]);
    let got: Vec<Rect> = layout(&cams(7), &spec, SD_P)
        .iter()
        .map(|p| p.slot)
        .collect();
    assert_eq!(got[3], r(0, 213, 160, 214));
    assert_eq!(got[6], r(0, 427, 160, 213));
    // Every grid covers the frame exactly, at every resolution.
    for res in Resolution::ALL {
        for n in [1, 2, 4, 9, 16] {
            let area: u64 = layout(&cams(n), &spec, res)
                .iter()
                .map(|p| u64::from(p.slot.w) * u64::from(p.slot.h))
                .sum();
            let cells = match n {
                1 => 1,
                2 => 2,
                4 => 4,
                9 => 9,
                _ => 16,
            };
            assert_eq!(cells, n);
            assert_eq!(
                area,
                u64::from(res.width) * u64::from(res.height),
                "{res} {n}"
            );
        }
    }
}

#[test]
fn letterboxing_keeps_aspect() {
    // A 4:3 source in a 16:9 slot: pillarboxed.
    let p = layout(&[sized(cam("a", 0), 640, 480)], &LayoutSpec::default(), HD);
    assert_eq!(p[0].slot, r(0, 0, 1280, 720));
    assert_eq!(p[0].video, r(160, 0, 960, 720));
    // A 16:9 source in a 4:3 slot: letterboxed.
    let p = layout(&[sized(cam("a", 0), 1280, 720)], &LayoutSpec::default(), SD);
    assert_eq!(p[0].video, r(0, 60, 640, 360));
    // A 4:3 source in a bestFit half (320×480 at 640×480).
    let p = layout(
        &[sized(cam("a", 0), 320, 240), sized(cam("b", 1), 320, 240)],
        &LayoutSpec::default(),
        SD,
    );
    assert_eq!(p[1].video, r(320, 120, 320, 240));
    // A 16:9 source in a 1280×720 half: 640×360, centred.
    let p = layout(
        &[cam("a", 0), sized(cam("b", 1), 1920, 1080)],
        &LayoutSpec::default(),
        HD,
    );
    assert_eq!(p[0].video, p[0].slot, "unknown size fills the slot");
    assert_eq!(p[1].video, r(640, 180, 640, 360));
    // A portrait source in a landscape slot, and odd leftovers centred.
    assert_eq!(
        fit_contain(r(10, 20, 300, 100), Some((480, 640))),
        r(122, 20, 75, 100)
    );
    assert_eq!(
        fit_contain(r(0, 0, 213, 160), Some((640, 480))),
        r(0, 0, 213, 160)
    );
    assert_eq!(
        fit_contain(r(0, 0, 100, 100), Some((0, 5))),
        r(0, 0, 100, 100)
    );
}

fn pip_pair() -> Vec<LayoutStream> {
    vec![cam("a", 0), cam("b", 1), cam("c", 2)]
}

#[test]
fn pip_geometry() {
    let spec = LayoutSpec::predefined(LayoutType::Pip);
    let p = layout(&pip_pair(), &spec, SD);
    assert_eq!(
        slots(&p),
        [
            ("a".into(), r(0, 0, 640, 480)),
            ("b".into(), r(448, 48, 128, 96))
        ]
    );
    assert_eq!((p[0].z, p[1].z), (100, 200));
    let p = layout(&pip_pair(), &spec, HD);
    assert_eq!(p[1].slot, r(896, 72, 256, 144));
    // The `full` class picks the big one, whenever it was added.
    let streams = vec![cam("a", 0), cam("b", 1), with_class(cam("c", 2), &["full"])];
    let p = layout(&streams, &spec, SD);
    assert_eq!(
        slots(&p),
        [
            ("c".into(), r(0, 0, 640, 480)),
            ("a".into(), r(448, 48, 128, 96))
        ]
    );
    // One stream: just the full one.
    assert_eq!(layout(&cams(1), &spec, SD).len(), 1);
}

#[test]
fn presentation_geometry() {
    let v = LayoutSpec::predefined(LayoutType::VerticalPresentation);
    let h = LayoutSpec::predefined(LayoutType::HorizontalPresentation);
    let streams = vec![
        cam("a", 0),
        with_class(cam("f", 1), &["focus"]),
        cam("b", 2),
    ];
    assert_eq!(
        slots(&layout(&streams, &v, SD)),
        [
            ("f".into(), r(128, 0, 512, 480)),
            ("a".into(), r(0, 0, 128, 96)),
            ("b".into(), r(0, 96, 128, 96)),
        ]
    );
    assert_eq!(
        slots(&layout(&streams, &h, HD)),
        [
            ("f".into(), r(0, 0, 1280, 576)),
            ("a".into(), r(0, 576, 256, 144)),
            ("b".into(), r(256, 576, 256, 144)),
        ]
    );
    let portrait = Resolution::HD_PORTRAIT;
    assert_eq!(
        slots(&layout(&streams, &h, portrait)),
        [
            ("f".into(), r(0, 0, 720, 1024)),
            ("a".into(), r(0, 1024, 144, 256)),
            ("b".into(), r(144, 1024, 144, 256)),
        ]
    );
    // No focus class: the first in order is the big one; five small ones at most.
    let p = layout(&cams(8), &v, SD);
    assert_eq!(p[0].stream_id, "s0");
    assert_eq!(p[0].slot, r(128, 0, 512, 480));
    assert_eq!(p.len(), 6);
    assert_eq!(p[5].slot, r(0, 384, 128, 96));
}

#[test]
fn streams_without_video_get_no_rectangle() {
    let mut streams = cams(3);
    streams[1].has_video = false;
    let p = layout(&streams, &LayoutSpec::default(), SD);
    assert_eq!(
        slots(&p),
        [
            ("s0".into(), r(0, 0, 320, 480)),
            ("s2".into(), r(320, 0, 320, 480))
        ]
    );
    streams.iter_mut().for_each(|s| s.has_video = false);
    assert!(layout(&streams, &LayoutSpec::default(), SD).is_empty());
}

#[test]
fn screenshare_type_switches_while_a_share_is_live() {
    let spec = LayoutSpec::new(LayoutType::BestFit, None, Some(LayoutType::Pip)).unwrap();
    // The classed camera comes first in order, but the screen takes the full slot.
    let mut screen = cam("screen", 1);
    screen.video_type = VideoType::Screen;
    let mut streams = vec![with_class(cam("cam", 0), &["x"]), screen, cam("other", 2)];
    let p = layout(&streams, &spec, SD);
    assert_eq!(
        slots(&p),
        [
            ("screen".into(), r(0, 0, 640, 480)),
            ("cam".into(), r(448, 48, 128, 96))
        ]
    );
    // Share muted (no video): back to bestFit.
    streams[1].has_video = false;
    assert_eq!(
        slots(&layout(&streams, &spec, SD)),
        [
            ("cam".into(), r(0, 0, 320, 480)),
            ("other".into(), r(320, 0, 320, 480))
        ]
    );
    // verticalPresentation as the share layout: the screen is the focus.
    streams[1].has_video = true;
    let spec = LayoutSpec::new(
        LayoutType::BestFit,
        None,
        Some(LayoutType::VerticalPresentation),
    )
    .unwrap();
    let p = layout(&streams, &spec, HD);
    assert_eq!(p[0].stream_id, "screen");
    assert_eq!(p[0].slot, r(256, 0, 1024, 720));
    assert_eq!(p[1].slot, r(0, 0, 256, 144));
    // Without screenshareType a share is just another tile.
    assert_eq!(layout(&streams, &LayoutSpec::default(), SD).len(), 3);
}

// OpenTok's documented stylesheets "based on the predefined layouts".
const DOC_BEST_FIT: &str = "stream {
  float: left;
}
stream:first-child:nth-last-child(1) {
  width: 100%;
  height: 100%;
}

stream:first-child:nth-last-child(2),
stream:first-child:nth-last-child(2) ~ stream {
  width: 50%;
  height: 100%;
}
stream:first-child:nth-last-child(3),
stream:first-child:nth-last-child(3) ~ stream,
stream:first-child:nth-last-child(4),
stream:first-child:nth-last-child(4) ~ stream {
  width: 50%;
  height: 50%;
}
stream:first-child:nth-last-child(5),
stream:first-child:nth-last-child(5) ~ stream,
stream:first-child:nth-last-child(6),
stream:first-child:nth-last-child(6) ~ stream,
stream:first-child:nth-last-child(7),
stream:first-child:nth-last-child(7) ~ stream,
stream:first-child:nth-last-child(8),
stream:first-child:nth-last-child(8) ~ stream,
stream:first-child:nth-last-child(9),
stream:first-child:nth-last-child(9) ~ stream
{
  width: 33.33%;
  height: 33.33%;
}";

const DOC_HORIZONTAL: &str = "stream {
  float:left;
  margin-top: 60%;
  width: 20%;
  height: 20%;
}
stream.focus {
  position: absolute;
  top: 0;
  left: 0;
  margin-top: 0px;
  height: 80%;
  width: 100%;
}";

const DOC_VERTICAL: &str = "stream {
  float: left;
  left: 0px;
  clear: left;
  width: 20%;
  height: 20%;
}
stream.focus {
  position: absolute;
  top: 0;
  left: 0;
  margin: 0px;
  left: 20%;
  height: 100%;
  width: 80%;
}";

const DOC_PIP: &str = "stream.full {
  position: absolute;
  top: 0;
  right: 0;
  width: 100%;
  height: 100%;
  z-index: 100;
}
stream {
  position: absolute;
  right: 10%;
  top: 10%;
  width: 20%;
  height: 20%;
  z-index: 200;
}";

/// Equal placements, in any order: CSS draws positioned boxes after floats, the
/// built-ins list the focus first; only overlapping boxes (pip) need an order, and its
/// test checks it.
fn placements_eq(a: &[Placement], b: &[Placement], what: &str) {
    let sorted = |p: &[Placement]| {
        let mut v = p.to_vec();
        v.sort_by(|x, y| x.stream_id.cmp(&y.stream_id));
        v
    };
    assert_eq!(sorted(a), sorted(b), "{what}");
}

#[test]
fn documented_best_fit_css_matches_the_built_in() {
    for res in Resolution::ALL {
        for n in 1..=9 {
            let streams: Vec<LayoutStream> =
                cams(n).into_iter().map(|s| sized(s, 640, 480)).collect();
            placements_eq(
                &layout(&streams, &custom(DOC_BEST_FIT), res),
                &layout(&streams, &LayoutSpec::default(), res),
                &format!("bestFit CSS, {n} streams at {res}"),
            );
        }
    }
}

#[test]
fn documented_presentation_css_matches_the_built_ins() {
    let streams = vec![
        cam("a", 0),
        cam("b", 1),
        with_class(sized(cam("f", 2), 1280, 720), &["focus"]),
        cam("c", 3),
    ];
    for res in Resolution::ALL {
        placements_eq(
            &layout(&streams, &custom(DOC_VERTICAL), res),
            &layout(
                &streams,
                &LayoutSpec::predefined(LayoutType::VerticalPresentation),
                res,
            ),
            &format!("verticalPresentation CSS at {res}"),
        );
    }
    // `margin-top: 60%` is 60% of the width: 80% of the height only in 4:3.
    placements_eq(
        &layout(&streams, &custom(DOC_HORIZONTAL), SD),
        &layout(
            &streams,
            &LayoutSpec::predefined(LayoutType::HorizontalPresentation),
            SD,
        ),
        "horizontalPresentation CSS at 640x480",
    );
    // At 16:9 the documented CSS pushes the row below the frame (as a browser would).
    let p = layout(&streams, &custom(DOC_HORIZONTAL), HD);
    assert_eq!(slots(&p), [("f".into(), r(0, 0, 1280, 576))]);
}

#[test]
fn documented_pip_css_matches_the_built_in() {
    let streams = vec![with_class(cam("big", 1), &["full"]), cam("small", 0)];
    for res in Resolution::ALL {
        placements_eq(
            &layout(&streams, &custom(DOC_PIP), res),
            &layout(&streams, &LayoutSpec::predefined(LayoutType::Pip), res),
            &format!("pip CSS at {res}"),
        );
        let ids: Vec<String> = layout(&streams, &custom(DOC_PIP), res)
            .into_iter()
            .map(|p| p.stream_id)
            .collect();
        assert_eq!(ids, ["big", "small"], "the corner is drawn above");
    }
}

#[test]
fn documented_sample_css() {
    let css = "stream.main {
  position: absolute;
  left: 0;
  top: 0;
  width: 100%;
  height: 100%;
  z-index: 100;
}
stream.lower-left {
  position: absolute;
  left: 10%;
  bottom: 10%;
  width: 20%;
  height: 20%;
  z-index: 200;
}";
    // Document order puts lower-left first; z-index draws it last.
    let streams = vec![
        with_class(cam("ll", 0), &["lower-left"]),
        with_class(cam("main", 1), &["main"]),
    ];
    let p = layout(&streams, &custom(css), SD);
    assert_eq!(
        slots(&p),
        [
            ("main".into(), r(0, 0, 640, 480)),
            ("ll".into(), r(64, 336, 128, 96))
        ]
    );
    assert_eq!((p[0].z, p[1].z), (100, 200));
}

#[test]
fn css_selectors() {
    let css = "stream { position: absolute; width: 10px; height: 10px; top: 0; left: 0 }
stream:nth-child(2n+1) { top: 100px }
stream:nth-last-child(1) { left: 200px }
stream.a + stream { left: 300px }
stream.b ~ stream.c { height: 20px }
stream:nth-child(-n+2) { width: 30px }
.gone { display: none }
.cover { object-fit: cover }";
    let streams = vec![
        // Every stream has a class, so document order is the order added.
        with_class(cam("one", 0), &["a", "b"]),
        with_class(cam("two", 1), &["t"]),
        with_class(cam("three", 2), &["gone"]),
        with_class(sized(cam("four", 3), 320, 240), &["c", "cover"]),
    ];
    let p = layout(&streams, &custom(css), SD);
    assert_eq!(
        slots(&p),
        [
            ("one".into(), r(0, 100, 30, 10)),
            ("two".into(), r(300, 0, 30, 10)),
            ("four".into(), r(200, 0, 10, 20)),
        ]
    );
    // Cover fills the slot (cropping is the renderer's job); contain letterboxes.
    assert_eq!(p[2].fit, ObjectFit::Cover);
    assert_eq!(p[2].video, p[2].slot);
    // display:none still counts for structural pseudo-classes: "four" is nth-child(4).
    let p = layout(
        &streams,
        &custom("stream:nth-child(4) { width: 5px; height: 5px }"),
        SD,
    );
    assert_eq!(slots(&p), [("four".into(), r(0, 0, 5, 5))]);
}

#[test]
fn css_cascade() {
    // Specificity beats order; later wins among equals; !important beats both.
    let css = ".x { width: 100px; height: 50px !important }
stream { width: 200px; height: 10px }
stream { width: 300px }
stream.x { width: 40px }";
    let p = layout(
        &[with_class(cam("a", 0), &["x"]), cam("b", 1)],
        &custom(css),
        SD,
    );
    assert_eq!(p[0].slot, r(0, 0, 40, 50));
    assert_eq!(p[1].slot, r(0, 50, 300, 10));
}

#[test]
fn css_floats_margins_and_clipping() {
    let css = "stream { float: right; width: 25%; height: 100px; margin: 10px 5% }
stream.l { float: left; clear: right }
stream.abs { position: absolute; right: -50px; bottom: -50px; width: 100px; height: 100px; margin: 0 }
stream.out { position: absolute; left: 700px; top: 0; width: 10px; height: 10px }
stream.rel { float: none; position: relative; left: 5px; top: -5px; margin: 0 }";
    let streams = vec![
        // Every stream has a class, so document order is the order added.
        with_class(cam("r1", 0), &["r"]),
        with_class(cam("r2", 1), &["r"]),
        with_class(cam("l", 2), &["l"]),
        with_class(cam("abs", 3), &["abs"]),
        with_class(cam("out", 4), &["out"]),
        with_class(cam("rel", 5), &["rel"]),
    ];
    let p = layout(&streams, &custom(css), SD);
    // Right floats: margin box 32+160+32 wide; the first at the right edge.
    // l clears the right floats: below them (10+100+10).
    // rel is an in-flow block at y 0 (160×100 from `stream`), shifted (5, -5): clipped.
    // abs is clipped to the frame; out is outside: not shown.
    assert_eq!(
        slots(&p),
        [
            ("r1".into(), r(448, 10, 160, 100)),
            ("r2".into(), r(224, 10, 160, 100)),
            ("l".into(), r(32, 130, 160, 100)),
            ("abs".into(), r(590, 430, 50, 50)),
            ("rel".into(), r(5, 0, 160, 95)),
        ]
    );
}

#[test]
fn css_errors_name_the_line_and_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("stream {\n width: 10px;\n colour: red;\n}", 3, "colour"),
        ("stream .a { width: 1px }", 1, "descendant"),
        ("\n\nstream > .a { width: 1px }", 3, "child selectors"),
        ("* { width: 1px }", 1, "universal"),
        ("#x { width: 1px }", 1, "ID selectors"),
        ("stream[a] { width: 1px }", 1, "attribute"),
        ("div { width: 1px }", 1, "only stream"),
        ("stream:hover { width: 1px }", 1, ":hover"),
        ("stream::before { width: 1px }", 1, "pseudo-elements"),
        ("stream:nth-child(x) { width: 1px }", 1, "An+B"),
        ("stream { width: 10 }", 1, "needs a unit"),
        ("stream { width: -10px }", 1, "negative"),
        ("stream { width: 10em }", 1, "not a length"),
        (
            "stream { position: fixed }",
            1,
            "static, relative, absolute",
        ),
        ("stream { width 10px }", 1, "property: value"),
        ("stream {\n width: 1px;\n", 1, "never closed"),
        ("stream { width: 1px } }", 1, "expected '{'"),
        ("stream { a { } }", 1, "nested"),
        ("@media print { }", 1, "at-rules"),
        ("/* unclosed", 1, "comment"),
        ("stream + { width: 1px }", 1, "ends with a combinator"),
        ("stream { z-index: 1.5 }", 1, "z-index"),
        (", stream { width: 1px }", 1, "empty selector"),
    ];
    for (css, line, needle) in cases {
        let e = Stylesheet::parse(css).unwrap_err();
        assert_eq!(e.line, *line, "{css:?}: {e}");
        assert!(e.to_string().contains(needle), "{css:?}: {e}");
    }
    // Comments keep line numbers; odd/even and spacing in An+B parse.
    Stylesheet::parse("/* a\n b */\nstream:nth-child( 2n + 1 ), stream:nth-child(odd) {}").unwrap();
    let e = Stylesheet::parse("/* a\n b */\nstream { top: x }").unwrap_err();
    assert_eq!(e.line, 3);
    assert!(Stylesheet::parse(&"a".repeat(70_000)).is_err());
}

#[test]
fn invalid_custom_spec_falls_back_to_best_fit() {
    let spec = LayoutSpec {
        kind: LayoutType::Custom,
        stylesheet: Some("stream { bogus: 1 }".into()),
        screenshare_type: None,
    };
    assert_eq!(
        layout(&cams(2), &spec, SD),
        layout(&cams(2), &LayoutSpec::default(), SD)
    );
}
