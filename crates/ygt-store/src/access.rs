//! Storage of accounts, sessions, API tokens, care links, break-glass grants and the audit log.

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::access::{Ground, Permission, Role, default_permissions};
use ygt_domain::audit::{AuditRecord, HashAlg, Outcome};

use crate::{Result, Sql, Store, StoreError, Tx};

// ---------------------------------------------------------------- users

/// A stored account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub kind: String,
    pub staff_id: Option<Uuid>,
    pub institution_id: Option<Uuid>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub last_sign_in_at: Option<OffsetDateTime>,
}

const USER_COLUMNS: &str = "SELECT id, username, display_name, kind, staff_id, institution_id, \
    password_hash, must_change_password, active, version, created_at, last_sign_in_at FROM users";

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub display_name: &'a str,
    pub kind: &'a str,
    pub staff_id: Option<Uuid>,
    pub institution_id: Option<Uuid>,
    pub password_hash: &'a str,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only accounts of these institutions (None: all).
    pub institutions: Option<Vec<Uuid>>,
    pub q: Option<String>,
    pub include_inactive: bool,
    pub limit: Option<i64>,
}

fn parse_roles(rows: Vec<(String,)>) -> Vec<Role> {
    rows.into_iter()
        .filter_map(|(r,)| Role::parse("role", &r).ok())
        .collect()
}

impl Store {
    pub async fn user(&self, id: Uuid) -> Result<Option<User>> {
        self.fetch_optional(Sql::new(&format!("{USER_COLUMNS} WHERE id = ?")).arg(id))
            .await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.fetch_optional(Sql::new(&format!("{USER_COLUMNS} WHERE username = ?")).arg(username))
            .await
    }

    pub async fn list_users(&self, f: &UserFilter) -> Result<Vec<User>> {
        let mut q = Sql::new(USER_COLUMNS);
        q.push(" WHERE 1 = 1");
        if !f.include_inactive {
            q.push(" AND active = TRUE");
        }
        if let Some(ids) = &f.institutions {
            q.push(" AND institution_id IN ")
                .bind_list(ids.iter().copied());
        }
        if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pat = crate::org::like_pattern(text);
            q.push(" AND (LOWER(username) LIKE ")
                .bind(pat.clone())
                .push(" ESCAPE '\\' OR LOWER(display_name) LIKE ")
                .bind(pat)
                .push(" ESCAPE '\\')");
        }
        q.push(" ORDER BY username");
        if let Some(l) = f.limit {
            q.push(" LIMIT ").bind(l);
        }
        self.fetch_all(q).await
    }

    pub async fn roles_of(&self, user_id: Uuid) -> Result<Vec<Role>> {
        let rows = self
            .fetch_all(
                Sql::new("SELECT role FROM user_roles WHERE user_id = ? ORDER BY role")
                    .arg(user_id),
            )
            .await?;
        Ok(parse_roles(rows))
    }

    /// The configured role → permission table.
    pub async fn role_permissions(&self) -> Result<Vec<(Role, Permission)>> {
        let rows: Vec<(String, String)> = self
            .fetch_all(Sql::new(
                "SELECT role, permission FROM role_permissions ORDER BY role, permission",
            ))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(r, p)| {
                Some((
                    Role::parse("role", &r).ok()?,
                    Permission::parse("permission", &p).ok()?,
                ))
            })
            .collect())
    }

    /// The permissions of a set of roles.
    pub async fn permissions_of(&self, roles: &[Role]) -> Result<Vec<Permission>> {
        let mut q = Sql::new("SELECT DISTINCT permission FROM role_permissions WHERE role IN ");
        q.bind_list(roles.iter().map(|r| r.code()));
        let rows: Vec<(String,)> = self.fetch_all(q).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(p,)| Permission::parse("permission", &p).ok())
            .collect())
    }

    /// Fills the role → permission table from the domain defaults when it is empty.
    pub(crate) async fn seed_role_permissions(&self) -> Result<()> {
        let (n,): (i64,) = self
            .fetch_one(Sql::new("SELECT COUNT(*) FROM role_permissions"))
            .await?;
        if n > 0 {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for role in Role::ALL {
            for p in default_permissions(*role) {
                tx.execute(
                    Sql::new("INSERT INTO role_permissions (role, permission) VALUES (?, ?)")
                        .arg(role.code())
                        .arg(p.code()),
                )
                .await?;
            }
        }
        tx.commit().await
    }
}

