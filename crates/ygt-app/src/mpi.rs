//! The master patient index: registering residents (matched at once), the golden record, search,
//! and the review of possible matches (link, not the same person, merge, unmerge).
//!
//! A registration belongs to exactly one person at every moment (a NOT NULL column); every
//! change of that belonging writes history and an audit event in the same transaction. Matching
//! runs inside the write transaction after taking the platform's write lock, so two
//! registrations of one person arriving together still find each other.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::Date;
use uuid::Uuid;
use ygt_domain::access::{Ground, Permission, RegistrationFacts, registration_grounds};
use ygt_domain::audit::Outcome;
use ygt_domain::ident::{self, IdNumber, Phone, Sex};
use ygt_domain::justification::Justification;
use ygt_domain::msg;
use ygt_domain::{Reason, ValidationError, ValidationErrors};
use ygt_empi::{Decision, Explanation};
use ygt_store::Tx;
use ygt_store::mpi::{
    Golden, HistoryEntry, MatchTask, NewRegistration, PersonFilter, PersonScope, Registration,
};

use crate::access::{Event, actor_fields};
use crate::view::{Found, PersonView, RegistrationView, Revealed};
use crate::{Actor, App, AppError, Ctx, Result, new_id};

/// A registration as submitted by a form, the API, HL7 ADT or FHIR Patient.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentDraft {
    pub institution_id: String,
    /// The institution's own patient number.
    pub record_id: Option<String>,
    pub name: String,
    pub sex: Option<String>,
    /// YYYY-MM-DD
    pub birth_date: Option<String>,
    /// As typed; an invalid number is kept, flagged, and never used as an identifier.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub insurance_number: Option<String>,
    pub health_card_number: Option<String>,
    /// Address as a GB/T 2260 division code (6, 9 or 12 digits: county, township, village).
    pub division_code: Option<String>,
    /// The group (组) within the village, such as 3组.
    pub village_group: Option<String>,
    /// Household number (户号).
    pub household_number: Option<String>,
    /// GB/T 3304 code (01 汉族 …) or the name.
    pub ethnicity: Option<String>,
    /// GB/T 2659 three-letter code (CHN …).
    pub nationality: Option<String>,
    /// A person at a form decides: `Some(false)` refuses an ID number that fails its check
    /// digit and a sex or birth date the ID number contradicts, so the desk sees them before
    /// saving; `Some(true)` keeps what was typed. Systems (API, HL7, FHIR) send what their
    /// source holds: `None` keeps it, flagged, never silently replaced.
    pub as_typed: Option<bool>,
}

/// What registering did.
#[derive(Debug, Clone)]
pub struct Registered {
    pub person_id: Uuid,
    pub registration_id: Uuid,
    /// `linked` to an existing person, `new` person, or `review` (new person plus possible
    /// matches waiting for a decision); `updated` or `unchanged` when the institution already
    /// kept a registration under the same patient number.
    pub outcome: &'static str,
    pub id_number_valid: bool,
    pub tasks: usize,
}

/// A person with everything the person page shows, identifiers masked.
#[derive(Debug, Clone)]
pub struct PersonDetail {
    pub person: PersonView,
    pub registrations: Vec<RegistrationView>,
    pub history: Vec<HistoryEntry>,
}

/// A match task with both sides and the explanation, for the review page.
#[derive(Debug, Clone)]
pub struct TaskDetail {
    pub task: MatchTask,
    pub registration: RegistrationView,
    pub candidate: PersonView,
    pub candidate_registrations: Vec<RegistrationView>,
    pub explanation: serde_json::Value,
}

const NAME_MAX: usize = 50;

pub(crate) struct Parsed {
    pub(crate) institution_id: Uuid,
    record_id: Option<String>,
    name: String,
    sex: Sex,
    birth_date: Option<Date>,
    id_raw: Option<String>,
    id_number: Option<IdNumber>,
    phone: Option<Phone>,
    address: Option<String>,
    insurance_number: Option<String>,
    health_card_number: Option<String>,
    details: Details,
}

/// Address details, household, ethnicity and nationality as parsed.
#[derive(Debug, Clone, Default)]
struct Details {
    division_code: Option<String>,
    village_group: Option<String>,
    household_number: Option<String>,
    ethnicity: Option<String>,
    nationality: Option<String>,
}

impl ResidentDraft {
    fn parse_details(&self, errs: &mut ValidationErrors) -> Details {
        let division_code = opt(&self.division_code).and_then(|v| {
            errs.check(ygt_domain::ident::DivisionCode::parse("division_code", v))
                .map(|d| d.into_string())
        });
        let village_group = errs
            .check(ident::optional_text(
                "village_group",
                self.village_group.as_deref(),
                20,
            ))
            .flatten();
        let household_number = errs
            .check(ident::optional_text(
                "household_number",
                self.household_number.as_deref(),
                30,
            ))
            .flatten();
        let ethnicity = opt(&self.ethnicity).and_then(|v| {
            errs.check(ygt_domain::ident::Ethnicity::parse("ethnicity", v))
                .map(|e| e.code().to_owned())
        });
        let nationality = opt(&self.nationality).and_then(|v| {
            let up = v.to_ascii_uppercase();
            if up.len() == 3 && up.bytes().all(|b| b.is_ascii_uppercase()) {
                Some(up)
            } else {
                errs.push(ValidationError::new(
                    "nationality",
                    Reason::Format("country"),
                ));
                None
            }
        });
        Details {
            division_code,
            village_group,
            household_number,
            ethnicity,
            nationality,
        }
    }
}

impl ResidentDraft {
    /// What the desk should see before saving: an ID number that fails its check, a sex or a
    /// birth date that is not the one the number says.
    fn check_against_id(
        &self,
        raw: Option<&str>,
        id: Option<&IdNumber>,
        sex: Option<Sex>,
        birth: Option<Date>,
        errs: &mut ValidationErrors,
    ) {
        match (raw, id) {
            (Some(_), None) => errs.push(ValidationError::new(
                "id_number",
                Reason::Other(msg!("mpi.id_check_digit")),
            )),
            (_, Some(id)) => {
                if let Some(s) = sex.filter(|s| *s != Sex::Unknown && *s != id.sex()) {
                    errs.push(ValidationError::new(
                        "sex",
                        Reason::Other(msg!("mpi.sex_differs_from_id", sex = s, id_sex = id.sex())),
                    ));
                }
                if let Some(b) = birth.filter(|b| *b != id.birth_date()) {
                    errs.push(ValidationError::new(
                        "birth_date",
                        Reason::Other(msg!(
                            "mpi.birth_differs_from_id",
                            birth = b,
                            id_birth = id.birth_date()
                        )),
                    ));
                }
            }
            _ => {}
        }
    }
}

