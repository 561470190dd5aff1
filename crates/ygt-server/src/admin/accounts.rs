//! The administration of accounts, role permissions and API tokens.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;
use ygt_app::AppError;
use ygt_app::ygt_store::access::{ApiToken, User};
use ygt_app::ygt_store::org::{Institution, InstitutionFilter};
use ygt_domain::access::{Permission, Role};

use super::fmt_time;
use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, PageInfo, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/admin/accounts", accounts_page)
        .post("/admin/accounts", create_account)
        .get("/admin/accounts/{id}", account_edit_page)
        .post("/admin/accounts/{id}", update_account)
        .post("/admin/accounts/{id}/reset-password", reset_password)
        .get("/admin/roles", roles_page)
        .post("/admin/roles/{role}", update_role)
        .get("/admin/tokens", tokens_page)
        .post("/admin/tokens", create_token)
        .post("/admin/tokens/{id}/revoke", revoke_token)
}

// ---------------------------------------------------------------- accounts

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    t: Lang,
    nav: Nav,
    q: String,
    accounts: Vec<(User, Vec<Role>)>,
    institutions: Vec<Institution>,
    roles: &'static [Role],
    form: FormState,
    created: Option<(String, String)>,
}

impl AccountsPage {
    fn institution_name(&self, id: &Option<Uuid>) -> String {
        id.and_then(|i| self.institutions.iter().find(|x| x.id == i))
            .map(|x| x.name.clone())
            .unwrap_or_default()
    }
}

#[allow(clippy::too_many_arguments)]
async fn accounts_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    q: String,
    form: FormState,
    created: Option<(String, String)>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let accounts = s
        .app
        .list_accounts(ctx, Some(q.clone()).filter(|x| !x.is_empty()))
        .await?;
    let (institutions, _) = s
        .app
        .list_institutions(ctx, &InstitutionFilter::default())
        .await?;
    render_status(
        &AccountsPage {
            t,
            nav: page.nav("accounts"),
            q,
            accounts,
            institutions,
            roles: Role::ALL,
            form,
            created,
        },
        status,
    )
}

