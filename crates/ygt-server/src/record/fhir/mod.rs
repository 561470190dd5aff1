//! The record's FHIR resources: read, create, update and search of Patient, Encounter,
//! Condition, Observation, DiagnosticReport, ImagingStudy, DocumentReference and
//! MedicationRequest, the Binary of a DocumentReference, and `Bundle` transaction and batch.
//! Patient is served here, not by `mpi`: FHIR writes go through `ygt_app::submit`, which
//! registers the resident and records the items of one submission together.
//!
//! Every interaction goes through the use cases every other door uses (register a resident,
//! record items, read the record), so authorisation and audit are the same. Errors are
//! OperationOutcomes (rendered once, in [`crate::door::error`]), naming the FHIR element.

mod input;
mod output;

use std::collections::{BTreeSet, HashMap};
use ygt_domain::message::Message;
use ygt_domain::msg;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;
use ygt_app::record::parse_cursor;
use ygt_app::submit::{Submission, Submitted};
use ygt_app::ygt_store::record::{Item, TimelineFilter};
use ygt_app::{Actor, AppError, Ctx};
use ygt_domain::{Reason, ValidationError, ValidationErrors};

use crate::AppState;
use crate::door::error::WebError;
use crate::door::extract::{FormData, JsonBody, ReqCtx};
use crate::door::fhir::{
    RType, bad_param, base, base64_encode, count_param, date_range, fhir, parse_resource_id,
    person_param, resource_id, with_version,
};

pub use input::Target;

/// The identifier system of the resident ID card number (居民身份证号码).
pub const ID_NUMBER_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";
/// The identifier system of the medical-insurance number.
pub const INSURANCE_SYSTEM: &str = "urn:oid:2.16.156.10011.1.24";
/// Source systems that are not URIs leave as `urn:ygt:source:<name>` and come back as `<name>`.
pub const SOURCE_PREFIX: &str = "urn:ygt:source:";
fn sender_institution(ctx: &Ctx) -> Option<Uuid> {
    match &ctx.actor {
        Actor::User(p) => p.institution_id,
        _ => None,
    }
}

/// Renames the fields of validation errors.
fn rename(e: AppError, f: impl Fn(&str) -> String) -> AppError {
    match e {
        AppError::Invalid(errs) => AppError::Invalid(ValidationErrors(
            errs.0
                .into_iter()
                .map(|x| {
                    let name = f(&x.field);
                    x.at(name)
                })
                .collect(),
        )),
        other => other,
    }
}

/// Splits `entry[3].rest` or `items[3].rest` into the index and the rest.
fn indexed(field: &str) -> Option<(&str, usize, &str)> {
    let (head, tail) = field.split_once('[')?;
    let (n, rest) = tail.split_once(']')?;
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    Some((head, n.parse().ok()?, rest))
}

/// The resource of what a write produced.
async fn written(
    s: &AppState,
    ctx: &Ctx,
    rt: RType,
    out: &Submitted,
) -> Result<(Value, i64, String), WebError> {
    Ok(match out {
        Submitted::Resident(r) => {
            let p = s.app.written_person(ctx, r).await?;
            let id = p.id.to_string();
            (output::patient(&p), p.version, id)
        }
        Submitted::Item(r) => {
            let it = s.app.written_item(r).await?;
            let rt = if rt == RType::Patient {
                RType::Observation
            } else {
                rt
            };
            (output::item(rt, &it, 0), it.version, it.id.to_string())
        }
    })
}

fn status_line(out: &Submitted) -> (StatusCode, &'static str) {
    let created = match out {
        Submitted::Resident(r) => !matches!(r.outcome, "updated" | "unchanged"),
        Submitted::Item(r) => r.outcome == "created",
    };
    if created {
        (StatusCode::CREATED, "201 Created")
    } else {
        (StatusCode::OK, "200 OK")
    }
}

/// `POST /fhir/{type}` of Patient or a resource of the record.
pub async fn create(s: &AppState, ctx: &Ctx, rt: RType, res: &Value) -> Result<Response, WebError> {
    let refs = HashMap::new();
    let mapped = input::map(
        rt,
        res,
        &input::Input {
            default_institution: sender_institution(ctx),
            bundle: &refs,
        },
    )?;
    let out = s.app.submit(ctx, &[mapped], "fhir").await.map_err(|e| {
        rename(e, |f| match indexed(f) {
            Some((_, _, rest)) => input::fhir_path(rt, rest),
            None => input::fhir_path(rt, f),
        })
    })?;
    let Some(first) = out.first() else {
        return Err(WebError(AppError::NotFound("result")));
    };
    let (body, version, id) = written(s, ctx, rt, first).await?;
    let (status, _) = status_line(first);
    let loc = format!("{}/{}/{id}/_history/{version}", base(s), rt.name());
    Ok(with_version(fhir(status, &body), version, Some(loc)))
}

