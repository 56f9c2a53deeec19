//! Vonage applications on the server side: creating one (a UUID and an RSA key pair, or a
//! given public key), rotating its keys, and reading its keys for verification. The
//! verification itself is `parlor_proto::app_auth` (REST) and `parlor_proto::token`
//! (client tokens).

use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine as _;
use parlor_proto::app_auth::{KeyError, PublicKey};
use rand::Rng as _;

use crate::store::{Application, ApplicationKey, KeyRemoval, Store, StoreError};

/// Why an application operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no application {0}")]
    NotFound(String),
    #[error("application {0} already has key {1}")]
    DuplicateKey(String, String),
    #[error("key {1} is application {0}'s only key: add the new key first, then remove this one")]
    LastKey(String, String),
    #[error("generating an RSA key pair failed")]
    KeyGeneration,
}

/// A new RSA-2048 key pair: the private key as PKCS#8 PEM (what Vonage hands out) and
/// the public key.
pub fn generate_key_pair() -> Result<(String, PublicKey), AppError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| AppError::KeyGeneration)?;
    let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| AppError::KeyGeneration)?;
    let private_pem = pem("PRIVATE KEY", der.as_ref());
    let public = parlor_proto::app_auth::PrivateKey::from_pem(&private_pem)?
        .public_key()
        .clone();
    Ok((private_pem, public))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn stored(key: &PublicKey) -> ApplicationKey {
    ApplicationKey {
        key_id: key.id().to_owned(),
        public_key_pem: key.pem().to_owned(),
        created_at: crate::unix_millis(),
    }
}

/// A new application ID (UUID v4).
pub fn new_application_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Creates an application with `key` as its first public key.
pub fn create(store: &Store, name: Option<&str>, key: &PublicKey) -> Result<Application, AppError> {
    let id = new_application_id();
    // The project row's secret: internal (callback signatures, download URLs), never shown.
    let secret: [u8; 20] = rand::rng().random();
    store.create_application(&id, name, &hex::encode(secret), &stored(key))?;
    store.application(&id)?.ok_or(AppError::NotFound(id))
}

/// Adds a public key to a live application.
pub fn add_key(store: &Store, application_id: &str, key: &PublicKey) -> Result<(), AppError> {
    let app = live(store, application_id)?;
    if app.keys.iter().any(|k| k.key_id == key.id()) {
        return Err(AppError::DuplicateKey(app.application_id, key.id().into()));
    }
    if store.add_application_key(application_id, &stored(key))? {
        Ok(())
    } else {
        Err(AppError::NotFound(application_id.into()))
    }
}

/// Removes one key (never the last).
pub fn remove_key(store: &Store, application_id: &str, key_id: &str) -> Result<(), AppError> {
    live(store, application_id)?;
    match store.remove_application_key(application_id, key_id)? {
        KeyRemoval::Removed => Ok(()),
        KeyRemoval::NotFound => Err(AppError::NotFound(format!(
            "key {key_id} of application {application_id}"
        ))),
        KeyRemoval::LastKey => Err(AppError::LastKey(application_id.into(), key_id.into())),
    }
}

fn live(store: &Store, application_id: &str) -> Result<Application, AppError> {
    store
        .application(application_id)?
        .filter(|a| a.deleted_at.is_none())
        .ok_or_else(|| AppError::NotFound(application_id.into()))
}

/// The parsed public keys of `app`. A stored key that no longer parses (it was checked
/// when stored) is skipped with a warning rather than failing every request.
pub fn public_keys(app: &Application) -> Vec<PublicKey> {
    app.keys
        .iter()
        .filter_map(|k| match PublicKey::from_pem(&k.public_key_pem) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(application = %app.application_id, key_id = %k.key_id,
                               "stored application key is unusable: {e}");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pairs_sign_and_verify() {
        let (private_pem, public) = generate_key_pair().unwrap();
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let private = parlor_proto::app_auth::PrivateKey::from_pem(&private_pem).unwrap();
        assert_eq!(private.public_key(), &public);
        assert_eq!(public.bits(), 2048);
        let t = parlor_proto::app_auth::mint("a", &private, 1000, 60);
        parlor_proto::app_auth::verify(&t, &[public], 1000).unwrap();
    }

    #[test]
    fn create_rotate_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        let (_, k1) = generate_key_pair().unwrap();
        let (_, k2) = generate_key_pair().unwrap();
        let app = create(&store, Some("demo"), &k1).unwrap();
        assert!(parlor_proto::app_auth::is_application_id(
            &app.application_id
        ));
        let id = app.application_id.as_str();
        assert!(matches!(
            add_key(&store, id, &k1),
            Err(AppError::DuplicateKey(..))
        ));
        add_key(&store, id, &k2).unwrap();
        let app = store.application(id).unwrap().unwrap();
        assert_eq!(public_keys(&app), [k1.clone(), k2.clone()]);
        remove_key(&store, id, k1.id()).unwrap();
        assert!(matches!(
            remove_key(&store, id, k2.id()),
            Err(AppError::LastKey(..))
        ));
        assert!(matches!(
            add_key(&store, "nope", &k1),
            Err(AppError::NotFound(_))
        ));
    }
}
