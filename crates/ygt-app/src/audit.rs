//! The audit log as its users see it: search, CSV export, chain verification, break-glass.

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::access::Permission;
use ygt_domain::audit::{AuditRecord, ChainProblem, ChainVerifier, Outcome};
use ygt_domain::{Reason, ident};
use ygt_store::access::{AuditFilter, BreakGlass};

use crate::access::Event;
use crate::{App, AppError, Ctx, Result, new_id};

/// The result of checking the whole chain.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub verified: u64,
    pub problem: Option<ChainProblem>,
}

/// The largest page of an audit search.
pub const AUDIT_PAGE_MAX: i64 = 1000;

impl App {
    /// Checks the whole chain in batches. Needs no actor: run by the operator's CLI.
    pub async fn verify_audit_chain(&self) -> Result<VerifyReport> {
        let mut v = ChainVerifier::new();
        let mut after = 0;
        'batches: loop {
            let batch = self.store().audit_batch(after, 10_000).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for r in &batch {
                if v.push(r).is_err() {
                    // The verifier keeps the problem; finish() may refine it with the head.
                    break 'batches;
                }
            }
        }
        let head = self.store().audit_head().await?;
        match v.finish(head) {
            Ok(n) => Ok(VerifyReport {
                verified: n,
                problem: None,
            }),
            Err(p) => Ok(VerifyReport {
                verified: 0,
                problem: Some(p),
            }),
        }
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

    /// Declares emergency access to a resident outside the user's scope. The reason is
    /// required; access lasts `settings.break_glass_for` and is flagged for an auditor.
    pub async fn break_glass(
        &self,
        ctx: &Ctx,
        resident_id: Uuid,
        reason: &str,
    ) -> Result<BreakGlass> {
        let event = || {
            Event::new(
                "resident.break_glass",
                "resident",
                Some(resident_id.to_string()),
            )
            .resident(resident_id)
            .purpose("emergency")
        };
        self.require(ctx, Permission::BreakGlass, event()).await?;
        let reason = ident::text("reason", reason, 500)?;
        if reason.chars().count() < 10 {
            return Err(AppError::invalid("reason", Reason::TooShort { min: 10 }));
        }
        let Some(p) = ctx.principal() else {
            return Err(AppError::Unauthenticated);
        };
        let Some(user) = p.user_id else {
            return Err(AppError::Forbidden {
                zh: "接口令牌不能申请紧急授权".into(),
                en: "an API token cannot break the glass".into(),
            });
        };
        let now = self.now();
        let id = new_id();
        let mut tx = self.store().begin().await?;
        tx.insert_break_glass(
            id,
            user,
            p.institution_id,
            resident_id,
            &reason,
            now,
            now + self.settings().break_glass_for,
        )
        .await?;
        self.audit_in(
            &mut tx,
            ctx,
            event().detail(format!("reason={reason}")),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.store()
            .break_glass(id)
            .await?
            .ok_or(AppError::NotFound("break-glass"))
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
            return Err(AppError::Conflict {
                field: None,
                zh: "该记录不存在或已审核".into(),
                en: "no such break-glass access, or it was already reviewed".into(),
            });
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

    /// Links a resident to an institution or user (registration, care, referral, contract,
    /// authorisation). Later capabilities call this when they create such a relation.
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
        if !matches!(
            kind,
            "registered" | "care" | "referral" | "consultation" | "contract" | "authorisation"
        ) {
            return Err(AppError::invalid(
                "kind",
                Reason::UnknownCode {
                    allowed: "registered, care, referral, consultation, contract, authorisation"
                        .into(),
                },
            ));
        }
        self.require(
            ctx,
            Permission::PatientWrite,
            Event::new("resident.link", "resident", Some(resident_id.to_string()))
                .resident(resident_id),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        tx.insert_care_link(
            new_id(),
            resident_id,
            institution_id,
            user_id,
            kind,
            source_id,
            self.now(),
            valid_until,
        )
        .await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("resident.link", "resident", Some(resident_id.to_string()))
                .resident(resident_id)
                .detail(format!("kind={kind}")),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn describe_filter(f: &AuditFilter) -> String {
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
    if let Some(v) = &f.action {
        parts.push(format!("action={v}"));
    }
    if let Some(v) = f.from {
        parts.push(format!("from={v}"));
    }
    if let Some(v) = f.to {
        parts.push(format!("to={v}"));
    }
    parts.join(" ")
}

/// The audit records as CSV (RFC 4180), with a header row.
pub fn audit_csv(records: &[AuditRecord]) -> String {
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
        "seq,time,actor,actor_user_id,actor_institution_id,action,resource_type,resource_id,resident_id,purpose,outcome,client_addr,request_id,detail,hash\r\n",
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
            r.resource_type.clone(),
            r.resource_id.clone().unwrap_or_default(),
            opt(r.resident_id),
            r.purpose.clone().unwrap_or_default(),
            r.outcome.code().to_owned(),
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
