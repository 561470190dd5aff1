//! One integration test binary: the real server on port 0 with a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod browser;
mod pages;

use std::sync::OnceLock;

use tokio::sync::oneshot;
use ygt_app::App;
use ygt_app::ygt_store::Store;
use ygt_server::AppState;
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
    pub async fn start(db: TestDb, demo: bool) -> TestServer {
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
        let state = AppState::new(app.clone());
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

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
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
