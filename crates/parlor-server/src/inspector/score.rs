//! A quality score per window of media: an estimated MOS (mean opinion score, 1–4.5) from
//! what the router measured. Pure functions.
//!
//! The formula is the ITU-T G.107 E-model as OpenTok's network test simplifies it (the
//! reference's "Quality scores" section), applied to both kinds of media, with a bitrate
//! term for video:
//!
//! * one-way delay `d` = RTT/2 + 2·jitter + 30 ms (packetization and playout); an unknown
//!   RTT counts as 0 (a producer's RTT is not measurable by the router alone);
//! * delay impairment `Id` = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3);
//! * loss impairment `Ie` = 19.8·ln(1 + 29.7·loss) (loss as a fraction);
//! * video only: a bitrate impairment 20·ln(150 kbps / bitrate) below 150 kbps, the
//!   reference's "poor" threshold for video (none at or above it);
//! * R = 93.2 − Id − Ie (− the bitrate term), clamped to 0–100;
//! * MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R), clamped to 1–4.5.
//!
//! OpenTok's 1–5 quality score (`qualityScoreChanged`) is this MOS rounded, at least 1.

/// Below this a video stream's bitrate impairs its score.
pub const VIDEO_POOR_BPS: f64 = 150_000.0;

/// What one window measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub video: bool,
    /// Fraction of packets lost (0–1), if reported.
    pub loss: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub bitrate_bps: f64,
}

/// The transmission rating R (0–100).
pub fn r_factor(w: &Window) -> f64 {
    let d = w.rtt_ms.unwrap_or(0.0) / 2.0 + 2.0 * w.jitter_ms.unwrap_or(0.0) + 30.0;
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ie = 19.8 * (1.0 + 29.7 * w.loss.unwrap_or(0.0).clamp(0.0, 1.0)).ln();
    let bitrate = if w.video && w.bitrate_bps < VIDEO_POOR_BPS {
        20.0 * (VIDEO_POOR_BPS / w.bitrate_bps.max(1_000.0)).ln()
    } else {
        0.0
    };
    (93.2 - id - ie - bitrate).clamp(0.0, 100.0)
}

/// The estimated MOS, 1–4.5.
pub fn mos(w: &Window) -> f64 {
    let r = r_factor(w);
    (1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)).clamp(1.0, 4.5)
}

/// OpenTok's 1–5 score for a MOS.
pub fn opentok_score(mos: f64) -> u8 {
    mos.round().clamp(1.0, 5.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(video: bool, loss: f64, rtt: f64, bitrate: f64) -> Window {
        Window {
            video,
            loss: Some(loss),
            rtt_ms: Some(rtt),
            jitter_ms: Some(2.0),
            bitrate_bps: bitrate,
        }
    }

    #[test]
    fn a_clean_link_scores_high_and_loss_and_delay_lower_it() {
        let clean = mos(&w(false, 0.0, 20.0, 32_000.0));
        assert!(clean > 4.3, "{clean}");
        let lossy = mos(&w(false, 0.05, 20.0, 32_000.0));
        assert!(lossy < clean - 0.4 && lossy > 3.0, "{lossy}");
        let slow = mos(&w(false, 0.0, 600.0, 32_000.0));
        assert!(slow < clean - 0.5, "{slow}");
        let lost = mos(&w(false, 0.5, 600.0, 32_000.0));
        assert!(lost < 1.5, "{lost}");
        // Monotonic in loss.
        let mut last = 5.0;
        for permille in (0..=300).step_by(10) {
            let m = mos(&w(true, f64::from(permille) / 1000.0, 50.0, 500_000.0));
            assert!(m <= last, "{permille}: {m} > {last}");
            last = m;
        }
    }

    #[test]
    fn starved_video_scores_lower_than_the_same_link_at_a_good_bitrate() {
        let good = mos(&w(true, 0.0, 20.0, 800_000.0));
        let starved = mos(&w(true, 0.0, 20.0, 40_000.0));
        assert!(good > 4.3 && starved < good - 0.7, "{good} {starved}");
        // Audio at a low bitrate is normal (Opus).
        assert_eq!(
            mos(&w(false, 0.0, 20.0, 40_000.0)),
            mos(&w(false, 0.0, 20.0, 20_000.0))
        );
    }

    #[test]
    fn opentok_scores_are_1_to_5() {
        assert_eq!(opentok_score(4.5), 5);
        assert_eq!(opentok_score(4.4), 4);
        assert_eq!(opentok_score(1.0), 1);
        assert_eq!(opentok_score(2.6), 3);
    }
}
