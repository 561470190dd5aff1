//! Accounts, sign-in, sessions, API tokens and the role → permission table.

use std::collections::BTreeSet;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::access::{INTEGRATION_PERMISSIONS, Permission, Role};
use ygt_domain::audit::Outcome;
use ygt_domain::msg;
use ygt_domain::{Reason, ValidationError, ValidationErrors, ident, password};
use ygt_store::access::{ApiToken, NewUser, User, UserFilter};

use crate::access::{Event, Principal, Via};
use crate::principals::{KeptSession, KeptToken};
use crate::{App, AppError, Ctx, Result, new_id};

/// The longest life of an API token, in days.
pub const TOKEN_MAX_DAYS: i64 = 365;
/// The life of an API token when its creator gives none, in days.
pub const TOKEN_DEFAULT_DAYS: i64 = 90;
/// In a token's permission list: the integration set ([`INTEGRATION_PERMISSIONS`]).
pub const INTEGRATION: &str = "integration";

/// Audit action: a role with patient-data permissions given to an account.
pub const GRANT_PATIENT_ROLE: &str = "account.grant_patient_role";
/// Audit action: patient-data permissions added to a role.
pub const GRANT_PATIENT_PERMISSION: &str = "role.grant_patient_permission";
/// Audit action: a token made with patient-data permissions.
pub const GRANT_TOKEN_PERMISSION: &str = "token.grant_patient_permission";
/// The actions listed for auditor review of grants (`App::grant_review`).
pub const GRANT_ACTIONS: &[&str] = &[
    GRANT_PATIENT_ROLE,
    GRANT_PATIENT_PERMISSION,
    GRANT_TOKEN_PERMISSION,
];

/// Random bytes, base64url without padding.
pub(crate) fn random_token(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| {
        AppError::conflict(
            None,
            msg!("account.system_random_source_failed", e = e.to_string()),
        )
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// SHA-256 of a secret, hex. Sessions and tokens are stored only as this.
pub fn secret_hash(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes a password with argon2 on a blocking thread: it takes tens of milliseconds of CPU,
/// which would hold up every other request of an async worker.
pub(crate) async fn hash_password(pw: &str) -> Result<String> {
    let pw = pw.to_owned();
    tokio::task::spawn_blocking(move || hash_password_now(&pw))
        .await
        .map_err(|e| {
            AppError::conflict(
                None,
                msg!("account.hashing_password_failed", e = e.to_string()),
            )
        })?
}

/// Checks a password against its argon2 hash on a blocking thread (see [`hash_password`]);
/// `None` checks against [`dummy_hash`] (same time, always false).
pub(crate) async fn verify_password(pw: &str, hash: Option<&str>) -> bool {
    let pw = pw.to_owned();
    let hash = hash.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let ok = verify_password_now(&pw, hash.as_deref().unwrap_or_else(|| dummy_hash()));
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

fn hash_password_now(pw: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| {
        AppError::conflict(
            None,
            msg!("account.system_random_source_failed", e = e.to_string()),
        )
    })?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| {
        AppError::conflict(
            None,
            msg!("account.hashing_password_failed", e = e.to_string()),
        )
    })?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            AppError::conflict(
                None,
                msg!("account.hashing_password_failed", e = e.to_string()),
            )
        })
}

fn verify_password_now(pw: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default().verify_password(pw.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// A real hash to verify against for unknown user names.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password_now("not-a-real-password-0").unwrap_or_default())
}

/// A generated temporary password that satisfies the policy.
fn temporary_password() -> Result<String> {
    let r = random_token(9)?;
    Ok(format!("Ygt-{r}-7a"))
}

/// The outcome of a successful sign-in: the secret for the cookie and its CSRF token, and the
/// browser's device cookie (a new one for this account, then its others).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_token: String,
    pub csrf_token: String,
    pub must_change_password: bool,
    pub expires_at: OffsetDateTime,
    pub device_cookie: String,
}

/// What a request carries after authentication.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub principal: Principal,
    pub csrf_token: String,
}

/// A new account, as submitted.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDraft {
    pub username: String,
    pub display_name: String,
    pub institution_id: Option<String>,
    pub staff_id: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Empty: a temporary password is generated.
    pub password: Option<String>,
    /// Require a change at first sign-in (default true).
    pub must_change_password: Option<bool>,
}

/// A created account and, when one was generated, its temporary password (shown once).
#[derive(Debug, Clone)]
pub struct CreatedAccount {
    pub user: User,
    pub roles: Vec<Role>,
    pub temporary_password: Option<String>,
}

