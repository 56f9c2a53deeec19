//! Capturing a transport's DTLS-SRTP keying material, for the direct send path
//! ([`crate::srtp`]).
//!
//! str0m exports the keying material from its DTLS handshake and keeps it inside the `Rtc`.
//! Its crypto provider is pluggable, though, and the DTLS implementation is created through
//! it: [`provider`] wraps the configured provider's DTLS so each instance copies the
//! material it hands str0m into a [`KeySlot`]. [`build`] creates an `Rtc` and returns the
//! slot of its DTLS instance (a thread-local links the two while `RtcConfig::build` runs).
//! The slot is written once, by the handshake, and read once, when the transport connects;
//! nothing on the packet path touches it.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
    SrtpProfile,
};
use str0m::crypto::{CryptoError, CryptoProvider};
use str0m::{Rtc, RtcConfig};

/// What a transport's DTLS handshake exported.
pub struct Keys {
    pub material: Vec<u8>,
    pub profile: SrtpProfile,
    /// Whether this side was the DTLS client (it then sends with the client's keys).
    pub active: bool,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never printed.
        f.debug_struct("Keys")
            .field("profile", &self.profile)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Where one DTLS instance leaves its keying material.
#[derive(Debug, Default)]
pub struct KeySlot(Mutex<Option<Keys>>);

impl KeySlot {
    /// The material, once the handshake exported it (taken: a second call returns `None`).
    pub fn take(&self) -> Option<Keys> {
        self.0.lock().ok()?.take()
    }
}

thread_local! {
    static NEXT_SLOT: RefCell<Option<Arc<KeySlot>>> = const { RefCell::new(None) };
}

/// Builds an `Rtc` from a config carrying [`provider`], and returns the slot its keying
/// material will be left in.
pub fn build(config: &RtcConfig, now: Instant) -> (Rtc, Arc<KeySlot>) {
    /// Clears the thread-local even if building panics, so no later `Rtc` gets this slot.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            NEXT_SLOT.with(|s| s.borrow_mut().take());
        }
    }
    let slot = Arc::new(KeySlot::default());
    NEXT_SLOT.with(|s| *s.borrow_mut() = Some(slot.clone()));
    let _clear = Clear;
    let rtc = config.clone().build(now);
    (rtc, slot)
}

/// The crypto provider str0m was built with, its DTLS wrapped to capture keying material.
pub fn provider() -> Arc<CryptoProvider> {
    static INNER: OnceLock<CryptoProvider> = OnceLock::new();
    static WRAPPED: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    static TAP: OnceLock<Tap> = OnceLock::new();
    WRAPPED
        .get_or_init(|| {
            let inner = INNER.get_or_init(str0m::crypto::from_feature_flags);
            let tap = TAP.get_or_init(|| Tap {
                inner: inner.dtls_provider,
            });
            Arc::new(CryptoProvider {
                srtp_provider: inner.srtp_provider,
                sha1_hmac_provider: inner.sha1_hmac_provider,
                sha1_provider: inner.sha1_provider,
                sha256_provider: inner.sha256_provider,
                dtls_provider: tap,
            })
        })
        .clone()
}

#[derive(Debug)]
struct Tap {
    inner: &'static dyn DtlsProvider,
}

impl DtlsProvider for Tap {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.inner.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = self.inner.new_dtls(cert, now, dtls_version, mtu)?;
        // An Rtc built outside `build` gets a slot nobody reads.
        let slot = NEXT_SLOT
            .with(|s| s.borrow_mut().take())
            .unwrap_or_default();
        Ok(Box::new(Tapped { inner, slot }))
    }

    fn is_test(&self) -> bool {
        self.inner.is_test()
    }
}

#[derive(Debug)]
struct Tapped {
    inner: Box<dyn DtlsInstance>,
    slot: Arc<KeySlot>,
}

impl DtlsInstance for Tapped {
    fn set_active(&mut self, active: bool) {
        self.inner.set_active(active)
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let out = self.inner.poll_output(buf);
        if let DtlsOutput::KeyingMaterial(material, profile) = &out
            && let Ok(mut slot) = self.slot.0.lock()
        {
            *slot = Some(Keys {
                material: material.to_vec(),
                profile: *profile,
                active: self.inner.is_active(),
            });
        }
        out
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}
