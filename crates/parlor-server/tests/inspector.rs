//! The Inspector's session history against a real `parlor serve`, driven by native clients
//! (real WebRTC): what each connection did is in `/v2/project/{key}/inspector/...`, it
//! survives a `kill -9` (open meetings are closed with `serverStopped`), old history is
//! pruned after the retention, and the API refuses anyone without the project's
//! credentials.

mod common;

use std::time::Duration;

use common::{
    API_KEY, Server, fixtures, ivf_frames, ogg_packets, publish_connected, rest_call,
    wait_subscribed,
};
use parlor_client::{PublishOptions, SubscribeOptions};
use parlor_sdk::Role;
use reqwest::Method;
use serde_json::Value;

async fn inspector(server: &Server, path: &str) -> (u16, Value) {
    rest_call(server, Method::GET, &format!("/inspector{path}"), None).await
}

/// Polls the session's events until `done` holds for them (10 s at most).
async fn events_until(server: &Server, sid: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..100 {
        let (status, body) = inspector(server, &format!("/sessions/{sid}/events?count=1000")).await;
        assert_eq!(status, 200, "{body}");
        last = body["items"].as_array().cloned().unwrap_or_default();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the history never showed what was expected: {last:#?}");
}

/// Sends real VP8 and Opus at their pace (the fixtures, looped) until aborted: a video
/// frame every 33 ms, an audio packet every 20 ms.
fn send_media(mut publisher: parlor_client::Publisher) -> tokio::task::JoinHandle<()> {
    let fixtures = fixtures();
    let frames = ivf_frames(&fixtures.video_ivf);
    let packets = ogg_packets(&fixtures.audio_ogg);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let started = tokio::time::Instant::now();
        let (mut video, mut audio) = (0u32, 0u32);
        loop {
            tick.tick().await;
            let ms = started.elapsed().as_millis() as u32;
            while video * 33 <= ms {
                let (_, frame) = &frames[video as usize % frames.len()];
                if publisher
                    .send_video(frame, video.wrapping_mul(3000))
                    .is_err()
                {
                    return;
                }
                video += 1;
            }
            while audio * 20 <= ms {
                let packet = &packets[audio as usize % packets.len()];
                if publisher
                    .send_audio(packet, audio.wrapping_mul(960))
                    .is_err()
                {
                    return;
                }
                audio += 1;
            }
        }
    })
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["kind"].as_str()).collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    kinds(events).iter().filter(|k| **k == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_shows_who_did_what_and_survives_a_kill_9() {
    let server = Server::start();
    let (sid, [(moderator, _), (alice, _), (bob, _)]) = server
        .join([Role::Moderator, Role::Publisher, Role::Subscriber])
        .await;
    let publisher = publish_connected(&alice, PublishOptions::default()).await;
    let mut sub = bob
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    // A subscribe that fails, three signals, a publish the role does not allow.
    assert!(
        bob.subscribe("no-such-stream", SubscribeOptions::default())
            .await
            .is_err()
    );
    for i in 0..3 {
        bob.signal(None, "chat", &format!("hello {i}"))
            .await
            .unwrap();
    }
    assert!(bob.publish(PublishOptions::default()).await.is_err());
    // The moderator mutes alice's stream; the REST API ends bob's connection.
    moderator
        .force_mute_stream(publisher.stream_id())
        .await
        .unwrap();
    let (status, _) = rest_call(
        &server,
        Method::DELETE,
        &format!("/session/{sid}/connection/{}", bob.connection_id()),
        None,
    )
    .await;
    assert_eq!(status, 204);

    let events = events_until(&server, &sid, |e| {
        count(e, "connectionDestroyed") == 1 && count(e, "subscriptionDestroyed") == 1
    })
    .await;
    let k = kinds(&events);
    assert_eq!(k[0], "meetingStarted", "{k:?}");
    assert_eq!(count(&events, "connectionCreated"), 3, "{k:?}");
    assert_eq!(count(&events, "streamCreated"), 1, "{k:?}");
    assert_eq!(count(&events, "subscriptionCreated"), 1, "{k:?}");
    assert_eq!(count(&events, "subscribeFailed"), 1, "{k:?}");
    assert_eq!(count(&events, "publishFailed"), 1, "{k:?}");
    assert_eq!(count(&events, "moderation"), 2, "{k:?}");
    let by_kind = |kind: &str| events.iter().find(|e| e["kind"] == kind).unwrap();
    assert_eq!(by_kind("subscribeFailed")["streamId"], "no-such-stream");
    assert!(
        by_kind("publishFailed")["reason"]
            .as_str()
            .unwrap()
            .starts_with("permissionDenied:"),
        "{}",
        by_kind("publishFailed")
    );
    let mods: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "moderation")
        .collect();
    assert_eq!(mods[0]["detail"]["action"], "forceMuteStream");
    assert_eq!(mods[0]["connectionId"], moderator.connection_id());
    assert_eq!(mods[1]["detail"]["action"], "forceDisconnect");
    assert_eq!(mods[1]["detail"]["by"], Value::Null, "the REST API");
    let gone = by_kind("connectionDestroyed");
    assert_eq!(gone["connectionId"], bob.connection_id());
    assert_eq!(gone["reason"], "forceDisconnected");
    assert_eq!(gone["detail"]["signalsSent"], 3);
    assert_eq!(
        by_kind("subscriptionDestroyed")["reason"],
        "connectionDestroyed"
    );
    // Cursor paging walks the same timeline.
    let (_, first) = inspector(&server, &format!("/sessions/{sid}/events?count=2")).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_i64().unwrap();
    let (_, rest) = inspector(
        &server,
        &format!("/sessions/{sid}/events?count=1000&after={next}"),
    )
    .await;
    assert_eq!(
        rest["items"].as_array().unwrap().len() + 2,
        events.len(),
        "{rest}"
    );
    assert_eq!(rest["next"], Value::Null);

    // The session as a whole, live.
    let (status, s) = inspector(&server, &format!("/sessions/{sid}")).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["live"], true);
    assert_eq!(s["meetings"].as_array().unwrap().len(), 1);
    let conns = s["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 3);
    for c in conns {
        assert_eq!(c["sdk"], "parlor-client", "{c}");
        assert_eq!(c["sdkVersion"], env!("CARGO_PKG_VERSION"));
        assert_eq!(c["remoteAddr"], "127.0.0.1");
    }
    assert_eq!(conns[0]["role"], "moderator");
    assert_eq!(conns[1]["data"], "client-1");
    assert_eq!(s["streams"][0]["id"], publisher.stream_id());
    assert_eq!(s["streams"][0]["destroyedAt"], Value::Null);
    assert_eq!(
        s["subscriptions"][0]["destroyReason"],
        "connectionDestroyed"
    );
    assert_eq!(s["failureRates"]["subscribe"]["attempts"], 2);
    assert_eq!(s["failureRates"]["subscribe"]["failures"], 1);
    assert_eq!(s["failureRates"]["subscribe"]["rate"], 0.5);
    assert_eq!(s["failureRates"]["publish"]["attempts"], 2);
    assert_eq!(s["failureRates"]["connect"]["failures"], 0);

    // kill -9 with alice and the moderator connected, then a restart.
    let data_dir = server.keep_data_dir();
    drop((moderator, alice, bob, sub, publisher));
    let server = Server::start_in(data_dir, &[]);
    let (status, s) = inspector(&server, &format!("/sessions/{sid}")).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["live"], false);
    let meeting = &s["meetings"][0];
    assert_eq!(meeting["endReason"], "serverStopped", "{s}");
    assert!(meeting["endedAt"].as_i64().unwrap() >= meeting["startedAt"].as_i64().unwrap());
    let conns = s["connections"].as_array().unwrap();
    let reasons: Vec<&str> = conns
        .iter()
        .map(|c| c["leaveReason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["serverStopped", "serverStopped", "forceDisconnected"]
    );
    assert_eq!(s["streams"][0]["destroyReason"], "serverStopped");

    // Using the session again is a second meeting; the list shows both, live.
    let token = server
        .sdk()
        .generate_token(&sid, parlor_sdk::TokenOptions::default())
        .unwrap();
    let (again, _) = server.connect(&sid, &token).await;
    events_until(&server, &sid, |e| count(e, "meetingStarted") == 2).await;
    let (_, list) = inspector(&server, "/sessions").await;
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sessionId"] == sid.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["meetings"], 2, "{list}");
    assert_eq!(item["connections"], 4);
    assert_eq!(item["live"], true);
    assert_eq!(item["lastEndedAt"], Value::Null, "a meeting is going on");
    again.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_api_refuses_strangers_and_bad_queries() {
    let server = Server::start();
    let (sid, _) = server.session_with_tokens(&[]).await;
    let url = format!(
        "{}/v2/project/{API_KEY}/inspector/sessions/{sid}",
        server.url
    );
    // No credentials, a wrong secret.
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let forged = parlor_proto::project_auth::mint(
        API_KEY,
        "not-the-secret-1234",
        parlor_proto::unix_now(),
        300,
    );
    let r = reqwest::Client::new()
        .get(&url)
        .header("X-OPENTOK-AUTH", forged)
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 401 | 403), "{}", r.status());
    // Known session, nothing happened yet: empty, not an error.
    let (status, s) = inspector(&server, &format!("/sessions/{sid}")).await;
    assert_eq!(status, 200);
    assert_eq!(s["meetings"], serde_json::json!([]));
    for (path, status, words) in [
        ("/sessions/nope", 404, "no session nope"),
        (
            "/sessions?count=1001",
            400,
            "count must be between 0 and 1000",
        ),
        ("/sessions?offset=-1", 400, "offset must be between"),
        ("/sessions?count=ten", 400, "count must be a whole number"),
        (
            &format!("/sessions/{sid}/events?kind=bogus") as &str,
            400,
            "unknown event kind 'bogus'",
        ),
    ] {
        let (got, body) = inspector(&server, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "{path}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_past_the_retention_is_pruned() {
    let mut server = Server::start();
    let (sid, [(alice, _)]) = server.join([Role::Publisher]).await;
    alice.disconnect().await;
    events_until(&server, &sid, |e| count(e, "meetingEnded") == 1).await;
    assert!(server.stop(), "a clean stop");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Restarted with a retention of 1 s: the meeting that ended over a second ago goes.
    let data_dir = server.keep_data_dir();
    let server = Server::start_in(data_dir, &["--history-retention", "1s"]);
    for _ in 0..100 {
        let (status, s) = inspector(&server, &format!("/sessions/{sid}")).await;
        assert_eq!(status, 200, "{s}");
        if s["meetings"] == serde_json::json!([]) && s["connections"] == serde_json::json!([]) {
            let (_, events) = inspector(&server, &format!("/sessions/{sid}/events")).await;
            assert_eq!(events["items"], serde_json::json!([]));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the history was not pruned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_windows_show_a_lossy_subscriber_and_score_it_lower() {
    let server = Server::start_configured(&["--quality-interval", "1s"]);
    let (sid, [(alice, _), (clean, _), (lossy, _)]) = server
        .join([Role::Publisher, Role::Subscriber, Role::Subscriber])
        .await;
    let publisher = publish_connected(&alice, PublishOptions::default()).await;
    let stream_id = publisher.stream_id().to_owned();
    let mut good = clean
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut good).await;
    // A subscriber on a very bad link: 40 % of what reaches it is lost, retransmissions
    // included. Its feedback tells the router so, and the router soon turns its video off
    // (the audio-only fallback: not even the only layer gets through).
    let mut bad = lossy
        .subscribe(
            &stream_id,
            SubscribeOptions {
                drop_rate: 0.4,
                drop_retransmissions: true,
                ..SubscribeOptions::default()
            },
        )
        .await
        .unwrap();
    wait_subscribed(&mut bad).await;
    let sender = send_media(publisher);
    let path = format!("/sessions/{sid}/quality?streamId={stream_id}");
    let mut last = Value::Null;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, body) = inspector(&server, &path).await;
        assert_eq!(status, 200, "{body}");
        last = body;
        let series = last["items"].as_array().unwrap();
        let find = |media: &str, conn: &str| {
            series
                .iter()
                .find(|s| s["media"] == media && s["connectionId"] == conn)
                .cloned()
        };
        let (Some(publisher_side), Some(gv), Some(bv), Some(ga), Some(ba)) = (
            find("video", alice.connection_id()),
            find("video", clean.connection_id()),
            find("video", lossy.connection_id()),
            find("audio", clean.connection_id()),
            find("audio", lossy.connection_id()),
        ) else {
            continue;
        };
        // Enough windows with loss reported on every subscription.
        let reported = |s: &Value| {
            s["samples"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|w| w["loss"].is_number() && w["mos"].is_number())
                .count()
        };
        // The lossy video has a few windows before it is turned off.
        if [&gv, &ga, &ba].iter().any(|s| reported(s) < 4) || reported(&bv) < 2 {
            continue;
        }
        assert_eq!(publisher_side["side"], "publisher");
        let most = |field: &str| {
            publisher_side["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w[field].as_i64().unwrap())
                .max()
                .unwrap()
        };
        assert!(most("bitrateBps") > 100_000, "{publisher_side}");
        assert!(most("packets") > 0);
        // Video is repaired by retransmission: the lossy subscriber NACKs far more.
        let nacks = |s: &Value| {
            s["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["nacks"].as_i64().unwrap())
                .sum::<i64>()
        };
        assert!(
            nacks(&bv) > nacks(&gv) + 10,
            "the lossy subscriber NACKs more: {} vs {}",
            nacks(&bv),
            nacks(&gv)
        );
        // Audio is not: its receiver reports the loss, and the score falls.
        let (ga, ba) = (&ga["summary"], &ba["summary"]);
        assert_eq!(ga["meanLoss"], 0.0, "clean: {ga}");
        assert!(ba["meanLoss"].as_f64().unwrap() >= 0.2, "lossy: {ba}");
        assert!(ga["meanMos"].as_f64().unwrap() > 4.0, "clean: {ga}");
        assert!(
            ba["meanMos"].as_f64().unwrap() < ga["meanMos"].as_f64().unwrap() - 1.0,
            "the lossy subscriber scores lower: {ba} vs {ga}"
        );
        assert!(ba["score"].as_u64().unwrap() <= 3, "{ba}");
        assert_eq!(ga["score"], 4, "{ga}");
        // The history shows the lossy subscription warned, then its video turned off; the
        // clean one's never.
        let events = events_until(&server, &sid, |e| {
            e.iter()
                .filter(|e| e["kind"] == "videoQuality" && e["detail"]["state"] == "disabled")
                .count()
                > 0
        })
        .await;
        let steps: Vec<(&str, &str)> = events
            .iter()
            .filter(|e| e["kind"] == "videoQuality")
            .map(|e| {
                (
                    e["connectionId"].as_str().unwrap(),
                    e["detail"]["state"].as_str().unwrap(),
                )
            })
            .collect();
        let lossy_id = lossy.connection_id();
        assert_eq!(
            steps,
            [(lossy_id, "warning"), (lossy_id, "disabled")],
            "{events:?}"
        );
        sender.abort();
        return;
    }
    panic!("no quality windows as expected: {last:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_refused_at_the_cap_is_in_the_history_and_a_bad_token_is_not() {
    let server = Server::start_configured(&["--max-connections-per-session", "1"]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let (_alice, _) = server.connect(&sid, &tokens[0]).await;
    assert!(
        parlor_client::Session::connect(&server.url, &sid, &tokens[1])
            .await
            .is_err(),
        "the session is full"
    );
    // A forged token naming the session writes nothing.
    let forged = format!("{}x", tokens[1]);
    assert!(
        parlor_client::Session::connect(&server.url, &sid, &forged)
            .await
            .is_err()
    );
    let events = events_until(&server, &sid, |e| count(e, "connectionFailed") >= 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, all) = inspector(&server, &format!("/sessions/{sid}/events")).await;
    let failed: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "connectionFailed")
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["reason"], "session_full");
    assert_eq!(failed[0]["meetingId"], Value::Null);
    assert_eq!(failed[0]["detail"]["sdk"], "parlor-client");
    assert!(
        failed[0]["detail"]["message"]
            .as_str()
            .unwrap()
            .contains("session is full")
    );
    let (_, s) = inspector(&server, &format!("/sessions/{sid}")).await;
    assert_eq!(s["failureRates"]["connect"]["attempts"], 2, "{s}");
    assert_eq!(s["failureRates"]["connect"]["failures"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_stats_reports_join_the_quality_windows_and_only_their_own_count() {
    use parlor_proto::signaling::{
        CandidateType, Media, QualityLimitation, StatsReport, TransportProtocol,
    };
    let server = Server::start_configured(&["--quality-interval", "1s"]);
    let (sid, [(alice, _), (bob, _)]) = server.join([Role::Publisher, Role::Subscriber]).await;
    assert_eq!(alice.info().stats_interval_ms, 1000);
    let publisher = publish_connected(&alice, PublishOptions::default()).await;
    let stream_id = publisher.stream_id().to_owned();
    let mut sub = bob
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    let subscription_id = sub.subscription_id().to_owned();
    let sender = send_media(publisher);

    // What a client may not send: each refused with its reason.
    let both = StatsReport {
        stream_id: Some(stream_id.clone()),
        subscription_id: Some(subscription_id.clone()),
        ..Default::default()
    };
    let err = alice
        .report_stats(vec![both])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("either a streamId or a subscriptionId"),
        "{err}"
    );
    let fast = StatsReport {
        stream_id: Some(stream_id.clone()),
        fps: Some(5000.0),
        ..Default::default()
    };
    let err = alice
        .report_stats(vec![fast])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("fps must be between 0 and 1000"), "{err}");
    let many = vec![StatsReport::default(); 33];
    let err = alice.report_stats(many).await.unwrap_err().to_string();
    assert!(err.contains("33 reports; the limit is 32"), "{err}");
    alice
        .ping()
        .await
        .expect("still connected after refused reports");

    let sent = StatsReport {
        stream_id: Some(stream_id.clone()),
        media: Media::Video,
        fps: Some(29.5),
        width: Some(640),
        height: Some(480),
        quality_limitation: Some(QualityLimitation::Bandwidth),
        candidate_type: Some(CandidateType::Host),
        protocol: Some(TransportProtocol::Udp),
        ..Default::default()
    };
    let received = StatsReport {
        subscription_id: Some(subscription_id.clone()),
        media: Media::Video,
        fps: Some(24.0),
        freezes: Some(2),
        freeze_ms: Some(300),
        ..Default::default()
    };
    let heard = StatsReport {
        subscription_id: Some(subscription_id.clone()),
        media: Media::Audio,
        concealed: Some(0.05),
        ..Default::default()
    };
    // Bob claims to measure Alice's stream: not his, ignored.
    let forged = StatsReport {
        stream_id: Some(stream_id.clone()),
        media: Media::Video,
        fps: Some(1.0),
        ..Default::default()
    };
    let path = format!("/sessions/{sid}/quality?streamId={stream_id}");
    let mut last = Value::Null;
    for _ in 0..30 {
        alice.report_stats(vec![sent.clone()]).await.unwrap();
        bob.report_stats(vec![received.clone(), heard.clone(), forged.clone()])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, body) = inspector(&server, &path).await;
        assert_eq!(status, 200, "{body}");
        last = body;
        let samples = |side: &str, media: &str| -> Vec<Value> {
            last["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["side"] == side && s["media"] == media)
                .flat_map(|s| s["samples"].as_array().unwrap().clone())
                .collect()
        };
        let pv = samples("publisher", "video");
        let sv = samples("subscriber", "video");
        let sa = samples("subscriber", "audio");
        assert!(
            pv.iter().all(|w| w["fps"] != 1.0),
            "another client's report was taken: {pv:#?}"
        );
        let Some(p) = pv.iter().find(|w| w["fps"] == 29.5) else {
            continue;
        };
        let (Some(v), Some(a)) = (
            sv.iter().find(|w| w["fps"] == 24.0),
            sa.iter().find(|w| w["concealed"].is_number()),
        ) else {
            continue;
        };
        assert_eq!(p["width"], 640, "{p}");
        assert_eq!(p["height"], 480);
        assert_eq!(p["qualityLimitation"], "bandwidth");
        assert_eq!(p["candidateType"], "host");
        assert_eq!(p["protocol"], "udp");
        // The router's own measures are in the same window.
        assert!(p["bitrateBps"].as_i64().unwrap() > 0, "{p}");
        assert_eq!(v["freezes"], 2, "{v}");
        assert_eq!(v["freezeMs"], 300);
        assert_eq!(a["concealed"], 0.05, "{a}");
        sender.abort();
        return;
    }
    panic!("the clients' reports never showed in the quality windows: {last:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_joined_again_soon_continues_its_meeting_and_later_starts_a_new_one() {
    let server = Server::start_configured(&["--meeting-gap", "3s"]);
    let (sid, [(alice, _)]) = server.join([Role::Publisher]).await;
    let token = |server: &Server| {
        server
            .sdk()
            .generate_token(&sid, parlor_sdk::TokenOptions::default())
            .unwrap()
    };
    alice.disconnect().await;
    events_until(&server, &sid, |e| count(e, "meetingEnded") == 1).await;
    // Back within the gap: the same meeting, open again.
    let (bob, _) = server.connect(&sid, &token(&server)).await;
    let events = events_until(&server, &sid, |e| count(e, "meetingStarted") == 2).await;
    let resumed = events
        .iter()
        .filter(|e| e["kind"] == "meetingStarted")
        .nth(1)
        .unwrap();
    assert_eq!(resumed["detail"]["resumed"], true, "{resumed}");
    let (_, s) = inspector(&server, &format!("/sessions/{sid}")).await;
    let meetings = s["meetings"].as_array().unwrap();
    assert_eq!(meetings.len(), 1, "{s}");
    assert_eq!(meetings[0]["endedAt"], Value::Null, "open again: {s}");
    assert_eq!(s["connections"].as_array().unwrap().len(), 2);
    bob.disconnect().await;
    events_until(&server, &sid, |e| count(e, "meetingEnded") == 2).await;
    // Empty for longer than the gap: a new meeting.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let (carol, _) = server.connect(&sid, &token(&server)).await;
    events_until(&server, &sid, |e| count(e, "meetingStarted") == 3).await;
    let (_, s) = inspector(&server, &format!("/sessions/{sid}")).await;
    let meetings = s["meetings"].as_array().unwrap();
    assert_eq!(meetings.len(), 2, "{s}");
    assert_eq!(meetings[0]["endReason"], "lastConnectionLeft", "{s}");
    assert_eq!(meetings[1]["endedAt"], Value::Null);
    carol.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_clients_report_their_frame_rate_size_and_rtt_by_themselves() {
    let server = Server::start_configured(&["--quality-interval", "1s"]);
    let (sid, [(alice, _), (bob, _)]) = server.join([Role::Publisher, Role::Subscriber]).await;
    let publisher = publish_connected(&alice, PublishOptions::default()).await;
    let stream_id = publisher.stream_id().to_owned();
    let mut sub = bob
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    let sender = send_media(publisher);
    // The subscriber's frames must be taken from its queue for it to count them.
    let reader = tokio::spawn(async move { while sub.next_event().await.is_some() {} });
    let path = format!("/sessions/{sid}/quality?streamId={stream_id}");
    let mut last = Value::Null;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, body) = inspector(&server, &path).await;
        assert_eq!(status, 200, "{body}");
        last = body;
        let reported = |side: &str| -> Option<Value> {
            last["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["side"] == side && s["media"] == "video")
                .flat_map(|s| s["samples"].as_array().unwrap().clone())
                .find(|w| w["fps"].as_f64().is_some_and(|f| f > 20.0) && w["width"].is_number())
        };
        let (Some(p), Some(s)) = (reported("publisher"), reported("subscriber")) else {
            continue;
        };
        // The router measures no RTT of a publisher that sends no RTCP XR: the window has
        // the publisher's own, from the router's receiver reports.
        if !p["rttMs"].is_number() {
            continue;
        }
        // The fixture: 320x240 at 30 fps.
        for w in [&p, &s] {
            assert_eq!(
                (w["width"].as_i64(), w["height"].as_i64()),
                (Some(320), Some(240)),
                "{w}"
            );
            assert!(w["fps"].as_f64().unwrap() < 40.0, "{w}");
            assert_eq!(w["candidateType"], "host");
            assert_eq!(w["protocol"], "udp");
        }
        sender.abort();
        reader.abort();
        return;
    }
    panic!("the native clients never reported: {last:#}");
}
