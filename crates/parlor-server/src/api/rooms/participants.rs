//! `/v2/room_participants`: every connection to a room session, live or gone.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::auth::RoomsAuth;
use super::error::RoomsError;
use super::query::Query;
use super::rooms::check_uuid;
use super::wire;
use crate::AppState;
use crate::rooms::model::ParticipantFilter;

/// The filters every participant list takes.
pub(super) fn filter(q: &mut Query) -> Result<ParticipantFilter, RoomsError> {
    Ok(ParticipantFilter {
        room_session_id: None,
        context: q.string("filter[context]"),
        joined: q.time_range("date_joined_at")?,
        left: q.time_range("date_left_at")?,
        updated: q.time_range("date_updated_at")?,
    })
}

pub(super) async fn list_filtered(
    state: &AppState,
    auth: &RoomsAuth,
    mut q: Query,
    filter: ParticipantFilter,
) -> Result<Response, RoomsError> {
    let page = q.page()?;
    q.finish()?;
    let project = auth.0.api_key.clone();
    let listed = state
        .db(move |s| s.participants(&project, &filter, page))
        .await?;
    Ok(wire::page(&listed, page, wire::participant))
}

/// `GET /v2/room_participants`
pub async fn list(
    State(state): State<AppState>,
    auth: RoomsAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let filter = ParticipantFilter {
        room_session_id: q.string("filter[session_id]"),
        ..filter(&mut q)?
    };
    list_filtered(&state, &auth, q, filter).await
}

/// `GET /v2/room_participants/{id}`
pub async fn retrieve(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
) -> Result<Response, RoomsError> {
    check_uuid("room participant", &id)?;
    let lookup = id.clone();
    match state.db(move |s| s.participant(&lookup)).await? {
        Some((p, project)) if project == auth.0.api_key => {
            Ok(wire::one(StatusCode::OK, wire::participant(&p)))
        }
        _ => Err(RoomsError::not_found("room participant", &id)),
    }
}
