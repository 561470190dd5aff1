//! HL7 v2.5 over MLLP (`ygt serve --mllp ADDR`): ADT^A01/A04/A05/A08/A28/A31 register or
//! update residents through the master patient index (with the visit a PV1 announces),
//! ORU^R01 records results. Each message goes through the same `submit` use case as FHIR
//! and the JSON API, authorised by the integration token the listener runs with, and is
//! acknowledged only after its transaction committed (AA); bad messages get AR (cannot be
//! processed) or AE (content refused) with an ERR segment naming the field.

use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::macros::offset;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use uuid::Uuid;
use ygt_app::access::Principal;
use ygt_app::mpi::ResidentDraft;
use ygt_app::record::{ItemDraft, PatientRef, ResultDraft};
use ygt_app::submit::{Prepared, Submission, Submitted};
use ygt_app::{Actor, App, AppError, Ctx};
use ygt_interop::hl7::{
    self, AckCode, ErrorCode, Header, Hl7Error, Message, PatientIdentity, Report,
};
use ygt_interop::mllp::{self, MllpDecoder};

use super::mllp_guard::LogLimiter;
pub use super::mllp_guard::MllpLimits;

/// The largest message accepted (bigger frames are refused and skipped).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// How long an integration token's principal is trusted before it is looked up again
/// (revocation reaches a running listener within this time).
const PRINCIPAL_TTL: Duration = Duration::from_secs(30);

/// What a message became, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: &'static str,
    pub detail: String,
}

/// Messages prepared by the connections, waiting for the writer.
struct Job {
    ctx: Ctx,
    prepared: Prepared,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Submitted>, AppError>>,
}

/// At most this many messages share one commit.
const GROUP_COMMIT: usize = 64;

/// The HL7 door: the application and the token it acts with. Connections parse, map and
/// authorise their messages concurrently; one writer commits what has arrived meanwhile in
/// one transaction (a savepoint per message, so a refused message fails alone), and every
/// message is acknowledged once the transaction holding it committed.
pub struct Hl7Door {
    app: App,
    secret: String,
    principal: Mutex<Option<(Principal, Instant)>>,
    jobs: tokio::sync::mpsc::Sender<Job>,
    pending: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Job>>>,
    limits: MllpLimits,
    noise: LogLimiter,
}

async fn writer(app: App, mut rx: tokio::sync::mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_COMMIT {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(jobs.len());
        let mut batch = Vec::with_capacity(jobs.len());
        for j in jobs {
            replies.push(j.reply);
            batch.push((j.ctx, j.prepared));
        }
        let results = app.write_many(&batch, "hl7").await;
        for (reply, r) in replies.into_iter().zip(results) {
            let _ = reply.send(r);
        }
    }
}

/// `2026-11-20 08:30:00` (or RFC 3339 when the time has an offset) from an HL7 TS
/// (`YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]`); anything else is passed on as sent, to be refused by
/// the use case naming the field.
pub fn hl7_time(ts: &str) -> String {
    let t = ts.trim();
    let (main, zone) = match t.find(['+', '-']) {
        Some(i) if i >= 8 => (&t[..i], Some(&t[i..])),
        _ => (t, None),
    };
    let main = main.split('.').next().unwrap_or(main);
    if !main.bytes().all(|b| b.is_ascii_digit()) {
        return t.to_owned();
    }
    let g = |a: usize, b: usize| main.get(a..b).unwrap_or("");
    let date = match main.len() {
        8 | 10 | 12 | 14 => format!("{}-{}-{}", g(0, 4), g(4, 6), g(6, 8)),
        _ => return t.to_owned(),
    };
    let time = match main.len() {
        8 => None,
        10 => Some(format!("{}:00:00", g(8, 10))),
        12 => Some(format!("{}:{}:00", g(8, 10), g(10, 12))),
        _ => Some(format!("{}:{}:{}", g(8, 10), g(10, 12), g(12, 14))),
    };
    match (time, zone) {
        (None, _) => date,
        (Some(tm), Some(z)) if z.len() == 5 => {
            format!(
                "{date}T{tm}{}:{}",
                z.get(..3).unwrap_or(""),
                z.get(3..).unwrap_or("")
            )
        }
        (Some(tm), _) => format!("{date} {tm}"),
    }
}

