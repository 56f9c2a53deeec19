//! The attacks, each on its own limit; what the abuser got is tallied.

mod http;
mod media;
mod signaling;

pub(crate) use http::*;
pub(crate) use media::*;
pub(crate) use signaling::*;

use super::*;

/// What the abuser got.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) counts: Mutex<BTreeMap<String, u64>>,
    pub(crate) metrics: Mutex<BTreeMap<String, f64>>,
    pub(crate) notes: Mutex<Vec<String>>,
}

impl Tally {
    pub(crate) fn add(&self, what: impl Into<String>, n: u64) {
        *lock(&self.counts).entry(what.into()).or_default() += n;
    }

    pub(crate) fn metric(&self, what: &str, v: f64) {
        lock(&self.metrics).insert(what.to_owned(), v);
    }

    /// A note (the first 12 distinct ones are kept).
    pub(crate) fn note(&self, s: String) {
        let mut notes = lock(&self.notes);
        if notes.len() < 12 && !notes.contains(&s) {
            notes.push(s);
        }
    }

    pub(crate) fn count(&self, what: &str) -> u64 {
        lock(&self.counts).get(what).copied().unwrap_or(0)
    }
}

/// The attack's side of starting: it prepares, says it is ready, and learns its deadline.
pub(crate) struct Go {
    ready: oneshot::Sender<()>,
    deadline: oneshot::Receiver<Instant>,
}

impl Go {
    pub(crate) fn new() -> (Go, oneshot::Receiver<()>, oneshot::Sender<Instant>) {
        let (ready, ready_rx) = oneshot::channel();
        let (deadline_tx, deadline) = oneshot::channel();
        (Go { ready, deadline }, ready_rx, deadline_tx)
    }

    /// Ready: waits for the go and returns the deadline.
    pub(crate) async fn ready(self) -> anyhow::Result<Instant> {
        let _ = self.ready.send(());
        self.deadline.await.context("no deadline given")
    }
}

pub(crate) async fn run_attack(
    attack: Attack,
    t: Arc<Target>,
    tally: Arc<Tally>,
    go: Go,
) -> anyhow::Result<()> {
    match attack {
        Attack::SignalFlood => signal_flood(t, tally, go).await,
        Attack::RestFlood => rest_flood(t, tally, go).await,
        Attack::NackFlood => nack_flood(t, tally, go).await,
        Attack::SessionFill => session_fill(t, tally, go).await,
        Attack::ConnectionFlood => connection_flood(t, tally, go).await,
        Attack::Slowloris => slowloris(t, tally, go).await,
        Attack::NonReader => non_reader(t, tally, go).await,
        Attack::BigMessages => big_messages(t, tally, go).await,
    }
}

pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A TCP connection to `to` from the attacker's address.
pub(crate) async fn tcp_from_attacker(to: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(IpAddr::V4(ATTACKER_IP), 0))?;
    s.connect(to).await
}
