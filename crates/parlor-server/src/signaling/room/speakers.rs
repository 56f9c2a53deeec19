//! Active speakers in a room: the router's audio level windows go to the session's
//! [`SpeakerDetector`] (`parlor_router::speakers`: who speaks, who dominates, with
//! hysteresis), and every change is announced to every member (`speakers`).

use std::time::Instant;

use parlor_router::AudioLevelSample;
pub(super) use parlor_router::speakers::SpeakerDetector;

use super::*;

impl Room {
    /// Takes a window of a stream's audio levels from the router; announces `speakers`
    /// when who speaks changed.
    pub fn audio_level(&self, stream_id: &str, sample: &AudioLevelSample) {
        let mut state = lock(&self.state);
        let state = &mut *state;
        if !state.streams.get(stream_id).is_some_and(|s| s.announced) {
            return;
        }
        if state.speakers.sample(stream_id, sample, Instant::now()) {
            announce(state);
        }
    }
}

/// Tells every member who speaks now.
pub(super) fn announce(state: &State) {
    let (speaking, dominant) = state.speakers.current();
    state.broadcast(&ServerMessage::Speakers { speaking, dominant });
}

/// A stream is gone: it speaks no more (announced if it was speaking or dominant).
pub(super) fn forget(state: &mut State, stream_id: &str) {
    if state.speakers.remove(stream_id, Instant::now()) {
        announce(state);
    }
}

/// Tells a connection joining who speaks, if anyone does.
pub(super) fn tell_joiner(state: &State, tx: &Outbox) {
    let (speaking, dominant) = state.speakers.current();
    if !speaking.is_empty() || dominant.is_some() {
        tx.send(encode(&ServerMessage::Speakers { speaking, dominant }));
    }
}
