//! `parlor-bench`: load Parlor's media router (and Janus, side by side) with simulated
//! WebRTC clients and report forwarded packets per CPU-second, loss, join and first-media
//! times and memory. See BENCHMARKS.md.

mod floor;
mod janus;
mod media;
mod netns;
mod parlor;
mod procfs;
mod scenario;
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
        "parlor" => Sut::Parlor(parlor::ParlorSut::start(&parlor_bin(&c.parlor_bin)?, cpu)?),
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
    };
    let report = scenario::run(&sut, shape, media).await?;
    drop(sut);
    // Let the last clients' sockets and the SFU's ports go before the next run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(report)
}

fn systems(c: &Common) -> Vec<&'static str> {
    match c.peer {
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
        Command::UdpFloor { .. } => false,
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
