//! Attacks over the signaling WebSocket: signal floods, filling a session, a member that
//! never reads, oversized messages.

use super::*;

/// A signaling WebSocket from the attacker's address, not joined yet.
pub(crate) async fn ws_open(t: &Target) -> anyhow::Result<Ws> {
    let tcp = tcp_from_attacker(t.addr).await?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{}/v1/rtc", t.addr), tcp).await?;
    Ok(ws)
}

/// Opens a WebSocket and sends `connect` for `room`; returns the socket and the first
/// reply (`None` if the server closed instead).
pub(crate) async fn ws_join(t: &Target, room: &str) -> anyhow::Result<(Ws, Option<Value>)> {
    let token = t.token(room)?;
    let mut ws = ws_open(t).await?;
    let hello = json!({
        "type": "connect",
        "version": parlor_proto::signaling::VERSION,
        "sessionId": room,
        "token": token,
    });
    ws.send(Message::text(hello.to_string())).await?;
    let first = tokio::time::timeout(Duration::from_secs(15), next_json(&mut ws))
        .await
        .context("no reply to connect within 15 s")?;
    Ok((ws, first))
}

/// The next text message as JSON; `None` once the socket closed or broke.
pub(crate) async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// `code/reason` of an `error` message.
pub(crate) fn refusal(v: &Value) -> String {
    format!(
        "{}/{}",
        v["code"].as_str().unwrap_or("?"),
        v["reason"].as_str().unwrap_or("-")
    )
}

pub(crate) fn signal_message(id: u64, to: Option<&str>, data: &str) -> Message {
    let msg = ClientMessage::Signal {
        id: Some(id.to_string()),
        to: to.map(str::to_owned),
        signal_type: "flood".into(),
        data: data.to_owned(),
    };
    Message::text(serde_json::to_string(&msg).expect("client messages serialize"))
}

/// A stream of signals from one connection.
pub(crate) struct Flood<'a> {
    /// One connection, or the whole session.
    to: Option<&'a str>,
    data: &'a str,
    /// Signals sent and not answered yet, at most (the server refuses past 64).
    window: usize,
    deadline: Instant,
    tally: &'a Tally,
    /// What the replies are tallied under.
    label: &'a str,
}

/// Signals on `ws` as fast as the server answers until the deadline; tallies each reply.
/// Other messages go to `on_event`. Returns how many were sent.
pub(crate) async fn flood_signals(
    ws: Ws,
    f: Flood<'_>,
    mut on_event: impl FnMut(&Value),
) -> anyhow::Result<u64> {
    let Flood {
        to,
        data,
        window,
        deadline,
        tally,
        label,
    } = f;
    let (mut sink, mut stream) = ws.split();
    let (mut in_flight, mut sent) = (0usize, 0u64);
    let end = tokio::time::Instant::from_std(deadline);
    loop {
        while in_flight < window && Instant::now() < deadline {
            sent += 1;
            sink.feed(signal_message(sent, to, data)).await?;
            in_flight += 1;
        }
        sink.flush().await?;
        tokio::select! {
            m = stream.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                    match v["type"].as_str() {
                        Some("ok") => {
                            in_flight = in_flight.saturating_sub(1);
                            tally.add(format!("{label}: accepted"), 1);
                        }
                        Some("error") => {
                            in_flight = in_flight.saturating_sub(1);
                            let key = format!("{label}: refused {}", refusal(&v));
                            tally.add(&key, 1);
                            if tally.count(&key) == 1 {
                                tally.note(format!("{label}: first refusal: {v}"));
                            }
                        }
                        _ => on_event(&v),
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    tally.add(format!("{label}: connection closed by the server"), 1);
                    break;
                }
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    let _ = sink.close().await;
    Ok(sent)
}

pub(crate) async fn signal_flood(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let room = t.new_room().await?;
    let (ws, first) = ws_join(&t, &room).await?;
    anyhow::ensure!(
        first.as_ref().is_some_and(|v| v["type"] == "connected"),
        "the flooder could not join: {first:?}"
    );
    let deadline = go.ready().await?;
    let start = Instant::now();
    let mut echoes = 0u64;
    let flood = Flood {
        to: None,
        data: "x",
        window: 32,
        deadline,
        tally: &tally,
        label: "signal",
    };
    let sent = flood_signals(ws, flood, |v| {
        if v["type"] == "signal" {
            echoes += 1;
        }
    })
    .await?;
    let secs = start.elapsed().as_secs_f64();
    tally.add("signals sent", sent);
    tally.add("own signals delivered back", echoes);
    tally.metric("signals sent per s", sent as f64 / secs);
    tally.metric(
        "signals accepted per s",
        tally.count("signal: accepted") as f64 / secs,
    );
    Ok(())
}

/// Holds a joined WebSocket until `deadline`, answering pings (by reading).
pub(crate) fn hold(
    set: &mut JoinSet<()>,
    mut ws: Ws,
    deadline: Instant,
    tally: Arc<Tally>,
    label: String,
) {
    set.spawn(async move {
        let end = tokio::time::Instant::from_std(deadline);
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        tally.add(format!("{label}: closed by the server"), 1);
                        return;
                    }
                    Some(Ok(_)) => {}
                },
                _ = tokio::time::sleep_until(end) => {
                    let _ = ws.close(None).await;
                    return;
                }
            }
        }
    });
}

