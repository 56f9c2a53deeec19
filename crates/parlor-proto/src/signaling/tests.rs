//! The signaling messages' wire shapes, parsing and checks.

use super::*;
use proptest::prelude::*;

#[test]
fn parses_requests_with_defaults() {
    let m = ClientMessage::parse(r#"{"type":"connect","sessionId":"s","token":"t"}"#).unwrap();
    assert_eq!(
        m,
        ClientMessage::Connect {
            version: 1,
            session_id: "s".into(),
            token: "t".into(),
            client: None,
            context: None,
            reconnect: false,
        }
    );
    let m = ClientMessage::parse(
        r#"{"type":"connect","sessionId":"s","token":"t","client":{"name":"parlor-web","version":"1.2.3"}}"#,
    )
    .unwrap();
    let ClientMessage::Connect { client, .. } = m else {
        panic!()
    };
    assert_eq!(
        client,
        Some(ClientSdk {
            name: "parlor-web".into(),
            version: "1.2.3".into()
        })
    );
    let m = ClientMessage::parse(r#"{"type":"publish","id":"1","sdp":"v=0"}"#).unwrap();
    let ClientMessage::Publish {
        has_audio,
        has_video,
        video_type,
        ..
    } = m
    else {
        panic!()
    };
    assert!(has_audio && has_video && video_type == VideoType::Camera);
    assert_eq!(
        ClientMessage::parse(r#"{"type":"ping","id":"x"}"#)
            .unwrap()
            .id(),
        Some("x")
    );
    for bad in [
        "",
        "[]",
        r#"{"type":"nope"}"#,
        r#"{"type":"connect"}"#,
        r#"{"type":"ping","extra":1}"#,
    ] {
        assert_eq!(
            ClientMessage::parse(bad).unwrap_err().code,
            ErrorCode::BadRequest,
            "{bad}"
        );
    }
    let huge = format!(r#"{{"type":"ping","id":"{}"}}"#, "x".repeat(70_000));
    assert_eq!(
        ClientMessage::parse(&huge).unwrap_err().code,
        ErrorCode::LimitExceeded
    );
}

#[test]
fn server_messages_are_camel_case() {
    let m = ServerMessage::ConnectionDestroyed {
        connection: Connection {
            connection_id: "c".into(),
            creation_time: 1,
            data: String::new(),
        },
        reason: ConnectionReason::NetworkDisconnected,
        detail: None,
    };
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains(r#""type":"connectionDestroyed""#), "{json}");
    assert!(json.contains(r#""reason":"networkDisconnected""#), "{json}");
    assert!(json.contains(r#""connectionId":"c""#), "{json}");
}

#[test]
fn video_quality_wire_shape() {
    for (state, wire) in [
        (VideoQualityState::Warning, "warning"),
        (VideoQualityState::WarningLifted, "warningLifted"),
        (VideoQualityState::Disabled, "disabled"),
        (VideoQualityState::Enabled, "enabled"),
    ] {
        let m = ServerMessage::VideoQuality {
            subscription_id: "sub1".into(),
            state,
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "videoQuality", "subscriptionId": "sub1", "state": wire})
        );
        assert_eq!(serde_json::from_value::<ServerMessage>(json).unwrap(), m);
    }
}

#[test]
fn connected_carries_ice_servers_only_when_there_are_some() {
    let connected = |ice_servers| ServerMessage::Connected {
        version: 1,
        session_id: "s".into(),
        connection: Connection {
            connection_id: "c".into(),
            creation_time: 1,
            data: String::new(),
        },
        role: Role::Publisher,
        capabilities: Capabilities::from(Role::Publisher),
        connections: vec![],
        streams: vec![],
        stats_interval: 0,
        ice_servers,
        relayed: false,
        resume: None,
    };
    let json = serde_json::to_string(&connected(vec![])).unwrap();
    assert!(!json.contains("iceServers"), "{json}");
    // A `connected` without the field (an older server) parses, with none.
    assert_eq!(
        serde_json::from_str::<ServerMessage>(&json).unwrap(),
        connected(vec![])
    );
    let turn = IceServer {
        urls: vec!["turn:t.example.com:3478?transport=udp".into()],
        username: Some("1700000000:c".into()),
        credential: Some("c2VjcmV0LXBhc3N3b3Jk".into()),
    };
    let stun = IceServer {
        urls: vec!["stun:s.example.com".into()],
        username: None,
        credential: None,
    };
    let m = connected(vec![turn.clone(), stun]);
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(
        json["iceServers"],
        serde_json::json!([
            {"urls": ["turn:t.example.com:3478?transport=udp"], "username": "1700000000:c",
             "credential": "c2VjcmV0LXBhc3N3b3Jk"},
            {"urls": ["stun:s.example.com"]}
        ])
    );
    assert_eq!(serde_json::from_value::<ServerMessage>(json).unwrap(), m);
    assert!(
        !format!("{m:?}").contains("c2VjcmV0"),
        "no password in Debug"
    );
}

#[test]
fn signal_limits() {
    validate_signal("chat-1_~", &"x".repeat(MAX_SIGNAL_DATA_BYTES)).unwrap();
    validate_signal("", "").unwrap();
    assert_eq!(
        validate_signal(&"a".repeat(129), "").unwrap_err().code,
        ErrorCode::LimitExceeded
    );
    assert_eq!(
        validate_signal("a b", "").unwrap_err().code,
        ErrorCode::BadRequest
    );
    assert_eq!(
        validate_signal("a", &"x".repeat(MAX_SIGNAL_DATA_BYTES + 1))
            .unwrap_err()
            .code,
        ErrorCode::LimitExceeded
    );
}

#[test]
fn p2p_signal_parses_and_validates() {
    let m = ClientMessage::parse(
        r#"{"type":"p2pSignal","id":"1","to":"c","streamId":"s","subscriptionId":"u","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#,
    )
    .unwrap();
    let ClientMessage::P2pSignal {
        kind,
        sdp,
        candidate,
        ..
    } = &m
    else {
        panic!()
    };
    validate_p2p(*kind, sdp.as_deref(), candidate.as_ref()).unwrap();
    assert_eq!(m.id(), Some("1"));
    let c = P2pCandidate {
        candidate: "x".into(),
        sdp_mid: None,
        sdp_m_line_index: None,
    };
    validate_p2p(P2pKind::Offer, Some("v=0"), None).unwrap();
    for (kind, sdp, cand, code) in [
        (P2pKind::Offer, None, None, ErrorCode::BadRequest),
        (P2pKind::Offer, Some(""), None, ErrorCode::BadRequest),
        (
            P2pKind::Answer,
            Some("v=0"),
            Some(&c),
            ErrorCode::BadRequest,
        ),
        (
            P2pKind::Candidate,
            Some("v=0"),
            Some(&c),
            ErrorCode::BadRequest,
        ),
        (P2pKind::Candidate, None, None, ErrorCode::BadRequest),
    ] {
        assert_eq!(validate_p2p(kind, sdp, cand).unwrap_err().code, code);
    }
    let huge = "x".repeat(MAX_P2P_SDP_BYTES + 1);
    assert_eq!(
        validate_p2p(P2pKind::Answer, Some(&huge), None)
            .unwrap_err()
            .code,
        ErrorCode::LimitExceeded
    );
    let long = P2pCandidate {
        candidate: "x".repeat(MAX_P2P_CANDIDATE_BYTES + 1),
        ..c
    };
    assert_eq!(
        validate_p2p(P2pKind::Candidate, None, Some(&long))
            .unwrap_err()
            .code,
        ErrorCode::LimitExceeded
    );
    let json = serde_json::to_string(&ServerMessage::P2pSignal {
        from: "c".into(),
        stream_id: "s".into(),
        subscription_id: "u".into(),
        kind: P2pKind::Offer,
        sdp: Some("v=0".into()),
        candidate: None,
    })
    .unwrap();
    assert!(json.contains(r#""type":"p2pSignal""#), "{json}");
    assert!(json.contains(r#""kind":"offer""#), "{json}");
    assert!(!json.contains("candidate"), "{json}");
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,400}") {
        let _ = ClientMessage::parse(&s);
    }
}

#[test]
fn resume_messages_round_trip_and_hide_the_credential() {
    let m = ClientMessage::parse(
        r#"{"type":"resume","sessionId":"s","connectionId":"c","resumeToken":"secret","received":7}"#,
    )
    .unwrap();
    assert_eq!(
        m,
        ClientMessage::Resume {
            version: 1,
            session_id: "s".into(),
            connection_id: "c".into(),
            resume_token: "secret".into(),
            received: 7,
        }
    );
    assert_eq!(m.id(), None);
    // Every field is required but the version; unknown ones are refused.
    for bad in [
        r#"{"type":"resume","sessionId":"s","connectionId":"c","resumeToken":"t"}"#,
        r#"{"type":"resume","sessionId":"s","connectionId":"c","resumeToken":"t","received":-1}"#,
        r#"{"type":"resume","sessionId":"s","connectionId":"c","resumeToken":"t","received":1,"x":1}"#,
    ] {
        assert!(ClientMessage::parse(bad).is_err(), "{bad}");
    }
    let m =
        ClientMessage::parse(r#"{"type":"connect","sessionId":"s","token":"t","reconnect":true}"#)
            .unwrap();
    assert!(matches!(
        m,
        ClientMessage::Connect {
            reconnect: true,
            ..
        }
    ));
    let grant = ResumeGrant {
        token: "secret".into(),
        grace_ms: 20_000,
    };
    assert!(!format!("{grant:?}").contains("secret"));
    let json = serde_json::to_value(&grant).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"token": "secret", "graceMs": 20000})
    );
    let r = ClientMessage::parse(r#"{"type":"restartIce","id":"1","streamId":"s","sdp":"v=0"}"#)
        .unwrap();
    assert_eq!(r.id(), Some("1"));
}
