//! JSON API of the shared health record: record items (any source system with a token), read
//! the 360 record, one item, the recognised results, and the unmatched queue.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use ygt_app::record::{ItemDraft, PatientRecord, parse_cursor};
use ygt_app::ygt_store::record::TimelineFilter;
use ygt_domain::Reason;
use ygt_domain::clinical::ItemKind;

use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::{AppState, Routes};

mod wire;
pub(crate) use wire::ItemOut;
use wire::{
    AssignedOut, ItemDetailOut, ItemVersionOut, Items, ObservationOut, RecognisedOut, RecordOut,
    RecordedOut, UnmatchedOut,
};

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
    let items = out.iter().map(RecordedOut::from).collect();
    Ok((StatusCode::OK, Json(Items { items })).into_response())
}

async fn get_item(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (item, obs, versions) = s.app.record_item(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(ItemDetailOut {
        item: ItemOut::from(&item),
        observations: obs.iter().map(ObservationOut::from).collect(),
        versions: versions.iter().map(ItemVersionOut::from).collect(),
    })
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
    Ok(Json(RecordOut::from(&r)).into_response())
}

async fn recognised(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let items = s.app.recognised_results(&ctx, parse_id("id", &id)?).await?;
    let items = items.iter().map(RecognisedOut::from).collect();
    Ok(Json(Items { items }).into_response())
}

async fn unmatched(State(s): State<AppState>, ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let items = s.app.unmatched_items(&ctx, 500).await?;
    let items = items.iter().map(UnmatchedOut::from).collect();
    Ok(Json(Items { items }).into_response())
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
    Ok(Json(AssignedOut {
        item_id: item,
        person_id: person,
    })
    .into_response())
}
