//! The JSON API of organisations: communities, institutions, departments and staff.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ygt_app::ygt_store::org::{InstitutionFilter, Staff, StaffFilter};
use ygt_domain::org::{
    CommunityDraft, DepartmentDraft, InstitutionDraft, InstitutionType, ProfessionalTitle,
    StaffDraft, Tier,
};

use crate::door::api::{Page, if_match, opt_id, paging, with_etag};
use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::{AppState, Routes};

mod wire;
use wire::{CommunityDetailOut, CommunityOut, DepartmentOut, InstitutionOut, StaffOut};

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
    Ok(Json(Page::all(items.iter().map(CommunityOut::from).collect())).into_response())
}

async fn create_community(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(d): JsonBody<CommunityDraft>,
) -> Result<Response, WebError> {
    let c = s.app.create_community(&ctx, &d).await?;
    Ok(with_etag(
        StatusCode::CREATED,
        c.version,
        CommunityOut::from(&c),
    ))
}

async fn get_community(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = s.app.community(&ctx, parse_id("id", &id)?).await?;
    Ok(with_etag(StatusCode::OK, c.version, CommunityOut::from(&c)))
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
    Ok(with_etag(StatusCode::OK, c.version, CommunityOut::from(&c)))
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
    Ok(with_etag(StatusCode::OK, c.version, CommunityOut::from(&c)))
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
    Ok(with_etag(StatusCode::OK, c.version, CommunityOut::from(&c)))
}

async fn list_members(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = s.app.community_detail(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(Page::all(
        d.members.iter().map(InstitutionOut::from).collect(),
    ))
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
    Ok(Json(CommunityDetailOut::from(&d)).into_response())
}

async fn remove_member(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path((id, iid)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let iid = parse_id("institution_id", &iid)?;
    let d = s.app.remove_community_member(&ctx, id, iid).await?;
    Ok(Json(CommunityDetailOut::from(&d)).into_response())
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
        items: items.iter().map(InstitutionOut::from).collect(),
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
    Ok(with_etag(
        StatusCode::CREATED,
        i.version,
        InstitutionOut::from(&i),
    ))
}

async fn get_institution(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let i = s.app.institution(&ctx, parse_id("id", &id)?).await?;
    Ok(with_etag(
        StatusCode::OK,
        i.version,
        InstitutionOut::from(&i),
    ))
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
    Ok(with_etag(
        StatusCode::OK,
        i.version,
        InstitutionOut::from(&i),
    ))
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
    Ok(with_etag(
        StatusCode::OK,
        i.version,
        InstitutionOut::from(&i),
    ))
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
    Ok(with_etag(
        StatusCode::OK,
        i.version,
        InstitutionOut::from(&i),
    ))
}

// ---------------------------------------------------------------- departments

async fn list_departments(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let items = s.app.departments(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(Page::all(items.iter().map(DepartmentOut::from).collect())).into_response())
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
    Ok(with_etag(
        StatusCode::CREATED,
        dep.version,
        DepartmentOut::from(&dep),
    ))
}

async fn get_department(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = s.app.department(&ctx, parse_id("id", &id)?).await?;
    Ok(with_etag(
        StatusCode::OK,
        d.version,
        DepartmentOut::from(&d),
    ))
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
    Ok(with_etag(
        StatusCode::OK,
        dep.version,
        DepartmentOut::from(&dep),
    ))
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
    Ok(with_etag(
        StatusCode::OK,
        d.version,
        DepartmentOut::from(&d),
    ))
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
    Ok(with_etag(
        StatusCode::OK,
        d.version,
        DepartmentOut::from(&d),
    ))
}

// ---------------------------------------------------------------- staff

fn staff_response(status: StatusCode, s: Staff) -> Response {
    with_etag(status, s.version, StaffOut::from(&s))
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
        items: items.iter().map(StaffOut::from).collect(),
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
