//! The wire types of the shared health record API: items with their structured body as a
//! JSON object (never the stored text), observations, versions, the 360 record and the
//! unmatched queue. Times are RFC 3339.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;
use ygt_app::record::{PatientRecord, RecognisedResult, Recorded, Trend, Unmatched};
use ygt_app::ygt_store::record::{Item, ItemVersion, Observation, Problem};
use ygt_domain::clinical::KeyPopulation;
use ygt_domain::masked::MaskedIdNumber;

use crate::mpi::api::PersonOut;

/// A stored body as JSON (an object; one that no longer parses goes out as `{}`).
fn body_json(body: &str) -> serde_json::Value {
    match serde_json::from_str(body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => serde_json::Value::Object(serde_json::Map::new()),
    }
}

/// An item as the API shows it: the structured body as JSON, the sender's patient reference
/// left out (it may hold a full ID number).
#[derive(Serialize)]
pub struct ItemOut {
    id: Uuid,
    person_id: Option<Uuid>,
    kind: String,
    institution_id: Uuid,
    institution_name: String,
    source_system: String,
    source_id: String,
    encounter_ref: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    ended_at: Option<OffsetDateTime>,
    status: String,
    code: Option<String>,
    code_system: Option<String>,
    title: String,
    summary: Option<String>,
    department: Option<String>,
    doctor: Option<String>,
    abnormal: bool,
    body: serde_json::Value,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
}

impl From<&Item> for ItemOut {
    fn from(i: &Item) -> Self {
        ItemOut {
            id: i.id,
            person_id: i.person_id,
            kind: i.kind.code().to_owned(),
            institution_id: i.institution_id,
            institution_name: i.institution_name.clone(),
            source_system: i.source_system.clone(),
            source_id: i.source_id.clone(),
            encounter_ref: i.encounter_ref.clone(),
            occurred_at: i.occurred_at,
            ended_at: i.ended_at,
            status: i.status.code().to_owned(),
            code: i.code.clone(),
            code_system: i.code_system.clone(),
            title: i.title.clone(),
            summary: i.summary.clone(),
            department: i.department.clone(),
            doctor: i.doctor.clone(),
            abnormal: i.abnormal,
            body: body_json(&i.body),
            version: i.version,
            received_at: i.received_at,
        }
    }
}

/// What became of one recorded item.
#[derive(Serialize)]
pub struct RecordedOut {
    item_id: Uuid,
    person_id: Option<Uuid>,
    outcome: &'static str,
    version: i64,
}

impl From<&Recorded> for RecordedOut {
    fn from(r: &Recorded) -> Self {
        RecordedOut {
            item_id: r.item_id,
            person_id: r.person_id,
            outcome: r.outcome,
            version: r.version,
        }
    }
}

/// One value of a result or measurement.
#[derive(Serialize)]
pub struct ObservationOut {
    item_id: Uuid,
    code: String,
    name: String,
    value_num: Option<f64>,
    value_text: Option<String>,
    unit: Option<String>,
    ref_range: Option<String>,
    abnormal: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    effective_at: OffsetDateTime,
    institution_name: String,
}

impl From<&Observation> for ObservationOut {
    fn from(o: &Observation) -> Self {
        ObservationOut {
            item_id: o.item_id,
            code: o.code.clone(),
            name: o.name.clone(),
            value_num: o.value_num.filter(|v| v.is_finite()),
            value_text: o.value_text.clone(),
            unit: o.unit.clone(),
            ref_range: o.ref_range.clone(),
            abnormal: o.abnormal.clone(),
            effective_at: o.effective_at,
            institution_name: o.institution_name.clone(),
        }
    }
}

/// An earlier version of an item.
#[derive(Serialize)]
pub struct ItemVersionOut {
    version: i64,
    status: String,
    title: String,
    body: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    replaced_at: OffsetDateTime,
}

impl From<&ItemVersion> for ItemVersionOut {
    fn from(v: &ItemVersion) -> Self {
        ItemVersionOut {
            version: v.version,
            status: v.status.clone(),
            title: v.title.clone(),
            body: body_json(&v.body),
            received_at: v.received_at,
            replaced_at: v.replaced_at,
        }
    }
}

/// One item with its values and earlier versions.
#[derive(Serialize)]
pub struct ItemDetailOut {
    pub item: ItemOut,
    pub observations: Vec<ObservationOut>,
    pub versions: Vec<ItemVersionOut>,
}

