//! A minimal W3C WebDriver client for browser tests, talking JSON over HTTP
//! to Debian's `chromedriver`, which drives headless `/usr/bin/chromium`.
//!
//! ```ignore
//! let Some(browser) = ygt_testkit::Browser::launch().await else { return };
//! browser.goto(&format!("{base}/login")).await?;
//! browser.find("input[name=user]").await?.send_keys("doctor").await?;
//! browser.find("button[type=submit]").await?.click().await?;
//! browser.wait_for_text("h1", "工作台", Duration::from_secs(10)).await?;
//! browser.quit().await;
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::{fresh_temp_dir, under_ci};

/// The W3C WebDriver web element identifier key.
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The WebDriver key code of the Control key (hold it to open a link in a new tab).
pub const CONTROL: &str = "\u{E009}";

/// Chromium binary driven by the tests.
pub const CHROMIUM: &str = "/usr/bin/chromium";

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Errors of WebDriver commands.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// The HTTP request to chromedriver failed.
    #[error("WebDriver {command}: HTTP request failed: {source}")]
    Http {
        command: String,
        #[source]
        source: reqwest::Error,
    },
    /// chromedriver answered with a W3C error.
    #[error("WebDriver {command}: {error} (HTTP {status}): {message}; response: {json}")]
    WebDriver {
        command: String,
        status: u16,
        /// W3C error code, e.g. `no such element`.
        error: String,
        message: String,
        /// The whole `value` of the error response (stacktrace omitted).
        json: Value,
    },
    /// The response did not have the expected shape.
    #[error("WebDriver {command}: unexpected response: {detail}")]
    Protocol { command: String, detail: String },
    /// A `wait_for*` helper gave up.
    #[error("timed out after {after:?} waiting for {what}; last state: {last}")]
    Timeout {
        what: String,
        after: Duration,
        last: String,
    },
    /// Writing an artifact (e.g. a screenshot) failed.
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BrowserError {
    /// The W3C error code (`no such element`, `stale element reference`, ...)
    /// if this is a WebDriver error.
    pub fn webdriver_error(&self) -> Option<&str> {
        match self {
            BrowserError::WebDriver { error, .. } => Some(error),
            _ => None,
        }
    }

    /// True for a W3C `no such element` error.
    pub fn is_no_such_element(&self) -> bool {
        self.webdriver_error() == Some("no such element")
    }

    /// True when the element went away with the page it was on: `stale element reference`,
    /// or the `unknown error` Chromium gives when the node left the document mid-navigation.
    pub fn is_stale(&self) -> bool {
        match self {
            BrowserError::WebDriver { error, message, .. } => {
                error == "stale element reference"
                    || (error == "unknown error"
                        && (message.contains("does not belong to the document")
                            || message.contains("No node with given id")))
            }
            _ => false,
        }
    }
}

