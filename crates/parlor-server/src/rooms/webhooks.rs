//! Rooms webhooks: every [`RoomsEvent`] becomes a Telnyx-style `video.room.*` webhook to
//! its room's `webhook_event_url`.
//!
//! A task ([`start`]) observes the Rooms domain ([`super::Rooms::observe`]), reads the
//! event's room from the store when the event arrives (its webhook settings as they are
//! then; no URL, no webhook; a composition's event follows the composition's own settings
//! when it has a URL, as Telnyx's do) and hands a [`Webhook`] to the callback dispatcher
//! ([`crate::callbacks`]), which records it before its first attempt, delivers the
//! webhooks of one room session one at a time and in order, retries them with backoff,
//! resumes them after a restart and bounds its queues, exactly as for OpenTok callbacks.
//! What differs is the wire ([`crate::callbacks::DeliveryKind::RoomsWebhook`]):
//!
//! * the body is `{"data":{"record_type":"event","event_type","id","occurred_at",
//!   "payload"},"meta":{"attempt","delivered_to"}}`; `data` is made once (its `id` is the
//!   event's, the same on every attempt), `meta` per attempt ([`envelope`]);
//! * every request is signed anew as Telnyx signs ([`request`]): `telnyx-timestamp` (Unix
//!   seconds) and `telnyx-signature-ed25519`, base64 of the Ed25519 signature by the
//!   server's Rooms key over `"<timestamp>|<body>"` — the body's exact bytes;
//! * when the URL fails (an error, a timeout, a non-2xx), the same attempt goes to the
//!   room's `webhook_event_failover_url`, with `meta.delivered_to` naming it; a 2xx there
//!   is a delivery. Each attempt times out after the room's `webhook_timeout_secs` (1–30;
//!   0 or none: the dispatcher's 5 s).
//!
//! Receivers verify with the public key (`GET /v2/parlor/webhook_public_key`, or `parlor
//! rooms public-key`), e.g. the official SDKs' `client.webhooks.unwrap`.

use std::sync::Arc;

use parlor_proto::rooms_token::{SigningKey, webhook_signature};
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::media_model::CompositionRecord;
use super::{RoomRecord, RoomsEvent};
use crate::callbacks::{DeliveryKind, Notifier, Webhook};
use crate::store::{Store, StoreError};

/// The signature header: base64 of the Ed25519 signature over `"<timestamp>|<body>"`.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// The timestamp header: Unix seconds, the `<timestamp>` the signature covers.
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
/// The `User-Agent` of webhook requests.
pub const USER_AGENT_VALUE: &str = concat!("Parlor-Webhooks/", env!("CARGO_PKG_VERSION"));

/// An event as its webhook tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// `video.room.session.started`, ...
    pub event_type: &'static str,
    /// Whose webhook settings apply.
    pub room_id: String,
    /// The room session it belongs to: its webhooks go out in order.
    pub room_session_id: String,
    /// When it happened (Unix milliseconds).
    pub occurred_at: i64,
    /// `data.payload`.
    pub payload: Value,
    /// Whose webhook settings it follows.
    pub settings_of: SettingsOf,
}

/// Whose webhook settings (URLs, timeout) an event's webhook follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsOf {
    /// Its room's.
    Room,
    /// This composition's when it has a `webhook_event_url`, else its room's.
    Composition(String),
}

/// Where a webhook goes: a room's or a composition's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub project_id: String,
    pub url: Option<String>,
    pub failover_url: Option<String>,
    pub timeout_secs: Option<u32>,
}

impl From<&RoomRecord> for Settings {
    fn from(r: &RoomRecord) -> Self {
        Settings {
            project_id: r.project_id.clone(),
            url: r.webhook_event_url.clone(),
            failover_url: r.webhook_event_failover_url.clone(),
            timeout_secs: r.webhook_timeout_secs,
        }
    }
}

impl From<&CompositionRecord> for Settings {
    fn from(c: &CompositionRecord) -> Self {
        Settings {
            project_id: c.project_id.clone(),
            url: c.webhook_event_url.clone(),
            failover_url: c.webhook_event_failover_url.clone(),
            timeout_secs: c.webhook_timeout_secs,
        }
    }
}

/// The settings `event`'s webhook follows, as the store has them now (`None`: its room is
/// unknown). Blocking (SQLite).
pub fn settings(store: &Store, event: &WebhookEvent) -> Result<Option<Settings>, StoreError> {
    if let SettingsOf::Composition(id) = &event.settings_of
        && let Some(c) = store.composition(id)?
        && c.webhook_event_url.is_some()
    {
        return Ok(Some(Settings::from(&c)));
    }
    Ok(store.room(&event.room_id)?.as_ref().map(Settings::from))
}

