//! The one mapping from use-case errors to HTTP. Handlers return [`WebError`]; a middleware
//! that knows the request (its path and language) renders it as JSON
//! (`{"error":{"code","message","field"}}`) for the API or as a page for people.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use ygt_app::AppError;
use ygt_domain::{Reason, ValidationError, ValidationErrors};

use crate::door::i18n::Lang;
use crate::door::layout::{Nav, render_error_page};
use crate::door::refusal::{offers_break_glass, render_resident_forbidden, resident_of_page};

/// An error on its way to the client.
#[derive(Debug)]
pub struct WebError(pub AppError);

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        WebError(e)
    }
}

impl From<ValidationErrors> for WebError {
    fn from(e: ValidationErrors) -> Self {
        WebError(AppError::Invalid(e))
    }
}

impl From<ValidationError> for WebError {
    fn from(e: ValidationError) -> Self {
        WebError(AppError::Invalid(e.into()))
    }
}

impl WebError {
    pub fn not_found() -> Self {
        WebError(AppError::NotFound("page"))
    }

    pub fn invalid(field: &str, reason: Reason) -> Self {
        WebError(AppError::invalid(field, reason))
    }
}

pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Duplicate { .. } | AppError::Stale | AppError::Conflict { .. } => {
            StatusCode::CONFLICT
        }
        AppError::Unauthenticated | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
        AppError::Forbidden { .. } | AppError::PasswordChangeRequired => StatusCode::FORBIDDEN,
        AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        AppError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Carries the error from the handler to [`render_errors`].
#[derive(Clone)]
struct Failure(Arc<AppError>);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let mut r = status.into_response();
        r.extensions_mut().insert(Failure(Arc::new(self.0)));
        r
    }
}

/// One message per error in the language asked for, and the field it concerns.
pub fn describe(e: &AppError, lang: Lang) -> (String, Option<String>, Vec<(String, String)>) {
    let en = lang.is_en();
    match e {
        AppError::Invalid(errs) => {
            let details: Vec<(String, String)> = errs
                .0
                .iter()
                .map(|v| (v.field.clone(), lang.reason(&v.reason)))
                .collect();
            let first = errs.first();
            let message = match first {
                Some(v) if en => format!("{} {}", v.field, lang.reason(&v.reason)),
                Some(v) => format!("{}：{}", v.field, lang.reason(&v.reason)),
                None => lang.t("error.title").to_owned(),
            };
            (message, first.map(|v| v.field.clone()), details)
        }
        AppError::NotFound(what) => (
            if en {
                format!("{what} not found")
            } else {
                lang.t("error.not_found").to_owned()
            },
            None,
            Vec::new(),
        ),
        AppError::Duplicate { field } => (
            if en {
                format!("{field} is already used by another record")
            } else {
                format!("{field}：已被其他记录使用")
            },
            Some(field.clone()),
            Vec::new(),
        ),
        AppError::Stale => (
            lang.t("error.stale").to_owned(),
            Some("version".into()),
            Vec::new(),
        ),
        AppError::Conflict { field, msg } => (lang.render(msg), field.clone(), Vec::new()),
        AppError::Unauthenticated => (
            if en {
                "sign-in required".to_owned()
            } else {
                "请先登录".to_owned()
            },
            None,
            Vec::new(),
        ),
        AppError::Forbidden { msg } => (lang.render(msg), None, Vec::new()),
        AppError::PasswordChangeRequired => (
            if en {
                "change your initial password first".to_owned()
            } else {
                "请先修改初始密码".to_owned()
            },
            None,
            Vec::new(),
        ),
        AppError::BadCredentials => (
            if en {
                "wrong user name or password".to_owned()
            } else {
                "用户名或密码错误".to_owned()
            },
            None,
            Vec::new(),
        ),
        AppError::Throttled { seconds } => {
            let (zh, e) = ygt_domain::signin::wait_text(*seconds);
            (
                if en {
                    format!("too many failed sign-in attempts; please try again in {e}")
                } else {
                    format!("登录失败次数过多，请 {zh}后再试")
                },
                None,
                Vec::new(),
            )
        }
        AppError::TooLarge { field, max } => (
            if en {
                format!("{field} is larger than {max} bytes")
            } else {
                format!("{field}：超过 {max} 字节")
            },
            Some(field.clone()),
            Vec::new(),
        ),
        AppError::UnsupportedMediaType { field, expected } => (
            if en {
                format!("{field} must be {expected}")
            } else {
                format!("{field}：应为 {expected}")
            },
            Some(field.clone()),
            Vec::new(),
        ),
        AppError::Store(_) => (
            if en {
                "internal error; the request id identifies it in the server log".to_owned()
            } else {
                "服务器内部错误，请凭请求编号联系管理员".to_owned()
            },
            None,
            Vec::new(),
        ),
    }
}

/// Whether a path is answered in JSON.
pub fn is_machine_path(path: &str) -> bool {
    path.starts_with("/api/") || is_fhir_path(path) || path == "/healthz" || path == "/metrics"
}

