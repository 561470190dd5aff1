//! Sign-in with growing delays instead of lock-outs, and device cookies (OWASP's scheme).
//!
//! Failures are counted per key ([`ygt_domain::signin::Throttle`]): an attempt that carries a
//! valid device cookie of the account (a browser that signed in to it before) counts only
//! under that cookie (`device:<nonce>`), so others' failures never slow it down; any other
//! attempt counts under the account (`account:<user name>`) and the client address
//! (`address:<ip>`). An attempt under a key that waits is refused with
//! [`AppError::Throttled`] without looking at the password; once the wait is over, the first
//! attempt is judged as usual (taken atomically, so that concurrent attempts cannot all pass),
//! and the right password gets in. Unknown user names are answered like known ones.
//!
//! A device cookie entry is `<user id>.<issued, unix seconds>.<nonce>.<HMAC-SHA256>`, signed
//! with the platform's key (made once and kept in `platform_secrets`); a browser keeps the
//! entries of its last [`DEVICE_ENTRIES_MAX`] accounts, joined by `~` (a clinic's shared PC).

use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_domain::audit::Outcome;
use ygt_domain::msg;
use ygt_domain::signin::{Throttle, wait_seconds};

use crate::access::{Event, Via};
use crate::account::{SignedIn, random_token, secret_hash, verify_password};
use crate::{Actor, App, AppError, Ctx, Result, new_id};

/// The name of the device cookie key in `platform_secrets`.
const DEVICE_KEY: &str = "device_cookie_key";
/// How many accounts' device cookies a browser keeps.
pub const DEVICE_ENTRIES_MAX: usize = 5;
/// What separates the entries of a browser's device cookie.
const ENTRY_SEPARATOR: char = '~';
/// What the signature covers before the entry's fields (a new format gets a new tag).
const SIGNATURE_TAG: &str = "ygt-device-v1";

/// The throttle key of an account (attempts without its device cookie).
pub fn account_key(username: &str) -> String {
    format!("account:{}", username.trim().to_lowercase())
}

fn address_key(addr: &str) -> String {
    format!("address:{addr}")
}

fn device_key(nonce: &str) -> String {
    format!("device:{nonce}")
}

/// What an attempt is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Account,
    Address,
    Device,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::Account => "account",
            KeyKind::Address => "address",
            KeyKind::Device => "device",
        }
    }
}

struct Key {
    key: String,
    kind: KeyKind,
    throttle: Throttle,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn mac(key: &[u8], user: Uuid, issued: i64, nonce: &str) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    m.update(format!("{SIGNATURE_TAG}|{}|{issued}|{nonce}", user.simple()).as_bytes());
    Some(m)
}

/// A signed device cookie entry for `user`.
fn device_entry(key: &[u8], user: Uuid, issued: i64, nonce: &str) -> Option<String> {
    let sig = mac(key, user, issued, nonce)?.finalize().into_bytes();
    Some(format!("{}.{issued}.{nonce}.{}", user.simple(), b64(&sig)))
}

/// The fields of an entry: (user, issued, nonce, signature). None when malformed.
fn entry_fields(entry: &str) -> Option<(Uuid, i64, &str, Vec<u8>)> {
    let mut it = entry.split('.');
    let (user, issued, nonce, sig) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || nonce.is_empty() || nonce.len() > 64 {
        return None;
    }
    let user = Uuid::try_parse(user).ok()?;
    let issued = issued.parse::<i64>().ok()?;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .ok()?;
    Some((user, issued, nonce, sig))
}

/// The nonce of the first entry that is a valid device cookie of `user`: signed with `key`,
/// issued not in the future and not longer than `valid_for` ago.
fn valid_device(
    key: &[u8],
    entries: &[String],
    user: Uuid,
    now: OffsetDateTime,
    valid_for: Duration,
) -> Option<String> {
    entries.iter().find_map(|e| {
        let (u, issued, nonce, sig) = entry_fields(e)?;
        let at = OffsetDateTime::from_unix_timestamp(issued).ok()?;
        if u != user || at > now + Duration::minutes(5) || now - at > valid_for {
            return None;
        }
        mac(key, u, issued, nonce)?.verify_slice(&sig).ok()?;
        Some(nonce.to_owned())
    })
}

