//! The audit log as an auditor searches it on a page: what was typed into each field (a
//! resident's name, ID number or id; an actor's name, user name or id; an institution's name
//! or id) resolved to ids, the events found with the names of those involved, and a
//! resident's access history. Nothing typed ever makes an error: a field that matches nothing
//! or cannot be read says so beside it and the result is empty.

use time::{Date, OffsetDateTime, UtcOffset};
use uuid::Uuid;
use ygt_domain::access::Permission;
use ygt_domain::audit::{AuditRecord, Outcome};
use ygt_domain::audit_codes::AuditAction;
use ygt_domain::ident::IdNumber;
use ygt_domain::{Reason, ValidationError};
use ygt_store::access::{AuditFilter, AuditNames, UserFilter};
use ygt_store::mpi::PersonFilter;
use ygt_store::org::InstitutionFilter;

use crate::access::Event;
use crate::view::PersonView;
use crate::{App, AppError, Ctx, Result};

/// At most this many residents, accounts or institutions a name may stand for.
pub const MATCH_MAX: i64 = 50;

/// What an auditor typed, as typed.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// A resident's name, full ID number, or id.
    pub resident: String,
    /// An actor's display name, user name, or id.
    pub user: String,
    /// An institution's name (or part of it, or an alias), or id.
    pub institution: String,
    /// An action code or a prefix of codes (`auth.`).
    pub action: String,
    pub outcome: String,
    /// Dates YYYY-MM-DD, China Standard Time, both included.
    pub from: String,
    pub to: String,
    /// 1-based.
    pub page: i64,
    pub page_size: i64,
}

/// A resident a name or ID number found, as an auditor may see it: the name and the masked
/// ID number.
#[derive(Debug, Clone)]
pub struct ResidentMatch {
    pub id: Uuid,
    pub name: String,
    pub id_number: Option<String>,
}

/// What one field resolved to, shown beside the field.
#[derive(Debug, Clone)]
pub enum FieldNote {
    /// A name stood for these residents (more than [`MATCH_MAX`]: the first ones, `capped`).
    Residents {
        text: String,
        by_id_number: bool,
        found: Vec<ResidentMatch>,
        capped: bool,
    },
    /// A name stood for these accounts ("display name (user name)").
    Users { text: String, found: Vec<String> },
    /// A name stood for these institutions.
    Institutions { text: String, found: Vec<String> },
    /// Nothing matches what was typed: the result is empty.
    NoMatch { text: String },
    /// What was typed cannot be read (a date, an outcome): the result is empty.
    Invalid(ValidationError),
}

/// One event with the names of those it involves.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub record: AuditRecord,
    /// The account's display name, else the name recorded (`system`, `token:…`).
    pub actor: String,
    pub institution: Option<String>,
    pub resident: Option<String>,
}

/// A page of the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditResult {
    pub rows: Vec<AuditRow>,
    pub total: i64,
    /// Per field name (`resident`, `user`, `institution`, `action`, `outcome`, `from`, `to`).
    pub notes: Vec<(&'static str, FieldNote)>,
    pub offset: i64,
    pub limit: i64,
    /// Names of the ids in the rows (also those only in details).
    pub names: AuditNames,
}

impl AuditResult {
    pub fn note(&self, field: &str) -> Option<&FieldNote> {
        self.notes.iter().find(|(f, _)| *f == field).map(|(_, n)| n)
    }
}

/// A resident's access history: who found, opened, revealed, changed the resident.
#[derive(Debug, Clone)]
pub struct ResidentHistory {
    pub resident: PersonView,
    pub result: AuditResult,
}

/// A field's resolution: ids to filter by, or a note that empties the result.
enum Resolved {
    Any,
    Ids(Vec<Uuid>, Option<FieldNote>),
    Nothing(FieldNote),
}