fn parse_date(field: &str, s: &str, today: Date) -> std::result::Result<Date, ValidationError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = Date::parse(s.trim(), &fmt)
        .map_err(|_| ValidationError::new(field, Reason::Format("date")))?;
    if d > today || d.year() < 1890 {
        return Err(ValidationError::new(field, Reason::Date));
    }
    Ok(d)
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ResidentDraft {
    pub(crate) fn parse(&self, today: Date) -> std::result::Result<Parsed, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let institution_id =
            errs.check(Uuid::parse_str(self.institution_id.trim()).map_err(|_| {
                if self.institution_id.trim().is_empty() {
                    ValidationError::new("institution_id", Reason::Required)
                } else {
                    ValidationError::new("institution_id", Reason::Format("uuid"))
                }
            }));
        let name = errs.check(ident::person_name("name", &self.name, NAME_MAX));
        let sex = match opt(&self.sex) {
            None => Some(Sex::Unknown),
            Some(v) => errs.check(Sex::parse("sex", v)),
        };
        let birth_date = match opt(&self.birth_date) {
            None => Some(None),
            Some(v) => errs.check(parse_date("birth_date", v, today).map(Some)),
        };
        let id_raw = opt(&self.id_number).map(str::to_owned);
        let id_number = id_raw
            .as_deref()
            .and_then(|v| IdNumber::parse_at("id_number", v, today).ok());
        let phone = match opt(&self.phone) {
            None => Some(None),
            Some(v) => errs.check(Phone::parse("phone", v).map(Some)),
        };
        let address = errs.check(ident::optional_text(
            "address",
            self.address.as_deref(),
            200,
        ));
        let insurance_number = errs.check(ident::optional_text(
            "insurance_number",
            self.insurance_number.as_deref(),
            40,
        ));
        let health_card_number = errs.check(ident::optional_text(
            "health_card_number",
            self.health_card_number.as_deref(),
            40,
        ));
        let record_id = errs.check(ident::optional_text(
            "record_id",
            self.record_id.as_deref(),
            60,
        ));
        let details = self.parse_details(&mut errs);
        if self.as_typed == Some(false) {
            self.check_against_id(
                id_raw.as_deref(),
                id_number.as_ref(),
                sex,
                birth_date.flatten(),
                &mut errs,
            );
        }
        match (
            institution_id,
            name,
            sex,
            birth_date,
            phone,
            address,
            insurance_number,
            health_card_number,
            record_id,
        ) {
            (
                Some(institution_id),
                Some(name),
                Some(sex),
                Some(birth_date),
                Some(phone),
                Some(address),
                Some(insurance_number),
                Some(health_card_number),
                Some(record_id),
            ) if errs.is_empty() => Ok(Parsed {
                institution_id,
                record_id,
                name,
                sex,
                birth_date,
                id_raw,
                id_number,
                phone,
                address,
                insurance_number,
                health_card_number,
                details,
            }),
            _ => Err(errs),
        }
    }
}

/// The engine's view of a stored registration.
fn to_engine(r: &Registration) -> ygt_empi::Registration {
    ygt_empi::Registration {
        record_id: r.id.to_string(),
        institution: r.institution_id.to_string(),
        name: r.name.clone(),
        sex: Sex::parse("sex", &r.sex)
            .ok()
            .filter(|s| *s != Sex::Unknown),
        birth_date: r.birth_date,
        id_number: r.id_number.clone().or_else(|| r.id_number_raw.clone()),
        phone: r.phone.clone(),
        address: r.address.clone(),
        other_ids: r
            .insurance_number
            .iter()
            .chain(r.health_card_number.iter())
            .cloned()
            .collect(),
    }
}

/// The golden record of a person: the visible rule (catalogue `mpi.golden_rule`) is "most
/// registrations agree, the most recent breaks ties"; a valid ID number decides sex and birth
/// date. Only registrations whose identity is proven (the first one, and those carrying its ID
/// number) decide; the others fill what the proven ones leave empty, so a registration linked by
/// resemblance cannot rewrite a resident's identity.
pub fn derive_golden(regs: &[Registration]) -> Golden {
    let facts: Vec<RegistrationFacts> = regs
        .iter()
        .map(|r| RegistrationFacts {
            id: r.id,
            id_number: r.id_number.clone(),
            registered_at: r.registered_at,
        })
        .collect();
    let grounds = registration_grounds(&facts);
    let proven = |r: &&Registration| {
        grounds
            .iter()
            .any(|(id, g)| *id == r.id && *g == Ground::Registered)
    };
    let (sure, others): (Vec<&Registration>, Vec<&Registration>) = regs.iter().partition(proven);
    let mut g = golden_of(&sure);
    let rest = golden_of(&others);
    fn fill<T>(v: &mut Option<T>, from: Option<T>) {
        if v.is_none() {
            *v = from;
        }
    }
    if g.name.is_empty() {
        g.name = rest.name;
    }
    if g.sex == "0" {
        g.sex = rest.sex;
    }
    fill(&mut g.birth_date, rest.birth_date);
    fill(&mut g.id_number, rest.id_number);
    fill(&mut g.phone, rest.phone);
    fill(&mut g.address, rest.address);
    fill(&mut g.division_code, rest.division_code);
    fill(&mut g.village_group, rest.village_group);
    fill(&mut g.household_number, rest.household_number);
    fill(&mut g.ethnicity, rest.ethnicity);
    fill(&mut g.nationality, rest.nationality);
    g.registrations = i64::try_from(regs.len()).unwrap_or(i64::MAX);
    g
}

/// The golden record of some registrations, oldest first, by the visible rule.
fn golden_of(regs: &[&Registration]) -> Golden {
    fn majority<'a>(vals: impl Iterator<Item = &'a str>) -> Option<String> {
        let mut count: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (i, v) in vals.enumerate() {
            let e = count.entry(v).or_insert((0, 0));
            e.0 += 1;
            e.1 = i;
        }
        count
            .into_iter()
            .max_by_key(|(_, (n, last))| (*n, *last))
            .map(|(v, _)| v.to_owned())
    }
    let name = majority(regs.iter().map(|r| r.name.as_str())).unwrap_or_default();
    let id_number = majority(regs.iter().filter_map(|r| r.id_number.as_deref()));
    let parsed = id_number
        .as_deref()
        .and_then(|v| IdNumber::parse("id_number", v).ok());
    let sex = match &parsed {
        Some(id) => id.sex().code().to_owned(),
        None => regs
            .iter()
            .rev()
            .map(|r| r.sex.as_str())
            .find(|s| *s != "0")
            .unwrap_or("0")
            .to_owned(),
    };
    let birth_date = match &parsed {
        Some(id) => Some(id.birth_date()),
        None => regs.iter().rev().find_map(|r| r.birth_date),
    };
    Golden {
        name,
        sex,
        birth_date,
        id_number,
        phone: regs.iter().rev().find_map(|r| r.phone.clone()),
        address: regs.iter().rev().find_map(|r| r.address.clone()),
        division_code: regs.iter().rev().find_map(|r| r.division_code.clone()),
        village_group: regs.iter().rev().find_map(|r| r.village_group.clone()),
        household_number: regs.iter().rev().find_map(|r| r.household_number.clone()),
        ethnicity: majority(regs.iter().filter_map(|r| r.ethnicity.as_deref())),
        nationality: regs.iter().rev().find_map(|r| r.nationality.clone()),
        registrations: i64::try_from(regs.len()).unwrap_or(i64::MAX),
    }
}

/// The best explanation per candidate person.
struct Scored {
    person: Uuid,
    explanation: Explanation,
}

