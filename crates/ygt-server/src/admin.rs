//! Sign-in, the own account, and the administration pages: accounts, role permissions, API
//! tokens, the audit log and the break-glass review queue.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;
use ygt_app::AppError;
use ygt_app::audit::{GrantKind, PrivilegeGrant};
use ygt_app::ygt_store::access::{ApiToken, BreakGlass, User};
use ygt_app::ygt_store::org::{Institution, InstitutionFilter};
use ygt_domain::access::{Permission, Role};

use crate::auth::{
    Auth, DEVICE_COOKIE, LOGIN_CSRF_COOKIE, clear_session_cookie, device_cookie, same_secret,
    session_cookie,
};
use crate::error::WebError;
use crate::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::i18n::{Lang, cookie};
use crate::pages::{FormState, Nav, PageInfo, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/login", login_page)
        .post("/login", login)
        .post("/logout", logout)
        .get("/account", account_page)
        .get("/account/password", password_page)
        .post("/account/password", change_password)
        .post("/account/sign-out-everywhere", sign_out_everywhere)
        .get("/admin/accounts", accounts_page)
        .post("/admin/accounts", create_account)
        .get("/admin/accounts/{id}", account_edit_page)
        .post("/admin/accounts/{id}", update_account)
        .post("/admin/accounts/{id}/reset-password", reset_password)
        .get("/admin/roles", roles_page)
        .post("/admin/roles/{role}", update_role)
        .get("/admin/tokens", tokens_page)
        .post("/admin/tokens", create_token)
        .post("/admin/tokens/{id}/revoke", revoke_token)
        .get("/audit/grants", grants_page)
        .get("/audit/break-glass", break_glass_page)
        .post("/audit/break-glass/{id}/review", review_break_glass)
}

fn fmt_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Only local paths are followed after sign-in.
fn safe_next(n: Option<&str>) -> String {
    crate::pages::safe_next(n)
}

// ---------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: Lang,
    nav: Nav,
    next: String,
    username: String,
    error: Option<String>,
    login_csrf: String,
}

