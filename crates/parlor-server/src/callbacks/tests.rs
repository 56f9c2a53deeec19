//! The dispatcher's pieces that need no network: signatures, bodies, the delivery rows.

use super::*;

#[test]
fn signature_is_hmac_sha256_hex() {
    // RFC 4231 test case 2.
    assert_eq!(
        sign("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn bodies_have_the_reference_shape() {
    let b = body(
        "123",
        "1_s",
        "connectionCreated",
        json!({"connection": {"id": "c"}}),
    );
    assert_eq!(b["projectId"], "123");
    assert_eq!(b["sessionId"], "1_s");
    assert_eq!(b["event"], "connectionCreated");
    assert!(b["timestamp"].as_i64().unwrap() > 0);
    assert_eq!(b["connection"]["id"], "c");
    assert_eq!(
        group_and_event("streamDestroyed"),
        Some(("stream", "destroyed"))
    );
}

#[test]
fn delivered_rows_go_and_failed_ones_are_pruned_after_their_retention() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    let delivery = |id: &str, status: &str, updated_at: i64| DeliveryRecord {
        id: id.into(),
        project_id: "1".into(),
        session_id: "s".into(),
        event: "connectionCreated".into(),
        url: "http://127.0.0.1:9/".into(),
        body: "{}".into(),
        status: status.into(),
        attempts: 0,
        last_error: None,
        created_at: updated_at,
        updated_at,
    };
    for (id, status, at) in [
        ("a", "pending", 10),
        ("b", "failed", 10),
        ("c", "failed", 50),
    ] {
        store.record_delivery(&delivery(id, status, at)).unwrap();
    }
    store
        .record_delivery(&delivery("d", "pending", 20))
        .unwrap();
    store
        .record_delivery(&delivery("d", "delivered", 30))
        .unwrap();
    let ids = |store: &Store| {
        let conn = store.conn();
        let mut q = conn
            .prepare("SELECT id FROM callback_deliveries ORDER BY id")
            .unwrap();
        q.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&store), ["a", "b", "c"], "the delivered row is gone");
    assert_eq!(store.prune_failed_deliveries(40).unwrap(), 1);
    assert_eq!(ids(&store), ["a", "c"], "old failures pruned, pending kept");
    assert_eq!(store.pending_deliveries().unwrap().len(), 1);
}

#[test]
fn deliveries_keep_their_kind_and_older_rows_are_opentok_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    let delivery = |id: &str, created_at: i64| DeliveryRecord {
        id: id.into(),
        project_id: "1".into(),
        session_id: "s".into(),
        event: "e".into(),
        url: "http://127.0.0.1:9/".into(),
        body: "{}".into(),
        status: "pending".into(),
        attempts: 0,
        last_error: None,
        created_at,
        updated_at: created_at,
    };
    let webhook = DeliveryKind::RoomsWebhook {
        failover_url: Some("http://127.0.0.1:9/failover".into()),
        timeout_secs: Some(7),
    };
    // As a build before delivery kinds wrote it.
    store.record_delivery(&delivery("old", 10)).unwrap();
    store
        .insert_delivery(&delivery("hook", 20), &webhook)
        .unwrap();
    store
        .insert_delivery(&delivery("callback", 30), &DeliveryKind::OpenTok)
        .unwrap();
    // A later state keeps the kind.
    let tried = DeliveryRecord {
        attempts: 2,
        last_error: Some("HTTP 500".into()),
        ..delivery("hook", 20)
    };
    store.record_delivery(&tried).unwrap();
    // A kind this build does not know is left alone.
    store
        .conn()
        .execute(
            "UPDATE callback_deliveries SET kind = 'future' WHERE id = 'callback'",
            [],
        )
        .unwrap();
    let pending = store.pending_deliveries().unwrap();
    assert_eq!(
        pending,
        [
            (delivery("old", 10), DeliveryKind::OpenTok),
            (tried, webhook)
        ]
    );
}
