//! Active speakers (mediasoup's ActiveSpeakerObserver): from a session's audio level
//! windows ([`AudioLevelSample`], [`crate::audio_level`]), who is speaking and who is the
//! dominant speaker. The signaling layer feeds it and announces its changes.
//!
//! [`SpeakerDetector`] is sans-IO (windows and times in, changes out) and has hysteresis
//! both ways: a stream's voice activity is smoothed, so one loud window (a cough, a door)
//! does not make a speaker and a pause between words does not end one; a new dominant
//! speaker must lead the current one clearly for [`DOMINANT_HOLD`]. Work is per window
//! (four a second per stream that is heard) and a change only when who speaks changes, so
//! a session of a hundred mostly quiet participants costs little (BENCHMARKS.md, "Active
//! speakers", has the figures).

use std::time::{Duration, Instant};

use std::collections::HashMap;

use crate::audio_level::AudioLevelSample;

/// Smoothed activity (the fraction of voiced packets) at which a stream starts speaking.
pub const SPEAKING_ON: f32 = 0.6;
/// Smoothed activity below which a speaking stream stops.
pub const SPEAKING_OFF: f32 = 0.15;
/// Weight of the newest window in the smoothed activity and loudness.
const SMOOTHING: f32 = 0.5;
/// A challenger becomes the dominant speaker after leading this long.
pub const DOMINANT_HOLD: Duration = Duration::from_millis(1000);
/// By how much (as a factor of the dominant speaker's score) a challenger must lead.
const DOMINANT_MARGIN: f32 = 1.3;

#[derive(Debug, Default)]
struct Voice {
    /// Smoothed fraction of voiced packets, 0–1.
    activity: f32,
    /// Smoothed loudness of the voiced packets, 0 (silence) to 1 (full scale), in dB steps.
    loudness: f32,
    speaking: bool,
}

impl Voice {
    /// What makes a dominant speaker: speaking most of the time, and loud.
    fn score(&self) -> f32 {
        self.activity * (0.5 + self.loudness)
    }
}

/// Who is speaking in one session.
#[derive(Debug, Default)]
pub struct SpeakerDetector {
    voices: HashMap<String, Voice>,
    dominant: Option<String>,
    /// A speaker leading the dominant one, and since when.
    challenger: Option<(String, Instant)>,
}

impl SpeakerDetector {
    /// Takes one window of `stream`'s audio; returns whether the speaking set or the
    /// dominant speaker changed.
    pub fn sample(&mut self, stream: &str, sample: &AudioLevelSample, now: Instant) -> bool {
        let v = match self.voices.get_mut(stream) {
            Some(v) => v,
            None => self.voices.entry(stream.to_owned()).or_default(),
        };
        v.activity += SMOOTHING * (sample.activity() - v.activity);
        if sample.voiced > 0 {
            let loudness = 1.0 - f32::from(sample.level.min(127)) / 127.0;
            v.loudness += SMOOTHING * (loudness - v.loudness);
        }
        let was = v.speaking;
        v.speaking = if was {
            v.activity >= SPEAKING_OFF
        } else {
            v.activity >= SPEAKING_ON
        };
        let changed = was != v.speaking;
        if !v.speaking && v.activity < 0.01 {
            // Quiet for good: forget it (the router stops sending its windows).
            self.voices.remove(stream);
        }
        self.elect(now) || changed
    }

    /// Forgets a stream (unpublished); returns whether that changed anything announced.
    pub fn remove(&mut self, stream: &str, now: Instant) -> bool {
        let was = self.voices.remove(stream).is_some_and(|v| v.speaking);
        if self.challenger.as_ref().is_some_and(|(c, _)| c == stream) {
            self.challenger = None;
        }
        let was_dominant = self.dominant.as_deref() == Some(stream);
        if was_dominant {
            self.dominant = None;
            self.elect(now);
        }
        was || was_dominant
    }

    /// The streams speaking now (sorted) and the dominant speaker.
    pub fn current(&self) -> (Vec<String>, Option<String>) {
        let mut speaking: Vec<String> = self
            .voices
            .iter()
            .filter(|(_, v)| v.speaking)
            .map(|(id, _)| id.clone())
            .collect();
        speaking.sort_unstable();
        (speaking, self.dominant.clone())
    }