/// The item behind a resource id, authorised and audited as a read of the record.
async fn item_of(s: &AppState, ctx: &Ctx, rt: RType, id: &str) -> Result<(Item, usize), WebError> {
    let (uuid, part) = parse_resource_id(id).ok_or(WebError(AppError::NotFound("resource")))?;
    let (item, _, _) = s.app.record_item(ctx, uuid).await?;
    let fits = rt.kinds().contains(&item.kind.code())
        && match rt {
            RType::ImagingStudy => item.body.contains("\"study_uid\""),
            RType::MedicationRequest => {
                part == 0
                    || serde_json::from_str::<ygt_app::record::Body>(&item.body)
                        .is_ok_and(|b| part < b.medications.len())
            }
            _ => part == 0,
        };
    if !fits {
        return Err(WebError(AppError::NotFound("resource")));
    }
    Ok((item, part))
}

/// `GET /fhir/{type}/{id}` of Patient or a resource of the record.
pub async fn read(s: &AppState, ctx: &Ctx, rt: RType, id: &str) -> Result<Response, WebError> {
    if rt == RType::Patient {
        let uuid = Uuid::parse_str(id).map_err(|_| WebError(AppError::NotFound("resource")))?;
        let d = s.app.person_detail(ctx, uuid, "treatment").await?;
        let v = d.person.version;
        return Ok(with_version(
            fhir(StatusCode::OK, &output::patient(&d.person)),
            v,
            None,
        ));
    }
    let (item, part) = item_of(s, ctx, rt, id).await?;
    Ok(with_version(
        fhir(StatusCode::OK, &output::item(rt, &item, part)),
        item.version,
        None,
    ))
}

/// `GET /fhir/Binary/{id}`: the file of the DocumentReference `id`, authorised and audited as
/// a read of the resident's record. The bytes themselves (`application/pdf`, shown inline by a
/// browser), or a Binary resource when the client asks for FHIR JSON.
pub async fn binary(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let uuid = Uuid::parse_str(&id).map_err(|_| WebError(AppError::NotFound("resource")))?;
    let (item, content) = s.app.document_content(&ctx, uuid).await?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("fhir+json") || accept.starts_with("application/json") {
        let body = json!({
            "resourceType": "Binary",
            "id": item.id.to_string(),
            "meta": {"versionId": item.version.to_string(), "lastUpdated": crate::door::fhir::instant(item.updated_at)},
            "contentType": content.content_type,
            "securityContext": {"reference": format!("DocumentReference/{}", item.id)},
            "data": base64_encode(&content.data),
        });
        return Ok(with_version(
            fhir(StatusCode::OK, &body),
            item.version,
            None,
        ));
    }
    let mut r = (StatusCode::OK, content.data).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{}.pdf\"", item.id)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", content.sha256)) {
        h.insert(header::ETAG, v);
    }
    // Resident data: never kept by caches. The browser's PDF viewer needs plugins allowed; the
    // file may not run scripts or load anything.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; object-src 'self'; frame-ancestors 'none'"),
    );
    Ok(r)
}

