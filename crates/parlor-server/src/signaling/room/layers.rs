//! Simulcast layers in a room: the layers each stream was published with, the highest
//! layer each subscription's preferences (OpenTok's `setPreferredResolution` and
//! `setPreferredFrameRate`) come to — which the router is told — telling publishers
//! how many layers their subscribers need (`layersNeeded`, from the router), and telling
//! subscribers when even the lowest layer does not fit their downlink (`videoQuality`:
//! the router's audio-only fallback).

use parlor_proto::signaling::{MAX_SIMULCAST_LAYERS, SimulcastLayer};

use super::*;

/// Largest width or height a layer or a preferred resolution may give.
const MAX_DIMENSION: u32 = 8192;
/// Highest frame rate a layer or a preference may give.
const MAX_FRAME_RATE: f64 = 240.0;

impl Room {
    /// Records the simulcast layers a stream was published with (validated by
    /// [`validate_layers`]).
    pub fn set_stream_layers(&self, stream_id: &str, layers: Vec<SimulcastLayer>) {
        if let Some(s) = lock(&self.state).streams.get_mut(stream_id) {
            s.layers = layers;
        }
    }

    /// Changes a subscription's preferred resolution and frame rate (`None`: unchanged;
    /// `Some(None)`: cleared). Returns the highest layer they allow, for the router.
    pub fn set_preferences(
        &self,
        connection_id: &str,
        subscription_id: &str,
        resolution: Option<Option<VideoDimensions>>,
        frame_rate: Option<Option<f64>>,
    ) -> Result<u8, ProtocolError> {
        if let Some(Some(d)) = resolution
            && (!(1..=MAX_DIMENSION).contains(&d.width) || !(1..=MAX_DIMENSION).contains(&d.height))
        {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                format!(
                    "preferredResolution must be 1 to {MAX_DIMENSION} pixels each way, not {}x{}",
                    d.width, d.height
                ),
            ));
        }
        if let Some(Some(fps)) = frame_rate
            && !(fps > 0.0 && fps <= MAX_FRAME_RATE)
        {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                format!(
                    "preferredFrameRate must be above 0 and at most {MAX_FRAME_RATE}, not {fps}"
                ),
            ));
        }
        let mut state = lock(&self.state);
        let state = &mut *state;
        let sub = match state.subscriptions.get_mut(subscription_id) {
            Some(s) if s.connection_id == connection_id => s,
            _ => return Err(not_found("subscription", subscription_id)),
        };
        if let Some(r) = resolution {
            sub.preferred_resolution = r;
        }
        if let Some(f) = frame_rate {
            sub.preferred_frame_rate = f;
        }
        let layers = state
            .streams
            .get(&sub.stream_id)
            .map_or(&[][..], |s| &s.layers[..]);
        let max = max_layer(layers, sub.preferred_resolution, sub.preferred_frame_rate);
        tracing::debug!(
            subscription = subscription_id,
            resolution = ?sub.preferred_resolution,
            frame_rate = ?sub.preferred_frame_rate,
            ?layers,
            max,
            "subscriber preferences"
        );
        Ok(max)
    }

    /// Tells a stream's publisher how many of its layers its subscribers need.
    pub(in crate::signaling) fn layers_needed(&self, stream_id: &str, layers: u8) {
        let state = lock(&self.state);
        if let Some(s) = state.streams.get(stream_id) {
            state.send(
                &s.stream.connection.connection_id,
                &ServerMessage::LayersNeeded {
                    stream_id: stream_id.to_owned(),
                    layers: layers.count_ones() as u8,
                },
            );
        }
    }

    /// Tells a subscriber a step of its subscription's audio-only fallback (the router
    /// decided it from its downlink estimate), and records it in the history.
    pub(in crate::signaling) fn video_quality(
        &self,
        subscription_id: &str,
        state: parlor_router::VideoQualityState,
    ) {
        use parlor_proto::signaling::VideoQualityState as Wire;
        use parlor_router::VideoQualityState as Router;
        let state = match state {
            Router::Warning => Wire::Warning,
            Router::WarningLifted => Wire::WarningLifted,
            Router::Disabled => Wire::Disabled,
            Router::Enabled => Wire::Enabled,
        };
        let room = lock(&self.state);
        let Some(sub) = room.subscriptions.get(subscription_id) else {
            return;
        };
        tracing::debug!(subscription = subscription_id, ?state, "video quality");
        room.send(
            &sub.connection_id,
            &ServerMessage::VideoQuality {
                subscription_id: subscription_id.to_owned(),
                state,
            },
        );
        self.record(What::VideoQuality {
            subscription_id: subscription_id.to_owned(),
            stream_id: sub.stream_id.clone(),
            connection_id: sub.connection_id.clone(),
            state: crate::wire_name(&state),
        });
    }
}

