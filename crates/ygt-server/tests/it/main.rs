//! One integration test binary: the real server on port 0 with a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod api;
mod audit;
mod auth;
mod browser;
mod door;
mod fhir;
mod fhir_referral;
mod hl7;
mod malformed;
mod pages;
mod record;
mod record_loop;
mod referral;
mod schemathesis;
mod statements;

use std::sync::OnceLock;

use tokio::sync::oneshot;
use uuid::Uuid;
use ygt_app::account::AccountDraft;
use ygt_app::ygt_store::Store;
use ygt_app::{App, Ctx};
use ygt_domain::access::Role;
use ygt_server::{AppState, ServerConfig};
use ygt_testkit::TestDb;

/// A running server with its database; stops when dropped.
pub struct TestServer {
    pub base: String,
    pub app: App,
    stop: Option<oneshot::Sender<()>>,
    _db: TestDb,
}

impl TestServer {
    /// Starts the server on 127.0.0.1:0; with `demo`, loads the synthetic small county first.
    /// Its public URL is its address; /metrics answers [`METRICS_TOKEN`].
    pub async fn start(db: TestDb, demo: bool) -> TestServer {
        Self::start_with(db, demo, |_| {}).await
    }

    /// [`TestServer::start`] with the server's configuration changed by `tweak`.
    pub async fn start_with(
        db: TestDb,
        demo: bool,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let store = Store::open(&db.url).await.expect("open store");
        let app = App::new(store);
        if demo {
            ygt_synth::generate(&app, 7, ygt_synth::Scale::Small, &|_, _| {})
                .await
                .expect("generate");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let mut config = ServerConfig {
            public_url: format!("http://{addr}"),
            metrics_token: Some(METRICS_TOKEN.into()),
            session_check: std::time::Duration::from_millis(300),
            ..Default::default()
        };
        tweak(&mut config);
        let state = AppState::with_config(app.clone(), config);
        tokio::spawn(async move {
            let _ = ygt_server::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        TestServer {
            base: format!("http://{addr}"),
            app,
            stop: Some(tx),
            _db: db,
        }
    }

    /// [`TestServer::start`] with the server's router changed by `wrap` (a layer that changes
    /// what the server answers, as a proxy would).
    pub async fn start_wrapped(
        db: TestDb,
        demo: bool,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> TestServer {
        let store = Store::open(&db.url).await.expect("open store");
        let app = App::new(store);
        if demo {
            ygt_synth::generate(&app, 7, ygt_synth::Scale::Small, &|_, _| {})
                .await
                .expect("generate");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let config = ServerConfig {
            public_url: format!("http://{addr}"),
            metrics_token: Some(METRICS_TOKEN.into()),
            session_check: std::time::Duration::from_millis(300),
            ..Default::default()
        };
        let router = wrap(ygt_server::router(AppState::with_config(
            app.clone(),
            config,
        )));
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        });
        TestServer {
            base: format!("http://{addr}"),
            app,
            stop: Some(tx),
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates an account with `roles` at `institution`, signs it in, and returns a client that
    /// sends its session cookie and CSRF token.
    pub async fn client_as(
        &self,
        username: &str,
        roles: &[Role],
        institution: Option<Uuid>,
    ) -> reqwest::Client {
        let ctx = Ctx::system();
        self.app
            .create_account(
                &ctx,
                &AccountDraft {
                    username: username.into(),
                    display_name: format!("测试{username}"),
                    institution_id: institution.map(|i| i.to_string()),
                    staff_id: None,
                    roles: roles.iter().map(|r| r.code().to_owned()).collect(),
                    password: Some(PASSWORD.into()),
                    must_change_password: Some(false),
                },
            )
            .await
            .expect("create account");
        self.signed_in(username).await
    }

    /// A client signed in as an existing account (password [`PASSWORD`]).
    pub async fn signed_in(&self, username: &str) -> reqwest::Client {
        let signed = self
            .app
            .sign_in(&Ctx::system(), username, PASSWORD, None)
            .await
            .expect("sign in");
        session_client(&signed.session_token, &signed.csrf_token)
    }

    /// A system administrator's client.
    pub async fn admin(&self) -> reqwest::Client {
        self.client_as("root.admin", &[Role::SystemAdmin], None)
            .await
    }
}

pub const PASSWORD: &str = "Demo-Kite#58";

/// The metrics token of the test servers.
pub const METRICS_TOKEN: &str = "metrics-0123456789abcdef";

/// A client that sends a session cookie and its CSRF token, and does not follow redirects.
pub fn session_client(token: &str, csrf: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::COOKIE,
        format!("ygt_session={token}").parse().unwrap(),
    );
    h.insert("x-csrf-token", csrf.parse().unwrap());
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// An HTTP client that does not follow redirects (tests look at them).
pub fn client() -> reqwest::Client {
    static C: OnceLock<reqwest::Client> = OnceLock::new();
    C.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    })
    .clone()
}