/// The entries of a browser's device cookie (as the browser sent it; at most a few).
pub fn device_cookie_entries(value: &str) -> Vec<String> {
    value
        .split(ENTRY_SEPARATOR)
        .map(str::trim)
        .filter(|e| !e.is_empty() && e.len() <= 200)
        .take(DEVICE_ENTRIES_MAX * 2)
        .map(str::to_owned)
        .collect()
}

/// The browser's new device cookie: `new` first, then its entries of other accounts, at most
/// [`DEVICE_ENTRIES_MAX`].
fn merge_device_cookies(new: &str, user: Uuid, existing: &[String]) -> String {
    let mut out = vec![new.to_owned()];
    for e in existing {
        if out.len() >= DEVICE_ENTRIES_MAX {
            break;
        }
        if let Some((u, ..)) = entry_fields(e)
            && u != user
            && !out.contains(e)
        {
            out.push(e.clone());
        }
    }
    out.join(&ENTRY_SEPARATOR.to_string())
}

impl App {
    /// The key that signs device cookies: made once per platform, kept in the database so
    /// every server process agrees.
    async fn device_cookie_key(&self) -> Result<Arc<Vec<u8>>> {
        let key = self
            .device_key
            .get_or_try_init(|| async {
                if let Some(k) = self.store().platform_secret(DEVICE_KEY).await? {
                    return Ok::<_, AppError>(Arc::new(k.into_bytes()));
                }
                let mut tx = self.store().begin().await?;
                tx.insert_platform_secret(DEVICE_KEY, &random_token(32)?, self.now())
                    .await?;
                tx.commit().await?;
                // Another process may have made it first: the stored one wins.
                let k = self
                    .store()
                    .platform_secret(DEVICE_KEY)
                    .await?
                    .ok_or(AppError::NotFound("device cookie key"))?;
                Ok(Arc::new(k.into_bytes()))
            })
            .await?;
        Ok(key.clone())
    }

    /// Signs in with user name and password from a browser without device cookies (or a
    /// tool); see [`App::sign_in_from`].
    pub async fn sign_in(
        &self,
        ctx: &Ctx,
        username: &str,
        password: &str,
        user_agent: Option<&str>,
    ) -> Result<SignedIn> {
        self.sign_in_from(ctx, username, password, user_agent, &[])
            .await
    }