impl Scored {
    /// The ID number, the name and the birth date agree exactly.
    fn certain(&self) -> bool {
        ["id_number", "name", "birth_date"].iter().all(|f| {
            self.explanation
                .fields
                .iter()
                .any(|x| x.field == *f && x.level == "exact")
        })
    }
}

/// Candidate registrations scored per online match: those sharing the most blocking keys.
const ONLINE_CANDIDATES: usize = 200;

impl App {
    /// The weights for online matching, with the match prior set for the size of the index
    /// (never below the 100,000 registrations the default weights assume: in a small index a
    /// false link costs more than a review). The count is read once inside a write
    /// transaction and then kept up to date by this process.
    async fn online_model(&self, tx: &mut Tx) -> Result<ygt_empi::Model> {
        use std::sync::atomic::Ordering;
        let mut n = self.registrations_seen.load(Ordering::Relaxed);
        if n < 0 {
            n = tx.count_registrations().await?;
            self.registrations_seen.store(n, Ordering::Relaxed);
        }
        self.registrations_seen.fetch_add(1, Ordering::Relaxed);
        let n = u64::try_from(n.max(100_000)).unwrap_or(u64::MAX);
        Ok(ygt_empi::Model::default_chinese().for_population(n))
    }

    /// Who changed a person, as its history shows it: the person's name.
    fn actor_label(ctx: &Ctx) -> String {
        match &ctx.actor {
            Actor::User(p) if !p.display_name.trim().is_empty() => p.display_name.clone(),
            _ => actor_fields(ctx).1,
        }
    }

    /// Recomputes and stores what a person derives from its registrations: the golden record
    /// and the grounds its registrations give their institutions.
    async fn refresh_person(&self, tx: &mut Tx, ctx: &Ctx, person: Uuid) -> Result<Golden> {
        let regs = tx.registrations_of(person).await?;
        let g = derive_golden(&regs);
        tx.update_golden(person, &g, self.now()).await?;
        self.sync_registration_grounds(tx, ctx, person, &regs)
            .await?;
        Ok(g)
    }

    /// Scores a registration against candidate registrations; best per person, excluding pairs
    /// known not to be the same person.
    async fn score_candidates(
        &self,
        tx: &mut Tx,
        reg_id: Option<Uuid>,
        engine_reg: &ygt_empi::Registration,
    ) -> Result<Vec<Scored>> {
        let prepared = ygt_empi::prepare(engine_reg);
        let keys = ygt_empi::blocking_hashes(&prepared);
        let cfg = ygt_empi::Config::default();
        let max_block = i64::try_from(cfg.max_block_size).unwrap_or(i64::MAX);
        let cands = tx
            .candidates_by_keys(&keys, max_block, ONLINE_CANDIDATES)
            .await?;
        let forbidden = match reg_id {
            Some(r) => {
                let mut ids: Vec<Uuid> = cands.iter().map(|c| c.id).collect();
                ids.push(r);
                tx.not_same_pairs(&ids).await?
            }
            // A new registration has no "not the same person" decisions yet.
            None => Default::default(),
        };
        let model = self.online_model(tx).await?;
        let mut best: HashMap<Uuid, Scored> = HashMap::new();
        for c in &cands {
            if Some(c.id) == reg_id {
                continue;
            }
            if let Some(r) = reg_id {
                let (a, b) = if r < c.id { (r, c.id) } else { (c.id, r) };
                if forbidden.contains(&(a, b)) {
                    continue;
                }
            }
            let e = ygt_empi::score(&prepared, &ygt_empi::prepare(&to_engine(c)), &model, &cfg);
            let better = best
                .get(&c.person_id)
                .is_none_or(|b| e.total > b.explanation.total);
            if better {
                best.insert(
                    c.person_id,
                    Scored {
                        person: c.person_id,
                        explanation: e,
                    },
                );
            }
        }
        let mut out: Vec<Scored> = best.into_values().collect();
        out.sort_by(|a, b| b.explanation.total.total_cmp(&a.explanation.total));
        Ok(out)
    }

    /// Rebuilds the blocking index from the registrations when it is missing (after the
    /// migration that changed its form); returns the number of registrations indexed.
    pub async fn ensure_blocking_index(&self) -> Result<usize> {
        self.index_blocks(false).await
    }

    /// Rebuilds the blocking index from the registrations (after a change of the blocking
    /// keys); returns the number of registrations indexed.
    pub async fn rebuild_blocking_index(&self) -> Result<usize> {
        self.index_blocks(true).await
    }

    /// Fills in the initials of registrations stored before initials were kept (search by
    /// `chy`); returns how many it filled.
    pub async fn ensure_search_initials(&self) -> Result<usize> {
        let mut n = 0;
        loop {
            let mut tx = self.store().begin().await?;
            let page = tx.registrations_without_initials(5_000).await?;
            if page.is_empty() {
                break;
            }
            let rows: Vec<(Uuid, String)> = page
                .into_iter()
                .map(|(id, name)| {
                    let p = ygt_empi::prepare(&ygt_empi::Registration {
                        name,
                        ..Default::default()
                    });
                    (id, p.name_initials().join("|"))
                })
                .collect();
            tx.set_name_initials(&rows).await?;
            tx.commit().await?;
            n += rows.len();
        }
        Ok(n)
    }

