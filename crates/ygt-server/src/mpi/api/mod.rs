//! The JSON API of the master patient index: residents (search, register, read), merges and
//! their undoing, and the review tasks of possible duplicates.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ygt_app::mpi::{MergeDraft, SplitDraft};

use crate::door::api::{Page, paging};
use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::{AppState, Routes};

mod wire;
pub use wire::PersonOut;
use wire::{
    HistoryOut, MatchTaskOut, MergedOut, NotSameOut, PersonDetailOut, PersonIdOut, RegisteredOut,
    RegistrationOut,
};

pub fn routes(r: Routes) -> Routes {
    r.get("/api/v1/residents", search_residents)
        .post("/api/v1/residents", register_resident)
        .get("/api/v1/residents/{id}", get_resident)
        .post("/api/v1/residents/{id}/merge", merge_resident)
        .post("/api/v1/registrations/{id}/unmerge", unmerge_registration)
        .get("/api/v1/mpi/tasks", mpi_tasks)
        .post("/api/v1/mpi/tasks/{id}/link", mpi_link)
        .post("/api/v1/mpi/tasks/{id}/not-same", mpi_not_same)
}

// ---------------------------------------------------------------- master patient index

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn search_residents(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let (limit, offset) = paging(q.limit, q.offset)?;
    let (found, total) = s
        .app
        .search_residents_page(&ctx, q.q.as_deref().unwrap_or(""), offset, limit)
        .await?;
    let items: Vec<PersonOut> = found.iter().map(PersonOut::from).collect();
    Ok(Json(Page {
        items,
        total,
        limit,
        offset,
    })
    .into_response())
}

async fn register_resident(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(d): JsonBody<ygt_app::mpi::ResidentDraft>,
) -> Result<Response, WebError> {
    let r = s.app.register_resident(&ctx, &d).await?;
    Ok((StatusCode::CREATED, Json(RegisteredOut::from(&r))).into_response())
}

async fn get_resident(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = s
        .app
        .person_detail(&ctx, parse_id("id", &id)?, "treatment")
        .await?;
    Ok(Json(PersonDetailOut {
        person: PersonOut::from(&d.person),
        registrations: d.registrations.iter().map(RegistrationOut::from).collect(),
        history: d.history.iter().map(HistoryOut::from).collect(),
    })
    .into_response())
}

async fn merge_resident(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MergeDraft>,
) -> Result<Response, WebError> {
    let from = parse_id("id", &id)?;
    s.app.merge_persons(&ctx, from, &b).await?;
    // The use case accepted it, so it is a valid id.
    let into = parse_id("into", b.into.trim())?;
    Ok(Json(MergedOut { merged: from, into }).into_response())
}

async fn unmerge_registration(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<SplitDraft>,
) -> Result<Response, WebError> {
    let person = s.app.unmerge(&ctx, parse_id("id", &id)?, &b).await?;
    Ok(Json(PersonIdOut { person_id: person }).into_response())
}

async fn mpi_tasks(State(s): State<AppState>, ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let tasks = s.app.review_queue(&ctx, 100).await?;
    let items: Vec<MatchTaskOut> = tasks.iter().map(MatchTaskOut::from).collect();
    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(Json(Page {
        items,
        total,
        limit: 100,
        offset: 0,
    })
    .into_response())
}

async fn mpi_link(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let person = s.app.confirm_match(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(PersonIdOut { person_id: person }).into_response())
}

async fn mpi_not_same(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    s.app.reject_match(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(NotSameOut { status: "not_same" }).into_response())
}
