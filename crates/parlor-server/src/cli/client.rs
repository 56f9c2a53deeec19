//! `parlor client publish|subscribe`: the native client on the command line.

use std::path::PathBuf;
use std::process::ExitCode;

/// `parlor client ...`
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Publish real VP8 (IVF) and Opus (Ogg) at their native pace.
    Publish(PublishArgs),
    /// Subscribe to every stream in the session, present and future.
    Subscribe(SubscribeArgs),
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The server's base URL, e.g. http://127.0.0.1:7600.
    #[arg(long)]
    pub url: String,
    /// A client token.
    #[arg(long)]
    pub token: String,
    /// The session to join [default: the session named in the token].
    #[arg(long)]
    pub session: Option<String>,
    /// VP8 video in an IVF file.
    #[arg(long)]
    pub video: PathBuf,
    /// Opus audio in an Ogg file.
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Start over at the end of the files.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// The stream's name.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// The server's base URL, e.g. http://127.0.0.1:7600.
    #[arg(long)]
    pub url: String,
    /// A client token.
    #[arg(long)]
    pub token: String,
    /// The session to join [default: the session named in the token].
    #[arg(long)]
    pub session: Option<String>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Write each stream's video to DIR/<streamId>.ivf and audio to DIR/<streamId>.ogg.
    #[arg(long)]
    pub record_dir: Option<PathBuf>,
    /// Print one JSON object per line for every event, and a summary at the end.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `parlor client` command.
pub fn run(command: ClientCommand) -> ExitCode {
    let _ = command;
    eprintln!("error: not implemented yet");
    ExitCode::from(2)
}
