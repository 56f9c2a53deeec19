//! Audio levels: what each producer's audio packets say of their loudness (the RFC 6464
//! client-to-mixer header extension, `urn:ietf:params:rtp-hdrext:ssrc-audio-level`), summed
//! per window and reported as a [`crate::RouterEvent::AudioLevel`] for the signaling
//! layer's speaker detection.
//!
//! Sans-IO: the worker calls [`AudioMeter::packet`] for each forwarded audio packet (two
//! adds and a table lookup: nothing allocated, no clock read) and [`AudioMeter::tick`] at
//! its own pace with the time; a window ends on the first tick after
//! [`crate::RouterConfig::audio_level_interval`]. After voiced audio, the next
//! [`QUIET_REPORTS`] silent windows are reported (a detector needs them to see speech end,
//! even when the producer stops sending), then none until voice returns, so a session of
//! a hundred quiet participants costs next to nothing.

use std::time::{Duration, Instant};

/// Packets at or above this loudness (at most this many dB below full scale) count as
/// voiced. Speech into a headset sits around −20 to −35 dBov, a quiet room below −60;
/// WebRTC's own voice activity flag is not always sent, so the level decides.
pub const VOICED_DBOV: u8 = 50;

/// Silent windows reported after voiced ones, before the meter falls quiet.
pub const QUIET_REPORTS: u8 = 4;

/// One window of one producer's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioLevelSample {
    /// The window's length.
    pub window_ms: u32,
    /// Audio packets that carried a level in the window (0: silent, nothing was sent).
    pub packets: u32,
    /// Of those, packets at least as loud as [`VOICED_DBOV`].
    pub voiced: u32,
    /// The mean level of the voiced packets in −dBov (0 loudest, 127 silence), averaged as
    /// amplitudes; 127 when none was voiced.
    pub level: u8,
}

impl AudioLevelSample {
    /// The fraction of the window's packets that were voiced, 0–1.
    pub fn activity(&self) -> f32 {
        if self.packets == 0 {
            0.0
        } else {
            self.voiced as f32 / self.packets as f32
        }
    }
}

/// One producer's audio levels, window by window.
#[derive(Debug)]
pub struct AudioMeter {
    started: Option<Instant>,
    packets: u32,
    voiced: u32,
    /// Sum of the voiced packets' amplitudes, in units of 1/65535 of full scale.
    amplitude: u64,
    /// Silent windows in a row (saturating); none is reported past [`QUIET_REPORTS`].
    /// Starts there: a producer is quiet until it is heard.
    quiet: u8,
}

impl AudioMeter {
    /// Counts one audio packet's level (−dBov as the extension carries it, 0–127; str0m
    /// gives it negated).
    #[inline]
    pub fn packet(&mut self, level: i8) {
        let dbov = level.unsigned_abs().min(127);
        self.packets += 1;
        if dbov <= VOICED_DBOV {
            self.voiced += 1;
            self.amplitude += u64::from(AMPLITUDE[usize::from(dbov)]);
        }
    }

    /// Ends the window if `interval` has passed since it started: returns its sample,
    /// unless it was empty and the previous one was too.
    pub fn tick(&mut self, now: Instant, interval: Duration) -> Option<AudioLevelSample> {
        let started = *self.started.get_or_insert(now);
        let elapsed = now.saturating_duration_since(started);
        if elapsed < interval {
            return None;
        }
        let sample = AudioLevelSample {
            window_ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
            packets: self.packets,
            voiced: self.voiced,
            level: match self.voiced {
                0 => 127,
                n => dbov_of(self.amplitude / u64::from(n)),
            },
        };
        self.started = Some(now);
        self.packets = 0;
        self.voiced = 0;
        self.amplitude = 0;
        self.quiet = match sample.voiced {
            0 => self.quiet.saturating_add(1),
            _ => 0,
        };
        (self.quiet <= QUIET_REPORTS).then_some(sample)
    }
}