impl WebhookEvent {
    /// An event of a room session: its payload is `{session_id, room_id}` plus `fields`.
    fn of_session(
        event_type: &'static str,
        room_id: &str,
        room_session_id: &str,
        at: i64,
        fields: Value,
    ) -> Self {
        let mut payload = json!({ "session_id": room_session_id, "room_id": room_id });
        if let (Value::Object(payload), Value::Object(fields)) = (&mut payload, fields) {
            payload.extend(fields);
        }
        WebhookEvent {
            event_type,
            room_id: room_id.to_owned(),
            room_session_id: room_session_id.to_owned(),
            occurred_at: at,
            payload,
            settings_of: SettingsOf::Room,
        }
    }

    fn following(self, settings_of: SettingsOf) -> Self {
        WebhookEvent {
            settings_of,
            ..self
        }
    }
}

/// The webhook of each event (one arm per event type).
pub fn describe(event: &RoomsEvent) -> WebhookEvent {
    match event {
        RoomsEvent::SessionStarted {
            room_id,
            room_session_id,
            at,
        } => WebhookEvent::of_session(
            "video.room.session.started",
            room_id,
            room_session_id,
            *at,
            json!({}),
        ),
        RoomsEvent::SessionEnded {
            room_id,
            room_session_id,
            at,
            duration_secs,
            ended_reason,
        } => WebhookEvent::of_session(
            "video.room.session.ended",
            room_id,
            room_session_id,
            *at,
            json!({ "duration_secs": duration_secs, "ended_reason": ended_reason }),
        ),
        RoomsEvent::ParticipantJoined {
            room_id,
            room_session_id,
            participant_id,
            context,
            at,
        } => WebhookEvent::of_session(
            "video.room.participant.joined",
            room_id,
            room_session_id,
            *at,
            json!({ "participant_id": participant_id, "context": context }),
        ),
        RoomsEvent::ParticipantLeft {
            room_id,
            room_session_id,
            participant_id,
            context,
            at,
            duration_secs,
            left_reason,
        } => WebhookEvent::of_session(
            "video.room.participant.left",
            room_id,
            room_session_id,
            *at,
            json!({
                "participant_id": participant_id,
                "context": context,
                "duration_secs": duration_secs,
                "left_reason": left_reason,
            }),
        ),
        RoomsEvent::RecordingStarted {
            room_id,
            room_session_id,
            recording_id,
            participant_id,
            r#type,
            at,
        } => WebhookEvent::of_session(
            "video.room.recording.started",
            room_id,
            room_session_id,
            *at,
            json!({
                "recording_id": recording_id,
                "participant_id": participant_id,
                "type": r#type,
            }),
        ),
        RoomsEvent::RecordingCompleted {
            room_id,
            room_session_id,
            recording_id,
            participant_id,
            r#type,
            codec,
            duration_secs,
            size_mb,
            download_url,
            at,
        } => WebhookEvent::of_session(
            "video.room.recording.completed",
            room_id,
            room_session_id,
            *at,
            json!({
                "recording_id": recording_id,
                "participant_id": participant_id,
                "type": r#type,
                "codec": codec,
                "duration_secs": duration_secs,
                "size_mb": size_mb,
                "download_url": download_url,
            }),
        ),
        RoomsEvent::CompositionCompleted {
            composition_id,
            room_id,
            room_session_id,
            download_url,
            duration_secs,
            size_mb,
            at,
        } => WebhookEvent::of_session(
            "video.room.composition.completed",
            room_id,
            room_session_id,
            *at,
            json!({
                "composition_id": composition_id,
                "download_url": download_url,
                "duration_secs": duration_secs,
                "size_mb": size_mb,
            }),
        )
        .following(SettingsOf::Composition(composition_id.clone())),
    }
}

/// `data` of the envelope, in Telnyx's field order.
#[derive(Serialize)]
struct Data<'a> {
    record_type: &'static str,
    event_type: &'a str,
    id: &'a str,
    occurred_at: String,
    payload: &'a Value,
}

/// The envelope's `data` (JSON) for an event with the ID `id`.
pub fn data_json(event: &WebhookEvent, id: &str) -> String {
    let data = Data {
        record_type: "event",
        event_type: event.event_type,
        id,
        occurred_at: iso(event.occurred_at),
        payload: &event.payload,
    };
    serde_json::to_string(&data).expect("strings and JSON values serialize")
}

