//! The trend charts of the 360 page: small line charts as SVG, drawn on the server.
//!
//! The y axis has round ticks (steps of 1, 2, 2.5 or 5 times a power of ten) labelled with
//! their values and the unit above them; the x axis has up to four dates (`MM-DD`, or
//! `YYYY-MM` when the points span a year or more). Text is 13 units high in a 300-unit-wide
//! drawing (`app.css`), about 13 px on a phone.

use std::fmt::Write as _;

use time::OffsetDateTime;
use ygt_app::record::{Trend, fmt_num};
use ygt_app::ygt_store::record::Observation;

const W: f64 = 300.0;
const H: f64 = 170.0;
/// Left margin (tick labels), right, top (the unit) and bottom (dates).
const L: f64 = 40.0;
const R: f64 = 12.0;
const TOP: f64 = 28.0;
const B: f64 = 26.0;

/// China Standard Time, in which the county reads its clocks.
const CST: time::UtcOffset = time::macros::offset!(+8);

/// Round tick values covering `[lo, hi]`: about `n` of them, the first at or below `lo`, the
/// last at or above `hi`.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (lo, hi) = if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / (n.max(2) - 1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let count = (last - first) as i64;
    (0..=count)
        .map(|i| round_to((first + i as f64) * step, step))
        .collect()
}

/// Removes the float noise of `v` (a multiple of `step`).
fn round_to(v: f64, step: f64) -> f64 {
    let digits = (-step.log10().floor()).max(0.0) as i32 + 1;
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// A date on the x axis.
fn date_label(t: OffsetDateTime, long_span: bool) -> String {
    let d = t.to_offset(CST).date();
    if long_span {
        format!("{:04}-{:02}", d.year(), u8::from(d.month()))
    } else {
        format!("{:02}-{:02}", u8::from(d.month()), d.day())
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The scales of one chart: time to x, value to y.
struct Scale {
    t0: OffsetDateTime,
    span: f64,
    single: bool,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn x(&self, at: OffsetDateTime) -> f64 {
        if self.single {
            L + (W - L - R) / 2.0
        } else {
            L + (at - self.t0).as_seconds_f64() / self.span * (W - L - R)
        }
    }
    fn y(&self, v: f64) -> f64 {
        TOP + (self.hi - v) / (self.hi - self.lo) * (H - TOP - B)
    }
}

fn y_axis(svg: &mut String, s: &Scale, ticks: &[f64], unit: &str) {
    for v in ticks {
        let y = s.y(*v);
        let _ = write!(
            svg,
            r#"<line x1="{L}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="axis" text-anchor="end">{}</text>"#,
            W - R,
            L - 5.0,
            y + 4.5,
            fmt_num(*v)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="2" y="14" class="axis unit">{}</text>"#,
        escape(unit)
    );
}

fn x_axis(svg: &mut String, s: &Scale, t1: OffsetDateTime) {
    let long_span = (t1 - s.t0).whole_days() >= 365;
    let n = if s.single { 1 } else { 4 };
    let mut last = String::new();
    for i in 0..n {
        let at = s.t0 + (t1 - s.t0) * (i as f64 / (n.max(2) - 1) as f64);
        let label = date_label(at, long_span);
        if label == last {
            continue;
        }
        let anchor = match (n, i) {
            (1, _) => "middle",
            (_, 0) => "start",
            (_, i) if i == n - 1 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="{anchor}">{label}</text>"#,
            s.x(at),
            H - 7.0
        );
        last = label;
    }
}

fn series(svg: &mut String, s: &Scale, pts: &[(&Observation, f64)]) {
    let mut codes: Vec<&str> = pts.iter().map(|(o, _)| o.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    for (i, code) in codes.iter().enumerate() {
        let line: Vec<&(&Observation, f64)> = pts.iter().filter(|(o, _)| o.code == *code).collect();
        let points: Vec<String> = line
            .iter()
            .map(|(o, v)| format!("{:.1},{:.1}", s.x(o.effective_at), s.y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline points="{}" class="series s{i}"/>"#,
            points.join(" ")
        );
        for (o, v) in line {
            let abnormal = o.abnormal.as_deref().is_some_and(|a| a != "N");
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" class="pt s{i}{}"><title>{} {} {}{}</title></circle>"#,
                s.x(o.effective_at),
                s.y(*v),
                if abnormal { " abnormal" } else { "" },
                date_label(o.effective_at, false),
                escape(&o.name),
                fmt_num(*v),
                escape(o.unit.as_deref().unwrap_or(""))
            );
        }
    }
}

/// A chart of a trend: one polyline per code, a point per value (abnormal ones marked),
/// dashed lines at the given thresholds, value ticks with the unit, dates below.
pub fn trend_svg(tr: &Trend, thresholds: &[f64]) -> String {
    let pts: Vec<(&Observation, f64)> = tr
        .points
        .iter()
        .filter_map(|o| o.value_num.map(|v| (o, v)))
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="trend" viewBox="0 0 {W} {H}" role="img" aria-label="{} ({})" xmlns="http://www.w3.org/2000/svg">"#,
        escape(tr.title),
        escape(tr.unit)
    );
    let times = pts.iter().map(|(o, _)| o.effective_at);
    let (Some(t0), Some(t1)) = (times.clone().min(), times.max()) else {
        svg.push_str("</svg>");
        return svg;
    };
    let values = pts.iter().map(|p| p.1).chain(thresholds.iter().copied());
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    let ticks = nice_ticks(lo, hi, 5);
    let s = Scale {
        t0,
        span: (t1 - t0).as_seconds_f64().max(1.0),
        single: t0 == t1,
        lo: ticks.first().copied().unwrap_or(lo),
        hi: ticks.last().copied().unwrap_or(hi),
    };
    y_axis(&mut svg, &s, &ticks, tr.unit);
    x_axis(&mut svg, &s, t1);
    for th in thresholds {
        let y = s.y(*th);
        let _ = write!(
            svg,
            r#"<line x1="{L}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="threshold"/>"#,
            W - R
        );
    }
    series(&mut svg, &s, &pts);
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_values() {
        assert_eq!(
            nice_ticks(72.0, 168.0, 5),
            vec![50.0, 75.0, 100.0, 125.0, 150.0, 175.0]
        );
        assert_eq!(nice_ticks(5.2, 7.9, 5), vec![5.0, 6.0, 7.0, 8.0]);
        assert_eq!(nice_ticks(6.5, 6.5, 5), vec![5.5, 6.0, 6.5, 7.0, 7.5]);
        let t = nice_ticks(0.1, 0.7, 4);
        assert_eq!(t, vec![0.0, 0.2, 0.4, 0.6, 0.8]);
    }

    #[test]
    fn dates_on_the_axis() {
        let t = time::macros::datetime!(2026-03-04 20:00 UTC);
        assert_eq!(date_label(t, false), "03-05");
        assert_eq!(date_label(t, true), "2026-03");
    }
}