fn date_of(ts: &str) -> String {
    let t = ts.trim();
    match (t.get(0..4), t.get(4..6), t.get(6..8)) {
        (Some(y), Some(m), Some(d)) if t.len() >= 8 => format!("{y}-{m}-{d}"),
        _ => t.to_owned(),
    }
}

fn source_system(h: &Header) -> String {
    let app = h.sending_application.trim();
    let fac = h.sending_facility.trim();
    match (app.is_empty(), fac.is_empty()) {
        (false, false) => format!("{app}@{fac}"),
        (false, true) => app.to_owned(),
        (true, false) => fac.to_owned(),
        (true, true) => "HL7".to_owned(),
    }
}

fn patient_ref(p: &PatientIdentity) -> PatientRef {
    PatientRef {
        person_id: None,
        record_id: p.record_number().map(str::to_owned),
        id_number: p.id_number().map(str::to_owned),
        name: p.name.clone(),
        sex: p
            .sex
            .clone()
            .filter(|s| matches!(s.as_str(), "M" | "F" | "U" | "O" | "0" | "1" | "2" | "9"))
            .map(|s| match s.as_str() {
                "U" => "0".to_owned(),
                "O" => "9".to_owned(),
                _ => s,
            }),
        birth_date: p.birth_date.as_deref().map(date_of),
    }
}

fn resident(p: &PatientIdentity, institution: Uuid) -> ResidentDraft {
    let r = patient_ref(p);
    ResidentDraft {
        institution_id: institution.to_string(),
        record_id: r.record_id,
        name: p.name.clone().unwrap_or_default(),
        sex: r.sex,
        birth_date: r.birth_date,
        id_number: r.id_number,
        phone: p.phone.clone(),
        address: p.address.clone(),
        ethnicity: p.ethnicity.clone(),
        nationality: p.nationality.clone(),
        ..Default::default()
    }
}

fn status_of(result_status: Option<&str>) -> Option<String> {
    Some(
        match result_status.unwrap_or("F") {
            "C" => "amended",
            "P" | "I" | "R" | "S" | "A" => "preliminary",
            "X" | "D" | "W" => "entered_in_error",
            _ => "final",
        }
        .to_owned(),
    )
}

fn is_conclusion(o: &hl7::Obx) -> bool {
    let s = format!(
        "{} {}",
        o.code.to_lowercase(),
        o.name.as_deref().unwrap_or("").to_lowercase()
    );
    ["impression", "conclusion", "结论", "诊断", "印象", "意见"]
        .iter()
        .any(|k| s.contains(k))
}

/// One ORDER_OBSERVATION group as an item draft.
fn report_item(h: &Header, p: &PatientIdentity, r: &Report, institution: Uuid) -> ItemDraft {
    let svc = r.diagnostic_service.as_deref().unwrap_or("").to_uppercase();
    let modality = ["CT", "MR", "US", "DX", "MG", "ES"]
        .into_iter()
        .find(|m| svc == *m || svc.starts_with(m));
    let kind = if modality.is_some()
        || matches!(svc.as_str(), "RAD" | "RX" | "NMR" | "NMS" | "XRC" | "VUS")
    {
        "imaging_report"
    } else if matches!(svc.as_str(), "EC" | "ECG" | "CUS" | "EKG") {
        "ecg_report"
    } else if matches!(svc.as_str(), "PAT" | "SP" | "CP" | "TX") {
        "pathology_report"
    } else {
        "lab_report"
    };
    let when = r
        .observed_at
        .as_deref()
        .or_else(|| r.observations.iter().find_map(|o| o.observed_at.as_deref()))
        .unwrap_or(h.timestamp.as_str());
    let mut d = ItemDraft {
        kind: kind.to_owned(),
        institution_id: institution.to_string(),
        source_system: source_system(h),
        source_id: r
            .filler
            .clone()
            .or_else(|| r.placer.clone())
            .unwrap_or_default(),
        patient: patient_ref(p),
        occurred_at: hl7_time(when),
        status: status_of(r.result_status.as_deref()),
        code: r.service_code.clone(),
        code_system: r.service_system.clone(),
        title: r.service_name.clone(),
        doctor: r.ordering_provider.clone(),
        modality: modality.map(str::to_owned),
        ..Default::default()
    };
    let mut findings = Vec::new();
    let mut conclusion = Vec::new();
    for o in &r.observations {
        let vt = o.value_type.as_deref().unwrap_or("");
        let text_only = matches!(vt, "TX" | "FT") || (kind != "lab_report" && vt == "ST");
        let Some(value) = o.value.clone() else {
            continue;
        };
        if text_only && kind != "lab_report" {
            if is_conclusion(o) {
                conclusion.push(value);
            } else {
                findings.push(value);
            }
            continue;
        }
        let code_up = o.code.to_uppercase();
        if code_up.contains("STUDYUID") || code_up == "113014" || code_up == "110180" {
            d.study_uid = Some(value);
            continue;
        }
        d.results.push(ResultDraft {
            code: o.code.clone(),
            name: o.name.clone(),
            value,
            unit: o.unit.clone(),
            ref_range: o.ref_range.clone(),
            abnormal: o
                .abnormal
                .clone()
                .filter(|a| matches!(a.as_str(), "N" | "H" | "L" | "HH" | "LL" | "A")),
            effective_at: o.observed_at.as_deref().map(hl7_time),
        });
    }
    if !findings.is_empty() {
        d.findings = Some(findings.join("\n"));
    }
    if !conclusion.is_empty() {
        d.conclusion = Some(conclusion.join("\n"));
    }
    if kind != "lab_report"
        && d.conclusion.is_none()
        && d.findings.is_none()
        && d.results.is_empty()
    {
        d.conclusion = r.notes.first().cloned();
    }
    d
}

