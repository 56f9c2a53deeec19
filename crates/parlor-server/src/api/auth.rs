//! REST authentication, two credential kinds:
//!
//! * `X-OPENTOK-AUTH`: the OpenTok project JWT (HS256 with the API secret).
//! * `Authorization: Bearer <JWT>`: a Vonage application's JWT (RS256 with one of the
//!   application's private keys; `@vonage/video`, PyPI `vonage`).
//!
//! Either way the request acts as a [`Project`]: an application owns sessions, archives
//! and callbacks exactly as a project does (its ID is the path's project ID and field 1 of
//! its session IDs). Missing credentials → 401. Every other refusal → 403 with its specific
//! reason, because the Python SDKs recognise only 403 as an authentication error.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use parlor_proto::app_auth::{self, AppAuthError};
use parlor_proto::project_auth::{self, ProjectAuthError};

use super::ApiError;
use crate::AppState;
use crate::store::Project;

/// The project (or application) a request authenticated as.
#[derive(Debug, Clone)]
pub struct ProjectAuth(pub Project);

impl FromRequestParts<AppState> for ProjectAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let project = authenticate(parts, state).await?;
        // Counted per credential once it is proven: a forged or foreign credential can
        // never use up another's allowance.
        if let Err(wait) = state.rest_rate.check(&project.api_key) {
            return Err(ApiError::too_many_requests(
                format!(
                    "rate limit exceeded for {} {}: at most {} requests per second (bursts \
                     of twice as many); retry after {} ms",
                    if app_auth::is_application_id(&project.api_key) {
                        "application"
                    } else {
                        "project"
                    },
                    project.api_key,
                    state.rest_rate.per_second(),
                    wait.millis()
                ),
                wait.header_seconds(),
            ));
        }
        Ok(ProjectAuth(project))
    }
}

/// Checks the request's credentials (see the module's documentation).
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Project, ApiError> {
    if let Some(opentok) = parts.headers.get(project_auth::HEADER) {
        let token = opentok
            .to_str()
            .map_err(|_| ApiError::forbidden("X-OPENTOK-AUTH header is not ASCII"))?
            .trim()
            .to_owned();
        return opentok_project(state, token).await;
    }
    if let Some(authorization) = parts.headers.get(app_auth::HEADER) {
        let value = authorization
            .to_str()
            .map_err(|_| ApiError::forbidden("Authorization header is not ASCII"))?
            .trim();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "the Authorization header must be 'Bearer <JWT>' signed with a Vonage \
                     application's private key",
                ));
            }
        };
        return application_project(state, token.to_owned()).await;
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "missing X-OPENTOK-AUTH header (a JWT signed with the project's API secret) or \
         Authorization: Bearer (a JWT signed with a Vonage application's private key)",
    ))
}

async fn opentok_project(state: &AppState, token: String) -> Result<Project, ApiError> {
    let api_key = project_auth::claimed_api_key(&token).map_err(refused)?;
    let lookup = api_key.clone();
    let (project, application) = state
        .db(move |s| Ok((s.project(&lookup)?, s.application(&lookup)?)))
        .await?;
    let project =
        project.ok_or_else(|| ApiError::forbidden(format!("unknown API key '{api_key}'")))?;
    if application.is_some() {
        // An application has no shared secret anyone could sign with: refuse before even
        // looking at the signature (the stored secret is internal).
        return Err(ApiError::forbidden(format!(
            "X-OPENTOK-AUTH token claims application {api_key}, which has no API secret: \
             send Authorization: Bearer with an RS256 JWT signed by the application's \
             private key"
        )));
    }
    project_auth::verify(&token, &project.api_secret, parlor_proto::unix_now()).map_err(refused)?;
    Ok(project)
}

async fn application_project(state: &AppState, token: String) -> Result<Project, ApiError> {
    let application_id = app_auth::claimed_application_id(&token).map_err(app_refused)?;
    let lookup = application_id.clone();
    let (application, project) = state
        .db(move |s| Ok((s.application(&lookup)?, s.project(&lookup)?)))
        .await?;
    let (Some(application), Some(project)) = (application, project) else {
        return Err(app_refused(AppAuthError::UnknownApplication(
            application_id,
        )));
    };
    if application.deleted_at.is_some() {
        return Err(app_refused(AppAuthError::DeletedApplication(
            application_id,
        )));
    }
    let keys = crate::applications::public_keys(&application);
    app_auth::verify(&token, &keys, parlor_proto::unix_now()).map_err(app_refused)?;
    Ok(project)
}

impl ProjectAuth {
    /// Whether the request authenticated as a Vonage application (its ID is a UUID; an
    /// OpenTok API key is digits).
    pub fn is_application(&self) -> bool {
        app_auth::is_application_id(&self.0.api_key)
    }

    /// Refuses a request whose path names another project than the one authenticated.
    pub fn check_path_key(&self, path_key: &str) -> Result<(), ApiError> {
        if self.0.api_key == path_key {
            Ok(())
        } else if app_auth::is_application_id(&self.0.api_key) {
            Err(app_refused(AppAuthError::WrongApplication {
                token: self.0.api_key.clone(),
                path: path_key.to_owned(),
            }))
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

fn app_refused(e: AppAuthError) -> ApiError {
    ApiError::forbidden(format!("{e} [{}]", e.reason()))
}
