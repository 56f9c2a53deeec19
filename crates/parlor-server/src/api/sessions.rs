//! `POST /session/create`.

use std::net::Ipv4Addr;

use axum::Json;
use axum::extract::State;
use parlor_proto::limits::{ARCHIVE_RESOLUTIONS, MAX_ARCHIVE_NAME_CHARS};
use parlor_proto::session_id;
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::params::Params;
use super::{ApiError, ProjectAuth};
use crate::AppState;
use crate::store::SessionRecord;

/// One element of the response array, as the OpenTok SDKs read it.
#[derive(Serialize)]
pub struct CreatedSession {
    session_id: String,
    project_id: String,
    partner_id: String,
    create_dt: String,
    media_server_url: String,
}

pub async fn create(
    State(state): State<AppState>,
    ProjectAuth(project): ProjectAuth,
    params: Params,
) -> Result<Json<[CreatedSession; 1]>, ApiError> {
    let record = store_new(&state, &project.api_key, session_options(&params)?).await?;
    Ok(Json([CreatedSession {
        session_id: record.session_id,
        project_id: project.api_key.clone(),
        partner_id: project.api_key,
        create_dt: format_create_dt(record.created_at),
        media_server_url: String::new(),
    }]))
}

/// Gives validated options (`record`) a new session ID of `api_key`'s project and the
/// creation time, and stores the session. Every way of creating a session goes here.
pub(crate) async fn store_new(
    state: &AppState,
    api_key: &str,
    mut record: SessionRecord,
) -> Result<SessionRecord, ApiError> {
    let created_at = crate::unix_millis();
    record.session_id = session_id::generate(api_key, record.location.as_deref(), created_at);
    record.project_id = api_key.to_owned();
    record.created_at = created_at;
    let stored = record.clone();
    state.db(move |s| s.insert_session(&stored)).await?;
    tracing::info!(session_id = %record.session_id, project = %api_key,
                   media_mode = %record.media_mode, archive_mode = %record.archive_mode,
                   "session created");
    Ok(record)
}

/// The options of a routed session with OpenTok's defaults otherwise (what
/// `p2p.preference=disabled` alone gives).
pub(crate) fn routed_options() -> SessionRecord {
    SessionRecord {
        session_id: String::new(),
        project_id: String::new(),
        media_mode: "routed".into(),
        archive_mode: "manual".into(),
        location: None,
        e2ee: false,
        archive_name: None,
        archive_resolution: None,
        created_at: 0,
    }
}

/// Validates the creation parameters into a record (ID, project and time left blank).
fn session_options(p: &Params) -> Result<SessionRecord, ApiError> {
    let archive_mode = match p.get("archiveMode").unwrap_or("manual") {
        m @ ("manual" | "always") => m,
        other => {
            return Err(ApiError::bad_request(format!(
                "archiveMode must be 'manual' or 'always', not '{other}'"
            )));
        }
    };
    let media_mode = match p.get("p2p.preference").unwrap_or("enabled") {
        "enabled" => "relayed",
        "disabled" => "routed",
        other => {
            return Err(ApiError::bad_request(format!(
                "p2p.preference must be 'enabled' or 'disabled', not '{other}'"
            )));
        }
    };
    let e2ee = match p.get("e2ee").unwrap_or("false") {
        "true" => true,
        "false" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "e2ee must be 'true' or 'false', not '{other}'"
            )));
        }
    };
    // `@vonage/video` posts `location=null` when no location is given (its form encoder
    // stringifies the null): that is no location.
    let location = match p.get("location").filter(|l| !l.is_empty() && *l != "null") {
        None => None,
        Some(l) => Some(
            l.parse::<Ipv4Addr>()
                .map_err(|_| {
                    ApiError::bad_request(format!("location must be an IPv4 address, not '{l}'"))
                })?
                .to_string(),
        ),
    };
    let always = archive_mode == "always";
    if always && media_mode == "relayed" {
        return Err(ApiError::bad_request(
            "archiveMode 'always' needs a routed session (p2p.preference=disabled)",
        ));
    }
    if e2ee && media_mode == "relayed" {
        return Err(ApiError::bad_request(
            "e2ee needs a routed session (p2p.preference=disabled)",
        ));
    }
    if e2ee && always {
        return Err(ApiError::bad_request(
            "e2ee sessions cannot be archived automatically (archiveMode 'always')",
        ));
    }
    let archive_name = p.get("archiveName").map(str::to_owned);
    if let Some(name) = &archive_name {
        let chars = name.chars().count();
        if !always {
            return Err(ApiError::bad_request(
                "archiveName is only allowed with archiveMode 'always'",
            ));
        }
        if chars == 0 || chars > MAX_ARCHIVE_NAME_CHARS {
            return Err(ApiError::bad_request(format!(
                "archiveName must be 1 to {MAX_ARCHIVE_NAME_CHARS} characters, not {chars}"
            )));
        }
    }
    let archive_resolution = p.get("archiveResolution").map(str::to_owned);
    if let Some(res) = &archive_resolution {
        if !always {
            return Err(ApiError::bad_request(
                "archiveResolution is only allowed with archiveMode 'always'",
            ));
        }
        if !ARCHIVE_RESOLUTIONS.contains(&res.as_str()) {
            return Err(ApiError::bad_request(format!(
                "archiveResolution must be one of {}, not '{res}'",
                ARCHIVE_RESOLUTIONS.join(", ")
            )));
        }
    }
    Ok(SessionRecord {
        session_id: String::new(),
        project_id: String::new(),
        media_mode: media_mode.into(),
        archive_mode: archive_mode.into(),
        location,
        e2ee,
        archive_name,
        archive_resolution,
        created_at: 0,
    })
}

/// OpenTok's `create_dt` style, e.g. `Sat Nov 21 05:40:01 UTC 2026`.
fn format_create_dt(ms: i64) -> String {
    let fmt = format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_dt_format() {
        assert_eq!(
            format_create_dt(1_795_758_001_000),
            "Fri Nov 27 05:40:01 UTC 2026"
        );
    }
}
