//! Sign-in, sign-out and the own account (password, sign out everywhere).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ygt_app::AppError;
use ygt_domain::access::{Permission, Role};
use ygt_domain::msg;

use crate::door::auth::{
    Auth, DEVICE_COOKIE, LOGIN_CSRF_COOKIE, clear_session_cookie, device_cookie, same_secret,
    session_cookie,
};
use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx};
use crate::door::i18n::{Lang, cookie};
use crate::door::layout::{FormState, Nav, PageInfo, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/login", login_page)
        .post("/login", login)
        .post("/logout", logout)
        .get("/account", account_page)
        .get("/account/password", password_page)
        .post("/account/password", change_password)
        .post("/account/sign-out-everywhere", sign_out_everywhere)
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Only local paths are followed after sign-in.
fn safe_next(n: Option<&str>) -> String {
    crate::door::layout::safe_next(n)
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
            let (message, _, _) = crate::door::error::describe(&e, t);
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
            ygt_domain::Reason::Other(msg!("admin.does_match_new_password")),
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
