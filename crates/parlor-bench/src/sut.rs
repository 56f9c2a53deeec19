//! The systems under test, behind one face: Parlor and Janus.

use std::sync::Arc;
use std::time::Duration;

use parlor_client::{PeerSender, ReceiveStats};

use crate::janus::{JanusClient, JanusSubscription, JanusSut};
use crate::parlor::ParlorSut;

pub enum Sut {
    Parlor(ParlorSut),
    Janus(JanusSut),
}

pub enum Client {
    Parlor(parlor_client::Session),
    Janus(JanusClient),
}

pub enum Subscription {
    Parlor(parlor_client::Subscriber),
    Janus(JanusSubscription),
}

impl Sut {
    pub fn name(&self) -> &'static str {
        match self {
            Sut::Parlor(_) => "parlor",
            Sut::Janus(_) => "janus",
        }
    }

    pub fn pid(&self) -> u32 {
        match self {
            Sut::Parlor(s) => s.pid(),
            Sut::Janus(s) => s.pid(),
        }
    }

    /// The SFU's own counters, where it has them (Parlor's router; Janus: none).
    pub async fn router_counters(&self) -> anyhow::Result<Option<serde_json::Value>> {
        match self {
            Sut::Parlor(s) => Ok(Some(s.router_counters().await?)),
            Sut::Janus(_) => Ok(None),
        }
    }

    /// A room (Parlor session, Janus videoroom).
    pub async fn new_room(&self) -> anyhow::Result<String> {
        match self {
            Sut::Parlor(s) => s.new_room().await,
            Sut::Janus(s) => s.new_room().await,
        }
    }

    /// A client joined to `room`, and how long joining took.
    pub async fn join(&self, room: &str) -> anyhow::Result<(Client, Duration)> {
        match self {
            Sut::Parlor(s) => {
                let (c, t) = s.join(room).await?;
                Ok((Client::Parlor(c), t))
            }
            Sut::Janus(s) => {
                let (c, t) = s.join(room).await?;
                Ok((Client::Janus(c), t))
            }
        }
    }
}

impl Client {
    /// Publishes; returns the stream's ID (Janus: feed ID) and its media writer.
    /// Publishes (in three simulcast layers if `simulcast`: Parlor only).
    pub async fn publish(
        &self,
        audio: bool,
        video: bool,
        simulcast: bool,
    ) -> anyhow::Result<(String, PeerSender)> {
        match self {
            Client::Parlor(s) => ParlorSut::publish(s, audio, video, simulcast).await,
            Client::Janus(_) if simulcast => anyhow::bail!("the Janus bench sends one layer"),
            Client::Janus(c) => c.publish(audio, video).await,
        }
    }

    /// Subscribes; of a simulcast stream, preferring `layer` (0 the lowest).
    pub async fn subscribe(
        &self,
        stream: &str,
        audio: bool,
        video: bool,
        layer: Option<u8>,
    ) -> anyhow::Result<Subscription> {
        match self {
            Client::Parlor(s) => Ok(Subscription::Parlor(
                ParlorSut::subscribe(s, stream, audio, video, layer).await?,
            )),
            Client::Janus(c) => Ok(Subscription::Janus(c.subscribe(stream).await?)),
        }
    }
}

impl Subscription {
    pub fn stats(&self) -> Arc<ReceiveStats> {
        match self {
            Subscription::Parlor(s) => s.stats(),
            Subscription::Janus(s) => s.stats(),
        }
    }
}