/// Checks a stream's simulcast layers as published.
pub fn validate_layers(layers: &[SimulcastLayer]) -> Result<(), ProtocolError> {
    let bad = |why: String| Err(ProtocolError::new(ErrorCode::BadRequest, why));
    if layers.len() > MAX_SIMULCAST_LAYERS {
        return bad(format!(
            "simulcast has {} layers; the most is {MAX_SIMULCAST_LAYERS}",
            layers.len()
        ));
    }
    for (i, l) in layers.iter().enumerate() {
        if !(1..=MAX_DIMENSION).contains(&l.width) || !(1..=MAX_DIMENSION).contains(&l.height) {
            return bad(format!(
                "simulcast layer {i} is {}x{}; each side must be 1 to {MAX_DIMENSION} pixels",
                l.width, l.height
            ));
        }
        if let Some(fps) = l.max_frame_rate
            && !(fps > 0.0 && fps <= MAX_FRAME_RATE)
        {
            return bad(format!(
                "simulcast layer {i} has maxFrameRate {fps}; it must be above 0 and at most {MAX_FRAME_RATE}"
            ));
        }
        if i > 0 && l.width * l.height < layers[i - 1].width * layers[i - 1].height {
            return bad(format!(
                "simulcast layers go lowest first: layer {i} ({}x{}) is smaller than layer {}",
                l.width,
                l.height,
                i - 1
            ));
        }
    }
    Ok(())
}

/// The highest layer a subscriber's preferences allow: the smallest layer at least as
/// large as the preferred resolution each way (the top one if none is), lowered to the
/// highest layer whose frame rate is at most the preferred one (the lowest if none is).
/// Without layers or preferences, no cap (`u8::MAX`).
pub fn max_layer(
    layers: &[SimulcastLayer],
    resolution: Option<VideoDimensions>,
    frame_rate: Option<f64>,
) -> u8 {
    if layers.is_empty() {
        return u8::MAX;
    }
    let top = layers.len() - 1;
    let mut cap = match resolution {
        Some(d) => layers
            .iter()
            .position(|l| l.width >= d.width && l.height >= d.height)
            .unwrap_or(top),
        None => top,
    };
    if let Some(fps) = frame_rate {
        let by_rate = layers
            .iter()
            .rposition(|l| l.max_frame_rate.is_none_or(|m| m <= fps + 0.5))
            .unwrap_or(0);
        cap = cap.min(by_rate);
    }
    if resolution.is_none() && frame_rate.is_none() {
        return u8::MAX;
    }
    cap as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(width: u32, height: u32, fps: Option<f64>) -> SimulcastLayer {
        SimulcastLayer {
            width,
            height,
            max_frame_rate: fps,
        }
    }

    fn three() -> Vec<SimulcastLayer> {
        vec![
            layer(320, 180, Some(15.0)),
            layer(640, 360, None),
            layer(1280, 720, None),
        ]
    }

    fn size(width: u32, height: u32) -> Option<VideoDimensions> {
        Some(VideoDimensions { width, height })
    }

    #[test]
    fn the_smallest_layer_that_covers_the_preferred_resolution() {
        let l = three();
        assert_eq!(max_layer(&l, None, None), u8::MAX, "no preference, no cap");
        assert_eq!(max_layer(&l, size(320, 180), None), 0);
        assert_eq!(max_layer(&l, size(160, 90), None), 0);
        assert_eq!(max_layer(&l, size(321, 180), None), 1);
        assert_eq!(
            max_layer(&l, size(640, 480), None),
            2,
            "taller than the middle one"
        );
        assert_eq!(
            max_layer(&l, size(1920, 1080), None),
            2,
            "larger than all: the top"
        );
        assert_eq!(
            max_layer(&[], size(320, 180), None),
            u8::MAX,
            "no simulcast"
        );
    }

    #[test]
    fn a_preferred_frame_rate_lowers_the_layer() {
        let l = three();
        assert_eq!(
            max_layer(&l, None, Some(15.0)),
            2,
            "only the lowest layer is capped"
        );
        let l = vec![
            layer(320, 180, Some(7.5)),
            layer(640, 360, Some(15.0)),
            layer(1280, 720, Some(30.0)),
        ];
        assert_eq!(max_layer(&l, None, Some(15.0)), 1);
        assert_eq!(
            max_layer(&l, None, Some(7.0)),
            0,
            "7.5 is close enough to 7"
        );
        assert_eq!(max_layer(&l, None, Some(1.0)), 0, "below all: the lowest");
        assert_eq!(
            max_layer(&l, size(1280, 720), Some(15.0)),
            1,
            "the lower of the two"
        );
    }

    #[test]
    fn layers_are_checked() {
        assert!(validate_layers(&three()).is_ok());
        assert!(validate_layers(&[]).is_ok());
        let four = [three(), vec![layer(1920, 1080, None)]].concat();
        assert!(
            validate_layers(&four)
                .unwrap_err()
                .message
                .contains("the most is 3")
        );
        let zero = [layer(0, 180, None)];
        assert!(
            validate_layers(&zero)
                .unwrap_err()
                .message
                .contains("1 to 8192")
        );
        let fps = [layer(320, 180, Some(-1.0))];
        assert!(
            validate_layers(&fps)
                .unwrap_err()
                .message
                .contains("maxFrameRate -1")
        );
        let order = [layer(640, 360, None), layer(320, 180, None)];
        assert!(
            validate_layers(&order)
                .unwrap_err()
                .message
                .contains("lowest first")
        );
    }
}
