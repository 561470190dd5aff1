//! ygt-server: the web door of ygt. Pages for people (askama + htmx), a JSON API with its
//! OpenAPI document, FHIR R4, health and metrics. Handlers are thin: parse, call a use case,
//! render.
//!
//! One folder per capability (`org`, `mpi`, `record`, `referral`, `admin`: pages, JSON API
//! and FHIR resources together), the shared [`door`] they all use (which never imports a
//! capability), and the modules that compose capabilities: [`home`] (the home page and the
//! search), [`fhir`] (routes `/fhir` to each capability's resources) and [`openapi`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod door;
pub mod fhir;
mod home;
pub mod openapi;

// The capabilities: each has its pages, JSON API and FHIR resources; each offers `routes()`.
mod admin;
mod mpi;
mod org;
mod record;
mod referral;

pub use door::{auth, error, i18n, proxy};
pub use record::hl7;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use ygt_domain::msg;

use axum::extract::{ConnectInfo, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use serde_json::json;
use ygt_app::App;

pub use door::metrics::{LiveStreamGuard, Metrics};

/// Settings of the web door (from the configuration of `ygt serve`).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The URL clients reach ygt under (`https://ygt.example.cn`, no trailing slash): absolute
    /// links (FHIR `fullUrl`, the CapabilityStatement) are made from it, never from the
    /// request's Host header.
    pub public_url: String,
    /// The bearer token `/metrics` requires; without one, `/metrics` is off.
    pub metrics_token: Option<String>,
    /// How often a live event stream checks that its session still holds.
    pub session_check: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed ([`proxy`]).
    pub trusted_proxies: proxy::TrustedProxies,
    /// Count the SQL statements of each request and say it in the `x-sql-statements` header
    /// (tests and measurements; off in production, where it then costs one flag test).
    pub count_statements: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            public_url: "http://127.0.0.1:8080".into(),
            metrics_token: None,
            session_check: std::time::Duration::from_secs(15),
            trusted_proxies: proxy::TrustedProxies::default(),
            count_statements: false,
        }
    }
}

impl ServerConfig {
    /// The public URL of a server listening on `addr` (when none is configured): an
    /// unspecified address (0.0.0.0, ::) stands for this machine.
    pub fn public_url_for(addr: SocketAddr) -> String {
        let ip = match addr.ip() {
            std::net::IpAddr::V4(v) if v.is_unspecified() => {
                std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
            }
            std::net::IpAddr::V6(v) if v.is_unspecified() => {
                std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
            }
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, addr.port()))
    }

    /// Checks a configured public URL: `http://` or `https://`, a host, an optional port and
    /// path prefix; no query, fragment, user or whitespace. Returns it without a trailing `/`.
    pub fn parse_public_url(s: &str) -> Result<String, String> {
        let s = s.trim();
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| format!("public_url {s:?} must start with http:// or https://"))?;
        let host = rest.split('/').next().unwrap_or("");
        let bad = |c: char| !c.is_ascii_graphic() || matches!(c, '?' | '#' | '@' | '\\');
        if host.is_empty() || s.chars().any(bad) {
            return Err(format!(
                "public_url {s:?} must be a URL such as https://ygt.example.cn (a host, an optional port and path; no query, fragment, user or spaces)"
            ));
        }
        Ok(s.trim_end_matches('/').to_owned())
    }
}

/// A session this process ended: its live event streams end at once (streams of sessions
/// ended elsewhere notice within [`ServerConfig::session_check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnded {
    /// One session (sign-out).
    Session(uuid::Uuid),
    /// Every session of an account (sign-out everywhere).
    User(uuid::Uuid),
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Arc<Metrics>,
    pub config: Arc<ServerConfig>,
    /// Sessions ended by this process, for the live event streams.
    pub ended: tokio::sync::broadcast::Sender<SessionEnded>,
}

impl AppState {
    pub fn new(app: App) -> Self {
        Self::with_config(app, ServerConfig::default())
    }

