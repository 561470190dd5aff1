//! The JSON API of identity, audit and access: who the caller is, the audit log, whether the
//! caller may see a resident, and break-glass access.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::door::api::{Page, opt_id, paging};
use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::{AppState, Routes};

mod wire;
use wire::{AccessOut, AuditOut, BreakGlassOut, MeOut};

pub fn identity_routes(r: Routes) -> Routes {
    r.get("/api/v1/me", me).get("/api/v1/audit", search_audit)
}

pub fn access_routes(r: Routes) -> Routes {
    r.get("/api/v1/residents/{id}/access", resident_access)
        .post("/api/v1/residents/{id}/break-glass", break_glass)
}

// ---------------------------------------------------------------- identity, audit, scope

async fn me(ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let Some(p) = ctx.principal() else {
        return Err(WebError(ygt_app::AppError::Unauthenticated));
    };
    Ok(Json(MeOut::from(p)).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    resident_id: Option<String>,
    user_id: Option<String>,
    institution_id: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn search_audit(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    let (limit, offset) = paging(q.limit, q.offset)?;
    let f = ygt_app::ygt_store::access::AuditFilter {
        resident_id: opt_id("resident_id", q.resident_id.as_deref())?,
        actor_user_id: opt_id("user_id", q.user_id.as_deref())?,
        institution_id: opt_id("institution_id", q.institution_id.as_deref())?,
        action: q.action,
        outcome: q
            .outcome
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| ygt_domain::audit::Outcome::parse("outcome", v))
            .transpose()?,
        from: None,
        to: None,
        limit,
        offset,
        ..Default::default()
    };
    let (items, total) = s.app.search_audit(&ctx, &f).await?;
    let items: Vec<AuditOut> = items.iter().map(AuditOut::from).collect();
    Ok(Json(Page {
        items,
        total,
        limit,
        offset,
    })
    .into_response())
}

#[derive(Deserialize)]
struct PurposeQuery {
    purpose: Option<String>,
}

/// Whether the caller may see this resident's data, and on which ground (audited).
async fn resident_access(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    Query(q): Query<PurposeQuery>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let purpose = q.purpose.unwrap_or_else(|| "treatment".into());
    let kind = s
        .app
        .resident_access(&ctx, id, "resident.access_check", &purpose)
        .await?;
    Ok(Json(AccessOut {
        resident_id: id,
        allowed: true,
        scope: kind.code(),
    })
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakGlassBody {
    reason: String,
    /// How long, in minutes (up to the configured maximum, which is the default).
    minutes: Option<i64>,
}

async fn break_glass(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<BreakGlassBody>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let g = s
        .app
        .break_glass_for(&ctx, id, &b.reason, b.minutes)
        .await?;
    Ok((StatusCode::CREATED, Json(BreakGlassOut::from(&g))).into_response())
}