/// HTTP connection to one WebDriver session, shared by the browser and its
/// elements.
#[derive(Debug)]
struct Session {
    client: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`
    url: String,
}

impl Session {
    async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, BrowserError> {
        command(&self.client, method, &format!("{}{path}", self.url), body).await
    }

    async fn get(&self, path: &str) -> Result<Value, BrowserError> {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, BrowserError> {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    fn element(self: &Arc<Self>, command: &str, value: &Value) -> Result<Element, BrowserError> {
        match value.get(ELEMENT_KEY).and_then(Value::as_str) {
            Some(id) => Ok(Element {
                session: Arc::clone(self),
                id: id.to_owned(),
            }),
            None => Err(BrowserError::Protocol {
                command: command.to_owned(),
                detail: format!("expected a web element, got {value}"),
            }),
        }
    }

    fn elements(
        self: &Arc<Self>,
        command: &str,
        value: &Value,
    ) -> Result<Vec<Element>, BrowserError> {
        match value.as_array() {
            Some(items) => items.iter().map(|v| self.element(command, v)).collect(),
            None => Err(BrowserError::Protocol {
                command: command.to_owned(),
                detail: format!("expected an array of web elements, got {value}"),
            }),
        }
    }
}

/// Sends one WebDriver command and returns the `value` of its response.
async fn command(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, BrowserError> {
    let command = format!("{method} {}", command_name(url));
    let mut req = client.request(method, url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let http = |source| BrowserError::Http {
        command: command.clone(),
        source,
    };
    let resp = req.send().await.map_err(http)?;
    let status = resp.status();
    let text = resp.text().await.map_err(http)?;
    let parsed: Value = serde_json::from_str(&text).map_err(|e| BrowserError::Protocol {
        command: command.clone(),
        detail: format!(
            "HTTP {status}, invalid JSON ({e}): {}",
            truncate(&text, 2000)
        ),
    })?;
    let mut value = match parsed {
        Value::Object(mut map) => map.remove("value").unwrap_or(Value::Null),
        other => {
            return Err(BrowserError::Protocol {
                command,
                detail: format!("HTTP {status}, expected an object: {other}"),
            });
        }
    };
    let error = value
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match error {
        Some(error) if !status.is_success() => {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Value::Object(map) = &mut value {
                map.remove("stacktrace");
            }
            Err(BrowserError::WebDriver {
                command,
                status: status.as_u16(),
                error,
                message,
                json: value,
            })
        }
        _ if !status.is_success() => Err(BrowserError::Protocol {
            command,
            detail: format!("HTTP {status}: {value}"),
        }),
        _ => Ok(value),
    }
}

/// The part of a command URL after the session id, for messages.
fn command_name(url: &str) -> String {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = path.find('/').map_or("/", |i| &path[i..]);
    match path.strip_prefix("/session/") {
        Some(rest) => match rest.find('/') {
            Some(i) => rest[i..].to_owned(),
            None => "/session".to_owned(),
        },
        None => path.to_owned(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The size of the browser window a session runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// A phone: the viewport is `width`×`height` with touch and the page's `viewport` meta
    /// honoured (chromedriver's mobile emulation). A desktop window of Chromium is never
    /// narrower than 500 px, so narrower sizes need this.
    pub mobile: bool,
}

impl Window {
    /// A desktop or laptop screen, 1366×900 (the default).
    pub const DESKTOP: Window = Window::desktop(1366, 900);
    /// A tablet held landscape, 1024×768.
    pub const TABLET: Window = Window::desktop(1024, 768);
    /// A phone, 390×844.
    pub const PHONE: Window = Window {
        width: 390,
        height: 844,
        mobile: true,
    };

    /// A desktop window of `width`×`height`.
    pub const fn desktop(width: u32, height: u32) -> Window {
        Window {
            width,
            height,
            mobile: false,
        }
    }

    /// `1366x900`, for file names and messages.
    pub fn label(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

impl Default for Window {
    fn default() -> Self {
        Window::DESKTOP
    }
}

/// A headless Chromium session driven through chromedriver.
///
/// Dropping it deletes the session, kills chromedriver and removes the
/// temporary profile (best effort); [`Browser::quit`] does the same
/// asynchronously.
#[derive(Debug)]
pub struct Browser {
    session: Arc<Session>,
    /// `http://127.0.0.1:<port>`
    driver_url: String,
    session_id: String,
    driver: Option<Child>,
    temp_dir: PathBuf,
    /// Chromium's process id (from the new session), to stop it when chromedriver cannot.
    chromium_pid: Option<u32>,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium
    /// session (`--lang=zh-CN`, window 1366×900, fresh profile).
    ///
    /// If chromedriver or chromium is not installed, returns `None` after
    /// printing "skipping browser test: ..." — or panics when `CI` is set.
    /// Any other failure to start panics.
    pub async fn launch() -> Option<Browser> {
        Self::launch_with(Window::DESKTOP).await
    }

