//! Extractors that turn bad input into errors naming the field, never into a bare 400 or 500.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;
use ygt_app::{Actor, Ctx};
use ygt_domain::message::Message;
use ygt_domain::msg;
use ygt_domain::{Reason, ValidationError};

use crate::door::error::WebError;
use crate::{ClientAddr, RequestId};

/// The largest request body accepted by the JSON and form extractors.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A larger body limit for the JSON body of one route (set by [`crate::Routes::post_large`]).
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

fn format_error(field: &str, why: Message) -> WebError {
    WebError::from(ValidationError::new(field, Reason::Other(why)))
}

/// Parses a path segment as a UUID; the error names `id` (or the segment).
pub fn parse_id(field: &str, s: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(s)
        .map_err(|_| WebError::from(ValidationError::new(field, Reason::Format("uuid"))))
}

/// How much of a body beyond the limit is still read (and dropped), so that a client that is
/// still sending gets the 413 answer rather than a connection reset.
const DRAIN: usize = 8 * 1024 * 1024;

/// Reads a request body of at most `limit` bytes. A larger one is refused with 413 (`TooLarge`,
/// naming `body`) after reading it to its end, up to [`DRAIN`] more bytes.
pub async fn read_body(req: Request, limit: usize) -> Result<axum::body::Bytes, WebError> {
    use axum::body::HttpBody;
    let too_large = || {
        WebError(ygt_app::AppError::TooLarge {
            field: "body".into(),
            max: limit,
        })
    };
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let cap = limit.saturating_add(DRAIN);
    if declared.is_some_and(|n| n > u64::try_from(cap).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let mut body = req.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|_| format_error("body", msg!("common.body_could_read")))?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= limit {
                buf.extend_from_slice(&data);
            } else if total > cap {
                return Err(too_large());
            }
        }
    }
    if total > limit {
        return Err(too_large());
    }
    Ok(axum::body::Bytes::from(buf))
}

/// A JSON body; syntax and type errors name the offending field path.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !ct.starts_with("application/json") && !ct.contains("+json") {
            return Err(WebError(ygt_app::AppError::UnsupportedMediaType {
                field: "body".into(),
                expected: "JSON (Content-Type: application/json)".into(),
            }));
        }
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(BODY_LIMIT, |l| l.0);
        let bytes = read_body(req, limit).await?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => {
                // `?` marks a place serde_path_to_error could not name (inside a value that
                // ended early); a path from `[` means the body is an array, not an object.
                let path = e.path().to_string().replace(".?", "").replace('?', "");
                let en = e.into_inner().to_string();
                if path.starts_with('[') {
                    return Err(WebError::from(ValidationError::new(
                        "body",
                        Reason::Format("json_object"),
                    )));
                }
                // "missing field `x`" is about x, inside the object the path names.
                let missing = en
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split_once('`'))
                    .map(|(name, _)| name.to_owned());
                let (field, reason) = match (path.as_str(), missing) {
                    ("" | ".", Some(m)) => (m, Reason::Required),
                    (p, Some(m)) => (format!("{p}.{m}"), Reason::Required),
                    (p, None) => (
                        if p.is_empty() || p == "." {
                            "body".to_owned()
                        } else {
                            p.to_owned()
                        },
                        Reason::Other(msg!("common.could_read", en = en)),
                    ),
                };
                Err(WebError::from(ValidationError::new(field, reason)))
            }
        }
    }
}

/// A urlencoded form or query string as an ordered multi-map (checkbox groups repeat a name).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    /// The value, or the empty string.
    pub fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or("").to_owned()
    }

    /// The value when it is not blank.
    pub fn opt(&self, k: &str) -> Option<String> {
        self.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// An optional whole number; the error names the field.
    pub fn int(&self, k: &str) -> Result<Option<i64>, WebError> {
        match self.opt(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| WebError::from(ValidationError::new(k, Reason::Format("integer")))),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| format_error("body", msg!("common.form_could_read_too")))?;
        Ok(FormData::parse(&bytes))
    }
}

/// The query string as a multi-map.
pub struct QueryData(pub FormData);

impl<S: Send + Sync> FromRequestParts<S> for QueryData {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryData(FormData::parse(
            parts.uri.query().unwrap_or("").as_bytes(),
        )))
    }
}

/// Typed query parameters; a wrong value names its parameter.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(Query)
            .map_err(|e| {
                let field = e.path().to_string();
                let en = e.into_inner().to_string();
                WebError::from(ValidationError::new(
                    if field.is_empty() || field == "." {
                        "query".to_owned()
                    } else {
                        field
                    },
                    Reason::Other(msg!("common.valid", en = en)),
                ))
            })
    }
}

/// The use-case context of this request.
pub struct ReqCtx(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for ReqCtx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let client_addr = parts.extensions.get::<ClientAddr>().map(|c| c.0.clone());
        let actor = match parts.extensions.get::<crate::door::auth::Auth>() {
            Some(a) => Actor::User(Box::new(a.principal.clone())),
            None => Actor::Anonymous,
        };
        Ok(ReqCtx(Ctx {
            actor,
            request_id,
            client_addr,
        }))
    }
}