/// The visit a PV1 announces, as an encounter of the registered resident.
fn visit_item(h: &Header, v: &hl7::Visit, institution: Uuid) -> Option<ItemDraft> {
    let number = v.visit_number.clone()?;
    let class = match v.class.as_deref().unwrap_or("O") {
        "I" => "inpatient",
        "E" => "emergency",
        _ => "outpatient",
    };
    let when = v
        .admit_time
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or(h.timestamp.as_str());
    Some(ItemDraft {
        kind: "encounter".into(),
        institution_id: institution.to_string(),
        source_system: source_system(h),
        source_id: number,
        occurred_at: hl7_time(when),
        ended_at: v.discharge_time.as_deref().map(hl7_time),
        class: Some(class.into()),
        department: v.department.clone(),
        doctor: v.attending_doctor.clone(),
        ..Default::default()
    })
}

/// The submissions a message asks for.
pub fn submissions(
    msg: &Message,
    h: &Header,
    institution: Uuid,
) -> Result<Vec<Submission>, Hl7Error> {
    match (h.message_code.as_str(), h.trigger_event.as_str()) {
        ("ADT", "A01" | "A04" | "A05" | "A08" | "A28" | "A31") => {
            let p = hl7::patient(msg)?;
            if p.name.as_deref().unwrap_or("").trim().is_empty() {
                return Err(Hl7Error::new(
                    "PID-5",
                    "the patient's name is required to register",
                    ErrorCode::RequiredFieldMissing,
                ));
            }
            let mut out = vec![Submission::Resident(Box::new(resident(&p, institution)))];
            if let Some(v) = hl7::visit(msg)
                && matches!(h.trigger_event.as_str(), "A01" | "A04" | "A08")
                && let Some(item) = visit_item(h, &v, institution)
            {
                out.push(Submission::Item {
                    draft: Box::new(item),
                    patient_entry: Some(0),
                });
            }
            Ok(out)
        }
        ("ORU", "R01") => {
            let p = hl7::patient(msg)?;
            let reports = hl7::reports(msg)?;
            Ok(reports
                .iter()
                .map(|r| Submission::Item {
                    draft: Box::new(report_item(h, &p, r, institution)),
                    patient_entry: None,
                })
                .collect())
        }
        ("ADT" | "ORU", t) => Err(Hl7Error::new(
            "MSH-9",
            format!(
                "trigger event {t} is not supported (ADT A01, A04, A05, A08, A28, A31; ORU R01)"
            ),
            ErrorCode::UnsupportedEventCode,
        )),
        (m, _) => Err(Hl7Error::new(
            "MSH-9",
            format!("message type {m} is not supported (ADT, ORU)"),
            ErrorCode::UnsupportedMessageType,
        )),
    }
}

