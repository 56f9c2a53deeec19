//! `parlor-bench`: load Parlor's media router (and Janus, side by side) with simulated
//! WebRTC clients and report forwarded packets per CPU-second, loss, join and first-media
//! times and memory. See BENCHMARKS.md.

mod abuse;
mod archive;
mod broadcast;
mod floor;
mod janus;
mod media;
mod netns;
mod parlor;
mod procfs;
mod scenario;
mod soak;
mod sut;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::scenario::{Scenario, Shape};
use crate::sut::Sut;

#[derive(Parser)]
#[command(
    name = "parlor-bench",
    version,
    about = "Benchmarks Parlor's SFU (and Janus) with simulated WebRTC clients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Peer {
    Janus,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Also measure this SFU, in the same run.
    #[arg(long)]
    peer: Option<Peer>,
    #[arg(long, value_enum, default_value = "livestream")]
    scenario: Scenario,
    /// Seconds measured (after everyone joined and media flows).
    #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
    duration: f64,
    /// The `parlor` binary [default: next to this one].
    #[arg(long)]
    parlor_bin: Option<PathBuf>,
    /// CPU the SFU is pinned to; the load generator takes the other one.
    #[arg(long, default_value_t = 0)]
    sfu_cpu: usize,
    /// CPU of the load generator.
    #[arg(long, default_value_t = 1)]
    load_cpu: usize,
    /// Where the ffmpeg-made media is cached.
    #[arg(long, default_value = "target/bench-media")]
    media_dir: PathBuf,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
    /// How the load generator's media reaches Parlor's router: UDP, ICE over TCP, or
    /// relayed through Parlor's embedded TURN server (started with `--turn-port 0`).
    #[arg(long, value_enum, default_value = "udp")]
    media_transport: MediaTransportArg,
    /// A flag for `parlor serve` (repeatable), e.g. `--parlor-arg=--speaker-interval
    /// --parlor-arg=off` to measure a feature's cost against a run without it.
    #[arg(long = "parlor-arg", allow_hyphen_values = true)]
    parlor_args: Vec<String>,
    /// Publishers send three simulcast layers (the same frames on each, so packets cost
    /// alike), and subscriptions prefer the lowest, middle and top in turn: the router
    /// reads every layer and forwards one per subscription. Parlor only.
    #[arg(long)]
    simulcast: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum MediaTransportArg {
    Udp,
    Tcp,
    Turn,
}

