//! The pages of institutions and their departments.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ygt_app::org::{InstitutionDetail, TreeNode};
use ygt_app::ygt_store::org::{Department, Institution, InstitutionFilter};
use ygt_domain::org::{DepartmentDraft, InstitutionDraft, InstitutionType, ServiceKind, Tier};

use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, PageInfo, render, render_status, see_other, version_of};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/institutions", institutions)
        .get("/institutions/new", institution_new)
        .post("/institutions", institution_create)
        .get("/institutions/{id}", institution_page)
        .post("/institutions/{id}", institution_update)
        .get("/institutions/{id}/edit", institution_edit)
        .post("/institutions/{id}/deactivate", institution_deactivate)
        .post("/institutions/{id}/activate", institution_activate)
        .get("/institutions/{id}/departments/new", department_new)
        .post("/institutions/{id}/departments", department_create)
        .get("/departments/{id}/edit", department_edit)
        .post("/departments/{id}", department_update)
        .post("/departments/{id}/deactivate", department_deactivate)
        .post("/departments/{id}/activate", department_activate)
}

// ---------------------------------------------------------------- institutions

#[derive(Template)]
#[template(path = "institutions.html")]
struct InstitutionsPage {
    t: Lang,
    nav: Nav,
    tiers: &'static [Tier],
    tier: String,
    tree: Vec<TreeNode>,
    flat: Vec<Institution>,
}

async fn institutions(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let tier = match q.opt("tier") {
        Some(v) => Some(Tier::parse("tier", &v)?),
        None => None,
    };
    let (tree, flat) = match tier {
        None => (s.app.institution_tree(&ctx).await?, Vec::new()),
        Some(tier) => {
            let (items, _) = s
                .app
                .list_institutions(
                    &ctx,
                    &InstitutionFilter {
                        tier: Some(tier),
                        ..Default::default()
                    },
                )
                .await?;
            (Vec::new(), items)
        }
    };
    render(&InstitutionsPage {
        t,
        nav: uri.nav("institutions"),
        tiers: Tier::ALL,
        tier: tier.map(|x| x.code().to_owned()).unwrap_or_default(),
        tree,
        flat,
    })
}

#[derive(Template)]
#[template(path = "institution.html")]
struct InstitutionPage {
    t: Lang,
    nav: Nav,
    d: InstitutionDetail,
}

async fn institution_page(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = s.app.institution_detail(&ctx, id).await?;
    render(&InstitutionPage {
        t,
        nav: uri.nav("institutions"),
        d,
    })
}

#[derive(Template)]
#[template(path = "institution_form.html")]
struct InstitutionForm {
    t: Lang,
    nav: Nav,
    heading: String,
    action: String,
    cancel: String,
    form: FormState,
    kinds: &'static [InstitutionType],
    tiers: &'static [Tier],
    services: &'static [ServiceKind],
    parents: Vec<Institution>,
}

impl InstitutionForm {
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
        let (all, _) = s
            .app
            .list_institutions(ctx, &InstitutionFilter::default())
            .await?;
        let parents = all
            .into_iter()
            .filter(|i| i.tier != Tier::Village)
            .collect();
        Ok(InstitutionForm {
            t,
            nav: uri.nav("institutions"),
            heading,
            action,
            cancel,
            form,
            kinds: InstitutionType::ALL,
            tiers: Tier::ALL,
            services: ServiceKind::ALL,
            parents,
        })
    }
}

fn institution_draft(f: &FormData) -> InstitutionDraft {
    InstitutionDraft {
        name: f.text("name"),
        aliases: f
            .text("aliases")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        kind: f.text("kind"),
        tier: f.opt("tier"),
        parent_id: f.opt("parent_id"),
        uscc: f.opt("uscc"),
        division_code: f.text("division_code"),
        address: f.opt("address"),
        phone: f.opt("phone"),
        services: f.all("services"),
    }
}

fn institution_form_state(i: &Institution) -> FormState {
    let mut f = FormState::default();
    f.set("name", i.name.clone());
    f.set("aliases", i.aliases.join("\n"));
    f.set("kind", i.kind.code());
    f.set("tier", i.tier.code());
    f.set(
        "parent_id",
        i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
    );
    f.set("uscc", i.uscc.clone().unwrap_or_default());
    f.set("division_code", i.division_code.clone());
    f.set("address", i.address.clone().unwrap_or_default());
    f.set("phone", i.phone.clone().unwrap_or_default());
    for sv in &i.services {
        f.set("services", sv.code());
    }
    f.set("version", i.version.to_string());
    f
}

