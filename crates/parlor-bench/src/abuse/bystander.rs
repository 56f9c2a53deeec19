//! The bystander session: a publisher, a subscriber counting every frame against what
//! was sent, and signal and REST round trips, measured per window.

use super::*;

/// One probe: when it was sent and, if it came back, how long it took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    sent: Instant,
    rtt_ms: Option<f64>,
}

/// Media sent by a pump: when frame 0 was due and how far it got.
#[derive(Default)]
pub(crate) struct Sent {
    video: AtomicU64,
    audio: AtomicU64,
    /// (video frame index, ms late) for frames sent more than 5 ms after they were due.
    late: Mutex<Vec<(u64, f64)>>,
}

/// Feeds `sender` 30 video frames and 50 audio packets a second from `start` on, with RTP
/// times that name each frame's index (video: index × 3000, audio: index × 960), until
/// `stop` turns true or the sender closes.
pub(crate) async fn pump(
    media: Arc<Media>,
    mut sender: PeerSender,
    start: Instant,
    sent: Arc<Sent>,
    mut stop: watch::Receiver<bool>,
) {
    let (mut v, mut a) = (0u64, 0u64);
    loop {
        let due_v = start + VIDEO_FRAME * v as u32;
        let due_a = start + AUDIO_PACKET * a as u32;
        let due = due_v.min(due_a);
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() || sender.is_closed() {
            return;
        }
        if due == due_v {
            let frame = &media.video[(v as usize) % media.video.len()];
            let _ = sender.send_video(frame, (v * 3000) as u32);
            let late = Instant::now().saturating_duration_since(due_v);
            if late > Duration::from_millis(5) {
                lock(&sent.late).push((v, late.as_secs_f64() * 1000.0));
            }
            v += 1;
            sent.video.store(v, Ordering::Relaxed);
        } else {
            let packet = &media.audio[(a as usize) % media.audio.len()];
            let _ = sender.send_audio(packet, (a * 960) as u32);
            a += 1;
            sent.audio.store(a, Ordering::Relaxed);
        }
    }
}

/// The bystander session: a publisher, a subscriber, and their probes.
pub(crate) struct Bystander {
    pump_start: Instant,
    sent: Arc<Sent>,
    video: Arc<Mutex<HashSet<u64>>>,
    audio: Arc<Mutex<HashSet<u64>>>,
    signals: Arc<Mutex<Vec<Probe>>>,
    rests: Arc<Mutex<Vec<Probe>>>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    sessions: Vec<Session>,
}