impl App {
    /// One page of the audit log for what an auditor typed (`audit.read`). Names are resolved
    /// to ids here; looking a resident up by name or number is audited under each resident
    /// found (`audit.resident_lookup`), and the search itself as `audit.search`.
    pub async fn audit_page(&self, ctx: &Ctx, q: &AuditQuery) -> Result<AuditResult> {
        let event = || Event::new("audit.search", "audit", None);
        self.require(ctx, Permission::AuditRead, event()).await?;
        let limit = q.page_size.clamp(1, crate::audit::AUDIT_PAGE_MAX);
        let mut f = AuditFilter {
            limit,
            offset: (q.page.max(1) - 1).saturating_mul(limit),
            ..Default::default()
        };
        let mut notes = Vec::new();
        let mut empty = false;
        let mut take = |field: &'static str, r: Resolved, ids: &mut Vec<Uuid>| match r {
            Resolved::Any => {}
            Resolved::Ids(v, note) => {
                *ids = v;
                notes.extend(note.map(|n| (field, n)));
            }
            Resolved::Nothing(n) => {
                empty = true;
                notes.push((field, n));
            }
        };
        take(
            "resident",
            self.resolve_residents(ctx, &q.resident).await?,
            &mut f.resident_ids,
        );
        take(
            "user",
            self.resolve_users(&q.user).await?,
            &mut f.actor_user_ids,
        );
        take(
            "institution",
            self.resolve_institutions(&q.institution).await?,
            &mut f.institution_ids,
        );
        parse_rest(q, &mut f, &mut notes);
        f.resident_ids = self.store().with_merged(&f.resident_ids).await?;
        let empty = empty
            || notes
                .iter()
                .any(|(_, n)| matches!(n, FieldNote::Invalid(_)));
        let (records, total) = if empty {
            (Vec::new(), 0)
        } else {
            self.store().search_audit(&f).await?
        };
        self.audit(
            ctx,
            event().detail(crate::audit::describe_filter(&f)),
            Outcome::Allowed,
        )
        .await?;
        let mut result = self.named(records, total, f.offset, limit).await?;
        result.notes = notes;
        Ok(result)
    }

    /// Every event about one resident, newest first (`audit.read`; audited as
    /// `audit.resident_history` under the resident). A resident merged into another is shown
    /// as recorded: its own events.
    pub async fn resident_history(
        &self,
        ctx: &Ctx,
        resident: Uuid,
        page: i64,
        page_size: i64,
    ) -> Result<ResidentHistory> {
        let event = || {
            Event::new(
                "audit.resident_history",
                "resident",
                Some(resident.to_string()),
            )
            .resident(resident)
        };
        self.require(ctx, Permission::AuditRead, event()).await?;
        let person = self
            .store()
            .person(resident)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        let limit = page_size.clamp(1, crate::audit::AUDIT_PAGE_MAX);
        let f = AuditFilter {
            resident_ids: self.store().with_merged(&[resident]).await?,
            limit,
            offset: (page.max(1) - 1).saturating_mul(limit),
            ..Default::default()
        };
        let (records, total) = self.store().search_audit(&f).await?;
        self.audit(
            ctx,
            event().detail(format!("offset={}", f.offset)),
            Outcome::Allowed,
        )
        .await?;
        Ok(ResidentHistory {
            resident: PersonView::from(&person),
            result: self.named(records, total, f.offset, limit).await?,
        })
    }

    /// The rows with the names of their actors, institutions and residents (and of the
    /// institutions, accounts and residents their details name).
    async fn named(
        &self,
        records: Vec<AuditRecord>,
        total: i64,
        offset: i64,
        limit: i64,
    ) -> Result<AuditResult> {
        let mut users: Vec<Uuid> = records.iter().filter_map(|r| r.actor_user_id).collect();
        let mut insts: Vec<Uuid> = records
            .iter()
            .filter_map(|r| r.actor_institution_id)
            .collect();
        let mut persons: Vec<Uuid> = records.iter().filter_map(|r| r.resident_id).collect();
        for r in &records {
            for (k, v) in detail_ids(r.detail.as_deref().unwrap_or("")) {
                match k {
                    "institution" => insts.push(v),
                    "user" => users.push(v),
                    _ => persons.push(v),
                }
            }
        }
        for v in [&mut users, &mut insts, &mut persons] {
            v.sort_unstable();
            v.dedup();
        }
        let names = self.store().audit_names(&users, &insts, &persons).await?;
        let rows = records
            .into_iter()
            .map(|r| AuditRow {
                actor: r
                    .actor_user_id
                    .and_then(|u| names.users.get(&u).cloned())
                    .unwrap_or_else(|| r.actor_name.clone()),
                institution: r
                    .actor_institution_id
                    .and_then(|i| names.institutions.get(&i).cloned()),
                resident: r.resident_id.and_then(|p| names.persons.get(&p).cloned()),
                record: r,
            })
            .collect();
        Ok(AuditResult {
            rows,
            total,
            notes: Vec::new(),
            offset,
            limit,
            names,
        })
    }

    /// A resident typed by id, full ID number, or name (exact). Each resident found is
    /// audited under that resident (never the text typed); only masked numbers leave.
    async fn resolve_residents(&self, ctx: &Ctx, text: &str) -> Result<Resolved> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Resolved::Any);
        }
        if let Ok(id) = Uuid::parse_str(t) {
            return Ok(Resolved::Ids(vec![id], None));
        }
        let id_number = IdNumber::parse("resident", t).ok();
        let f = PersonFilter {
            id_number: id_number.as_ref().map(|n| n.as_str().to_owned()),
            name_exact: id_number.is_none().then(|| t.to_owned()),
            limit: MATCH_MAX + 1,
            ..Default::default()
        };
        let (persons, total) = self.store().search_persons(&f).await?;
        let by = if id_number.is_some() {
            "id_number"
        } else {
            "name"
        };
        let found: Vec<ResidentMatch> = persons
            .iter()
            .take(MATCH_MAX as usize)
            .map(|p| {
                let v = PersonView::from(p);
                ResidentMatch {
                    id: v.id,
                    name: v.name,
                    id_number: v.id_number.map(|m| m.as_str().to_owned()),
                }
            })
            .collect();
        self.audit_lookup(ctx, by, &found).await?;
        if found.is_empty() {
            return Ok(Resolved::Nothing(FieldNote::NoMatch { text: t.to_owned() }));
        }
        Ok(Resolved::Ids(
            found.iter().map(|m| m.id).collect(),
            Some(FieldNote::Residents {
                text: t.to_owned(),
                by_id_number: id_number.is_some(),
                capped: total > MATCH_MAX,
                found,
            }),
        ))
    }

    async fn audit_lookup(&self, ctx: &Ctx, by: &str, found: &[ResidentMatch]) -> Result<()> {
        let events: Vec<Event<'_>> = if found.is_empty() {
            vec![
                Event::new("audit.resident_lookup", "resident", None)
                    .detail(format!("by={by} results=0")),
            ]
        } else {
            found
                .iter()
                .map(|m| {
                    Event::new("audit.resident_lookup", "resident", Some(m.id.to_string()))
                        .resident(m.id)
                        .detail(format!("by={by} results={}", found.len()))
                })
                .collect()
        };
        self.audit_many(ctx, &events, Outcome::Allowed).await
    }

    /// An actor typed by id, or by user name or display name: exact matches, else the
    /// accounts whose names contain the text.
    async fn resolve_users(&self, text: &str) -> Result<Resolved> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Resolved::Any);
        }
        if let Ok(id) = Uuid::parse_str(t) {
            return Ok(Resolved::Ids(vec![id], None));
        }
        let all = self
            .store()
            .list_users(&UserFilter {
                q: Some(t.to_lowercase()),
                include_inactive: true,
                limit: Some(MATCH_MAX),
                ..Default::default()
            })
            .await?;
        let exact: Vec<_> = all
            .iter()
            .filter(|u| u.username.eq_ignore_ascii_case(t) || u.display_name == t)
            .collect();
        let chosen = if exact.is_empty() {
            all.iter().collect()
        } else {
            exact
        };
        if chosen.is_empty() {
            return Ok(Resolved::Nothing(FieldNote::NoMatch { text: t.to_owned() }));
        }
        Ok(Resolved::Ids(
            chosen.iter().map(|u| u.id).collect(),
            Some(FieldNote::Users {
                text: t.to_owned(),
                found: chosen
                    .iter()
                    .map(|u| format!("{} ({})", u.display_name, u.username))
                    .collect(),
            }),
        ))
    }

    /// An institution typed by id, or by name or alias: exact names, else the institutions
    /// whose name or alias contains the text.
    async fn resolve_institutions(&self, text: &str) -> Result<Resolved> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Resolved::Any);
        }
        if let Ok(id) = Uuid::parse_str(t) {
            return Ok(Resolved::Ids(vec![id], None));
        }
        let all = self
            .store()
            .list_institutions(&InstitutionFilter {
                q: Some(t.to_owned()),
                include_inactive: true,
                limit: Some(MATCH_MAX),
                ..Default::default()
            })
            .await?;
        let exact: Vec<_> = all.iter().filter(|i| i.name == t).collect();
        let chosen = if exact.is_empty() {
            all.iter().collect()
        } else {
            exact
        };
        if chosen.is_empty() {
            return Ok(Resolved::Nothing(FieldNote::NoMatch { text: t.to_owned() }));
        }
        Ok(Resolved::Ids(
            chosen.iter().map(|i| i.id).collect(),
            Some(FieldNote::Institutions {
                text: t.to_owned(),
                found: chosen.iter().map(|i| i.name.clone()).collect(),
            }),
        ))
    }
}

