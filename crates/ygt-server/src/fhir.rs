//! FHIR R4 REST under `/fhir`: read, create, update and search of Patient, Encounter,
//! Condition, Observation, DiagnosticReport, ImagingStudy, DocumentReference and
//! MedicationRequest, `Bundle` transaction and batch, and the CapabilityStatement; two-way
//! referral as ServiceRequest, Task, Appointment, Schedule and Slot.
//!
//! This module only routes: `/fhir/{type}` goes to the capability that serves the type
//! (`referral::fhir` for the referral types, `record::fhir` for Patient and the record), and
//! the CapabilityStatement lists what each type declares ([`RType`]). The shared plumbing is
//! [`crate::door::fhir`]. Every interaction goes through the use cases every other door uses,
//! so authorisation and audit are the same. Errors are OperationOutcomes (rendered once, in
//! [`crate::door::error`]), naming the FHIR element.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::door::error::WebError;
use crate::door::extract::{FormData, JsonBody, QueryData, ReqCtx};
use crate::door::fhir::{MAX_COUNT, base, fhir, rtype_of, summary_only};
use crate::{AppState, Routes, record, referral};
use ygt_app::Ctx;

pub use crate::door::fhir::{
    FHIR_BODY_LIMIT, FHIR_JSON, RType, base64_decode, base64_encode, resource_id,
};

pub fn routes(r: Routes) -> Routes {
    r.get("/fhir/metadata", metadata)
        .post_large("/fhir", record::fhir::bundle, FHIR_BODY_LIMIT)
        .get("/fhir/Binary/{id}", record::fhir::binary)
        .get("/fhir/{rtype}", search)
        .post_large("/fhir/{rtype}", create, FHIR_BODY_LIMIT)
        .get("/fhir/{rtype}/{id}", read)
        .put_large("/fhir/{rtype}/{id}", update, FHIR_BODY_LIMIT)
}

async fn create(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(rtype): Path<String>,
    JsonBody(res): JsonBody<Value>,
) -> Result<Response, WebError> {
    let rt = rtype_of(&rtype)?;
    if rt.is_referral() {
        return referral::fhir::create(&s, &ctx, rt, &res).await;
    }
    record::fhir::create(&s, &ctx, rt, &res).await
}

async fn read(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path((rtype, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let rt = rtype_of(&rtype)?;
    if rt.is_referral() {
        return referral::fhir::read(&s, &ctx, rt, &id).await;
    }
    record::fhir::read(&s, &ctx, rt, &id).await
}

async fn update(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    headers: HeaderMap,
    Path((rtype, id)): Path<(String, String)>,
    JsonBody(res): JsonBody<Value>,
) -> Result<Response, WebError> {
    let rt = rtype_of(&rtype)?;
    if rt.is_referral() {
        return referral::fhir::update(&s, &ctx, &headers, rt, &id, &res).await;
    }
    record::fhir::update(&s, &ctx, rt, &id, &res).await
}

async fn search(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(rtype): Path<String>,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let rt = rtype_of(&rtype)?;
    if summary_only(&q)? {
        return count_only(&s, &ctx, rt, q).await;
    }
    Ok(fhir(StatusCode::OK, &search_page(&s, &ctx, rt, &q).await?))
}

async fn search_page(s: &AppState, ctx: &Ctx, rt: RType, q: &FormData) -> Result<Value, WebError> {
    if rt.is_referral() {
        return referral::fhir::search(s, ctx, rt, q).await;
    }
    record::fhir::search(s, ctx, rt, q).await
}

/// `_count=0` or `_summary=count`: a searchset Bundle with only the total, counted by
/// following the search's pages to the end (or taken from the first page when it knows it).
async fn count_only(s: &AppState, ctx: &Ctx, rt: RType, q: FormData) -> Result<Response, WebError> {
    let mut params: Vec<(String, String)> =
        q.0.into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "_count" | "_summary" | "_cursor"))
            .collect();
    let self_url = {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            ser.append_pair(k, v);
        }
        ser.append_pair("_summary", "count");
        format!("{}/{}?{}", base(s), rt.name(), ser.finish())
    };
    params.push(("_count".into(), MAX_COUNT.to_string()));
    let mut total: u64 = 0;
    loop {
        let page = search_page(s, ctx, rt, &FormData(params.clone())).await?;
        if let Some(n) = page.get("total").and_then(Value::as_u64) {
            total += n;
            break;
        }
        total += page
            .get("entry")
            .and_then(Value::as_array)
            .map_or(0, |e| e.len() as u64);
        let Some(cursor) = next_cursor(&page) else {
            break;
        };
        params.retain(|(k, _)| k != "_cursor");
        params.push(("_cursor".into(), cursor));
    }
    let body = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": self_url}],
    });
    Ok(fhir(StatusCode::OK, &body))
}

/// The `_cursor` of a searchset's `next` link.
fn next_cursor(page: &Value) -> Option<String> {
    let url = page
        .get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?
        .get("url")?
        .as_str()?;
    let (_, query) = url.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "_cursor")
        .map(|(_, v)| v.into_owned())
}

/// The CapabilityStatement: what each resource type declares.
async fn metadata(State(s): State<AppState>) -> Response {
    let mut resources: Vec<Value> = RType::ALL
        .iter()
        .map(|t| {
            let params: Vec<Value> = t
                .search_params()
                .iter()
                .chain([("_count", "number"), ("_cursor", "string")].iter())
                .map(|(n, ty)| json!({"name": n, "type": ty}))
                .collect();
            let interactions: Vec<Value> = t
                .interactions()
                .iter()
                .map(|c| json!({"code": c}))
                .collect();
            json!({
                "type": t.name(),
                "interaction": interactions,
                "versioning": if matches!(t, RType::Schedule | RType::Slot) { "no-version" } else { "versioned" },
                "readHistory": false,
                "updateCreate": false,
                "conditionalCreate": false,
                "searchParam": params,
            })
        })
        .collect();
    resources.push(json!({
        "type": "Binary",
        "documentation": "The file of a DocumentReference (its PDF), read by the DocumentReference's id: raw bytes, or a Binary resource when asked for application/fhir+json.",
        "interaction": [{"code": "read"}],
    }));
    let body = json!({
        "resourceType": "CapabilityStatement",
        "url": format!("{}/metadata", base(&s)),
        "status": "active",
        "date": "2026-11-30",
        "publisher": "ygt",
        "kind": "instance",
        "software": {"name": "ygt", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "ygt 医共体平台 — shared health record and two-way referral", "url": base(&s)},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "documentation": "Bearer tokens of integrations (or a signed-in session); every read and write is authorised by role and institution scope and audited.",
            "security": {"cors": false, "service": [{"text": "Bearer token"}]},
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}],
        }],
    });
    fhir(StatusCode::OK, &body)
}