impl Bystander {
    pub(crate) async fn start(t: Arc<Target>, media: Arc<Media>) -> anyhow::Result<Bystander> {
        let room = t.new_room().await?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let (publisher, mut pub_events) = Session::connect(&t.url, &room, &t.token(&room)?).await?;
        tasks.spawn(async move { while pub_events.recv().await.is_some() {} });
        let mut p = publisher
            .publish(PublishOptions {
                has_audio: true,
                has_video: true,
                ..Default::default()
            })
            .await?;
        p.wait_connected().await?;
        let stream_id = p.stream_id().to_owned();
        let sent = Arc::new(Sent::default());
        let pump_start = Instant::now() + Duration::from_millis(20);
        tasks.spawn(pump(
            media,
            p.into_sender(),
            pump_start,
            sent.clone(),
            stopped.clone(),
        ));

        let (subscriber, mut sub_events) =
            Session::connect(&t.url, &room, &t.token(&room)?).await?;
        let mut sub = subscriber
            .subscribe(
                &stream_id,
                SubscribeOptions {
                    audio: true,
                    video: true,
                    ..Default::default()
                },
            )
            .await?;
        let video = Arc::new(Mutex::new(HashSet::new()));
        let audio = Arc::new(Mutex::new(HashSet::new()));
        let (v, a) = (video.clone(), audio.clone());
        tasks.spawn(async move {
            while let Some(e) = sub.next_event().await {
                match e {
                    SubscriberEvent::Frame(f) => {
                        let ts = f.rtp_time as u32;
                        match f.kind {
                            MediaKind::Video => lock(&v).insert(u64::from(ts / 3000)),
                            MediaKind::Audio => lock(&a).insert(u64::from(ts / 960)),
                        };
                    }
                    SubscriberEvent::Closed(_) => break,
                    SubscriberEvent::Connected => {}
                }
            }
        });

        // Signal probes: the subscriber's client signals the session; its own signal
        // coming back (the data is the probe's number) ends the round trip.
        let signals: Arc<Mutex<Vec<Probe>>> = Arc::new(Mutex::new(Vec::new()));
        let s = signals.clone();
        tasks.spawn(async move {
            while let Some(e) = sub_events.recv().await {
                if let ServerMessage::Signal {
                    signal_type, data, ..
                } = e
                    && signal_type == "probe"
                    && let Ok(i) = data.parse::<usize>()
                {
                    let mut probes = lock(&s);
                    if let Some(p) = probes.get_mut(i)
                        && p.rtt_ms.is_none()
                    {
                        p.rtt_ms = Some(p.sent.elapsed().as_secs_f64() * 1000.0);
                    }
                }
            }
        });
        let (s, session, mut stop_rx) = (signals.clone(), subscriber.clone(), stopped.clone());
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => return,
                }
                let i = start_probe(&s);
                let session = session.clone();
                // Not awaited here: a slow answer must not slow the probing.
                tokio::spawn(async move {
                    let _ = session.signal(None, "probe", &i.to_string()).await;
                });
            }
        });

        // REST probes: the project's own credentials, a GET of the session's streams.
        let rests: Arc<Mutex<Vec<Probe>>> = Arc::new(Mutex::new(Vec::new()));
        let (r, sdk, room2, mut stop_rx) = (rests.clone(), t.sdk.clone(), room, stopped);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => return,
                }
                let i = start_probe(&r);
                let (r, sdk, room) = (r.clone(), sdk.clone(), room2.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    if sdk.list_streams(&room).await.is_ok() {
                        lock(&r)[i].rtt_ms = Some(t.elapsed().as_secs_f64() * 1000.0);
                    }
                });
            }
        });

        Ok(Bystander {
            pump_start,
            sent,
            video,
            audio,
            signals,
            rests,
            stop,
            tasks,
            sessions: vec![publisher, subscriber],
        })
    }

    /// Waits until video frames arrive.
    pub(crate) async fn wait_media(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while lock(&self.video).len() < 10 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the bystander's subscriber received no video within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Indices of frames due in `[w0, w1)` (every `every` from the pump's start).
    pub(crate) fn due(&self, w0: Instant, w1: Instant, every: Duration) -> std::ops::Range<u64> {
        let idx = |t: Instant| {
            let d = t.saturating_duration_since(self.pump_start).as_nanos();
            d.div_ceil(every.as_nanos()) as u64
        };
        idx(w0)..idx(w1)
    }

    pub(crate) fn window(
        &self,
        w0: Instant,
        w1: Instant,
        server: &ServerWatch,
        (cpu0, cpu1): (procfs::CpuSample, procfs::CpuSample),
    ) -> Window {
        let count = |set: &Mutex<HashSet<u64>>, range: &std::ops::Range<u64>, sent: u64| {
            let end = range.end.min(sent);
            let sent_n = end.saturating_sub(range.start);
            let set = lock(set);
            let got = (range.start..end).filter(|i| set.contains(i)).count() as u64;
            (sent_n, got)
        };
        let vr = self.due(w0, w1, VIDEO_FRAME);
        let ar = self.due(w0, w1, AUDIO_PACKET);
        let (vs, vg) = count(&self.video, &vr, self.sent.video.load(Ordering::Relaxed));
        let (as_, ag) = count(&self.audio, &ar, self.sent.audio.load(Ordering::Relaxed));
        let pct = |sent: u64, got: u64| {
            if sent == 0 {
                f64::NAN
            } else {
                (sent - got) as f64 / sent as f64 * 100.0
            }
        };
        let pump_late_max_ms = lock(&self.sent.late)
            .iter()
            .filter(|(i, _)| vr.contains(i))
            .map(|(_, ms)| *ms)
            .fold(0.0, f64::max);
        let probes = |v: &Mutex<Vec<Probe>>| {
            let v = lock(v);
            let inside: Vec<Probe> = v
                .iter()
                .filter(|p| p.sent >= w0 && p.sent < w1)
                .copied()
                .collect();
            let mut rtts: Vec<f64> = inside.iter().filter_map(|p| p.rtt_ms).collect();
            let n = inside.len() as u64;
            let missing = n - rtts.len() as u64;
            let p50 = procfs::percentile_ms(&mut rtts, 0.5);
            let p99 = procfs::percentile_ms(&mut rtts, 0.99);
            let max = rtts.last().copied().unwrap_or(f64::NAN);
            (n, missing, p50, p99, max)
        };
        let (sn, smiss, s50, s99, smax) = probes(&self.signals);
        let (rn, rmiss, r50, r99, rmax) = probes(&self.rests);
        let (rss, fds) = server.max_in(w0, w1);
        let wall = cpu1.at.duration_since(cpu0.at).as_secs_f64();
        Window {
            duration_s: w1.duration_since(w0).as_secs_f64(),
            video_frames_sent: vs,
            video_frames_received: vg,
            audio_frames_sent: as_,
            audio_frames_received: ag,
            loss_pct: pct(vs + as_, vg + ag),
            video_loss_pct: pct(vs, vg),
            audio_loss_pct: pct(as_, ag),
            pump_late_max_ms,
            signal_probes: sn,
            signal_unanswered: smiss,
            signal_rtt_p50_ms: s50,
            signal_rtt_p99_ms: s99,
            signal_rtt_max_ms: smax,
            rest_probes: rn,
            rest_failed: rmiss,
            rest_rtt_p50_ms: r50,
            rest_rtt_p99_ms: r99,
            rest_rtt_max_ms: rmax,
            server_cpu_pct: if wall > 0.0 {
                (cpu1.cpu_s - cpu0.cpu_s) / wall * 100.0
            } else {
                f64::NAN
            },
            server_rss_mib_max: rss,
            server_fds_max: fds,
        }
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.send(true);
        for s in &self.sessions {
            s.disconnect().await;
        }
        self.tasks.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------
// The attacks.

/// Records a probe sent now; its index (the answer fills in its round trip).
fn start_probe(probes: &Mutex<Vec<Probe>>) -> usize {
    let mut probes = lock(probes);
    probes.push(Probe {
        sent: Instant::now(),
        rtt_ms: None,
    });
    probes.len() - 1
}
