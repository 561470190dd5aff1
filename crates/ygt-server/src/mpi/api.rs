//! The JSON API of the master patient index: residents (search, register, read), merges and
//! their undoing, and the review tasks of possible duplicates.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use ygt_app::mpi::{MergeDraft, SplitDraft};
use ygt_app::view::{Found, PersonView, RegistrationView};
use ygt_domain::masked::{MaskedIdNumber, MaskedPhone};

use crate::door::api::{Page, paging};
use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::{AppState, Routes};

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

/// A person as lists show it: identifiers masked (by the use case).
#[derive(Serialize)]
pub struct PersonOut {
    id: Uuid,
    name: String,
    sex: String,
    birth_date: Option<time::Date>,
    id_number_masked: Option<MaskedIdNumber>,
    phone_masked: Option<MaskedPhone>,
    address: Option<String>,
    registrations: i64,
    active: bool,
    merged_into: Option<Uuid>,
    /// In the caller's data scope (search results only; a resident outside it was found by
    /// the exact ID number with the name and cannot be opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    in_scope: Option<bool>,
    /// Institutions where the resident is registered (search results in scope only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    registered_at: Vec<String>,
}

impl From<&PersonView> for PersonOut {
    fn from(p: &PersonView) -> Self {
        PersonOut {
            id: p.id,
            name: p.name.clone(),
            sex: p.sex.clone(),
            birth_date: p.birth_date,
            id_number_masked: p.id_number.clone(),
            phone_masked: p.phone.clone(),
            address: p.address.clone(),
            registrations: p.registrations,
            active: p.active,
            merged_into: p.merged_into,
            in_scope: None,
            registered_at: Vec::new(),
        }
    }
}

impl From<&Found> for PersonOut {
    fn from(f: &Found) -> Self {
        PersonOut {
            in_scope: Some(f.in_scope),
            registered_at: f.registered_at.clone(),
            ..PersonOut::from(&f.person)
        }
    }
}

#[derive(Serialize)]
struct RegistrationOut {
    id: Uuid,
    person_id: Uuid,
    institution_id: Uuid,
    institution_name: String,
    record_id: Option<String>,
    name: String,
    sex: String,
    birth_date: Option<time::Date>,
    id_number_masked: Option<MaskedIdNumber>,
    id_number_valid: bool,
    phone_masked: Option<MaskedPhone>,
    address: Option<String>,
}

impl From<&RegistrationView> for RegistrationOut {
    fn from(r: &RegistrationView) -> Self {
        RegistrationOut {
            id: r.id,
            person_id: r.person_id,
            institution_id: r.institution_id,
            institution_name: r.institution_name.clone(),
            record_id: r.record_id.clone(),
            name: r.name.clone(),
            sex: r.sex.clone(),
            birth_date: r.birth_date,
            id_number_masked: r.id_number.clone(),
            id_number_valid: r.id_number_valid,
            phone_masked: r.phone.clone(),
            address: r.address.clone(),
        }
    }
}

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
    Ok((StatusCode::CREATED, Json(r)).into_response())
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
    Ok(Json(serde_json::json!({
        "person": PersonOut::from(&d.person),
        "registrations": d.registrations.iter().map(RegistrationOut::from).collect::<Vec<_>>(),
        "history": d.history,
    }))
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
    Ok(Json(serde_json::json!({"merged": from, "into": b.into.trim()})).into_response())
}

async fn unmerge_registration(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<SplitDraft>,
) -> Result<Response, WebError> {
    let person = s.app.unmerge(&ctx, parse_id("id", &id)?, &b).await?;
    Ok(Json(serde_json::json!({"person_id": person})).into_response())
}

async fn mpi_tasks(State(s): State<AppState>, ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let tasks = s.app.review_queue(&ctx, 100).await?;
    let items: Vec<serde_json::Value> = tasks
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.task.id,
                "weight": t.task.weight,
                "registration": RegistrationOut::from(&t.registration),
                "candidate": PersonOut::from(&t.candidate),
                "explanation": t.explanation,
            })
        })
        .collect();
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
    Ok(Json(serde_json::json!({"person_id": person})).into_response())
}

async fn mpi_not_same(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    s.app.reject_match(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(serde_json::json!({"status": "not_same"})).into_response())
}