/// Maps an update of a stored resource: the stored item keeps its source identity.
async fn update_submission(
    s: &AppState,
    ctx: &Ctx,
    rt: RType,
    id: &str,
    res: &Value,
    refs: &HashMap<String, Target>,
) -> Result<Submission, WebError> {
    if let Some(body_id) = res.get("id").and_then(Value::as_str)
        && body_id != id
    {
        return Err(WebError::invalid(
            &format!("{}.id", rt.name()),
            Reason::Other(msg!("record.does_match_id_url", id = id)),
        ));
    }
    let inp = input::Input {
        default_institution: sender_institution(ctx),
        bundle: refs,
    };
    if rt == RType::Patient {
        let uuid = Uuid::parse_str(id).map_err(|_| WebError(AppError::NotFound("resource")))?;
        let detail = s.app.person_detail(ctx, uuid, "treatment").await?;
        let Submission::Resident(d) = input::map(rt, res, &inp)? else {
            return Err(WebError(AppError::NotFound("resource")));
        };
        let known = detail.registrations.iter().any(|r| {
            r.institution_id.to_string() == d.institution_id.trim()
                && r.record_id.as_deref() == d.record_id.as_deref().map(str::trim)
        });
        if !known {
            return Err(WebError::invalid(
                "Patient.identifier",
                Reason::Other(msg!("record.update_needs_patient_number")),
            ));
        }
        return Ok(Submission::Resident(d));
    }
    let (item, part) = item_of(s, ctx, rt, id).await?;
    let Submission::Item {
        mut draft,
        patient_entry,
    } = input::map(rt, res, &inp)?
    else {
        return Err(WebError(AppError::NotFound("resource")));
    };
    if draft.kind != item.kind.code() {
        return Err(WebError::invalid(
            &format!("{}.category", rt.name()),
            Reason::Other(msg!("record.cannot_change_kind_stored")),
        ));
    }
    if rt == RType::MedicationRequest
        && (part > 0
            || serde_json::from_str::<ygt_app::record::Body>(&item.body)
                .is_ok_and(|b| b.medications.len() > 1))
    {
        return Err(WebError::invalid(
            "MedicationRequest.id",
            Reason::Other(msg!("record.prescription_several_medications_corrected")),
        ));
    }
    draft.source_system = item.source_system.clone();
    draft.source_id = item.source_id.clone();
    draft.institution_id = item.institution_id.to_string();
    Ok(Submission::Item {
        draft,
        patient_entry,
    })
}

/// `PUT /fhir/{type}/{id}` of Patient or a resource of the record.
pub async fn update(
    s: &AppState,
    ctx: &Ctx,
    rt: RType,
    id: &str,
    res: &Value,
) -> Result<Response, WebError> {
    let sub = update_submission(s, ctx, rt, id, res, &HashMap::new()).await?;
    let out = s.app.submit(ctx, &[sub], "fhir").await.map_err(|e| {
        rename(e, |f| match indexed(f) {
            Some((_, _, rest)) => input::fhir_path(rt, rest),
            None => input::fhir_path(rt, f),
        })
    })?;
    let Some(first) = out.first() else {
        return Err(WebError(AppError::NotFound("result")));
    };
    let (body, version, rid) = written(s, ctx, rt, first).await?;
    let loc = format!("{}/{}/{rid}/_history/{version}", base(s), rt.name());
    Ok(with_version(
        fhir(StatusCode::OK, &body),
        version,
        Some(loc),
    ))
}

