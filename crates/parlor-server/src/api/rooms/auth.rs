//! Rooms API authentication: `Authorization: Bearer <API key>:<API secret>`.
//!
//! Telnyx's API key is a secret, while an OpenTok API key is public (clients see it in
//! their session), so the public key alone never authenticates: the credential is the
//! project's key *and* secret, compared in constant time. Every project works at once.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::error::RoomsError;
use crate::AppState;
use crate::store::Project;

/// The project a Rooms API request authenticated as.
#[derive(Debug, Clone)]
pub struct RoomsAuth(pub Project);

const HOW: &str = "send 'Authorization: Bearer <API key>:<API secret>' with a project's API key \
                   and secret";

impl FromRequestParts<AppState> for RoomsAuth {
    type Rejection = RoomsError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, RoomsError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| RoomsError::unauthenticated(format!("missing credentials: {HOW}")))?
            .to_str()
            .map_err(|_| RoomsError::unauthenticated("the Authorization header is not ASCII"))?
            .trim();
        let credential = match value.split_once(' ') {
            Some((scheme, c)) if scheme.eq_ignore_ascii_case("bearer") => c.trim(),
            _ => {
                return Err(RoomsError::unauthenticated(format!(
                    "the Authorization header is not a Bearer credential: {HOW}"
                )));
            }
        };
        let Some((api_key, secret)) = credential.split_once(':') else {
            return Err(RoomsError::unauthenticated(format!(
                "the credential is not '<API key>:<API secret>' (an API key alone is public \
                 and never authenticates): {HOW}"
            )));
        };
        let lookup = api_key.to_owned();
        let (project, application) = state
            .db(move |s| Ok((s.project(&lookup)?, s.application(&lookup)?)))
            .await?;
        // An application's stored secret is internal: it never authenticates.
        let project = project
            .filter(|_| application.is_none())
            .filter(|p| bool::from(p.api_secret.as_bytes().ct_eq(secret.as_bytes())))
            .ok_or_else(|| {
                RoomsError::unauthenticated("unknown API key or wrong API secret".to_owned())
            })?;
        if let Err(wait) = state.rest_rate.check(&project.api_key) {
            return Err(RoomsError::too_many_requests(
                format!(
                    "rate limit exceeded for project {}: at most {} requests per second \
                     (bursts of twice as many); retry after {} ms",
                    project.api_key,
                    state.rest_rate.per_second(),
                    wait.millis()
                ),
                wait.header_seconds(),
            ));
        }
        Ok(RoomsAuth(project))
    }
}