/// The body of one attempt: `{"data":<data>,"meta":{"attempt":n,"delivered_to":url}}`.
/// `data` is JSON (as [`data_json`] made it).
pub fn envelope(data: &str, attempt: i64, delivered_to: &str) -> String {
    let meta = json!({ "attempt": attempt, "delivered_to": delivered_to });
    format!(r#"{{"data":{data},"meta":{meta}}}"#)
}

/// One signed request: attempt `attempt` (from 1) of the webhook whose `data` is `data`,
/// to `url`. The signature covers the exact bytes sent, with the time of this call.
pub fn request(
    http: &reqwest::Client,
    key: &SigningKey,
    data: &str,
    attempt: i64,
    url: &str,
) -> reqwest::RequestBuilder {
    let body = envelope(data, attempt, url);
    let timestamp = parlor_proto::unix_now();
    let signature = webhook_signature(key, timestamp, body.as_bytes());
    http.post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .body(body)
}

/// The webhook of `event` under `settings`, if they name a webhook URL.
pub fn webhook(settings: &Settings, event: &WebhookEvent) -> Option<Webhook> {
    let url = settings.url.clone()?;
    Some(Webhook {
        project_id: settings.project_id.clone(),
        ordering_key: event.room_session_id.clone(),
        event: event.event_type.to_owned(),
        url,
        body: data_json(event, &uuid::Uuid::new_v4().to_string()),
        kind: DeliveryKind::RoomsWebhook {
            failover_url: settings.failover_url.clone(),
            timeout_secs: settings.timeout_secs.filter(|&s| s > 0),
        },
    })
}

/// Starts turning `events` (from [`super::Rooms::observe`]) into webhooks handed to
/// `notifier`, one event at a time (so in their order), until the Rooms domain is gone.
pub fn start(
    store: Arc<Store>,
    mut events: UnboundedReceiver<RoomsEvent>,
    notifier: Notifier,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let event = Arc::new(describe(&event));
            let (s, e) = (store.clone(), event.clone());
            let found = match tokio::task::spawn_blocking(move || settings(&s, &e)).await {
                Ok(Ok(Some(found))) => found,
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, room = %event.room_id, event = event.event_type,
                                   "cannot read the webhook settings; webhook not sent");
                    continue;
                }
                Err(e) if e.is_cancelled() => return, // the runtime is shutting down
                Err(e) => {
                    tracing::error!(error = %e, "room lookup task failed; webhook not sent");
                    continue;
                }
            };
            if let Some(webhook) = webhook(&found, &event) {
                notifier.deliver(webhook);
            }
        }
    })
}

