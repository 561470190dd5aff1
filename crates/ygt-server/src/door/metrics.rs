//! Prometheus metrics: requests and latencies per route, open live event streams, and the
//! database pool.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    // (method, route, status) -> counts
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    live_streams: AtomicI64,
}

/// One open live event stream (`/events`), counted until it is dropped: when the stream ends
/// or the client goes away.
pub struct LiveStreamGuard(Arc<Metrics>);

impl Drop for LiveStreamGuard {
    fn drop(&mut self) {
        self.0.live_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts a live event stream as open until the guard is dropped.
    pub fn live_stream(self: &Arc<Self>) -> LiveStreamGuard {
        self.live_streams.fetch_add(1, Ordering::Relaxed);
        LiveStreamGuard(Arc::clone(self))
    }

    /// The live event streams open now.
    pub fn live_streams(&self) -> i64 {
        self.live_streams.load(Ordering::Relaxed)
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut m) = self.series.lock() else {
            return;
        };
        let s = m
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b
                && let Some(c) = s.buckets.get_mut(i)
            {
                *c += 1;
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self, pool: ygt_app::ygt_store::PoolStats, backend: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP ygt_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE ygt_http_requests_total counter");
        let series = match self.series.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        for ((method, route, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "ygt_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP ygt_http_request_duration_seconds Request latency by route."
        );
        let _ = writeln!(out, "# TYPE ygt_http_request_duration_seconds histogram");
        for ((method, route, status), s) in series.iter() {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (b, c) in BUCKETS.iter().zip(s.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "ygt_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "ygt_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "ygt_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "ygt_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP ygt_live_streams Open live event streams (/events)."
        );
        let _ = writeln!(out, "# TYPE ygt_live_streams gauge");
        let _ = writeln!(out, "ygt_live_streams {}", self.live_streams());
        let _ = writeln!(
            out,
            "# HELP ygt_db_pool_connections Open database connections."
        );
        let _ = writeln!(out, "# TYPE ygt_db_pool_connections gauge");
        let _ = writeln!(
            out,
            "ygt_db_pool_connections{{backend=\"{backend}\"}} {}",
            pool.size
        );
        let _ = writeln!(
            out,
            "# HELP ygt_db_pool_idle_connections Idle database connections."
        );
        let _ = writeln!(out, "# TYPE ygt_db_pool_idle_connections gauge");
        let _ = writeln!(
            out,
            "ygt_db_pool_idle_connections{{backend=\"{backend}\"}} {}",
            pool.idle
        );
        let _ = writeln!(
            out,
            "# HELP ygt_db_pool_max_connections Configured maximum of the pool."
        );
        let _ = writeln!(out, "# TYPE ygt_db_pool_max_connections gauge");
        let _ = writeln!(
            out,
            "ygt_db_pool_max_connections{{backend=\"{backend}\"}} {}",
            pool.max
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Records every request under its route template (never the concrete path: ids stay out).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}
