//! HTTPS and WSS from `parlor serve` itself (`--tls-cert`, `--tls-key`): rustls with the
//! aws-lc-rs provider (already built for WebRTC's DTLS, so no other C library), and a
//! certificate that is reloaded without a restart — on SIGHUP, and when either file's
//! modification time changes (checked every [`POLL_INTERVAL`]). A reload that fails (a
//! half-written file, a key that does not match) keeps the current certificate and logs
//! why; new connections get the new certificate, open ones keep theirs.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::config::TlsFiles;

/// How often the certificate files are checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Why the certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} holds no PEM certificate")]
    NoCertificate(String),
    #[error("{0} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey(String),
    #[error("the key in {0} cannot be used: {1}")]
    BadKey(String, rustls::Error),
    #[error("the key in {key} does not belong to the certificate in {cert}: {error}")]
    Mismatch {
        cert: String,
        key: String,
        error: rustls::Error,
    },
    #[error("TLS configuration: {0}")]
    Config(rustls::Error),
}

/// Loads and checks a certificate chain and its key.
pub fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_name = files.cert.display().to_string();
    let key_name = files.key.display().to_string();
    let cert_pem = std::fs::read(&files.cert).map_err(|e| TlsError::Read(cert_name.clone(), e))?;
    let key_pem = std::fs::read(&files.key).map_err(|e| TlsError::Read(key_name.clone(), e))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert_name));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey(key_name.clone()))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::BadKey(key_name.clone(), e))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|error| TlsError::Mismatch {
        cert: cert_name,
        key: key_name,
        error,
    })?;
    Ok(Arc::new(certified))
}

/// The current certificate, swapped on reload.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    stamps: RwLock<(Option<SystemTime>, Option<SystemTime>)>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl ReloadingCert {
    /// Loads the files now (an error here stops the server from starting).
    pub fn new(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let stamps = (modified(&files.cert), modified(&files.key));
        let current = load(&files)?;
        Ok(Arc::new(ReloadingCert {
            files,
            current: RwLock::new(current),
            stamps: RwLock::new(stamps),
        }))
    }

    /// Loads the files again; on success the next handshakes use them. Returns whether
    /// the certificate was replaced.
    pub fn reload(&self) -> bool {
        let stamps = (modified(&self.files.cert), modified(&self.files.key));
        // Recorded whatever the outcome: a broken file is reported once, and the next
        // change (or SIGHUP) tries again.
        *self.stamps.write().unwrap_or_else(|e| e.into_inner()) = stamps;
        match load(&self.files) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                true
            }
            Err(e) => {
                tracing::warn!("TLS certificate not reloaded, keeping the current one: {e}");
                false
            }
        }
    }

    /// Reloads if either file's modification time changed since the last load.
    pub fn reload_if_changed(&self) -> bool {
        let now = (modified(&self.files.cert), modified(&self.files.key));
        let changed = *self.stamps.read().unwrap_or_else(|e| e.into_inner()) != now;
        changed && self.reload()
    }

    /// The rustls server configuration resolving through this certificate (HTTP/1.1 only,
    /// as the plain listener).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Watches for SIGHUP and file changes until the process ends.
    pub fn spawn_watcher(self: &Arc<Self>) -> std::io::Result<()> {
        let this = self.clone();
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(POLL_INTERVAL);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                #[cfg(unix)]
                tokio::select! {
                    _ = hangup.recv() => {
                        tracing::info!("SIGHUP: reloading the TLS certificate");
                        let reloader = this.clone();
                        let _ = tokio::task::spawn_blocking(move || reloader.reload()).await;
                        continue;
                    }
                    _ = poll.tick() => {}
                }
                #[cfg(not(unix))]
                poll.tick().await;
                let reloader = this.clone();
                let _ = tokio::task::spawn_blocking(move || reloader.reload_if_changed()).await;
            }
        });
        Ok(())
    }
}