/// The action (a known action exactly, anything else as a prefix: `auth.`), the outcome and
/// the dates; what cannot be read becomes a note.
fn parse_rest(q: &AuditQuery, f: &mut AuditFilter, notes: &mut Vec<(&'static str, FieldNote)>) {
    let action = q.action.trim();
    match AuditAction::parse("action", action) {
        Ok(a) => f.actions = vec![a.code().to_owned()],
        Err(_) if action.is_empty() => {}
        Err(_) => f.action = Some(action.to_owned()),
    }
    let outcome = q.outcome.trim();
    if !outcome.is_empty() {
        match Outcome::parse("outcome", outcome) {
            Ok(o) => f.outcome = Some(o),
            Err(e) => notes.push(("outcome", FieldNote::Invalid(e))),
        }
    }
    for (field, text, end) in [("from", &q.from, false), ("to", &q.to, true)] {
        match local_day(field, text, end) {
            Ok(None) => {}
            Ok(Some(t)) if end => f.to = Some(t),
            Ok(Some(t)) => f.from = Some(t),
            Err(e) => notes.push((field, FieldNote::Invalid(e))),
        }
    }
}

/// The start of a day (China Standard Time), or of the next day for the end of a range.
fn local_day(
    field: &str,
    text: &str,
    end: bool,
) -> std::result::Result<Option<OffsetDateTime>, ValidationError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d =
        Date::parse(t, &fmt).map_err(|_| ValidationError::new(field, Reason::Format("date")))?;
    let d = if end { d.next_day().unwrap_or(d) } else { d };
    let cst = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    Ok(Some(d.midnight().assume_offset(cst)))
}