pub(crate) async fn session_fill(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let room = t.new_room().await?;
    let deadline = go.ready().await?;
    let mut set = JoinSet::new();
    let attempt = |t: Arc<Target>, room: String, tally: Arc<Tally>| async move {
        match ws_join(&t, &room).await {
            Ok((ws, Some(v))) if v["type"] == "connected" => {
                tally.add("connect: joined", 1);
                Some(ws)
            }
            Ok((_, Some(v))) if v["type"] == "error" => {
                tally.add(format!("connect: refused {}", refusal(&v)), 1);
                tally.note(format!("first refusal: {v}"));
                None
            }
            Ok((_, other)) => {
                tally.add("connect: closed without an answer", 1);
                if let Some(v) = other {
                    tally.note(format!("unexpected answer: {v}"));
                }
                None
            }
            Err(e) => {
                tally.add("connect: failed", 1);
                tally.note(format!("connect failed: {e:#}"));
                None
            }
        }
    };
    // 100 at once (10 at a time), then 5 more every 500 ms until the deadline.
    let mut tried = 0;
    while tried < 100 && Instant::now() < deadline {
        let batch: Vec<_> = (0..10)
            .map(|_| tokio::spawn(attempt(t.clone(), room.clone(), tally.clone())))
            .collect();
        for b in batch {
            if let Ok(Some(ws)) = b.await {
                hold(&mut set, ws, deadline, tally.clone(), "joined".into());
            }
        }
        tried += 10;
    }
    while Instant::now() + Duration::from_millis(500) < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for _ in 0..5 {
            if let Some(ws) = attempt(t.clone(), room.clone(), tally.clone()).await {
                hold(&mut set, ws, deadline, tally.clone(), "joined".into());
            }
        }
    }
    while set.join_next().await.is_some() {}
    Ok(())
}