    /// [`Browser::launch`] with a window of the given size.
    ///
    /// Chromium runs with its default features, as the people who use ygt run it: the
    /// back/forward cache, background tab throttling and occluded-window backgrounding stay
    /// on (chromedriver's switches that turn the last two off are excluded). Only Chromium's
    /// own calls home stay off (`--disable-background-networking`, component updates, sync),
    /// which change nothing in how a page behaves and keep the tests offline.
    pub async fn launch_with(window: Window) -> Option<Browser> {
        let Some(driver_bin) = find_chromedriver() else {
            return skip_browser(&format!(
                "chromedriver not found at {CHROMEDRIVER} or on PATH \
                 (apt-get install chromium chromium-driver)"
            ));
        };
        if !Path::new(CHROMIUM).exists() {
            return skip_browser(&format!(
                "{CHROMIUM} not found (apt-get install chromium chromium-driver)"
            ));
        }
        Some(Self::start(&driver_bin, window).await)
    }

    async fn start(driver_bin: &Path, window: Window) -> Browser {
        let temp_dir = fresh_temp_dir("ygt-browser");
        let profile = temp_dir.join("profile");
        let log_path = temp_dir.join("chromedriver.log");
        let port = free_port();
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone log file handle: {e}"));
        let child = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));

        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_else(|e| panic!("cannot build HTTP client: {e}"));
        let driver_url = format!("http://127.0.0.1:{port}");

        // From here on, a partially started browser cleans up after itself.
        let mut browser = Browser {
            session: Arc::new(Session {
                client: client.clone(),
                url: String::new(),
            }),
            driver_url: driver_url.clone(),
            session_id: String::new(),
            driver: Some(child),
            temp_dir,
            chromium_pid: None,
        };

        browser.wait_until_ready(&client, &log_path).await;

        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-quic",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--window-size={},{}", window.width.max(500), window.height),
                format!("--user-data-dir={}", profile.display()),
                "--lang=zh-CN",
            ],
            // chromedriver's own defaults that change how pages behave in the background.
            "excludeSwitches": [
                "disable-background-timer-throttling",
                "disable-backgrounding-occluded-windows",
            ],
            "prefs": { "intl.accept_languages": "zh-CN,zh" },
        });
        if window.mobile {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {
                    "width": window.width,
                    "height": window.height,
                    "pixelRatio": 1,
                    "mobile": true,
                    "touch": true,
                },
            });
        }
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                },
            },
        });
        let created = command(
            &client,
            reqwest::Method::POST,
            &format!("{driver_url}/session"),
            Some(capabilities),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot create a Chromium session: {e}\nchromedriver log:\n{}",
                read_log(&log_path)
            )
        });
        let Some(session_id) = created.get("sessionId").and_then(Value::as_str) else {
            panic!("new session response has no sessionId: {created}");
        };
        browser.session_id = session_id.to_owned();
        browser.chromium_pid = created
            .pointer("/capabilities/goog:processID")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok());
        browser.session = Arc::new(Session {
            client,
            url: format!("{driver_url}/session/{session_id}"),
        });
        browser
    }

    async fn wait_until_ready(&mut self, client: &reqwest::Client, log_path: &Path) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let status_url = format!("{}/status", self.driver_url);
        loop {
            if let Some(child) = self.driver.as_mut()
                && let Ok(Some(exit)) = child.try_wait()
            {
                panic!(
                    "chromedriver exited during startup ({exit})\nchromedriver log:\n{}",
                    read_log(log_path)
                );
            }
            let last = match command(client, reqwest::Method::GET, &status_url, None).await {
                Ok(v) if v.get("ready").and_then(Value::as_bool) == Some(true) => return,
                Ok(v) => v.to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                panic!(
                    "chromedriver at {} not ready after {STARTUP_TIMEOUT:?}: {last}\n\
                     chromedriver log:\n{}",
                    self.driver_url,
                    read_log(log_path)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Deletes the session, stops chromedriver and removes the temp dir.
    pub async fn quit(mut self) {
        if !self.session_id.is_empty() {
            let r = command(
                &self.session.client,
                reqwest::Method::DELETE,
                &self.session.url,
                None,
            )
            .await;
            if let Err(e) = r {
                eprintln!("ygt-testkit: cannot delete WebDriver session: {e}");
                self.kill_chromium();
            }
            self.session_id.clear();
        }
        // Drop kills chromedriver and removes the temp dir.
    }

    /// Stops Chromium itself (chromedriver did not end the session: it outlives chromedriver
    /// otherwise).
    fn kill_chromium(&mut self) {
        if let Some(pid) = self.chromium_pid.take() {
            let _ = Command::new("kill")
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// The WebDriver session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Navigates to `url` and waits for the page load.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.session
            .post("/url", json!({ "url": url }))
            .await
            .map(drop)
    }

    pub async fn current_url(&self) -> Result<String, BrowserError> {
        let v = self.session.get("/url").await?;
        as_string("GET /url", v)
    }

    pub async fn title(&self) -> Result<String, BrowserError> {
        let v = self.session.get("/title").await?;
        as_string("GET /title", v)
    }

    /// Goes back in history.
    pub async fn back(&self) -> Result<(), BrowserError> {
        self.session.post("/back", json!({})).await.map(drop)
    }

    /// Goes forward in history.
    pub async fn forward(&self) -> Result<(), BrowserError> {
        self.session.post("/forward", json!({})).await.map(drop)
    }

    /// Reloads the page.
    pub async fn refresh(&self) -> Result<(), BrowserError> {
        self.session.post("/refresh", json!({})).await.map(drop)
    }

    /// The first element matching the CSS selector (error `no such element`
    /// if none).
    pub async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        let v = self.session.post("/element", css_locator(css)).await?;
        self.session.element("POST /element", &v)
    }

    /// All elements matching the CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, BrowserError> {
        let v = self.session.post("/elements", css_locator(css)).await?;
        self.session.elements("POST /elements", &v)
    }

    /// Polls until an element matches the CSS selector.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, BrowserError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.find(css).await {
                Ok(el) => return Ok(el),
                Err(e) if e.is_no_such_element() => {
                    if Instant::now() >= deadline {
                        return Err(BrowserError::Timeout {
                            what: format!("an element matching `{css}`"),
                            after: timeout,
                            last: e.to_string(),
                        });
                    }
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Polls until an element matching the CSS selector has a visible text
    /// containing `needle`, and returns that element.
    pub async fn wait_for_text(
        &self,
        css: &str,
        needle: &str,
        timeout: Duration,
    ) -> Result<Element, BrowserError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut texts = Vec::new();
            for el in self.find_all(css).await? {
                match el.text().await {
                    Ok(text) if text.contains(needle) => return Ok(el),
                    Ok(text) => texts.push(text),
                    // The page changed under us: try again.
                    Err(e) if e.is_stale() => {}
                    Err(e) => return Err(e),
                }
            }
            if Instant::now() >= deadline {
                let last = if texts.is_empty() {
                    format!("no element matches `{css}`")
                } else {
                    format!("texts of `{css}`: {texts:?}")
                };
                return Err(BrowserError::Timeout {
                    what: format!("`{css}` containing {needle:?}"),
                    after: timeout,
                    last: truncate(&last, 2000).to_owned(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The serialized DOM of the current page.
    pub async fn page_source(&self) -> Result<String, BrowserError> {
        let v = self.session.get("/source").await?;
        as_string("GET /source", v)
    }

    /// Runs `script` as the body of a synchronous JS function with
    /// `arguments` = `args` (an array; pass [`Element::to_json`] to hand
    /// elements in) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, BrowserError> {
        self.session
            .post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, BrowserError> {
        let v = self.session.get("/screenshot").await?;
        let b64 = as_string("GET /screenshot", v)?;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| BrowserError::Protocol {
                command: "GET /screenshot".to_owned(),
                detail: format!("invalid base64: {e}"),
            })
    }

    /// A PNG screenshot of the whole page (at most `max_height` CSS pixels of it), taken
    /// through Chromium's DevTools protocol.
    pub async fn full_page_png(&self, max_height: u32) -> Result<Vec<u8>, BrowserError> {
        let size = self
            .execute(
                "var d = document.documentElement;\
                 return [Math.max(d.scrollWidth, window.innerWidth), d.scrollHeight];",
                vec![],
            )
            .await?;
        let dim = |i: usize| size.get(i).and_then(Value::as_f64).unwrap_or(0.0);
        let params = json!({
            "format": "png",
            "captureBeyondViewport": true,
            "clip": {
                "x": 0, "y": 0,
                "width": dim(0),
                "height": dim(1).min(f64::from(max_height)),
                "scale": 1,
            },
        });
        let v = self
            .session
            .post(
                "/goog/cdp/execute",
                json!({ "cmd": "Page.captureScreenshot", "params": params }),
            )
            .await?;
        let b64 = v.get("data").and_then(Value::as_str).unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| BrowserError::Protocol {
                command: "Page.captureScreenshot".to_owned(),
                detail: format!("invalid base64: {e}"),
            })
    }

    /// Writes a PNG screenshot of the whole page (at most `max_height` CSS pixels of it) to
    /// `path`, creating parent dirs.
    pub async fn save_full_page(
        &self,
        path: impl AsRef<Path>,
        max_height: u32,
    ) -> Result<(), BrowserError> {
        let png = self.full_page_png(max_height).await?;
        write_png(path.as_ref(), &png)
    }

    /// Writes a PNG screenshot to `path` (creating parent dirs); meant for
    /// tests to call on failure.
    pub async fn save_screenshot(&self, path: impl AsRef<Path>) -> Result<(), BrowserError> {
        let png = self.screenshot_png().await?;
        write_png(path.as_ref(), &png)
    }

    /// Presses `key` (a character or a WebDriver key code such as [`CONTROL`]) and keeps it
    /// down until [`Browser::release_keys`]: clicks in between carry it, as a person's do.
    pub async fn key_down(&self, key: &str) -> Result<(), BrowserError> {
        let actions = json!({ "actions": [{
            "type": "key",
            "id": "keyboard",
            "actions": [{ "type": "keyDown", "value": key }],
        }] });
        self.session.post("/actions", actions).await.map(drop)
    }

    /// Releases every key and button held down.
    pub async fn release_keys(&self) -> Result<(), BrowserError> {
        self.session
            .cmd(reqwest::Method::DELETE, "/actions", None)
            .await
            .map(drop)
    }

    /// The handle of the current tab.
    pub async fn window_handle(&self) -> Result<String, BrowserError> {
        let v = self.session.get("/window").await?;
        as_string("GET /window", v)
    }

    /// The handles of all open tabs.
    pub async fn window_handles(&self) -> Result<Vec<String>, BrowserError> {
        let v = self.session.get("/window/handles").await?;
        match v {
            Value::Array(items) => items
                .into_iter()
                .map(|h| as_string("GET /window/handles", h))
                .collect(),
            other => Err(BrowserError::Protocol {
                command: "GET /window/handles".to_owned(),
                detail: format!("expected an array, got {other}"),
            }),
        }
    }

    /// Brings the tab `handle` to the front (the one left goes to the background).
    pub async fn switch_to_window(&self, handle: &str) -> Result<(), BrowserError> {
        self.session
            .post("/window", json!({ "handle": handle }))
            .await
            .map(drop)
    }

    /// Closes the current tab; switch to another one before the next command.
    pub async fn close_window(&self) -> Result<(), BrowserError> {
        self.session
            .cmd(reqwest::Method::DELETE, "/window", None)
            .await
            .map(drop)
    }

    /// Sets the outer window size in CSS pixels.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.session
            .post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .map(drop)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session_id.is_empty() {
            // Sync best-effort DELETE so Chromium exits with the session.
            let path = format!("/session/{}", self.session_id);
            if let Err(e) = blocking_delete(&self.driver_url, &path) {
                eprintln!("ygt-testkit: cannot delete WebDriver session: {e}");
                self.kill_chromium();
            }
            self.session_id.clear();
        }
        if let Some(mut child) = self.driver.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Err(e) = std::fs::remove_dir_all(&self.temp_dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "ygt-testkit: cannot remove {}: {e}",
                self.temp_dir.display()
            );
        }
    }
}

/// An element of the page, valid until the page changes.
#[derive(Debug, Clone)]
pub struct Element {
    session: Arc<Session>,
    id: String,
}

impl Element {
    /// The WebDriver element id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The element as a JSON web element reference, e.g. for
    /// [`Browser::execute`] arguments.
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// The rendered (visible) text.
    pub async fn text(&self) -> Result<String, BrowserError> {
        let v = self.session.get(&self.path("/text")).await?;
        as_string("GET /element/{id}/text", v)
    }

    pub async fn click(&self) -> Result<(), BrowserError> {
        self.session
            .post(&self.path("/click"), json!({}))
            .await
            .map(drop)
    }

    /// Types `text` into the element.
    pub async fn send_keys(&self, text: &str) -> Result<(), BrowserError> {
        self.session
            .post(&self.path("/value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    /// Clears an input or textarea.
    pub async fn clear(&self) -> Result<(), BrowserError> {
        self.session
            .post(&self.path("/clear"), json!({}))
            .await
            .map(drop)
    }

    /// The attribute's value, `None` if absent.
    pub async fn attr(&self, name: &str) -> Result<Option<String>, BrowserError> {
        let v = self
            .session
            .get(&self.path(&format!("/attribute/{name}")))
            .await?;
        Ok(match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
    }

    /// A DOM property (e.g. `value`, `checked`), `Null` if absent.
    pub async fn property(&self, name: &str) -> Result<Value, BrowserError> {
        self.session
            .get(&self.path(&format!("/property/{name}")))
            .await
    }

    /// The lower-case tag name.
    pub async fn tag_name(&self) -> Result<String, BrowserError> {
        let v = self.session.get(&self.path("/name")).await?;
        as_string("GET /element/{id}/name", v)
    }

    /// Whether the element is displayed.
    pub async fn is_displayed(&self) -> Result<bool, BrowserError> {
        let v = self.session.get(&self.path("/displayed")).await?;
        v.as_bool().ok_or_else(|| BrowserError::Protocol {
            command: "GET /element/{id}/displayed".to_owned(),
            detail: format!("expected a boolean, got {v}"),
        })
    }

    /// The first descendant matching the CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        let v = self
            .session
            .post(&self.path("/element"), css_locator(css))
            .await?;
        self.session.element("POST /element/{id}/element", &v)
    }

    /// All descendants matching the CSS selector.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, BrowserError> {
        let v = self
            .session
            .post(&self.path("/elements"), css_locator(css))
            .await?;
        self.session.elements("POST /element/{id}/elements", &v)
    }
}

fn write_png(path: &Path, png: &[u8]) -> Result<(), BrowserError> {
    let io = |source| BrowserError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, png).map_err(io)
}

fn css_locator(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn as_string(command: &str, v: Value) -> Result<String, BrowserError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(BrowserError::Protocol {
            command: command.to_owned(),
            detail: format!("expected a string, got {other}"),
        }),
    }
}

fn find_chromedriver() -> Option<PathBuf> {
    let default = Path::new(CHROMEDRIVER);
    if default.is_file() {
        return Some(default.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
}

fn skip_browser(reason: &str) -> Option<Browser> {
    if under_ci() {
        panic!("browser tests must not be skipped under CI: {reason}");
    }
    eprintln!("skipping browser test: {reason}");
    None
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a free port on 127.0.0.1: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("cannot read the bound port: {e}"))
        .port()
}

fn read_log(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let start = log.len().saturating_sub(8000);
    let start = (start..log.len())
        .find(|&i| log.is_char_boundary(i))
        .unwrap_or(log.len());
    log[start..].to_owned()
}

/// A plain blocking `DELETE` over HTTP/1.1, usable from `Drop` inside or
/// outside an async runtime.
fn blocking_delete(base: &str, path: &str) -> std::io::Result<()> {
    let host = base.trim_start_matches("http://");
    let addr = host.parse().map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{host}: {e}"))
    })?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "DELETE {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver answers once the session (and Chromium) is gone; it may
    // keep the connection open, so stop at the end of the headers.
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk)? {
            0 => break,
            n => response.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names() {
        assert_eq!(command_name("http://127.0.0.1:9/status"), "/status");
        assert_eq!(command_name("http://127.0.0.1:9/session"), "/session");
        assert_eq!(command_name("http://127.0.0.1:9/session/abc"), "/session");
        assert_eq!(
            command_name("http://127.0.0.1:9/session/abc/element/x/click"),
            "/element/x/click"
        );
    }
}