/// A created API token: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// Roles only holders of `account.manage_all` may grant.
const GUARDED_ROLES: &[Role] = &[Role::SystemAdmin, Role::CommunityAdmin, Role::Auditor];

fn parse_username(s: &str) -> std::result::Result<String, ValidationError> {
    let t = s.trim().to_lowercase();
    if t.is_empty() {
        return Err(ValidationError::new("username", Reason::Required));
    }
    if t.chars().count() < 3 || t.chars().count() > 40 {
        return Err(ValidationError::new(
            "username",
            Reason::Range { min: 3, max: 40 },
        ));
    }
    if !t
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ValidationError::new("username", Reason::Format("username")));
    }
    Ok(t)
}

impl App {
    // ------------------------------------------------------------ principals

    /// Builds the principal of an account (roles, permissions, scope).
    pub(crate) async fn principal_of(&self, user: &User, via: Via) -> Result<Principal> {
        let roles = self.store().roles_of(user.id).await?;
        let permissions: BTreeSet<Permission> = self
            .store()
            .permissions_of(&roles)
            .await?
            .into_iter()
            .collect();
        let (scope, patient_scope) = match user.institution_id {
            Some(i) => self.scopes_of(i).await?,
            None => (BTreeSet::new(), BTreeSet::new()),
        };
        Ok(Principal {
            user_id: Some(user.id),
            name: user.username.clone(),
            display_name: user.display_name.clone(),
            institution_id: user.institution_id,
            roles,
            permissions,
            scope,
            patient_scope,
            via,
            must_change_password: user.must_change_password,
        })
    }

    /// (administration scope, patient-data scope) of an institution.
    async fn scopes_of(&self, institution: Uuid) -> Result<(BTreeSet<Uuid>, BTreeSet<Uuid>)> {
        let scope: BTreeSet<Uuid> = self
            .store()
            .institution_and_descendants(institution)
            .await?
            .into_iter()
            .collect();
        let township = self
            .store()
            .institution(institution)
            .await?
            .is_some_and(|i| i.tier == ygt_domain::org::Tier::Township);
        let patient_scope = if township {
            scope.clone()
        } else {
            BTreeSet::from([institution])
        };
        Ok((scope, patient_scope))
    }

    /// How long after the last recorded activity a session's activity is recorded again: at
    /// most once a minute (and often enough that an active session never looks idle).
    fn touch_after(&self) -> time::Duration {
        std::cmp::min(time::Duration::minutes(1), self.settings().idle_timeout / 4)
    }

    /// Resolves a session cookie. Expired (idle or absolute), revoked or unknown: None.
    pub async fn session_principal(&self, token: &str) -> Result<Option<SessionInfo>> {
        let hash = secret_hash(token);
        let now = self.now();
        // Read before the database: a change committed meanwhile makes what is kept stale.
        let generation = self.store().principals_generation();
        if let Some(g) = generation
            && let Some(k) = self.principals.session(&hash, g)
            && k.expires_at > now
            // Idle here may be active elsewhere: the database decides.
            && now - k.last_seen_at <= self.settings().idle_timeout
        {
            if now - k.last_seen_at > self.touch_after() {
                self.touch_session(&hash, now).await?;
                let info = k.info.clone();
                self.principals.keep_session(
                    hash,
                    KeptSession {
                        last_seen_at: now,
                        ..k
                    },
                );
                return Ok(Some(info));
            }
            return Ok(Some(k.info));
        }
        let Some(kept) = self.load_session(&hash, now, generation).await? else {
            return Ok(None);
        };
        let info = kept.info.clone();
        if generation.is_some() {
            self.principals.keep_session(hash, kept);
        }
        Ok(Some(info))
    }

