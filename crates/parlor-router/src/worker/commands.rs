//! The worker's commands: creating, changing and removing transports (producers,
//! consumers, taps), answering the handle's questions, and ending transports.

use super::*;

impl Worker {
    // ---- commands -------------------------------------------------------------------

    pub(super) fn command(&mut self, cmd: Command) {
        match cmd {
            Command::CreateProducer { id, offer, reply } => {
                let result = self.create(id, offer, None);
                let _ = reply.send(result);
            }
            Command::CreateConsumer {
                id,
                producer,
                offer,
                media,
                reply,
            } => {
                let result = match self.by_id.get(&producer).copied() {
                    Some(p) if matches!(self.transports[p].role, Role::Producer(_)) => {
                        self.create(id, offer, Some((p, media)))
                    }
                    _ => Err(RouterError::UnknownProducer(producer.to_string())),
                };
                let _ = reply.send(result);
            }
            Command::SetConsumerMedia { id, audio, video } => {
                let Some(&key) = self.by_id.get(&id) else {
                    return;
                };
                let mut want_keyframe = None;
                if let Role::Consumer(c) = &mut self.transports[key].role {
                    if let Some(a) = audio {
                        set_wanted(&mut c.audio, a);
                    }
                    if let Some(v) = video {
                        // Only turning video back on needs a keyframe (asked now rather than
                        // on the next packet); repeating "on" must not make the publisher
                        // send keyframes.
                        if v && !c.video.wanted {
                            want_keyframe = Some((c.producer, c.layer.target));
                        }
                        if v != c.video.wanted {
                            self.layers_dirty.push(c.producer);
                        }
                        set_wanted(&mut c.video, v);
                        if !v {
                            c.layer.current = None;
                        }
                    }
                }
                if let Some((p, layer)) = want_keyframe {
                    self.want_keyframe(p, layer);
                }
            }
            Command::RestartIce { id, offer, reply } => {
                let result = match self.by_id.get(&id).copied() {
                    Some(key) => self.restart_ice(key, &offer),
                    None => Err(RouterError::UnknownTransport(id.to_string())),
                };
                let _ = reply.send(result);
            }
            Command::RequestKeyframe { producer } => {
                if let Some(&key) = self.by_id.get(&producer)
                    && let Role::Producer(p) = &self.transports[key].role
                {
                    for layer in 0..p.layers.count.max(1) {
                        self.want_keyframe(key, layer);
                    }
                }
            }
            Command::SetConsumerMaxLayer { id, max_layer } => {
                if let Some(&key) = self.by_id.get(&id)
                    && let Role::Consumer(c) = &mut self.transports[key].role
                    && c.layer.cap != max_layer
                {
                    c.layer.cap = max_layer;
                    self.layers_dirty.push(c.producer);
                }
            }
            Command::SetProducerAudio { id, enabled } => {
                let Some(&key) = self.by_id.get(&id) else {
                    return;
                };
                let consumers = match &mut self.transports[key].role {
                    Role::Producer(p) => {
                        p.audio_enabled = enabled;
                        p.consumers.clone()
                    }
                    Role::Consumer(_) => return,
                };
                if !enabled {
                    // Muted audio resumes from the next packet, numbered without a gap.
                    for c in consumers {
                        if let Some(Transport {
                            role: Role::Consumer(c),
                            ..
                        }) = self.transports.get_mut(c)
                        {
                            c.audio.seq.pause();
                        }
                    }
                }
            }
            Command::Close { id } => {
                if let Some(&key) = self.by_id.get(&id) {
                    self.remove(key, None);
                }
            }
            Command::Stats { reply } => {
                let mut stats = self.stats;
                stats.forward_latency = *self.forward_latency;
                if let Some(tcp) = &self.tcp {
                    stats.ice_tcp = tcp.stats;
                    stats.ice_tcp.open = tcp.conns.len();
                }
                stats.transports = self.transports.len();
                stats.producers = self
                    .transports
                    .iter()
                    .filter(|(_, t)| matches!(t.role, Role::Producer(_)))
                    .count();
                stats.consumers = stats.transports - stats.producers;
                stats.routes = self.by_addr.len() + self.by_ufrag.len() + self.by_id.len();
                for (_, t) in &mut self.transports {
                    if let Role::Producer(p) = &mut t.role {
                        p.taps.prune();
                        stats.taps += p.taps.len();
                    }
                }
                let _ = reply.send(stats);
            }
            Command::Tap {
                producer,
                capacity,
                reply,
            } => {
                let tapped = self.by_id.get(&producer).copied().and_then(|key| {
                    match &mut self.transports[key].role {
                        Role::Producer(p) => Some((key, p.taps.attach(producer.clone(), capacity))),
                        Role::Consumer(_) => None,
                    }
                });
                let result = match tapped {
                    Some((key, tap)) => {
                        tracing::debug!(id = %producer, capacity, "tap attached");
                        // The tap's video starts on a keyframe: ask for one now.
                        let layer = match &self.transports[key].role {
                            Role::Producer(p) => {
                                p.layers.tap_layer.unwrap_or(p.layers.count.max(1) - 1)
                            }
                            Role::Consumer(_) => 0,
                        };
                        self.want_keyframe(key, layer);
                        self.layers_dirty.push(key);
                        Ok(tap)
                    }
                    None => Err(RouterError::UnknownProducer(producer.to_string())),
                };
                let _ = reply.send(result);
            }
            Command::Shutdown => {}
        }
    }

