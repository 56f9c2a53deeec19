//! `parlor archive start|stop|get|list|delete|download`: archives of a running server,
//! through its REST API (the Rust SDK's archive calls).
//!
//! Every command takes `--url` (default `http://127.0.0.1:7600`, env `PARLOR_URL`) and the
//! project credentials as `parlor session create` does: `--api-key`/`--api-secret` (env
//! `PARLOR_API_KEY`/`PARLOR_API_SECRET`), else the project stored in `--data-dir`
//! (default `./parlor-data`).
//!
//! # Output
//!
//! Without `--json`: `start` prints the archive ID alone (for `ID=$(parlor archive start
//! …)`), `stop` and `get` describe the archive in `key: value` lines, `list` prints a
//! table, `download` prints the path written, `delete` prints nothing; notes and progress
//! go to stderr. With `--json`, stdout gets one JSON document: the archive in the OpenTok
//! wire form (`start`, `stop`, `get`), `{count, items}` (`list`),
//! `{id, deleted}` (`delete`), `{id, status, path, bytes}` (`download`).
//!
//! # `download`
//!
//! Gets the archive; while it is not `available` (and `--wait SECS` has not run out) it
//! asks again every second; `failed`, `expired` and `deleted` end the wait at once. Then
//! the archive's download URL is fetched, streaming into `FILE.part`, which becomes `FILE`
//! only when complete (`-o -` writes to stdout instead). `FILE` defaults to
//! `<archiveId>.zip` (individual) or `<archiveId>.mp4` (composed).
//!
//! # Exit codes
//!
//! 0 on success; 1 when the server refuses or cannot be reached, or the archive failed,
//! is gone, or is not available within `--wait`; 2 for bad arguments, missing
//! credentials and files that cannot be written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use parlor_sdk::{
    Archive, ArchiveLayout, ArchiveList, ArchiveOptions, ArchiveStatus, LayoutType, ListArchives,
    OutputMode, Parlor, StreamMode,
};
use serde_json::json;
use tokio::time::Instant;

use super::Credentials;