pub(crate) async fn non_reader(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    const FLOODERS: usize = 4;
    let room = t.new_room().await?;
    let mut flooders = Vec::new();
    for _ in 0..FLOODERS {
        let (ws, first) = ws_join(&t, &room).await?;
        anyhow::ensure!(
            first.as_ref().is_some_and(|v| v["type"] == "connected"),
            "a flooder could not join: {first:?}"
        );
        flooders.push(ws);
    }
    // Someone who watches the room's events: connectionDestroyed names the non-reader.
    let (mut watcher, first) = ws_join(&t, &room).await?;
    anyhow::ensure!(
        first.as_ref().is_some_and(|v| v["type"] == "connected"),
        "the watcher could not join: {first:?}"
    );
    let deadline = go.ready().await?;
    let data = "x".repeat(parlor_proto::limits::MAX_SIGNAL_DATA_BYTES);
    let end = tokio::time::Instant::from_std(deadline);
    let mut times = Vec::new();
    while Instant::now() + Duration::from_millis(200) < deadline {
        // A member that joins, then never reads again.
        let (stalled, first) = ws_join(&t, &room).await?;
        let Some(id) = first
            .as_ref()
            .and_then(|v| v["connection"]["connectionId"].as_str())
            .map(str::to_owned)
        else {
            anyhow::bail!("the non-reader could not join: {first:?}");
        };
        tally.add("non-readers joined", 1);
        let joined = Instant::now();
        let mut set = JoinSet::new();
        let stop = Arc::new(AtomicBool::new(false));
        for ws in std::mem::take(&mut flooders) {
            let (id, data, tally, stop) = (id.clone(), data.clone(), tally.clone(), stop.clone());
            set.spawn(async move {
                // Each flooder signals the non-reader only, until told to stop.
                let (ws_back, sent) = flood_until(ws, &id, &data, (deadline, &stop), &tally).await;
                tally.add("8 KiB signals sent to the non-reader", sent);
                ws_back
            });
        }
        // Wait for the watcher to see the non-reader go.
        let gone = loop {
            tokio::select! {
                m = next_json(&mut watcher) => match m {
                    Some(v) if v["type"] == "connectionDestroyed"
                        && v["connection"]["connectionId"] == id.as_str() => {
                        break Some(v["reason"].as_str().unwrap_or("?").to_owned());
                    }
                    Some(_) => {}
                    None => anyhow::bail!("the watcher was disconnected"),
                },
                _ = tokio::time::sleep_until(end) => break None,
            }
        };
        let took = joined.elapsed().as_secs_f64();
        // The flooders stop (their task ends at the deadline or when the target is gone).
        stop.store(true, Ordering::Relaxed);
        while let Some(r) = set.join_next().await {
            if let Ok(Some(ws)) = r {
                flooders.push(ws);
            }
        }
        drop(stalled);
        match gone {
            Some(reason) => {
                tally.add(format!("non-reader disconnected ({reason})"), 1);
                times.push(took * 1000.0);
            }
            None => tally.add("non-reader still connected at the deadline", 1),
        }
        if flooders.len() < FLOODERS {
            tally.note(format!(
                "{} flooder connection(s) were closed by the server",
                FLOODERS - flooders.len()
            ));
            break;
        }
    }
    if !times.is_empty() {
        tally.metric(
            "non-reader disconnected after p50 s",
            procfs::percentile_ms(&mut times, 0.5) / 1000.0,
        );
    }
    Ok(())
}

