//! REST authentication: the `X-OPENTOK-AUTH` project JWT.
//!
//! Missing header → 401. Every other refusal → 403, because the Python SDK recognises
//! only 403 as an authentication error (the Node SDK accepts both).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use parlor_proto::project_auth::{self, ProjectAuthError};

use super::ApiError;
use crate::AppState;
use crate::store::Project;

/// The project a request authenticated as.
#[derive(Debug, Clone)]
pub struct ProjectAuth(pub Project);

impl FromRequestParts<AppState> for ProjectAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(project_auth::HEADER)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "missing X-OPENTOK-AUTH header: sign a JWT with the project's API secret",
                )
            })?
            .to_str()
            .map_err(|_| ApiError::forbidden("X-OPENTOK-AUTH header is not ASCII"))?
            .trim()
            .to_owned();
        let api_key = project_auth::claimed_api_key(&header).map_err(refused)?;
        let lookup = api_key.clone();
        let project = state
            .db(move |s| s.project(&lookup))
            .await?
            .ok_or_else(|| ApiError::forbidden(format!("unknown API key '{api_key}'")))?;
        project_auth::verify(&header, &project.api_secret, parlor_proto::unix_now())
            .map_err(refused)?;
        Ok(ProjectAuth(project))
    }
}

impl ProjectAuth {
    /// Refuses a request whose path names another project than the one authenticated.
    pub fn check_path_key(&self, path_key: &str) -> Result<(), ApiError> {
        if self.0.api_key == path_key {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "credentials are for project {}, but the path names project {path_key}",
                self.0.api_key
            )))
        }
    }
}

fn refused(e: ProjectAuthError) -> ApiError {
    ApiError::forbidden(e.to_string())
}