    async fn touch_session(&self, hash: &str, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.touch_session(hash, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A session as the database has it (see [`App::session_principal`]).
    async fn load_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
        generation: Option<u64>,
    ) -> Result<Option<KeptSession>> {
        let Some(s) = self.store().session(hash).await? else {
            return Ok(None);
        };
        if s.revoked_at.is_some() || s.expires_at <= now {
            return Ok(None);
        }
        if now - s.last_seen_at > self.settings().idle_timeout {
            let mut tx = self.store().begin().await?;
            tx.revoke_session(hash, now).await?;
            tx.commit().await?;
            return Ok(None);
        }
        let Some(user) = self.store().user(s.user_id).await? else {
            return Ok(None);
        };
        if !user.active {
            return Ok(None);
        }
        let mut last_seen_at = s.last_seen_at;
        if now - s.last_seen_at > self.touch_after() {
            self.touch_session(hash, now).await?;
            last_seen_at = now;
        }
        let principal = self
            .principal_of(&user, Via::Session { session_id: s.id })
            .await?;
        Ok(Some(KeptSession {
            generation: generation.unwrap_or_default(),
            info: SessionInfo {
                principal,
                csrf_token: s.csrf_token,
            },
            expires_at: s.expires_at,
            last_seen_at,
        }))
    }

    /// Resolves an API token (`Authorization: Bearer ygt_…`).
    pub async fn token_principal(&self, secret: &str) -> Result<Option<Principal>> {
        let hash = secret_hash(secret);
        let now = self.now();
        let generation = self.store().principals_generation();
        if let Some(g) = generation
            && let Some(k) = self.principals.token(&hash, g)
            && k.expires_at > now
        {
            if k.last_used_at.is_none_or(|l| now - l > self.touch_after()) {
                self.touch_token(k.principal.via.clone(), now).await?;
                let p = k.principal.clone();
                self.principals.keep_token(
                    hash,
                    KeptToken {
                        last_used_at: Some(now),
                        ..k
                    },
                );
                return Ok(Some(p));
            }
            return Ok(Some(k.principal));
        }
        let Some(kept) = self.load_token(&hash, now, generation).await? else {
            return Ok(None);
        };
        let p = kept.principal.clone();
        if generation.is_some() {
            self.principals.keep_token(hash, kept);
        }
        Ok(Some(p))
    }

    async fn touch_token(&self, via: Via, now: OffsetDateTime) -> Result<()> {
        if let Via::Token { token_id } = via {
            let mut tx = self.store().begin().await?;
            tx.touch_token(token_id, now).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// An API token as the database has it (see [`App::token_principal`]).
    async fn load_token(
        &self,
        hash: &str,
        now: OffsetDateTime,
        generation: Option<u64>,
    ) -> Result<Option<KeptToken>> {
        let Some(t) = self.store().token_by_hash(hash).await? else {
            return Ok(None);
        };
        // Tokens made before expiry was required expire a year after they were made.
        let expires_at = t
            .expires_at
            .unwrap_or(t.created_at + time::Duration::days(TOKEN_MAX_DAYS));
        if t.revoked_at.is_some() || expires_at <= now {
            return Ok(None);
        }
        let via = Via::Token { token_id: t.id };
        let mut last_used_at = t.last_used_at;
        if last_used_at.is_none_or(|l| now - l > self.touch_after()) {
            self.touch_token(via.clone(), now).await?;
            last_used_at = Some(now);
        }
        let (scope, patient_scope) = self.scopes_of(t.institution_id).await?;
        let principal = Principal {
            user_id: None,
            name: format!("token:{}", t.name),
            display_name: t.name.clone(),
            institution_id: Some(t.institution_id),
            roles: Vec::new(),
            permissions: t.permission_list().into_iter().collect(),
            scope,
            patient_scope,
            via,
            must_change_password: false,
        };
        Ok(Some(KeptToken {
            generation: generation.unwrap_or_default(),
            principal,
            expires_at,
            last_used_at,
        }))
    }

    // ------------------------------------------------------------ sign-out

    pub async fn sign_out(&self, ctx: &Ctx, session_token: &str) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.revoke_session(&secret_hash(session_token), self.now())
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("auth.sign_out", "session", None),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of the signed-in user.
    pub async fn sign_out_everywhere(&self, ctx: &Ctx) -> Result<u64> {
        let Some(uid) = ctx.principal().and_then(|p| p.user_id) else {
            return Err(AppError::Unauthenticated);
        };
        let mut tx = self.store().begin().await?;
        let n = tx.revoke_user_sessions(uid, self.now()).await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("auth.sign_out_everywhere", "account", Some(uid.to_string()))
                .detail(format!("{n} sessions ended")),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The signed-in user changes their own password.
    pub async fn change_password(&self, ctx: &Ctx, current: &str, new: &str) -> Result<()> {
        let Some(p) = ctx.principal() else {
            return Err(AppError::Unauthenticated);
        };
        let Some(uid) = p.user_id else {
            return Err(AppError::Unauthenticated);
        };
        let user = self
            .store()
            .user(uid)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        if !verify_password(current, Some(&user.password_hash)).await {
            self.audit(
                ctx,
                Event::new("account.password_change", "account", Some(uid.to_string()))
                    .detail("wrong current password"),
                Outcome::Failed,
            )
            .await?;
            return Err(AppError::invalid(
                "current_password",
                Reason::Other(msg!("account.wrong_current_password")),
            ));
        }
        let context = self
            .password_context(&user.username, Some(&user.display_name))
            .await?;
        password::check(
            &self.settings().password_policy,
            "new_password",
            new,
            &context,
        )?;
        if verify_password(new, Some(&user.password_hash)).await {
            return Err(AppError::invalid(
                "new_password",
                Reason::Other(msg!("account.differ_from_current_password")),
            ));
        }
        let hash = hash_password(new).await?;
        let mut tx = self.store().begin().await?;
        tx.set_password(uid, &hash, false, self.now()).await?;
        // Whoever knew the old password is signed out; this session stays.
        let keep = match p.via {
            Via::Session { session_id } => Some(session_id),
            Via::Token { .. } => None,
        };
        tx.revoke_other_sessions(uid, keep, self.now()).await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("account.password_change", "account", Some(uid.to_string())),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------ accounts

    /// What a password of `username` (the person `full_name`) must not be built from: the
    /// platform's names, every community's and institution's name and alias with the pinyin
    /// and initials of their parts, the name with its pinyin, the user name, and the years
    /// near the current one (`ygt_domain::password::Context`).
    pub async fn password_context(
        &self,
        username: &str,
        full_name: Option<&str>,
    ) -> Result<password::Context> {
        let names = self.store().registry_names().await?;
        let spell = |t: &str| ygt_empi::pinyin_of(t, 4);
        let mut c = password::Context::new(username, full_name, self.now().year());
        for n in names.iter().map(String::as_str).chain(full_name) {
            c.add_name(n, &spell);
        }
        Ok(c)
    }

    /// The institutions whose accounts the actor manages (None: all).
    fn managed(&self, ctx: &Ctx) -> Option<Vec<Uuid>> {
        match ctx.principal() {
            Some(p) if !p.can(Permission::AccountManageAll) => {
                Some(p.scope.iter().copied().collect())
            }
            _ => None,
        }
    }

    async fn require_account_manage(
        &self,
        ctx: &Ctx,
        institution: Option<Uuid>,
        e: Event<'_>,
    ) -> Result<()> {
        self.require_for(
            ctx,
            Permission::AccountManage,
            Permission::AccountManageAll,
            institution,
            e,
        )
        .await
    }

    fn check_grantable(&self, ctx: &Ctx, roles: &[Role]) -> Result<()> {
        if let Some(p) = ctx.principal()
            && !p.can(Permission::AccountManageAll)
            && let Some(r) = roles.iter().find(|r| GUARDED_ROLES.contains(r))
        {
            return Err(AppError::forbidden(msg!(
                "account.only_global_admin_grants",
                r = r
            )));
        }
        Ok(())
    }

    /// Administration of accounts, roles and API tokens is a signed-in person's: an API token
    /// never does it (it could otherwise widen its creator's or its own rights unseen).
    async fn require_person(&self, ctx: &Ctx, e: Event<'_>) -> Result<()> {
        if let Some(p) = ctx.principal()
            && matches!(p.via, Via::Token { .. })
        {
            return Err(self
                .deny(
                    ctx,
                    e,
                    AppError::forbidden(msg!("account.administered_in_person")),
                )
                .await);
        }
        Ok(())
    }

    /// The roles among `roles` that carry patient-data permissions (as the role table stands),
    /// with those permissions.
    async fn patient_roles(&self, roles: &[Role]) -> Result<Vec<(Role, Vec<Permission>)>> {
        let mut out = Vec::new();
        for r in roles {
            let mut perms: Vec<Permission> = self
                .store()
                .permissions_of(std::slice::from_ref(r))
                .await?
                .into_iter()
                .filter(|p| p.is_patient_data())
                .collect();
            perms.sort_by_key(|p| p.code());
            if !perms.is_empty() {
                out.push((*r, perms));
            }
        }
        Ok(out)
    }

    /// Audits, in the change's transaction, every role with patient-data permissions given
    /// to an account (`account.grant_patient_role`, listed for auditor review).
    async fn audit_patient_roles(
        &self,
        tx: &mut ygt_store::Tx,
        ctx: &Ctx,
        account: Uuid,
        username: &str,
        granted: &[(Role, Vec<Permission>)],
    ) -> Result<()> {
        for (role, perms) in granted {
            let codes: Vec<&str> = perms.iter().map(|p| p.code()).collect();
            self.audit_in(
                tx,
                ctx,
                Event::new(GRANT_PATIENT_ROLE, "account", Some(account.to_string())).detail(
                    format!(
                        "username={username} role={} permissions={}",
                        role.code(),
                        codes.join(",")
                    ),
                ),
                Outcome::Allowed,
            )
            .await?;
        }
        Ok(())
    }

    pub async fn list_accounts(
        &self,
        ctx: &Ctx,
        q: Option<String>,
    ) -> Result<Vec<(User, Vec<Role>)>> {
        self.require_account_manage(
            ctx,
            ctx.principal().and_then(|p| p.institution_id),
            Event::new("account.list", "account", None),
        )
        .await?;
        let users = self
            .store()
            .list_users(&UserFilter {
                institutions: self.managed(ctx),
                q,
                include_inactive: true,
                limit: Some(500),
            })
            .await?;
        let mut out = Vec::with_capacity(users.len());
        for u in users {
            let roles = self.store().roles_of(u.id).await?;
            out.push((u, roles));
        }
        Ok(out)
    }

    pub async fn account(&self, ctx: &Ctx, id: Uuid) -> Result<(User, Vec<Role>)> {
        let user = self
            .store()
            .user(id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        self.require_account_manage(
            ctx,
            user.institution_id,
            Event::new("account.read", "account", Some(id.to_string())),
        )
        .await?;
        let roles = self.store().roles_of(id).await?;
        Ok((user, roles))
    }

    pub async fn create_account(&self, ctx: &Ctx, d: &AccountDraft) -> Result<CreatedAccount> {
        let mut errs = ValidationErrors::default();
        let username = errs.check(parse_username(&d.username));
        let display = errs.check(ident::person_name("display_name", &d.display_name, 100));
        let institution = match d
            .institution_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => errs.check(
                Uuid::parse_str(s)
                    .map(Some)
                    .map_err(|_| ValidationError::new("institution_id", Reason::Format("uuid"))),
            ),
            None => Some(None),
        };
        let staff_id = match d
            .staff_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => errs.check(
                Uuid::parse_str(s)
                    .map(Some)
                    .map_err(|_| ValidationError::new("staff_id", Reason::Format("uuid"))),
            ),
            None => Some(None),
        };
        let mut roles = Vec::new();
        for (i, r) in d.roles.iter().enumerate() {
            if let Some(r) = errs.check(Role::parse(&format!("roles[{i}]"), r))
                && !roles.contains(&r)
            {
                roles.push(r);
            }
        }
        if d.roles.is_empty() {
            errs.push(ValidationError::new("roles", Reason::Required));
        }
        let (Some(username), Some(display), Some(institution), Some(staff_id)) =
            (username, display, institution, staff_id)
        else {
            return Err(AppError::Invalid(errs));
        };
        let generated = d
            .password
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .is_none();
        let password = match d.password.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => {
                let context = self.password_context(&username, Some(&display)).await?;
                if let Err(e) =
                    password::check(&self.settings().password_policy, "password", p, &context)
                {
                    errs.push(e);
                }
                p.to_owned()
            }
            None => temporary_password()?,
        };
        errs.into_result()?;
        self.require_account_manage(
            ctx,
            institution,
            Event::new("account.create", "account", Some(username.clone())),
        )
        .await?;
        self.require_person(
            ctx,
            Event::new("account.create", "account", Some(username.clone())),
        )
        .await?;
        self.check_grantable(ctx, &roles)?;
        let granted = self.patient_roles(&roles).await?;
        let hash = hash_password(&password).await?;
        let id = new_id();
        let mut tx = self.store().begin().await?;
        if let Some(i) = institution
            && tx.institution_tier(i).await?.is_none()
        {
            return Err(AppError::invalid("institution_id", Reason::NotFound));
        }
        tx.insert_user(
            &NewUser {
                id,
                username: &username,
                display_name: &display,
                kind: "staff",
                staff_id,
                institution_id: institution,
                password_hash: &hash,
                must_change_password: d.must_change_password.unwrap_or(true),
            },
            self.now(),
        )
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Duplicate { .. } => AppError::Duplicate {
                field: "username".into(),
            },
            other => other,
        })?;
        tx.set_roles(id, &roles).await?;
        let codes: Vec<&str> = roles.iter().map(|r| r.code()).collect();
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("account.create", "account", Some(id.to_string()))
                .detail(format!("username={username} roles={}", codes.join(","))),
            Outcome::Allowed,
        )
        .await?;
        self.audit_patient_roles(&mut tx, ctx, id, &username, &granted)
            .await?;
        tx.commit().await?;
        let user = self
            .store()
            .user(id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        Ok(CreatedAccount {
            user,
            roles,
            temporary_password: generated.then_some(password),
        })
    }

    /// Changes an account's name, institution, roles and active flag.
    pub async fn update_account(
        &self,
        ctx: &Ctx,
        id: Uuid,
        display_name: &str,
        institution_id: Option<Uuid>,
        roles: &[String],
        active: bool,
    ) -> Result<(User, Vec<Role>)> {
        let (before, old_roles) = self.account(ctx, id).await?;
        // Accounts holding guarded roles are managed only by global account administrators.
        self.check_grantable(ctx, &old_roles)?;
        let mut errs = ValidationErrors::default();
        let display = errs.check(ident::person_name("display_name", display_name, 100));
        let mut parsed = Vec::new();
        for (i, r) in roles.iter().enumerate() {
            if let Some(r) = errs.check(Role::parse(&format!("roles[{i}]"), r))
                && !parsed.contains(&r)
            {
                parsed.push(r);
            }
        }
        if roles.is_empty() {
            errs.push(ValidationError::new("roles", Reason::Required));
        }
        errs.into_result()?;
        let display = display.unwrap_or(before.display_name.clone());
        self.require_account_manage(
            ctx,
            institution_id,
            Event::new("account.update", "account", Some(id.to_string())),
        )
        .await?;
        self.require_person(
            ctx,
            Event::new("account.update", "account", Some(id.to_string())),
        )
        .await?;
        let added: Vec<Role> = parsed
            .iter()
            .filter(|r| !old_roles.contains(r))
            .copied()
            .collect();
        // Separation of duties: nobody changes their own roles or institution (and with them
        // their own permissions or scope).
        let own = ctx.principal().and_then(|p| p.user_id) == Some(id);
        let same_roles = parsed.len() == old_roles.len() && added.is_empty();
        if own && (!same_roles || institution_id != before.institution_id) {
            return Err(self
                .deny(
                    ctx,
                    Event::new("account.update", "account", Some(id.to_string()))
                        .detail("own roles or institution"),
                    AppError::forbidden(msg!("account.not_own_roles")),
                )
                .await);
        }
        self.check_grantable(ctx, &added)?;
        let granted = self.patient_roles(&added).await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.update_user_profile(id, &display, institution_id, active, now)
            .await?;
        tx.set_roles(id, &parsed).await?;
        if !active {
            tx.revoke_user_sessions(id, now).await?;
        }
        let codes: Vec<&str> = parsed.iter().map(|r| r.code()).collect();
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("account.update", "account", Some(id.to_string())).detail(format!(
                "roles={} active={active} institution={}",
                codes.join(","),
                institution_id.map(|i| i.to_string()).unwrap_or_default()
            )),
            Outcome::Allowed,
        )
        .await?;
        self.audit_patient_roles(&mut tx, ctx, id, &before.username, &granted)
            .await?;
        tx.commit().await?;
        self.account(ctx, id).await
    }

