//! JSON API of the shared health record: record items (any source system with a token), read
//! the 360 record, one item, the recognised results, and the unmatched queue.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use ygt_app::record::{ItemDraft, PatientRecord, parse_cursor};
use ygt_app::ygt_store::record::{Item, TimelineFilter};
use ygt_domain::Reason;
use ygt_domain::clinical::ItemKind;

use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::mpi::api::PersonOut;
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.post("/api/v1/clinical-items", record)
        .get("/api/v1/clinical-items/{id}", get_item)
        .get("/api/v1/residents/{id}/record", get_record)
        .get("/api/v1/patients/{id}/recognised-results", recognised)
        .get("/api/v1/unmatched-items", unmatched)
        .post("/api/v1/unmatched-items/{id}/assign", assign)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordBody {
    items: Vec<ItemDraft>,
}

async fn record(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(b): JsonBody<RecordBody>,
) -> Result<Response, WebError> {
    let out = s.app.record_drafts(&ctx, &b.items, "api").await?;
    Ok((StatusCode::OK, Json(serde_json::json!({ "items": out }))).into_response())
}

/// An item as the API shows it: the structured body as JSON, the sender's patient reference
/// left out (it may hold a full ID number).
#[derive(Serialize)]
struct ItemOut {
    id: Uuid,
    person_id: Option<Uuid>,
    kind: String,
    institution_id: Uuid,
    institution_name: String,
    source_system: String,
    source_id: String,
    encounter_ref: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    ended_at: Option<OffsetDateTime>,
    status: String,
    code: Option<String>,
    code_system: Option<String>,
    title: String,
    summary: Option<String>,
    department: Option<String>,
    doctor: Option<String>,
    abnormal: bool,
    body: serde_json::Value,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
}

impl From<&Item> for ItemOut {
    fn from(i: &Item) -> Self {
        ItemOut {
            id: i.id,
            person_id: i.person_id,
            kind: i.kind.clone(),
            institution_id: i.institution_id,
            institution_name: i.institution_name.clone(),
            source_system: i.source_system.clone(),
            source_id: i.source_id.clone(),
            encounter_ref: i.encounter_ref.clone(),
            occurred_at: i.occurred_at,
            ended_at: i.ended_at,
            status: i.status.clone(),
            code: i.code.clone(),
            code_system: i.code_system.clone(),
            title: i.title.clone(),
            summary: i.summary.clone(),
            department: i.department.clone(),
            doctor: i.doctor.clone(),
            abnormal: i.abnormal,
            body: serde_json::from_str(&i.body).unwrap_or(serde_json::Value::Null),
            version: i.version,
            received_at: i.received_at,
        }
    }
}

async fn get_item(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (item, obs, versions) = s.app.record_item(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(serde_json::json!({
        "item": ItemOut::from(&item),
        "observations": obs,
        "versions": versions,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct RecordQuery {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
    purpose: Option<String>,
}

fn bad(field: &str, format: &'static str) -> WebError {
    WebError(ygt_app::AppError::invalid(field, Reason::Format(format)))
}

fn time_param(field: &str, v: &Option<String>) -> Result<Option<OffsetDateTime>, WebError> {
    match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(t) => ygt_app::record::parse_time(field, t, OffsetDateTime::now_utc())
            .map(Some)
            .map_err(|e| {
                WebError(ygt_app::AppError::Invalid(ygt_domain::ValidationErrors(
                    vec![e],
                )))
            }),
    }
}

async fn get_record(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Result<Response, WebError> {
    let mut kinds = Vec::new();
    for k in q
        .kind
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let k = ItemKind::parse("kind", k).map_err(|e| {
            WebError(ygt_app::AppError::Invalid(ygt_domain::ValidationErrors(
                vec![e],
            )))
        })?;
        kinds.push(k.code().to_owned());
    }
    let before = match q.before.as_deref().filter(|b| !b.is_empty()) {
        None => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| bad("before", "cursor"))?),
    };
    let filter = TimelineFilter {
        kinds,
        institution: None,
        from: time_param("from", &q.from)?,
        to: time_param("to", &q.to)?,
        before,
        code: None,
    };
    let purpose = q.purpose.as_deref().unwrap_or("treatment");
    let r: PatientRecord = s
        .app
        .patient_record(&ctx, parse_id("id", &id)?, &filter, purpose)
        .await?;
    Ok(Json(serde_json::json!({
        "person": PersonOut::from(&r.person),
        "tags": r.tags,
        "problems": r.problems,
        "allergies": r.allergies.iter().map(ItemOut::from).collect::<Vec<_>>(),
        "medications": r.medications.iter().map(ItemOut::from).collect::<Vec<_>>(),
        "counts": r.counts,
        "timeline": r.timeline.iter().map(ItemOut::from).collect::<Vec<_>>(),
        "next": r.next,
        "trends": r.trends,
    }))
    .into_response())
}

async fn recognised(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let items = s.app.recognised_results(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn unmatched(State(s): State<AppState>, ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let items = s.app.unmatched_items(&ctx, 500).await?;
    Ok(Json(serde_json::json!({
        "items": items.iter().map(|u| {
            let p = &u.sent_as;
            serde_json::json!({
                "item": ItemOut::from(&u.item),
                "sent_as": {
                    "name": p.name,
                    "record_id": p.record_id,
                    "id_number_masked": p.id_number,
                    "sex": p.sex,
                    "birth_date": p.birth_date,
                }
            })
        }).collect::<Vec<_>>()
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    person_id: String,
}

async fn assign(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<AssignBody>,
) -> Result<Response, WebError> {
    let item = parse_id("id", &id)?;
    let person = parse_id("person_id", &b.person_id)?;
    s.app.assign_unmatched(&ctx, item, person).await?;
    Ok(Json(serde_json::json!({ "item_id": item, "person_id": person })).into_response())
}
