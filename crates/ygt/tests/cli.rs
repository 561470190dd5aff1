//! The `ygt` binary as an operator uses it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ygt_testkit::{TestDb, both_backends};

fn ygt() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ygt"));
    c.env_remove("YGT_DATABASE_URL").env_remove("YGT_CONFIG");
    c
}

async fn migrate_and_generate(db: TestDb) {
    let out = ygt()
        .args(["migrate", "--database", &db.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The database may also come from the environment.
    let out = ygt()
        .args(["generate", "--seed", "3", "--scale", "small"])
        .env("YGT_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Made 51 institutions"), "{err}");
    // A second run refuses to write into a database that has data.
    let out = ygt()
        .args(["generate", "--database", &db.url, "--scale", "small"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty database"));
}
both_backends!(migrate_and_generate, migrate_and_generate);

#[test]
fn errors_are_clear() {
    let out = ygt().args(["migrate"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database given"));
    let out = ygt()
        .args(["migrate", "--database", "mysql://x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite://PATH or postgres://"));
    let db = TestDb::sqlite();
    let out = ygt()
        .args(["generate", "--database", &db.url, "--scale", "huge"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scale must be small or county"));
    let dir = ygt_testkit::fresh_temp_dir("ygt-cli");
    let cfg = dir.join("ygt.toml");
    std::fs::write(&cfg, "databse = \"sqlite://x\"\n").unwrap();
    let out = ygt()
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("ygt.toml") && err.contains("databse"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `ygt serve` (database from a config file) on a free port, checks /healthz, then stops
/// it with SIGTERM and expects a clean exit.
#[test]
fn serve_from_config_and_stop_gracefully() {
    let db = TestDb::sqlite();
    let dir = ygt_testkit::fresh_temp_dir("ygt-cli");
    let cfg = dir.join("ygt.toml");
    std::fs::write(
        &cfg,
        format!("database = \"{}\"\nlisten = \"127.0.0.1:0\"\n", db.url),
    )
    .unwrap();
    let mut child = ygt()
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("running on sqlite"), "{first}");
    let url = first
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let body = http_get(&format!("{url}/healthz"));
    assert!(body.contains(r#""status":"ok""#), "{body}");

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `ygt demo` twice on the same directory keeps the data of the first run.
#[test]
fn demo_keeps_its_data() {
    let dir = ygt_testkit::fresh_temp_dir("ygt-demo");
    for round in 0..2 {
        let mut child = ygt()
            .args([
                "demo",
                "--data",
                dir.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--seed",
                "5",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .split_whitespace()
            .last()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        let body = http_get(&format!("{url}/healthz"));
        assert!(body.contains(r#""status":"ok""#), "round {round}: {body}");
        let login = http_get(&format!("{url}/login"));
        assert!(login.starts_with("HTTP/1.1 200"), "round {round}: {login}");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if round == 0 {
            assert!(err.contains("Generating the demo county"), "{err}");
        } else {
            assert!(err.contains("Using the existing demo database"), "{err}");
        }
    }
    // The data of the first run is there: 51 institutions refuse a second generate, and the
    // audit chain written by both runs is intact.
    let url = format!("sqlite://{}/ygt.db", dir.display());
    let out = ygt().args(["generate", "--database", &url]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty database"));
    let out = ygt().args(["audit", "verify", "--database", &url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("audit chain intact"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A minimal blocking HTTP GET (the test has no HTTP client of its own).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
