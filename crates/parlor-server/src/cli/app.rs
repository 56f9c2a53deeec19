//! `parlor app create|list|add-key|remove-key|delete`: Vonage applications in the data
//! directory's store. A running server reads keys per request, so a key added or removed
//! here takes effect at once (rotation without downtime: add the new key, switch the app
//! server over, remove the old one).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use parlor_proto::app_auth::PublicKey;

use crate::applications::{self, AppError};
use crate::config::{self, DEFAULT_DATA_DIR};
use crate::store::{Application, Store};

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an application: generate an RSA key pair, store the public key and print the
    /// application ID and the private key (shown this once), or register --public-key.
    Create {
        /// A name to recognise it by.
        #[arg(long)]
        name: Option<String>,
        /// Register this RSA public key (PEM) instead of generating a key pair.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Write the generated private key to this file (mode 0600) instead of printing it.
        #[arg(long, conflicts_with = "public_key")]
        private_key_out: Option<PathBuf>,
        /// Print JSON (`applicationId`, `keyId`, `privateKey` when generated).
        #[arg(long)]
        json: bool,
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// List the applications and their key IDs (JSON lines with --json).
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Add a public key to an application (generated, or --public-key): both keys work
    /// until the old one is removed.
    AddKey {
        application_id: String,
        #[arg(long)]
        public_key: Option<PathBuf>,
        #[arg(long, conflicts_with = "public_key")]
        private_key_out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Remove one key of an application (never its last one).
    RemoveKey {
        application_id: String,
        key_id: String,
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Delete an application: nothing it signs is accepted any more. Its sessions and
    /// archives stay in the store.
    Delete {
        application_id: String,
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

/// Runs an `app` subcommand: exit 0 on success, 1 when the application or key does not
/// exist or is refused, 2 on other errors.
pub fn run(command: AppCommand) -> ExitCode {
    match execute(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<AppError>() {
                Some(AppError::Store(_) | AppError::KeyGeneration) | None => ExitCode::from(2),
                Some(_) => ExitCode::from(1),
            }
        }
    }
}

/// A key pair made now or a public key read from a file.
struct NewKey {
    public: PublicKey,
    private_pem: Option<String>,
}

fn new_key(public_key: Option<PathBuf>) -> anyhow::Result<NewKey> {
    match public_key {
        Some(path) => {
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let public = PublicKey::from_pem(&pem)
                .map_err(AppError::from)
                .with_context(|| format!("{} is not a usable application key", path.display()))?;
            Ok(NewKey {
                public,
                private_pem: None,
            })
        }
        None => {
            let (private_pem, public) = applications::generate_key_pair()?;
            Ok(NewKey {
                public,
                private_pem: Some(private_pem),
            })
        }
    }
}

/// Writes the private key to `out` (0600) or prints it; never logs it.
fn hand_over(
    application_id: &str,
    key: &NewKey,
    out: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    let mut printed_key = None;
    if let Some(pem) = &key.private_pem {
        match &out {
            Some(path) => write_private(path, pem)?,
            None => printed_key = Some(pem.as_str()),
        }
    }
    if json {
        let mut v = serde_json::json!({
            "applicationId": application_id,
            "keyId": key.public.id(),
            "publicKey": key.public.pem(),
        });
        if let Some(pem) = printed_key {
            v["privateKey"] = pem.into();
        }
        if let Some(path) = &out {
            v["privateKeyFile"] = path.display().to_string().into();
        }
        println!("{v}");
        return Ok(());
    }
    println!("application ID: {application_id}");
    println!("key ID:         {}", key.public.id());
    if let Some(pem) = printed_key {
        println!(
            "private key (shown once; Parlor keeps only the public key — store it with your \
             app server):"
        );
        print!("{pem}");
    } else if let Some(path) = &out {
        println!("private key written to {}", path.display());
    }
    Ok(())
}

fn write_private(path: &std::path::Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(pem.as_bytes())?;
    Ok(())
}

fn open_store(data_dir: &std::path::Path, create: bool) -> anyhow::Result<Store> {
    let path = data_dir.join(config::DB_FILE);
    if !create && !path.exists() {
        anyhow::bail!(
            "no Parlor database at {} (run `parlor serve --data-dir {}` or `parlor app create` first)",
            path.display(),
            data_dir.display()
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    Ok(Store::open(&path)?)
}

fn execute(command: AppCommand) -> anyhow::Result<ExitCode> {
    match command {
        AppCommand::Create {
            name,
            public_key,
            private_key_out,
            json,
            data_dir,
        } => {
            let key = new_key(public_key)?;
            let store = open_store(&data_dir, true)?;
            let app = applications::create(&store, name.as_deref(), &key.public)?;
            hand_over(&app.application_id, &key, private_key_out, json)?;
        }
        AppCommand::List { json, data_dir } => {
            let store = open_store(&data_dir, false)?;
            for app in store.applications()? {
                if json {
                    println!("{}", serde_json::to_string(&app)?);
                } else {
                    println!("{}", describe(&app));
                }
            }
        }
        AppCommand::AddKey {
            application_id,
            public_key,
            private_key_out,
            json,
            data_dir,
        } => {
            let store = open_store(&data_dir, false)?;
            let key = new_key(public_key)?;
            applications::add_key(&store, &application_id, &key.public)?;
            hand_over(&application_id, &key, private_key_out, json)?;
        }
        AppCommand::RemoveKey {
            application_id,
            key_id,
            data_dir,
        } => {
            let store = open_store(&data_dir, false)?;
            applications::remove_key(&store, &application_id, &key_id)?;
            println!("removed key {key_id} of application {application_id}");
        }
        AppCommand::Delete {
            application_id,
            data_dir,
        } => {
            let store = open_store(&data_dir, false)?;
            if !store.delete_application(&application_id, crate::unix_millis())? {
                return Err(AppError::NotFound(application_id).into());
            }
            println!("deleted application {application_id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(app: &Application) -> String {
    let keys: Vec<&str> = app.keys.iter().map(|k| k.key_id.as_str()).collect();
    format!(
        "{}  {}  keys: {}",
        app.application_id,
        app.name.as_deref().unwrap_or("-"),
        keys.join(", ")
    )
}