/// `GET /fhir/{type}?…` of Patient or a resource of the record.
pub async fn search(s: &AppState, ctx: &Ctx, rt: RType, q: &FormData) -> Result<Value, WebError> {
    let count = count_param(q)?;
    let base_url = base(s);
    let mut self_params: Vec<(String, String)> = Vec::new();
    let mut entries = Vec::new();
    let mut next: Option<String> = None;
    let mut total: Option<i64> = None;
    if rt == RType::Patient {
        // An ID number with the name finds a resident outside the caller's scope (masked).
        let identifier = q
            .opt("identifier")
            .map(|v| v.rsplit('|').next().unwrap_or("").to_owned());
        let text = match (identifier, q.opt("name")) {
            (Some(i), Some(n)) => Some(format!("{i} {n}")),
            (Some(i), None) => Some(i),
            (None, n) => q.opt("phone").or(n),
        }
        .ok_or_else(|| bad_param("name", msg!("record.patient_search_needs_name")))?;
        for k in ["name", "identifier", "phone"] {
            if let Some(v) = q.opt(k) {
                self_params.push((k.into(), v));
            }
        }
        let offset = patient_offset(q)?;
        let (found, n) = s
            .app
            .search_residents_page(ctx, &text, offset, count)
            .await?;
        let shown = offset + i64::try_from(found.len()).unwrap_or(0);
        for f in found {
            entries.push(json!({
                "fullUrl": format!("{base_url}/Patient/{}", f.person.id),
                "resource": output::patient(&f.person),
                "search": {"mode": "match"},
            }));
        }
        total = Some(n.max(shown));
        if shown < n {
            next = Some(format!("o{shown}"));
        }
    } else {
        let person = person_param(q)?
            .ok_or_else(|| bad_param("patient", msg!("record.search_record_needs_patient")))?;
        self_params.push(("patient".into(), person.to_string()));
        let mut filter = TimelineFilter {
            kinds: rt.kinds().iter().map(|k| (*k).to_owned()).collect(),
            ..Default::default()
        };
        for v in q.all("date") {
            let v = v.trim();
            let (prefix, value) = match v.get(..2) {
                Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, v.get(2..).unwrap_or("")),
                _ => ("eq", v),
            };
            let (a, b) = date_range(value)
                .ok_or_else(|| bad_param("date", msg!("record.date_such_as_ge2024")))?;
            match prefix {
                "ge" => filter.from = Some(a),
                "gt" => filter.from = Some(b),
                "le" => filter.to = Some(b),
                "lt" => filter.to = Some(a),
                _ => {
                    filter.from = Some(a);
                    filter.to = Some(b);
                }
            }
            self_params.push(("date".into(), v.to_owned()));
        }
        if let Some(c) = q.opt("code") {
            filter.code = Some(c.rsplit('|').next().unwrap_or("").to_owned());
            self_params.push(("code".into(), c));
        }
        if rt == RType::DiagnosticReport
            && let Some(c) = q.opt("category")
        {
            let code = c.rsplit('|').next().unwrap_or("").to_uppercase();
            let kind = match code.as_str() {
                "LAB" => "lab_report",
                "RAD" | "IMG" => "imaging_report",
                "EC" => "ecg_report",
                "PAT" | "SP" => "pathology_report",
                _ => {
                    return Err(bad_param("category", msg!("record.lab_rad_ec_pat")));
                }
            };
            filter.kinds = vec![kind.to_owned()];
            self_params.push(("category".into(), c));
        }
        if let Some(c) = q.opt("_cursor") {
            filter.before = Some(
                parse_cursor(&c)
                    .ok_or_else(|| bad_param("_cursor", msg!("record.cursor_server")))?,
            );
        }
        let (items, more) = s.app.search_record(ctx, person, &filter, count).await?;
        for it in &items {
            let parts = match rt {
                RType::MedicationRequest => serde_json::from_str::<ygt_app::record::Body>(&it.body)
                    .map(|b| b.medications.len().max(1))
                    .unwrap_or(1),
                RType::ImagingStudy if !it.body.contains("\"study_uid\"") => 0,
                _ => 1,
            };
            for part in 0..parts {
                entries.push(json!({
                    "fullUrl": format!("{base_url}/{}/{}", rt.name(), resource_id(it.id, part)),
                    "resource": output::item(rt, it, part),
                    "search": {"mode": "match"},
                }));
            }
        }
        next = more;
    }
    let query = |extra: Option<(&str, &str)>| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self_params {
            ser.append_pair(k, v);
        }
        ser.append_pair("_count", &count.to_string());
        if let Some((k, v)) = extra {
            ser.append_pair(k, v);
        }
        ser.finish()
    };
    let mut links = vec![
        json!({"relation": "self", "url": format!("{base_url}/{}?{}", rt.name(), query(q.get("_cursor").map(|c| ("_cursor", c))))}),
    ];
    if let Some(n) = &next {
        links.push(json!({"relation": "next", "url": format!("{base_url}/{}?{}", rt.name(), query(Some(("_cursor", n))))}));
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": entries,
    });
    if let Some(n) = total {
        bundle["total"] = json!(n);
    } else if next.is_none() && q.get("_cursor").is_none() {
        bundle["total"] = json!(entries_len(&bundle));
    }
    Ok(bundle)
}

/// Where a page of a Patient search starts: its `_cursor` (`o` and the number of residents
/// before it, in the search's stable order of name and id).
fn patient_offset(q: &FormData) -> Result<i64, WebError> {
    let Some(c) = q.opt("_cursor") else {
        return Ok(0);
    };
    c.strip_prefix('o')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| bad_param("_cursor", msg!("record.cursor_server")))
}

fn entries_len(b: &Value) -> usize {
    b.get("entry")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0)
}

/// One entry of a Bundle, as requested.
struct Entry {
    rt: RType,
    method: String,
    id: Option<String>,
    resource: Value,
}

fn entry_error(i: usize, what: &str, why: Message) -> ValidationError {
    ValidationError::new(format!("Bundle.entry[{i}].{what}"), Reason::Other(why))
}

/// `Observation.code` of entry i → `Bundle.entry[i].resource.code`.
fn in_entry(i: usize, field: &str) -> String {
    let rest = match field.split_once('.') {
        Some((head, rest)) if RType::parse(head).is_some() => rest,
        _ => field,
    };
    format!("Bundle.entry[{i}].resource.{rest}")
}