    /// Takes a client's ICE restart offer on transport `key`: str0m answers with new local
    /// credentials, which STUN is routed by from now on (the old ufrag is forgotten).
    fn restart_ice(&mut self, key: usize, offer: &str) -> Result<String, RouterError> {
        let offer = SdpOffer::from_sdp_string(offer)
            .map_err(|e| RouterError::Sdp(crate::sdp::describe(&e)))?;
        let t = &mut self.transports[key];
        let answered = catch_unwind(AssertUnwindSafe(|| {
            t.rtc
                .sdp_api()
                .accept_offer(offer)
                .map(|a| a.to_sdp_string())
                .map_err(|e| e.to_string())
        }));
        let mut answer = match answered {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(RouterError::Sdp(e)),
            Err(_) => {
                self.fail(key, "panic in ICE restart");
                return Err(RouterError::Sdp("the offer made the transport fail".into()));
            }
        };
        // Transport-wide congestion control stays negotiated as it was.
        if let Role::Consumer(c) = &t.role
            && c.downlink.is_some()
        {
            answer = crate::sdp::add_transport_cc(&answer, [c.audio.twcc_id, c.video.twcc_id]);
        }
        if let Some(ufrag) = crate::sdp::ice_ufrag(&answer)
            && ufrag != t.ufrag
        {
            let old = std::mem::replace(&mut t.ufrag, ufrag.to_owned());
            self.by_ufrag.remove(&old);
            self.by_ufrag.insert(ufrag.to_owned(), key);
        }
        self.drain(key);
        Ok(answer)
    }

