//! FHIR plumbing every resource shares: the resource types served and what each declares
//! (interactions, search parameters), the media type, resource ids, base64, the response
//! with its version, search parameter parsing (dates, `patient`, `_count`) and JSON paths.
//! The resources themselves live with their capability (`record::fhir`,
//! `referral::fhir`); the top-level `fhir` module routes `/fhir` to them.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::offset;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};
use uuid::Uuid;
use ygt_app::AppError;
use ygt_domain::Reason;
use ygt_domain::message::Message;
use ygt_domain::msg;

use crate::AppState;
use crate::door::error::WebError;
use crate::door::extract::FormData;

/// The media type of every answer.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// The resource types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RType {
    Patient,
    Encounter,
    Condition,
    Observation,
    DiagnosticReport,
    ImagingStudy,
    DocumentReference,
    MedicationRequest,
    ServiceRequest,
    Task,
    Appointment,
    Schedule,
    Slot,
}

impl RType {
    pub const ALL: [RType; 13] = [
        RType::Patient,
        RType::Encounter,
        RType::Condition,
        RType::Observation,
        RType::DiagnosticReport,
        RType::ImagingStudy,
        RType::DocumentReference,
        RType::MedicationRequest,
        RType::ServiceRequest,
        RType::Task,
        RType::Appointment,
        RType::Schedule,
        RType::Slot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RType::Patient => "Patient",
            RType::Encounter => "Encounter",
            RType::Condition => "Condition",
            RType::Observation => "Observation",
            RType::DiagnosticReport => "DiagnosticReport",
            RType::ImagingStudy => "ImagingStudy",
            RType::DocumentReference => "DocumentReference",
            RType::MedicationRequest => "MedicationRequest",
            RType::ServiceRequest => "ServiceRequest",
            RType::Task => "Task",
            RType::Appointment => "Appointment",
            RType::Schedule => "Schedule",
            RType::Slot => "Slot",
        }
    }

    /// Whether the type belongs to two-way referral (served by `referral::fhir`), not the record.
    pub fn is_referral(self) -> bool {
        matches!(
            self,
            RType::ServiceRequest
                | RType::Task
                | RType::Appointment
                | RType::Schedule
                | RType::Slot
        )
    }

    /// The interactions served.
    pub fn interactions(self) -> &'static [&'static str] {
        match self {
            RType::ServiceRequest => &["read", "create", "search-type"],
            RType::Task => &["read", "update", "search-type"],
            RType::Appointment | RType::Schedule | RType::Slot => &["read", "search-type"],
            _ => &["read", "create", "update", "search-type"],
        }
    }

    pub fn parse(s: &str) -> Option<RType> {
        RType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The item kinds shown as this resource type.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            RType::Patient
            | RType::ServiceRequest
            | RType::Task
            | RType::Appointment
            | RType::Schedule
            | RType::Slot => &[],
            RType::Encounter => &["encounter"],
            RType::Condition => &["diagnosis"],
            RType::Observation => &["measurement"],
            RType::DiagnosticReport => &[
                "lab_report",
                "imaging_report",
                "ecg_report",
                "pathology_report",
            ],
            RType::ImagingStudy => &["imaging_report"],
            RType::DocumentReference => &["document"],
            RType::MedicationRequest => &["prescription"],
        }
    }

    /// The search parameters understood (besides `_count` and `_cursor`).
    pub fn search_params(self) -> &'static [(&'static str, &'static str)] {
        match self {
            RType::Patient => &[
                ("name", "string"),
                ("identifier", "token"),
                ("phone", "token"),
            ],
            RType::DiagnosticReport => &[
                ("patient", "reference"),
                ("subject", "reference"),
                ("date", "date"),
                ("code", "token"),
                ("category", "token"),
            ],
            RType::ServiceRequest => &[
                ("patient", "reference"),
                ("subject", "reference"),
                ("status", "token"),
                ("intent", "token"),
                ("category", "token"),
                ("requester", "reference"),
                ("performer", "reference"),
            ],
            RType::Task => &[
                ("focus", "reference"),
                ("patient", "reference"),
                ("subject", "reference"),
                ("for", "reference"),
                ("status", "token"),
                ("owner", "reference"),
                ("requester", "reference"),
            ],
            RType::Appointment => &[
                ("patient", "reference"),
                ("subject", "reference"),
                ("status", "token"),
            ],
            RType::Schedule => &[("actor", "reference"), ("service-type", "token")],
            RType::Slot => &[
                ("schedule", "reference"),
                ("start", "date"),
                ("status", "token"),
            ],
            _ => &[
                ("patient", "reference"),
                ("subject", "reference"),
                ("date", "date"),
                ("code", "token"),
            ],
        }
    }
}

/// The resource id of an item (a prescription's further medications get `-n`).
pub fn resource_id(item: Uuid, part: usize) -> String {
    if part == 0 {
        item.to_string()
    } else {
        format!("{item}-{part}")
    }
}

pub fn parse_resource_id(s: &str) -> Option<(Uuid, usize)> {
    if let Ok(u) = Uuid::parse_str(s) {
        return Some((u, 0));
    }
    let (u, n) = s.rsplit_once('-')?;
    let part: usize = n.parse().ok().filter(|n| *n > 0)?;
    Some((Uuid::parse_str(u).ok()?, part))
}