async fn accounts_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    accounts_view(
        &s,
        &ctx,
        t,
        &page,
        q.text("q"),
        FormState::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn create_account(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    let draft = ygt_app::account::AccountDraft {
        username: form.text("username"),
        display_name: form.text("display_name"),
        institution_id: form.opt("institution_id"),
        staff_id: None,
        roles: form.all("roles"),
        password: None,
        must_change_password: Some(true),
    };
    match s.app.create_account(&ctx, &draft).await {
        Ok(c) => {
            let created = Some((
                c.user.username.clone(),
                c.temporary_password.unwrap_or_default(),
            ));
            accounts_view(
                &s,
                &ctx,
                t,
                &page,
                String::new(),
                FormState::default(),
                created,
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            accounts_view(
                &s,
                &ctx,
                t,
                &page,
                String::new(),
                state,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "account_edit.html")]
struct AccountEditPage {
    t: Lang,
    nav: Nav,
    user: User,
    user_roles: Vec<Role>,
    roles: &'static [Role],
    institutions: Vec<Institution>,
    form: FormState,
    temporary_password: Option<String>,
}

impl AccountEditPage {
    fn has_role(&self, r: &Role) -> bool {
        self.user_roles.contains(r)
    }

    fn is_institution(&self, id: &Uuid) -> bool {
        self.user.institution_id.as_ref() == Some(id)
    }
}

#[allow(clippy::too_many_arguments)]
async fn account_edit_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    id: Uuid,
    form: FormState,
    temporary_password: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let (user, user_roles) = s.app.account(ctx, id).await?;
    let (institutions, _) = s
        .app
        .list_institutions(ctx, &InstitutionFilter::default())
        .await?;
    render_status(
        &AccountEditPage {
            t,
            nav: page.nav("accounts"),
            user,
            user_roles,
            roles: Role::ALL,
            institutions,
            form,
            temporary_password,
        },
        status,
    )
}

async fn account_edit_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    account_edit_view(
        &s,
        &ctx,
        t,
        &page,
        id,
        FormState::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn update_account(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let institution = match form.opt("institution_id") {
        Some(v) => Some(parse_id("institution_id", &v)?),
        None => None,
    };
    match s
        .app
        .update_account(
            &ctx,
            id,
            &form.text("display_name"),
            institution,
            &form.all("roles"),
            form.get("active") == Some("on"),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response()),
        Err(e) => {
            let mut state = FormState::default();
            state.absorb(e, t)?;
            account_edit_view(
                &s,
                &ctx,
                t,
                &page,
                id,
                state,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn reset_password(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let temp = s.app.reset_password(&ctx, id).await?;
    account_edit_view(
        &s,
        &ctx,
        t,
        &page,
        id,
        FormState::default(),
        Some(temp),
        StatusCode::OK,
    )
    .await
}

// ---------------------------------------------------------------- roles

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    t: Lang,
    nav: Nav,
    roles: &'static [Role],
    permissions: Vec<Permission>,
    granted: Vec<(Role, Permission)>,
    form: FormState,
}

impl RolesPage {
    fn has(&self, r: &Role, p: &Permission) -> bool {
        self.granted.contains(&(*r, *p))
    }
}

async fn roles_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    form: FormState,
    status: StatusCode,
) -> Result<Response, WebError> {
    let granted = s.app.role_permissions(ctx).await?;
    render_status(
        &RolesPage {
            t,
            nav: page.nav("roles"),
            roles: Role::ALL,
            // Token-only permissions are never a role's.
            permissions: Permission::ALL
                .iter()
                .copied()
                .filter(|p| !p.is_token_only())
                .collect(),
            granted,
            form,
        },
        status,
    )
}

async fn roles_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    roles_view(&s, &ctx, t, &page, FormState::default(), StatusCode::OK).await
}

async fn update_role(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(role): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let role = Role::parse("role", &role)?;
    let mut perms = Vec::new();
    for (i, p) in form.all("permissions").iter().enumerate() {
        perms.push(Permission::parse(&format!("permissions[{i}]"), p)?);
    }
    match s.app.set_role_permissions(&ctx, role, &perms).await {
        Ok(()) => Ok(Redirect::to("/admin/roles").into_response()),
        Err(e) => {
            let mut state = FormState::default();
            state.absorb(e, t)?;
            roles_view(&s, &ctx, t, &page, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------- API tokens

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    t: Lang,
    nav: Nav,
    tokens: Vec<ApiToken>,
    institutions: Vec<Institution>,
    permissions: Vec<Permission>,
    form: FormState,
    secret: Option<String>,
}

impl TokensPage {
    fn institution_name(&self, id: &Uuid) -> String {
        self.institutions
            .iter()
            .find(|x| x.id == *id)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    }

    fn when(&self, t: &Option<time::OffsetDateTime>) -> String {
        t.map(fmt_time).unwrap_or_else(|| "—".into())
    }
}

async fn tokens_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    form: FormState,
    secret: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let tokens = s.app.list_tokens(ctx).await?;
    let (institutions, _) = s
        .app
        .list_institutions(ctx, &InstitutionFilter::default())
        .await?;
    // What the creator holds (administration excepted, never a token's), and the integration
    // set, which those who configure roles (system administrators) may always give.
    let permissions = Permission::ALL
        .iter()
        .copied()
        .filter(|x| !x.is_administration())
        .filter(|x| {
            ctx.principal()
                .is_none_or(|p| p.can(*x) || x.is_integration() && p.can(Permission::RoleManage))
        })
        .collect();
    render_status(
        &TokensPage {
            t,
            nav: page.nav("tokens"),
            tokens,
            institutions,
            permissions,
            form,
            secret,
        },
        status,
    )
}

async fn tokens_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    tokens_view(
        &s,
        &ctx,
        t,
        &page,
        FormState::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn create_token(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    let result = async {
        let inst = match form.opt("institution_id") {
            Some(v) => parse_id("institution_id", &v).map_err(|e| e.0)?,
            None => {
                return Err(AppError::invalid(
                    "institution_id",
                    ygt_domain::Reason::Required,
                ));
            }
        };
        let days = form.int("valid_days").map_err(|e| e.0)?;
        s.app
            .create_token(
                &ctx,
                &form.text("name"),
                inst,
                &form.all("permissions"),
                days,
            )
            .await
    }
    .await;
    match result {
        Ok(c) => {
            tokens_view(
                &s,
                &ctx,
                t,
                &page,
                FormState::default(),
                Some(c.secret),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            tokens_view(
                &s,
                &ctx,
                t,
                &page,
                state,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn revoke_token(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.revoke_token(&ctx, id).await?;
    Ok(Redirect::to("/admin/tokens").into_response())
}