impl Tx {
    pub async fn insert_user(&mut self, u: &NewUser<'_>, now: OffsetDateTime) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO users (id, username, display_name, kind, staff_id, institution_id, \
                 password_hash, must_change_password, active, version, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, 1, ?, ?)",
            )
            .arg(u.id)
            .arg(u.username)
            .arg(u.display_name)
            .arg(u.kind)
            .arg(u.staff_id)
            .arg(u.institution_id)
            .arg(u.password_hash)
            .arg(u.must_change_password)
            .arg(now)
            .arg(now),
        )
        .await?;
        Ok(())
    }

    pub async fn set_roles(&mut self, user_id: Uuid, roles: &[Role]) -> Result<()> {
        self.principals_changed().await?;
        self.execute(Sql::new("DELETE FROM user_roles WHERE user_id = ?").arg(user_id))
            .await?;
        for r in roles {
            self.execute(
                Sql::new("INSERT INTO user_roles (user_id, role) VALUES (?, ?)")
                    .arg(user_id)
                    .arg(r.code()),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn update_user_profile(
        &mut self,
        id: Uuid,
        display_name: &str,
        institution_id: Option<Uuid>,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.principals_changed().await?;
        let n = self
            .execute(
                Sql::new(
                    "UPDATE users SET display_name = ?, institution_id = ?, active = ?, \
                     version = version + 1, updated_at = ? WHERE id = ?",
                )
                .arg(display_name)
                .arg(institution_id)
                .arg(active)
                .arg(now)
                .arg(id),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn set_password(
        &mut self,
        id: Uuid,
        hash: &str,
        must_change: bool,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.principals_changed().await?;
        let n = self
            .execute(
                Sql::new(
                    "UPDATE users SET password_hash = ?, must_change_password = ?, \
                     version = version + 1, updated_at = ? WHERE id = ?",
                )
                .arg(hash)
                .arg(must_change)
                .arg(now)
                .arg(id),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn record_sign_in(&mut self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        self.execute(
            Sql::new("UPDATE users SET last_sign_in_at = ? WHERE id = ?")
                .arg(now)
                .arg(id),
        )
        .await?;
        Ok(())
    }

    pub async fn set_role_permissions(&mut self, role: Role, perms: &[Permission]) -> Result<()> {
        self.principals_changed().await?;
        self.execute(Sql::new("DELETE FROM role_permissions WHERE role = ?").arg(role.code()))
            .await?;
        for p in perms {
            self.execute(
                Sql::new("INSERT INTO role_permissions (role, permission) VALUES (?, ?)")
                    .arg(role.code())
                    .arg(p.code()),
            )
            .await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- sign-in throttle

/// The failures in a row under one throttle key (`account:…`, `address:…`, `device:…`) and
/// the time before which no attempt under it is taken.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThrottleRow {
    pub key: String,
    pub failures: i64,
    pub last_failure_at: OffsetDateTime,
    pub blocked_until: Option<OffsetDateTime>,
}

impl Store {
    /// The throttle rows of these keys (keys without failures have none).
    pub async fn throttle_rows(&self, keys: &[String]) -> Result<Vec<ThrottleRow>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT key, failures, last_failure_at, blocked_until FROM sign_in_throttle WHERE key IN ",
        );
        q.bind_list(keys.iter().map(String::as_str));
        self.fetch_all(q).await
    }

    /// A secret the platform made for itself (such as the key of device cookies).
    pub async fn platform_secret(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = self
            .fetch_optional(
                Sql::new("SELECT secret FROM platform_secrets WHERE name = ?").arg(name),
            )
            .await?;
        Ok(row.map(|(s,)| s))
    }
}

impl Tx {
    /// Takes the one attempt a throttled key allows once its wait is over: moves
    /// `blocked_until` from `seen` (as read, and not after `now`) to `hold`. False when another
    /// attempt took it first, so concurrent attempts cannot all pass.
    pub async fn claim_sign_in_attempt(
        &mut self,
        key: &str,
        seen: OffsetDateTime,
        now: OffsetDateTime,
        hold: OffsetDateTime,
    ) -> Result<bool> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE sign_in_throttle SET blocked_until = ? \
                     WHERE key = ? AND blocked_until = ? AND blocked_until <= ?",
                )
                .arg(hold)
                .arg(key)
                .arg(seen)
                .arg(now),
            )
            .await?;
        Ok(n > 0)
    }

    /// Counts a failure under `key` at `now` (a run older than `window` starts again at one)
    /// and returns the failures in a row.
    pub async fn add_sign_in_failure(
        &mut self,
        key: &str,
        now: OffsetDateTime,
        window_start: OffsetDateTime,
    ) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(
                Sql::new(
                    "INSERT INTO sign_in_throttle (key, failures, last_failure_at, blocked_until) \
                     VALUES (?, 1, ?, NULL) ON CONFLICT (key) DO UPDATE SET \
                     failures = CASE WHEN sign_in_throttle.last_failure_at < ? THEN 1 \
                     ELSE sign_in_throttle.failures + 1 END, \
                     last_failure_at = excluded.last_failure_at RETURNING failures",
                )
                .arg(key)
                .arg(now)
                .arg(window_start),
            )
            .await?;
        Ok(n)
    }

    /// Sets the time before which no attempt under `key` is taken (None: at once).
    pub async fn set_sign_in_block(
        &mut self,
        key: &str,
        until: Option<OffsetDateTime>,
    ) -> Result<()> {
        self.execute(
            Sql::new("UPDATE sign_in_throttle SET blocked_until = ? WHERE key = ?")
                .arg(until)
                .arg(key),
        )
        .await?;
        Ok(())
    }

    /// Forgets the failures under `key` (after a success, or a password reset).
    pub async fn clear_sign_in_failures(&mut self, key: &str) -> Result<()> {
        self.execute(Sql::new("DELETE FROM sign_in_throttle WHERE key = ?").arg(key))
            .await?;
        Ok(())
    }

    /// Forgets runs of failures that ended before `before` and wait for nothing.
    pub async fn prune_sign_in_throttle(&mut self, before: OffsetDateTime) -> Result<u64> {
        self.execute(
            Sql::new(
                "DELETE FROM sign_in_throttle WHERE last_failure_at < ? \
                 AND (blocked_until IS NULL OR blocked_until < ?)",
            )
            .arg(before)
            .arg(before),
        )
        .await
    }

    /// Stores a platform secret unless one of that name exists; the stored one wins.
    pub async fn insert_platform_secret(
        &mut self,
        name: &str,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO platform_secrets (name, secret, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .arg(name)
            .arg(secret)
            .arg(now),
        )
        .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------- sessions

/// A session with what the request needs of its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl Store {
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        self.fetch_optional(
            Sql::new(
                "SELECT id, user_id, csrf_token, created_at, last_seen_at, expires_at, revoked_at \
                 FROM sessions WHERE token_hash = ?",
            )
            .arg(token_hash),
        )
        .await
    }

    /// Sessions of a user that are neither revoked nor expired.
    pub async fn live_sessions(&self, user_id: Uuid, now: OffsetDateTime) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(
                Sql::new(
                    "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
                )
                .arg(user_id)
                .arg(now),
            )
            .await?;
        Ok(n)
    }
}

impl Tx {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_session(
        &mut self,
        token_hash: &str,
        id: Uuid,
        user_id: Uuid,
        csrf: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        client_addr: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO sessions (token_hash, id, user_id, csrf_token, created_at, last_seen_at, \
                 expires_at, client_addr, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(token_hash)
            .arg(id)
            .arg(user_id)
            .arg(csrf)
            .arg(now)
            .arg(now)
            .arg(expires_at)
            .arg(client_addr)
            .arg(user_agent),
        )
        .await?;
        Ok(())
    }

    pub async fn touch_session(&mut self, token_hash: &str, now: OffsetDateTime) -> Result<()> {
        self.execute(
            Sql::new("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?")
                .arg(now)
                .arg(token_hash),
        )
        .await?;
        Ok(())
    }

    pub async fn revoke_session(&mut self, token_hash: &str, now: OffsetDateTime) -> Result<()> {
        self.principals_changed().await?;
        self.execute(
            Sql::new(
                "UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            )
            .arg(now)
            .arg(token_hash),
        )
        .await?;
        Ok(())
    }

    /// Ends every session of a user but one (after a password change). Returns how many ended.
    pub async fn revoke_other_sessions(
        &mut self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<u64> {
        self.principals_changed().await?;
        let mut q = Sql::new("UPDATE sessions SET revoked_at = ");
        q.bind(now)
            .push(" WHERE user_id = ")
            .bind(user_id)
            .push(" AND revoked_at IS NULL");
        if let Some(k) = keep {
            q.push(" AND id <> ").bind(k);
        }
        self.execute(q).await
    }

    /// Signs a user out everywhere. Returns how many sessions ended.
    pub async fn revoke_user_sessions(
        &mut self,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<u64> {
        self.principals_changed().await?;
        self.execute(
            Sql::new("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
                .arg(now)
                .arg(user_id),
        )
        .await
    }
}

// ---------------------------------------------------------------- API tokens

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub institution_id: Uuid,
    pub permissions: String,
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiToken {
    pub fn permission_list(&self) -> Vec<Permission> {
        self.permissions
            .split_whitespace()
            .filter_map(|p| Permission::parse("permission", p).ok())
            .collect()
    }
}

const TOKEN_COLUMNS: &str = "SELECT id, name, prefix, institution_id, permissions, created_by, \
    created_at, expires_at, last_used_at, revoked_at FROM api_tokens";

impl Store {
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        self.fetch_optional(Sql::new(&format!("{TOKEN_COLUMNS} WHERE token_hash = ?")).arg(hash))
            .await
    }

    pub async fn token(&self, id: Uuid) -> Result<Option<ApiToken>> {
        self.fetch_optional(Sql::new(&format!("{TOKEN_COLUMNS} WHERE id = ?")).arg(id))
            .await
    }

    pub async fn list_tokens(&self, institutions: Option<&[Uuid]>) -> Result<Vec<ApiToken>> {
        let mut q = Sql::new(TOKEN_COLUMNS);
        if let Some(ids) = institutions {
            q.push(" WHERE institution_id IN ")
                .bind_list(ids.iter().copied());
        }
        q.push(" ORDER BY created_at DESC");
        self.fetch_all(q).await
    }
}

impl Tx {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_token(
        &mut self,
        id: Uuid,
        name: &str,
        prefix: &str,
        hash: &str,
        institution_id: Uuid,
        permissions: &[Permission],
        created_by: Option<Uuid>,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let perms: Vec<&str> = permissions.iter().map(|p| p.code()).collect();
        self.execute(
            Sql::new(
                "INSERT INTO api_tokens (id, name, prefix, token_hash, institution_id, permissions, \
                 created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(id)
            .arg(name)
            .arg(prefix)
            .arg(hash)
            .arg(institution_id)
            .arg(perms.join(" "))
            .arg(created_by)
            .arg(now)
            .arg(expires_at),
        )
        .await?;
        Ok(())
    }

    pub async fn revoke_token(&mut self, id: Uuid, now: OffsetDateTime) -> Result<bool> {
        self.principals_changed().await?;
        let n = self
            .execute(
                Sql::new(
                    "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                )
                .arg(now)
                .arg(id),
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn touch_token(&mut self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        self.execute(
            Sql::new("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
                .arg(now)
                .arg(id),
        )
        .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------- care links and break-glass

/// One reason a resident is in someone's scope.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CareLink {
    pub id: Uuid,
    pub resident_id: Uuid,
    pub institution_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub kind: String,
    pub source_id: Option<String>,
    pub valid_from: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BreakGlass {
    pub id: Uuid,
    pub user_id: Uuid,
    pub institution_id: Option<Uuid>,
    pub resident_id: Uuid,
    pub reason: String,
    pub started_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<OffsetDateTime>,
    pub review_note: Option<String>,
    pub review_outcome: Option<String>,
}

const BREAK_GLASS_COLUMNS: &str = "SELECT id, user_id, institution_id, resident_id, reason, \
    started_at, expires_at, reviewed_by, reviewed_at, review_note, review_outcome FROM break_glass";

impl Store {
    /// The links of a resident valid at `now`.
    pub async fn care_links(
        &self,
        resident_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<CareLink>> {
        self.fetch_all(
            Sql::new(
                "SELECT id, resident_id, institution_id, user_id, kind, source_id, valid_from, valid_until \
                 FROM care_links WHERE resident_id = ? AND valid_from <= ? \
                 AND (valid_until IS NULL OR valid_until > ?)",
            )
            .arg(resident_id)
            .arg(now)
            .arg(now),
        )
        .await
    }

    /// A break-glass grant of this user for this resident still running at `now`.
    pub async fn active_break_glass(
        &self,
        user_id: Uuid,
        resident_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<BreakGlass>> {
        self.fetch_optional(
            Sql::new(&format!(
                "{BREAK_GLASS_COLUMNS} WHERE user_id = ? AND resident_id = ? AND expires_at > ? \
                 ORDER BY started_at DESC LIMIT 1"
            ))
            .arg(user_id)
            .arg(resident_id)
            .arg(now),
        )
        .await
    }

    pub async fn break_glass(&self, id: Uuid) -> Result<Option<BreakGlass>> {
        self.fetch_optional(Sql::new(&format!("{BREAK_GLASS_COLUMNS} WHERE id = ?")).arg(id))
            .await
    }

    /// Break-glass grants, the unreviewed first.
    pub async fn list_break_glass(
        &self,
        only_unreviewed: bool,
        limit: i64,
    ) -> Result<Vec<BreakGlass>> {
        let mut q = Sql::new(BREAK_GLASS_COLUMNS);
        if only_unreviewed {
            q.push(" WHERE reviewed_at IS NULL");
        }
        q.push(" ORDER BY started_at DESC LIMIT ").bind(limit);
        self.fetch_all(q).await
    }
}

impl Tx {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_care_link(
        &mut self,
        id: Uuid,
        resident_id: Uuid,
        institution_id: Option<Uuid>,
        user_id: Option<Uuid>,
        kind: Ground,
        source_id: Option<&str>,
        valid_from: OffsetDateTime,
        valid_until: Option<OffsetDateTime>,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO care_links (id, resident_id, institution_id, user_id, kind, source_id, \
                 valid_from, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(id)
            .arg(resident_id)
            .arg(institution_id)
            .arg(user_id)
            .arg(kind.code())
            .arg(source_id)
            .arg(valid_from)
            .arg(valid_until),
        )
        .await?;
        Ok(())
    }

    /// The current links a person's registrations give (registered or unverified), each naming
    /// its registration in `source_id`.
    pub async fn registration_links(
        &mut self,
        person: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<CareLink>> {
        self.fetch_all(
            Sql::new(
                "SELECT id, resident_id, institution_id, user_id, kind, source_id, valid_from, valid_until \
                 FROM care_links WHERE resident_id = ? AND kind IN (?, ?) \
                 AND (valid_until IS NULL OR valid_until > ?)",
            )
            .arg(person)
            .arg(Ground::Registered.code())
            .arg(Ground::Unverified.code())
            .arg(now),
        )
        .await
    }

    /// Ends one link.
    pub async fn end_care_link(&mut self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        self.execute(
            Sql::new("UPDATE care_links SET valid_until = ? WHERE id = ?")
                .arg(now)
                .arg(id),
        )
        .await?;
        Ok(())
    }

    /// Moves the current links of person `from` that do not come from registrations (a
    /// referral, an arrival, a contract) to person `to`, with the referrals, contracts and
    /// other episodes they belong to (a merge). Registration links are recomputed instead.
    pub async fn move_episode_links(
        &mut self,
        from: Uuid,
        to: Uuid,
        now: OffsetDateTime,
    ) -> Result<u64> {
        self.execute(
            Sql::new(
                "UPDATE care_links SET resident_id = ? WHERE resident_id = ? AND kind NOT IN (?, ?) \
                 AND (valid_until IS NULL OR valid_until > ?)",
            )
            .arg(to)
            .arg(from)
            .arg(Ground::Registered.code())
            .arg(Ground::Unverified.code())
            .arg(now),
        )
        .await
    }

    /// Gives an institution a link of `ground` from `source` unless it holds a current one of
    /// that ground (a referred patient arrived: `care`). Whether one was added.
    pub async fn ensure_care_link(
        &mut self,
        person: Uuid,
        institution: Uuid,
        ground: Ground,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self
            .execute(
                Sql::new(
                    "INSERT INTO care_links (id, resident_id, institution_id, user_id, kind, source_id, \
                     valid_from, valid_until) SELECT ?, ?, ?, NULL, ?, ?, ?, NULL WHERE NOT EXISTS \
                     (SELECT 1 FROM care_links WHERE resident_id = ? AND institution_id = ? AND kind = ? \
                     AND valid_until IS NULL)",
                )
                .arg(Uuid::now_v7())
                .arg(person)
                .arg(institution)
                .arg(ground.code())
                .arg(source)
                .arg(now)
                .arg(person)
                .arg(institution)
                .arg(ground.code()),
            )
            .await?;
        Ok(n > 0)
    }

    /// Ends the links that came from one source (a referral closed, a contract ended).
    pub async fn end_care_links(
        &mut self,
        kind: Ground,
        source_id: &str,
        now: OffsetDateTime,
    ) -> Result<u64> {
        self.execute(
            Sql::new(
                "UPDATE care_links SET valid_until = ? WHERE kind = ? AND source_id = ? \
                 AND (valid_until IS NULL OR valid_until > ?)",
            )
            .arg(now)
            .arg(kind.code())
            .arg(source_id)
            .arg(now),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_break_glass(
        &mut self,
        id: Uuid,
        user_id: Uuid,
        institution_id: Option<Uuid>,
        resident_id: Uuid,
        reason: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO break_glass (id, user_id, institution_id, resident_id, reason, started_at, \
                 expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(id)
            .arg(user_id)
            .arg(institution_id)
            .arg(resident_id)
            .arg(reason)
            .arg(now)
            .arg(expires_at),
        )
        .await?;
        Ok(())
    }

    pub async fn review_break_glass(
        &mut self,
        id: Uuid,
        reviewer: Uuid,
        outcome: &str,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE break_glass SET reviewed_by = ?, reviewed_at = ?, review_outcome = ?, \
                     review_note = ? WHERE id = ? AND reviewed_at IS NULL",
                )
                .arg(reviewer)
                .arg(now)
                .arg(outcome)
                .arg(note)
                .arg(id),
            )
            .await?;
        Ok(n > 0)
    }
}

// ---------------------------------------------------------------- audit log

/// An event to append; the store numbers, chains and seals it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor_user_id: Option<Uuid>,
    pub actor_name: String,
    pub actor_institution_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub resident_id: Option<Uuid>,
    pub purpose: Option<String>,
    pub outcome: Outcome,
    pub client_addr: Option<String>,
    pub request_id: String,
    pub detail: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub(crate) seq: i64,
    pub(crate) id: Uuid,
    pub(crate) at: OffsetDateTime,
    pub(crate) actor_user_id: Option<Uuid>,
    pub(crate) actor_name: String,
    pub(crate) actor_institution_id: Option<Uuid>,
    pub(crate) action: String,
    pub(crate) resource_type: String,
    pub(crate) resource_id: Option<String>,
    pub(crate) resident_id: Option<Uuid>,
    pub(crate) purpose: Option<String>,
    pub(crate) outcome: String,
    pub(crate) client_addr: Option<String>,
    pub(crate) request_id: String,
    pub(crate) detail: Option<String>,
    pub(crate) alg: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self> {
        Ok(AuditRecord {
            outcome: Outcome::parse("outcome", &r.outcome).map_err(|_| {
                StoreError::Corrupt(format!("audit_events.outcome at seq {}", r.seq))
            })?,
            alg: HashAlg::parse("alg", &r.alg)
                .map_err(|_| StoreError::Corrupt(format!("audit_events.alg at seq {}", r.seq)))?,
            seq: r.seq,
            id: r.id,
            at: r.at,
            actor_user_id: r.actor_user_id,
            actor_name: r.actor_name,
            actor_institution_id: r.actor_institution_id,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            resident_id: r.resident_id,
            purpose: r.purpose,
            client_addr: r.client_addr,
            request_id: r.request_id,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
    }
}

pub(crate) const AUDIT_COLUMNS: &str = "SELECT seq, id, at, actor_user_id, actor_name, actor_institution_id, \
    action, resource_type, resource_id, resident_id, purpose, outcome, client_addr, request_id, \
    detail, alg, prev_hash, hash FROM audit_events";

/// Search over the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub resident_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub institution_id: Option<Uuid>,
    /// Any of these residents (empty: any), as a name an auditor typed resolves to.
    pub resident_ids: Vec<Uuid>,
    /// Any of these actors (empty: any).
    pub actor_user_ids: Vec<Uuid>,
    /// Any of these actors' institutions (empty: any).
    pub institution_ids: Vec<Uuid>,
    /// Prefix of the action, such as `auth.` or `registry.institution`.
    pub action: Option<String>,
    /// Exactly one of these actions (empty: any).
    pub actions: Vec<String>,
    pub outcome: Option<Outcome>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// The head of the chain: (last seq, last hash).
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        self.fetch_optional(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1"))
            .await
    }
}

/// The WHERE clause of a search (the same columns in the chain and the inbox).
pub(crate) fn audit_where(f: &AuditFilter) -> Sql {
    let mut w = Sql::new(" WHERE 1 = 1");
    if let Some(r) = f.resident_id {
        w.push(" AND resident_id = ").bind(r);
    }
    if let Some(u) = f.actor_user_id {
        w.push(" AND actor_user_id = ").bind(u);
    }
    if let Some(i) = f.institution_id {
        w.push(" AND actor_institution_id = ").bind(i);
    }
    for (col, ids) in [
        ("resident_id", &f.resident_ids),
        ("actor_user_id", &f.actor_user_ids),
        ("actor_institution_id", &f.institution_ids),
    ] {
        if !ids.is_empty() {
            w.push(&format!(" AND {col} IN "))
                .bind_list(ids.iter().copied());
        }
    }
    if let Some(a) = f.action.as_deref().filter(|a| !a.is_empty()) {
        let mut pat = String::new();
        for c in a.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pat.push('\\');
            }
            pat.push(c);
        }
        pat.push('%');
        w.push(" AND action LIKE ").bind(pat).push(" ESCAPE '\\'");
    }
    if !f.actions.is_empty() {
        w.push(" AND action IN ")
            .bind_list(f.actions.iter().map(String::as_str));
    }
    if let Some(o) = f.outcome {
        w.push(" AND outcome = ").bind(o.code());
    }
    if let Some(t) = f.from {
        w.push(" AND at >= ").bind(t);
    }
    if let Some(t) = f.to {
        w.push(" AND at < ").bind(t);
    }
    w
}

/// The names an audit page shows instead of ids.
#[derive(Debug, Clone, Default)]
pub struct AuditNames {
    /// Accounts: display name.
    pub users: HashMap<Uuid, String>,
    pub institutions: HashMap<Uuid, String>,
    /// Residents: the golden record's name.
    pub persons: HashMap<Uuid, String>,
}

impl Store {
    /// The display names of these accounts, institutions and residents (ids unknown are
    /// left out).
    pub async fn audit_names(
        &self,
        users: &[Uuid],
        institutions: &[Uuid],
        persons: &[Uuid],
    ) -> Result<AuditNames> {
        Ok(AuditNames {
            users: self.names_of("users", "display_name", users).await?,
            institutions: self.names_of("institutions", "name", institutions).await?,
            persons: self.names_of("persons", "name", persons).await?,
        })
    }

    /// These persons and every person merged into one of them (directly or through a chain
    /// of merges): whose events are a person's too.
    pub async fn with_merged(&self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let mut all: Vec<Uuid> = ids.to_vec();
        let mut frontier: Vec<Uuid> = ids.to_vec();
        while !frontier.is_empty() {
            let mut q = Sql::new("SELECT id FROM persons WHERE merged_into IN ");
            q.bind_list(frontier.iter().copied());
            let rows: Vec<(Uuid,)> = self.fetch_all(q).await?;
            frontier = rows
                .into_iter()
                .map(|(id,)| id)
                .filter(|id| !all.contains(id))
                .collect();
            all.extend(&frontier);
        }
        Ok(all)
    }

    async fn names_of(
        &self,
        table: &str,
        column: &str,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut q = Sql::new(&format!("SELECT id, {column} FROM {table} WHERE id IN "));
        q.bind_list(ids.iter().copied());
        let rows: Vec<(Uuid, String)> = self.fetch_all(q).await?;
        Ok(rows.into_iter().collect())
    }
}

impl Tx {
    /// Appends several events to the chain in order, in three statements whatever their
    /// number: the head advanced by n, the rows, the new head hash.
    pub async fn append_audits(
        &mut self,
        entries: &[AuditEntry],
        alg: HashAlg,
        now: OffsetDateTime,
    ) -> Result<()> {
        let records = entries
            .iter()
            .map(|e| crate::audit::pending_record(e, alg, now))
            .collect();
        self.chain_records(records).await
    }

    /// Appends one event to the chain inside this transaction. Taking the head row first (an
    /// UPDATE) serialises appends: the chain order is the commit order on both backends.
    pub async fn append_audit(
        &mut self,
        e: &AuditEntry,
        alg: HashAlg,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.append_audits(std::slice::from_ref(e), alg, now).await
    }
}