#[derive(Subcommand)]
enum Command {
    /// Measure Parlor (and `--peer`) at one size.
    Compare {
        #[command(flatten)]
        common: Common,
        /// Subscribers (livestream), listeners (audio) or parties (meeting).
        #[arg(long, default_value_t = 50, value_parser = at_least_one)]
        subscribers: usize,
    },
    /// Raise the size until loss exceeds 1% or the SFU's core is saturated; report the largest.
    Ramp {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 50, value_parser = at_least_one)]
        start: usize,
        #[arg(long, default_value_t = 50, value_parser = at_least_one)]
        step: usize,
        #[arg(long, default_value_t = 1000, value_parser = at_least_one)]
        max: usize,
    },
    /// What recording costs, through the archive REST API: forwarding with every stream
    /// recorded vs none (windows alternating in one server), recorder CPU per stream, stop →
    /// available; or, with `--compose`, composed archives' speed as a multiple of real time.
    Archive {
        /// Publishers (audio + video) recorded.
        #[arg(long, default_value_t = 20, value_parser = at_least_one)]
        streams: usize,
        /// Clients subscribed to every stream.
        #[arg(long, default_value_t = 5, value_parser = at_least_one)]
        subscribers: usize,
        /// Seconds per measurement window; with `--compose`, seconds recorded.
        #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
        duration: f64,
        /// Rounds: one window with and one without recording each (order flipped every
        /// round); with `--compose`, runs per composition.
        #[arg(long, default_value_t = 3, value_parser = at_least_one)]
        rounds: usize,
        /// Measure composition instead: STREAMSxWIDTHxHEIGHT, e.g. 4x640x480 (repeatable).
        #[arg(long)]
        compose: Vec<archive::ComposeSpec>,
        /// With `--compose`: keep the server (so ffmpeg) on the SFU's CPU while composing,
        /// instead of letting it onto every CPU after the recording.
        #[arg(long)]
        compose_pinned: bool,
        /// Diagnostic: move the recorder threads onto this CPU (by default they share the
        /// SFU's CPU with the media thread, like every thread of the server).
        #[arg(long)]
        recorder_cpu: Option<usize>,
        /// The `parlor` binary [default: next to this one].
        #[arg(long)]
        parlor_bin: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        sfu_cpu: usize,
        #[arg(long, default_value_t = 1)]
        load_cpu: usize,
        #[arg(long, default_value = "target/bench-media")]
        media_dir: PathBuf,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
    /// What a live streaming broadcast costs and how late its outputs are, through the
    /// broadcast REST API: CPU of the server and its ffmpeg children for `--streams`
    /// publishers at `--resolution`; glass-to-glass latency of RTMP and HLS (normal and
    /// lowLatency) from a flashing publisher.
    Broadcast {
        /// Publishers in the CPU measurement.
        #[arg(long, default_value_t = 4, value_parser = at_least_one)]
        streams: usize,
        #[arg(long, default_value = "1280x720")]
        resolution: String,
        /// Seconds of the CPU window.
        #[arg(long, default_value_t = 20.0, value_parser = positive_seconds)]
        duration: f64,
        /// Seconds of each latency run (a flash every 10.5 s).
        #[arg(long, default_value_t = 60.0, value_parser = positive_seconds)]
        latency_duration: f64,
        /// Skip the latency runs.
        #[arg(long)]
        no_latency: bool,
        /// Rounds of the forwarding comparison (a window without and one with a broadcast
        /// each); 0 skips it.
        #[arg(long, default_value_t = 3)]
        forwarding_rounds: usize,
        /// Clients subscribed to every stream in the forwarding comparison.
        #[arg(long, default_value_t = 5, value_parser = at_least_one)]
        subscribers: usize,
        /// The `parlor` binary [default: next to this one].
        #[arg(long)]
        parlor_bin: Option<PathBuf>,
        #[arg(long, default_value = "target/bench-media")]
        media_dir: PathBuf,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
    /// Churn over time: sessions whose clients join, publish or subscribe, signal, toggle
    /// video and leave continuously; the server's RSS, fds, threads, rooms, transports and
    /// database sampled as it goes, and checked to return to zero when the load stops.
    Soak {
        #[arg(long, default_value_t = 50, value_parser = at_least_one)]
        sessions: usize,
        /// Clients in each session at any time (half publish, half subscribe).
        #[arg(long, default_value_t = 10, value_parser = at_least_one)]
        clients: usize,
        /// Seconds of churn.
        #[arg(long, default_value_t = 600.0, value_parser = positive_seconds)]
        duration: f64,
        /// Seconds between samples.
        #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
        sample_every: f64,
        /// Shortest and longest stay of a client, in seconds.
        #[arg(long, default_value_t = 5.0, value_parser = positive_seconds)]
        min_stay: f64,
        #[arg(long, default_value_t = 30.0, value_parser = positive_seconds)]
        max_stay: f64,
        /// The `parlor` binary [default: next to this one].
        #[arg(long)]
        parlor_bin: Option<PathBuf>,
        #[arg(long, default_value = "target/bench-media")]
        media_dir: PathBuf,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
    /// Each abuse of the server's limits (signal, REST and NACK floods, a full session,
    /// connection floods, slowloris, a member that never reads, oversized messages) against
    /// its own server, while a bystander session (media, signal and REST round trips) is
    /// measured before and during the attack.
    Abuse {
        /// Run only this attack (repeatable) [default: all].
        #[arg(long, value_enum)]
        attack: Vec<abuse::Attack>,
        /// Seconds of each phase: the bystander alone, then under attack.
        #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
        duration: f64,
        /// The `parlor` binary [default: next to this one].
        #[arg(long)]
        parlor_bin: Option<PathBuf>,
        #[arg(long, default_value = "target/bench-media")]
        media_dir: PathBuf,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
    /// The kernel's floor: sendmmsg of forwarded-size datagrams to N loopback receivers, no
    /// SFU at all; datagrams per CPU-second of the sending thread.
    UdpFloor {
        #[arg(long, default_value_t = 300, value_parser = at_least_one)]
        destinations: usize,
        /// Bytes per datagram (a protected ~1100-byte video payload is ~1150).
        #[arg(long, default_value_t = 1150, value_parser = at_least_one)]
        bytes: usize,
        #[arg(long, default_value_t = 3.0, value_parser = positive_seconds)]
        duration: f64,
        #[arg(long, default_value_t = 0)]
        sfu_cpu: usize,
        #[arg(long, default_value_t = 1)]
        load_cpu: usize,
    },
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, not '{s}'")),
    }
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(d) if d.is_finite() && d > 0.0 && d <= 3600.0 => Ok(d),
        _ => Err(format!("expected seconds between 0 and 3600, not '{s}'")),
    }
}

fn parlor_bin(arg: &Option<PathBuf>) -> anyhow::Result<String> {
    if let Some(p) = arg {
        return Ok(p.display().to_string());
    }
    let me = std::env::current_exe()?;
    let sibling = me.with_file_name("parlor");
    anyhow::ensure!(
        sibling.exists(),
        "no parlor binary next to {} (build it, or pass --parlor-bin)",
        me.display()
    );
    Ok(sibling.display().to_string())
}

async fn start(system: &str, c: &Common) -> anyhow::Result<Sut> {
    let cpu = Some(c.sfu_cpu);
    Ok(match system {
        "parlor" => {
            let (transport, mut extra) = match c.media_transport {
                MediaTransportArg::Udp => (parlor_client::MediaTransport::Udp, vec![]),
                MediaTransportArg::Tcp => (parlor_client::MediaTransport::Tcp, vec![]),
                MediaTransportArg::Turn => (
                    parlor_client::MediaTransport::Relay,
                    vec!["--turn-port".to_owned(), "0".to_owned()],
                ),
            };
            extra.extend(c.parlor_args.iter().cloned());
            Sut::Parlor(
                parlor::ParlorSut::start_with(&parlor_bin(&c.parlor_bin)?, cpu, &extra)?
                    .with_media_transport(transport),
            )
        }
        _ => Sut::Janus(janus::JanusSut::start(cpu).await?),
    })
}

async fn measure(
    system: &str,
    c: &Common,
    n: usize,
    media: Arc<media::Media>,
) -> anyhow::Result<scenario::Report> {
    let sut = start(system, c).await?;
    let shape = Shape {
        scenario: c.scenario,
        n,
        duration: Duration::from_secs_f64(c.duration),
        simulcast: c.simulcast,
    };
    let report = scenario::run(&sut, shape, media).await?;
    drop(sut);
    // Let the last clients' sockets and the SFU's ports go before the next run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(report)
}

fn systems(c: &Common) -> Vec<&'static str> {
    match c.peer {
        Some(Peer::Janus) if c.simulcast => {
            eprintln!("--simulcast measures Parlor alone: the Janus bench sends one layer");
            vec!["parlor"]
        }
        Some(Peer::Janus) => vec!["parlor", "janus"],
        None => vec!["parlor"],
    }
}