/// Base64 (RFC 4648, with padding) of bytes.
pub fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The bytes of base64 text (FHIR `base64Binary`: whitespace between the characters is
/// allowed), or none when it is not base64.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// The largest body of a FHIR write: a DocumentReference with a PDF of the largest size
/// allowed ([`ygt_domain::clinical::DOCUMENT_MAX_BYTES`], 20 MiB) is about 27 MiB as base64.
pub const FHIR_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The base URL clients reach this server under: the configured public URL (never the
/// request's Host header, which the client chooses).
pub fn base(s: &AppState) -> String {
    format!("{}/fhir", s.config.public_url)
}

pub fn fhir(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

pub fn with_version(mut r: Response, version: i64, location: Option<String>) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    if let Some(l) = location
        && let Ok(v) = HeaderValue::from_str(&l)
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub fn unknown_type(t: &str) -> WebError {
    WebError(AppError::NotFound(if t.is_empty() {
        "resource type"
    } else {
        "resource type (ygt serves Patient, Encounter, Condition, Observation, DiagnosticReport, ImagingStudy, DocumentReference, MedicationRequest, ServiceRequest, Task, Appointment, Schedule and Slot)"
    }))
}

pub fn rtype_of(t: &str) -> Result<RType, WebError> {
    RType::parse(t).ok_or_else(|| unknown_type(t))
}

pub fn bad_param(name: &str, why: Message) -> WebError {
    WebError::invalid(name, Reason::Other(why))
}

/// The instant range of a FHIR date parameter value (`2024`, `2024-03`, `2024-03-05`, or a
/// dateTime), as [start, end).
pub fn date_range(v: &str) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let cst = time::macros::offset!(+8);
    if let Ok(t) = OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        return Some((t, t + Duration::seconds(1)));
    }
    let parts: Vec<&str> = v.split('-').collect();
    let num = |i: usize| parts.get(i).and_then(|p| p.parse::<i32>().ok());
    let y = num(0)?;
    let start_end = match parts.len() {
        1 => (
            Date::from_calendar_date(y, time::Month::January, 1).ok()?,
            Date::from_calendar_date(y + 1, time::Month::January, 1).ok()?,
        ),
        2 => {
            let m = time::Month::try_from(u8::try_from(num(1)?).ok()?).ok()?;
            let start = Date::from_calendar_date(y, m, 1).ok()?;
            let next = if m == time::Month::December {
                Date::from_calendar_date(y + 1, time::Month::January, 1).ok()?
            } else {
                Date::from_calendar_date(y, m.next(), 1).ok()?
            };
            (start, next)
        }
        3 => {
            let m = time::Month::try_from(u8::try_from(num(1)?).ok()?).ok()?;
            let d = Date::from_calendar_date(y, m, u8::try_from(num(2)?).ok()?).ok()?;
            (d, d.next_day()?)
        }
        _ => return None,
    };
    let at = |d: Date| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(cst);
    Some((at(start_end.0), at(start_end.1)))
}

pub fn person_param(q: &FormData) -> Result<Option<Uuid>, WebError> {
    let v = q.opt("patient").or_else(|| q.opt("subject"));
    let Some(v) = v else {
        return Ok(None);
    };
    let id = v.strip_prefix("Patient/").unwrap_or(&v);
    Uuid::parse_str(id)
        .map(Some)
        .map_err(|_| bad_param("patient", msg!("common.patient_id_patient", id = id)))
}

/// The string at a path; array steps take the first element.
pub fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Array(a) => a.first()?.get(p)?,
            other => other.get(p)?,
        };
    }
    match cur {
        Value::Array(a) => a.first(),
        other => Some(other),
    }
}

/// A FHIR dateTime in China Standard Time, with seconds.
pub fn date_time(t: OffsetDateTime) -> String {
    t.to_offset(offset!(+8))
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A FHIR instant (UTC).
pub fn instant(t: OffsetDateTime) -> String {
    t.to_offset(offset!(UTC))
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The version of an `If-Match: W/"3"` header.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, WebError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|t| t.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| bad_param("If-Match", msg!("common.if_match_version")))
}

/// The largest page of a search; a larger `_count` is capped to it.
pub const MAX_COUNT: i64 = 200;

/// The page size of a search (a `_count` above [`MAX_COUNT`] is capped).
pub fn count_param(q: &FormData) -> Result<i64, WebError> {
    match q.int("_count")? {
        None => Ok(50),
        Some(n) if n >= 1 => Ok(n.min(MAX_COUNT)),
        Some(n) if n == 0 && summary_only(q)? => Ok(MAX_COUNT),
        Some(_) => Err(WebError::invalid(
            "_count",
            Reason::Range {
                min: 0,
                max: MAX_COUNT,
            },
        )),
    }
}

/// Whether a search asks only for how many match (`_count=0` or `_summary=count`).
pub fn summary_only(q: &FormData) -> Result<bool, WebError> {
    Ok(q.get("_summary") == Some("count") || q.int("_count")? == Some(0))
}
