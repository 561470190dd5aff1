//! What the JSON API's handlers share: pages of a list, paging parameters, optimistic
//! concurrency (`ETag` out, `If-Match` in) and optional ids. Updates use optimistic
//! concurrency: `GET` returns the record's version as an `ETag`, and a `PUT` with `If-Match`
//! is refused with 409 when someone changed the record in between.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;
use ygt_domain::{Reason, ValidationError};

use crate::door::error::WebError;
use crate::door::extract::parse_id;

// Dates on the wire are `YYYY-MM-DD` (the default of `time` would be `[year, ordinal]`).
time::serde::format_description!(pub ymd, Date, "[year]-[month]-[day]");

/// The largest page a list returns.
pub const MAX_LIMIT: i64 = 500;
pub const DEFAULT_LIMIT: i64 = 100;

/// One page of a list, as every paged list of the API answers.
#[derive(Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// A record with its version as ETag.
pub fn with_etag<T: Serialize>(status: StatusCode, version: i64, body: T) -> Response {
    let mut r = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The version a client expects, from `If-Match: "3"` (or `W/"3"`); none when absent or `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, WebError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.trim_start_matches("W/").trim_matches('"');
    s.parse::<i64>().map(Some).map_err(|_| {
        WebError::from(ValidationError::new(
            "If-Match",
            Reason::Format("quoted_version"),
        ))
    })
}

impl<T> Page<T> {
    /// A whole list as one page.
    pub fn all(items: Vec<T>) -> Page<T> {
        let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
        Page {
            items,
            total,
            limit: total,
            offset: 0,
        }
    }
}

pub fn paging(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), WebError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(WebError::invalid(
            "limit",
            Reason::Range {
                min: 1,
                max: MAX_LIMIT,
            },
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(WebError::invalid(
            "offset",
            Reason::Range {
                min: 0,
                max: i64::MAX,
            },
        ));
    }
    Ok((limit, offset))
}

pub fn opt_id(field: &str, v: Option<&str>) -> Result<Option<Uuid>, WebError> {
    v.filter(|s| !s.is_empty())
        .map(|s| parse_id(field, s))
        .transpose()
}
