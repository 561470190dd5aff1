//! Authentication at the door: session cookies for people, bearer tokens for integrations,
//! CSRF protection for every state-changing request made with a cookie.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use ygt_app::AppError;
use ygt_app::access::{Principal, Via};
use ygt_domain::msg;

use crate::AppState;
use crate::door::error::{WebError, is_machine_path};
use crate::door::extract::BODY_LIMIT;
use crate::door::i18n::cookie;

pub const SESSION_COOKIE: &str = "ygt_session";
/// The device cookie of a browser that signed in before (sent to `/login` only): its attempts
/// are not slowed down by others' failures (`ygt_app::signin`).
pub const DEVICE_COOKIE: &str = "ygt_device";
/// How long a browser keeps its device cookie (180 days, as the platform accepts it).
const DEVICE_COOKIE_MAX_AGE: i64 = 180 * 24 * 3600;
pub const LOGIN_CSRF_COOKIE: &str = "ygt_login_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf";

/// Who made this request.
#[derive(Clone, Debug)]
pub struct Auth {
    pub principal: Principal,
    /// The session's CSRF token (None for bearer tokens).
    pub csrf: Option<String>,
    /// The raw session cookie (to sign out).
    pub session_token: Option<String>,
}

/// Paths anyone may use without signing in.
pub fn is_public(path: &str) -> bool {
    path == "/healthz"
        || path == "/fhir/metadata"
        || path == "/login"
        || path.starts_with("/static/")
        || path.starts_with("/lang/")
        || path == "/favicon.ico"
}

/// Paths a user who must change the initial password may still use.
fn allowed_before_password_change(path: &str) -> bool {
    path == "/account/password" || path == "/logout"
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Constant-time comparison of two secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn csrf_error() -> WebError {
    WebError(AppError::forbidden(msg!("common.form_expired_request_did")))
}

pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // `/metrics` checks its own bearer token (the configuration's, not an API token).
    if req.uri().path() == "/metrics" {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let mut auth: Option<Auth> = None;

    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    if let Some(secret) = bearer {
        match state.app.token_principal(&secret).await {
            Ok(Some(p)) => {
                auth = Some(Auth {
                    principal: p,
                    csrf: None,
                    session_token: None,
                })
            }
            Ok(None) => return WebError(AppError::Unauthenticated).into_response(),
            Err(e) => return WebError(e).into_response(),
        }
    } else if let Some(token) = cookie(&parts, SESSION_COOKIE) {
        match state.app.session_principal(&token).await {
            Ok(Some(s)) => {
                auth = Some(Auth {
                    principal: s.principal,
                    csrf: Some(s.csrf_token),
                    session_token: Some(token),
                })
            }
            Ok(None) => {}
            Err(e) => return WebError(e).into_response(),
        }
    }

    let machine = is_machine_path(&path);
    let Some(a) = auth else {
        if is_public(&path) {
            return next.run(Request::from_parts(parts, body)).await;
        }
        if machine || !is_safe(&parts.method) {
            return WebError(AppError::Unauthenticated).into_response();
        }
        let next_path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let q: String = form_urlencoded::byte_serialize(next_path.as_bytes()).collect();
        return Redirect::to(&format!("/login?next={q}")).into_response();
    };

    if a.principal.must_change_password
        && !allowed_before_password_change(&path)
        && !is_public(&path)
    {
        if machine || !is_safe(&parts.method) {
            return WebError(AppError::PasswordChangeRequired).into_response();
        }
        return Redirect::to("/account/password").into_response();
    }

    // CSRF: a request carried by the session cookie that changes something must prove it came
    // from a page of ygt (header for htmx and scripts, hidden field for forms).
    let mut body = body;
    if matches!(a.principal.via, Via::Session { .. }) && !is_safe(&parts.method) {
        let expected = a.csrf.clone().unwrap_or_default();
        let header_ok = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| same_secret(v, &expected));
        if !header_ok {
            let is_form = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return csrf_error().into_response();
            }
            let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
                Ok(b) => b,
                Err(_) => return csrf_error().into_response(),
            };
            let field_ok = form_urlencoded::parse(&bytes)
                .any(|(k, v)| k == CSRF_FIELD && same_secret(&v, &expected));
            if !field_ok {
                return csrf_error().into_response();
            }
            body = Body::from(bytes);
        }
    }

    parts.extensions.insert(a.clone());
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    // Error pages are rendered further out; they show who is signed in too.
    resp.extensions_mut().insert(a);
    resp
}

/// The Set-Cookie value of a session.
pub fn session_cookie(token: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// The Set-Cookie value of a browser's device cookie.
pub fn device_cookie(value: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{DEVICE_COOKIE}={value}; Path=/login; Max-Age={DEVICE_COOKIE_MAX_AGE}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// Clears the session cookie.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("ygt_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}
