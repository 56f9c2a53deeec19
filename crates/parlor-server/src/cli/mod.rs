//! The `parlor` command line: `serve`, `session create|show`, `token [verify]`,
//! `client publish|subscribe`, `archive start|stop|get|list|delete|download`,
//! `broadcast start|stop|get|list`, `app create|list|add-key|remove-key|delete`,
//! `rooms public-key`.

mod app;
mod archive;
mod broadcast;
mod client;
mod rooms;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use parlor_proto::Role;
use parlor_proto::limits::DEFAULT_TOKEN_TTL_SECS;
use parlor_sdk::{ArchiveMode, MediaMode, Parlor, SessionOptions, TokenFormat, TokenOptions};

use crate::config::{self, DEFAULT_DATA_DIR, ServeArgs};
use crate::store::Store;
use crate::verify::{VerifyError, verify_client_token};

#[derive(Debug, Parser)]
#[command(
    name = "parlor",
    version,
    about = "Parlor: self-hosted real-time video"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the serve variant's settings does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (REST API, signaling, media).
    Serve(ServeArgs),
    /// Create or inspect sessions.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Mint a client token offline (`parlor token SESSION_ID`), or verify one.
    Token(TokenArgs),
    /// Join a session as a native client: publish files or subscribe and record.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Start, stop, list, inspect, download and delete archives (recordings).
    #[command(subcommand)]
    Archive(archive::ArchiveCommand),
    /// Start, stop, list and inspect live streaming broadcasts (HLS, RTMP).
    #[command(subcommand)]
    Broadcast(broadcast::BroadcastCommand),
    /// Vonage applications: create (an ID and an RSA key pair), list, rotate keys, delete.
    #[command(subcommand)]
    App(app::AppCommand),
    /// Rooms (Telnyx Video Rooms): the public key that verifies Rooms webhooks.
    #[command(subcommand)]
    Rooms(rooms::RoomsCommand),
}