/// How often `download --wait` asks for the archive's status.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// `parlor archive ...`
#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Start recording a session; prints the archive ID.
    Start(StartArgs),
    /// Stop a recording.
    Stop {
        archive_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Describe one archive.
    Get {
        archive_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the project's archives, newest first.
    List {
        /// Only this session's archives.
        #[arg(long)]
        session: Option<String>,
        /// Skip this many archives.
        #[arg(long)]
        offset: Option<u32>,
        /// Show at most this many archives [default: the server's, 50].
        #[arg(long)]
        count: Option<u32>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete an archive and its files.
    Delete {
        archive_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Download an archive's file (waiting for it to be made with --wait).
    Download {
        archive_id: String,
        /// Where to write it ('-' for stdout) [default: <archiveId>.zip or .mp4].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Wait up to this many seconds for the archive to become available.
        #[arg(long, default_value_t = 0.0)]
        wait: f64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// The server and credentials a command talks to, and its output form.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// The server's base URL.
    #[arg(long, env = "PARLOR_URL", default_value = "http://127.0.0.1:7600")]
    url: String,
    #[command(flatten)]
    credentials: Credentials,
    /// Print JSON (the OpenTok wire form) instead of text.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The session to record.
    session_id: String,
    /// A name for the archive.
    #[arg(long)]
    name: Option<String>,
    /// composed (one MP4 of all streams laid out) or individual (a ZIP of one file per
    /// stream and a manifest).
    #[arg(long, default_value = "composed")]
    output: OutputMode,
    /// Composed only: 640x480 (default), 480x640, 1280x720, 720x1280, 1920x1080 or
    /// 1080x1920.
    #[arg(long, value_name = "WxH")]
    resolution: Option<String>,
    /// Composed only: bestFit (default), pip, verticalPresentation,
    /// horizontalPresentation or custom (with --stylesheet).
    #[arg(long, value_name = "TYPE")]
    layout: Option<LayoutType>,
    /// The CSS of a custom layout (implies --layout custom).
    #[arg(long, value_name = "CSS")]
    stylesheet: Option<String>,
    /// With the bestFit layout: the layout used while a screen is shared.
    #[arg(long, value_name = "TYPE")]
    screenshare_layout: Option<LayoutType>,
    /// auto (every stream) or manual (streams added through the API).
    #[arg(long, default_value = "auto")]
    stream_mode: StreamMode,
    /// Record no audio.
    #[arg(long)]
    no_audio: bool,
    /// Record no video.
    #[arg(long)]
    no_video: bool,
    /// A tag that lets the session have several archives at once (one per tag).
    #[arg(long)]
    tag: Option<String>,
    /// The highest video bitrate, in bits per second.
    #[arg(long, value_name = "BPS")]
    max_bitrate: Option<u32>,
    #[command(flatten)]
    api: ApiArgs,
}

/// Why a command failed, with its exit code.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) code: u8,
    pub(super) message: String,
}

impl Failure {
    /// Bad arguments, missing credentials, unwritable files: exit 2.
    pub(super) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// Refused by the server, unreachable, or the archive is not there to have: exit 1.
    fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// Maps an SDK error; `doing` says what was attempted.
    pub(super) fn sdk(doing: &str, e: parlor_sdk::Error) -> Self {
        use parlor_sdk::Error;
        match e {
            Error::InvalidArgument(m) => Failure::usage(m),
            Error::Io(e) => Failure::usage(format!("{doing}: {e}")),
            e => Failure::failed(format!("{doing}: {e}")),
        }
    }
}

/// Runs a `parlor archive` command.
pub fn run(command: ArchiveCommand) -> ExitCode {
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

async fn execute(command: ArchiveCommand) -> Result<(), Failure> {
    match command {
        ArchiveCommand::Start(args) => start(args).await,
        ArchiveCommand::Stop { archive_id, api } => {
            let parlor = api.client()?;
            let archive = parlor
                .stop_archive(&archive_id)
                .await
                .map_err(|e| Failure::sdk(&format!("stopping archive {archive_id}"), e))?;
            print_archive(&archive, api.json)
        }
        ArchiveCommand::Get { archive_id, api } => {
            let parlor = api.client()?;
            let archive = parlor
                .get_archive(&archive_id)
                .await
                .map_err(|e| Failure::sdk(&format!("getting archive {archive_id}"), e))?;
            print_archive(&archive, api.json)
        }
        ArchiveCommand::List {
            session,
            offset,
            count,
            api,
        } => {
            let parlor = api.client()?;
            let list = parlor
                .list_archives(ListArchives {
                    session_id: session,
                    offset,
                    count,
                })
                .await
                .map_err(|e| Failure::sdk("listing archives", e))?;
            print_list(&list, offset.unwrap_or(0), api.json)
        }
        ArchiveCommand::Delete { archive_id, api } => {
            let parlor = api.client()?;
            parlor
                .delete_archive(&archive_id)
                .await
                .map_err(|e| Failure::sdk(&format!("deleting archive {archive_id}"), e))?;
            if api.json {
                println!("{}", json!({ "id": archive_id, "deleted": true }));
            } else {
                eprintln!("deleted archive {archive_id}");
            }
            Ok(())
        }
        ArchiveCommand::Download {
            archive_id,
            output,
            wait,
            api,
        } => download(&archive_id, output, wait, &api).await,
    }
}

impl ApiArgs {
    pub(super) fn client(&self) -> Result<Parlor, Failure> {
        let (key, secret) = self
            .credentials
            .clone()
            .resolve()
            .map_err(|e| Failure::usage(format!("{e:#}")))?;
        Parlor::new(key, secret, &self.url).map_err(|e| Failure::sdk("--url", e))
    }
}

async fn start(args: StartArgs) -> Result<(), Failure> {
    let options = start_options(&args)?;
    let parlor = args.api.client()?;
    let archive = parlor
        .start_archive(&args.session_id, options)
        .await
        .map_err(|e| {
            Failure::sdk(
                &format!("starting an archive of session {}", args.session_id),
                e,
            )
        })?;
    if args.api.json {
        print_json(&archive)
    } else {
        eprintln!(
            "archive {} {} ({}, {} streams)",
            archive.id, archive.status, archive.output_mode, archive.stream_mode
        );
        println!("{}", archive.id);
        Ok(())
    }
}

/// The SDK options of `archive start` (the SDK checks the combinations).
fn start_options(args: &StartArgs) -> Result<ArchiveOptions, Failure> {
    let layout = match (args.layout, &args.stylesheet, args.screenshare_layout) {
        (None, None, None) => None,
        (kind, stylesheet, screenshare_type) => Some(ArchiveLayout {
            kind: kind.unwrap_or(if stylesheet.is_some() {
                LayoutType::Custom
            } else {
                LayoutType::BestFit
            }),
            stylesheet: stylesheet.clone(),
            screenshare_type,
        }),
    };
    if args.no_audio && args.no_video {
        return Err(Failure::usage(
            "--no-audio and --no-video together would record nothing",
        ));
    }
    Ok(ArchiveOptions {
        name: args.name.clone(),
        has_audio: !args.no_audio,
        has_video: !args.no_video,
        output_mode: args.output,
        resolution: args.resolution.clone(),
        layout,
        stream_mode: args.stream_mode,
        multi_archive_tag: args.tag.clone(),
        max_bitrate: args.max_bitrate,
    })
}

async fn download(
    archive_id: &str,
    output: Option<PathBuf>,
    wait: f64,
    api: &ApiArgs,
) -> Result<(), Failure> {
    if !wait.is_finite() || !(0.0..=7.0 * 86400.0).contains(&wait) {
        return Err(Failure::usage(format!(
            "--wait must be 0 to 604800 seconds, not {wait}"
        )));
    }
    let parlor = api.client()?;
    let archive = wait_available(&parlor, archive_id, Duration::from_secs_f64(wait)).await?;
    let doing = format!("downloading archive {archive_id}");
    let (path, bytes) = match output {
        Some(p) if p.as_os_str() == "-" => {
            let mut stdout = tokio::io::stdout();
            let bytes = parlor
                .download_archive_to(&archive, &mut stdout)
                .await
                .map_err(|e| Failure::sdk(&doing, e))?;
            ("-".to_owned(), bytes)
        }
        output => {
            let path = output.unwrap_or_else(|| PathBuf::from(archive.file_name()));
            let bytes = parlor
                .download_archive(&archive, &path)
                .await
                .map_err(|e| Failure::sdk(&format!("{doing} to {}", path.display()), e))?;
            (path.display().to_string(), bytes)
        }
    };
    eprintln!("archive {archive_id}: {bytes} bytes written to {path}");
    if path == "-" {
        return Ok(());
    }
    if api.json {
        println!(
            "{}",
            json!({ "id": archive.id, "status": archive.status, "path": path, "bytes": bytes })
        );
    } else {
        println!("{path}");
    }
    Ok(())
}

/// Gets the archive until it has a download URL, it cannot get one any more, or `wait`
/// has passed.
async fn wait_available(
    parlor: &Parlor,
    archive_id: &str,
    wait: Duration,
) -> Result<Archive, Failure> {
    let deadline = Instant::now() + wait;
    let mut last_status = None;
    loop {
        let archive = parlor
            .get_archive(archive_id)
            .await
            .map_err(|e| Failure::sdk(&format!("getting archive {archive_id}"), e))?;
        let has_url = archive.url.as_deref().is_some_and(|u| !u.is_empty());
        match &archive.status {
            ArchiveStatus::Available | ArchiveStatus::Uploaded if has_url => return Ok(archive),
            ArchiveStatus::Available => {
                return Err(Failure::failed(format!(
                    "archive {archive_id} is available but the server gave no download URL"
                )));
            }
            ArchiveStatus::Failed => {
                return Err(Failure::failed(format!(
                    "archive {archive_id} failed: {}",
                    archive.reason.as_deref().unwrap_or("no reason given")
                )));
            }
            status @ (ArchiveStatus::Expired | ArchiveStatus::Deleted) => {
                return Err(Failure::failed(format!(
                    "archive {archive_id} is {status}: its files are no longer kept"
                )));
            }
            status => {
                let now = Instant::now();
                if now >= deadline {
                    let hint = if wait.is_zero() {
                        " (pass --wait SECS to wait for it)"
                    } else {
                        ""
                    };
                    return Err(Failure::failed(format!(
                        "archive {archive_id} is {status}, not available, after {:.0} s{hint}",
                        wait.as_secs_f64()
                    )));
                }
                if last_status.as_ref() != Some(status) {
                    eprintln!("archive {archive_id} is {status}; waiting until it is available");
                    last_status = Some(status.clone());
                }
                tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
            }
        }
    }
}

pub(super) fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string(value).map_err(|e| Failure::failed(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn print_archive(archive: &Archive, as_json: bool) -> Result<(), Failure> {
    if as_json {
        return print_json(archive);
    }
    print!("{}", describe(archive));
    Ok(())
}

/// An archive as `key: value` lines (empty values left out).
fn describe(a: &Archive) -> String {
    let mut lines: Vec<(&str, String)> = vec![
        ("id", a.id.clone()),
        ("status", a.status.to_string()),
        ("name", a.name.clone().unwrap_or_default()),
        ("reason", a.reason.clone().unwrap_or_default()),
        ("session", a.session_id.clone()),
        (
            "output",
            format!(
                "{}, {} streams{}{}",
                a.output_mode,
                a.stream_mode,
                media_kinds(a.has_audio, a.has_video),
                a.resolution
                    .as_deref()
                    .map(|r| format!(", {r}"))
                    .unwrap_or_default()
            ),
        ),
        ("created", time_ms(a.created_at)),
        (
            "updated",
            if a.updated_at > 0 {
                time_ms(a.updated_at)
            } else {
                String::new()
            },
        ),
        ("duration", format!("{} s", a.duration)),
        ("size", format!("{} bytes", a.size)),
        ("url", a.url.clone().unwrap_or_default()),
        ("sha256", a.sha256sum.clone().unwrap_or_default()),
        ("tag", a.multi_archive_tag.clone().unwrap_or_default()),
    ];
    for s in &a.streams {
        lines.push((
            "stream",
            format!("{}{}", s.stream_id, media_kinds(s.has_audio, s.has_video)),
        ));
    }
    lines
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{:<9} {v}\n", format!("{k}:")))
        .collect()
}

/// `", audio and video"`, `", audio only"`, ….
fn media_kinds(audio: bool, video: bool) -> &'static str {
    match (audio, video) {
        (true, true) => ", audio and video",
        (true, false) => ", audio only",
        (false, true) => ", video only",
        (false, false) => ", no media",
    }
}

/// Unix milliseconds as an RFC 3339 UTC time (the number itself if out of range).
fn time_ms(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn print_list(list: &ArchiveList, offset: u32, as_json: bool) -> Result<(), Failure> {
    if as_json {
        return print_json(list);
    }
    print!("{}", table(list));
    let first = u64::from(offset) + 1;
    let shown = list.items.len() as u64;
    if shown == 0 {
        eprintln!("no archives (of {})", list.count);
    } else {
        eprintln!(
            "archives {first}–{} of {}",
            u64::from(offset) + shown,
            list.count
        );
    }
    Ok(())
}

/// The archives as a table: ID, status, created, duration, size, output mode, name.
fn table(list: &ArchiveList) -> String {
    let rows: Vec<[String; 7]> = list
        .items
        .iter()
        .map(|a| {
            [
                a.id.clone(),
                a.status.to_string(),
                time_ms(a.created_at),
                format!("{} s", a.duration),
                a.size.to_string(),
                a.output_mode.to_string(),
                a.name.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "ID", "STATUS", "CREATED", "DURATION", "SIZE", "OUTPUT", "NAME",
    ]
    .map(String::from);
    let mut widths = [0usize; 7];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ArchiveCommand,
    }

    fn parse(args: &[&str]) -> Result<ArchiveCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("archive").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    fn start_args(args: &[&str]) -> StartArgs {
        match parse(args).unwrap() {
            ArchiveCommand::Start(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn start_flags_become_options() {
        let a = start_args(&[
            "start",
            "1_MX4",
            "--name",
            "n",
            "--output",
            "composed",
            "--resolution",
            "1280x720",
            "--layout",
            "bestFit",
            "--screenshare-layout",
            "pip",
            "--stream-mode",
            "manual",
            "--no-audio",
            "--tag",
            "t",
            "--max-bitrate",
            "500000",
            "--url",
            "http://127.0.0.1:9",
            "--api-key",
            "1",
            "--api-secret",
            "s",
        ]);
        let o = start_options(&a).unwrap();
        assert_eq!(a.session_id, "1_MX4");
        assert_eq!(
            o,
            ArchiveOptions {
                name: Some("n".into()),
                has_audio: false,
                has_video: true,
                output_mode: OutputMode::Composed,
                resolution: Some("1280x720".into()),
                layout: Some(ArchiveLayout {
                    kind: LayoutType::BestFit,
                    stylesheet: None,
                    screenshare_type: Some(LayoutType::Pip),
                }),
                stream_mode: StreamMode::Manual,
                multi_archive_tag: Some("t".into()),
                max_bitrate: Some(500_000),
            }
        );
        assert_eq!(a.api.url, "http://127.0.0.1:9");

        let defaults = start_options(&start_args(&["start", "S"])).unwrap();
        assert_eq!(defaults, ArchiveOptions::default());

        let css = start_options(&start_args(&[
            "start",
            "S",
            "--stylesheet",
            "stream { width: 50% }",
        ]))
        .unwrap();
        assert_eq!(
            css.layout,
            Some(ArchiveLayout::custom("stream { width: 50% }"))
        );
        let individual =
            start_options(&start_args(&["start", "S", "--output", "individual"])).unwrap();
        assert_eq!(individual.output_mode, OutputMode::Individual);

        assert!(start_options(&start_args(&["start", "S", "--no-audio", "--no-video"])).is_err());
        assert!(parse(&["start", "S", "--layout", "grid"]).is_err());
        assert!(parse(&["start", "S", "--output", "mp4"]).is_err());
        assert!(parse(&["start"]).is_err());
    }

    #[test]
    fn other_commands_parse() {
        match parse(&["download", "abc", "-o", "x.zip", "--wait", "30", "--json"]).unwrap() {
            ArchiveCommand::Download {
                archive_id,
                output,
                wait,
                api,
            } => {
                assert_eq!(archive_id, "abc");
                assert_eq!(output, Some(PathBuf::from("x.zip")));
                assert_eq!(wait, 30.0);
                assert!(api.json);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["list", "--session", "S", "--offset", "5", "--count", "2"]).unwrap() {
            ArchiveCommand::List {
                session,
                offset,
                count,
                ..
            } => assert_eq!(
                (session.as_deref(), offset, count),
                (Some("S"), Some(5), Some(2))
            ),
            other => panic!("{other:?}"),
        }
        for cmd in ["stop", "get", "delete", "download"] {
            assert!(parse(&[cmd]).is_err(), "{cmd} without an ID");
            assert!(parse(&[cmd, "id"]).is_ok(), "{cmd}");
        }
        assert!(parse(&["list", "--count", "-1"]).is_err());
    }

    fn sample() -> Archive {
        serde_json::from_value(json!({
            "id": "a1", "status": "available", "name": "demo", "sessionId": "S",
            "createdAt": 1_700_000_000_000i64, "duration": 9, "size": 1234,
            "outputMode": "individual", "url": "http://x/a1.zip",
            "streams": [{"streamId": "s1", "hasAudio": true, "hasVideo": false}]
        }))
        .unwrap()
    }

    #[test]
    fn describes_an_archive() {
        let text = describe(&sample());
        assert!(text.contains("id:       a1\n"), "{text}");
        assert!(text.contains("status:   available\n"), "{text}");
        assert!(
            text.contains("created:  2023-11-14 22:13:20 UTC\n"),
            "{text}"
        );
        assert!(text.contains("output:   individual, auto streams, audio and video\n"));
        assert!(text.contains("stream:   s1, audio only\n"), "{text}");
        assert!(
            !text.contains("reason"),
            "empty values are left out: {text}"
        );
        assert_eq!(time_ms(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn tabulates_archives() {
        let mut second = sample();
        second.id = "a-much-longer-id".into();
        second.name = None;
        let text = table(&ArchiveList {
            count: 2,
            items: vec![sample(), second],
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID                STATUS"), "{text}");
        assert!(
            lines[1].starts_with("a1                available"),
            "{text}"
        );
        assert!(lines[1].ends_with("individual  demo"), "{text}");
        assert!(lines[2].ends_with("individual"), "{text}");
    }
}
