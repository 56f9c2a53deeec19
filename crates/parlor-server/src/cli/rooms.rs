//! `parlor rooms public-key`: the public key Rooms webhooks are signed with, read from the
//! data directory (as `GET /v2/parlor/webhook_public_key` answers it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::DEFAULT_DATA_DIR;
use crate::rooms::key::{self, KeyError};

#[derive(Debug, Subcommand)]
pub enum RoomsCommand {
    /// Print the base64 Ed25519 public key that verifies Rooms webhooks (the `key` of the
    /// official SDKs' `webhooks.unwrap`).
    PublicKey {
        #[arg(long, env = "PARLOR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

/// Why the key cannot be shown.
#[derive(Debug, thiserror::Error)]
enum PublicKeyError {
    #[error(
        "{} has no Rooms signing key yet ({}): start `parlor serve` once to make it",
        .0.display(),
        key::FILE_NAME
    )]
    NoKey(PathBuf),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Runs a `rooms` subcommand: exit 0 on success, 1 when the data directory has no key
/// yet, 2 when the key cannot be read.
pub fn run(command: RoomsCommand) -> ExitCode {
    let RoomsCommand::PublicKey { data_dir } = command;
    match public_key(data_dir) {
        Ok(key) => {
            println!("{key}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                PublicKeyError::NoKey(_) => ExitCode::from(1),
                PublicKeyError::Key(_) => ExitCode::from(2),
            }
        }
    }
}

fn public_key(data_dir: PathBuf) -> Result<String, PublicKeyError> {
    match key::load(&data_dir)? {
        Some(key) => Ok(key.public_key_base64()),
        None => Err(PublicKeyError::NoKey(data_dir)),
    }
}