/// The project credentials a CLI command acts with: flags or env, else the data dir's.
#[derive(Debug, Clone, clap::Args)]
struct Credentials {
    /// API key [default: the project stored in --data-dir].
    #[arg(long, env = "PARLOR_API_KEY")]
    api_key: Option<String>,
    /// API secret [default: the stored secret of the API key].
    #[arg(long, env = "PARLOR_API_SECRET", hide_env_values = true)]
    api_secret: Option<String>,
    /// The server's data directory, to read stored credentials from.
    #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// Create a session through the REST API of a running server.
    Create {
        /// The server's base URL.
        #[arg(long, env = "PARLOR_URL", default_value = "http://127.0.0.1:7600")]
        url: String,
        #[command(flatten)]
        credentials: Credentials,
        /// Let clients send media to each other directly where possible.
        #[arg(long)]
        relayed: bool,
        /// Record every session automatically.
        #[arg(long)]
        archive_always: bool,
        /// Name of automatic archives (with --archive-always).
        #[arg(long)]
        archive_name: Option<String>,
        /// Resolution of automatic archives (with --archive-always), e.g. 1280x720.
        #[arg(long)]
        archive_resolution: Option<String>,
        /// Location hint: an IPv4 address.
        #[arg(long)]
        location: Option<std::net::Ipv4Addr>,
        /// End-to-end encryption.
        #[arg(long)]
        e2ee: bool,
        /// Print the whole response as JSON instead of the bare session ID.
        #[arg(long)]
        json: bool,
    },
    /// Show a stored session as JSON (reads the data directory).
    Show {
        session_id: String,
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct TokenArgs {
    #[command(subcommand)]
    verify: Option<TokenCommand>,
    /// The session the token admits to.
    #[arg(required = true)]
    session_id: Option<String>,
    /// publisher, subscriber, moderator or publisheronly.
    #[arg(long, default_value = "publisher")]
    role: Role,
    /// Lifetime in seconds (at most 30 days).
    #[arg(long, default_value_t = DEFAULT_TOKEN_TTL_SECS)]
    ttl: i64,
    /// Connection data shown to other clients (at most 1000 characters).
    #[arg(long)]
    data: Option<String>,
    /// A layout class for the client's streams; repeat for several.
    #[arg(long = "layout-class")]
    layout_classes: Vec<String>,
    /// Token format.
    #[arg(long, value_enum, default_value = "jwt")]
    format: FormatArg,
    /// Mint a Vonage application token (RS256) for this application ID, signed with
    /// --private-key, instead of a project token.
    #[arg(long, env = "PARLOR_APPLICATION_ID", requires = "private_key")]
    application_id: Option<String>,
    /// The application's private key (PEM file), with --application-id.
    #[arg(long, env = "PARLOR_PRIVATE_KEY", requires = "application_id")]
    private_key: Option<PathBuf>,
    #[command(flatten)]
    credentials: Credentials,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Verify a client token as the server would, against the data directory's
    /// projects and sessions. Prints JSON; exits 1 if the token is refused.
    Verify {
        token: String,
        /// The session the client asks to join (checks the token is for it).
        #[arg(long)]
        session: Option<String>,
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Jwt,
    T1,
}

/// Entry point of the `parlor` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Client(command) => Ok(client::run(command)),
        Command::Archive(command) => Ok(archive::run(command)),
        Command::Broadcast(command) => Ok(broadcast::run(command)),
        Command::App(command) => Ok(app::run(command)),
        Command::Rooms(command) => Ok(rooms::run(command)),
        Command::Serve(args) => {
            let config = config::Config::resolve(args)?;
            init_logging(&config.log, config.log_format)?;
            tokio::runtime::Runtime::new()?.block_on(crate::server::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Session(SessionCommand::Show {
            session_id,
            data_dir,
        }) => {
            let store = open_existing(&data_dir)?;
            match store.session(&session_id)? {
                Some(s) => {
                    println!("{}", serde_json::to_string(&s)?);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("error: no session {session_id} in {}", data_dir.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Session(SessionCommand::Create {
            url,
            credentials,
            relayed,
            archive_always,
            archive_name,
            archive_resolution,
            location,
            e2ee,
            json,
        }) => {
            let (key, secret) = credentials.resolve()?;
            let parlor = Parlor::new(key, secret, &url)?;
            let options = SessionOptions {
                media_mode: if relayed {
                    MediaMode::Relayed
                } else {
                    MediaMode::Routed
                },
                archive_mode: if archive_always {
                    ArchiveMode::Always
                } else {
                    ArchiveMode::Manual
                },
                location,
                e2ee,
                archive_name,
                archive_resolution,
            };
            let session = tokio::runtime::Runtime::new()?
                .block_on(parlor.create_session(options))
                .with_context(|| format!("creating a session at {url}"))?;
            if json {
                let out = serde_json::json!({
                    "sessionId": session.session_id,
                    "projectId": session.project_id,
                    "createDt": session.create_dt,
                });
                println!("{out}");
            } else {
                println!("{}", session.session_id);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenArgs {
            verify:
                Some(TokenCommand::Verify {
                    token,
                    session,
                    data_dir,
                }),
            ..
        }) => {
            let store = open_existing(&data_dir)?;
            let now = parlor_proto::unix_now();
            match verify_client_token(&store, &token, session.as_deref(), now) {
                Ok(grant) => {
                    let mut out = serde_json::to_value(&grant)?;
                    out["valid"] = true.into();
                    println!("{out}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(VerifyError::Token(e)) => {
                    let out = serde_json::json!({
                        "valid": false, "reason": e.reason(), "message": e.to_string(),
                    });
                    println!("{out}");
                    eprintln!("token rejected ({}): {e}", e.reason());
                    Ok(ExitCode::from(1))
                }
                Err(VerifyError::Store(e)) => Err(e.into()),
            }
        }
        Command::Token(TokenArgs {
            verify: None,
            session_id,
            role,
            ttl,
            data,
            layout_classes,
            format,
            application_id,
            private_key,
            credentials,
        }) => {
            let session_id = session_id.context("a session ID is required")?;
            // Minting is offline; the URL is never used.
            let parlor = match (application_id, private_key) {
                (Some(id), Some(path)) => {
                    let pem = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Parlor::with_application(id, &pem, "http://127.0.0.1")?
                }
                _ => {
                    let (key, secret) = credentials.resolve()?;
                    Parlor::new(key, secret, "http://127.0.0.1")?
                }
            };
            let token = parlor.generate_token(
                &session_id,
                TokenOptions {
                    role,
                    expire_time: Some(parlor_proto::unix_now() + ttl),
                    data,
                    initial_layout_class_list: layout_classes,
                    format: match format {
                        FormatArg::Jwt => TokenFormat::Jwt,
                        FormatArg::T1 => TokenFormat::T1,
                    },
                },
            )?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl Credentials {
    fn resolve(self) -> anyhow::Result<(String, String)> {
        match (self.api_key, self.api_secret) {
            (Some(k), Some(s)) => Ok((k, s)),
            (None, Some(_)) => bail!("--api-secret needs --api-key"),
            (key, None) => {
                let store = open_existing(&self.data_dir).context(
                    "no --api-key/--api-secret given and no stored project to read them from",
                )?;
                let project = match key {
                    Some(k) => store.project(&k)?.with_context(|| {
                        format!("no project {k} in {}", self.data_dir.display())
                    })?,
                    None => {
                        let mut all = store.projects()?;
                        if all.len() > 1 {
                            bail!(
                                "{} has several projects; pass --api-key",
                                self.data_dir.display()
                            );
                        }
                        all.pop()
                            .with_context(|| format!("no project in {}", self.data_dir.display()))?
                    }
                };
                Ok((project.api_key, project.api_secret))
            }
        }
    }
}

/// Opens the store of an existing data dir (never creates one by mistake).
fn open_existing(data_dir: &Path) -> anyhow::Result<Store> {
    let path = data_dir.join(config::DB_FILE);
    if !path.exists() {
        bail!(
            "no Parlor database at {} (run `parlor serve --data-dir {}` first)",
            path.display(),
            data_dir.display()
        );
    }
    Ok(Store::open(&path)?)
}

/// Dependencies whose most verbose level prints what clients send, tokens included
/// (tungstenite logs every WebSocket message at trace): a plain `--log trace` keeps them
/// at debug. An explicit directive naming them still turns them up.
const CHATTY_DEPENDENCIES: &[&str] = &["tungstenite", "tokio_tungstenite"];

fn init_logging(level: &str, format: crate::config::LogFormat) -> anyhow::Result<()> {
    let directives = if level.eq_ignore_ascii_case("trace") {
        let mut d = level.to_owned();
        for dep in CHATTY_DEPENDENCIES {
            d.push_str(&format!(",{dep}=debug"));
        }
        d
    } else {
        level.to_owned()
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .with_context(|| format!("invalid --log filter '{level}'"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        crate::config::LogFormat::Json => builder.json().with_ansi(false).init(),
        crate::config::LogFormat::Text => {
            // Colours only on a terminal: a log file or journal gets plain text.
            use std::io::IsTerminal as _;
            builder.with_ansi(std::io::stderr().is_terminal()).init()
        }
    }
    Ok(())
}