async fn institution_new(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let mut form = FormState::default();
    if let Some(p) = q.opt("parent_id") {
        let pid = parse_id("parent_id", &p)?;
        let parent = s.app.institution(&ctx, pid).await?;
        form.set("parent_id", p);
        form.set("division_code", parent.division_code.clone());
        let kind = match parent.tier {
            Tier::County => InstitutionType::TownshipHealthCentre,
            _ => InstitutionType::VillageClinic,
        };
        form.set("kind", kind.code());
    }
    let page = InstitutionForm::new(
        &s,
        &ctx,
        t,
        &uri,
        t.t("action.new_institution").to_owned(),
        "/institutions".into(),
        "/institutions".into(),
        form,
    )
    .await?;
    render(&page)
}

async fn institution_create(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    match s
        .app
        .create_institution(&ctx, &institution_draft(&form))
        .await
    {
        Ok(i) => Ok(see_other(&format!("/institutions/{}", i.id))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = InstitutionForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.new_institution").to_owned(),
                "/institutions".into(),
                "/institutions".into(),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn institution_edit(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let i = s.app.institution(&ctx, id).await?;
    let page = InstitutionForm::new(
        &s,
        &ctx,
        t,
        &uri,
        format!("{} · {}", t.t("action.edit"), i.name),
        format!("/institutions/{id}"),
        format!("/institutions/{id}"),
        institution_form_state(&i),
    )
    .await?;
    render(&page)
}

async fn institution_update(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let version = version_of(&form)?;
    match s
        .app
        .update_institution(&ctx, id, &institution_draft(&form), version)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/institutions/{id}"))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = InstitutionForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.edit").to_owned(),
                format!("/institutions/{id}"),
                format!("/institutions/{id}"),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn institution_deactivate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.deactivate_institution(&ctx, id).await?;
    Ok(see_other(&format!("/institutions/{id}")))
}

async fn institution_activate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.reactivate_institution(&ctx, id).await?;
    Ok(see_other(&format!("/institutions/{id}")))
}

// ---------------------------------------------------------------- departments

#[derive(Template)]
#[template(path = "department_form.html")]
struct DepartmentForm {
    t: Lang,
    nav: Nav,
    heading: String,
    action: String,
    form: FormState,
    institution: Institution,
    department: Option<Department>,
}

fn department_draft(f: &FormData) -> Result<DepartmentDraft, WebError> {
    Ok(DepartmentDraft {
        name: f.text("name"),
        code: f.opt("code"),
        beds: f.int("beds")?,
        phone: f.opt("phone"),
    })
}

async fn department_new(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let institution = s.app.institution(&ctx, id).await?;
    render(&DepartmentForm {
        t,
        nav: uri.nav("institutions"),
        heading: t.t("action.new_department").to_owned(),
        action: format!("/institutions/{id}/departments"),
        form: FormState::default(),
        institution,
        department: None,
    })
}

async fn department_create(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let result = match department_draft(&form) {
        Ok(d) => s.app.create_department(&ctx, id, &d).await,
        Err(WebError(e)) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/institutions/{id}"))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let institution = s.app.institution(&ctx, id).await?;
            render_status(
                &DepartmentForm {
                    t,
                    nav: uri.nav("institutions"),
                    heading: t.t("action.new_department").to_owned(),
                    action: format!("/institutions/{id}/departments"),
                    form: state,
                    institution,
                    department: None,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn department_edit(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let dep = s.app.department(&ctx, id).await?;
    let institution = s.app.institution(&ctx, dep.institution_id).await?;
    let mut form = FormState::default();
    form.set("name", dep.name.clone());
    form.set("code", dep.code.clone().unwrap_or_default());
    form.set("beds", dep.beds.to_string());
    form.set("phone", dep.phone.clone().unwrap_or_default());
    form.set("version", dep.version.to_string());
    render(&DepartmentForm {
        t,
        nav: uri.nav("institutions"),
        heading: format!("{} · {}", t.t("action.edit"), dep.name),
        action: format!("/departments/{id}"),
        form,
        institution,
        department: Some(dep),
    })
}

async fn department_update(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let dep = s.app.department(&ctx, id).await?;
    let result = match (department_draft(&form), version_of(&form)) {
        (Ok(d), Ok(v)) => s.app.update_department(&ctx, id, &d, v).await,
        (Err(WebError(e)), _) | (_, Err(WebError(e))) => Err(e),
    };
    match result {
        Ok(d) => Ok(see_other(&format!("/institutions/{}", d.institution_id))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let institution = s.app.institution(&ctx, dep.institution_id).await?;
            render_status(
                &DepartmentForm {
                    t,
                    nav: uri.nav("institutions"),
                    heading: format!("{} · {}", t.t("action.edit"), dep.name),
                    action: format!("/departments/{id}"),
                    form: state,
                    institution,
                    department: Some(dep),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn department_deactivate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = s.app.set_department_active(&ctx, id, false).await?;
    Ok(see_other(&format!("/institutions/{}", d.institution_id)))
}

async fn department_activate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = s.app.set_department_active(&ctx, id, true).await?;
    Ok(see_other(&format!("/institutions/{}", d.institution_id)))
}