/// The HL7 location of a field of a draft (for ERR-2), given which OBR group or resident it
/// came from.
fn hl7_field(field: &str, adt: bool) -> String {
    let rest = match field.split_once("].") {
        Some((head, rest)) if head.starts_with("entry[") || head.starts_with("items[") => rest,
        _ => field,
    };
    let (head, tail) = match rest.split_once('.') {
        Some((h, t)) => (h, t),
        None => (rest, ""),
    };
    let obx = |tail: &str| {
        let n = head
            .strip_prefix("results[")
            .and_then(|x| x.strip_suffix(']'))
            .and_then(|x| x.parse::<usize>().ok())
            .unwrap_or(0);
        let f = match tail {
            "code" | "name" => 3,
            "unit" => 6,
            "ref_range" => 7,
            "abnormal" => 8,
            "effective_at" => 14,
            _ => 5,
        };
        format!("OBX[{}]-{f}", n + 1)
    };
    match head {
        "name" => "PID-5".into(),
        "sex" => "PID-8".into(),
        "birth_date" => "PID-7".into(),
        "id_number" | "record_id" => "PID-3".into(),
        "phone" => "PID-13".into(),
        "address" | "division_code" => "PID-11".into(),
        "ethnicity" => "PID-22".into(),
        "nationality" => "PID-28".into(),
        "patient" => match tail {
            "birth_date" => "PID-7".into(),
            "sex" => "PID-8".into(),
            _ => "PID-3".into(),
        },
        "occurred_at" if adt => "PV1-44".into(),
        "ended_at" => "PV1-45".into(),
        "class" => "PV1-2".into(),
        "source_id" if adt => "PV1-19".into(),
        "occurred_at" => "OBR-7".into(),
        "source_id" => "OBR-3".into(),
        "source_system" => "MSH-3".into(),
        "status" => "OBR-25".into(),
        "code" | "title" => "OBR-4".into(),
        "conclusion" | "findings" => "OBX-5".into(),
        "institution_id" => "MSH-4".into(),
        h if h.starts_with("results") => obx(tail),
        other => other.to_owned(),
    }
}

fn ack_time() -> String {
    let t = OffsetDateTime::now_utc().to_offset(offset!(+8));
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0800",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn control_id() -> String {
    Uuid::now_v7().simple().to_string()
}

impl Hl7Door {
    pub fn new(app: App, token_secret: String) -> Self {
        let (jobs, rx) = tokio::sync::mpsc::channel(1024);
        Hl7Door {
            app,
            secret: token_secret,
            principal: Mutex::new(None),
            jobs,
            pending: std::sync::Mutex::new(Some(rx)),
            limits: MllpLimits::default(),
            noise: LogLimiter::default(),
        }
    }

