//! The audit log as its users see it: search, CSV export, chain verification, break-glass.

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::access::{BreakGlassReason, Ground, Permission};
use ygt_domain::audit::{AuditRecord, ChainProblem, ChainVerifier, Outcome};
use ygt_domain::msg;
use ygt_domain::{Reason, ValidationError, ValidationErrors, ident};
use ygt_store::access::{AuditFilter, BreakGlass};

use crate::access::Event;
use crate::grounds::Grant;
use crate::{App, AppError, Ctx, Result, new_id};

/// The result of checking the whole chain.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub verified: u64,
    pub problem: Option<ChainProblem>,
    /// The newest event of an intact chain: (seq, hash). Operators record the hash elsewhere
    /// and later pass it as the expected head.
    pub head: Option<(i64, String)>,
    /// The seq of the event whose hash is the expected head, when one was given and the
    /// chain (still) holds it. None with an expected head: the chain no longer reaches it.
    pub expected_at: Option<i64>,
    /// Events waiting in the inbox (not chained yet) whose hashes were checked.
    pub pending: u64,
    /// The inbox place of the first waiting event whose hash does not match its content.
    pub inbox_modified: Option<i64>,
}

impl VerifyReport {
    /// Intact (chain and inbox), and reaching the expected head when one was given.
    pub fn holds(&self, expected: Option<&str>) -> bool {
        self.problem.is_none()
            && self.inbox_modified.is_none()
            && (expected.is_none() || self.expected_at.is_some())
    }
}

/// What was granted: a role to an account, permissions to a role, or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    /// A role with patient-data permissions given to an account.
    AccountRole,
    /// Patient-data permissions added to a role.
    RolePermission,
    /// A token made with patient-data permissions.
    Token,
}

/// One grant of patient-data rights, as an auditor reviews it.
#[derive(Debug, Clone)]
pub struct PrivilegeGrant {
    pub seq: i64,
    pub at: OffsetDateTime,
    pub kind: GrantKind,
    /// Who granted (user name, `system` for the operator).
    pub actor_name: String,
    pub actor_user_id: Option<Uuid>,
    /// The account (user name), the role (its code) or the token (its name) that received it.
    pub target: String,
    /// The account or token id, when the target is one.
    pub target_id: Option<Uuid>,
    /// The role given (to an account) or changed.
    pub role: Option<ygt_domain::access::Role>,
    /// The patient-data permissions it carries.
    pub permissions: Vec<Permission>,
}

impl PrivilegeGrant {
    fn from_record(r: &AuditRecord) -> Self {
        let field = |k: &str| -> Option<String> {
            r.detail
                .as_deref()?
                .split(' ')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .map(str::to_owned)
        };
        let kind = match r.action.as_str() {
            crate::account::GRANT_PATIENT_ROLE => GrantKind::AccountRole,
            crate::account::GRANT_PATIENT_PERMISSION => GrantKind::RolePermission,
            _ => GrantKind::Token,
        };
        let role = field("role").and_then(|c| ygt_domain::access::Role::parse("role", &c).ok());
        let permissions = field("permissions")
            .unwrap_or_default()
            .split(',')
            .filter_map(|c| Permission::parse("permission", c).ok())
            .collect();
        let target = match kind {
            GrantKind::AccountRole => field("username"),
            GrantKind::RolePermission => field("role"),
            // The name is the rest of the detail (it may hold spaces).
            GrantKind::Token => r
                .detail
                .as_deref()
                .and_then(|d| d.split_once(" name="))
                .map(|(_, n)| n.to_owned()),
        }
        .unwrap_or_default();
        PrivilegeGrant {
            seq: r.seq,
            at: r.at,
            kind,
            actor_name: r.actor_name.clone(),
            actor_user_id: r.actor_user_id,
            target,
            target_id: r
                .resource_id
                .as_deref()
                .and_then(|i| Uuid::parse_str(i).ok()),
            role,
            permissions,
        }
    }
}

/// The shortest break-glass access one may ask for, in minutes.
pub const BREAK_GLASS_MIN_MINUTES: i64 = 15;

/// The largest page of an audit search.
pub const AUDIT_PAGE_MAX: i64 = 1000;

impl App {
    /// Checks the whole chain in batches, and the hashes of the events waiting in the inbox,
    /// all from one snapshot (a commit meanwhile changes nothing it reads). Needs no actor:
    /// run by the operator's CLI.
    pub async fn verify_audit_chain(&self) -> Result<VerifyReport> {
        self.verify_audit_chain_expecting(None).await
    }