    async fn index_blocks(&self, force: bool) -> Result<usize> {
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        if force {
            tx.clear_blocking_index().await?;
        } else if !tx.blocking_index_missing().await? {
            return Ok(0);
        }
        let mut after = None;
        let mut n = 0;
        loop {
            let page = tx.registrations_page(after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let mut rows = Vec::new();
            for r in &page {
                let p = ygt_empi::prepare(&to_engine(r));
                rows.extend(ygt_empi::blocking_hashes(&p).into_iter().map(|k| (k, r.id)));
            }
            tx.bulk_insert_keys(&rows).await?;
            n += page.len();
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Registers a resident at an institution and matches the registration at once: linked to
    /// the one person it certainly belongs to, or kept as a new person with "possible match"
    /// tasks for a person to decide.
    pub async fn register_resident(&self, ctx: &Ctx, d: &ResidentDraft) -> Result<Registered> {
        let today = self.now().date();
        let p = d.parse(today)?;
        self.require_scoped_ref(
            ctx,
            Permission::PatientWrite,
            p.institution_id,
            "institution_id",
            Event::new("resident.register", "registration", None),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        if tx.institution_tier(p.institution_id).await?.is_none() {
            return Err(AppError::invalid("institution_id", Reason::NotFound));
        }
        tx.lock_writes().await?;
        let out = self.register_in(&mut tx, ctx, &p).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Registers (or, when the institution already keeps this patient number, updates) a
    /// parsed registration inside the caller's transaction, which holds the write lock.
    pub(crate) async fn register_in(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        p: &Parsed,
    ) -> Result<Registered> {
        let now = self.now();
        let reg_id = new_id();
        let mut row = NewRegistration {
            id: reg_id,
            person_id: Uuid::nil(),
            institution_id: p.institution_id,
            record_id: p.record_id.clone(),
            name: p.name.clone(),
            name_pinyin: String::new(),
            name_initials: String::new(),
            sex: p.sex.code().to_owned(),
            birth_date: p.birth_date,
            id_number_raw: p.id_raw.clone(),
            id_number: p.id_number.as_ref().map(|i| i.as_str().to_owned()),
            phone: p.phone.as_ref().map(|x| x.as_str().to_owned()),
            address: p.address.clone(),
            insurance_number: p.insurance_number.clone(),
            health_card_number: p.health_card_number.clone(),
            division_code: p.details.division_code.clone(),
            village_group: p.details.village_group.clone(),
            household_number: p.details.household_number.clone(),
            ethnicity: p.details.ethnicity.clone(),
            nationality: p.details.nationality.clone(),
        };
        let engine_reg = ygt_empi::Registration {
            record_id: reg_id.to_string(),
            institution: p.institution_id.to_string(),
            name: p.name.clone(),
            sex: Some(p.sex).filter(|s| *s != Sex::Unknown),
            birth_date: p.birth_date,
            id_number: row.id_number.clone().or_else(|| row.id_number_raw.clone()),
            phone: row.phone.clone(),
            address: row.address.clone(),
            other_ids: row
                .insurance_number
                .iter()
                .chain(row.health_card_number.iter())
                .cloned()
                .collect(),
        };
        let prepared = ygt_empi::prepare(&engine_reg);
        // Every spelling (heteronyms included), so that search by pinyin finds any reading.
        row.name_pinyin = prepared.name_spellings().join("|");
        row.name_initials = prepared.name_initials().join("|");
        if let Some(rec) = p.record_id.as_deref()
            && let Some(old) = tx.registration_by_record(p.institution_id, rec).await?
        {
            row.id = old.id;
            row.person_id = old.person_id;
            return self
                .update_registration_in(tx, ctx, old, row, &ygt_empi::blocking_hashes(&prepared))
                .await;
        }
        let started = std::time::Instant::now();
        let scored = self.score_candidates(tx, None, &engine_reg).await?;
        let match_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let links: Vec<&Scored> = scored
            .iter()
            .filter(|s| s.explanation.decision == Decision::Link)
            .collect();
        // Several persons fit: the one whose valid ID number, name and birth date all agree
        // is this resident (the others wait for a steward as possible duplicates).
        let certain = links
            .iter()
            .find(|s| p.id_number.is_some() && s.certain())
            .filter(|_| links.len() > 1);
        let actor = Self::actor_label(ctx);
        let (person, outcome, tasks) = if links.len() == 1 {
            let target = links[0].person;
            (target, "linked", Vec::new())
        } else if let Some(c) = certain {
            let tasks: Vec<&Scored> = links
                .iter()
                .filter(|s| s.person != c.person)
                .take(5)
                .copied()
                .collect();
            (c.person, "linked", tasks)
        } else {
            // Several persons fit equally well, or only possibly: a new person, and a task per
            // candidate for someone to decide.
            let person = new_id();
            tx.insert_person(person, &Golden::default(), now).await?;
            let tasks: Vec<&Scored> = scored
                .iter()
                .filter(|s| s.explanation.decision != Decision::NoLink)
                .take(5)
                .collect();
            let outcome = if tasks.is_empty() { "new" } else { "review" };
            (person, outcome, tasks)
        };
        row.person_id = person;
        tx.insert_registration(&row, now).await?;
        tx.insert_keys(reg_id, &ygt_empi::blocking_hashes(&prepared))
            .await?;
        if outcome != "linked" {
            tx.add_history(person, Some(reg_id), "created", None, None, &actor, now)
                .await?;
        }
        if let Some(chosen) = links.iter().find(|s| s.person == person) {
            let detail = serde_json::to_string(&chosen.explanation).unwrap_or_default();
            tx.add_history(
                person,
                Some(reg_id),
                "linked",
                None,
                Some(&detail),
                &actor,
                now,
            )
            .await?;
        }
        for t in &tasks {
            let expl = serde_json::to_string(&t.explanation).unwrap_or_default();
            tx.insert_task(new_id(), reg_id, t.person, t.explanation.total, &expl, now)
                .await?;
        }
        self.refresh_person(tx, ctx, person).await?;
        self.audit_in(
            tx,
            ctx,
            Event::new(
                "resident.register",
                "registration",
                Some(reg_id.to_string()),
            )
            .resident(person)
            .detail(format!(
                "outcome={outcome} id_number_valid={}",
                p.id_number.is_some()
            )),
            Outcome::Allowed,
        )
        .await?;
        tracing::debug!(
            target: "ygt::mpi",
            match_us,
            candidates = scored.len(),
            outcome,
            "resident registered and matched"
        );
        Ok(Registered {
            person_id: person,
            registration_id: reg_id,
            outcome,
            id_number_valid: p.id_number.is_some(),
            tasks: tasks.len(),
        })
    }

    /// A registration the institution sent again under the same patient number (HL7 ADT^A08,
    /// FHIR Patient update, a second import): its fields are replaced, its blocking keys
    /// recomputed and its person's golden record refreshed; the person stays (a changed
    /// identity is a merge or unmerge decision for a person to take).
    async fn update_registration_in(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        old: Registration,
        row: NewRegistration,
        keys: &[i64],
    ) -> Result<Registered> {
        let same = old.name == row.name
            && old.sex == row.sex
            && old.birth_date == row.birth_date
            && old.id_number_raw == row.id_number_raw
            && old.phone == row.phone
            && old.address == row.address
            && old.insurance_number == row.insurance_number
            && old.health_card_number == row.health_card_number
            && old.division_code == row.division_code
            && old.village_group == row.village_group
            && old.household_number == row.household_number
            && old.ethnicity == row.ethnicity
            && old.nationality == row.nationality;
        let person = old.person_id;
        let registered = |outcome| Registered {
            person_id: person,
            registration_id: old.id,
            outcome,
            id_number_valid: row.id_number.is_some(),
            tasks: 0,
        };
        if same {
            return Ok(registered("unchanged"));
        }
        let now = self.now();
        let old_keys = ygt_empi::blocking_hashes(&ygt_empi::prepare(&to_engine(&old)));
        tx.delete_keys(old.id, &old_keys).await?;
        tx.update_registration(&row, now).await?;
        tx.insert_keys(old.id, keys).await?;
        let actor = Self::actor_label(ctx);
        tx.add_history(person, Some(old.id), "updated", None, None, &actor, now)
            .await?;
        self.refresh_person(tx, ctx, person).await?;
        self.audit_in(
            tx,
            ctx,
            Event::new("resident.update", "registration", Some(old.id.to_string()))
                .resident(person)
                .detail(format!("id_number_valid={}", row.id_number.is_some())),
            Outcome::Allowed,
        )
        .await?;
        Ok(registered("updated"))
    }

    /// A person with registrations and history; allowed by data scope, audited.
    pub async fn person_detail(&self, ctx: &Ctx, id: Uuid, purpose: &str) -> Result<PersonDetail> {
        let person = self
            .store()
            .person(id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        self.resident_access(ctx, id, "resident.read", purpose)
            .await?;
        let regs = self.store().registrations_of(id).await?;
        Ok(PersonDetail {
            registrations: regs.iter().map(RegistrationView::from).collect(),
            history: self.store().history_of(id).await?,
            person: PersonView::from(&person),
        })
    }

    /// One registration, masked; allowed by data scope over its person (audited).
    pub async fn registration_view(&self, ctx: &Ctx, id: Uuid) -> Result<RegistrationView> {
        let r = self
            .store()
            .registration(id)
            .await?
            .ok_or(AppError::NotFound("registration"))?;
        self.resident_access_to(
            ctx,
            r.person_id,
            "resident.read",
            "identity",
            Some(&format!("registration={id}")),
        )
        .await?;
        Ok(RegistrationView::from(&r))
    }

    /// Finds residents by name (characters, pinyin, initials, a homophone), ID number (one
    /// typo or transposition forgiven), phone or insurance number, within the searcher's data
    /// scope (community-wide roles: everyone): the first `limit`. See [`App::search_residents_page`].
    pub async fn search_residents(&self, ctx: &Ctx, text: &str, limit: i64) -> Result<Vec<Found>> {
        Ok(self.search_residents_page(ctx, text, 0, limit).await?.0)
    }

    /// One page of a resident search and how many it finds in all. Outside the searcher's
    /// scope only the exact valid ID number together with the exact name finds a resident:
    /// its identity masked, marked out of scope, opening nothing, after those in scope (on the
    /// first page). Every resident returned is audited by name of the search.
    pub async fn search_residents_page(
        &self,
        ctx: &Ctx,
        text: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Found>, i64)> {
        self.require(
            ctx,
            Permission::PatientRead,
            Event::new("resident.search", "resident", None),
        )
        .await?;
        let q = SearchText::parse(text);
        let Some(mut f) = q.filter(offset, limit) else {
            return Ok((Vec::new(), 0));
        };
        f.scope = self.person_scope(ctx);
        if f.scope.is_none()
            && let Some(p) = ctx.principal()
        {
            // Community-wide readers see their own institutions' residents first.
            f.prefer = p.patient_scope.iter().copied().collect();
        }
        let (persons, mut total) = self.store().search_persons(&f).await?;
        let mut found: Vec<Found> = persons
            .iter()
            .map(|p| Found::in_scope(PersonView::from(p)))
            .collect();
        if let (Some(_), Some(name), true, 0) = (&f.id_number, &q.name, f.scope.is_some(), offset)
            && q.valid_id
        {
            let outside = PersonFilter {
                name_exact: Some(name.clone()),
                id_windows: Vec::new(),
                scope: None,
                offset: 0,
                ..f.clone()
            };
            for p in self.store().search_persons(&outside).await?.0 {
                if !found.iter().any(|x| x.person.id == p.id) {
                    found.push(Found::outside(&p));
                    total += 1;
                }
            }
        }
        let ids: Vec<Uuid> = found
            .iter()
            .filter(|f| f.in_scope)
            .map(|f| f.person.id)
            .collect();
        let mut places = self.store().registration_places(&ids).await?;
        for f in found.iter_mut().filter(|f| f.in_scope) {
            f.registered_at = places.remove(&f.person.id).unwrap_or_default();
        }
        self.audit_search(ctx, q.kind, &found).await?;
        Ok((found, total))
    }

    /// One event per resident returned (so that a resident's access history shows who found
    /// them), or one for a search that found nobody; never the text searched for.
    async fn audit_search(&self, ctx: &Ctx, kind: &str, found: &[Found]) -> Result<()> {
        let n = found.len();
        let events: Vec<Event<'_>> = if found.is_empty() {
            vec![
                Event::new("resident.search", "resident", None)
                    .detail(format!("by={kind} results=0")),
            ]
        } else {
            found
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    Event::new("resident.search", "resident", Some(f.person.id.to_string()))
                        .resident(f.person.id)
                        .detail(format!(
                            "by={kind} result={} of {n} in_scope={}",
                            i + 1,
                            f.in_scope
                        ))
                })
                .collect()
        };
        self.audit_many(ctx, &events, Outcome::Allowed).await
    }

    /// The data scope of the actor for search; `None` for community-wide roles and the system.
    fn person_scope(&self, ctx: &Ctx) -> Option<PersonScope> {
        match &ctx.actor {
            Actor::User(p) if !p.can(Permission::CommunityWide) => Some(PersonScope {
                institutions: p.patient_scope.iter().copied().collect(),
                user: p.user_id,
                now: self.now(),
            }),
            _ => None,
        }
    }

    // ------------------------------------------------------------ review

    /// The institutions whose patients the actor may see, or `None` for all of them.
    pub(crate) async fn institution_scope(&self, ctx: &Ctx) -> Result<Option<Vec<Uuid>>> {
        Ok(self.task_scope(ctx))
    }

    fn task_scope(&self, ctx: &Ctx) -> Option<Vec<Uuid>> {
        match &ctx.actor {
            Actor::User(p) if !p.can(Permission::CommunityWide) => {
                Some(p.patient_scope.iter().copied().collect())
            }
            _ => None,
        }
    }

    /// Open possible matches whose registration was made in the steward's scope.
    pub async fn review_queue(&self, ctx: &Ctx, limit: i64) -> Result<Vec<TaskDetail>> {
        self.require(
            ctx,
            Permission::MpiSteward,
            Event::new("mpi.review_queue", "match_task", None),
        )
        .await?;
        let scope = self.task_scope(ctx);
        let mut out = Vec::new();
        for t in self.store().open_tasks(limit.clamp(1, 200) * 4).await? {
            let d = self.task_detail_unchecked(t).await?;
            if scope
                .as_ref()
                .is_none_or(|s| s.contains(&d.registration.institution_id))
            {
                out.push(d);
            }
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    async fn task_detail_unchecked(&self, task: MatchTask) -> Result<TaskDetail> {
        let registration = self
            .store()
            .registration(task.registration_id)
            .await?
            .ok_or(AppError::NotFound("registration"))?;
        let candidate = self
            .store()
            .person(task.candidate_person_id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        let candidate_registrations = self.store().registrations_of(candidate.id).await?;
        let explanation =
            serde_json::from_str(&task.explanation).unwrap_or(serde_json::Value::Null);
        Ok(TaskDetail {
            task,
            registration: RegistrationView::from(&registration),
            candidate: PersonView::from(&candidate),
            candidate_registrations: candidate_registrations
                .iter()
                .map(RegistrationView::from)
                .collect(),
            explanation,
        })
    }

    /// Identity decisions (same person, not the same, merge, split) are the patient-index
    /// stewards': `mpi.steward`, and data scope over every person involved (each check audited
    /// as a read for the purpose `identity`).
    async fn require_steward(
        &self,
        ctx: &Ctx,
        action: &'static str,
        resource: (&'static str, Uuid),
        persons: &[Uuid],
    ) -> Result<()> {
        self.require(
            ctx,
            Permission::MpiSteward,
            Event::new(action, resource.0, Some(resource.1.to_string())),
        )
        .await?;
        for p in persons {
            self.resident_access(ctx, *p, action, "identity").await?;
        }
        Ok(())
    }

    /// Moves a registration into another person (with its history); the person it leaves is
    /// retired when it has no registration left.
    async fn move_into(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        reg: Uuid,
        from: Uuid,
        to: Uuid,
        action: &str,
    ) -> Result<()> {
        let now = self.now();
        let actor = Self::actor_label(ctx);
        let target_regs = tx.registrations_of(to).await?;
        let moving = tx
            .registrations_of(from)
            .await?
            .into_iter()
            .find(|r| r.id == reg);
        let mut ids: Vec<Uuid> = target_regs.iter().map(|r| r.id).collect();
        ids.push(reg);
        let forbidden = tx.not_same_pairs(&ids).await?;
        if target_regs.iter().any(|r| {
            let (a, b) = if r.id < reg { (r.id, reg) } else { (reg, r.id) };
            forbidden.contains(&(a, b))
        }) {
            return Err(AppError::conflict(None, msg!("mpi.recorded_not_same")));
        }
        tx.move_registration(reg, to, now).await?;
        tx.supersede_tasks(reg, to, now).await?;
        tx.add_history(to, Some(reg), action, Some(from), None, &actor, now)
            .await?;
        tx.add_history(from, Some(reg), "moved_out", Some(to), None, &actor, now)
            .await?;
        let left = self.refresh_person(tx, ctx, from).await?;
        if left.registrations == 0 {
            // Everything that was the retired person's is the survivor's now.
            tx.set_merged_into(from, Some(to)).await?;
            tx.move_person_rows(from, to, now).await?;
        } else if let Some(r) = &moving
            && let Some(rec) = r.record_id.as_deref()
        {
            // The clinical items that came under this registration's patient number follow it.
            tx.move_registration_items(from, to, r.institution_id, rec)
                .await?;
        }
        self.refresh_person(tx, ctx, to).await?;
        Ok(())
    }

    /// "Same person": the task's registration joins the candidate person.
    pub async fn confirm_match(&self, ctx: &Ctx, task_id: Uuid) -> Result<Uuid> {
        let (task, reg) = self.task_and_registration(ctx, "mpi.link", task_id).await?;
        self.require_steward(
            ctx,
            "mpi.link",
            ("match_task", task_id),
            &[reg.person_id, task.candidate_person_id],
        )
        .await?;
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        if !tx
            .resolve_task(task_id, "linked", user_of(ctx), self.now())
            .await?
        {
            return Err(already_decided());
        }
        self.move_into(
            &mut tx,
            ctx,
            reg.id,
            reg.person_id,
            task.candidate_person_id,
            "linked",
        )
        .await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("mpi.link", "match_task", Some(task_id.to_string()))
                .resident(task.candidate_person_id)
                .detail(format!("registration={} from={}", reg.id, reg.person_id)),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(task.candidate_person_id)
    }

    /// A task and its registration; refuses (audited) who is no steward before anything is
    /// read.
    async fn task_and_registration(
        &self,
        ctx: &Ctx,
        action: &'static str,
        task_id: Uuid,
    ) -> Result<(MatchTask, Registration)> {
        self.require(
            ctx,
            Permission::MpiSteward,
            Event::new(action, "match_task", Some(task_id.to_string())),
        )
        .await?;
        let task = self
            .store()
            .task(task_id)
            .await?
            .ok_or(AppError::NotFound("match task"))?;
        let reg = self
            .store()
            .registration(task.registration_id)
            .await?
            .ok_or(AppError::NotFound("registration"))?;
        Ok((task, reg))
    }

    /// "Not the same person": remembered for every registration of the candidate, never
    /// proposed again.
    pub async fn reject_match(&self, ctx: &Ctx, task_id: Uuid) -> Result<()> {
        let (task, reg) = self
            .task_and_registration(ctx, "mpi.not_same", task_id)
            .await?;
        self.require_steward(
            ctx,
            "mpi.not_same",
            ("match_task", task_id),
            &[reg.person_id, task.candidate_person_id],
        )
        .await?;
        let by = user_of(ctx);
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        if !tx.resolve_task(task_id, "not_same", by, now).await? {
            return Err(already_decided());
        }
        for other in tx.registrations_of(task.candidate_person_id).await? {
            tx.insert_not_same(reg.id, other.id, by, now).await?;
        }
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("mpi.not_same", "match_task", Some(task_id.to_string()))
                .resident(reg.person_id)
                .detail(format!(
                    "registration={} person={}",
                    reg.id, task.candidate_person_id
                )),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Merges person `from` into `d.into`: every registration moves, `from` is retired and
    /// everything of it follows (referrals, items, tasks; grounds are recomputed from the
    /// registrations, so a registration merged in opens the record only if its ID number is
    /// the person's). A steward's act, confirmed and with a reason.
    pub async fn merge_persons(&self, ctx: &Ctx, from: Uuid, d: &MergeDraft) -> Result<()> {
        let m = d.parse(from)?;
        self.require(
            ctx,
            Permission::MpiSteward,
            Event::new("mpi.merge", "resident", Some(from.to_string())).resident(from),
        )
        .await?;
        let regs = self.store().registrations_of(from).await?;
        if regs.is_empty() {
            return Err(AppError::NotFound("resident"));
        }
        if self.store().person(m.into).await?.is_none_or(|p| !p.active) {
            return Err(AppError::invalid("into", Reason::NotFound));
        }
        self.require_steward(ctx, "mpi.merge", ("resident", from), &[from, m.into])
            .await?;
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        // As locked: a registration that arrived or left meanwhile moves too or not at all.
        let regs = tx.registrations_of(from).await?;
        for r in &regs {
            self.move_into(&mut tx, ctx, r.id, from, m.into, "merged")
                .await?;
        }
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("mpi.merge", "resident", Some(from.to_string()))
                .resident(m.into)
                .detail(format!(
                    "from={from} into={} registrations={} reason={}",
                    m.into,
                    regs.len(),
                    m.reason.as_str()
                )),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Splits a registration off into a new person of its own, remembering that it is not the
    /// same person as the rest (so the next registration cannot undo the split). The new
    /// person gets the grounds of its own registration and the items sent under it, nothing
    /// else. A steward's act, confirmed and with a reason.
    pub async fn unmerge(&self, ctx: &Ctx, registration: Uuid, d: &SplitDraft) -> Result<Uuid> {
        let reason = d.parse()?;
        self.require(
            ctx,
            Permission::MpiSteward,
            Event::new(
                "mpi.unmerge",
                "registration",
                Some(registration.to_string()),
            ),
        )
        .await?;
        let reg = self
            .store()
            .registration(registration)
            .await?
            .ok_or(AppError::NotFound("registration"))?;
        self.require_steward(
            ctx,
            "mpi.unmerge",
            ("registration", registration),
            &[reg.person_id],
        )
        .await?;
        let now = self.now();
        let by = user_of(ctx);
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        let all = tx.registrations_of(reg.person_id).await?;
        if !all.iter().any(|r| r.id == registration) {
            return Err(AppError::Stale);
        }
        let rest: Vec<&Registration> = all.iter().filter(|r| r.id != registration).collect();
        if rest.is_empty() {
            return Err(AppError::conflict(None, msg!("mpi.nothing_to_split")));
        }
        let person = new_id();
        tx.insert_person(person, &Golden::default(), now).await?;
        for r in &rest {
            tx.insert_not_same(registration, r.id, by, now).await?;
        }
        self.move_into(
            &mut tx,
            ctx,
            registration,
            reg.person_id,
            person,
            "unmerged",
        )
        .await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new(
                "mpi.unmerge",
                "registration",
                Some(registration.to_string()),
            )
            .resident(reg.person_id)
            .detail(format!("new_person={person} reason={}", reason.as_str())),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(person)
    }

    pub async fn count_open_tasks(&self) -> Result<i64> {
        Ok(self.store().count_open_tasks().await?)
    }
}

/// What a search box holds: an ID number (with the name, to find a resident outside one's
/// scope), a phone number, an insurance number, pinyin, or (part of) a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchText {
    pub kind: &'static str,
    pub id_number: Option<String>,
    /// The ID number is a valid one (a number with a wrong check digit finds near numbers in
    /// scope only).
    pub valid_id: bool,
    /// The whole name given beside an ID number, or the name searched for.
    pub name: Option<String>,
    pub phone: Option<String>,
    pub insurance_number: Option<String>,
    pub pinyin: Option<String>,
}

impl SearchText {
    pub fn parse(text: &str) -> Self {
        let t = text.trim();
        if t.is_empty() {
            return SearchText::default();
        }
        // An ID number and a name, in either order: "341890195507120029 张三".
        let words: Vec<&str> = t.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            if let Ok(id) = IdNumber::parse("q", w) {
                let rest: Vec<&str> = words
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, w)| *w)
                    .collect();
                return SearchText {
                    kind: "id_number",
                    id_number: Some(id.as_str().to_owned()),
                    valid_id: true,
                    name: (!rest.is_empty()).then(|| rest.concat()),
                    ..Default::default()
                };
            }
        }
        let digits = t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        if let Ok(id) = IdNumber::parse("q", &digits) {
            SearchText {
                kind: "id_number",
                id_number: Some(id.as_str().to_owned()),
                valid_id: true,
                ..Default::default()
            }
        } else if id_shaped(&digits) {
            SearchText {
                kind: "id_number",
                id_number: Some(digits.to_uppercase()),
                ..Default::default()
            }
        } else if let Ok(ph) = Phone::parse("q", &digits) {
            SearchText {
                kind: "phone",
                phone: Some(ph.as_str().to_owned()),
                ..Default::default()
            }
        } else if digits.chars().all(|c| c.is_ascii_alphanumeric())
            && digits.chars().any(|c| c.is_ascii_digit())
        {
            SearchText {
                kind: "insurance_number",
                insurance_number: Some(digits),
                ..Default::default()
            }
        } else if t
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c.is_whitespace())
        {
            SearchText {
                kind: "pinyin",
                pinyin: Some(t.to_lowercase().replace(' ', "")),
                ..Default::default()
            }
        } else {
            SearchText {
                kind: "name",
                name: Some(t.to_owned()),
                ..Default::default()
            }
        }
    }

    /// The store's filter (in scope), or `None` for an empty search.
    fn filter(&self, offset: i64, limit: i64) -> Option<PersonFilter> {
        if self.kind.is_empty() {
            return None;
        }
        let name_search = self.kind == "name";
        let spellings = match (&self.name, name_search) {
            (Some(n), true) => ygt_empi::prepare(&ygt_empi::Registration {
                name: n.clone(),
                ..Default::default()
            })
            .name_spellings(),
            _ => Vec::new(),
        };
        // The windows of the number: a registration whose number differs in one digit or two
        // adjacent ones (a transposition) shares one of them.
        let id_windows = match &self.id_number {
            Some(id) => ygt_empi::blocking_hashes(&ygt_empi::prepare(&ygt_empi::Registration {
                id_number: Some(id.clone()),
                ..Default::default()
            })),
            None => Vec::new(),
        };
        Some(PersonFilter {
            name: if name_search { self.name.clone() } else { None },
            spellings,
            name_exact: if name_search { None } else { self.name.clone() },
            pinyin: self.pinyin.clone(),
            id_number: self.id_number.clone(),
            id_windows,
            phone: self.phone.clone(),
            insurance_number: self.insurance_number.clone(),
            scope: None,
            prefer: Vec::new(),
            offset,
            limit,
        })
    }
}

/// Shaped like an 18-digit ID number (17 digits and a digit or X), whether its check digit
/// holds or not.
fn id_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
}

fn user_of(ctx: &Ctx) -> Option<Uuid> {
    ctx.principal().and_then(|p| p.user_id)
}

/// A merge as a steward asks for it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeDraft {
    /// The person that stays.
    pub into: String,
    pub reason: String,
    /// The steward confirmed the merge (the form's checkbox, `true` in the API).
    #[serde(default)]
    pub confirm: bool,
}

/// A checked merge.
pub struct Merge {
    pub into: Uuid,
    pub reason: Justification,
}

/// A split as a steward asks for it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitDraft {
    pub reason: String,
    #[serde(default)]
    pub confirm: bool,
}

fn confirmed(confirm: bool, errs: &mut ValidationErrors) {
    if !confirm {
        errs.push(ValidationError::new(
            "confirm",
            Reason::Other(msg!("mpi.confirm_decision")),
        ));
    }
}

impl MergeDraft {
    pub fn parse(&self, from: Uuid) -> std::result::Result<Merge, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let into = errs.check(
            Uuid::parse_str(self.into.trim())
                .map_err(|_| ValidationError::new("into", Reason::NotFound)),
        );
        if into == Some(from) {
            errs.push(ValidationError::new(
                "into",
                Reason::Other(msg!("mpi.cannot_merge_person_into")),
            ));
        }
        let reason = errs.check(Justification::parse("reason", &self.reason));
        confirmed(self.confirm, &mut errs);
        match (into, reason) {
            (Some(into), Some(reason)) if errs.0.is_empty() => Ok(Merge { into, reason }),
            _ => Err(errs),
        }
    }
}

