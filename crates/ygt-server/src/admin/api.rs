//! The JSON API of identity, audit and access: who the caller is, the audit log, whether the
//! caller may see a resident, and break-glass access.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::door::api::{Page, opt_id, paging};
use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::{AppState, Routes};

pub fn identity_routes(r: Routes) -> Routes {
    r.get("/api/v1/me", me).get("/api/v1/audit", search_audit)
}

pub fn access_routes(r: Routes) -> Routes {
    r.get("/api/v1/residents/{id}/access", resident_access)
        .post("/api/v1/residents/{id}/break-glass", break_glass)
}

// ---------------------------------------------------------------- identity, audit, scope

#[derive(Serialize)]
struct Me {
    user_id: Option<Uuid>,
    name: String,
    display_name: String,
    institution_id: Option<Uuid>,
    roles: Vec<ygt_domain::access::Role>,
    permissions: Vec<ygt_domain::access::Permission>,
}

async fn me(ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let Some(p) = ctx.principal() else {
        return Err(WebError(ygt_app::AppError::Unauthenticated));
    };
    Ok(Json(Me {
        user_id: p.user_id,
        name: p.name.clone(),
        display_name: p.display_name.clone(),
        institution_id: p.institution_id,
        roles: p.roles.clone(),
        permissions: p.permissions.iter().copied().collect(),
    })
    .into_response())
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

#[derive(Serialize)]
struct AuditOut {
    seq: i64,
    id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    at: time::OffsetDateTime,
    actor_user_id: Option<Uuid>,
    actor_name: String,
    actor_institution_id: Option<Uuid>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    resident_id: Option<Uuid>,
    purpose: Option<String>,
    outcome: ygt_domain::audit::Outcome,
    client_addr: Option<String>,
    request_id: String,
    detail: Option<String>,
    hash: String,
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
    let items: Vec<AuditOut> = items
        .into_iter()
        .map(|r| AuditOut {
            seq: r.seq,
            id: r.id,
            at: r.at,
            actor_user_id: r.actor_user_id,
            actor_name: r.actor_name,
            actor_institution_id: r.actor_institution_id,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            resident_id: r.resident_id,
            purpose: r.purpose,
            outcome: r.outcome,
            client_addr: r.client_addr,
            request_id: r.request_id,
            detail: r.detail,
            hash: r.hash,
        })
        .collect();
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
    Ok(
        Json(serde_json::json!({"resident_id": id, "allowed": true, "scope": kind.code()}))
            .into_response(),
    )
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
    Ok((StatusCode::CREATED, Json(g)).into_response())
}
