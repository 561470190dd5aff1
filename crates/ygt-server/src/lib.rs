//! ygt-server: the web door of ygt. Pages for people (askama + htmx), a JSON API with its
//! OpenAPI document, health and metrics. Handlers are thin: parse, call a use case, render.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod admin;
mod api;
mod assets;
pub mod auth;
pub mod error;
mod extract;
pub mod fhir;
pub mod hl7;
pub mod i18n;
mod metrics;
mod mpi_pages;
pub mod openapi;
mod pages;
mod record_api;
mod record_pages;
mod referral_api;
mod referral_pages;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use serde_json::json;
use ygt_app::App;

pub use metrics::Metrics;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(app: App) -> Self {
        relay_events(&app);
        AppState {
            app,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// On PostgreSQL, relays the live events every ygt process commits (NOTIFY) to this
/// process's clients; on SQLite the process that commits publishes them itself.
fn relay_events(app: &App) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if app.store().backend() != ygt_app::ygt_store::Backend::Postgres {
        return;
    }
    let app = app.clone();
    rt.spawn(async move {
        let channel = ygt_app::referral::EVENT_CHANNEL;
        loop {
            let mut l = match app.store().listen(channel).await {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for live events; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    continue;
                }
            };
            loop {
                match l.recv().await {
                    Ok(payload) => {
                        match serde_json::from_str::<ygt_app::referral::LiveEvent>(&payload) {
                            Ok(ev) => {
                                let _ = app.events().send(ev);
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "a live event that does not parse")
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "live events connection lost; reconnecting");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    });
}

/// The request id of this request (from `X-Request-Id` when the client sent a sane one).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The client's address.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

/// One registered route: method, path template, and whether it belongs to the JSON API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
}

/// A router that remembers what it routes, so that tests (OpenAPI coverage, the access matrix)
/// can enumerate every endpoint.
pub struct Routes {
    router: Router<AppState>,
    list: Vec<RouteInfo>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            list: Vec::new(),
        }
    }

    fn add(mut self, method: &'static str, path: &'static str, mr: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, mr);
        self.list.push(RouteInfo { method, path });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("GET", path, axum::routing::get(h))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("POST", path, axum::routing::post(h))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("PUT", path, axum::routing::put(h))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("DELETE", path, axum::routing::delete(h))
    }

    /// A POST whose JSON body may be larger than [`extract::BODY_LIMIT`] (up to `limit`).
    pub fn post_large<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        h: H,
        limit: usize,
    ) -> Self {
        let mr = axum::routing::post(h).layer(axum::Extension(extract::BodyLimit(limit)));
        self.add("POST", path, mr)
    }

    /// A PUT whose JSON body may be larger than [`extract::BODY_LIMIT`] (up to `limit`).
    pub fn put_large<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        h: H,
        limit: usize,
    ) -> Self {
        let mr = axum::routing::put(h).layer(axum::Extension(extract::BodyLimit(limit)));
        self.add("PUT", path, mr)
    }
}

/// Every route of the server.
pub fn routes() -> Routes {
    let r = Routes::new()
        .get("/healthz", healthz)
        .get("/metrics", metrics_text)
        .get("/static/{*path}", assets::serve)
        .get("/api/openapi.json", openapi_json)
        .get("/api/docs", api_docs);
    let r = pages::routes(r);
    let r = admin::routes(r);
    let r = mpi_pages::routes(r);
    let r = record_pages::routes(r);
    let r = record_api::routes(r);
    let r = fhir::routes(r);
    let r = referral_api::routes(r);
    let r = referral_pages::routes(r);
    api::routes(r)
}

/// The list of every route (for tests and documentation).
pub fn route_list() -> Vec<RouteInfo> {
    routes().list
}

/// The full application with its middleware.
pub fn router(state: AppState) -> Router {
    let Routes { router, .. } = routes();
    router
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(middleware::from_fn(error::render_errors))
        .layer(axum::extract::DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_context))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes the requests under way.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn fallback() -> error::WebError {
    error::WebError::not_found()
}

async fn request_context(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Some(a) = addr {
        req.extensions_mut().insert(ClientAddr(a));
    }
    let start = std::time::Instant::now();
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    tracing::info!(request_id = %id, %method, status = resp.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request");
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // A response that sets its own policy (a PDF for the browser's viewer) keeps it.
    if h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        return resp;
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

async fn healthz(State(s): State<AppState>) -> Response {
    let backend = s.app.store().backend().name();
    match s.app.health().await {
        Ok(()) => Json(json!({"status": "ok", "database": backend})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "error", "database": backend})),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    let body = s
        .metrics
        .render(s.app.store().pool_stats(), s.app.store().backend().name());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn openapi_json() -> Response {
    Json(openapi::document()).into_response()
}

async fn api_docs() -> Response {
    axum::response::Html(assets::API_DOCS_HTML).into_response()
}