    /// The same door with other listener limits.
    pub fn with_limits(mut self, limits: MllpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// A warning about malformed input or refused connections, unless too many came lately.
    fn noisy(&self, peer: &str, what: &str, error: &dyn std::fmt::Display) {
        if let Some(left_out) = self.noise.allow() {
            tracing::warn!(peer = %peer, error = %error, left_out, "MLLP {what}");
        }
    }

    /// Prepares a message's submissions here, then hands them to the writer (started on the
    /// first message) and waits for the commit.
    async fn write(&self, ctx: Ctx, subs: &[Submission]) -> Result<Vec<Submitted>, AppError> {
        let prepared = self.app.prepare_submission(&ctx, subs).await?;
        let rx = self.pending.lock().ok().and_then(|mut p| p.take());
        if let Some(rx) = rx {
            tokio::spawn(writer(self.app.clone(), rx));
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || {
            AppError::Store(ygt_app::ygt_store::StoreError::Batch(
                "the HL7 writer stopped".into(),
            ))
        };
        self.jobs
            .send(Job {
                ctx,
                prepared,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// The token's principal (looked up again after [`PRINCIPAL_TTL`]).
    async fn principal(&self) -> Result<Principal, AppError> {
        let mut cached = self.principal.lock().await;
        if let Some((p, at)) = cached.as_ref()
            && at.elapsed() < PRINCIPAL_TTL
        {
            return Ok(p.clone());
        }
        match self.app.token_principal(&self.secret).await? {
            Some(p) => {
                *cached = Some((p.clone(), Instant::now()));
                Ok(p)
            }
            None => {
                *cached = None;
                Err(AppError::Unauthenticated)
            }
        }
    }

    /// Checks the token at start-up: a listener that cannot write would refuse everything.
    pub async fn check(&self) -> Result<Principal, AppError> {
        self.principal().await
    }

    /// Handles one message (raw bytes of an MLLP frame) and returns the acknowledgement.
    pub async fn handle(&self, bytes: &[u8], peer: Option<String>) -> (Vec<u8>, Outcome) {
        let reject = |e: Hl7Error, code: AckCode| {
            let sniffed = hl7::sniff_header(bytes);
            let text = hl7::ack(&sniffed, code, None, Some(&e), &ack_time(), &control_id());
            let cs = hl7::ack_charset(&sniffed).msh18();
            (
                hl7::encode(&text, cs).unwrap_or_else(|_| text.into_bytes()),
                Outcome {
                    code: code.as_str(),
                    detail: format!("{}: {}", e.field, e.reason),
                },
            )
        };
        let msg = match hl7::decode(bytes) {
            Ok(m) => m,
            Err(e) => return reject(e, AckCode::AR),
        };
        let h = match msg.header() {
            Ok(h) => h,
            Err(e) => return reject(e, AckCode::AR),
        };
        let answer = |code: AckCode, text: Option<&str>, err: Option<&Hl7Error>| {
            let ack = hl7::ack(&h, code, text, err, &ack_time(), &control_id());
            let cs = hl7::ack_charset(&h).msh18();
            let out = hl7::encode(&ack, cs).unwrap_or_else(|_| ack.into_bytes());
            (
                out,
                Outcome {
                    code: code.as_str(),
                    detail: err
                        .map(|e| format!("{}: {}", e.field, e.reason))
                        .or_else(|| text.map(str::to_owned))
                        .unwrap_or_default(),
                },
            )
        };
        if !matches!(h.processing_id.as_str(), "" | "P" | "D" | "T") {
            let e = Hl7Error::new(
                "MSH-11",
                format!("processing id {:?} is not P, D or T", h.processing_id),
                ErrorCode::UnsupportedProcessingId,
            );
            return answer(AckCode::AR, None, Some(&e));
        }
        let principal = match self.principal().await {
            Ok(p) => p,
            Err(_) => {
                let e = Hl7Error::new(
                    "MSH-3",
                    "the listener's integration token is revoked or expired",
                    ErrorCode::ApplicationInternal,
                );
                return answer(AckCode::AR, None, Some(&e));
            }
        };
        let Some(institution) = principal.institution_id else {
            let e = Hl7Error::new(
                "MSH-4",
                "the listener's integration token belongs to no institution",
                ErrorCode::ApplicationInternal,
            );
            return answer(AckCode::AR, None, Some(&e));
        };
        let subs = match submissions(&msg, &h, institution) {
            Ok(s) => s,
            Err(e) => {
                let code = match e.code {
                    ErrorCode::UnsupportedMessageType
                    | ErrorCode::UnsupportedEventCode
                    | ErrorCode::UnsupportedProcessingId
                    | ErrorCode::UnsupportedVersionId => AckCode::AR,
                    _ => AckCode::AE,
                };
                return answer(code, None, Some(&e));
            }
        };
        if subs.is_empty() {
            return answer(AckCode::AA, Some("nothing to record"), None);
        }
        let ctx = Ctx {
            actor: Actor::User(Box::new(principal)),
            request_id: format!("hl7:{}", h.control_id),
            client_addr: peer,
        };
        let adt = h.message_code == "ADT";
        match self.write(ctx, &subs).await {
            Ok(done) => {
                let text = summary(&done);
                answer(AckCode::AA, Some(&text), None)
            }
            Err(AppError::Invalid(errs)) => {
                let first = errs.first();
                let field = first.map(|v| hl7_field(&v.field, adt)).unwrap_or_default();
                let reason = errs
                    .0
                    .iter()
                    .map(|v| {
                        format!(
                            "{}: {}",
                            hl7_field(&v.field, adt),
                            crate::door::i18n::Lang::En.reason(&v.reason)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let code = if reason.contains("required") {
                    ErrorCode::RequiredFieldMissing
                } else {
                    ErrorCode::DataType
                };
                answer(AckCode::AE, None, Some(&Hl7Error::new(field, reason, code)))
            }
            Err(AppError::Forbidden { msg }) => {
                let why = crate::door::i18n::Lang::En.render(&msg);
                let e = Hl7Error::new("MSH-4", why, ErrorCode::ApplicationInternal);
                answer(AckCode::AR, None, Some(&e))
            }
            Err(other) => {
                tracing::error!(error = %other, control_id = %h.control_id, "HL7 message failed");
                let e = Hl7Error::new(
                    "MSH-10",
                    "internal error; the message was not stored, send it again",
                    ErrorCode::ApplicationInternal,
                );
                answer(AckCode::AE, None, Some(&e))
            }
        }
    }

    /// Serves MLLP connections until `shutdown` completes: at most `max_connections` at once
    /// (one more is closed as soon as it is accepted), each closed after `idle` without data.
    pub async fn serve(
        self: std::sync::Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(self.limits.max_connections));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = listener.accept() => {
                    let (stream, addr) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            self.noisy("-", "accept failed", &e);
                            continue;
                        }
                    };
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        let max = self.limits.max_connections;
                        self.noisy(&addr.ip().to_string(), "connection refused", &format!("already {max} connections"));
                        drop(stream);
                        continue;
                    };
                    let door = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = door.connection(stream, addr.ip().to_string()).await {
                            tracing::debug!(error = %e, peer = %addr, "MLLP connection ended");
                        }
                        drop(slot);
                    });
                }
            }
        }
    }

