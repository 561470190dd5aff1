//! The pages of medical communities (医共体) and their member institutions.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;
use ygt_app::AppError;
use ygt_app::org::CommunityDetail;
use ygt_app::ygt_store::org::{Community, Institution, InstitutionFilter};
use ygt_domain::org::{AllianceForm, CommunityDraft};

use crate::door::error::WebError;
use crate::door::extract::{FormData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, PageInfo, render, render_status, see_other, version_of};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/communities", communities)
        .get("/communities/new", community_new)
        .post("/communities", community_create)
        .get("/communities/{id}", community_page)
        .post("/communities/{id}", community_update)
        .get("/communities/{id}/edit", community_edit)
        .post("/communities/{id}/deactivate", community_deactivate)
        .post("/communities/{id}/activate", community_activate)
        .post("/communities/{id}/members", community_add_member)
        .post(
            "/communities/{id}/members/{institution_id}/remove",
            community_remove_member,
        )
}

// ---------------------------------------------------------------- communities

#[derive(Template)]
#[template(path = "communities.html")]
struct CommunitiesPage {
    t: Lang,
    nav: Nav,
    communities: Vec<Community>,
}

async fn communities(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let communities = s.app.list_communities(&ctx, true).await?;
    render(&CommunitiesPage {
        t,
        nav: uri.nav("communities"),
        communities,
    })
}

#[derive(Template)]
#[template(path = "community.html")]
struct CommunityPage {
    t: Lang,
    nav: Nav,
    d: CommunityDetail,
    candidates: Vec<Institution>,
    form: FormState,
}

impl CommunityPage {
    fn is_lead(&self, id: &Uuid) -> bool {
        self.d.community.lead_institution_id.as_ref() == Some(id)
    }
}

async fn community_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    uri: &PageInfo,
    id: Uuid,
    form: FormState,
    status: StatusCode,
) -> Result<Response, WebError> {
    let d = s.app.community_detail(ctx, id).await?;
    let (all, _) = s
        .app
        .list_institutions(ctx, &InstitutionFilter::default())
        .await?;
    let candidates = all
        .into_iter()
        .filter(|i| !d.members.iter().any(|m| m.id == i.id))
        .collect();
    render_status(
        &CommunityPage {
            t,
            nav: uri.nav("communities"),
            d,
            candidates,
            form,
        },
        status,
    )
}

async fn community_page(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    community_view(&s, &ctx, t, &uri, id, FormState::default(), StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "community_form.html")]
struct CommunityForm {
    t: Lang,
    nav: Nav,
    heading: String,
    action: String,
    cancel: String,
    form: FormState,
    forms: &'static [AllianceForm],
    institutions: Vec<Institution>,
}

impl CommunityForm {
    #[allow(clippy::too_many_arguments)]
    async fn new(
        s: &AppState,
        ctx: &ygt_app::Ctx,
        t: Lang,
        uri: &PageInfo,
        heading: String,
        action: String,
        cancel: String,
        form: FormState,
    ) -> Result<Self, WebError> {
        let (institutions, _) = s
            .app
            .list_institutions(ctx, &InstitutionFilter::default())
            .await?;
        Ok(CommunityForm {
            t,
            nav: uri.nav("communities"),
            heading,
            action,
            cancel,
            form,
            forms: AllianceForm::ALL,
            institutions,
        })
    }
}

fn community_draft(f: &FormData) -> CommunityDraft {
    CommunityDraft {
        name: f.text("name"),
        form: f.text("form"),
        lead_institution_id: f.opt("lead_institution_id"),
        division_code: f.opt("division_code"),
        description: f.opt("description"),
    }
}

async fn community_new(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let page = CommunityForm::new(
        &s,
        &ctx,
        t,
        &uri,
        t.t("action.new_community").to_owned(),
        "/communities".into(),
        "/communities".into(),
        FormState::default(),
    )
    .await?;
    render(&page)
}

async fn community_create(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    match s.app.create_community(&ctx, &community_draft(&form)).await {
        Ok(c) => Ok(see_other(&format!("/communities/{}", c.id))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = CommunityForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.new_community").to_owned(),
                "/communities".into(),
                "/communities".into(),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn community_edit(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let c = s.app.community(&ctx, id).await?;
    let mut form = FormState::default();
    form.set("name", c.name.clone());
    form.set("form", c.form.code());
    form.set(
        "lead_institution_id",
        c.lead_institution_id
            .map(|x| x.to_string())
            .unwrap_or_default(),
    );
    form.set("division_code", c.division_code.clone().unwrap_or_default());
    form.set("description", c.description.clone().unwrap_or_default());
    form.set("version", c.version.to_string());
    let page = CommunityForm::new(
        &s,
        &ctx,
        t,
        &uri,
        format!("{} · {}", t.t("action.edit"), c.name),
        format!("/communities/{id}"),
        format!("/communities/{id}"),
        form,
    )
    .await?;
    render(&page)
}

async fn community_update(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let result = match version_of(&form) {
        Ok(v) => {
            s.app
                .update_community(&ctx, id, &community_draft(&form), v)
                .await
        }
        Err(WebError(e)) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/communities/{id}"))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = CommunityForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.edit").to_owned(),
                format!("/communities/{id}"),
                format!("/communities/{id}"),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn community_deactivate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.set_community_active(&ctx, id, false).await?;
    Ok(see_other(&format!("/communities/{id}")))
}

async fn community_activate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.set_community_active(&ctx, id, true).await?;
    Ok(see_other(&format!("/communities/{id}")))
}

async fn community_add_member(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let result = match form.opt("institution_id") {
        None => Err(AppError::invalid(
            "institution_id",
            ygt_domain::Reason::Required,
        )),
        Some(v) => match parse_id("institution_id", &v) {
            Ok(iid) => s.app.add_community_member(&ctx, id, iid).await.map(|_| ()),
            Err(WebError(e)) => Err(e),
        },
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/communities/{id}"))),
        Err(e) => {
            let mut state = FormState::default();
            state.absorb(e, t)?;
            community_view(
                &s,
                &ctx,
                t,
                &uri,
                id,
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn community_remove_member(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path((id, iid)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let iid = parse_id("institution_id", &iid)?;
    match s.app.remove_community_member(&ctx, id, iid).await {
        Ok(_) => Ok(see_other(&format!("/communities/{id}"))),
        Err(e) => {
            let mut state = FormState::default();
            state.absorb(e, t)?;
            community_view(
                &s,
                &ctx,
                t,
                &uri,
                id,
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
