//! Attacks on the media path: a subscriber that NACKs everything.

use super::*;

/// The router's counter `name` (`GET /v1/stats` → `router`), if it has one.
pub(crate) async fn router_counter(t: &Target, name: &str) -> anyhow::Result<Option<u64>> {
    let stats = t.sdk.stats().await?;
    Ok(stats["router"][name].as_u64())
}

pub(crate) async fn nack_flood(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    const SUBSCRIPTIONS: usize = 4;
    let room = t.new_room().await?;
    let (publisher, mut e1) = Session::connect(&t.url, &room, &t.token(&room)?).await?;
    let mut set = JoinSet::new();
    set.spawn(async move { while e1.recv().await.is_some() {} });
    let mut p = publisher.publish(PublishOptions::default()).await?;
    p.wait_connected().await?;
    let stream_id = p.stream_id().to_owned();
    let (stop, stopped) = watch::channel(false);
    set.spawn(pump(
        t.media.clone(),
        p.into_sender(),
        Instant::now(),
        Arc::new(Sent::default()),
        stopped,
    ));
    let (nacker, mut e2) = Session::connect(&t.url, &room, &t.token(&room)?).await?;
    set.spawn(async move { while e2.recv().await.is_some() {} });
    let mut subs = Vec::new();
    for _ in 0..SUBSCRIPTIONS {
        let sub = nacker
            .subscribe(
                &stream_id,
                SubscribeOptions {
                    audio: true,
                    video: true,
                    count_only: true,
                    // Half of what arrives is lost, retransmissions too: the same
                    // packets are NACKed again and again.
                    drop_rate: 0.5,
                    drop_retransmissions: true,
                },
            )
            .await?;
        subs.push(sub);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let arrived = |subs: &[parlor_client::Subscriber]| -> u64 {
        subs.iter()
            .map(|s| {
                let st = s.stats();
                st.packets() + st.dropped.load(Ordering::Relaxed)
            })
            .sum()
    };
    let deadline = go.ready().await?;
    let r0 = router_counter(&t, "retransmissions").await?.unwrap_or(0);
    let refused0 = router_counter(&t, "retransmissionsRefused").await?;
    let d0 = arrived(&subs);
    let dropped0: u64 = subs
        .iter()
        .map(|s| s.stats().dropped.load(Ordering::Relaxed))
        .sum();
    tokio::time::sleep_until(deadline.into()).await;
    let r1 = router_counter(&t, "retransmissions").await?.unwrap_or(0);
    let refused1 = router_counter(&t, "retransmissionsRefused").await?;
    let d1 = arrived(&subs);
    let dropped1: u64 = subs
        .iter()
        .map(|s| s.stats().dropped.load(Ordering::Relaxed))
        .sum();
    let retrans = r1 - r0;
    let datagrams = d1 - d0;
    tally.add(
        "datagrams that reached the NACKing subscriptions",
        datagrams,
    );
    tally.add(
        "of them dropped on purpose (so NACKed)",
        dropped1 - dropped0,
    );
    tally.add(
        "retransmissions sent by the router (all consumers)",
        retrans,
    );
    match (refused0, refused1) {
        (Some(a), Some(b)) => tally.add("retransmissions refused by the router", b - a),
        _ => tally.note("the router reports no retransmissionsRefused counter".into()),
    }
    // What the attacker's consumers were forwarded besides retransmissions.
    let forwarded = datagrams.saturating_sub(retrans).max(1);
    tally.metric(
        "retransmissions per packet forwarded to the attacker",
        retrans as f64 / forwarded as f64,
    );
    let _ = stop.send(true);
    publisher.disconnect().await;
    nacker.disconnect().await;
    drop(subs);
    set.shutdown().await;
    Ok(())
}
