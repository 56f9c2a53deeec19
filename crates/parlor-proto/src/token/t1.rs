//! The legacy `T1==` token format.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::TokenError;

pub(super) const PREFIX: &str = "T1==";

#[derive(Debug, Clone)]
pub(super) struct T1Token {
    pub partner_id: String,
    sig: Vec<u8>,
    /// The signed right-hand side, exactly as it appeared.
    signed: String,
    pub fields: Vec<(String, String)>,
}

impl T1Token {
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        let b64 = &token[PREFIX.len()..];
        let raw = STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64.trim_end_matches('=')))
            .map_err(|_| TokenError::malformed("T1 token is not base64"))?;
        let text =
            String::from_utf8(raw).map_err(|_| TokenError::malformed("T1 token is not UTF-8"))?;
        let (meta, signed) = text
            .split_once(':')
            .ok_or_else(|| TokenError::malformed("T1 token has no ':' before its data"))?;
        let meta: Vec<(String, String)> = serde_urlencoded::from_str(meta)
            .map_err(|_| TokenError::malformed("T1 token header is not form data"))?;
        let get = |name: &str| {
            meta.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let partner_id =
            get("partner_id").ok_or_else(|| TokenError::malformed("T1 token has no partner_id"))?;
        let sig = get("sig")
            .and_then(|s| hex::decode(s).ok())
            .ok_or_else(|| TokenError::malformed("T1 token has no hex sig"))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_str(signed)
            .map_err(|_| TokenError::malformed("T1 token data is not form data"))?;
        Ok(T1Token {
            partner_id,
            sig,
            signed: signed.to_owned(),
            fields,
        })
    }

    pub fn check_signature(&self, secret: &str) -> Result<(), TokenError> {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(self.signed.as_bytes());
        mac.verify_slice(&self.sig)
            .map_err(|_| TokenError::BadSignature)
    }
}

/// Encodes `fields` (in order, `+` for spaces) and signs them.
pub(super) fn encode(api_key: &str, secret: &str, fields: &[(&str, String)]) -> String {
    let data = serde_urlencoded::to_string(fields).expect("string pairs always encode");
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    format!(
        "{PREFIX}{}",
        STANDARD.encode(format!("partner_id={api_key}&sig={sig}:{data}"))
    )
}