/// Whether a FHIR request asks for XML (`Accept` or `_format`), which is not served.
fn wants_xml(parts: &axum::http::request::Parts) -> bool {
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = parts.uri.query().map(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "_format" && v.contains("xml"))
    });
    let json_ok = accept.is_empty() || accept.contains("json") || accept.contains("*/*");
    format == Some(true) || (accept.contains("xml") && !json_ok)
}

/// An interaction FHIR clients may ask for that ygt does not serve, as an OperationOutcome.
fn fhir_refusal(status: StatusCode, text: &str) -> Response {
    let body = json!({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "not-supported", "diagnostics": text}]});
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::door::fhir::FHIR_JSON),
    );
    r
}

/// Whether a path belongs to the FHIR API (errors are OperationOutcomes).
pub fn is_fhir_path(path: &str) -> bool {
    path == "/fhir" || path.starts_with("/fhir/")
}

/// An error as a FHIR OperationOutcome: one issue per problem, `expression` naming the element.
pub fn operation_outcome(e: &AppError, lang: Lang) -> serde_json::Value {
    let code = match e {
        AppError::Invalid(_) => "invalid",
        AppError::NotFound(_) => "not-found",
        AppError::Duplicate { .. } => "duplicate",
        AppError::Stale | AppError::Conflict { .. } => "conflict",
        AppError::Unauthenticated | AppError::BadCredentials => "login",
        AppError::Forbidden { .. } | AppError::PasswordChangeRequired => "forbidden",
        AppError::Throttled { .. } => "throttled",
        AppError::TooLarge { .. } => "too-long",
        AppError::UnsupportedMediaType { .. } => "not-supported",
        AppError::Store(_) => "exception",
    };
    let (message, field, details) = describe(e, lang);
    let issues: Vec<serde_json::Value> = if details.is_empty() {
        let mut issue = json!({"severity": "error", "code": code, "diagnostics": message});
        if let Some(f) = field {
            issue["expression"] = json!([f]);
        }
        vec![issue]
    } else {
        details
            .iter()
            .map(|(f, m)| {
                json!({"severity": "error", "code": code, "diagnostics": format!("{f}: {m}"), "expression": [f]})
            })
            .collect()
    };
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

/// Renders every [`WebError`] of a response for the request it answers.
pub async fn render_errors(
    State(state): State<crate::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let lang = Lang::from_parts(&parts);
    let path = parts.uri.path().to_owned();
    let uri = parts.uri.clone();
    let resident_page = resident_of_page(&parts.method, &path);
    let request_id = parts
        .extensions
        .get::<crate::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let fhir_path = is_fhir_path(&path);
    if fhir_path && wants_xml(&parts) {
        return fhir_refusal(StatusCode::NOT_ACCEPTABLE, lang.t("common.fhir_json_only"));
    }
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    if fhir_path && resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        let text = lang.t("common.fhir_method_not_supported");
        return fhir_refusal(StatusCode::METHOD_NOT_ALLOWED, text);
    }
    let Some(Failure(err)) = resp.extensions_mut().remove::<Failure>() else {
        return resp;
    };
    let status = resp.status();
    if let AppError::Store(e) = err.as_ref() {
        tracing::error!(request_id = %request_id, error = %e, "request failed");
    }
    let auth = resp.extensions().get::<crate::door::auth::Auth>().cloned();
    let nav = Nav::new(&uri, "", auth.as_ref());
    let (message, field, details) = describe(&err, lang);
    let mut out = if is_fhir_path(&path) {
        let mut r = (status, operation_outcome(&err, lang).to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::door::fhir::FHIR_JSON),
        );
        r
    } else if is_machine_path(&path) {
        // Each detail also carries the validation reason's code (required, format, …).
        let reasons: Vec<&'static str> = match err.as_ref() {
            AppError::Invalid(v) => v.0.iter().map(|x| x.reason.code()).collect(),
            _ => Vec::new(),
        };
        let details: Vec<_> = details
            .iter()
            .enumerate()
            .map(|(i, (f, m))| match reasons.get(i) {
                Some(r) => json!({"field": f, "message": m, "reason": r}),
                None => json!({"field": f, "message": m}),
            })
            .collect();
        let body = json!({"error": {
            "code": err.code(),
            "message": message,
            "field": field,
            "details": details,
            "request_id": request_id,
        }});
        (status, axum::Json(body)).into_response()
    } else {
        let details: Vec<String> = details
            .into_iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect();
        let page = match resident_page {
            // A resident the user may not see: say why, and offer the ways in.
            Some(resident) if matches!(err.as_ref(), AppError::Forbidden { .. }) => {
                let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                render_resident_forbidden(
                    &state,
                    lang,
                    nav,
                    &message,
                    &details,
                    resident,
                    next,
                    offers_break_glass(auth.as_ref()),
                )
            }
            _ => render_error_page(lang, nav, &message, &details),
        };
        match page {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        out.headers_mut().insert("x-request-id", v);
    }
    if let AppError::Throttled { seconds } = err.as_ref() {
        out.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
    }
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}
