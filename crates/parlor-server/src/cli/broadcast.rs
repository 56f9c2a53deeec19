//! `parlor broadcast start|stop|get|list`: live streaming broadcasts of a running server,
//! through its REST API (the Rust SDK's broadcast calls). Server, credentials, `--json`
//! and exit codes as `parlor archive` (see there).
//!
//! Without `--json`: `start` prints the broadcast ID alone (and its HLS URL on stderr),
//! `stop` and `get` describe it in `key: value` lines, one per output with its status;
//! `list` prints a table.

use std::process::ExitCode;

use parlor_sdk::{
    ArchiveLayout, Broadcast, BroadcastOptions, HlsOptions, LayoutType, ListBroadcasts, RtmpTarget,
    StreamMode,
};

use super::archive::{ApiArgs, Failure, print_json};

/// `parlor broadcast ...`
#[derive(Debug, clap::Subcommand)]
pub enum BroadcastCommand {
    /// Start broadcasting a session to HLS and/or RTMP; prints the broadcast ID.
    Start(StartArgs),
    /// Stop a broadcast.
    Stop {
        broadcast_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Describe one broadcast and its outputs.
    Get {
        broadcast_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the project's broadcasts, newest first.
    List {
        /// Only this session's broadcasts.
        #[arg(long)]
        session: Option<String>,
        #[arg(long)]
        offset: Option<u32>,
        #[arg(long)]
        count: Option<u32>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The session to broadcast.
    session_id: String,
    /// An HLS output served by the server.
    #[arg(long)]
    hls: bool,
    /// HLS keeping the whole broadcast (rewind).
    #[arg(long, requires = "hls", conflicts_with = "low_latency")]
    dvr: bool,
    /// HLS with short segments.
    #[arg(long, requires = "hls")]
    low_latency: bool,
    /// An RTMP target, `rtmp[s]://host/app/streamName` (the last path segment is the
    /// stream name); up to five.
    #[arg(long, value_name = "URL")]
    rtmp: Vec<String>,
    /// 640x480 (default), 480x640, 1280x720, 720x1280, 1920x1080 or 1080x1920.
    #[arg(long, value_name = "WxH")]
    resolution: Option<String>,
    /// bestFit (default), pip, verticalPresentation, horizontalPresentation.
    #[arg(long, value_name = "TYPE")]
    layout: Option<LayoutType>,
    /// Stop after this many seconds (60–36000) [default: 14400].
    #[arg(long, value_name = "SECS")]
    max_duration: Option<u32>,
    /// auto (every stream) or manual (streams added through the API).
    #[arg(long, default_value = "auto")]
    stream_mode: StreamMode,
    /// A tag that lets the session have several broadcasts at once.
    #[arg(long)]
    tag: Option<String>,
    /// Video bits per second.
    #[arg(long, value_name = "BPS")]
    max_bitrate: Option<u32>,
    #[command(flatten)]
    api: ApiArgs,
}

/// Runs a `parlor broadcast` command.
pub fn run(command: BroadcastCommand) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(execute(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// `rtmp://host/app/name` → (`rtmp://host/app`, `name`).
fn split_rtmp(url: &str) -> Result<RtmpTarget, Failure> {
    match url.rsplit_once('/') {
        Some((server, name))
            if !name.is_empty()
                && server.contains("://")
                && !server.ends_with(':')
                && !server.ends_with('/') =>
        {
            Ok(RtmpTarget::new("", server, name))
        }
        _ => Err(Failure::usage(format!(
            "--rtmp {url}: give rtmp[s]://host/app/streamName"
        ))),
    }
}

async fn execute(command: BroadcastCommand) -> Result<(), Failure> {
    match command {
        BroadcastCommand::Start(args) => {
            let mut rtmp = Vec::new();
            for (i, url) in args.rtmp.iter().enumerate() {
                let mut t = split_rtmp(url)?;
                t.id = format!("rtmp{}", i + 1);
                rtmp.push(t);
            }
            if !args.hls && rtmp.is_empty() {
                return Err(Failure::usage("give --hls, --rtmp URL or both"));
            }
            let options = BroadcastOptions {
                hls: args.hls.then_some(HlsOptions {
                    dvr: args.dvr,
                    low_latency: args.low_latency,
                }),
                rtmp,
                layout: args.layout.map(ArchiveLayout::new),
                max_duration: args.max_duration,
                resolution: args.resolution,
                stream_mode: args.stream_mode,
                multi_broadcast_tag: args.tag,
                max_bitrate: args.max_bitrate,
                ..Default::default()
            };
            let parlor = args.api.client()?;
            let b = parlor
                .start_broadcast(&args.session_id, options)
                .await
                .map_err(|e| {
                    Failure::sdk(
                        &format!("starting a broadcast of session {}", args.session_id),
                        e,
                    )
                })?;
            if args.api.json {
                return print_json(&b);
            }
            if let Some(hls) = &b.broadcast_urls.hls {
                eprintln!("HLS: {hls}");
            }
            println!("{}", b.id);
            Ok(())
        }
        BroadcastCommand::Stop { broadcast_id, api } => {
            let b = api
                .client()?
                .stop_broadcast(&broadcast_id)
                .await
                .map_err(|e| Failure::sdk(&format!("stopping broadcast {broadcast_id}"), e))?;
            print(&b, api.json)
        }
        BroadcastCommand::Get { broadcast_id, api } => {
            let b = api
                .client()?
                .get_broadcast(&broadcast_id)
                .await
                .map_err(|e| Failure::sdk(&format!("getting broadcast {broadcast_id}"), e))?;
            print(&b, api.json)
        }
        BroadcastCommand::List {
            session,
            offset,
            count,
            api,
        } => {
            let list = api
                .client()?
                .list_broadcasts(ListBroadcasts {
                    session_id: session,
                    offset,
                    count,
                })
                .await
                .map_err(|e| Failure::sdk("listing broadcasts", e))?;
            if api.json {
                return print_json(&list);
            }
            println!("{:<36}  {:<8}  {:<9}  SESSION", "ID", "STATUS", "SIZE");
            for b in &list.items {
                println!(
                    "{:<36}  {:<8}  {:<9}  {}",
                    b.id, b.status, b.resolution, b.session_id
                );
            }
            eprintln!("{} of {} broadcasts", list.items.len(), list.count);
            Ok(())
        }
    }
}

fn print(b: &Broadcast, as_json: bool) -> Result<(), Failure> {
    if as_json {
        return print_json(b);
    }
    println!("id: {}", b.id);
    println!("status: {}", b.status);
    if let Some(reason) = b.reason.as_deref().filter(|r| !r.is_empty()) {
        println!("reason: {reason}");
    }
    println!("session: {}", b.session_id);
    println!("resolution: {}", b.resolution);
    println!("streams: {}", b.streams.len());
    if let Some(hls) = &b.broadcast_urls.hls {
        let status = b.broadcast_urls.hls_status.as_deref().unwrap_or("-");
        println!("hls: {status} {hls}");
    }
    for t in &b.broadcast_urls.rtmp {
        let status = t.status.as_deref().unwrap_or("-");
        println!("rtmp {}: {status} {}/{}", t.id, t.server_url, t.stream_name);
    }
    Ok(())
}
