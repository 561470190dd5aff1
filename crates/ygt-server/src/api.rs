//! The JSON API under `/api/v1`. Updates use optimistic concurrency: `GET` returns the record's
//! version as an `ETag`, and a `PUT` with `If-Match` is refused with 409 when someone changed
//! the record in between.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use ygt_app::mpi::{MergeDraft, SplitDraft};
use ygt_app::view::{Found, PersonView, RegistrationView};
use ygt_app::ygt_store::org::{Department, Institution, InstitutionFilter, Staff, StaffFilter};
use ygt_domain::ident::Sex;
use ygt_domain::masked::{self, MaskedIdNumber, MaskedPhone};
use ygt_domain::org::{
    CommunityDraft, DepartmentDraft, InstitutionDraft, InstitutionType, ProfessionalTitle,
    StaffDraft, Tier,
};
use ygt_domain::{Reason, ValidationError};

use crate::error::WebError;
use crate::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/api/v1/communities", list_communities)
        .post("/api/v1/communities", create_community)
        .get("/api/v1/communities/{id}", get_community)
        .put("/api/v1/communities/{id}", update_community)
        .post("/api/v1/communities/{id}/deactivate", deactivate_community)
        .post("/api/v1/communities/{id}/activate", activate_community)
        .get("/api/v1/communities/{id}/members", list_members)
        .post("/api/v1/communities/{id}/members", add_member)
        .delete(
            "/api/v1/communities/{id}/members/{institution_id}",
            remove_member,
        )
        .get("/api/v1/institutions", list_institutions)
        .post("/api/v1/institutions", create_institution)
        .get("/api/v1/institutions/{id}", get_institution)
        .put("/api/v1/institutions/{id}", update_institution)
        .post(
            "/api/v1/institutions/{id}/deactivate",
            deactivate_institution,
        )
        .post("/api/v1/institutions/{id}/activate", activate_institution)
        .get("/api/v1/institutions/{id}/departments", list_departments)
        .post("/api/v1/institutions/{id}/departments", create_department)
        .get("/api/v1/departments/{id}", get_department)
        .put("/api/v1/departments/{id}", update_department)
        .post("/api/v1/departments/{id}/deactivate", deactivate_department)
        .post("/api/v1/departments/{id}/activate", activate_department)
        .get("/api/v1/staff", list_staff)
        .post("/api/v1/staff", create_staff)
        .get("/api/v1/staff/{id}", get_staff)
        .put("/api/v1/staff/{id}", update_staff)
        .post("/api/v1/staff/{id}/deactivate", deactivate_staff)
        .post("/api/v1/staff/{id}/activate", activate_staff)
        .get("/api/v1/me", me)
        .get("/api/v1/audit", search_audit)
        .get("/api/v1/residents", search_residents)
        .post("/api/v1/residents", register_resident)
        .get("/api/v1/residents/{id}", get_resident)
        .post("/api/v1/residents/{id}/merge", merge_resident)
        .post("/api/v1/registrations/{id}/unmerge", unmerge_registration)
        .get("/api/v1/mpi/tasks", mpi_tasks)
        .post("/api/v1/mpi/tasks/{id}/link", mpi_link)
        .post("/api/v1/mpi/tasks/{id}/not-same", mpi_not_same)
        .get("/api/v1/residents/{id}/access", resident_access)
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

