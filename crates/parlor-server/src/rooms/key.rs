//! The server's Rooms signing key (Ed25519): it signs Rooms join tokens and Rooms
//! webhooks. Kept in the data directory (`rooms-signing.key`, 0600), made at first start,
//! so tokens stay valid across restarts and webhook receivers keep one public key.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use parlor_proto::rooms_token::SigningKey;

/// The key file's name in the data directory.
pub const FILE_NAME: &str = "rooms-signing.key";

/// Why the key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the Rooms signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the Rooms signing key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the Rooms signing key {path} is not a base64 32-byte Ed25519 seed; remove it to make a \
         new one (tokens signed with the old key stop working)"
    )]
    Malformed { path: PathBuf },
}

/// Loads the key of the data directory `dir`, making it if there is none.
pub fn load_or_create(dir: &Path) -> Result<SigningKey, KeyError> {
    let path = dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).ok_or(KeyError::Malformed { path }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate();
            write_new(&path, &key).map_err(|source| KeyError::Write {
                path: path.clone(),
                source,
            })?;
            tracing::info!(path = %path.display(), "made a Rooms signing key");
            Ok(key)
        }
        Err(source) => Err(KeyError::Read { path, source }),
    }
}

/// Loads the key of the data directory `dir`, if it has one (the CLI, which must not make
/// one the server has not).
pub fn load(dir: &Path) -> Result<Option<SigningKey>, KeyError> {
    let path = dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).map(Some).ok_or(KeyError::Malformed { path }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::Read { path, source }),
    }
}

fn parse(text: &str) -> Option<SigningKey> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    let seed: [u8; 32] = bytes.try_into().ok()?;
    SigningKey::from_seed(&seed).ok()
}

/// Writes a new key file readable by its owner only; never replaces one (two servers
/// starting at once on one data directory keep the first key).
fn write_new(path: &Path, key: &SigningKey) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    let text = base64::engine::general_purpose::STANDARD.encode(key.seed());
    f.write_all(format!("{text}\n").as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let made = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(made.public_key(), again.public_key());
        assert_eq!(
            load(dir.path()).unwrap().unwrap().public_key(),
            made.public_key()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_key_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "not a key").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(KeyError::Malformed { .. })
        ));
    }
}