/// Signals `to` with `data` as fast as the server answers (32 unanswered at most) until
/// `deadline` or until `stop`; gives the socket back if it is still open.
pub(crate) async fn flood_until(
    ws: Ws,
    to: &str,
    data: &str,
    (deadline, stop): (Instant, &AtomicBool),
    tally: &Tally,
) -> (Option<Ws>, u64) {
    let mut ws = ws;
    let (mut in_flight, mut sent) = (0usize, 0u64);
    let end = tokio::time::Instant::from_std(deadline);
    let mut check = tokio::time::interval(Duration::from_millis(20));
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        while in_flight < 32 && Instant::now() < deadline {
            sent += 1;
            if ws.feed(signal_message(sent, Some(to), data)).await.is_err() {
                return (None, sent);
            }
            in_flight += 1;
        }
        if ws.flush().await.is_err() {
            return (None, sent);
        }
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                    match v["type"].as_str() {
                        Some("ok") => {
                            in_flight = in_flight.saturating_sub(1);
                            tally.add("flood signal: accepted", 1);
                        }
                        Some("error") => {
                            in_flight = in_flight.saturating_sub(1);
                            tally.add(format!("flood signal: refused {}", refusal(&v)), 1);
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return (None, sent),
                Some(Ok(_)) => {}
            },
            _ = check.tick() => {}
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    // Collect the answers still due, briefly, so the next round starts clean.
    let settle = tokio::time::Instant::now() + Duration::from_millis(500);
    while in_flight > 0 {
        match tokio::time::timeout_at(settle, ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => in_flight -= 1,
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    (Some(ws), sent)
}

pub(crate) async fn big_messages(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let room = t.new_room().await?;
    let (app, sid, jwt) = attacker_application(&t).await?;
    let http = attacker_http()?;
    let deadline = go.ready().await?;
    let mut set = JoinSet::new();

    // 2 MiB WebSocket messages: each one should end its connection.
    let (t1, room1, tally1) = (t.clone(), room.clone(), tally.clone());
    set.spawn(async move {
        let huge = format!(
            "{{\"type\":\"signal\",\"id\":\"1\",\"data\":\"{}\"}}",
            "x".repeat(2 << 20)
        );
        while Instant::now() < deadline {
            let Ok((mut ws, Some(v))) = ws_join(&t1, &room1).await else {
                tally1.add("ws 2 MiB: could not join", 1);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            if v["type"] != "connected" {
                tally1.add("ws 2 MiB: could not join", 1);
                continue;
            }
            tally1.add("ws 2 MiB: messages sent", 1);
            if ws.send(Message::text(huge.clone())).await.is_err() {
                tally1.add(
                    "ws 2 MiB: connection closed by the server (while sending)",
                    1,
                );
                continue;
            }
            // The session's own events (another member joining) are not the answer.
            let answer = async {
                loop {
                    match next_json(&mut ws).await {
                        Some(v) if v["type"] == "connectionCreated" => continue,
                        Some(v) if v["type"] == "connectionDestroyed" => continue,
                        other => return other,
                    }
                }
            };
            let outcome = match tokio::time::timeout(Duration::from_secs(5), answer).await {
                Ok(None) => "ws 2 MiB: connection closed by the server",
                Ok(Some(v)) if v["type"] == "error" => {
                    tally1.note(format!("2 MiB message answered: {v}"));
                    "ws 2 MiB: answered with an error"
                }
                Ok(Some(v)) => {
                    tally1.note(format!("2 MiB message answered: {v}"));
                    "ws 2 MiB: answered otherwise"
                }
                Err(_) => "ws 2 MiB: no answer within 5 s",
            };
            tally1.add(outcome, 1);
        }
    });

    // 100 KiB messages (over the protocol's 64 KiB, under the 1 MiB frame limit), pipelined
    // on one connection.
    let (t2, room2, tally2) = (t.clone(), room.clone(), tally.clone());
    set.spawn(async move {
        let big = "y".repeat(100 << 10);
        while Instant::now() < deadline {
            let Ok((ws, Some(v))) = ws_join(&t2, &room2).await else {
                tally2.add("ws 100 KiB: could not join", 1);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            if v["type"] != "connected" {
                tally2.add("ws 100 KiB: could not join", 1);
                continue;
            }
            let flood = Flood {
                to: None,
                data: &big,
                window: 16,
                deadline,
                tally: &tally2,
                label: "ws 100 KiB",
            };
            let _ = flood_signals(ws, flood, |_| {}).await;
        }
    });

    // REST bodies of 100 KiB: a signal through the API, with the application's credential.
    let url = format!("{}/v2/project/{app}/session/{sid}/signal", t.url);
    let body = json!({"type": "big", "data": "z".repeat(100 << 10)}).to_string();
    for _ in 0..2 {
        let (http, url, jwt, body, tally) = (
            http.clone(),
            url.clone(),
            jwt.clone(),
            body.clone(),
            tally.clone(),
        );
        set.spawn(async move {
            while Instant::now() < deadline {
                let r = http
                    .post(&url)
                    .header("Authorization", format!("Bearer {jwt}"))
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        let key = format!("REST 100 KiB body: HTTP {status}");
                        tally.add(&key, 1);
                        if status != 413 && tally.count(&key) == 1 {
                            tally.note(format!(
                                "REST 100 KiB body: HTTP {status}: {}",
                                text.chars().take(200).collect::<String>()
                            ));
                        }
                    }
                    Err(e) => {
                        tally.add("REST 100 KiB body: request failed", 1);
                        tally.note(format!("REST request failed: {e}"));
                    }
                }
            }
        });
    }
    // The tasks end by the deadline; anything still running a moment later is cut.
    let _ = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline + Duration::from_secs(6)),
        async { while set.join_next().await.is_some() {} },
    )
    .await;
    set.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Output.