fn print_human(r: &scenario::Report) {
    eprintln!(
        "{:>6} {:>10} subs={:<5} {:>9.0} pkt/s  {:>9.0} pkt/CPU-s  cpu={:>5.1}%  loss={:.2}%  join p50/p95={:.1}/{:.1} ms  first media p50/p95={:.1}/{:.1} ms  rss={:.1} MB ({:.0} KB/sub, {} KB/idle conn)",
        r.system,
        format!("{:?}", r.scenario).to_lowercase(),
        r.subscribers,
        r.forwarded_pps,
        r.forwarded_pps_per_cpu_s,
        r.sfu_cpu_pct,
        r.loss_pct,
        r.join_p50_ms,
        r.join_p95_ms,
        r.first_media_p50_ms,
        r.first_media_p95_ms,
        r.rss_mb,
        r.rss_per_subscription_kb,
        r.rss_per_idle_connection_kb
            .map_or("-".to_owned(), |k| format!("{k:.0}")),
    );
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Compare {
            common,
            subscribers,
        } => {
            procfs::pin_self(common.load_cpu)?;
            let media = Arc::new(media::Media::load(&common.media_dir)?);
            let mut out = serde_json::Map::new();
            for system in systems(&common) {
                let r = measure(system, &common, subscribers, media.clone()).await?;
                print_human(&r);
                out.insert(system.to_owned(), serde_json::to_value(&r)?);
            }
            if common.json {
                println!("{}", serde_json::Value::Object(out));
            }
        }
        Command::Ramp {
            common,
            start,
            step,
            max,
        } => {
            procfs::pin_self(common.load_cpu)?;
            let media = Arc::new(media::Media::load(&common.media_dir)?);
            let mut out = serde_json::Map::new();
            for system in systems(&common) {
                let mut best = None;
                let mut points = Vec::new();
                let mut n = start;
                while n <= max {
                    let r = measure(system, &common, n, media.clone()).await?;
                    print_human(&r);
                    let saturated = r.sfu_cpu_pct > 95.0;
                    let lossy = r.loss_pct > 1.0;
                    points.push(serde_json::to_value(&r)?);
                    if lossy || saturated {
                        break;
                    }
                    best = Some(r);
                    n += step;
                }
                out.insert(system.to_owned(), json!({ "max": best, "points": points }));
            }
            if common.json {
                println!("{}", serde_json::Value::Object(out));
            }
        }
        Command::Broadcast {
            streams,
            resolution,
            duration,
            latency_duration,
            no_latency,
            forwarding_rounds,
            subscribers,
            parlor_bin: bin,
            media_dir,
            json,
        } => {
            let media = Arc::new(media::Media::load(&media_dir)?);
            let bin = parlor_bin(&bin)?;
            let forwarding = if forwarding_rounds > 0 {
                let f = broadcast::run_forwarding(
                    &bin,
                    media.clone(),
                    streams,
                    subscribers,
                    Duration::from_secs(10),
                    forwarding_rounds,
                )
                .await?;
                eprintln!(
                    "forwarding, {} streams, {} subscriptions: pkt per media-thread CPU-s none {:.0} / broadcast {:.0}; broadcast/none per round {:?}, median {:.3}",
                    f.streams,
                    f.subscriptions,
                    f.none_pkt_per_media_cpu_s,
                    f.broadcast_pkt_per_media_cpu_s,
                    f.media_ratio_per_round
                        .iter()
                        .map(|x| (x * 1000.0).round() / 1000.0)
                        .collect::<Vec<_>>(),
                    f.media_ratio
                );
                Some(f)
            } else {
                None
            };
            let cpu = broadcast::run_cpu(
                &bin,
                media.clone(),
                streams,
                &resolution,
                Duration::from_secs_f64(duration),
            )
            .await?;
            eprintln!(
                "broadcast of {} streams at {}: server {:.2} + ffmpeg {:.2} = {:.2} cores ({} ffmpeg processes, {:.0} s window)",
                cpu.streams,
                cpu.resolution,
                cpu.server_cpu,
                cpu.ffmpeg_cpu,
                cpu.total_cpu,
                cpu.ffmpeg_processes,
                cpu.window_s
            );
            let mut latency = Vec::new();
            if !no_latency {
                for low in [false, true] {
                    let r = broadcast::run_latency(
                        &bin,
                        &media,
                        &media_dir,
                        low,
                        Duration::from_secs_f64(latency_duration),
                    )
                    .await?;
                    let med = |v: &[f64]| procfs::percentile_ms(&mut v.to_vec(), 0.5);
                    eprintln!(
                        "latency (HLS {}): RTMP p50 {:.0} ms {:?}; HLS segment available p50 {:.0} ms {:?} (target duration {:?} s)",
                        r.hls_mode,
                        med(&r.rtmp_ms),
                        r.rtmp_ms.iter().map(|x| x.round()).collect::<Vec<_>>(),
                        med(&r.hls_segment_available_ms),
                        r.hls_segment_available_ms
                            .iter()
                            .map(|x| x.round())
                            .collect::<Vec<_>>(),
                        r.hls_target_duration_s
                    );
                    latency.push(r);
                }
            }
            if json {
                println!(
                    "{}",
                    json!({ "forwarding": forwarding, "cpu": cpu, "latency": latency })
                );
            }
        }
        Command::Archive {
            streams,
            subscribers,
            duration,
            rounds,
            compose,
            compose_pinned,
            recorder_cpu,
            parlor_bin: bin,
            sfu_cpu,
            load_cpu,
            media_dir,
            json,
        } => {
            procfs::pin_self(load_cpu)?;
            let media = Arc::new(media::Media::load(&media_dir)?);
            let bin = parlor_bin(&bin)?;
            let out = if compose.is_empty() {
                let sut = parlor::ParlorSut::start(&bin, Some(sfu_cpu))?;
                let shape = archive::RecordShape {
                    streams,
                    subscribers,
                    window: Duration::from_secs_f64(duration),
                    rounds,
                    recorder_cpu,
                };
                let r = archive::run_record(&sut, shape, media).await?;
                drop(sut);
                eprintln!(
                    "{} streams, {} subscriptions: pkt per media-thread CPU-s none {:.0} / recorded {:.0} (recorded/none per round {}; median {:.3}); per process CPU-s {:.0} / {:.0} (median ratio {:.3}); recorder CPU per stream {:.2}% of a core (process delta per stream {:.2}%); individual stop -> available p50 {:.0} ms",
                    r.streams,
                    r.subscriptions,
                    r.none.pkt_per_media_cpu_s,
                    r.recorded.pkt_per_media_cpu_s,
                    r.media_ratio_per_round
                        .iter()
                        .map(|x| format!("{x:.3}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    r.media_ratio,
                    r.none.pkt_per_process_cpu_s,
                    r.recorded.pkt_per_process_cpu_s,
                    r.process_ratio,
                    r.recorder_cpu_pct_per_stream,
                    r.process_cpu_pct_per_stream,
                    r.individual_stop_to_available_p50_ms,
                );
                json!({ "record": r })
            } else {
                let setup = archive::ComposeSetup {
                    parlor_bin: bin,
                    sfu_cpu,
                    record: Duration::from_secs_f64(duration),
                    pinned: compose_pinned,
                    scratch: std::env::temp_dir()
                        .join(format!("parlor-bench-out-{}", std::process::id())),
                };
                let mut reports = Vec::new();
                for spec in compose {
                    let mut runs = Vec::new();
                    for _ in 0..rounds {
                        let r = archive::run_compose(spec, &setup, media.clone()).await?;
                        eprintln!(
                            "compose {} streams -> {}: {:.1} s recorded, {:.2} s output, stop -> available {:.2} s = {:.2}x real time, {:.1} CPU-s ({})",
                            r.streams,
                            r.resolution,
                            r.recorded_s,
                            r.output_s,
                            r.stop_to_available_s,
                            r.speed_x_realtime,
                            r.cpu_s,
                            if r.all_cpus { "all CPUs" } else { "pinned" },
                        );
                        runs.push(r);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    let rep = archive::compose_report(spec, runs);
                    eprintln!(
                        "compose {}x{}: median {:.2}x real time, stop -> available {:.2} s, {:.2} CPU-s per output second",
                        spec.streams,
                        spec.resolution(),
                        rep.speed_x_realtime_p50,
                        rep.stop_to_available_p50_s,
                        rep.cpu_s_per_output_s_p50
                    );
                    reports.push(rep);
                }
                let _ = std::fs::remove_dir_all(&setup.scratch);
                json!({ "compose": reports })
            };
            if json {
                println!("{out}");
            }
        }
        Command::Soak {
            sessions,
            clients,
            duration,
            sample_every,
            min_stay,
            max_stay,
            parlor_bin: bin,
            media_dir,
            json,
        } => {
            anyhow::ensure!(
                min_stay <= max_stay,
                "--min-stay must not exceed --max-stay"
            );
            let media = Arc::new(media::Media::load(&media_dir)?);
            let bin = parlor_bin(&bin)?;
            let counters = Arc::new(soak::Counters::default());
            let callback_url = soak::callback_sink(counters.clone()).await?;
            let sut = Arc::new(parlor::ParlorSut::start_with(
                &bin,
                None,
                &["--callback-url".into(), callback_url],
            )?);
            let shape = soak::SoakShape {
                sessions,
                clients,
                duration: Duration::from_secs_f64(duration),
                sample_every: Duration::from_secs_f64(sample_every),
                stay: (
                    Duration::from_secs_f64(min_stay),
                    Duration::from_secs_f64(max_stay),
                ),
            };
            let r = soak::run(sut, shape, media, counters).await?;
            eprintln!(
                "soak: {} sessions x {} clients for {:.0} s: {} joins, {} publishes, {} subscriptions ({} raced a leaving publisher), {} signals, {} callbacks delivered; join p50 {:.0} ms p99 {:.0} ms; tokio tasks {} before, {} after; after warm-up RSS spread {:.1}% and fds spread {:.1}%; RSS {:.1} MiB before, {:.1} MiB after; fds {} before, {} after; {} unexpected errors; released: {}",
                r.sessions,
                r.clients_per_session,
                r.duration_s,
                r.joins,
                r.publishes,
                r.subscriptions,
                r.raced,
                r.signals,
                r.callbacks,
                r.join_p50_ms,
                r.join_p99_ms,
                r.baseline.tokio_tasks,
                r.after.tokio_tasks,
                r.rss_spread_pct,
                r.fds_spread_pct,
                r.baseline.rss_mib,
                r.after.rss_mib,
                r.baseline.fds,
                r.after.fds,
                r.errors,
                r.released
            );
            for m in &r.error_messages {
                eprintln!("  error: {m}");
            }
            if json {
                println!("{}", serde_json::to_string(&r)?);
            }
            anyhow::ensure!(
                r.errors == 0,
                "{} unexpected errors during the soak",
                r.errors
            );
            anyhow::ensure!(
                r.released,
                "30 s after the load stopped the server still held: {:?}",
                r.after
            );
            anyhow::ensure!(
                r.after.fds <= r.baseline.fds + 4,
                "open file descriptors did not return to the baseline: {} before, {} after",
                r.baseline.fds,
                r.after.fds
            );
        }
        Command::Abuse {
            attack,
            duration,
            parlor_bin: bin,
            media_dir,
            json,
        } => {
            let options = abuse::AbuseOptions {
                attacks: if attack.is_empty() {
                    abuse::Attack::ALL.to_vec()
                } else {
                    attack
                },
                duration: Duration::from_secs_f64(duration),
                parlor_bin: parlor_bin(&bin)?,
                media: Arc::new(media::Media::load(&media_dir)?),
            };
            let reports = abuse::run(options).await?;
            if json {
                println!("{}", json!({ "duration_s": duration, "attacks": reports }));
            }
        }
        Command::UdpFloor {
            destinations,
            bytes,
            duration,
            sfu_cpu,
            load_cpu,
        } => {
            anyhow::ensure!(
                bytes <= 65_000,
                "--bytes must fit a UDP datagram (at most 65000)"
            );
            let f = floor::run(
                destinations,
                bytes,
                Duration::from_secs_f64(duration),
                sfu_cpu,
                load_cpu,
            )?;
            eprintln!(
                "udp floor: {} destinations, {} B: {:.0} datagrams/s at {:.0}% of a core = {:.0} per CPU-s ({} of {} received)",
                f.destinations,
                f.datagram_bytes,
                f.sent_per_s,
                f.sender_cpu_pct,
                f.sent_per_cpu_s,
                f.received,
                f.sent
            );
            println!("{}", serde_json::to_string(&f)?);
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARLOR_BENCH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let wants_janus = match &cli.command {
        Command::Compare { common, .. } | Command::Ramp { common, .. } => common.peer.is_some(),
        Command::UdpFloor { .. }
        | Command::Archive { .. }
        | Command::Broadcast { .. }
        | Command::Soak { .. }
        | Command::Abuse { .. } => false,
    };
    if wants_janus && !netns::inside() {
        return match netns::rerun_inside() {
            Ok(code) => std::process::ExitCode::from(code as u8),
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
