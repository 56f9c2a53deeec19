//! Rooms censoring (`actions/mute` and `actions/unmute` of the Rooms API): a censored
//! stream's audio is force-muted as OpenTok's moderator mute does (the router stops
//! forwarding it, its owner gets `muteForced`, everyone `streamPropertyChanged`), and
//! until it is uncensored its owner cannot turn it back on. Everyone is told both ways
//! (`audioCensored`), so clients can tell a moderator's mute from a participant's own.

use super::*;

/// The refusal of an owner's `setStreamProperty` hasAudio=true on a censored stream.
pub(super) fn refused(stream_id: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::PermissionDenied,
        format!(
            "the audio of stream {stream_id} is muted by the room's moderator; it can be \
             turned on after an unmute"
        ),
    )
    .with_reason("censored")
}

/// Tells a connection joining which of the streams in its `connected` are censored.
pub(super) fn tell_joiner(state: &State, tx: &Outbox) {
    for (stream_id, entry) in &state.streams {
        if entry.censored && entry.announced {
            tx.send(encode(&ServerMessage::AudioCensored {
                stream_id: stream_id.clone(),
                censored: true,
            }));
        }
    }
}

impl Room {
    /// Censors (`censored` true) or uncensors the audio of `streams` (those of this
    /// session; others are skipped). Returns how many changed.
    pub fn censor_audio(&self, streams: &[String], censored: bool) -> usize {
        let changed: Vec<String> = {
            let mut state = lock(&self.state);
            let mut changed = Vec::new();
            for id in streams {
                if let Some(entry) = state.streams.get_mut(id)
                    && entry.censored != censored
                {
                    entry.censored = censored;
                    changed.push(id.clone());
                }
            }
            for id in &changed {
                state.broadcast(&ServerMessage::AudioCensored {
                    stream_id: id.clone(),
                    censored,
                });
            }
            changed
        };
        if censored {
            for id in &changed {
                // Marked first: the owner cannot turn its audio on between the two.
                let _ = self.force_mute(None, Some(id), &[]);
            }
        }
        self.record(What::Moderation {
            action: if censored {
                "censorAudio"
            } else {
                "uncensorAudio"
            },
            by: None,
            target: None,
        });
        changed.len()
    }
}