impl SplitDraft {
    pub fn parse(&self) -> std::result::Result<Justification, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let reason = errs.check(Justification::parse("reason", &self.reason));
        confirmed(self.confirm, &mut errs);
        match reason {
            Some(r) if errs.0.is_empty() => Ok(r),
            _ => Err(errs),
        }
    }
}

fn already_decided() -> AppError {
    AppError::conflict(None, msg!("mpi.match_was_already_decided"))
}

impl App {
    /// The person with full ID and phone numbers: needs patient.reveal on top of data scope;
    /// the reveal is audited. The one use case that returns full numbers.
    pub async fn reveal_person(&self, ctx: &Ctx, id: Uuid) -> Result<(PersonDetail, Revealed)> {
        self.require(
            ctx,
            Permission::PatientReveal,
            Event::new("resident.reveal", "resident", Some(id.to_string())).resident(id),
        )
        .await?;
        let d = self.person_detail(ctx, id, "treatment").await?;
        let person = self
            .store()
            .person(id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        let regs = self.store().registrations_of(id).await?;
        self.audit(
            ctx,
            Event::new("resident.reveal", "resident", Some(id.to_string()))
                .resident(id)
                .detail("id_number, phone"),
            Outcome::Allowed,
        )
        .await?;
        Ok((d, Revealed::of(&person, &regs)))
    }
}

/// What a bulk load did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkReport {
    pub persons: usize,
    pub registrations: usize,
    /// (index in the input, reason) of drafts that were refused.
    pub skipped: Vec<(usize, String)>,
}