    /// [`App::verify_audit_chain`], and whether the chain still holds an event whose hash is
    /// `expected` (a head recorded earlier): deleting the newest events and rewriting the head
    /// row passes the chain check, but no longer reaches a head recorded before the deletion.
    pub async fn verify_audit_chain_expecting(
        &self,
        expected: Option<&str>,
    ) -> Result<VerifyReport> {
        let expected = expected.map(|h| h.trim().to_ascii_lowercase());
        let mut tx = self.store().snapshot().await?;
        let head = tx.audit_head().await?;
        let (v, expected_at) = walk_chain(&mut tx, expected.as_deref()).await?;
        let (pending, inbox_modified) = check_inbox(&mut tx).await?;
        tx.rollback().await?;
        Ok(match v.finish(head.clone()) {
            Ok(n) => VerifyReport {
                verified: n,
                problem: None,
                head: head.filter(|_| n > 0),
                expected_at,
                pending,
                inbox_modified,
            },
            Err(p) => VerifyReport {
                verified: 0,
                problem: Some(p),
                head: None,
                expected_at: None,
                pending,
                inbox_modified,
            },
        })
    }

    /// Searches the log (newest first). The search itself is audited.
    pub async fn search_audit(
        &self,
        ctx: &Ctx,
        f: &AuditFilter,
    ) -> Result<(Vec<AuditRecord>, i64)> {
        self.require(
            ctx,
            Permission::AuditRead,
            Event::new("audit.search", "audit", None),
        )
        .await?;
        let mut f = f.clone();
        f.limit = f.limit.clamp(1, AUDIT_PAGE_MAX);
        let result = self.store().search_audit(&f).await?;
        self.audit(
            ctx,
            Event::new("audit.search", "audit", None).detail(describe_filter(&f)),
            Outcome::Allowed,
        )
        .await?;
        Ok(result)
    }

    /// Grants of patient-data rights for auditor review, newest first: roles with patient-data
    /// permissions given to accounts, patient-data permissions added to roles, tokens made
    /// with them (`crate::account::GRANT_ACTIONS`). Needs `audit.review`; the look is audited.
    pub async fn grant_review(
        &self,
        ctx: &Ctx,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PrivilegeGrant>, i64)> {
        self.require(
            ctx,
            Permission::AuditReview,
            Event::new("audit.grants", "audit", None),
        )
        .await?;
        let f = AuditFilter {
            actions: crate::account::GRANT_ACTIONS
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
            limit: limit.clamp(1, AUDIT_PAGE_MAX),
            offset: offset.max(0),
            ..Default::default()
        };
        let (records, total) = self.store().search_audit(&f).await?;
        self.audit(
            ctx,
            Event::new("audit.grants", "audit", None).detail(format!("offset={}", f.offset)),
            Outcome::Allowed,
        )
        .await?;
        Ok((
            records.iter().map(PrivilegeGrant::from_record).collect(),
            total,
        ))
    }

    /// Declares emergency access to a resident outside the user's scope for the longest time
    /// allowed (`settings.break_glass_for`); see [`App::break_glass_for`].
    pub async fn break_glass(
        &self,
        ctx: &Ctx,
        resident_id: Uuid,
        reason: &str,
    ) -> Result<BreakGlass> {
        self.break_glass_for(ctx, resident_id, reason, None).await
    }