fn login_response(page: &LoginPage, status: StatusCode) -> Result<Response, WebError> {
    let mut r = render_status(page, status)?;
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={}; Path=/login; HttpOnly; SameSite=Strict",
        page.login_csrf
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

async fn login_page(
    t: Lang,
    page: PageInfo,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    login_response(
        &LoginPage {
            t,
            nav: page.nav("login"),
            next: safe_next(q.get("next")),
            username: String::new(),
            error: None,
            login_csrf: random_hex(16),
        },
        StatusCode::OK,
    )
}

async fn login(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    crate::ClientTls(tls): crate::ClientTls,
    headers: HeaderMap,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    let next = safe_next(form.get("next"));
    let username = form.text("username");
    let fail = |msg: String| LoginPage {
        t,
        nav: page.nav("login"),
        next: next.clone(),
        username: username.clone(),
        error: Some(msg),
        login_csrf: random_hex(16),
    };
    // Double-submit check: the form's token must match the cookie set with the form.
    let cookie_of = |name: &str| {
        let mut req = axum::http::Request::builder();
        for v in headers.get_all(header::COOKIE) {
            req = req.header(header::COOKIE, v.clone());
        }
        let (parts, _) = req.body(()).ok()?.into_parts();
        cookie(&parts, name)
    };
    let expected = cookie_of(LOGIN_CSRF_COOKIE).unwrap_or_default();
    let given = form.text("login_csrf");
    if expected.is_empty() || !same_secret(&expected, &given) {
        return login_response(
            &fail(t.t("auth.form_expired").to_owned()),
            StatusCode::FORBIDDEN,
        );
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect::<String>());
    let devices =
        ygt_app::signin::device_cookie_entries(&cookie_of(DEVICE_COOKIE).unwrap_or_default());
    match s
        .app
        .sign_in_from(
            &ctx,
            &username,
            &form.text("password"),
            agent.as_deref(),
            &devices,
        )
        .await
    {
        Ok(signed) => {
            let to = if signed.must_change_password {
                "/account/password".to_owned()
            } else {
                next
            };
            let mut r = Redirect::to(&to).into_response();
            if let Some(c) = session_cookie(&signed.session_token, tls) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            if let Some(c) = device_cookie(&signed.device_cookie, tls) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            Ok(r)
        }
        Err(AppError::BadCredentials) => login_response(
            &fail(t.t("auth.bad_credentials").to_owned()),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e @ AppError::Throttled { seconds }) => {
            let (message, _, _) = crate::error::describe(&e, t);
            let mut r = login_response(&fail(message), StatusCode::TOO_MANY_REQUESTS)?;
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            Ok(r)
        }
        Err(e) => Err(WebError(e)),
    }
}

async fn logout(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    auth: Option<axum::Extension<Auth>>,
) -> Result<Response, WebError> {
    if let Some(a) = auth {
        if let Some(token) = a.0.session_token.clone() {
            s.app.sign_out(&ctx, &token).await?;
        }
        if let ygt_app::access::Via::Session { session_id } = a.0.principal.via {
            let _ = s.ended.send(crate::SessionEnded::Session(session_id));
        }
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(r)
}

// ---------------------------------------------------------------- own account

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    t: Lang,
    nav: Nav,
    name: String,
    display_name: String,
    institution: String,
    roles: Vec<Role>,
    permissions: Vec<Permission>,
    message: Option<String>,
}

async fn account_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let Some(p) = ctx.principal().cloned() else {
        return Err(WebError(AppError::Unauthenticated));
    };
    let institution = match p.institution_id {
        Some(i) => s
            .app
            .institution(&ctx, i)
            .await
            .map(|i| i.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let message = match q.get("done") {
        Some("password") => Some(t.t("auth.password_changed").to_owned()),
        Some("everywhere") => Some(t.t("auth.signed_out_everywhere").to_owned()),
        _ => None,
    };
    render_status(
        &AccountPage {
            t,
            nav: page.nav("account"),
            name: p.name.clone(),
            display_name: p.display_name.clone(),
            institution,
            roles: p.roles.clone(),
            permissions: p.permissions.iter().copied().collect(),
            message,
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    t: Lang,
    nav: Nav,
    form: FormState,
    forced: bool,
}

async fn password_page(t: Lang, page: PageInfo, ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let forced = ctx.principal().is_some_and(|p| p.must_change_password);
    render_status(
        &PasswordPage {
            t,
            nav: page.nav("account"),
            form: FormState::default(),
            forced,
        },
        StatusCode::OK,
    )
}

async fn change_password(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    let new = form.text("new_password");
    let result = if new != form.text("new_password_again") {
        Err(AppError::invalid(
            "new_password_again",
            ygt_domain::Reason::Other {
                zh: "两次输入的新密码不一致".into(),
                en: "does not match the new password".into(),
            },
        ))
    } else {
        s.app
            .change_password(&ctx, &form.text("current_password"), &new)
            .await
    };
    match result {
        Ok(()) => Ok(Redirect::to("/account?done=password").into_response()),
        Err(e) => {
            let mut state = FormState::default();
            state.absorb(e, t)?;
            let forced = ctx.principal().is_some_and(|p| p.must_change_password);
            render_status(
                &PasswordPage {
                    t,
                    nav: page.nav("account"),
                    form: state,
                    forced,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn sign_out_everywhere(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    s.app.sign_out_everywhere(&ctx).await?;
    if let Some(u) = ctx.principal().and_then(|p| p.user_id) {
        let _ = s.ended.send(crate::SessionEnded::User(u));
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(r)
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

// ---------------------------------------------------------------- grants for review

/// Grants listed per page.
const GRANTS_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "audit_grants.html")]
struct GrantsPage {
    t: Lang,
    nav: Nav,
    grants: Vec<PrivilegeGrant>,
    total: i64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

impl GrantsPage {
    fn when(&self, g: &PrivilegeGrant) -> String {
        fmt_time(g.at)
    }

    fn kind(&self, g: &PrivilegeGrant) -> &'static str {
        self.t.t(match g.kind {
            GrantKind::AccountRole => "audit.grant_account_role",
            GrantKind::RolePermission => "audit.grant_role_permission",
            GrantKind::Token => "audit.grant_token",
        })
    }

    /// The account, role or token that received the grant, in the reader's language.
    fn target(&self, g: &PrivilegeGrant) -> String {
        match (g.kind, g.role) {
            (GrantKind::RolePermission, Some(r)) => self.t.label(r).to_owned(),
            _ => g.target.clone(),
        }
    }

    fn target_link(&self, g: &PrivilegeGrant) -> Option<String> {
        match (g.kind, g.target_id) {
            (GrantKind::AccountRole, Some(id)) => Some(format!("/admin/accounts/{id}")),
            _ => None,
        }
    }

    fn permissions(&self, g: &PrivilegeGrant) -> String {
        let sep = if self.t.is_en() { ", " } else { "、" };
        g.permissions
            .iter()
            .map(|p| self.t.label(*p))
            .collect::<Vec<_>>()
            .join(sep)
    }
}

async fn grants_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let n = q.int("page")?.unwrap_or(1).max(1);
    let (grants, total) = s
        .app
        .grant_review(&ctx, GRANTS_PAGE, (n - 1) * GRANTS_PAGE)
        .await?;
    let link = |p: i64| format!("/audit/grants?page={p}");
    render_status(
        &GrantsPage {
            t,
            nav: page.nav("audit"),
            grants,
            total,
            page: n,
            prev: (n > 1).then(|| link(n - 1)),
            next: (n * GRANTS_PAGE < total).then(|| link(n + 1)),
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    t: Lang,
    nav: Nav,
    items: Vec<BreakGlass>,
    names: ygt_app::ygt_store::access::AuditNames,
    all: bool,
}

impl BreakGlassPage {
    fn when(&self, t: &time::OffsetDateTime) -> String {
        fmt_time(*t)
    }

    /// An account's display name (its id when unknown).
    fn user(&self, id: &uuid::Uuid) -> String {
        self.names
            .users
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// An institution's name, if it is known.
    fn institution(&self, id: &Option<uuid::Uuid>) -> Option<String> {
        id.and_then(|i| self.names.institutions.get(&i).cloned())
    }

    /// A resident's name (the id when unknown).
    fn resident(&self, id: &uuid::Uuid) -> String {
        self.names
            .persons
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// A review's outcome in the reader's language.
    fn outcome(&self, code: &str) -> String {
        match code {
            "justified" => self.t.t("audit.justified").to_owned(),
            "unjustified" => self.t.t("audit.unjustified").to_owned(),
            other => other.to_owned(),
        }
    }
}

async fn break_glass_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let all = q.get("all") == Some("1");
    let items = s.app.break_glass_queue(&ctx, !all).await?;
    let names = s.app.break_glass_names(&ctx, &items).await?;
    render_status(
        &BreakGlassPage {
            t,
            nav: page.nav("audit"),
            items,
            names,
            all,
        },
        StatusCode::OK,
    )
}

async fn review_break_glass(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app
        .review_break_glass(&ctx, id, &form.text("outcome"), form.get("note"))
        .await?;
    Ok(Redirect::to("/audit/break-glass").into_response())
}
