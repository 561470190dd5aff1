//! Static files, embedded in the binary.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::door::error::WebError;

macro_rules! asset {
    ($path:literal, $mime:literal) => {
        (
            $path,
            $mime,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)) as &[u8],
        )
    };
}

/// (path under /static/, content type, bytes)
pub static ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("swagger-init.js", "text/javascript; charset=utf-8"),
    asset!("vendor/htmx.min.js", "text/javascript; charset=utf-8"),
    asset!(
        "vendor/swagger-ui/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/swagger-ui/swagger-ui.css",
        "text/css; charset=utf-8"
    ),
];

pub static API_DOCS_HTML: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/api-docs.html"));

pub async fn serve(Path(path): Path<String>) -> Result<Response, WebError> {
    let Some((_, mime, bytes)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return Err(WebError::not_found());
    };
    let mut r = (StatusCode::OK, *bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(r)
}