pub async fn bundle(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(b): JsonBody<Value>,
) -> Result<Response, WebError> {
    if b.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(bad_param(
            "resourceType",
            msg!("record.bundle_post_base_url"),
        ));
    }
    let kind = match b.get("type").and_then(Value::as_str) {
        Some("transaction") => "transaction",
        Some("batch") => "batch",
        _ => {
            return Err(bad_param("Bundle.type", msg!("record.transaction_batch")));
        }
    };
    let raw = b
        .get("entry")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| WebError::invalid("Bundle.entry", Reason::Required))?;
    if raw.len() > 1000 {
        return Err(WebError::invalid(
            "Bundle.entry",
            Reason::Range { min: 1, max: 1000 },
        ));
    }
    // Parse the envelope of every entry first.
    let mut errs = ValidationErrors::default();
    let mut entries: Vec<Option<Entry>> = Vec::with_capacity(raw.len());
    for (i, e) in raw.iter().enumerate() {
        let resource = e.get("resource").cloned();
        let method = e
            .get("request")
            .and_then(|r| r.get("method"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let url = e
            .get("request")
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let url = url.split('?').next().unwrap_or("");
        let (tname, id) = match url.split_once('/') {
            Some((t, id)) => (t, Some(id.to_owned())),
            None => (url, None),
        };
        let Some(resource) = resource else {
            errs.push(ValidationError::new(
                format!("Bundle.entry[{i}].resource"),
                Reason::Required,
            ));
            entries.push(None);
            continue;
        };
        let Some(rt) = RType::parse(tname) else {
            errs.push(entry_error(
                i,
                "request.url",
                msg!("record.supported_resource_type", url = format!("{url:?}")),
            ));
            entries.push(None);
            continue;
        };
        if rt.is_referral() {
            errs.push(entry_error(
                i,
                "request.url",
                msg!("record.accepted_bundle_send_fhir", tname = tname),
            ));
            entries.push(None);
            continue;
        }
        match (method, &id) {
            ("POST", None) | ("PUT", Some(_)) => {}
            _ => {
                errs.push(entry_error(
                    i,
                    "request.method",
                    msg!("record.post_type_put_type"),
                ));
                entries.push(None);
                continue;
            }
        }
        entries.push(Some(Entry {
            rt,
            method: method.to_owned(),
            id,
            resource,
        }));
    }
    if !errs.0.is_empty() {
        return Err(errs.into());
    }
    let entries: Vec<Entry> = entries.into_iter().flatten().collect();
    let base_url = base(&s);
    if kind == "batch" {
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            let r = one_entry(&s, &ctx, e, &HashMap::new()).await;
            out.push(match r {
                Ok((sub, rt)) => match s.app.submit(&ctx, &[sub], "fhir").await {
                    Ok(done) => match done.first() {
                        Some(d) => response_entry(&s, &ctx, rt, d, &base_url).await?,
                        None => json!({"response": {"status": "500"}}),
                    },
                    Err(err) => failed_entry(rename(err, |f| match indexed(f) {
                        Some((_, _, rest)) => input::fhir_path(rt, rest),
                        None => input::fhir_path(rt, f),
                    })),
                },
                Err(WebError(err)) => failed_entry(err),
            });
        }
        let body = json!({"resourceType": "Bundle", "type": "batch-response", "entry": out});
        return Ok(fhir(StatusCode::OK, &body));
    }
    // Transaction: references between entries by fullUrl; Observations referred to by a
    // DiagnosticReport of the Bundle become its results.
    let mut refs: HashMap<String, Target> = HashMap::new();
    let mut folded: BTreeSet<usize> = BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(full) = raw
            .get(i)
            .and_then(|x| x.get("fullUrl"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        match e.rt {
            RType::Patient => {
                refs.insert(full.to_owned(), Target::PatientEntry(i));
            }
            RType::Observation => {
                let used = entries.iter().any(|d| {
                    d.rt == RType::DiagnosticReport
                        && d.resource
                            .get("result")
                            .and_then(Value::as_array)
                            .is_some_and(|rs| {
                                rs.iter().any(|r| {
                                    r.get("reference").and_then(Value::as_str) == Some(full)
                                })
                            })
                });
                if used {
                    refs.insert(full.to_owned(), Target::Observation(e.resource.clone()));
                    folded.insert(i);
                }
            }
            _ => {}
        }
    }
    let mut subs = Vec::new();
    let mut origin = Vec::new();
    let mut errs = ValidationErrors::default();
    for (i, e) in entries.iter().enumerate() {
        if folded.contains(&i) {
            continue;
        }
        match one_entry(&s, &ctx, e, &refs).await {
            Ok((mut sub, _)) => {
                // Entry indexes of the Bundle become indexes of the submission.
                if let Submission::Item {
                    patient_entry: Some(k),
                    ..
                } = &mut sub
                {
                    *k -= folded.iter().filter(|f| **f < *k).count();
                }
                subs.push(sub);
                origin.push(i);
            }
            Err(WebError(AppError::Invalid(v))) => {
                for x in v.0 {
                    let f = in_entry(i, &x.field);
                    errs.push(x.at(f));
                }
            }
            Err(other) => return Err(other),
        }
    }
    if !errs.0.is_empty() {
        return Err(errs.into());
    }
    let residents = subs
        .iter()
        .filter(|x| matches!(x, Submission::Resident(_)))
        .count();
    let item_origin: Vec<usize> = origin
        .iter()
        .zip(&subs)
        .filter(|(_, x)| matches!(x, Submission::Item { .. }))
        .map(|(o, _)| *o)
        .collect();
    let done = s.app.submit(&ctx, &subs, "fhir").await.map_err(|err| {
        rename(err, |f| match indexed(f) {
            Some(("entry", k, rest)) => match origin.get(k) {
                Some(i) => in_entry(
                    *i,
                    &input::fhir_path(
                        entries.get(*i).map(|e| e.rt).unwrap_or(RType::Patient),
                        rest,
                    ),
                ),
                None => f.to_owned(),
            },
            Some(("items", k, rest)) => match item_origin.get(k) {
                Some(i) => in_entry(
                    *i,
                    &input::fhir_path(
                        entries.get(*i).map(|e| e.rt).unwrap_or(RType::Patient),
                        rest,
                    ),
                ),
                None => f.to_owned(),
            },
            _ => f.to_owned(),
        })
    })?;
    let _ = residents;
    // `submit` answers residents first, then items, each in order.
    let mut by_entry: HashMap<usize, &Submitted> = HashMap::new();
    let res_origin: Vec<usize> = origin
        .iter()
        .zip(&subs)
        .filter(|(_, x)| matches!(x, Submission::Resident(_)))
        .map(|(o, _)| *o)
        .collect();
    for (o, d) in res_origin.iter().chain(item_origin.iter()).zip(done.iter()) {
        by_entry.insert(*o, d);
    }
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if folded.contains(&i) {
            out.push(json!({"response": {"status": "200 OK",
                "outcome": {"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": "informational",
                    "diagnostics": "recorded as a result of the DiagnosticReport that refers to it"}]}}}));
            continue;
        }
        match by_entry.get(&i) {
            Some(d) => out.push(response_entry(&s, &ctx, e.rt, d, &base_url).await?),
            None => out.push(json!({"response": {"status": "500"}})),
        }
    }
    let body = json!({"resourceType": "Bundle", "type": "transaction-response", "entry": out});
    Ok(fhir(StatusCode::OK, &body))
}