/// An ISO 8601 UTC time with milliseconds (`2026-11-29T10:00:00.123Z`).
fn iso(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parlor_proto::rooms_token::verify_webhook_signature;

    fn room() -> RoomRecord {
        RoomRecord {
            room_id: "r".into(),
            project_id: "p".into(),
            unique_name: None,
            max_participants: 10,
            enable_recording: false,
            webhook_event_url: Some("http://127.0.0.1:9/hook".into()),
            webhook_event_failover_url: Some("http://127.0.0.1:9/failover".into()),
            webhook_timeout_secs: Some(0),
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
            active_session_id: None,
        }
    }

    #[test]
    fn each_event_has_its_type_and_payload() {
        let at = 1_795_910_400_123;
        let started = describe(&RoomsEvent::SessionStarted {
            room_id: "r".into(),
            room_session_id: "s".into(),
            at,
        });
        assert_eq!(started.event_type, "video.room.session.started");
        assert_eq!(started.payload, json!({"session_id": "s", "room_id": "r"}));
        let ended = describe(&RoomsEvent::SessionEnded {
            room_id: "r".into(),
            room_session_id: "s".into(),
            at,
            duration_secs: 7,
            ended_reason: "all_participants_left".into(),
        });
        assert_eq!(ended.event_type, "video.room.session.ended");
        assert_eq!(
            ended.payload,
            json!({"session_id": "s", "room_id": "r", "duration_secs": 7,
                   "ended_reason": "all_participants_left"})
        );
        let joined = describe(&RoomsEvent::ParticipantJoined {
            room_id: "r".into(),
            room_session_id: "s".into(),
            participant_id: "c".into(),
            context: Some("alice".into()),
            at,
        });
        assert_eq!(joined.event_type, "video.room.participant.joined");
        assert_eq!(
            joined.payload,
            json!({"session_id": "s", "room_id": "r", "participant_id": "c", "context": "alice"})
        );
        let left = describe(&RoomsEvent::ParticipantLeft {
            room_id: "r".into(),
            room_session_id: "s".into(),
            participant_id: "c".into(),
            context: None,
            at,
            duration_secs: 3,
            left_reason: "kicked".into(),
        });
        assert_eq!(left.event_type, "video.room.participant.left");
        assert_eq!(
            left.payload,
            json!({"session_id": "s", "room_id": "r", "participant_id": "c", "context": null,
                   "duration_secs": 3, "left_reason": "kicked"})
        );
        assert_eq!((left.room_session_id.as_str(), left.occurred_at), ("s", at));
    }

    #[test]
    fn the_envelope_is_telnyx_s() {
        let event = describe(&RoomsEvent::SessionStarted {
            room_id: "r".into(),
            room_session_id: "s".into(),
            at: 1_795_910_400_123,
        });
        let data = data_json(&event, "0f8c6a3e-1111-4222-8333-444455556666");
        assert_eq!(
            envelope(&data, 2, "http://h/x"),
            r#"{"data":{"record_type":"event","event_type":"video.room.session.started","id":"0f8c6a3e-1111-4222-8333-444455556666","occurred_at":"2026-11-29T00:00:00.123Z","payload":{"room_id":"r","session_id":"s"}},"meta":{"attempt":2,"delivered_to":"http://h/x"}}"#
        );
    }

    #[test]
    fn a_room_without_a_url_has_no_webhook_and_zero_is_the_default_timeout() {
        let event = describe(&RoomsEvent::SessionStarted {
            room_id: "r".into(),
            room_session_id: "s".into(),
            at: 0,
        });
        let w = webhook(&Settings::from(&room()), &event).unwrap();
        assert_eq!(
            (
                w.url.as_str(),
                w.ordering_key.as_str(),
                w.project_id.as_str()
            ),
            ("http://127.0.0.1:9/hook", "s", "p")
        );
        assert_eq!(
            w.kind,
            DeliveryKind::RoomsWebhook {
                failover_url: Some("http://127.0.0.1:9/failover".into()),
                timeout_secs: None,
            }
        );
        let data: Value = serde_json::from_str(&w.body).unwrap();
        assert!(uuid::Uuid::parse_str(data["id"].as_str().unwrap()).is_ok());
        let no_url = RoomRecord {
            webhook_event_url: None,
            ..room()
        };
        assert!(webhook(&Settings::from(&no_url), &event).is_none());
    }

    #[test]
    fn a_composition_s_event_follows_its_own_settings_when_it_has_a_url() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        store
            .upsert_project(&crate::store::Project {
                api_key: "p".into(),
                api_secret: "s".into(),
                created_at: 0,
            })
            .unwrap();
        store.insert_room(&room()).unwrap();
        let composition = |id: &str, url: Option<&str>| CompositionRecord {
            composition_id: id.into(),
            project_id: "p".into(),
            room_id: "r".into(),
            room_session_id: "s".into(),
            format: "mp4".into(),
            resolution: "1280x720".into(),
            video_layout: "{}".into(),
            status: "completed".into(),
            reason: None,
            duration_secs: None,
            size_bytes: None,
            webhook_event_url: url.map(str::to_owned),
            webhook_event_failover_url: None,
            webhook_timeout_secs: Some(3),
            started_at: None,
            ended_at: None,
            completed_at: None,
            created_at: 0,
            updated_at: 0,
        };
        store
            .insert_composition(&composition("own", Some("http://127.0.0.1:9/composition")))
            .unwrap();
        store
            .insert_composition(&composition("none", None))
            .unwrap();
        let completed = |id: &str| {
            describe(&RoomsEvent::CompositionCompleted {
                composition_id: id.into(),
                room_id: "r".into(),
                room_session_id: "s".into(),
                download_url: None,
                duration_secs: 1,
                size_mb: 0.1,
                at: 0,
            })
        };
        let own = settings(&store, &completed("own")).unwrap().unwrap();
        assert_eq!(
            (own.url.as_deref(), own.failover_url, own.timeout_secs),
            (Some("http://127.0.0.1:9/composition"), None, Some(3))
        );
        let room_s = settings(&store, &completed("none")).unwrap().unwrap();
        assert_eq!(room_s, Settings::from(&room()));
        let unknown_room = WebhookEvent {
            room_id: "nope".into(),
            ..completed("none")
        };
        assert_eq!(settings(&store, &unknown_room).unwrap(), None);
    }

    #[test]
    fn requests_are_signed_over_the_exact_body() {
        let key = SigningKey::generate();
        let http = reqwest::Client::new();
        let request = request(&http, &key, r#"{"id":"x"}"#, 1, "http://127.0.0.1:9/hook")
            .build()
            .unwrap();
        let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
        let body = request.body().unwrap().as_bytes().unwrap();
        assert_eq!(
            body,
            br#"{"data":{"id":"x"},"meta":{"attempt":1,"delivered_to":"http://127.0.0.1:9/hook"}}"#
        );
        let timestamp: i64 = header(TIMESTAMP_HEADER).parse().unwrap();
        assert!((timestamp - parlor_proto::unix_now()).abs() <= 1);
        assert!(verify_webhook_signature(
            &key.public_key(),
            timestamp,
            body,
            &header(SIGNATURE_HEADER)
        ));
        assert!(!verify_webhook_signature(
            &key.public_key(),
            timestamp + 1,
            body,
            &header(SIGNATURE_HEADER)
        ));
        assert_eq!(header("content-type"), "application/json");
        assert!(header("user-agent").starts_with("Parlor-Webhooks/"));
    }
}
