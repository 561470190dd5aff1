//! Sign-in, sessions, API tokens, accounts, role permissions and resident scope
//! (crates/ygt-app/src/{access,account,audit}.rs), each scenario on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Debug;
use std::time::Duration as StdDuration;

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_app::access::{Principal, Via};
use ygt_app::account::{AccountDraft, SignedIn, secret_hash};
use ygt_app::signin::device_cookie_entries;
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::access::AuditFilter;
use ygt_app::{Actor, App, AppError, Ctx, Settings};
use ygt_domain::access::{Permission, Role, ScopeKind, default_permissions};
use ygt_domain::audit::{AuditRecord, Outcome};
use ygt_domain::org::InstitutionDraft;
use ygt_domain::signin::Throttle;
use ygt_domain::{Reason, ValidationErrors};
use ygt_testkit::{TestDb, both_backends};

// ------------------------------------------------------------------ helpers

const PASSWORD: &str = "Demo-Kite#58";
const ADDR: &str = "10.0.0.1";
const REASON: &str = "急诊昏迷患者，需查看既往史";

/// A county hospital H, two townships T and T2 below it, and a village clinic V below T.
struct World {
    app: App,
    sys: Ctx,
    hospital: Uuid,
    town: Uuid,
    town2: Uuid,
    village: Uuid,
}