async fn one_entry(
    s: &AppState,
    ctx: &Ctx,
    e: &Entry,
    refs: &HashMap<String, Target>,
) -> Result<(Submission, RType), WebError> {
    if e.method == "PUT" {
        let id = e.id.as_deref().unwrap_or("");
        return Ok((
            update_submission(s, ctx, e.rt, id, &e.resource, refs).await?,
            e.rt,
        ));
    }
    let m = input::map(
        e.rt,
        &e.resource,
        &input::Input {
            default_institution: sender_institution(ctx),
            bundle: refs,
        },
    )?;
    Ok((m, e.rt))
}

async fn response_entry(
    s: &AppState,
    ctx: &Ctx,
    rt: RType,
    d: &Submitted,
    base_url: &str,
) -> Result<Value, WebError> {
    let (resource, version, id) = written(s, ctx, rt, d).await?;
    let (_, line) = status_line(d);
    Ok(json!({
        "fullUrl": format!("{base_url}/{}/{id}", rt.name()),
        "resource": resource,
        "response": {"status": line, "location": format!("{}/{id}/_history/{version}", rt.name()), "etag": format!("W/\"{version}\"")},
    }))
}

fn failed_entry(e: AppError) -> Value {
    let status = crate::door::error::status_of(&e);
    json!({"response": {
        "status": format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
        "outcome": crate::door::error::operation_outcome(&e, crate::door::i18n::Lang::Zh),
    }})
}
