//! Who may do what, and over which data. Every use case checks here; nothing else decides.

use std::collections::BTreeSet;

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::access::{Ground, Permission, Role, ScopeKind};
use ygt_domain::audit::Outcome;
use ygt_domain::msg;
use ygt_store::Tx;
use ygt_store::access::AuditEntry;

use crate::{Actor, App, AppError, Ctx, Result};

/// How the principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session { session_id: Uuid },
    Token { token_id: Uuid },
}

/// A signed-in user (or an integration's API token) with what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account; None for an API token.
    pub user_id: Option<Uuid>,
    /// User name, or `token:<name>`.
    pub name: String,
    pub display_name: String,
    pub institution_id: Option<Uuid>,
    pub roles: Vec<Role>,
    pub permissions: BTreeSet<Permission>,
    /// The user's institution and every institution below it (what it administers).
    pub scope: BTreeSet<Uuid>,
    /// Institutions whose residents' data it may see: its own, and for a township centre also
    /// its village clinics (乡村一体化). A county hospital sees other members' patients through
    /// referrals, consultations and other care links, not wholesale.
    pub patient_scope: BTreeSet<Uuid>,
    pub via: Via,
    pub must_change_password: bool,
}

impl Principal {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Whether `institution` is the principal's own institution or one below it.
    pub fn covers(&self, institution: Uuid) -> bool {
        self.scope.contains(&institution)
    }

    /// Whether the residents of `institution` are in the principal's data scope.
    pub fn covers_patients(&self, institution: Uuid) -> bool {
        self.patient_scope.contains(&institution)
    }
}

/// Names of the actor for the audit log.
pub(crate) fn actor_fields(ctx: &Ctx) -> (Option<Uuid>, String, Option<Uuid>) {
    match &ctx.actor {
        Actor::System => (None, "system".to_owned(), None),
        Actor::Anonymous => (None, "anonymous".to_owned(), None),
        Actor::User(p) => (p.user_id, p.name.clone(), p.institution_id),
    }
}

/// What an audit event is about.
pub struct Event<'a> {
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<String>,
    pub resident_id: Option<Uuid>,
    pub purpose: Option<&'a str>,
    pub detail: Option<String>,
}

impl<'a> Event<'a> {
    pub fn new(action: &'a str, resource_type: &'a str, resource_id: Option<String>) -> Self {
        Event {
            action,
            resource_type,
            resource_id,
            resident_id: None,
            purpose: None,
            detail: None,
        }
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }

    pub fn resident(mut self, r: Uuid) -> Self {
        self.resident_id = Some(r);
        self
    }

    pub fn purpose(mut self, p: &'a str) -> Self {
        self.purpose = Some(p);
        self
    }
}

fn forbidden(p: Permission) -> AppError {
    AppError::forbidden(msg!("access.not_allowed", p = p))
}

impl App {
    pub(crate) fn entry(&self, ctx: &Ctx, e: &Event<'_>, outcome: Outcome) -> AuditEntry {
        let (actor_user_id, actor_name, actor_institution_id) = actor_fields(ctx);
        AuditEntry {
            actor_user_id,
            actor_name,
            actor_institution_id,
            action: e.action.to_owned(),
            resource_type: e.resource_type.to_owned(),
            resource_id: e.resource_id.clone(),
            resident_id: e.resident_id,
            purpose: e.purpose.map(str::to_owned),
            outcome,
            client_addr: ctx.client_addr.clone(),
            request_id: ctx.request_id.clone(),
            detail: e.detail.clone(),
        }
    }