    /// An administrator resets a password: a temporary one, changed at next sign-in; every
    /// session of the account ends.
    pub async fn reset_password(&self, ctx: &Ctx, id: Uuid) -> Result<String> {
        let (user, roles) = self.account(ctx, id).await?;
        self.require_person(
            ctx,
            Event::new("account.password_reset", "account", Some(id.to_string())),
        )
        .await?;
        self.check_grantable(ctx, &roles)?;
        let temp = temporary_password()?;
        let hash = hash_password(&temp).await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.set_password(user.id, &hash, true, now).await?;
        tx.revoke_user_sessions(user.id, now).await?;
        tx.clear_sign_in_failures(&crate::signin::account_key(&user.username))
            .await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("account.password_reset", "account", Some(id.to_string())),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(temp)
    }

    // ------------------------------------------------------------ roles and permissions

    pub async fn role_permissions(&self, ctx: &Ctx) -> Result<Vec<(Role, Permission)>> {
        self.require(
            ctx,
            Permission::RoleManage,
            Event::new("role.read", "role", None),
        )
        .await?;
        Ok(self.store().role_permissions().await?)
    }

    pub async fn set_role_permissions(
        &self,
        ctx: &Ctx,
        role: Role,
        perms: &[Permission],
    ) -> Result<()> {
        self.require(
            ctx,
            Permission::RoleManage,
            Event::new("role.update", "role", Some(role.code().into())),
        )
        .await?;
        if let Some(t) = perms.iter().find(|p| p.is_token_only()) {
            return Err(AppError::conflict(
                Some("permissions"),
                msg!("account.token_only_permission", t = t),
            ));
        }
        if role == Role::SystemAdmin && !perms.contains(&Permission::RoleManage) {
            return Err(AppError::conflict(
                Some("permissions"),
                msg!("account.admin_keeps_role_manage"),
            ));
        }
        self.require_person(
            ctx,
            Event::new("role.update", "role", Some(role.code().into())),
        )
        .await?;
        // Separation of duties: nobody changes the permissions of a role they hold.
        if let Some(p) = ctx.principal()
            && p.roles.contains(&role)
        {
            return Err(self
                .deny(
                    ctx,
                    Event::new("role.update", "role", Some(role.code().into()))
                        .detail("a role the actor holds"),
                    AppError::forbidden(msg!("account.not_own_role_permissions", role = role)),
                )
                .await);
        }
        let before: Vec<Permission> = self
            .store()
            .role_permissions()
            .await?
            .into_iter()
            .filter(|(r, _)| *r == role)
            .map(|(_, p)| p)
            .collect();
        let mut added: Vec<Permission> = perms
            .iter()
            .filter(|p| p.is_patient_data() && !before.contains(p))
            .copied()
            .collect();
        added.sort_by_key(|p| p.code());
        added.dedup();
        let mut tx = self.store().begin().await?;
        tx.set_role_permissions(role, perms).await?;
        let codes: Vec<&str> = perms.iter().map(|p| p.code()).collect();
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("role.update", "role", Some(role.code().into())).detail(codes.join(",")),
            Outcome::Allowed,
        )
        .await?;
        if !added.is_empty() {
            let codes: Vec<&str> = added.iter().map(|p| p.code()).collect();
            self.audit_in(
                &mut tx,
                ctx,
                Event::new(GRANT_PATIENT_PERMISSION, "role", Some(role.code().into())).detail(
                    format!("role={} permissions={}", role.code(), codes.join(",")),
                ),
                Outcome::Allowed,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------ API tokens

    pub async fn list_tokens(&self, ctx: &Ctx) -> Result<Vec<ApiToken>> {
        self.require(
            ctx,
            Permission::TokenManage,
            Event::new("token.list", "token", None),
        )
        .await?;
        let scope = self.managed(ctx);
        Ok(self.store().list_tokens(scope.as_deref()).await?)
    }

    /// Creates a token for an integration, scoped to an institution and to permissions the
    /// creator holds, or those of the integration set ([`INTEGRATION_PERMISSIONS`]), which a
    /// holder of `token.manage` may give without holding them. `integration` in the list
    /// stands for that set. Tokens expire: after `valid_days` (1 to
    /// [`TOKEN_MAX_DAYS`]), [`TOKEN_DEFAULT_DAYS`] when not given. The secret is returned
    /// once.
    pub async fn create_token(
        &self,
        ctx: &Ctx,
        name: &str,
        institution_id: Uuid,
        permissions: &[String],
        valid_days: Option<i64>,
    ) -> Result<CreatedToken> {
        let mut errs = ValidationErrors::default();
        let name = errs.check(ident::text("name", name, 100));
        let mut perms = Vec::new();
        for (i, p) in permissions.iter().enumerate() {
            let parsed = if p.trim() == INTEGRATION {
                INTEGRATION_PERMISSIONS.to_vec()
            } else {
                errs.check(Permission::parse(&format!("permissions[{i}]"), p))
                    .into_iter()
                    .collect()
            };
            for p in parsed {
                if !perms.contains(&p) {
                    perms.push(p);
                }
            }
        }
        if permissions.is_empty() {
            errs.push(ValidationError::new("permissions", Reason::Required));
        }
        if let Some(a) = perms.iter().find(|p| p.is_administration()) {
            errs.push(ValidationError::new(
                "permissions",
                Reason::Other(msg!("account.administration_not_for_tokens", a = a)),
            ));
        }
        let valid_days = valid_days.unwrap_or(TOKEN_DEFAULT_DAYS);
        if !(1..=TOKEN_MAX_DAYS).contains(&valid_days) {
            errs.push(ValidationError::new(
                "valid_days",
                Reason::Range {
                    min: 1,
                    max: TOKEN_MAX_DAYS,
                },
            ));
        }
        errs.into_result()?;
        let name = name.unwrap_or_default();
        self.require_for(
            ctx,
            Permission::TokenManage,
            Permission::AccountManageAll,
            Some(institution_id),
            Event::new("token.create", "token", Some(name.clone())),
        )
        .await?;
        self.require_person(ctx, Event::new("token.create", "token", Some(name.clone())))
            .await?;
        if let Some(p) = ctx.principal() {
            if !p.can(Permission::TokenManage) {
                return Err(AppError::forbidden(msg!(
                    "account.allowed_manage_api_tokens"
                )));
            }
            // The integration set may be given without holding it, by those who configure what
            // roles and tokens may do (system administrators), not by institution or community
            // administrators, who would otherwise read patient data through their own token.
            let configures = p.can(Permission::RoleManage);
            if let Some(extra) = perms
                .iter()
                .find(|x| !(p.can(**x) || x.is_integration() && configures))
            {
                let e = Event::new("token.create", "token", Some(name.clone()))
                    .detail(format!("permission not held: {}", extra.code()));
                if let Err(audit_err) = self.audit(ctx, e, Outcome::Denied).await {
                    tracing::error!(error = %audit_err, "could not audit a denial");
                }
                return Err(AppError::forbidden(msg!(
                    "account.cannot_grant_unheld",
                    extra = extra
                )));
            }
        }
        let secret = format!("ygt_{}", random_token(32)?);
        let prefix: String = secret.chars().take(12).collect();
        let id = new_id();
        let now = self.now();
        let mut tx = self.store().begin().await?;
        if tx.institution_tier(institution_id).await?.is_none() {
            return Err(AppError::invalid("institution_id", Reason::NotFound));
        }
        tx.insert_token(
            id,
            &name,
            &prefix,
            &secret_hash(&secret),
            institution_id,
            &perms,
            ctx.principal().and_then(|p| p.user_id),
            Some(now + time::Duration::days(valid_days)),
            now,
        )
        .await?;
        let codes: Vec<&str> = perms.iter().map(|p| p.code()).collect();
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("token.create", "token", Some(id.to_string())).detail(format!(
                "name={name} permissions={} valid_days={valid_days}",
                codes.join(",")
            )),
            Outcome::Allowed,
        )
        .await?;
        let patient: Vec<&str> = perms
            .iter()
            .filter(|p| p.is_patient_data())
            .map(|p| p.code())
            .collect();
        if !patient.is_empty() {
            self.audit_in(
                &mut tx,
                ctx,
                Event::new(GRANT_TOKEN_PERMISSION, "token", Some(id.to_string())).detail(
                    // The name last: it may hold spaces.
                    format!(
                        "institution={institution_id} permissions={} name={name}",
                        patient.join(",")
                    ),
                ),
                Outcome::Allowed,
            )
            .await?;
        }
        tx.commit().await?;
        let token = self
            .store()
            .token(id)
            .await?
            .ok_or(AppError::NotFound("token"))?;
        Ok(CreatedToken { token, secret })
    }

    pub async fn revoke_token(&self, ctx: &Ctx, id: Uuid) -> Result<ApiToken> {
        let t = self
            .store()
            .token(id)
            .await?
            .ok_or(AppError::NotFound("token"))?;
        self.require_for(
            ctx,
            Permission::TokenManage,
            Permission::AccountManageAll,
            Some(t.institution_id),
            Event::new("token.revoke", "token", Some(id.to_string())),
        )
        .await?;
        let mut tx = self.store().begin().await?;
        tx.revoke_token(id, self.now()).await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("token.revoke", "token", Some(id.to_string())),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        self.store()
            .token(id)
            .await?
            .ok_or(AppError::NotFound("token"))
    }

    /// Whether a session is still valid (not revoked, not expired, not idle, its account
    /// active), without counting the question as activity: long-lived connections (the live
    /// event stream) ask this to end when their session ends.
    pub async fn session_alive(&self, token: &str) -> Result<bool> {
        let Some(s) = self.store().session(&secret_hash(token)).await? else {
            return Ok(false);
        };
        let now = self.now();
        if s.revoked_at.is_some()
            || s.expires_at <= now
            || now - s.last_seen_at > self.settings().idle_timeout
        {
            return Ok(false);
        }
        Ok(self
            .store()
            .user(s.user_id)
            .await?
            .is_some_and(|u| u.active))
    }
}