    pub fn with_config(app: App, config: ServerConfig) -> Self {
        relay_events(&app);
        AppState {
            app,
            metrics: Arc::new(Metrics::default()),
            config: Arc::new(config),
            ended: tokio::sync::broadcast::channel(64).0,
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

/// The client's address (the peer's, or from `X-Forwarded-For` of a trusted proxy).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

/// Whether the client reached ygt over TLS (`X-Forwarded-Proto: https` from a trusted proxy):
/// cookies are then `Secure`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientTls(pub bool);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientTls {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientTls>()
            .copied()
            .unwrap_or_default())
    }
}

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

    /// A POST whose JSON body may be larger than [`door::extract::BODY_LIMIT`] (up to `limit`).
    pub fn post_large<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        h: H,
        limit: usize,
    ) -> Self {
        let mr = axum::routing::post(h).layer(axum::Extension(door::extract::BodyLimit(limit)));
        self.add("POST", path, mr)
    }

    /// A PUT whose JSON body may be larger than [`door::extract::BODY_LIMIT`] (up to `limit`).
    pub fn put_large<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        h: H,
        limit: usize,
    ) -> Self {
        let mr = axum::routing::put(h).layer(axum::Extension(door::extract::BodyLimit(limit)));
        self.add("PUT", path, mr)
    }
}

/// Every route of the server.
pub fn routes() -> Routes {
    let r = Routes::new()
        .get("/healthz", healthz)
        .get("/metrics", metrics_text)
        .get("/static/{*path}", door::assets::serve)
        .get("/api/openapi.json", openapi_json)
        .get("/api/docs", api_docs);
    // The order is the order of `route_list`, which the access matrix walks with one set of
    // fixtures (a break-glass grant it posts changes the decisions after it): keep it.
    let r = home::routes(r);
    let r = org::pages(r);
    let r = admin::pages(r);
    let r = mpi::pages(r);
    let r = record::routes(r);
    let r = fhir::routes(r);
    let r = referral::routes(r);
    let r = admin::break_glass(r);
    let r = org::api(r);
    let r = admin::identity_api(r);
    let r = mpi::api(r);
    admin::access_api(r)
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            error::render_errors,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            door::extract::BODY_LIMIT,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            door::metrics::track,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_statements,
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

async fn request_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
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
    let origin = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| proxy::origin(c.0.ip(), req.headers(), &state.config.trusted_proxies));
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Some(o) = origin {
        req.extensions_mut()
            .insert(ClientAddr(o.client.to_string()));
        req.extensions_mut().insert(ClientTls(o.tls));
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

/// The header that says how many SQL statements a request ran (when counting is on).
pub const STATEMENTS_HEADER: &str = "x-sql-statements";

/// With [`ServerConfig::count_statements`], counts the statements of the request (all its
/// middleware included) and says the figure in [`STATEMENTS_HEADER`].
async fn count_statements(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.config.count_statements {
        return next.run(req).await;
    }
    let (mut resp, n) = ygt_app::ygt_store::count_statements(next.run(req)).await;
    resp.headers_mut()
        .insert(STATEMENTS_HEADER, HeaderValue::from(n));
    resp
}

async fn security_headers(req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // Nothing but the static files may be kept by a browser or a proxy: pages and answers
    // carry personal data.
    if !cacheable
        && !h
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-store"))
    {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
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

/// `/metrics` answers only the metrics bearer token of the configuration (compared in
/// constant time); sessions and API tokens do not reach it.
async fn metrics_text(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(expected) = s.config.metrics_token.as_deref() else {
        return error::WebError(ygt_app::AppError::forbidden(msg!(
            "common.metrics_are_off_set"
        )))
        .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let hash = ygt_app::account::secret_hash;
    if !auth::same_secret(&hash(given), &hash(expected)) {
        return error::WebError(ygt_app::AppError::forbidden(msg!(
            "common.metrics_need_configured_metrics"
        )))
        .into_response();
    }
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
    axum::response::Html(door::assets::API_DOCS_HTML).into_response()
}