/// The ids a detail names: institutions (`institution=…`, `township=…`, `village=…`),
/// accounts (`user=…`) and persons (`resident=…`, `requested=…`, `from=…`, `into=…`, …).
pub fn detail_ids(detail: &str) -> impl Iterator<Item = (&str, Uuid)> {
    detail.split_whitespace().filter_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let k = match k {
            "institution" | "township" | "village" => "institution",
            "user" => k,
            "resident" | "requested" | "from" | "into" | "person" | "new_person" => "resident",
            _ => return None,
        };
        Uuid::parse_str(v).ok().map(|id| (k, id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_china_standard_time_and_bad_ones_are_notes() {
        let f = local_day("from", "2026-03-01", false).unwrap().unwrap();
        assert_eq!(f.offset().whole_hours(), 8);
        assert_eq!((f.day(), f.hour()), (1, 0));
        let t = local_day("to", "2026-03-01", true).unwrap().unwrap();
        assert_eq!(t.day(), 2);
        assert!(local_day("to", "", true).unwrap().is_none());
        assert_eq!(local_day("to", "3/1", true).unwrap_err().field, "to");
        let mut f = AuditFilter::default();
        let mut notes = Vec::new();
        let q = AuditQuery {
            outcome: "maybe".into(),
            from: "x".into(),
            ..Default::default()
        };
        parse_rest(&q, &mut f, &mut notes);
        let fields: Vec<&str> = notes.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["outcome", "from"]);
        for (typed, exact, prefix) in [
            ("record.read", Some("record.read"), None),
            ("调阅健康档案", Some("record.read"), None),
            ("auth.", None, Some("auth.")),
            ("", None, None),
        ] {
            let mut f = AuditFilter::default();
            let q = AuditQuery {
                action: typed.into(),
                ..Default::default()
            };
            parse_rest(&q, &mut f, &mut Vec::new());
            assert_eq!(f.actions.first().map(String::as_str), exact, "{typed}");
            assert_eq!(f.action.as_deref(), prefix, "{typed}");
        }
    }

    #[test]
    fn details_name_ids() {
        let i = Uuid::now_v7();
        let d = format!("ground=care institution={i} source=referral:x user=nope");
        let ids: Vec<_> = detail_ids(&d).collect();
        assert_eq!(ids, [("institution", i)]);
    }

    /// The string literals of a source file, each with the text before it.
    fn literals(src: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let b = src.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                    // A char literal ('"', '\\'); a lifetime has no closing quote here.
                    i += if b.get(i + 1) == Some(&b'\\') { 4 } else { 3 };
                    continue;
                }
                b'"' => {
                    let start = i;
                    let mut lit = Vec::new();
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        lit.push(b[i]);
                        i += 1;
                    }
                    out.push((start, String::from_utf8_lossy(&lit).into_owned()));
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }

    fn action_shaped(s: &str) -> bool {
        s.contains('.')
            && s.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    }

    /// Every action code the app writes has labels ([`AuditAction`]): in the use cases, every
    /// literal shaped like an action in an action group's namespace that is no permission;
    /// at the other doors, the actions they hand to `Event::new` and `resident_access`.
    #[test]
    fn every_action_written_has_labels() {
        use ygt_domain::audit_codes::{ActionGroup, AuditAction};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for c in ["ygt-app/src", "ygt-server/src", "ygt/src", "ygt-synth/src"] {
            sources(&root.join(c), &mut files);
        }
        let mut missing = Vec::new();
        let mut seen = 0;
        for (path, src) in &files {
            let in_app = path.contains("ygt-app/src");
            for (at, lit) in literals(src) {
                let before = src[..at].trim_end();
                let handed = before.ends_with("Event::new(")
                    || (before.ends_with(',')
                        && before
                            .rsplit_once("resident_access(")
                            .is_some_and(|(_, args)| !args.contains(';')));
                let namespaced = ActionGroup::ALL
                    .iter()
                    .any(|g| lit.starts_with(g.code()) && action_shaped(&lit));
                let permission = Permission::parse("p", &lit).is_ok();
                // A catalogue message's code (`msg!("referral.not_involved")`) is no action.
                let message = before.ends_with("msg!(");
                if (handed || (in_app && namespaced && !permission && !message))
                    && action_shaped(&lit)
                {
                    seen += 1;
                    if AuditAction::parse("action", &lit).is_err() {
                        missing.push(format!("{path}: {lit}"));
                    }
                }
            }
        }
        assert!(seen > 100, "the scan finds the actions ({seen})");
        assert!(missing.is_empty(), "actions without labels: {missing:?}");
    }
}
