//! Attacks over HTTP: a REST flood with valid credentials, connection floods and
//! slowloris from another address.

use super::*;

/// A Vonage application made with `parlor app create` on the server's data dir.
pub(crate) async fn create_application(t: &Target) -> anyhow::Result<(String, String)> {
    let (bin, dir) = (t.bin.clone(), t.data_dir.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["app", "create", "--name", "abuse", "--json"])
            .env("PARLOR_DATA_DIR", dir)
            .output()
    })
    .await??;
    anyhow::ensure!(
        out.status.success(),
        "parlor app create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let id = v["applicationId"]
        .as_str()
        .context("no applicationId")?
        .to_owned();
    let pem = v["privateKey"]
        .as_str()
        .context("no privateKey")?
        .to_owned();
    Ok((id, pem))
}

/// An application with one session of its own: its ID, the session, a REST JWT.
pub(crate) async fn attacker_application(t: &Target) -> anyhow::Result<(String, String, String)> {
    let (app, pem) = create_application(t).await?;
    let sdk = Parlor::with_application(&app, &pem, &t.url)?;
    let sid = sdk
        .create_session(SessionOptions::default())
        .await?
        .session_id;
    let key = parlor_proto::app_auth::PrivateKey::from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("the application's key: {e}"))?;
    let jwt = parlor_proto::app_auth::mint(&app, &key, parlor_proto::unix_now(), 900);
    Ok((app, sid, jwt))
}

pub(crate) fn attacker_http() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(IpAddr::V4(ATTACKER_IP))
        .timeout(Duration::from_secs(15))
        .build()?)
}

pub(crate) async fn rest_flood(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let (app, sid, jwt) = attacker_application(&t).await?;
    let url = format!("{}/v2/project/{app}/session/{sid}/stream", t.url);
    let http = attacker_http()?;
    // One call first: the credential works.
    let first = http
        .get(&url)
        .header("Authorization", format!("Bearer {jwt}"))
        .send()
        .await?;
    anyhow::ensure!(
        first.status().is_success(),
        "the attacker's credential was refused: {}",
        first.status()
    );
    let deadline = go.ready().await?;
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..8 {
        let (http, url, jwt, tally) = (http.clone(), url.clone(), jwt.clone(), tally.clone());
        set.spawn(async move {
            while Instant::now() < deadline {
                let r = http
                    .get(&url)
                    .header("Authorization", format!("Bearer {jwt}"))
                    .send()
                    .await;
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let retry_after = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = r.text().await.unwrap_or_default();
                        match (status, &retry_after) {
                            (429, Some(ra)) => {
                                tally.add("HTTP 429 with Retry-After", 1);
                                if tally.count("HTTP 429 with Retry-After") > 1 {
                                    continue;
                                }
                                tally.note(format!(
                                    "429: Retry-After {ra}, body {}",
                                    body.chars().take(200).collect::<String>()
                                ));
                            }
                            _ => tally.add(format!("HTTP {status}"), 1),
                        }
                    }
                    Err(e) => {
                        tally.add("request failed", 1);
                        tally.note(format!("request failed: {e}"));
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let secs = start.elapsed().as_secs_f64();
    let total: u64 = lock(&tally.counts).values().sum();
    tally.metric("requests per s", total as f64 / secs);
    tally.metric("HTTP 200 per s", tally.count("HTTP 200") as f64 / secs);
    Ok(())
}

pub(crate) async fn connection_flood(
    t: Arc<Target>,
    tally: Arc<Tally>,
    go: Go,
) -> anyhow::Result<()> {
    const CONNECTIONS: usize = 200;
    let deadline = go.ready().await?;
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (addr, tally) = (t.addr, tally.clone());
        set.spawn(async move {
            let end = tokio::time::Instant::from_std(deadline);
            while Instant::now() < deadline {
                let mut s = match tcp_from_attacker(addr).await {
                    Ok(s) => s,
                    Err(e) => {
                        tally.add(format!("connect failed ({:?})", e.kind()), 1);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                tally.add("TCP connections opened", 1);
                let _ = s
                    .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await;
                let mut buf = [0u8; 1024];
                let first = tokio::select! {
                    r = s.read(&mut buf) => r,
                    _ = tokio::time::sleep_until(end) => break,
                };
                match first {
                    Ok(n) if n > 0 && buf.starts_with(b"HTTP/1.1 200") => {
                        tally.add("served (200), then held idle", 1);
                        // Held open, idle, until the server lets go or the attack ends.
                        loop {
                            let r = tokio::select! {
                                r = s.read(&mut buf) => r,
                                _ = tokio::time::sleep_until(end) => return,
                            };
                            match r {
                                Ok(0) | Err(_) => {
                                    tally.add("held connection closed by the server", 1);
                                    break;
                                }
                                Ok(_) => {}
                            }
                        }
                    }
                    Ok(0) | Err(_) => {
                        tally.add("closed unread", 1);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(n) => {
                        tally.add("other answer", 1);
                        tally.note(format!(
                            "other answer: {}",
                            String::from_utf8_lossy(&buf[..n.min(40)])
                        ));
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    tally.metric(
        "connections opened per s",
        tally.count("TCP connections opened") as f64 / start.elapsed().as_secs_f64(),
    );
    Ok(())
}

pub(crate) async fn slowloris(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    const CONNECTIONS: usize = 400;
    let deadline = go.ready().await?;
    let lifetimes = Arc::new(Mutex::new(Vec::new()));
    let mut set = JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (addr, tally, lifetimes) = (t.addr, tally.clone(), lifetimes.clone());
        set.spawn(async move {
            let end = tokio::time::Instant::from_std(deadline);
            while Instant::now() < deadline {
                let mut s = match tcp_from_attacker(addr).await {
                    Ok(s) => s,
                    Err(e) => {
                        tally.add(format!("connect failed ({:?})", e.kind()), 1);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                tally.add("connections opened", 1);
                let opened = Instant::now();
                if s.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ")
                    .await
                    .is_err()
                {
                    continue;
                }
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                let mut buf = [0u8; 256];
                let mut got = Vec::new();
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            if s.write_all(b"a").await.is_err() {
                                tally.add("cut (write failed)", 1);
                                break;
                            }
                            tally.add("header bytes sent", 1);
                        }
                        r = s.read(&mut buf) => match r {
                            Ok(0) | Err(_) => {
                                let answer = String::from_utf8_lossy(&got);
                                let what = if answer.starts_with("HTTP/1.1 408") {
                                    "cut: 408 then closed"
                                } else if got.is_empty() {
                                    "cut: closed without an answer"
                                } else {
                                    "cut: other answer"
                                };
                                tally.add(what, 1);
                                lock(&lifetimes).push(opened.elapsed().as_secs_f64() * 1000.0);
                                break;
                            }
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        },
                        _ = tokio::time::sleep_until(end) => return,
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let mut l = lock(&lifetimes).clone();
    if !l.is_empty() {
        tally.metric(
            "cut after p50 s",
            procfs::percentile_ms(&mut l, 0.5) / 1000.0,
        );
        tally.metric(
            "cut after max s",
            procfs::percentile_ms(&mut l, 1.0) / 1000.0,
        );
    }
    Ok(())
}