async fn world(db: &TestDb, settings: Settings) -> World {
    let store = Store::open(&db.url).await.unwrap();
    let app = App::with_settings(store, settings);
    let sys = Ctx::system();
    let hospital = app
        .create_institution(
            &sys,
            &InstitutionDraft {
                name: "云溪县人民医院".into(),
                kind: "county_general_hospital".into(),
                division_code: "341890".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let township = |name: &str, alias: &str| InstitutionDraft {
        name: name.into(),
        aliases: vec![alias.into()],
        kind: "township_health_centre".into(),
        parent_id: Some(hospital.to_string()),
        division_code: "341890100".into(),
        ..Default::default()
    };
    let town = app
        .create_institution(&sys, &township("柳河镇卫生院", "云溪县人民医院柳河分院"))
        .await
        .unwrap()
        .id;
    let town2 = app
        .create_institution(&sys, &township("石桥镇卫生院", "云溪县人民医院石桥分院"))
        .await
        .unwrap()
        .id;
    let village = app
        .create_institution(
            &sys,
            &InstitutionDraft {
                name: "柳河镇东村卫生室".into(),
                kind: "village_clinic".into(),
                parent_id: Some(town.to_string()),
                division_code: "341890100200".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    World {
        app,
        sys,
        hospital,
        town,
        town2,
        village,
    }
}

fn draft(name: &str, institution: Option<Uuid>, role: &str, must_change: bool) -> AccountDraft {
    AccountDraft {
        username: name.into(),
        display_name: format!("测试{name}"),
        institution_id: institution.map(|i| i.to_string()),
        roles: vec![role.into()],
        password: Some(PASSWORD.into()),
        must_change_password: Some(must_change),
        ..Default::default()
    }
}

/// Creates an account with the system actor; returns its id.
async fn account(w: &World, name: &str, institution: Option<Uuid>, role: &str) -> Uuid {
    w.app
        .create_account(&w.sys, &draft(name, institution, role, false))
        .await
        .unwrap()
        .user
        .id
}

fn anon(addr: &str) -> Ctx {
    Ctx::anonymous("t".into(), Some(addr.into()))
}

fn user_ctx(p: Principal) -> Ctx {
    Ctx {
        actor: Actor::User(Box::new(p)),
        request_id: "t".into(),
        client_addr: Some(ADDR.into()),
    }
}

/// Signs in from [`ADDR`] and returns the context of the session and its sign-in.
async fn sign_in_as(app: &App, name: &str, password: &str) -> (Ctx, SignedIn) {
    let signed = app
        .sign_in(&anon(ADDR), name, password, None)
        .await
        .unwrap();
    let info = app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap();
    (user_ctx(info.principal), signed)
}

async fn ctx_of(app: &App, name: &str) -> Ctx {
    sign_in_as(app, name, PASSWORD).await.0
}

async fn audit(app: &App, f: AuditFilter) -> Vec<AuditRecord> {
    let (items, total) = app
        .store()
        .search_audit(&AuditFilter { limit: 1000, ..f })
        .await
        .unwrap();
    assert_eq!(items.len() as i64, total);
    items
}

async fn sign_in_events(app: &App) -> Vec<AuditRecord> {
    audit(
        app,
        AuditFilter {
            action: Some("auth.sign_in".into()),
            ..Default::default()
        },
    )
    .await
}

async fn chain_ok(app: &App) {
    let report = app.verify_audit_chain().await.unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert!(report.verified > 0);
}

fn invalid<T: Debug>(r: Result<T, AppError>) -> ValidationErrors {
    match r {
        Err(AppError::Invalid(e)) => e,
        other => panic!("expected AppError::Invalid, got {other:?}"),
    }
}

fn assert_invalid_field<T: Debug>(r: Result<T, AppError>, field: &str) -> Reason {
    let e = invalid(r);
    let hit = e.0.iter().find(|v| v.field == field);
    match hit {
        Some(v) => v.reason.clone(),
        None => panic!("expected an error on {field}, got {e:?}"),
    }
}

fn forbidden<T: Debug>(r: Result<T, AppError>) {
    match r {
        Err(AppError::Forbidden { msg }) => {
            assert!(!msg.code.is_empty());
        }
        other => panic!("expected AppError::Forbidden, got {other:?}"),
    }
}

/// A refusal to wait; returns the seconds.
fn throttled<T: Debug>(r: Result<T, AppError>) -> u64 {
    match r {
        Err(AppError::Throttled { seconds }) => {
            assert!(seconds >= 1);
            seconds
        }
        other => panic!("expected AppError::Throttled, got {other:?}"),
    }
}

fn bad_credentials<T: Debug>(r: Result<T, AppError>) {
    match r {
        Err(AppError::BadCredentials) => {}
        other => panic!("expected AppError::BadCredentials, got {other:?}"),
    }
}

fn conflict<T: Debug>(r: Result<T, AppError>) {
    match r {
        Err(AppError::Conflict { .. }) => {}
        other => panic!("expected AppError::Conflict, got {other:?}"),
    }
}

/// A throttle of `free` free failures, then `first` seconds doubling up to `cap`.
fn quick(free: u32, first: i64, cap: i64) -> Throttle {
    Throttle {
        free,
        first: time::Duration::seconds(first),
        cap: time::Duration::seconds(cap),
        window: time::Duration::hours(1),
    }
}

/// Signs in from `addr` with the browser's device cookie; returns the browser's new cookie.
async fn sign_in_with(
    app: &App,
    addr: &str,
    name: &str,
    password: &str,
    device: &str,
) -> Result<String, AppError> {
    app.sign_in_from(
        &anon(addr),
        name,
        password,
        None,
        &device_cookie_entries(device),
    )
    .await
    .map(|s| s.device_cookie)
}

async fn detail_count(app: &App, detail: &str) -> usize {
    sign_in_events(app)
        .await
        .iter()
        .filter(|e| e.detail.as_deref() == Some(detail))
        .count()
}

/// A person of the index without registrations or care links (break-glass needs one that
/// exists).
async fn bare_person(app: &App) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = app.store().begin().await.unwrap();
    let g = ygt_app::ygt_store::mpi::Golden {
        name: "陈某".into(),
        sex: "0".into(),
        registrations: 1,
        ..Default::default()
    };
    tx.insert_person(id, &g, OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(StdDuration::from_millis(ms)).await;
}

// ------------------------------------------------------------------ 1. growing delays

/// Failures make the next attempts wait, longer with every failure up to a cap; the right
/// password gets in once the wait is over (no lock-out), and a success clears the account's
/// count. Unknown user names are answered the same way.
async fn failures_delay_but_never_lock(db: TestDb) {
    let w = world(
        &db,
        Settings {
            account_throttle: quick(2, 1, 2),
            ..Default::default()
        },
    )
    .await;
    let app = &w.app;
    account(&w, "doc1", Some(w.town), "doctor").await;
    let wrong = "Wrong#Pass2026";

    for _ in 0..2 {
        bad_credentials(app.sign_in(&anon(ADDR), "doc1", wrong, None).await);
    }
    // The third failure starts a wait of one second; meanwhile even the right password waits
    // (it is not looked at).
    assert_eq!(
        throttled(app.sign_in(&anon(ADDR), "doc1", wrong, None).await),
        1
    );
    assert_eq!(
        throttled(app.sign_in(&anon(ADDR), "DOC1", PASSWORD, None).await),
        1
    );
    sleep_ms(1100).await;
    // The wait is over: the right password gets in and clears the count.
    let signed = app
        .sign_in(&anon(ADDR), "doc1", PASSWORD, None)
        .await
        .unwrap();
    assert!(!signed.must_change_password);
    bad_credentials(app.sign_in(&anon(ADDR), "doc1", wrong, None).await);
    bad_credentials(app.sign_in(&anon(ADDR), "doc1", wrong, None).await);
    assert_eq!(
        throttled(app.sign_in(&anon(ADDR), "doc1", wrong, None).await),
        1
    );
    sleep_ms(1100).await;
    // The next failure doubles the wait (2 s, the cap), and the cap holds.
    assert_eq!(
        throttled(app.sign_in(&anon(ADDR), "doc1", wrong, None).await),
        2
    );
    throttled(app.sign_in(&anon(ADDR), "doc1", PASSWORD, None).await);
    sleep_ms(2100).await;
    assert_eq!(
        throttled(app.sign_in(&anon(ADDR), "doc1", wrong, None).await),
        2
    );
    sleep_ms(2100).await;
    app.sign_in(&anon(ADDR), "doc1", PASSWORD, None)
        .await
        .unwrap();

    // An unknown user name: the same answers as a real account, all audited.
    bad_credentials(app.sign_in(&anon(ADDR), "nobody", PASSWORD, None).await);
    bad_credentials(app.sign_in(&anon(ADDR), "nobody", PASSWORD, None).await);
    assert_eq!(
        throttled(app.sign_in(&anon(ADDR), "nobody", PASSWORD, None).await),
        1
    );
    throttled(app.sign_in(&anon(ADDR), "nobody", PASSWORD, None).await);

    let events = sign_in_events(app).await;
    let count = |o: Outcome| events.iter().filter(|e| e.outcome == o).count();
    assert_eq!(count(Outcome::Allowed), 2);
    assert_eq!(detail_count(app, "wrong password").await, 8);
    assert_eq!(detail_count(app, "unknown user name").await, 3);
    assert_eq!(count(Outcome::Denied), 3);
    for e in events.iter().filter(|e| e.outcome == Outcome::Denied) {
        assert_eq!(e.detail.as_deref(), Some("throttled: account"), "{e:?}");
        assert_eq!(e.actor_name, "anonymous");
        assert_eq!(e.client_addr.as_deref(), Some(ADDR));
    }
    chain_ok(app).await;
}
both_backends!(failures_delay_but_never_lock, failures_delay_but_never_lock);

// ------------------------------------------------------------------ 2. device cookies

/// Five (and more) wrong passwords for a user, from anywhere, do not keep the right password
/// from a browser that signed in to the account before (its device cookie) out; browsers
/// without it wait.
async fn wrong_passwords_do_not_keep_a_known_device_out(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    let uid = account(&w, "doc1", Some(w.town), "doctor").await;
    let device = sign_in_with(app, ADDR, "doc1", PASSWORD, "").await.unwrap();
    assert!(device.starts_with(&uid.simple().to_string()), "{device}");

    let attacker = "10.6.6.6";
    for i in 0..8 {
        let r = app
            .sign_in(&anon(attacker), "doc1", "Wrong#Pass2026", None)
            .await;
        if i < 5 {
            bad_credentials(r);
        } else {
            throttled(r);
        }
    }
    // Without the device cookie the right password waits, from any address.
    throttled(app.sign_in(&anon(attacker), "doc1", PASSWORD, None).await);
    throttled(app.sign_in(&anon("10.0.0.7"), "doc1", PASSWORD, None).await);
    // With it: in at once, from its own address or any other, again and again.
    let again = sign_in_with(app, ADDR, "doc1", PASSWORD, &device)
        .await
        .unwrap();
    sign_in_with(app, attacker, "doc1", PASSWORD, &again)
        .await
        .unwrap();
    sign_in_with(app, ADDR, "doc1", PASSWORD, &device)
        .await
        .unwrap();
    assert_eq!(detail_count(app, "known device").await, 3);
    assert_eq!(detail_count(app, "new device").await, 1);
    chain_ok(app).await;
}
both_backends!(
    wrong_passwords_do_not_keep_a_known_device_out,
    wrong_passwords_do_not_keep_a_known_device_out
);

/// Twenty failures from one address (any user names) make that address wait for browsers
/// without a device cookie, but never a different user signing in with their device cookie.
async fn address_failures_spare_known_devices(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    account(&w, "doc2", Some(w.town), "doctor").await;
    let device = sign_in_with(app, "10.0.0.2", "doc2", PASSWORD, "")
        .await
        .unwrap();
    let shared = "10.9.9.9";
    for i in 0..22 {
        let r = app
            .sign_in(&anon(shared), &format!("ghost{i}"), PASSWORD, None)
            .await;
        if i < 20 {
            bad_credentials(r);
        } else {
            throttled(r);
        }
    }
    // The address waits for browsers without a device cookie, even with a right password...
    throttled(app.sign_in(&anon(shared), "doc2", PASSWORD, None).await);
    let denied = sign_in_events(app).await;
    assert!(
        denied
            .iter()
            .any(|e| e.detail.as_deref() == Some("throttled: address")),
        "{denied:?}"
    );
    // ...not for doc2's own browser there, nor for doc2 elsewhere.
    sign_in_with(app, shared, "doc2", PASSWORD, &device)
        .await
        .unwrap();
    app.sign_in(&anon("10.0.0.3"), "doc2", PASSWORD, None)
        .await
        .unwrap();
    // No known client address: only the account counts.
    app.sign_in(&Ctx::anonymous("t".into(), None), "doc2", PASSWORD, None)
        .await
        .unwrap();
    chain_ok(app).await;
}
both_backends!(
    address_failures_spare_known_devices,
    address_failures_spare_known_devices
);

/// No attacker can keep a known user out: failures against the account from many addresses,
/// the attacker's own device cookie, forged or altered cookies, even the user's stolen cookie
/// with wrong passwords (which slows only that cookie) leave the user's browsers in. Of
/// concurrent attempts after a wait only one is judged.
async fn an_attacker_cannot_keep_a_known_user_out(db: TestDb) {
    let w = world(
        &db,
        Settings {
            // The account's first wait must outlast the victim's two sign-ins of a round (two
            // password checks on the blocking pool, slow on a loaded machine): 3 s, not 1 s.
            account_throttle: quick(3, 3, 60),
            device_throttle: quick(3, 1, 60),
            ..Default::default()
        },
    )
    .await;
    let app = &w.app;
    account(&w, "victim", Some(w.town), "doctor").await;
    account(&w, "mallory", Some(w.town), "nurse").await;
    let home = sign_in_with(app, ADDR, "victim", PASSWORD, "")
        .await
        .unwrap();
    let ward = sign_in_with(app, "10.0.0.8", "victim", PASSWORD, "")
        .await
        .unwrap();
    let own = sign_in_with(app, "10.6.6.6", "mallory", PASSWORD, "")
        .await
        .unwrap();

    for round in 0..3 {
        for i in 0..10 {
            let addr = format!("10.6.{round}.{i}");
            let _ = app
                .sign_in(&anon(&addr), "victim", "Wrong#Pass2026", None)
                .await;
            // The attacker's own cookie, or one altered to name the victim, opens nothing.
            let _ = sign_in_with(app, &addr, "victim", "Wrong#Pass2026", &own).await;
            let forged = own.replacen(
                &own[..32],
                &app.store()
                    .user_by_username("victim")
                    .await
                    .unwrap()
                    .unwrap()
                    .id
                    .simple()
                    .to_string(),
                1,
            );
            let _ = sign_in_with(app, &addr, "victim", "Wrong#Pass2026", &forged).await;
        }
        // The victim's browsers are in at once, every round.
        sign_in_with(app, ADDR, "victim", PASSWORD, &home)
            .await
            .unwrap();
        sign_in_with(app, "10.0.0.8", "victim", PASSWORD, &ward)
            .await
            .unwrap();
        // Others wait, the attacker's cookie and the forged one included.
        throttled(
            app.sign_in(&anon("10.0.0.9"), "victim", PASSWORD, None)
                .await,
        );
        throttled(sign_in_with(app, "10.6.6.6", "victim", PASSWORD, &own).await);
    }

    // A stolen cookie with wrong passwords slows down that cookie only.
    for i in 0..4 {
        let r = sign_in_with(app, "10.6.6.6", "victim", "Wrong#Pass2026", &home).await;
        if i < 3 {
            bad_credentials(r);
        } else {
            throttled(r);
        }
    }
    throttled(sign_in_with(app, ADDR, "victim", PASSWORD, &home).await);
    sign_in_with(app, "10.0.0.8", "victim", PASSWORD, &ward)
        .await
        .unwrap();
    sleep_ms(1100).await;
    // The wait is over: of five concurrent wrong attempts with the cookie, one is judged.
    let before = detail_count(app, "wrong password").await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (app, home) = (app.clone(), home.clone());
        attempts.spawn(async move {
            sign_in_with(&app, "10.6.6.6", "victim", "Wrong#Pass2026", &home).await
        });
    }
    for r in attempts.join_all().await {
        throttled(r);
    }
    assert_eq!(detail_count(app, "wrong password").await, before + 1);
    // The right password is in after the (now two-second) wait.
    sleep_ms(2100).await;
    sign_in_with(app, ADDR, "victim", PASSWORD, &home)
        .await
        .unwrap();
    chain_ok(app).await;
}
both_backends!(
    an_attacker_cannot_keep_a_known_user_out,
    an_attacker_cannot_keep_a_known_user_out
);

// ------------------------------------------------------------------ 4. session expiry

async fn session_idle_expiry(db: TestDb) {
    let w = world(
        &db,
        Settings {
            idle_timeout: time::Duration::seconds(1),
            ..Default::default()
        },
    )
    .await;
    let app = &w.app;
    let uid = account(&w, "doc1", Some(w.town), "doctor").await;
    let signed = app
        .sign_in(&anon(ADDR), "doc1", PASSWORD, None)
        .await
        .unwrap();
    let info = app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.principal.user_id, Some(uid));
    assert_eq!(info.csrf_token, signed.csrf_token);
    assert!(matches!(info.principal.via, Via::Session { .. }));
    assert!(
        app.session_principal("not-a-token")
            .await
            .unwrap()
            .is_none()
    );

    sleep_ms(1300).await;
    assert!(
        app.session_principal(&signed.session_token)
            .await
            .unwrap()
            .is_none()
    );
    // The idle session is ended for good.
    let row = app
        .store()
        .session(&secret_hash(&signed.session_token))
        .await
        .unwrap()
        .unwrap();
    assert!(row.revoked_at.is_some());
    chain_ok(app).await;
}
both_backends!(session_idle_expiry, session_idle_expiry);

async fn session_absolute_expiry(db: TestDb) {
    let w = world(
        &db,
        Settings {
            absolute_timeout: time::Duration::seconds(1),
            ..Default::default()
        },
    )
    .await;
    let app = &w.app;
    account(&w, "doc1", Some(w.town), "doctor").await;
    let signed = app
        .sign_in(&anon(ADDR), "doc1", PASSWORD, None)
        .await
        .unwrap();
    assert!(signed.expires_at - OffsetDateTime::now_utc() <= time::Duration::seconds(1));
    // Used half-way through its life (the sign-in's clock started before the password check,
    // so wait relative to `expires_at`, not to the return of sign_in).
    let half = (signed.expires_at - OffsetDateTime::now_utc()) / 2i32;
    sleep_ms(u64::try_from(half.whole_milliseconds()).unwrap_or(0)).await;
    assert!(
        app.session_principal(&signed.session_token)
            .await
            .unwrap()
            .is_some()
    );
    let left = signed.expires_at - OffsetDateTime::now_utc() + time::Duration::milliseconds(200);
    sleep_ms(u64::try_from(left.whole_milliseconds()).unwrap_or(0)).await;
    assert!(
        app.session_principal(&signed.session_token)
            .await
            .unwrap()
            .is_none()
    );
    // A new sign-in gives a new session.
    let again = app
        .sign_in(&anon(ADDR), "doc1", PASSWORD, None)
        .await
        .unwrap();
    assert_ne!(again.session_token, signed.session_token);
    assert!(
        app.session_principal(&again.session_token)
            .await
            .unwrap()
            .is_some()
    );
    chain_ok(app).await;
}
both_backends!(session_absolute_expiry, session_absolute_expiry);

// ------------------------------------------------------------------ 5. sign-out

async fn sign_out_and_everywhere(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    let uid = account(&w, "doc1", Some(w.town), "doctor").await;
    account(&w, "doc2", Some(w.town), "doctor").await;
    let (ctx1, s1) = sign_in_as(app, "doc1", PASSWORD).await;
    let (ctx2, s2) = sign_in_as(app, "doc1", PASSWORD).await;
    let (_, s3) = sign_in_as(app, "doc1", PASSWORD).await;
    let (_, other) = sign_in_as(app, "doc2", PASSWORD).await;
    assert_ne!(s1.session_token, s2.session_token);
    assert_eq!(
        app.store()
            .live_sessions(uid, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        3
    );

    app.sign_out(&ctx1, &s1.session_token).await.unwrap();
    let live = |t: String| async move { app.session_principal(&t).await.unwrap().is_some() };
    assert!(!live(s1.session_token.clone()).await);
    assert!(live(s2.session_token.clone()).await);
    assert!(live(s3.session_token.clone()).await);

    let n = app.sign_out_everywhere(&ctx2).await.unwrap();
    assert_eq!(n, 2);
    assert!(!live(s2.session_token.clone()).await);
    assert!(!live(s3.session_token.clone()).await);
    // Another user's session is untouched.
    assert!(live(other.session_token.clone()).await);
    assert_eq!(
        app.store()
            .live_sessions(uid, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    // Nobody signed in: nothing to end.
    assert!(matches!(
        app.sign_out_everywhere(&anon(ADDR)).await,
        Err(AppError::Unauthenticated)
    ));

    let outs = audit(
        app,
        AuditFilter {
            action: Some("auth.sign_out".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(outs.len(), 2);
    assert!(outs.iter().all(|e| e.actor_user_id == Some(uid)));
    assert!(outs.iter().any(|e| e.action == "auth.sign_out_everywhere"
        && e.detail.as_deref() == Some("2 sessions ended")));
    chain_ok(app).await;
}
both_backends!(sign_out_and_everywhere, sign_out_and_everywhere);

// ------------------------------------------------------------------ 6. must change password

async fn initial_password_must_be_changed(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    let created = app
        .create_account(&w.sys, &draft("nurse1", Some(w.town), "nurse", true))
        .await
        .unwrap();
    assert!(created.user.must_change_password);
    assert!(created.temporary_password.is_none());

    let (ctx, signed) = sign_in_as(app, "nurse1", PASSWORD).await;
    assert!(signed.must_change_password);
    assert!(ctx.principal().unwrap().must_change_password);
    assert!(matches!(
        app.list_institutions(&ctx, &Default::default()).await,
        Err(AppError::PasswordChangeRequired)
    ));
    assert!(matches!(
        app.resident_access(&ctx, Uuid::now_v7(), "resident.read", "treatment")
            .await,
        Err(AppError::PasswordChangeRequired)
    ));

    let r = assert_invalid_field(
        app.change_password(&ctx, "Wrong#Pass2026", "Qingshan#2027x")
            .await,
        "current_password",
    );
    assert!(matches!(r, Reason::Other { .. }));
    let fails = audit(
        app,
        AuditFilter {
            action: Some("account.password_change".into()),
            outcome: Some(Outcome::Failed),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(fails.len(), 1);

    assert_invalid_field(
        app.change_password(&ctx, PASSWORD, "password123").await,
        "new_password",
    );
    assert_invalid_field(
        app.change_password(&ctx, PASSWORD, PASSWORD).await,
        "new_password",
    );
    // Nothing changed so far.
    assert!(
        app.store()
            .user_by_username("nurse1")
            .await
            .unwrap()
            .unwrap()
            .must_change_password
    );

    app.change_password(&ctx, PASSWORD, "Qingshan#2027x")
        .await
        .unwrap();
    // The running session is released at once (the principal is read per request).
    let info = app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap();
    assert!(!info.principal.must_change_password);
    // The old password is gone, the new one works and needs no change.
    bad_credentials(app.sign_in(&anon(ADDR), "nurse1", PASSWORD, None).await);
    let (ctx, signed) = sign_in_as(app, "nurse1", "Qingshan#2027x").await;
    assert!(!signed.must_change_password);
    assert!(!ctx.principal().unwrap().must_change_password);
    let (items, _) = app
        .list_institutions(&ctx, &Default::default())
        .await
        .unwrap();
    assert_eq!(items.len(), 4);
    chain_ok(app).await;
}
both_backends!(
    initial_password_must_be_changed,
    initial_password_must_be_changed
);

// ------------------------------------------------------------------ 7. API tokens

async fn api_tokens(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    let created = app
        .create_token(
            &w.sys,
            "lis-bridge",
            w.town,
            &["registry.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    assert!(created.secret.starts_with("ygt_"), "{}", created.secret);
    assert!(created.secret.len() > 40);
    assert_eq!(created.token.prefix, created.secret[..12]);
    assert_eq!(created.token.institution_id, w.town);
    assert!(created.token.expires_at.is_some());
    assert!(created.token.created_by.is_none());

    let p = app.token_principal(&created.secret).await.unwrap().unwrap();
    assert!(p.name.starts_with("token:"), "{}", p.name);
    assert_eq!(p.name, "token:lis-bridge");
    assert_eq!(p.user_id, None);
    assert_eq!(p.institution_id, Some(w.town));
    assert_eq!(
        p.via,
        Via::Token {
            token_id: created.token.id
        }
    );
    assert!(p.can(Permission::RegistryRead));
    assert_eq!(p.permissions.len(), 1);
    assert!(p.covers(w.town) && p.covers(w.village));
    assert!(!p.covers(w.hospital) && !p.covers(w.town2));
    assert!(app.token_principal("ygt_nope").await.unwrap().is_none());

    let tctx = user_ctx(p);
    let (items, _) = app
        .list_institutions(&tctx, &Default::default())
        .await
        .unwrap();
    assert_eq!(items.len(), 4);
    forbidden(
        app.create_institution(
            &tctx,
            &InstitutionDraft {
                name: "云溪县中医院".into(),
                kind: "county_general_hospital".into(),
                division_code: "341890".into(),
                ..Default::default()
            },
        )
        .await,
    );
    forbidden(
        app.create_institution(
            &tctx,
            &InstitutionDraft {
                name: "柳河镇西村卫生室".into(),
                kind: "village_clinic".into(),
                parent_id: Some(w.town.to_string()),
                division_code: "341890100201".into(),
                ..Default::default()
            },
        )
        .await,
    );
    // A token cannot break the glass: it has no such permission.
    forbidden(app.break_glass(&tctx, Uuid::now_v7(), REASON).await);

    let revoked = app.revoke_token(&w.sys, created.token.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(
        app.token_principal(&created.secret)
            .await
            .unwrap()
            .is_none()
    );

    // An institution administrator of T.
    account(&w, "tadmin", Some(w.town), "institution_admin").await;
    let admin = ctx_of(app, "tadmin").await;
    forbidden(
        app.create_token(&admin, "x", w.town2, &["registry.read".into()], None)
            .await,
    );
    forbidden(
        app.create_token(&admin, "x", w.hospital, &["registry.read".into()], None)
            .await,
    );
    forbidden(
        app.create_token(&admin, "x", w.town, &["audit.read".into()], None)
            .await,
    );
    forbidden(
        app.create_token(
            &admin,
            "x",
            w.town,
            &["registry.read".into(), "patient.read".into()],
            None,
        )
        .await,
    );
    assert_invalid_field(
        app.create_token(&admin, "x", w.town, &["registry.reed".into()], None)
            .await,
        "permissions[0]",
    );
    assert_invalid_field(
        app.create_token(&admin, "x", w.town, &[], None).await,
        "permissions",
    );
    assert_invalid_field(
        app.create_token(&admin, "x", w.town, &["registry.read".into()], Some(0))
            .await,
        "valid_days",
    );
    // Within its own institutions and permissions it may.
    let own = app
        .create_token(
            &admin,
            "his-sync",
            w.village,
            &["registry.read".into()],
            None,
        )
        .await
        .unwrap();
    assert!(own.token.created_by.is_some());
    assert!(app.token_principal(&own.secret).await.unwrap().is_some());
    // A doctor (no token.manage) may not, even at its own institution.
    account(&w, "doc1", Some(w.town), "doctor").await;
    let doc = ctx_of(app, "doc1").await;
    forbidden(
        app.create_token(&doc, "x", w.town, &["registry.read".into()], None)
            .await,
    );
    // Every refusal above was audited as denied.
    let denied = audit(
        app,
        AuditFilter {
            action: Some("token.create".into()),
            outcome: Some(Outcome::Denied),
            ..Default::default()
        },
    )
    .await;
    assert!(denied.len() >= 3, "{denied:?}");
    chain_ok(app).await;
}
both_backends!(api_tokens, api_tokens);

// ------------------------------------------------------------------ 8. privilege escalation

async fn institution_admin_cannot_escalate(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    account(&w, "tadmin", Some(w.town), "institution_admin").await;
    let admin = ctx_of(app, "tadmin").await;

    for role in ["system_admin", "community_admin", "auditor"] {
        forbidden(
            app.create_account(
                &admin,
                &draft(&format!("x-{role}"), Some(w.town), role, false),
            )
            .await,
        );
        let mut d = draft(&format!("y-{role}"), Some(w.town), "doctor", false);
        d.roles.push(role.into());
        forbidden(app.create_account(&admin, &d).await);
        assert!(
            app.store()
                .user_by_username(&format!("x-{role}"))
                .await
                .unwrap()
                .is_none()
        );
    }
    // Own institution and the village below it: fine. Another township, the county hospital or
    // no institution: refused.
    let doc = app
        .create_account(&admin, &draft("doc1", Some(w.town), "doctor", false))
        .await
        .unwrap();
    assert_eq!(doc.roles, vec![Role::Doctor]);
    app.create_account(
        &admin,
        &draft("vdoc1", Some(w.village), "village_doctor", false),
    )
    .await
    .unwrap();
    forbidden(
        app.create_account(&admin, &draft("doc2", Some(w.town2), "doctor", false))
            .await,
    );
    forbidden(
        app.create_account(&admin, &draft("doc3", Some(w.hospital), "doctor", false))
            .await,
    );
    forbidden(
        app.create_account(&admin, &draft("doc4", None, "doctor", false))
            .await,
    );
    assert!(
        app.store()
            .user_by_username("doc2")
            .await
            .unwrap()
            .is_none()
    );
    // Nor may it promote an account of its own institution to a guarded role.
    forbidden(
        app.update_account(
            &admin,
            doc.user.id,
            "测试doc1",
            Some(w.town),
            &["doctor".into(), "auditor".into()],
            true,
        )
        .await,
    );
    assert_eq!(
        app.store().roles_of(doc.user.id).await.unwrap(),
        vec![Role::Doctor]
    );

    // Password reset: a temporary password that signs in and must be changed; the doctor's
    // sessions end.
    let (_, doc_session) = sign_in_as(app, "doc1", PASSWORD).await;
    let temp = app.reset_password(&admin, doc.user.id).await.unwrap();
    assert_ne!(temp, PASSWORD);
    assert!(
        app.session_principal(&doc_session.session_token)
            .await
            .unwrap()
            .is_none()
    );
    bad_credentials(app.sign_in(&anon(ADDR), "doc1", PASSWORD, None).await);
    let (doc_ctx, signed) = sign_in_as(app, "doc1", &temp).await;
    assert!(signed.must_change_password);
    assert!(matches!(
        app.list_institutions(&doc_ctx, &Default::default()).await,
        Err(AppError::PasswordChangeRequired)
    ));
    app.change_password(&doc_ctx, &temp, "Qingshan#2027x")
        .await
        .unwrap();
    // Not for an account of another township.
    let other = account(&w, "doc5", Some(w.town2), "doctor").await;
    forbidden(app.reset_password(&admin, other).await);
    app.sign_in(&anon(ADDR), "doc5", PASSWORD, None)
        .await
        .unwrap();

    let resets = audit(
        app,
        AuditFilter {
            action: Some("account.password_reset".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0].actor_name, "tadmin");
    chain_ok(app).await;
}
both_backends!(
    institution_admin_cannot_escalate,
    institution_admin_cannot_escalate
);

// ------------------------------------------------------------------ 9. role permissions

async fn role_permissions_are_configurable(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    account(&w, "root", None, "system_admin").await;
    account(&w, "nurse1", Some(w.town), "nurse").await;
    account(&w, "doc1", Some(w.town), "doctor").await;
    let root = ctx_of(app, "root").await;

    let table = app.role_permissions(&root).await.unwrap();
    let nurse: Vec<Permission> = table
        .iter()
        .filter(|(r, _)| *r == Role::Nurse)
        .map(|(_, p)| *p)
        .collect();
    let mut expected = default_permissions(Role::Nurse).to_vec();
    expected.sort_by_key(|p| p.code());
    assert_eq!(nurse, expected);

    let before = ctx_of(app, "nurse1").await;
    app.list_institutions(&before, &Default::default())
        .await
        .unwrap();

    app.set_role_permissions(
        &root,
        Role::Nurse,
        &[Permission::PatientRead, Permission::PatientWrite],
    )
    .await
    .unwrap();
    let after = ctx_of(app, "nurse1").await;
    assert!(!after.principal().unwrap().can(Permission::RegistryRead));
    assert!(after.principal().unwrap().can(Permission::PatientRead));
    forbidden(app.list_institutions(&after, &Default::default()).await);
    // Doctors are unaffected.
    let doc = ctx_of(app, "doc1").await;
    app.list_institutions(&doc, &Default::default())
        .await
        .unwrap();

    // The system administrator must keep role.manage.
    conflict(
        app.set_role_permissions(&root, Role::SystemAdmin, &[Permission::RegistryRead])
            .await,
    );
    let root_again = ctx_of(app, "root").await;
    assert!(root_again.principal().unwrap().can(Permission::RoleManage));
    // A doctor may neither change nor read the table.
    forbidden(
        app.set_role_permissions(&doc, Role::Doctor, Permission::ALL)
            .await,
    );
    forbidden(app.role_permissions(&doc).await);
    let doc_again = ctx_of(app, "doc1").await;
    assert!(!doc_again.principal().unwrap().can(Permission::AuditRead));

    let updates = audit(
        app,
        AuditFilter {
            action: Some("role.update".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        updates
            .iter()
            .filter(|e| e.outcome == Outcome::Allowed)
            .count(),
        1
    );
    assert_eq!(
        updates
            .iter()
            .filter(|e| e.outcome == Outcome::Denied)
            .count(),
        1
    );
    chain_ok(app).await;
}
both_backends!(
    role_permissions_are_configurable,
    role_permissions_are_configurable
);

// ------------------------------------------------------------------ 10. resident scope

async fn resident_scope_and_break_glass(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    let sys = &w.sys;
    let doc_id = account(&w, "doc1", Some(w.town), "doctor").await;
    account(&w, "doc2", Some(w.town2), "doctor").await;
    account(&w, "nurse1", Some(w.town), "nurse").await;
    account(&w, "cadmin", Some(w.hospital), "community_admin").await;
    account(&w, "aud", Some(w.hospital), "auditor").await;
    let doc = ctx_of(app, "doc1").await;
    let doc2 = ctx_of(app, "doc2").await;
    let nurse = ctx_of(app, "nurse1").await;
    let aud = ctx_of(app, "aud").await;

    let own = bare_person(app).await;
    let sub = Uuid::now_v7();
    let referred = Uuid::now_v7();
    let mine = Uuid::now_v7();
    let expired = Uuid::now_v7();
    let stranger = bare_person(app).await;
    app.link_resident(sys, own, Some(w.town), None, "registered", None, None)
        .await
        .unwrap();
    app.link_resident(sys, sub, Some(w.village), None, "registered", None, None)
        .await
        .unwrap();
    app.link_resident(sys, referred, Some(w.town2), None, "registered", None, None)
        .await
        .unwrap();
    app.link_resident(
        sys,
        referred,
        Some(w.town),
        None,
        "referral",
        Some("ref-1"),
        None,
    )
    .await
    .unwrap();
    app.link_resident(
        sys,
        mine,
        Some(w.town2),
        Some(doc_id),
        "contract",
        None,
        None,
    )
    .await
    .unwrap();
    app.link_resident(
        sys,
        expired,
        Some(w.town),
        None,
        "registered",
        None,
        Some(OffsetDateTime::now_utc() - time::Duration::days(1)),
    )
    .await
    .unwrap();
    assert_invalid_field(
        app.link_resident(sys, stranger, Some(w.town), None, "friend", None, None)
            .await,
        "kind",
    );

    let access = |ctx: &Ctx, r: Uuid| {
        let ctx = ctx.clone();
        async move {
            app.resident_access(&ctx, r, "resident.read", "treatment")
                .await
        }
    };
    assert_eq!(access(&doc, own).await.unwrap(), ScopeKind::OwnInstitution);
    assert_eq!(access(&doc, sub).await.unwrap(), ScopeKind::Subordinate);
    assert_eq!(access(&doc, referred).await.unwrap(), ScopeKind::CareLink);
    assert_eq!(access(&doc, mine).await.unwrap(), ScopeKind::CareLink);
    // The other township's doctor sees its own registrations, not T's.
    assert_eq!(
        access(&doc2, referred).await.unwrap(),
        ScopeKind::OwnInstitution
    );
    forbidden(access(&doc2, own).await);
    forbidden(access(&doc2, sub).await);
    forbidden(access(&doc, expired).await);
    forbidden(access(&doc, stranger).await);
    assert!(matches!(
        app.resident_access(&anon(ADDR), own, "resident.read", "treatment")
            .await,
        Err(AppError::Unauthenticated)
    ));

    let denied = audit(
        app,
        AuditFilter {
            resident_id: Some(stranger),
            outcome: Some(Outcome::Denied),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].resident_id, Some(stranger));
    assert_eq!(denied[0].actor_user_id, Some(doc_id));
    assert_eq!(denied[0].action, "resident.read");
    assert_eq!(denied[0].purpose.as_deref(), Some("treatment"));
    let allowed = audit(
        app,
        AuditFilter {
            resident_id: Some(own),
            outcome: Some(Outcome::Allowed),
            action: Some("resident.read".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0].detail.as_deref(), Some("scope=own_institution"));

    // Break-glass.
    let r = assert_invalid_field(app.break_glass(&doc, stranger, "急诊").await, "reason");
    assert!(r.message().to_string().contains("min=10"), "{r:?}");
    assert_invalid_field(app.break_glass(&doc, stranger, "   ").await, "reason");
    forbidden(app.break_glass(&nurse, stranger, REASON).await);
    forbidden(access(&doc, stranger).await);
    let grant = app.break_glass(&doc, stranger, REASON).await.unwrap();
    assert_eq!(grant.user_id, doc_id);
    assert_eq!(grant.resident_id, stranger);
    assert_eq!(grant.institution_id, Some(w.town));
    assert_eq!(grant.reason, REASON);
    assert!(grant.expires_at > grant.started_at);
    assert!(grant.reviewed_at.is_none());
    assert_eq!(access(&doc, stranger).await.unwrap(), ScopeKind::BreakGlass);
    // The grant is the doctor's alone.
    forbidden(access(&doc2, stranger).await);
    forbidden(access(&nurse, stranger).await);
    // Existing links still win over break-glass.
    app.break_glass(&doc, own, REASON).await.unwrap();
    assert_eq!(access(&doc, own).await.unwrap(), ScopeKind::OwnInstitution);

    // A community administrator holds patient.community_wide by default but not patient.read,
    // which resident_access demands first; so the community-wide scope is only reachable once
    // patient.read is added to the role (see the report of this suite).
    let mut perms = default_permissions(Role::CommunityAdmin).to_vec();
    perms.push(Permission::PatientRead);
    app.set_role_permissions(sys, Role::CommunityAdmin, &perms)
        .await
        .unwrap();
    let ca = ctx_of(app, "cadmin").await;
    assert_eq!(
        access(&ca, stranger).await.unwrap(),
        ScopeKind::CommunityWide
    );
    assert_eq!(access(&ca, own).await.unwrap(), ScopeKind::CommunityWide);
    forbidden(access(&aud, own).await);
    forbidden(access(&aud, stranger).await);

    // Review by an auditor; doctors may not see the queue.
    forbidden(app.break_glass_queue(&doc, true).await);
    forbidden(
        app.review_break_glass(&doc, grant.id, "justified", None)
            .await,
    );
    let queue = app.break_glass_queue(&aud, true).await.unwrap();
    assert_eq!(queue.len(), 2);
    assert!(queue.iter().any(|g| g.id == grant.id));
    assert_invalid_field(
        app.review_break_glass(&aud, grant.id, "fine", None).await,
        "outcome",
    );
    let reviewed = app
        .review_break_glass(&aud, grant.id, "justified", Some("急诊记录已核对"))
        .await
        .unwrap();
    assert_eq!(reviewed.review_outcome.as_deref(), Some("justified"));
    assert_eq!(reviewed.review_note.as_deref(), Some("急诊记录已核对"));
    assert!(reviewed.reviewed_at.is_some());
    assert_eq!(
        reviewed.reviewed_by,
        aud.principal().and_then(|p| p.user_id)
    );
    conflict(
        app.review_break_glass(&aud, grant.id, "unjustified", None)
            .await,
    );
    conflict(
        app.review_break_glass(&aud, Uuid::now_v7(), "justified", None)
            .await,
    );
    let queue = app.break_glass_queue(&aud, true).await.unwrap();
    assert!(!queue.iter().any(|g| g.id == grant.id));
    assert_eq!(queue.len(), 1);
    let all = app.break_glass_queue(&aud, false).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        app.store()
            .break_glass(grant.id)
            .await
            .unwrap()
            .unwrap()
            .review_outcome
            .as_deref(),
        Some("justified")
    );

    let bg = audit(
        app,
        AuditFilter {
            action: Some("resident.break_glass".into()),
            resident_id: Some(stranger),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        bg.iter().filter(|e| e.outcome == Outcome::Allowed).count(),
        1
    );
    assert_eq!(
        bg.iter().filter(|e| e.outcome == Outcome::Denied).count(),
        1
    );
    assert!(bg.iter().all(|e| e.purpose.as_deref() == Some("emergency")));
    let reviews = audit(
        app,
        AuditFilter {
            action: Some("audit.break_glass_review".into()),
            outcome: Some(Outcome::Allowed),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(reviews.len(), 1);
    chain_ok(app).await;
}
both_backends!(
    resident_scope_and_break_glass,
    resident_scope_and_break_glass
);

// ------------------------------------------------------------------ regressions

/// An institution administrator cannot reset or change an account that holds a role only global
/// account administrators grant (that would hand it the auditor's or administrator's powers).
async fn guarded_accounts_are_out_of_local_reach(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let auditor = account(&w, "aud1", Some(w.town), "auditor").await;
    account(&w, "tadmin", Some(w.town), "institution_admin").await;
    let admin = ctx_of(&w.app, "tadmin").await;
    forbidden(w.app.reset_password(&admin, auditor).await);
    forbidden(
        w.app
            .update_account(
                &admin,
                auditor,
                "审计员",
                Some(w.town),
                &["auditor".into()],
                false,
            )
            .await,
    );
    let (user, _) = w.app.account(&w.sys, auditor).await.unwrap();
    assert!(user.active, "the refused update changed nothing");
    chain_ok(&w.app).await;
}
both_backends!(
    guarded_accounts_are_out_of_local_reach,
    guarded_accounts_are_out_of_local_reach
);

/// A password change ends the user's other sessions, not the one that made the change; an
/// unknown user name is made to wait like a real one.
async fn password_change_ends_other_sessions(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    account(&w, "doc", Some(w.town), "doctor").await;
    let (ctx1, s1) = sign_in_as(&w.app, "doc", PASSWORD).await;
    let (_, s2) = sign_in_as(&w.app, "doc", PASSWORD).await;
    w.app
        .change_password(&ctx1, PASSWORD, "Qingshan#2027x")
        .await
        .unwrap();
    assert!(
        w.app
            .session_principal(&s1.session_token)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        w.app
            .session_principal(&s2.session_token)
            .await
            .unwrap()
            .is_none()
    );

    for _ in 0..5 {
        bad_credentials(w.app.sign_in(&anon("10.0.0.9"), "nobody", "x", None).await);
    }
    throttled(w.app.sign_in(&anon("10.0.0.9"), "nobody", "x", None).await);
    chain_ok(&w.app).await;
}
both_backends!(
    password_change_ends_other_sessions,
    password_change_ends_other_sessions
);

// ------------------------------------------------------------------ password context

/// The password policy knows the county: the platform's, the community's and the
/// institutions' names (and their pinyin and initials), the person's name and years near now
/// give a password no strength, when an account is created and when a password is changed.
async fn passwords_are_not_built_from_the_county(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    let built = "account.password_from_names";
    let year = OffsetDateTime::now_utc().year();
    let yunxi = format!("Yunxi@{}", year + 1);
    for (pw, name) in [
        (yunxi.as_str(), "测试甲"),
        ("医共体平台1a", "测试甲"),
        ("Liuhe#Tq8mVz2", "测试甲"),
        ("Shiqiao#Tq8mVz", "测试甲"),
        ("柳河镇Tq8#mVz", "测试甲"),
        ("Yxxrmyy#Tq8m!", "测试甲"),
        ("张三张三1a", "张三"),
    ] {
        let d = AccountDraft {
            display_name: name.into(),
            password: Some(pw.into()),
            ..draft("ctx.user", Some(w.town), "doctor", false)
        };
        let reason = assert_invalid_field(app.create_account(&w.sys, &d).await, "password");
        let zh = reason.message().to_string();
        assert!(
            zh == built || zh == "account.password_has_name",
            "{pw}: {zh}"
        );
    }
    assert!(
        app.store()
            .user_by_username("ctx.user")
            .await
            .unwrap()
            .is_none()
    );
    // Ten other units beside them are enough.
    let d = AccountDraft {
        password: Some("YunxiTq8#mVz2Lp".into()),
        ..draft("ctx.user", Some(w.town), "doctor", false)
    };
    app.create_account(&w.sys, &d).await.unwrap();
    let (ctx, _) = sign_in_as(app, "ctx.user", "YunxiTq8#mVz2Lp").await;
    let reason = assert_invalid_field(
        app.change_password(&ctx, "YunxiTq8#mVz2Lp", &format!("Tq8#mVz{year}"))
            .await,
        "new_password",
    );
    assert_eq!(reason.message().to_string(), built);
    app.change_password(&ctx, "YunxiTq8#mVz2Lp", PASSWORD)
        .await
        .unwrap();
}
both_backends!(
    passwords_are_not_built_from_the_county,
    passwords_are_not_built_from_the_county
);

// ------------------------------------------------------------------ separation of duties

/// The context of an API token.
async fn token_ctx(app: &App, secret: &str) -> Ctx {
    user_ctx(app.token_principal(secret).await.unwrap().unwrap())
}

/// An institution administrator and a community administrator cannot give their own account
/// the doctor role, nor read patient data by any route: their own roles and institution,
/// role permissions, tokens with patient-data permissions (held or from the integration set),
/// a community-wide token, break-glass. Refusals are audited.
async fn administrators_cannot_give_themselves_patient_access(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    let resident = app
        .register_resident(
            &w.sys,
            &ygt_app::mpi::ResidentDraft {
                institution_id: w.town.to_string(),
                name: "周八".into(),
                id_number: Some("341890198001010010".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    let tadmin = account(&w, "tadmin", Some(w.town), "institution_admin").await;
    let cadmin = account(&w, "cadmin", Some(w.hospital), "community_admin").await;
    for (name, id, inst, role) in [
        ("tadmin", tadmin, w.town, Role::InstitutionAdmin),
        ("cadmin", cadmin, w.hospital, Role::CommunityAdmin),
    ] {
        let me = ctx_of(app, name).await;
        let own = role.code().to_owned();
        // Their own roles and institution: refused, however asked.
        for (roles, at) in [
            (vec![own.clone(), "doctor".into()], inst),
            (vec!["doctor".into()], inst),
            (vec![own.clone(), "nurse".into()], inst),
            (vec![own.clone()], w.town2),
        ] {
            forbidden(
                app.update_account(&me, id, "管理员", Some(at), &roles, true)
                    .await,
            );
        }
        assert_eq!(app.store().roles_of(id).await.unwrap(), vec![role]);
        // Their own name is theirs to change.
        app.update_account(
            &me,
            id,
            "新名字",
            Some(inst),
            std::slice::from_ref(&own),
            true,
        )
        .await
        .unwrap();
        // Role permissions are not theirs to change, least of all their own role's.
        forbidden(
            app.set_role_permissions(&me, role, &[Permission::PatientRead])
                .await,
        );
        forbidden(
            app.set_role_permissions(&me, Role::Doctor, default_permissions(Role::Doctor))
                .await,
        );
        // No token of theirs carries patient data they lack, nor the integration set.
        for perms in [
            vec!["patient.read".to_owned()],
            vec!["integration".to_owned()],
            vec!["patient.write".to_owned()],
            vec!["record.read_own".to_owned()],
        ] {
            forbidden(app.create_token(&me, "自用令牌", inst, &perms, None).await);
        }
        // Administration is never a token's.
        assert_invalid_field(
            app.create_token(&me, "x", inst, &["account.manage".into()], None)
                .await,
            "permissions",
        );
        // The resident's data: refused at every use case, with a session or a token holding
        // what the administrator holds (community-wide scope reads nothing without
        // patient.read).
        let mut doors = vec![me.clone()];
        if role == Role::CommunityAdmin {
            let t = app
                .create_token(
                    &me,
                    "全域令牌",
                    inst,
                    &["patient.community_wide".into(), "registry.read".into()],
                    None,
                )
                .await
                .unwrap();
            doors.push(token_ctx(app, &t.secret).await);
        }
        for ctx in &doors {
            forbidden(app.person_detail(ctx, resident, "treatment").await);
            forbidden(
                app.patient_record(ctx, resident, &Default::default(), "treatment")
                    .await,
            );
            forbidden(app.search_residents(ctx, "周八", 10).await);
            forbidden(app.break_glass(ctx, resident, REASON).await);
            forbidden(app.reveal_person(ctx, resident).await);
        }
        // A new session is no different.
        let again = ctx_of(app, name).await;
        assert!(!again.principal().unwrap().can(Permission::PatientRead));
        assert_eq!(again.principal().unwrap().roles, vec![role]);
    }
    let denied = audit(
        app,
        AuditFilter {
            action: Some("account.update".into()),
            outcome: Some(Outcome::Denied),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(denied.len(), 8, "{denied:?}");
    // The institution administrator's move to another township is out of its scope anyway.
    assert_eq!(
        denied
            .iter()
            .filter(|e| e.detail.as_deref() == Some("own roles or institution"))
            .count(),
        7
    );
    chain_ok(app).await;
}
both_backends!(
    administrators_cannot_give_themselves_patient_access,
    administrators_cannot_give_themselves_patient_access
);

/// Nobody changes the permissions of a role they hold (a second system administrator may);
/// an API token administers nothing; every grant of patient-data rights is audited with its
/// own action and listed for auditors (and only for them).
async fn grants_of_patient_data_are_listed_for_review(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    account(&w, "root", None, "system_admin").await;
    account(&w, "root2", None, "system_admin").await;
    account(&w, "aud", Some(w.hospital), "auditor").await;
    account(&w, "tadmin", Some(w.town), "institution_admin").await;
    let root = ctx_of(app, "root").await;
    let root2 = ctx_of(app, "root2").await;
    let tadmin = ctx_of(app, "tadmin").await;

    // Her own role: refused; another administrator's change is fine and listed.
    let mut more = default_permissions(Role::SystemAdmin).to_vec();
    more.push(Permission::PatientRead);
    forbidden(
        app.set_role_permissions(&root, Role::SystemAdmin, &more)
            .await,
    );
    app.set_role_permissions(
        &root2,
        Role::Finance,
        &[
            Permission::RegistryRead,
            Permission::FinanceRead,
            Permission::PatientRead,
        ],
    )
    .await
    .unwrap();
    // Changes that add no patient-data permission are not grants.
    app.set_role_permissions(&root2, Role::Pharmacist, &[Permission::RegistryRead])
        .await
        .unwrap();
    // An account given a role with patient data: on creation and on update.
    let doc = app
        .create_account(&tadmin, &draft("doc.new", Some(w.town), "doctor", false))
        .await
        .unwrap();
    let clerk = app
        .create_account(&tadmin, &draft("clerk", Some(w.town), "pharmacist", false))
        .await
        .unwrap();
    app.update_account(
        &tadmin,
        clerk.user.id,
        "测试clerk",
        Some(w.town),
        &["pharmacist".into(), "nurse".into()],
        true,
    )
    .await
    .unwrap();
    // An integration token, by a system administrator.
    let lis = app
        .create_token(
            &root,
            "柳河 检验系统",
            w.town,
            &["integration".into()],
            None,
        )
        .await
        .unwrap();
    // A token administers nothing, even one made with what its maker holds.
    let reader = app
        .create_token(&root, "只读", w.town, &["registry.read".into()], None)
        .await
        .unwrap();
    let t = token_ctx(app, &reader.secret).await;
    forbidden(
        app.create_token(&t, "x", w.town, &["registry.read".into()], None)
            .await,
    );

    let aud = ctx_of(app, "aud").await;
    let (grants, total) = app.grant_review(&aud, 50, 0).await.unwrap();
    assert_eq!(total, 4, "{grants:?}");
    use ygt_app::audit::GrantKind;
    let token = &grants[0];
    assert_eq!(token.kind, GrantKind::Token);
    assert_eq!(token.target, "柳河 检验系统");
    assert_eq!(token.target_id, Some(lis.token.id));
    assert_eq!(
        token.permissions,
        vec![Permission::PatientWrite, Permission::RecordReadOwn]
    );
    assert_eq!(grants[1].kind, GrantKind::AccountRole);
    assert_eq!(grants[1].target, "clerk");
    assert_eq!(grants[1].role, Some(Role::Nurse));
    assert_eq!(grants[1].actor_name, "tadmin");
    assert_eq!(grants[2].target, "doc.new");
    assert_eq!(grants[2].target_id, Some(doc.user.id));
    assert_eq!(grants[2].role, Some(Role::Doctor));
    assert!(grants[2].permissions.contains(&Permission::PatientRead));
    assert_eq!(grants[3].kind, GrantKind::RolePermission);
    assert_eq!(grants[3].role, Some(Role::Finance));
    assert_eq!(grants[3].permissions, vec![Permission::PatientRead]);
    assert_eq!(grants[3].actor_name, "root2");
    // Paging.
    let (page2, total2) = app.grant_review(&aud, 3, 3).await.unwrap();
    assert_eq!((page2.len(), total2), (1, 4));
    // Only auditors review.
    forbidden(app.grant_review(&root, 50, 0).await);
    forbidden(app.grant_review(&tadmin, 50, 0).await);
    chain_ok(app).await;
}
both_backends!(
    grants_of_patient_data_are_listed_for_review,
    grants_of_patient_data_are_listed_for_review
);

// ------------------------------------------------------------------ principals kept in memory

/// Resolves a session; returns whether it may read the registry and the statements it ran.
async fn registry_reader(app: &App, token: &str) -> (Option<bool>, u64) {
    let (p, n) =
        ygt_app::ygt_store::count_statements(async { app.session_principal(token).await.unwrap() })
            .await;
    (p.map(|i| i.principal.can(Permission::RegistryRead)), n)
}

/// Waits until a PostgreSQL store hears principal changes (its listener is connected).
async fn listening(app: &App) {
    for _ in 0..100 {
        if app.store().principals_generation().is_some() {
            return;
        }
        sleep_ms(50).await;
    }
    panic!("the principal listener did not connect");
}

/// A resolved session or token is kept: resolving it again reads nothing; a change of role
/// permissions, a sign-out and a token's revocation take effect on the next request.
async fn principals_are_kept_and_dropped_at_once(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    account(&w, "root", None, "system_admin").await;
    account(&w, "nurse1", Some(w.town), "nurse").await;
    let root = ctx_of(app, "root").await;
    listening(app).await;
    // Signing in resolved the session once (from the database); now it is kept.
    let (nurse, signed) = sign_in_as(app, "nurse1", PASSWORD).await;
    assert_eq!(
        registry_reader(app, &signed.session_token).await,
        (Some(true), 0)
    );

    app.set_role_permissions(&root, Role::Nurse, &[Permission::PatientRead])
        .await
        .unwrap();
    let (can, n) = registry_reader(app, &signed.session_token).await;
    assert_eq!(can, Some(false), "the new permissions at once");
    assert!(n > 0);
    assert_eq!(
        registry_reader(app, &signed.session_token).await,
        (Some(false), 0)
    );

    app.sign_out(&nurse, &signed.session_token).await.unwrap();
    assert_eq!(registry_reader(app, &signed.session_token).await.0, None);

    let token = app
        .create_token(&w.sys, "集成", w.town, &["patient.read".into()], Some(30))
        .await
        .unwrap();
    let resolve = || async {
        ygt_app::ygt_store::count_statements(async {
            app.token_principal(&token.secret).await.unwrap().is_some()
        })
        .await
    };
    assert!(resolve().await.0);
    assert_eq!(resolve().await, (true, 0));
    app.revoke_token(&root, token.token.id).await.unwrap();
    assert!(!resolve().await.0, "a revoked token at once");
    chain_ok(app).await;
}
both_backends!(
    principals_are_kept_and_dropped_at_once,
    principals_are_kept_and_dropped_at_once
);

/// Two processes on one PostgreSQL database: a permission taken away in one is refused by
/// the other as soon as the notification arrives, though the other kept the principal.
/// (SQLite is served by one process per database file.)
async fn another_process_drops_what_it_kept(db: TestDb) {
    let w = world(&db, Settings::default()).await;
    let app = &w.app;
    account(&w, "root", None, "system_admin").await;
    account(&w, "nurse1", Some(w.town), "nurse").await;
    let root = ctx_of(app, "root").await;
    let (_, signed) = sign_in_as(app, "nurse1", PASSWORD).await;
    let other = App::new(Store::open(&db.url).await.unwrap());
    listening(&other).await;
    assert_eq!(
        registry_reader(&other, &signed.session_token).await.0,
        Some(true)
    );
    assert_eq!(
        registry_reader(&other, &signed.session_token).await,
        (Some(true), 0)
    );

    app.set_role_permissions(&root, Role::Nurse, &[Permission::PatientRead])
        .await
        .unwrap();
    let mut waited = 0;
    while registry_reader(&other, &signed.session_token).await.0 != Some(false) {
        assert!(
            waited < 2000,
            "the other process still allows after {waited} ms"
        );
        sleep_ms(10).await;
        waited += 10;
    }
    // And back: allowed again there.
    app.set_role_permissions(&root, Role::Nurse, default_permissions(Role::Nurse))
        .await
        .unwrap();
    let mut waited = 0;
    while registry_reader(&other, &signed.session_token).await.0 != Some(true) {
        assert!(
            waited < 2000,
            "the other process still refuses after {waited} ms"
        );
        sleep_ms(10).await;
        waited += 10;
    }
}
#[test]
fn another_process_drops_what_it_kept_postgres() {
    ygt_testkit::__private::block_on(async {
        if let Some(db) = TestDb::postgres().await {
            another_process_drops_what_it_kept(db).await;
        }
    });
}