    async fn connection(&self, mut stream: TcpStream, peer: String) -> std::io::Result<()> {
        let _ = stream.set_nodelay(true);
        let mut dec = MllpDecoder::new(MAX_MESSAGE);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let Ok(read) = tokio::time::timeout(self.limits.idle, stream.read(&mut buf)).await
            else {
                tracing::info!(peer = %peer, idle_secs = self.limits.idle.as_secs(), "MLLP connection idle, closed");
                return Ok(());
            };
            let n = read?;
            if n == 0 {
                if let Some(e) = dec.finish() {
                    self.noisy(&peer, "stream ended inside a frame", &e);
                }
                return Ok(());
            }
            dec.push(buf.get(..n).unwrap_or(&[]));
            self.frames(&mut dec, &mut stream, &peer).await?;
        }
    }

    /// Answers every whole frame the decoder holds.
    async fn frames(
        &self,
        dec: &mut MllpDecoder,
        stream: &mut TcpStream,
        peer: &str,
    ) -> std::io::Result<()> {
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => {
                    let (ack, outcome) = self.handle(&frame, Some(peer.to_owned())).await;
                    // Unreadable messages (AR) are malformed input: limited like framing errors.
                    let left_out = match outcome.code {
                        "AR" => self.noise.allow(),
                        _ => Some(0),
                    };
                    if let Some(left_out) = left_out {
                        tracing::info!(peer = %peer, ack = outcome.code, detail = %outcome.detail, left_out, "HL7 message");
                    }
                    stream.write_all(&mllp::frame(&ack)).await?;
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.noisy(peer, "framing", &e);
                    if let mllp::MllpError::TooLarge { .. } = e {
                        let err = Hl7Error::new(
                            "MSH",
                            format!("the message is larger than {MAX_MESSAGE} bytes"),
                            ErrorCode::ApplicationInternal,
                        );
                        let ack = hl7::ack_for_unparseable(
                            &[],
                            AckCode::AR,
                            &err,
                            &ack_time(),
                            &control_id(),
                        );
                        stream.write_all(&mllp::frame(ack.as_bytes())).await?;
                    }
                }
            }
        }
    }
}

fn summary(done: &[Submitted]) -> String {
    let mut parts = Vec::new();
    for d in done {
        match d {
            Submitted::Resident(r) => parts.push(format!("resident {} {}", r.person_id, r.outcome)),
            Submitted::Item(r) => parts.push(format!(
                "item {} {}{}",
                r.item_id,
                r.outcome,
                if r.person_id.is_none() {
                    " (unmatched)"
                } else {
                    ""
                }
            )),
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hl7_times() {
        assert_eq!(hl7_time("20261120083015"), "2026-11-20 08:30:15");
        assert_eq!(hl7_time("202611200830"), "2026-11-20 08:30:00");
        assert_eq!(hl7_time("20261120"), "2026-11-20");
        assert_eq!(
            hl7_time("20261120083015.123+0800"),
            "2026-11-20T08:30:15+08:00"
        );
        assert_eq!(hl7_time("yesterday"), "yesterday");
    }

    #[test]
    fn fields_map_to_hl7_locations() {
        assert_eq!(hl7_field("items[0].results[2].value", false), "OBX[3]-5");
        assert_eq!(hl7_field("occurred_at", false), "OBR-7");
        assert_eq!(hl7_field("entry[0].birth_date", true), "PID-7");
        assert_eq!(hl7_field("entry[1].occurred_at", true), "PV1-44");
    }
}