    /// Signs in with user name and password; `devices` are the entries of the browser's device
    /// cookie ([`device_cookie_entries`]). Every failure and every refused attempt is audited.
    /// Too many failures make further attempts wait ([`AppError::Throttled`]), never lock
    /// the account: see the module documentation.
    pub async fn sign_in_from(
        &self,
        ctx: &Ctx,
        username: &str,
        password: &str,
        user_agent: Option<&str>,
        devices: &[String],
    ) -> Result<SignedIn> {
        let now = self.now();
        let st = self.settings().clone();
        let username = username.trim().to_lowercase();
        let event = |detail: String| {
            Event::new("auth.sign_in", "account", Some(username.clone())).detail(detail)
        };
        let user = self.store().user_by_username(&username).await?;
        let signing_key = self.device_cookie_key().await?;
        let device = user
            .as_ref()
            .and_then(|u| valid_device(&signing_key, devices, u.id, now, st.device_valid_for));
        let keys: Vec<Key> = match &device {
            Some(nonce) => vec![Key {
                key: device_key(nonce),
                kind: KeyKind::Device,
                throttle: st.device_throttle,
            }],
            None => {
                let mut k = vec![Key {
                    key: account_key(&username),
                    kind: KeyKind::Account,
                    throttle: st.account_throttle,
                }];
                if let Some(a) = ctx.client_addr.as_deref().filter(|a| !a.is_empty()) {
                    k.push(Key {
                        key: address_key(a),
                        kind: KeyKind::Address,
                        throttle: st.address_throttle,
                    });
                }
                k
            }
        };

        // A key that waits refuses the attempt before the password is looked at.
        let names: Vec<String> = keys.iter().map(|k| k.key.clone()).collect();
        let rows = self.store().throttle_rows(&names).await?;
        let kind_of = |key: &str| keys.iter().find(|k| k.key == key);
        let mut wait = Duration::ZERO;
        let mut why: Vec<&str> = Vec::new();
        for r in &rows {
            if let Some(b) = r.blocked_until
                && b > now
            {
                wait = wait.max(b - now);
                why.extend(kind_of(&r.key).map(|k| k.kind.name()));
            }
        }
        if wait > Duration::ZERO {
            self.audit(
                ctx,
                event(format!("throttled: {}", why.join(", "))),
                Outcome::Denied,
            )
            .await?;
            return Err(AppError::Throttled {
                seconds: wait_seconds(wait),
            });
        }
        // The one attempt a key allows once its wait is over: taken atomically, held for
        // another wait, given back by a success.
        let due: Vec<_> = rows
            .iter()
            .filter_map(|r| Some((r, r.blocked_until?, kind_of(&r.key)?)))
            .collect();
        if !due.is_empty() {
            let mut tx = self.store().begin().await?;
            for (r, seen, k) in &due {
                let hold = k
                    .throttle
                    .delay(u32::try_from(r.failures).unwrap_or(u32::MAX))
                    .max(Duration::seconds(1));
                if !tx
                    .claim_sign_in_attempt(&r.key, *seen, now, now + hold)
                    .await?
                {
                    drop(tx);
                    self.audit(
                        ctx,
                        event(format!("throttled: {} (attempt under way)", k.kind.name())),
                        Outcome::Denied,
                    )
                    .await?;
                    return Err(AppError::Throttled {
                        seconds: wait_seconds(hold),
                    });
                }
            }
            tx.commit().await?;
        }

        let Some(user) = user else {
            // Spend the same time as a real check, and answer exactly as for a real account,
            // so that neither reveals which user names exist.
            let _ = verify_password(password, None).await;
            return Err(self
                .sign_in_failed(ctx, &keys, event("unknown user name".into()), now)
                .await?);
        };
        if !verify_password(password, Some(&user.password_hash)).await {
            return Err(self
                .sign_in_failed(ctx, &keys, event("wrong password".into()), now)
                .await?);
        }
        if !user.active {
            return Err(self
                .sign_in_failed(ctx, &keys, event("account deactivated".into()), now)
                .await?);
        }

        let token = random_token(32)?;
        let csrf = random_token(24)?;
        let expires_at = now + st.absolute_timeout;
        let nonce = random_token(16)?;
        let entry = device_entry(&signing_key, user.id, now.unix_timestamp(), &nonce).ok_or(
            AppError::conflict(None, msg!("account.device_cookie_failed")),
        )?;
        // Read before the transaction: a pool read inside it could wait for a connection it holds.
        let principal = self
            .principal_of(
                &user,
                Via::Session {
                    session_id: Uuid::nil(),
                },
            )
            .await?;
        let mut tx = self.store().begin().await?;
        tx.insert_session(
            &secret_hash(&token),
            new_id(),
            user.id,
            &csrf,
            now,
            expires_at,
            ctx.client_addr.as_deref(),
            user_agent,
        )
        .await?;
        tx.record_sign_in(user.id, now).await?;
        // The address keeps its count: one success there says nothing of the others.
        for k in keys.iter().filter(|k| k.kind != KeyKind::Address) {
            tx.clear_sign_in_failures(&k.key).await?;
        }
        let signed_in = Ctx {
            actor: Actor::User(Box::new(principal)),
            ..ctx.clone()
        };
        self.audit_in(
            &mut tx,
            &signed_in,
            Event::new("auth.sign_in", "account", Some(user.id.to_string())).detail(
                if device.is_some() {
                    "known device"
                } else {
                    "new device"
                },
            ),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(SignedIn {
            session_token: token,
            csrf_token: csrf,
            must_change_password: user.must_change_password,
            expires_at,
            device_cookie: merge_device_cookies(&entry, user.id, devices),
        })
    }

    /// Counts a failed attempt under its keys and audits it. Returns what to answer: a wait
    /// when the failure started one, otherwise wrong user name or password.
    async fn sign_in_failed(
        &self,
        ctx: &Ctx,
        keys: &[Key],
        event: Event<'_>,
        now: OffsetDateTime,
    ) -> Result<AppError> {
        let mut tx = self.store().begin().await?;
        let mut wait = Duration::ZERO;
        let mut longest_window = Duration::ZERO;
        for k in keys {
            let n = tx
                .add_sign_in_failure(&k.key, now, now - k.throttle.window)
                .await?;
            let d = k.throttle.delay(u32::try_from(n).unwrap_or(u32::MAX));
            tx.set_sign_in_block(&k.key, (d > Duration::ZERO).then_some(now + d))
                .await?;
            wait = wait.max(d);
            longest_window = longest_window.max(k.throttle.window);
        }
        tx.prune_sign_in_throttle(now - longest_window.max(Duration::days(1)))
            .await?;
        self.audit_in(&mut tx, ctx, event, Outcome::Failed).await?;
        tx.commit().await?;
        Ok(if wait > Duration::ZERO {
            AppError::Throttled {
                seconds: wait_seconds(wait),
            }
        } else {
            AppError::BadCredentials
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn device_entries_verify_only_for_their_user_key_and_time() {
        let u = Uuid::from_u128(7);
        let other = Uuid::from_u128(8);
        let t = now().unix_timestamp();
        let e = device_entry(KEY, u, t, "n0nce").unwrap();
        let days = Duration::days(180);
        assert_eq!(
            valid_device(KEY, std::slice::from_ref(&e), u, now(), days).as_deref(),
            Some("n0nce")
        );
        // Another account, another key, too old, from the future: no.
        assert!(valid_device(KEY, std::slice::from_ref(&e), other, now(), days).is_none());
        assert!(valid_device(b"another key", std::slice::from_ref(&e), u, now(), days).is_none());
        assert!(
            valid_device(
                KEY,
                std::slice::from_ref(&e),
                u,
                now() + Duration::days(181),
                days
            )
            .is_none()
        );
        assert!(
            valid_device(
                KEY,
                std::slice::from_ref(&e),
                u,
                now() - Duration::hours(1),
                days
            )
            .is_none()
        );
        // Any change to a field breaks the signature.
        let (user, issued, nonce, sig) = entry_fields(&e).unwrap();
        for forged in [
            format!("{}.{issued}.{nonce}.{}", other.simple(), b64(&sig)),
            format!("{}.{}.{nonce}.{}", user.simple(), issued + 1, b64(&sig)),
            format!("{}.{issued}.other.{}", user.simple(), b64(&sig)),
            format!("{}.{issued}.{nonce}.{}", user.simple(), b64(&[0u8; 32])),
            format!("{}.{issued}.{nonce}", user.simple()),
            "garbage".to_owned(),
            String::new(),
        ] {
            assert!(
                valid_device(KEY, std::slice::from_ref(&forged), u, now(), days).is_none(),
                "{forged}"
            );
        }
        // Found among other entries.
        let mine = device_entry(KEY, u, t, "mine").unwrap();
        let theirs = device_entry(KEY, other, t, "theirs").unwrap();
        assert_eq!(
            valid_device(KEY, &[theirs.clone(), "x".into(), mine], u, now(), days).as_deref(),
            Some("mine")
        );
    }

    #[test]
    fn a_browser_keeps_one_entry_per_account_newest_first() {
        let t = now().unix_timestamp();
        let entries: Vec<String> = (0..8u128)
            .map(|i| device_entry(KEY, Uuid::from_u128(i), t, &format!("n{i}")).unwrap())
            .collect();
        let new = device_entry(KEY, Uuid::from_u128(3), t + 60, "fresh").unwrap();
        let merged = merge_device_cookies(&new, Uuid::from_u128(3), &entries);
        let kept = device_cookie_entries(&merged);
        assert_eq!(kept.len(), DEVICE_ENTRIES_MAX);
        assert_eq!(kept[0], new);
        assert!(
            !kept.contains(&entries[3]),
            "the account's older entry is replaced"
        );
        assert_eq!(kept[1], entries[0]);
        // Entries that do not parse are dropped.
        let merged = merge_device_cookies(&new, Uuid::from_u128(3), &["junk".into()]);
        assert_eq!(merged, new);
        assert!(device_cookie_entries(" ~ ~").is_empty());
        assert!(device_cookie_entries(&"x".repeat(300)).is_empty());
    }
}