    /// Declares emergency access to a resident outside the user's scope. The reason needs at
    /// least ten letters, digits or characters ([`BreakGlassReason`]); the resident must exist:
    /// a merged (retired) person stands for the person it was merged into, and the grant is
    /// for that survivor (the returned grant's `resident_id`), since the record now lives
    /// there; a person that does not exist or was deactivated is refused naming
    /// `resident_id`. Access lasts `minutes` (15 up to `settings.break_glass_for`; the
    /// maximum when None) and is flagged for an auditor.
    pub async fn break_glass_for(
        &self,
        ctx: &Ctx,
        resident_id: Uuid,
        reason: &str,
        minutes: Option<i64>,
    ) -> Result<BreakGlass> {
        let event = |r: Uuid| {
            Event::new("resident.break_glass", "resident", Some(r.to_string()))
                .resident(r)
                .purpose("emergency")
        };
        self.require(ctx, Permission::BreakGlass, event(resident_id))
            .await?;
        let max = self.settings().break_glass_for.whole_minutes().max(1);
        let mut errs = ValidationErrors::default();
        let reason = errs.check(BreakGlassReason::parse("reason", reason));
        let lasts = match minutes {
            None => max,
            Some(m) if (BREAK_GLASS_MIN_MINUTES.min(max)..=max).contains(&m) => m,
            Some(_) => {
                errs.push(ValidationError::new(
                    "minutes",
                    Reason::Range {
                        min: BREAK_GLASS_MIN_MINUTES.min(max),
                        max,
                    },
                ));
                max
            }
        };
        errs.into_result()?;
        let Some(reason) = reason else {
            return Err(AppError::invalid("reason", Reason::Required));
        };
        let Some(p) = ctx.principal() else {
            return Err(AppError::Unauthenticated);
        };
        let Some(user) = p.user_id else {
            return Err(AppError::forbidden(msg!("audit.api_token_cannot_break")));
        };
        let now = self.now();
        let id = new_id();
        let mut tx = self.store().begin().await?;
        let Some(resident) = tx.current_person(resident_id).await? else {
            return Err(AppError::invalid("resident_id", Reason::NotFound));
        };
        tx.insert_break_glass(
            id,
            user,
            p.institution_id,
            resident,
            reason.as_str(),
            now,
            now + time::Duration::minutes(lasts),
        )
        .await?;
        let mut detail = format!("reason={reason} minutes={lasts}");
        if resident != resident_id {
            detail.push_str(&format!(" requested={resident_id} (merged)"));
        }
        self.audit_in(
            &mut tx,
            ctx,
            event(resident).detail(detail),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.store()
            .break_glass(id)
            .await?
            .ok_or(AppError::NotFound("break-glass"))
    }

    /// The break-glass durations a user may choose from, in minutes (the last is the
    /// configured maximum).
    pub fn break_glass_choices(&self) -> Vec<i64> {
        let max = self.settings().break_glass_for.whole_minutes().max(1);
        let mut v: Vec<i64> = [30, 60, 120, 240, 480, 720]
            .into_iter()
            .filter(|m| *m < max)
            .collect();
        v.push(max);
        v
    }

    pub async fn break_glass_queue(
        &self,
        ctx: &Ctx,
        only_unreviewed: bool,
    ) -> Result<Vec<BreakGlass>> {
        self.require(
            ctx,
            Permission::AuditReview,
            Event::new("audit.break_glass_queue", "break_glass", None),
        )
        .await?;
        Ok(self.store().list_break_glass(only_unreviewed, 500).await?)
    }

    /// The names of the accounts, institutions and residents of break-glass accesses already
    /// listed to the caller by [`App::break_glass_queue`] (so that an auditor reads names,
    /// not ids); nothing for someone who may not review them.
    pub async fn break_glass_names(
        &self,
        ctx: &Ctx,
        items: &[BreakGlass],
    ) -> Result<ygt_store::access::AuditNames> {
        let may = match &ctx.actor {
            crate::Actor::System => true,
            crate::Actor::User(p) => p.can(Permission::AuditReview),
            crate::Actor::Anonymous => false,
        };
        if items.is_empty() || !may {
            return Ok(Default::default());
        }
        let users: Vec<Uuid> = items
            .iter()
            .flat_map(|b| std::iter::once(b.user_id).chain(b.reviewed_by))
            .collect();
        let institutions: Vec<Uuid> = items.iter().filter_map(|b| b.institution_id).collect();
        let persons: Vec<Uuid> = items.iter().map(|b| b.resident_id).collect();
        Ok(self
            .store()
            .audit_names(&users, &institutions, &persons)
            .await?)
    }

    /// An auditor reviews a break-glass access: `justified` or `unjustified`, with a note.
    pub async fn review_break_glass(
        &self,
        ctx: &Ctx,
        id: Uuid,
        outcome: &str,
        note: Option<&str>,
    ) -> Result<BreakGlass> {
        let event = || {
            Event::new(
                "audit.break_glass_review",
                "break_glass",
                Some(id.to_string()),
            )
        };
        self.require(ctx, Permission::AuditReview, event()).await?;
        if !matches!(outcome, "justified" | "unjustified") {
            return Err(AppError::invalid(
                "outcome",
                Reason::UnknownCode {
                    allowed: "justified, unjustified".into(),
                },
            ));
        }
        let note = ident::optional_text("note", note, 1000)?;
        let Some(reviewer) = ctx.principal().and_then(|p| p.user_id) else {
            return Err(AppError::Unauthenticated);
        };
        let mut tx = self.store().begin().await?;
        if !tx
            .review_break_glass(id, reviewer, outcome, note.as_deref(), self.now())
            .await?
        {
            return Err(AppError::conflict(
                None,
                msg!("audit.no_break_glass_to_review"),
            ));
        }
        self.audit_in(
            &mut tx,
            ctx,
            event().detail(format!("outcome={outcome}")),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.store()
            .break_glass(id)
            .await?
            .ok_or(AppError::NotFound("break-glass"))
    }

    /// Records a ground for a resident directly: an operator's act (the system actor) only.
    /// Users never create a relationship themselves: registrations, referrals, arrivals and
    /// later consultations and contracts record theirs through their own use cases.
    #[allow(clippy::too_many_arguments)]
    pub async fn link_resident(
        &self,
        ctx: &Ctx,
        resident_id: Uuid,
        institution_id: Option<Uuid>,
        user_id: Option<Uuid>,
        kind: &str,
        source_id: Option<&str>,
        valid_until: Option<OffsetDateTime>,
    ) -> Result<()> {
        let ground = Ground::parse("kind", kind)?;
        if !matches!(ctx.actor, crate::Actor::System) {
            return Err(self
                .deny(
                    ctx,
                    Event::new("resident.link", "resident", Some(resident_id.to_string()))
                        .resident(resident_id),
                    AppError::forbidden(msg!("audit.relationships_come_from_registrations")),
                )
                .await);
        }
        let mut tx = self.store().begin().await?;
        self.grant_in(
            &mut tx,
            ctx,
            Grant {
                resident: resident_id,
                ground,
                institution: institution_id,
                user: user_id,
                source: source_id,
                until: valid_until,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Pushes the chain through a verifier in batches (stopping at the first problem); returns it
/// and the seq of the event whose hash is `expected`, if any.
async fn walk_chain(
    tx: &mut ygt_store::Tx,
    expected: Option<&str>,
) -> Result<(ChainVerifier, Option<i64>)> {
    let mut expected_at = None;
    let mut v = ChainVerifier::new();
    let mut after = 0;
    loop {
        let batch = tx.audit_batch(after, 10_000).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for r in &batch {
            if v.push(r).is_err() {
                // The verifier keeps the problem; finish() may refine it with the head.
                return Ok((v, expected_at));
            }
            if expected_at.is_none() && expected == Some(r.hash.as_str()) {
                expected_at = Some(r.seq);
            }
        }
    }
    Ok((v, expected_at))
}

/// Checks the hash of every event waiting in the inbox: how many, and the inbox place of the
/// first one modified.
async fn check_inbox(tx: &mut ygt_store::Tx) -> Result<(u64, Option<i64>)> {
    let (mut n, mut after) = (0u64, 0);
    loop {
        let batch = tx.inbox_batch(after, 10_000).await?;
        let Some(last) = batch.last() else { break };
        after = last.inbox_seq;
        for e in &batch {
            if !e.intact() {
                return Ok((n, Some(e.inbox_seq)));
            }
            n += 1;
        }
    }
    Ok((n, None))
}

/// The filter as the `audit.search` event's detail records it.
pub(crate) fn describe_filter(f: &AuditFilter) -> String {
    let mut parts = Vec::new();
    if let Some(v) = f.resident_id {
        parts.push(format!("resident={v}"));
    }
    if let Some(v) = f.actor_user_id {
        parts.push(format!("user={v}"));
    }
    if let Some(v) = f.institution_id {
        parts.push(format!("institution={v}"));
    }
    for (k, ids) in [
        ("resident", &f.resident_ids),
        ("user", &f.actor_user_ids),
        ("institution", &f.institution_ids),
    ] {
        for v in ids {
            parts.push(format!("{k}={v}"));
        }
    }
    if let Some(v) = &f.action {
        parts.push(format!("action={v}"));
    }
    if let Some(v) = f.outcome {
        parts.push(format!("outcome={v}"));
    }
    if !f.actions.is_empty() {
        parts.push(format!("actions={}", f.actions.join(",")));
    }
    if let Some(v) = f.from {
        parts.push(format!("from={v}"));
    }
    if let Some(v) = f.to {
        parts.push(format!("to={v}"));
    }
    parts.join(" ")
}

/// The audit records as CSV (RFC 4180), with a header row: the codes as stored, and the
/// labels of the action and the outcome in English or Chinese.
pub fn audit_csv(records: &[AuditRecord], english: bool) -> String {
    fn cell(s: &str) -> String {
        // Neutralise spreadsheet formulas and quote every cell.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    }
    let mut out = String::from(
        "seq,time,actor,actor_user_id,actor_institution_id,action,action_label,resource_type,resource_id,resident_id,purpose,outcome,outcome_label,client_addr,request_id,detail,hash\r\n",
    );
    for r in records {
        let opt = |u: Option<Uuid>| u.map(|x| x.to_string()).unwrap_or_default();
        let row = [
            r.seq.to_string(),
            r.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            r.actor_name.clone(),
            opt(r.actor_user_id),
            opt(r.actor_institution_id),
            r.action.clone(),
            ygt_domain::audit_codes::action_label(&r.action, english),
            r.resource_type.clone(),
            r.resource_id.clone().unwrap_or_default(),
            opt(r.resident_id),
            r.purpose.clone().unwrap_or_default(),
            r.outcome.code().to_owned(),
            r.outcome.label(english).to_owned(),
            r.client_addr.clone().unwrap_or_default(),
            r.request_id.clone(),
            r.detail.clone().unwrap_or_default(),
            r.hash.clone(),
        ];
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}