    /// Appends an event inside the caller's transaction (commits with the change it records).
    /// Audits several events of one transaction at once (same order as one by one).
    pub(crate) async fn audit_many_in(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        events: &[Event<'_>],
        outcome: Outcome,
    ) -> Result<()> {
        let entries: Vec<_> = events.iter().map(|e| self.entry(ctx, e, outcome)).collect();
        tx.append_audits(&entries, self.settings().audit_alg, self.now())
            .await?;
        Ok(())
    }

    pub(crate) async fn audit_in(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        e: Event<'_>,
        outcome: Outcome,
    ) -> Result<()> {
        let entry = self.entry(ctx, &e, outcome);
        tx.append_audit(&entry, self.settings().audit_alg, self.now())
            .await?;
        Ok(())
    }

    /// Records an event that changes nothing (reads, refusals, sign-in failures): appended to
    /// the audit inbox in a statement of its own, off the write path (no chain head, no long
    /// transaction), durable before this returns; the sealing task chains it
    /// ([`App::seal_audit_inbox`]).
    pub(crate) async fn audit(&self, ctx: &Ctx, e: Event<'_>, outcome: Outcome) -> Result<()> {
        self.audit_many(ctx, std::slice::from_ref(&e), outcome)
            .await
    }

    /// [`App::audit`] for several events at once (one statement).
    pub(crate) async fn audit_many(
        &self,
        ctx: &Ctx,
        events: &[Event<'_>],
        outcome: Outcome,
    ) -> Result<()> {
        let entries: Vec<_> = events.iter().map(|e| self.entry(ctx, e, outcome)).collect();
        self.store()
            .append_inbox(&entries, self.settings().audit_alg, self.now())
            .await?;
        Ok(())
    }

    /// Records a refusal and returns the error to give.
    pub(crate) async fn deny(&self, ctx: &Ctx, e: Event<'_>, err: AppError) -> AppError {
        if let Err(audit_err) = self.audit(ctx, e, Outcome::Denied).await {
            tracing::error!(error = %audit_err, "could not audit a denial");
        }
        err
    }

    /// Requires a permission (the system actor has all).
    pub async fn require(&self, ctx: &Ctx, p: Permission, e: Event<'_>) -> Result<()> {
        match &ctx.actor {
            Actor::System => Ok(()),
            Actor::Anonymous => Err(AppError::Unauthenticated),
            Actor::User(u) if u.must_change_password => Err(AppError::PasswordChangeRequired),
            Actor::User(u) if u.can(p) => Ok(()),
            Actor::User(_) => Err(self.deny(ctx, e, forbidden(p)).await),
        }
    }

    /// Requires `all` anywhere, or `local` for an institution in the principal's scope.
    pub async fn require_for(
        &self,
        ctx: &Ctx,
        local: Permission,
        all: Permission,
        institution: Option<Uuid>,
        e: Event<'_>,
    ) -> Result<()> {
        match &ctx.actor {
            Actor::System => Ok(()),
            Actor::Anonymous => Err(AppError::Unauthenticated),
            Actor::User(u) if u.must_change_password => Err(AppError::PasswordChangeRequired),
            Actor::User(u) if u.can(all) => Ok(()),
            Actor::User(u) if u.can(local) && institution.is_some_and(|i| u.covers(i)) => Ok(()),
            Actor::User(u) => {
                let err = if u.can(local) {
                    AppError::forbidden(msg!("access.institution_outside_admin_scope"))
                } else {
                    forbidden(local)
                };
                Err(self.deny(ctx, e, err).await)
            }
        }
    }

    /// Requires a permission over an institution in the principal's scope (no global variant).
    pub async fn require_scoped(
        &self,
        ctx: &Ctx,
        p: Permission,
        institution: Uuid,
        e: Event<'_>,
    ) -> Result<()> {
        match &ctx.actor {
            Actor::System => Ok(()),
            Actor::Anonymous => Err(AppError::Unauthenticated),
            Actor::User(u) if u.must_change_password => Err(AppError::PasswordChangeRequired),
            Actor::User(u) if u.can(p) && u.covers_patients(institution) => Ok(()),
            Actor::User(u) => {
                let err = if u.can(p) {
                    AppError::forbidden(msg!("access.institution_outside_care_scope"))
                } else {
                    forbidden(p)
                };
                Err(self.deny(ctx, e, err).await)
            }
        }
    }

    /// [`App::require_scoped`] over an institution the input names: one that does not exist
    /// is bad input naming `field`, whoever asks, rather than a refusal. (An institution in the
    /// actor's scope exists; only one outside it is looked up.)
    pub(crate) async fn require_scoped_ref(
        &self,
        ctx: &Ctx,
        p: Permission,
        institution: Uuid,
        field: &str,
        e: Event<'_>,
    ) -> Result<()> {
        if let Actor::User(u) = &ctx.actor
            && !u.covers_patients(institution)
            && self.store().institution(institution).await?.is_none()
        {
            return Err(AppError::invalid(field, ygt_domain::Reason::NotFound));
        }
        self.require_scoped(ctx, p, institution, e).await
    }

    /// Decides whether the actor may see a resident's data, and why; audits the decision.
    /// `purpose` says what for (treatment, follow-up, referral, ...).
    pub async fn resident_access(
        &self,
        ctx: &Ctx,
        resident_id: Uuid,
        action: &str,
        purpose: &str,
    ) -> Result<ScopeKind> {
        self.resident_access_to(ctx, resident_id, action, purpose, None)
            .await
    }

    /// [`App::resident_access`] to one thing of the resident's record (`what`, such as
    /// `item=<id>`), which the audit event names too.
    pub(crate) async fn resident_access_to(
        &self,
        ctx: &Ctx,
        resident_id: Uuid,
        action: &str,
        purpose: &str,
        what: Option<&str>,
    ) -> Result<ScopeKind> {
        let event = || {
            let e = Event::new(action, "resident", Some(resident_id.to_string()))
                .resident(resident_id)
                .purpose(purpose);
            match what {
                Some(w) => e.detail(w),
                None => e,
            }
        };
        let p = match &ctx.actor {
            Actor::System => return Ok(ScopeKind::CommunityWide),
            Actor::Anonymous => return Err(AppError::Unauthenticated),
            Actor::User(p) if p.must_change_password => {
                return Err(AppError::PasswordChangeRequired);
            }
            Actor::User(p) => p.clone(),
        };
        if !p.can(Permission::PatientRead) {
            return Err(self
                .deny(ctx, event(), forbidden(Permission::PatientRead))
                .await);
        }
        let now = self.now();
        let decision = self.scope_of(&p, resident_id, now).await?;
        match decision {
            Some(kind) => {
                let scope = format!("scope={}", kind.code());
                let detail = match what {
                    Some(w) => format!("{scope} {w}"),
                    None => scope,
                };
                self.audit(ctx, event().detail(detail), Outcome::Allowed)
                    .await?;
                Ok(kind)
            }
            None => {
                let err = if self.unverified_here(&p, resident_id).await? {
                    AppError::forbidden(msg!("access.unverified_registration"))
                } else {
                    AppError::forbidden(msg!("access.resident_outside_scope"))
                };
                Err(self.deny(ctx, event(), err).await)
            }
        }
    }

    /// Whether the actor may open the resident's record now (no audit: for shaping a response
    /// to a write that is audited itself).
    pub(crate) async fn may_see(&self, ctx: &Ctx, resident_id: Uuid) -> Result<bool> {
        Ok(match &ctx.actor {
            Actor::System => true,
            Actor::Anonymous => false,
            Actor::User(p) => {
                p.can(Permission::PatientRead)
                    && self.scope_of(p, resident_id, self.now()).await?.is_some()
            }
        })
    }

    /// Whether a resident the actor may not see has a registration at the actor's
    /// institutions that only lacks a verified ID number (the refusal then says so).
    async fn unverified_here(&self, p: &Principal, resident_id: Uuid) -> Result<bool> {
        let links = self.store().care_links(resident_id, self.now()).await?;
        Ok(links.iter().any(|l| {
            l.kind == Ground::Unverified.code()
                && l.institution_id.is_some_and(|i| p.covers_patients(i))
        }))
    }

    async fn scope_of(
        &self,
        p: &Principal,
        resident_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<ScopeKind>> {
        if p.can(Permission::CommunityWide) {
            return Ok(Some(ScopeKind::CommunityWide));
        }
        let links = self.store().care_links(resident_id, now).await?;
        let mut best: Option<ScopeKind> = None;
        let rank = |k: ScopeKind| match k {
            ScopeKind::OwnInstitution => 0,
            ScopeKind::Subordinate => 1,
            ScopeKind::CareLink => 2,
            ScopeKind::Authorised => 3,
            ScopeKind::CommunityWide => 4,
            ScopeKind::BreakGlass => 5,
        };
        for l in &links {
            let Ok(ground) = Ground::parse("kind", &l.kind) else {
                continue;
            };
            if let Some(k) = scope_by(p, ground, l.institution_id, l.user_id)
                && best.is_none_or(|b| rank(k) < rank(b))
            {
                best = Some(k);
            }
        }
        if best.is_some() {
            return Ok(best);
        }
        if let Some(user) = p.user_id
            && self
                .store()
                .active_break_glass(user, resident_id, now)
                .await?
                .is_some()
        {
            return Ok(Some(ScopeKind::BreakGlass));
        }
        Ok(None)
    }
}

/// What one ground gives the principal: its own institution's or a subordinate's proven
/// registration or care, an episode (referral, consultation, contract) of its institutions or
/// of the user, the resident's authorisation. An unverified registration gives nothing.
fn scope_by(
    p: &Principal,
    ground: Ground,
    institution: Option<Uuid>,
    user: Option<Uuid>,
) -> Option<ScopeKind> {
    let for_me = user.is_some() && user == p.user_id;
    let ours = institution.is_some_and(|i| p.covers_patients(i));
    match ground {
        Ground::Unverified => None,
        Ground::Registered | Ground::Care => match institution {
            Some(i) if Some(i) == p.institution_id => Some(ScopeKind::OwnInstitution),
            Some(i) if p.covers_patients(i) => Some(ScopeKind::Subordinate),
            _ if for_me => Some(ScopeKind::CareLink),
            _ => None,
        },
        Ground::Referral | Ground::Consultation | Ground::Contract => {
            (for_me || ours).then_some(ScopeKind::CareLink)
        }
        Ground::Authorisation => (for_me || ours).then_some(ScopeKind::Authorised),
    }
}