impl Default for AudioMeter {
    fn default() -> Self {
        AudioMeter {
            started: None,
            packets: 0,
            voiced: 0,
            amplitude: 0,
            quiet: QUIET_REPORTS,
        }
    }
}

/// 10^(−dBov/20) × 65535, for dBov 0–127.
static AMPLITUDE: [u16; 128] = {
    let mut t = [0u16; 128];
    // 10^(-1/20), to f64 precision, applied step by step (no float `powf` in const).
    const STEP: f64 = 0.891_250_938_133_745_5;
    let mut a = 65535.0f64;
    let mut i = 0;
    while i < 128 {
        t[i] = (a + 0.5) as u16;
        a *= STEP;
        i += 1;
    }
    t
};

/// The level in −dBov (0–127) of an amplitude in units of 1/65535.
fn dbov_of(amplitude: u64) -> u8 {
    if amplitude == 0 {
        return 127;
    }
    let db = -20.0 * (amplitude as f64 / 65535.0).log10();
    db.round().clamp(0.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(250);

    #[test]
    fn the_amplitude_table_inverts_to_its_levels() {
        // Only voiced levels are summed; fainter ones lose precision in 16 bits.
        for dbov in 0..=VOICED_DBOV + 10 {
            assert_eq!(dbov_of(u64::from(AMPLITUDE[usize::from(dbov)])), dbov);
        }
        assert_eq!(dbov_of(0), 127);
    }

    #[test]
    fn a_window_reports_its_voiced_packets_and_their_mean_level() {
        let t0 = Instant::now();
        let mut m = AudioMeter::default();
        assert_eq!(m.tick(t0, WINDOW), None, "the first tick starts the window");
        for _ in 0..6 {
            m.packet(-30);
        }
        for _ in 0..4 {
            m.packet(-90); // background: not voiced
        }
        assert_eq!(m.tick(t0 + Duration::from_millis(100), WINDOW), None);
        let s = m.tick(t0 + WINDOW, WINDOW).expect("a window");
        assert_eq!(
            (s.packets, s.voiced, s.level, s.window_ms),
            (10, 6, 30, 250)
        );
        assert!((s.activity() - 0.6).abs() < 1e-6);
        // Levels average as amplitudes: −20 and −40 dBov are nearer −26 than −30.
        m.packet(-20);
        m.packet(-40);
        let s = m.tick(t0 + WINDOW * 2, WINDOW).unwrap();
        assert_eq!(s.level, 25);
    }

    #[test]
    fn silence_is_reported_a_few_windows_then_not() {
        let t0 = Instant::now();
        let mut m = AudioMeter::default();
        m.tick(t0, WINDOW);
        // Never heard: nothing to report.
        m.packet(-100);
        assert_eq!(m.tick(t0 + WINDOW, WINDOW), None);
        m.packet(-10);
        assert_eq!(m.tick(t0 + WINDOW * 2, WINDOW).unwrap().voiced, 1);
        // Muted: QUIET_REPORTS silent windows, then nothing.
        let mut at = t0 + WINDOW * 2;
        for _ in 0..QUIET_REPORTS {
            at += WINDOW;
            let s = m.tick(at, WINDOW).expect("a silent window");
            assert_eq!((s.packets, s.voiced, s.level), (0, 0, 127));
        }
        at += WINDOW;
        assert_eq!(m.tick(at, WINDOW), None);
        // Background noise only: still silent, still not reported.
        m.packet(-100);
        at += WINDOW;
        assert_eq!(m.tick(at, WINDOW), None);
        m.packet(-25);
        at += WINDOW;
        assert_eq!(m.tick(at, WINDOW).unwrap().level, 25);
    }

    #[test]
    fn out_of_range_levels_are_clamped() {
        let t0 = Instant::now();
        let mut m = AudioMeter::default();
        m.tick(t0, WINDOW);
        m.packet(i8::MIN);
        m.packet(0);
        let s = m.tick(t0 + WINDOW, WINDOW).unwrap();
        assert_eq!((s.packets, s.voiced, s.level), (2, 1, 0));
    }
}