impl App {
    /// Loads an initial index in one transaction: every draft is parsed like a single
    /// registration, the whole set is linked by the same engine in batch (EM-trained weights,
    /// all cores), and persons, registrations, blocking keys and care links are written
    /// together; one audit event per institution records the load. Refused when the index
    /// already has persons (use [`App::register_resident`] for additions).
    pub async fn bulk_load_residents(
        &self,
        ctx: &Ctx,
        drafts: &[ResidentDraft],
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<BulkReport> {
        self.require(
            ctx,
            Permission::PatientWrite,
            Event::new("resident.bulk_load", "registration", None),
        )
        .await?;
        if self.store().count_persons().await? > 0 {
            return Err(AppError::conflict(
                None,
                msg!("mpi.index_already_has_persons"),
            ));
        }
        let today = self.now().date();
        let mut report = BulkReport::default();
        let mut parsed = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.iter().enumerate() {
            match d.parse(today) {
                Ok(p) => parsed.push(p),
                Err(e) => report.skipped.push((i, e.to_string())),
            }
        }
        let mut institutions: Vec<Uuid> = parsed.iter().map(|p| p.institution_id).collect();
        institutions.sort();
        institutions.dedup();
        for inst in &institutions {
            self.require_scoped(
                ctx,
                Permission::PatientWrite,
                *inst,
                Event::new("resident.bulk_load", "registration", None),
            )
            .await?;
        }
        let engine: Vec<ygt_empi::Registration> = parsed
            .iter()
            .enumerate()
            .map(|(i, p)| ygt_empi::Registration {
                record_id: i.to_string(),
                institution: p.institution_id.to_string(),
                name: p.name.clone(),
                sex: Some(p.sex).filter(|s| *s != Sex::Unknown),
                birth_date: p.birth_date,
                id_number: p
                    .id_number
                    .as_ref()
                    .map(|x| x.as_str().to_owned())
                    .or_else(|| p.id_raw.clone()),
                phone: p.phone.as_ref().map(|x| x.as_str().to_owned()),
                address: p.address.clone(),
                other_ids: p
                    .insurance_number
                    .iter()
                    .chain(p.health_card_number.iter())
                    .cloned()
                    .collect(),
            })
            .collect();
        let linking = std::time::Instant::now();
        let clusters = ygt_empi::link_batch(&engine, &ygt_empi::Config::default(), progress);
        tracing::debug!(target: "ygt::mpi", ms = linking.elapsed().as_millis(), "bulk: linked");
        let now = self.now();
        let person_ids: Vec<Uuid> = {
            let n = clusters.iter().copied().max().map_or(0, |m| m + 1);
            (0..n).map(|_| new_id()).collect()
        };
        let mut rows = Vec::with_capacity(parsed.len());
        // Blocking-key hashes of every row, flat (row i's are hashes[offsets[i]..offsets[i + 1]]).
        let mut hashes: Vec<i64> = Vec::new();
        let mut offsets: Vec<usize> = vec![0];
        let mut by_person: HashMap<Uuid, Vec<Registration>> = HashMap::new();
        for ((p, e), c) in parsed.iter().zip(engine.iter()).zip(clusters.iter()) {
            let Some(person) = person_ids.get(*c).copied() else {
                continue;
            };
            let prepared = ygt_empi::prepare(e);
            let id = new_id();
            let row = NewRegistration {
                id,
                person_id: person,
                institution_id: p.institution_id,
                record_id: p.record_id.clone(),
                name: p.name.clone(),
                name_pinyin: prepared.name_spellings().join("|"),
                name_initials: prepared.name_initials().join("|"),
                sex: p.sex.code().to_owned(),
                birth_date: p.birth_date,
                id_number_raw: p.id_raw.clone(),
                id_number: p.id_number.as_ref().map(|x| x.as_str().to_owned()),
                phone: p.phone.as_ref().map(|x| x.as_str().to_owned()),
                address: p.address.clone(),
                insurance_number: p.insurance_number.clone(),
                health_card_number: p.health_card_number.clone(),
                division_code: p.details.division_code.clone(),
                village_group: p.details.village_group.clone(),
                household_number: p.details.household_number.clone(),
                ethnicity: p.details.ethnicity.clone(),
                nationality: p.details.nationality.clone(),
            };
            hashes.extend(ygt_empi::blocking_hashes(&prepared));
            offsets.push(hashes.len());
            by_person.entry(person).or_default().push(Registration {
                id,
                person_id: person,
                institution_id: p.institution_id,
                institution_name: String::new(),
                record_id: row.record_id.clone(),
                name: row.name.clone(),
                name_pinyin: String::new(),
                sex: row.sex.clone(),
                birth_date: row.birth_date,
                id_number_raw: row.id_number_raw.clone(),
                id_number: row.id_number.clone(),
                phone: row.phone.clone(),
                address: row.address.clone(),
                insurance_number: None,
                health_card_number: None,
                division_code: row.division_code.clone(),
                village_group: row.village_group.clone(),
                household_number: row.household_number.clone(),
                ethnicity: row.ethnicity.clone(),
                nationality: row.nationality.clone(),
                registered_at: now,
                updated_at: now,
            });
            rows.push(row);
        }
        let persons: Vec<(Uuid, Golden)> = person_ids
            .iter()
            .filter_map(|id| by_person.get(id).map(|regs| (*id, derive_golden(regs))))
            .collect();
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        let started = std::time::Instant::now();
        tx.bulk_insert_persons(&persons, now).await?;
        tracing::debug!(target: "ygt::mpi", ms = started.elapsed().as_millis(), "bulk: persons");
        tx.bulk_insert_registrations(&rows, now).await?;
        tracing::debug!(target: "ygt::mpi", ms = started.elapsed().as_millis(), "bulk: registrations");
        // In key order: the index's B-tree then fills page after page instead of at random.
        let mut order: Vec<(i64, u32)> = Vec::with_capacity(hashes.len());
        for (i, w) in offsets.windows(2).enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            order.extend(hashes[w[0]..w[1]].iter().map(|&k| (k, i)));
        }
        drop(hashes);
        order.sort_unstable();
        for chunk in order.chunks(20_000) {
            let keys: Vec<(i64, Uuid)> = chunk
                .iter()
                .filter_map(|&(k, i)| rows.get(i as usize).map(|r| (k, r.id)))
                .collect();
            tx.bulk_insert_keys(&keys).await?;
        }
        drop(order);
        tracing::debug!(target: "ygt::mpi", ms = started.elapsed().as_millis(), "bulk: blocking index");
        tx.bulk_insert_care_links(&crate::grounds::bulk_grounds(&by_person), now)
            .await?;
        tracing::debug!(target: "ygt::mpi", ms = started.elapsed().as_millis(), "bulk: care links");
        for inst in &institutions {
            let n = rows.iter().filter(|r| r.institution_id == *inst).count();
            self.audit_in(
                &mut tx,
                ctx,
                Event::new("resident.bulk_load", "institution", Some(inst.to_string()))
                    .detail(format!("registrations={n}")),
                Outcome::Allowed,
            )
            .await?;
        }
        tx.commit().await?;
        self.store().analyze().await?;
        report.persons = persons.len();
        report.registrations = rows.len();
        Ok(report)
    }
}