/// A diagnosis of the problem list.
#[derive(Serialize)]
pub struct ProblemOut {
    code: String,
    title: String,
    #[serde(with = "time::serde::rfc3339")]
    first_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_at: OffsetDateTime,
    times: i64,
}

impl From<&Problem> for ProblemOut {
    fn from(p: &Problem) -> Self {
        ProblemOut {
            code: p.code.clone(),
            title: p.title.clone(),
            first_at: p.first_at,
            last_at: p.last_at,
            times: p.times,
        }
    }
}

/// A trend chart's series.
#[derive(Serialize)]
pub struct TrendOut {
    key: &'static str,
    title: &'static str,
    unit: &'static str,
    points: Vec<ObservationOut>,
}

impl From<&Trend> for TrendOut {
    fn from(t: &Trend) -> Self {
        TrendOut {
            key: t.key,
            title: t.title,
            unit: t.unit,
            points: t.points.iter().map(ObservationOut::from).collect(),
        }
    }
}

/// The 360 record: the resident, problems, allergies, medications, a page of the timeline.
#[derive(Serialize)]
pub struct RecordOut {
    person: PersonOut,
    tags: Vec<KeyPopulation>,
    problems: Vec<ProblemOut>,
    allergies: Vec<ItemOut>,
    medications: Vec<ItemOut>,
    counts: BTreeMap<String, i64>,
    timeline: Vec<ItemOut>,
    next: Option<String>,
    trends: Vec<TrendOut>,
}

impl From<&PatientRecord> for RecordOut {
    fn from(r: &PatientRecord) -> Self {
        RecordOut {
            person: PersonOut::from(&r.person),
            tags: r.tags.clone(),
            problems: r.problems.iter().map(ProblemOut::from).collect(),
            allergies: r.allergies.iter().map(ItemOut::from).collect(),
            medications: r.medications.iter().map(ItemOut::from).collect(),
            counts: r.counts.clone(),
            timeline: r.timeline.iter().map(ItemOut::from).collect(),
            next: r.next.clone(),
            trends: r.trends.iter().map(TrendOut::from).collect(),
        }
    }
}

/// A result of the recognition catalogue that is still valid.
#[derive(Serialize)]
pub struct RecognisedOut {
    code: String,
    name: String,
    kind: String,
    valid_days: i64,
    item_id: Uuid,
    value: Option<String>,
    unit: Option<String>,
    abnormal: Option<String>,
    institution: String,
    #[serde(with = "time::serde::rfc3339")]
    performed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    valid_until: OffsetDateTime,
}

impl From<&RecognisedResult> for RecognisedOut {
    fn from(r: &RecognisedResult) -> Self {
        RecognisedOut {
            code: r.code.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            valid_days: r.valid_days,
            item_id: r.item_id,
            value: r.value.clone(),
            unit: r.unit.clone(),
            abnormal: r.abnormal.clone(),
            institution: r.institution.clone(),
            performed_at: r.performed_at,
            valid_until: r.valid_until,
        }
    }
}

/// The patient as the sender named them (the ID number masked).
#[derive(Serialize)]
pub struct SentAsOut {
    name: Option<String>,
    record_id: Option<String>,
    id_number_masked: Option<MaskedIdNumber>,
    sex: Option<String>,
    /// As the sender wrote it.
    birth_date: Option<String>,
}

/// An item waiting in the unmatched queue.
#[derive(Serialize)]
pub struct UnmatchedOut {
    item: ItemOut,
    sent_as: SentAsOut,
}

impl From<&Unmatched> for UnmatchedOut {
    fn from(u: &Unmatched) -> Self {
        let p = &u.sent_as;
        UnmatchedOut {
            item: ItemOut::from(&u.item),
            sent_as: SentAsOut {
                name: p.name.clone(),
                record_id: p.record_id.clone(),
                id_number_masked: p.id_number.clone(),
                sex: p.sex.clone(),
                birth_date: p.birth_date.clone(),
            },
        }
    }
}

/// A list answered as `{"items": [...]}`.
#[derive(Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// An unmatched item given to a person.
#[derive(Serialize)]
pub struct AssignedOut {
    pub item_id: Uuid,
    pub person_id: Uuid,
}