/// The largest page a list returns.
pub const MAX_LIMIT: i64 = 500;
const DEFAULT_LIMIT: i64 = 100;

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// A record with its version as ETag.
fn with_etag<T: Serialize>(status: StatusCode, version: i64, body: T) -> Response {
    let mut r = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The version a client expects, from `If-Match: "3"` (or `W/"3"`); none when absent or `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, WebError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.trim_start_matches("W/").trim_matches('"');
    s.parse::<i64>().map(Some).map_err(|_| {
        WebError::from(ValidationError::new(
            "If-Match",
            Reason::Format {
                expected: "a version number in quotes, such as \"3\"",
                expected_zh: "带引号的版本号，如 \"3\"",
            },
        ))
    })
}

fn paging(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), WebError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(WebError::invalid(
            "limit",
            Reason::Range {
                min: 1,
                max: MAX_LIMIT,
            },
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(WebError::invalid(
            "offset",
            Reason::Range {
                min: 0,
                max: i64::MAX,
            },
        ));
    }
    Ok((limit, offset))
}

fn opt_id(field: &str, v: Option<&str>) -> Result<Option<Uuid>, WebError> {
    v.filter(|s| !s.is_empty())
        .map(|s| parse_id(field, s))
        .transpose()
}

// ---------------------------------------------------------------- communities

#[derive(Deserialize)]
struct IncludeInactive {
    include_inactive: Option<bool>,
}

async fn list_communities(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<IncludeInactive>,
) -> Result<Response, WebError> {
    let items = s
        .app
        .list_communities(&ctx, q.include_inactive.unwrap_or(false))
        .await?;
    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(Json(Page {
        total,
        limit: total,
        offset: 0,
        items,
    })
    .into_response())
}

async fn create_community(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(d): JsonBody<CommunityDraft>,
) -> Result<Response, WebError> {
    let c = s.app.create_community(&ctx, &d).await?;
    Ok(with_etag(StatusCode::CREATED, c.version, c))
}

async fn get_community(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = s.app.community(&ctx, parse_id("id", &id)?).await?;
    Ok(with_etag(StatusCode::OK, c.version, c))
}

async fn update_community(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(d): JsonBody<CommunityDraft>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let c = s
        .app
        .update_community(&ctx, id, &d, if_match(&headers)?)
        .await?;
    Ok(with_etag(StatusCode::OK, c.version, c))
}

async fn deactivate_community(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = s
        .app
        .set_community_active(&ctx, parse_id("id", &id)?, false)
        .await?;
    Ok(with_etag(StatusCode::OK, c.version, c))
}

async fn activate_community(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = s
        .app
        .set_community_active(&ctx, parse_id("id", &id)?, true)
        .await?;
    Ok(with_etag(StatusCode::OK, c.version, c))
}

async fn list_members(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = s.app.community_detail(&ctx, parse_id("id", &id)?).await?;
    let total = i64::try_from(d.members.len()).unwrap_or(i64::MAX);
    Ok(Json(Page {
        total,
        limit: total,
        offset: 0,
        items: d.members,
    })
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    institution_id: String,
}

async fn add_member(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MemberBody>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let iid = parse_id("institution_id", &b.institution_id)?;
    let d = s.app.add_community_member(&ctx, id, iid).await?;
    Ok((StatusCode::OK, Json(d)).into_response())
}

async fn remove_member(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path((id, iid)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let iid = parse_id("institution_id", &iid)?;
    let d = s.app.remove_community_member(&ctx, id, iid).await?;
    Ok(Json(d).into_response())
}

// ---------------------------------------------------------------- institutions

#[derive(Deserialize)]
struct InstitutionQuery {
    tier: Option<String>,
    kind: Option<String>,
    parent_id: Option<String>,
    community_id: Option<String>,
    q: Option<String>,
    include_inactive: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list_institutions(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<InstitutionQuery>,
) -> Result<Response, WebError> {
    let (limit, offset) = paging(q.limit, q.offset)?;
    let f = InstitutionFilter {
        tier: q
            .tier
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| Tier::parse("tier", v))
            .transpose()?,
        kind: q
            .kind
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| InstitutionType::parse("kind", v))
            .transpose()?,
        parent_id: opt_id("parent_id", q.parent_id.as_deref())?,
        community_id: opt_id("community_id", q.community_id.as_deref())?,
        q: q.q,
        include_inactive: q.include_inactive.unwrap_or(false),
        limit: Some(limit),
        offset,
    };
    let (items, total) = s.app.list_institutions(&ctx, &f).await?;
    Ok(Json(Page {
        items,
        total,
        limit,
        offset,
    })
    .into_response())
}

async fn create_institution(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(d): JsonBody<InstitutionDraft>,
) -> Result<Response, WebError> {
    let i = s.app.create_institution(&ctx, &d).await?;
    Ok(with_etag(StatusCode::CREATED, i.version, i))
}

async fn get_institution(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let i: Institution = s.app.institution(&ctx, parse_id("id", &id)?).await?;
    Ok(with_etag(StatusCode::OK, i.version, i))
}

async fn update_institution(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(d): JsonBody<InstitutionDraft>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let i = s
        .app
        .update_institution(&ctx, id, &d, if_match(&headers)?)
        .await?;
    Ok(with_etag(StatusCode::OK, i.version, i))
}

async fn deactivate_institution(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let i = s
        .app
        .deactivate_institution(&ctx, parse_id("id", &id)?)
        .await?;
    Ok(with_etag(StatusCode::OK, i.version, i))
}

async fn activate_institution(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let i = s
        .app
        .reactivate_institution(&ctx, parse_id("id", &id)?)
        .await?;
    Ok(with_etag(StatusCode::OK, i.version, i))
}

// ---------------------------------------------------------------- departments

async fn list_departments(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let items: Vec<Department> = s.app.departments(&ctx, parse_id("id", &id)?).await?;
    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(Json(Page {
        total,
        limit: total,
        offset: 0,
        items,
    })
    .into_response())
}

async fn create_department(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<DepartmentDraft>,
) -> Result<Response, WebError> {
    let dep = s
        .app
        .create_department(&ctx, parse_id("id", &id)?, &d)
        .await?;
    Ok(with_etag(StatusCode::CREATED, dep.version, dep))
}

async fn get_department(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = s.app.department(&ctx, parse_id("id", &id)?).await?;
    Ok(with_etag(StatusCode::OK, d.version, d))
}

async fn update_department(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(d): JsonBody<DepartmentDraft>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let dep = s
        .app
        .update_department(&ctx, id, &d, if_match(&headers)?)
        .await?;
    Ok(with_etag(StatusCode::OK, dep.version, dep))
}

async fn deactivate_department(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = s
        .app
        .set_department_active(&ctx, parse_id("id", &id)?, false)
        .await?;
    Ok(with_etag(StatusCode::OK, d.version, d))
}

async fn activate_department(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = s
        .app
        .set_department_active(&ctx, parse_id("id", &id)?, true)
        .await?;
    Ok(with_etag(StatusCode::OK, d.version, d))
}

// ---------------------------------------------------------------- staff

/// A staff member as the API shows it: ID and phone numbers masked.
#[derive(Serialize)]
struct StaffOut {
    id: Uuid,
    institution_id: Uuid,
    institution_name: String,
    department_id: Option<Uuid>,
    department_name: Option<String>,
    name: String,
    sex: Sex,
    title: ProfessionalTitle,
    licence_number: Option<String>,
    id_number_masked: Option<MaskedIdNumber>,
    phone_masked: Option<MaskedPhone>,
    active: bool,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
}

impl From<Staff> for StaffOut {
    fn from(s: Staff) -> Self {
        StaffOut {
            id_number_masked: masked::id_number(s.id_number.as_deref()),
            phone_masked: masked::phone(s.phone.as_deref()),
            id: s.id,
            institution_id: s.institution_id,
            institution_name: s.institution_name,
            department_id: s.department_id,
            department_name: s.department_name,
            name: s.name,
            sex: s.sex,
            title: s.title,
            licence_number: s.licence_number,
            active: s.active,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

fn staff_response(status: StatusCode, s: Staff) -> Response {
    let v = s.version;
    with_etag(status, v, StaffOut::from(s))
}

#[derive(Deserialize)]
struct StaffQuery {
    institution_id: Option<String>,
    department_id: Option<String>,
    title: Option<String>,
    q: Option<String>,
    include_inactive: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list_staff(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<StaffQuery>,
) -> Result<Response, WebError> {
    let (limit, offset) = paging(q.limit, q.offset)?;
    let f = StaffFilter {
        institution_id: opt_id("institution_id", q.institution_id.as_deref())?,
        department_id: opt_id("department_id", q.department_id.as_deref())?,
        title: q
            .title
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| ProfessionalTitle::parse("title", v))
            .transpose()?,
        q: q.q,
        include_inactive: q.include_inactive.unwrap_or(false),
        limit: Some(limit),
        offset,
    };
    let (items, total) = s.app.list_staff(&ctx, &f).await?;
    Ok(Json(Page {
        items: items.into_iter().map(StaffOut::from).collect(),
        total,
        limit,
        offset,
    })
    .into_response())
}

async fn create_staff(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(d): JsonBody<StaffDraft>,
) -> Result<Response, WebError> {
    let st = s.app.create_staff(&ctx, &d).await?;
    Ok(staff_response(StatusCode::CREATED, st))
}

async fn get_staff(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let st = s.app.staff_member(&ctx, parse_id("id", &id)?).await?;
    Ok(staff_response(StatusCode::OK, st))
}

async fn update_staff(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(d): JsonBody<StaffDraft>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let st = s
        .app
        .update_staff(&ctx, id, &d, if_match(&headers)?)
        .await?;
    Ok(staff_response(StatusCode::OK, st))
}

async fn deactivate_staff(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let st = s
        .app
        .set_staff_active(&ctx, parse_id("id", &id)?, false)
        .await?;
    Ok(staff_response(StatusCode::OK, st))
}

async fn activate_staff(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let st = s
        .app
        .set_staff_active(&ctx, parse_id("id", &id)?, true)
        .await?;
    Ok(staff_response(StatusCode::OK, st))
}

// ---------------------------------------------------------------- master patient index

/// A person as lists show it: identifiers masked (by the use case).
#[derive(Serialize)]
pub(crate) struct PersonOut {
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