    /// Re-elects the dominant speaker; returns whether it changed. A dominant speaker who
    /// stopped speaking keeps the place until someone else speaks (the last speaker is
    /// who a view keeps showing); one who left gives it up.
    fn elect(&mut self, now: Instant) -> bool {
        let best = self
            .voices
            .iter()
            .filter(|(_, v)| v.speaking)
            .max_by(|a, b| {
                a.1.score()
                    .total_cmp(&b.1.score())
                    .then_with(|| b.0.cmp(a.0))
            });
        let Some((best_id, best)) = best else {
            self.challenger = None;
            return false;
        };
        let current = self.dominant.as_deref().and_then(|d| self.voices.get(d));
        let take = match current {
            _ if self.dominant.as_deref() == Some(best_id.as_str()) => {
                self.challenger = None;
                return false;
            }
            None => true,
            Some(c) if !c.speaking => true,
            Some(c) if best.score() > c.score() * DOMINANT_MARGIN => match &self.challenger {
                Some((id, since)) if id == best_id => {
                    now.saturating_duration_since(*since) >= DOMINANT_HOLD
                }
                _ => {
                    self.challenger = Some((best_id.clone(), now));
                    false
                }
            },
            Some(_) => {
                self.challenger = None;
                false
            }
        };
        if take {
            self.dominant = Some(best_id.clone());
            self.challenger = None;
        }
        take
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(250);

    fn window(activity: f32, level: u8) -> AudioLevelSample {
        let packets = 12;
        let voiced = (activity * packets as f32).round() as u32;
        AudioLevelSample {
            window_ms: 250,
            packets,
            voiced,
            level: if voiced == 0 { 127 } else { level },
        }
    }

    /// Feeds `n` windows of `stream`, from `*at`; returns how many changed something.
    fn feed(
        d: &mut SpeakerDetector,
        at: &mut Instant,
        stream: &str,
        s: AudioLevelSample,
        n: usize,
    ) -> usize {
        (0..n)
            .filter(|_| {
                *at += WINDOW;
                d.sample(stream, &s, *at)
            })
            .count()
    }

    #[test]
    fn one_loud_window_is_not_speech_and_a_pause_does_not_end_it() {
        let mut d = SpeakerDetector::default();
        let mut at = Instant::now();
        assert_eq!(feed(&mut d, &mut at, "a", window(1.0, 20), 1), 0);
        assert_eq!(feed(&mut d, &mut at, "a", window(0.0, 0), 4), 0);
        assert_eq!(d.current(), (vec![], None));
        // Speech: speaking after two windows, and dominant (the only one).
        assert_eq!(feed(&mut d, &mut at, "a", window(1.0, 20), 2), 1);
        assert_eq!(d.current(), (vec!["a".to_owned()], Some("a".to_owned())));
        // A pause of one window between words: still speaking.
        assert_eq!(feed(&mut d, &mut at, "a", window(0.0, 0), 1), 0);
        assert_eq!(feed(&mut d, &mut at, "a", window(0.9, 20), 2), 0);
        // Silence: stops after a few windows; stays the dominant (last) speaker.
        assert_eq!(feed(&mut d, &mut at, "a", window(0.0, 0), 4), 1);
        assert_eq!(d.current(), (vec![], Some("a".to_owned())));
    }

    #[test]
    fn a_new_dominant_speaker_must_lead_for_a_while() {
        let mut d = SpeakerDetector::default();
        let mut at = Instant::now();
        feed(&mut d, &mut at, "a", window(0.8, 35), 4);
        assert_eq!(d.current().1.as_deref(), Some("a"));
        // b speaks louder and more; a keeps talking: b takes over only after DOMINANT_HOLD.
        let mut took = None;
        for i in 0..12 {
            feed(&mut d, &mut at, "a", window(0.7, 35), 1);
            feed(&mut d, &mut at, "b", window(1.0, 15), 1);
            if took.is_none() && d.current().1.as_deref() == Some("b") {
                took = Some(i);
            }
        }
        let took = took.expect("b becomes dominant");
        assert!(
            took >= 2,
            "b led for {took} rounds of 500 ms before taking over"
        );
        assert_eq!(d.current().0, vec!["a".to_owned(), "b".to_owned()]);
        // b falls silent: a, still speaking, takes over at once.
        feed(&mut d, &mut at, "b", window(0.0, 0), 4);
        feed(&mut d, &mut at, "a", window(0.8, 35), 1);
        assert_eq!(d.current(), (vec!["a".to_owned()], Some("a".to_owned())));
    }

    #[test]
    fn a_close_contest_keeps_the_dominant_speaker() {
        let mut d = SpeakerDetector::default();
        let mut at = Instant::now();
        feed(&mut d, &mut at, "a", window(0.8, 30), 4);
        for _ in 0..20 {
            feed(&mut d, &mut at, "b", window(0.85, 29), 1);
            feed(&mut d, &mut at, "a", window(0.8, 30), 1);
        }
        assert_eq!(d.current().1.as_deref(), Some("a"));
    }

    #[test]
    fn a_stream_that_leaves_gives_up_its_place() {
        let mut d = SpeakerDetector::default();
        let mut at = Instant::now();
        feed(&mut d, &mut at, "a", window(1.0, 20), 3);
        feed(&mut d, &mut at, "b", window(1.0, 30), 3);
        assert_eq!(d.current().1.as_deref(), Some("a"));
        assert!(d.remove("a", at));
        assert_eq!(d.current(), (vec!["b".to_owned()], Some("b".to_owned())));
        assert!(!d.remove("nobody", at));
        // A quiet stream is forgotten once its windows say nothing.
        feed(&mut d, &mut at, "c", window(0.0, 0), 1);
        assert!(!d.voices.contains_key("c"));
    }
}