    pub(super) fn create(
        &mut self,
        id: TransportId,
        offer: String,
        consumer_of: Option<(usize, ConsumerMedia)>,
    ) -> Result<String, RouterError> {
        if self.by_id.contains_key(&id) {
            return Err(RouterError::Duplicate(id.to_string()));
        }
        let prefers_h264 = consumer_of.is_none() && crate::sdp::prefers_h264(&offer);
        // Consumers whose client offers transport-wide congestion control get it: the
        // router estimates their downlink from its feedback (`worker/downlink.rs`).
        let twcc_ids = match consumer_of {
            Some(_) => crate::sdp::transport_cc_ids(&offer),
            None => [None, None],
        };
        let offer = SdpOffer::from_sdp_string(&offer)
            .map_err(|e| RouterError::Sdp(crate::sdp::describe(&e)))?;
        let ufrag = random_string(16);
        let now = Instant::now();
        let advertised = self.advertised;
        let advertised_tcp = self.tcp.as_ref().map(|t| t.advertised);
        let base = match consumer_of {
            None if prefers_h264 => &self.producer_config_h264,
            None => &self.producer_config,
            Some(_) => &self.consumer_config,
        };
        let config = base.clone().set_local_ice_credentials(IceCreds {
            ufrag: ufrag.clone(),
            pass: random_string(32),
        });
        let built = catch_unwind(AssertUnwindSafe(|| {
            let (mut rtc, keys) = dtls_keys::build(&config, now);
            let candidate = Candidate::host(advertised, "udp").map_err(|e| e.to_string())?;
            rtc.add_local_candidate(candidate);
            if let Some(addr) = advertised_tcp {
                // RFC 6544: a passive candidate; the client connects to it.
                let candidate = Candidate::builder()
                    .tcp()
                    .host(addr)
                    .tcptype(TcpType::Passive)
                    .build()
                    .map_err(|e| e.to_string())?;
                rtc.add_local_candidate(candidate);
            }
            let answer = rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((rtc, keys, answer.to_sdp_string()))
        }));
        let (rtc, keys, mut answer) = match built {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => return Err(RouterError::Sdp(e)),
            Err(_) => {
                return Err(RouterError::Sdp(
                    "the offer made the SDP parser fail".into(),
                ));
            }
        };
        let role = match consumer_of {
            None => Role::Producer(Producer {
                consumers: Vec::new(),
                mids: Vec::new(),
                ssrcs: Vec::new(),
                layers: ProducerLayers::default(),
                audio_enabled: true,
                last_keyframe_request: [None; MAX_LAYERS],
                keyframe_pending: 0,
                history: VecDeque::new(),
                taps: TapSet::default(),
                audio_meter: AudioMeter::default(),
                ingress_layers: quality::LayerSum::default(),
            }),
            Some((producer, media)) => {
                let (mut audio, mut video) = (Track::new(media.audio), Track::new(media.video));
                let downlink = (twcc_ids != [None, None]).then(|| {
                    answer = crate::sdp::add_transport_cc(&answer, twcc_ids);
                    [audio.twcc_id, video.twcc_id] = twcc_ids;
                    Box::new(Downlink::new(now))
                });
                Role::Consumer(Consumer {
                    producer,
                    audio,
                    video,
                    layer: ConsumerLayer::default(),
                    keys,
                    srtp: None,
                    rtx_budget: crate::RTX_BUDGET_BURST,
                    downlink,
                })
            }
        };
        let key = self.transports.insert(Transport {
            id: id.clone(),
            rtc,
            ufrag: ufrag.clone(),
            created: now,
            connected: false,
            disconnected_since: None,
            scheduled: None,
            addrs: Vec::new(),
            send_to: None,
            role,
            quality: Meter::default(),
        });
        if let Some((producer, _)) = consumer_of
            && let Role::Producer(p) = &mut self.transports[producer].role
        {
            p.consumers.push(key);
            self.layers_dirty.push(producer);
        }
        self.by_id.insert(id, key);
        self.by_ufrag.insert(ufrag, key);
        self.drain(key);
        Ok(answer)
    }

    /// Drops a transport and everything that routes to it. `reason` is `None` when the
    /// signaling layer asked for it (it needs no event back).
    pub(super) fn remove(&mut self, key: usize, reason: Option<CloseReason>) {
        if !self.transports.contains(key) {
            return;
        }
        let t = self.transports.remove(key);
        self.by_id.remove(&t.id);
        self.by_ufrag.remove(&t.ufrag);
        for addr in &t.addrs {
            if self.by_addr.get(addr) == Some(&key) {
                self.by_addr.remove(addr);
            }
        }
        self.keyframe_wanted.retain(|&(k, _)| k != key);
        self.layers_dirty.retain(|&k| k != key);
        self.probing.retain(|&k| k != key);
        self.pending.retain(|p| p.producer != key);
        self.tcp_forget(key);
        if let Some(reason) = reason {
            tracing::debug!(id = %t.id, ?reason, "transport closed");
            let _ = self.events.send(RouterEvent::Closed {
                id: t.id.clone(),
                reason,
            });
        }
        match t.role {
            Role::Producer(p) => {
                for c in p.consumers {
                    self.remove(c, Some(CloseReason::ProducerClosed));
                }
            }
            Role::Consumer(c) => {
                if let Some(Transport {
                    role: Role::Producer(p),
                    ..
                }) = self.transports.get_mut(c.producer)
                {
                    p.consumers.retain(|&k| k != key);
                    self.layers_dirty.push(c.producer);
                }
            }
        }
    }

    pub(super) fn flush_closing(&mut self) {
        while let Some((key, reason)) = self.closing.pop() {
            self.remove(key, Some(reason));
        }
    }

    pub(super) fn fail(&mut self, key: usize, why: &str) {
        if let Some(t) = self.transports.get(key) {
            tracing::warn!(id = %t.id, why, "transport failed; dropping it");
        }
        self.stats.transports_failed += 1;
        self.closing.push((key, CloseReason::Failed));
    }
}

pub(super) fn set_wanted(track: &mut Track, wanted: bool) {
    if track.wanted && !wanted {
        track.seq.pause();
    }
    track.wanted = wanted;
}
