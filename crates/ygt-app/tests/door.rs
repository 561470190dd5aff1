//! Issue 12 at the use cases: integration tokens and their expiry, token-only permissions kept
//! out of roles, break-glass rules (reason, existing resident, duration), sessions that long
//! connections check, and the audit chain's expected head. Each on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Debug;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_app::account::AccountDraft;
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::mpi::Golden;
use ygt_app::{App, AppError, Ctx, Settings};
use ygt_domain::access::{INTEGRATION_PERMISSIONS, Permission, Role, default_permissions};
use ygt_domain::org::InstitutionDraft;
use ygt_testkit::{TestDb, both_backends};

const PASSWORD: &str = "Demo-Kite#58";
const REASON: &str = "急诊昏迷患者，需查看既往史";

struct World {
    app: App,
    sys: Ctx,
    hospital: Uuid,
    town: Uuid,
}

async fn world(db: &TestDb) -> World {
    world_with(db, Settings::default()).await
}

async fn world_with(db: &TestDb, settings: Settings) -> World {
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
    let town = app
        .create_institution(
            &sys,
            &InstitutionDraft {
                name: "柳河镇卫生院".into(),
                kind: "township_health_centre".into(),
                parent_id: Some(hospital.to_string()),
                division_code: "341890100".into(),
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
    }
}

/// Creates an account and returns the context of a signed-in session (and its token).
async fn signed_in(w: &World, name: &str, institution: Uuid, role: Role) -> (Ctx, String) {
    w.app
        .create_account(
            &w.sys,
            &AccountDraft {
                username: name.into(),
                display_name: format!("测试{name}"),
                institution_id: Some(institution.to_string()),
                roles: vec![role.code().into()],
                password: Some(PASSWORD.into()),
                must_change_password: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let anon = Ctx::anonymous("t".into(), Some("10.0.0.9".into()));
    let signed = w.app.sign_in(&anon, name, PASSWORD, None).await.unwrap();
    let info = w
        .app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap();
    let ctx = Ctx {
        actor: ygt_app::Actor::User(Box::new(info.principal)),
        request_id: "t".into(),
        client_addr: None,
    };
    (ctx, signed.session_token)
}

fn invalid_field<T: Debug>(r: Result<T, AppError>, field: &str) -> String {
    match r {
        Err(AppError::Invalid(e)) => {
            let f = e.first().unwrap();
            assert_eq!(f.field, field, "{e:?}");
            f.reason.message().to_string()
        }
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}

fn forbidden<T: Debug>(r: Result<T, AppError>) {
    assert!(matches!(r, Err(AppError::Forbidden { .. })), "{r:?}");
}

async fn person(app: &App) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = app.store().begin().await.unwrap();
    let g = Golden {
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

// ------------------------------------------------------------------ integration tokens

async fn integration_tokens(db: TestDb) {
    let w = world(&db).await;
    let app = &w.app;
    // A system administrator holds token.manage but neither patient.write nor record.read_own.
    let (admin, _) = signed_in(&w, "sysadmin", w.hospital, Role::SystemAdmin).await;
    let p = admin.principal().unwrap();
    assert!(!p.can(Permission::PatientWrite) && !p.can(Permission::RecordReadOwn));

    // The integration set may be given to a token anyway, by name or as `integration`.
    let t = app
        .create_token(
            &admin,
            "柳河检验系统",
            w.town,
            &["integration".into()],
            None,
        )
        .await
        .unwrap();
    let tp = app.token_principal(&t.secret).await.unwrap().unwrap();
    for p in INTEGRATION_PERMISSIONS {
        assert!(tp.can(*p), "{p}");
    }
    assert_eq!(tp.permissions.len(), INTEGRATION_PERMISSIONS.len());
    assert_eq!(tp.institution_id, Some(w.town));
    let t2 = app
        .create_token(
            &admin,
            "his",
            w.town,
            &["patient.write".into(), "record.read_own".into()],
            Some(30),
        )
        .await
        .unwrap();
    assert_eq!(t2.token.permissions, t.token.permissions);
    // Other permissions the creator lacks still may not be given.
    forbidden(
        app.create_token(
            &admin,
            "x",
            w.town,
            &["integration".into(), "patient.read".into()],
            None,
        )
        .await,
    );
    // A doctor (no token.manage) may not make one at all.
    let (doc, _) = signed_in(&w, "doc", w.town, Role::Doctor).await;
    forbidden(
        app.create_token(&doc, "x", w.town, &["integration".into()], None)
            .await,
    );

    // Expiry: 90 days by default, at most 365, never without.
    let now = OffsetDateTime::now_utc();
    let exp = t.token.expires_at.expect("tokens expire");
    assert!(
        (exp - now - Duration::days(90)).abs() < Duration::minutes(5),
        "{exp}"
    );
    let exp2 = t2.token.expires_at.unwrap();
    assert!((exp2 - now - Duration::days(30)).abs() < Duration::minutes(5));
    for days in [0, 366, 3650] {
        let msg = invalid_field(
            app.create_token(&admin, "x", w.town, &["integration".into()], Some(days))
                .await,
            "valid_days",
        );
        assert!(msg.contains("365"), "{msg}");
    }
    app.create_token(&admin, "year", w.town, &["integration".into()], Some(365))
        .await
        .unwrap();

    // A token stored without expiry (made before expiry was required) ends a year after it
    // was made.
    let old = app
        .create_token(&w.sys, "legacy", w.town, &["registry.read".into()], None)
        .await
        .unwrap();
    let mut tx = app.store().begin().await.unwrap();
    tx.execute(
        ygt_app::ygt_store::Sql::new(
            "UPDATE api_tokens SET expires_at = NULL, created_at = ? WHERE id = ?",
        )
        .arg(now - Duration::days(366))
        .arg(old.token.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(app.token_principal(&old.secret).await.unwrap().is_none());

    // Token-only permissions never go to a role; other role edits are unchanged.
    let mut perms = default_permissions(Role::Nurse).to_vec();
    perms.push(Permission::RecordReadOwn);
    match app.set_role_permissions(&w.sys, Role::Nurse, &perms).await {
        Err(AppError::Conflict { field, msg }) => {
            assert_eq!(field.as_deref(), Some("permissions"));
            assert_eq!(msg.code, "account.token_only_permission");
            assert_eq!(msg.args.get("t"), Some(&Permission::RecordReadOwn.into()));
        }
        other => panic!("{other:?}"),
    }
    perms.pop();
    perms.push(Permission::PatientReveal);
    app.set_role_permissions(&w.sys, Role::Nurse, &perms)
        .await
        .unwrap();
}
both_backends!(integration_tokens, integration_tokens);

// ------------------------------------------------------------------ break-glass

async fn break_glass_rules(db: TestDb) {
    let w = world(&db).await;
    let app = &w.app;
    let (doc, _) = signed_in(&w, "doc", w.town, Role::Doctor).await;
    let stranger = person(app).await;

    // Reasons of dots, spaces or invisible characters are refused, naming the field.
    for bad in [
        "..........",
        "。。。。。。。。。。。。",
        "\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}\u{200c}",
        "\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}",
        "急 诊 ！ ！ ！ ！ ！ ！",
    ] {
        let msg = invalid_field(app.break_glass(&doc, stranger, bad).await, "reason");
        assert!(msg.contains("min=10"), "{msg}");
    }
    // A resident that does not exist is refused, naming the resident.
    invalid_field(
        app.break_glass(&doc, Uuid::now_v7(), REASON).await,
        "resident_id",
    );
    // Duration: up to the configured maximum.
    let max = app.settings().break_glass_for.whole_minutes();
    invalid_field(
        app.break_glass_for(&doc, stranger, REASON, Some(max + 1))
            .await,
        "minutes",
    );
    invalid_field(
        app.break_glass_for(&doc, stranger, REASON, Some(0)).await,
        "minutes",
    );
    let g = app
        .break_glass_for(&doc, stranger, REASON, Some(30))
        .await
        .unwrap();
    assert_eq!(g.expires_at - g.started_at, Duration::minutes(30));
    assert_eq!(g.resident_id, stranger);
    let g = app.break_glass(&doc, stranger, REASON).await.unwrap();
    assert_eq!(g.expires_at - g.started_at, app.settings().break_glass_for);
    assert_eq!(*app.break_glass_choices().last().unwrap(), max);

    // A merged person stands for its survivor: the grant is for the survivor.
    let survivor = person(app).await;
    let retired = person(app).await;
    let mut tx = app.store().begin().await.unwrap();
    tx.set_merged_into(retired, Some(survivor)).await.unwrap();
    tx.commit().await.unwrap();
    let g = app.break_glass(&doc, retired, REASON).await.unwrap();
    assert_eq!(g.resident_id, survivor);
    assert_eq!(
        app.resident_access(&doc, survivor, "resident.read", "emergency")
            .await
            .unwrap(),
        ygt_domain::access::ScopeKind::BreakGlass
    );
    let report = app.verify_audit_chain().await.unwrap();
    assert!(report.problem.is_none());
}
both_backends!(break_glass_rules, break_glass_rules);

// ------------------------------------------------------------------ sessions

async fn sessions_alive(db: TestDb) {
    let w = world(&db).await;
    let app = &w.app;
    let (ctx, token) = signed_in(&w, "doc", w.town, Role::Doctor).await;
    assert!(app.session_alive(&token).await.unwrap());
    assert!(!app.session_alive("nonsense").await.unwrap());
    app.sign_out(&ctx, &token).await.unwrap();
    assert!(!app.session_alive(&token).await.unwrap());
    // Sign-out everywhere ends the others too.
    let (ctx, token) = signed_in(&w, "doc2", w.town, Role::Doctor).await;
    let anon = Ctx::anonymous("t".into(), None);
    let second = app.sign_in(&anon, "doc2", PASSWORD, None).await.unwrap();
    app.sign_out_everywhere(&ctx).await.unwrap();
    assert!(!app.session_alive(&token).await.unwrap());
    assert!(!app.session_alive(&second.session_token).await.unwrap());
}
both_backends!(sessions_alive, sessions_alive);

/// An idle session is over for a long connection too, and asking does not count as activity.
async fn idle_sessions_are_not_alive(db: TestDb) {
    let w = world_with(
        &db,
        Settings {
            idle_timeout: Duration::seconds(1),
            ..Settings::default()
        },
    )
    .await;
    let (_, token) = signed_in(&w, "doc", w.town, Role::Doctor).await;
    for _ in 0..2 {
        assert!(w.app.session_alive(&token).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    assert!(!w.app.session_alive(&token).await.unwrap());
}
both_backends!(idle_sessions_are_not_alive, idle_sessions_are_not_alive);

// ------------------------------------------------------------------ audit head

async fn expected_head(db: TestDb) {
    let w = world(&db).await;
    let app = &w.app;
    let r = app.verify_audit_chain().await.unwrap();
    let (seq, hash) = r.head.clone().unwrap();
    assert_eq!(seq as u64, r.verified);
    assert_eq!(hash.len(), 64);
    // An older head is still reached after more events.
    signed_in(&w, "doc", w.town, Role::Doctor).await;
    let r = app
        .verify_audit_chain_expecting(Some(&hash.to_uppercase()))
        .await
        .unwrap();
    assert!(r.holds(Some(&hash)), "{r:?}");
    assert_eq!(r.expected_at, Some(seq));
    // A hash the chain never had is not.
    let r = app
        .verify_audit_chain_expecting(Some(&"0".repeat(64)))
        .await
        .unwrap();
    assert!(r.problem.is_none());
    assert!(!r.holds(Some(&"0".repeat(64))));
}
both_backends!(expected_head, expected_head);

// ------------------------------------------------------------------ audit inbox

/// The events of a resident (chain and inbox together, newest first).
async fn events_of(app: &App, resident: Uuid) -> Vec<ygt_domain::audit::AuditRecord> {
    let f = ygt_app::ygt_store::access::AuditFilter {
        resident_id: Some(resident),
        limit: 100,
        ..Default::default()
    };
    app.store().search_audit(&f).await.unwrap().0
}

/// A doctor who may open `resident` (break-glass, a write chained at once).
async fn reader(w: &World, name: &str, resident: Uuid) -> Ctx {
    let (doc, _) = signed_in(w, name, w.town, Role::Doctor).await;
    w.app.break_glass(&doc, resident, REASON).await.unwrap();
    doc
}

async fn tamper(app: &App, sql: &str) {
    let mut tx = app.store().begin().await.unwrap();
    tx.execute(ygt_app::ygt_store::Sql::new(sql)).await.unwrap();
    tx.commit().await.unwrap();
}

/// A read is recorded in the inbox at once (searchable, hash checked by verify) without
/// touching the chain; sealing moves it into the chain, same event, in order.
async fn reads_wait_in_the_inbox_until_sealed(db: TestDb) {
    let w = world(&db).await;
    let app = &w.app;
    let resident = person(app).await;
    let doc = reader(&w, "doc", resident).await;
    app.seal_audit_inbox().await.unwrap();
    let before = app.verify_audit_chain().await.unwrap();
    assert_eq!(before.pending, 0);
    app.resident_access(&doc, resident, "resident.read", "treatment")
        .await
        .unwrap();
    let waiting = app.verify_audit_chain().await.unwrap();
    assert!(waiting.holds(None), "{waiting:?}");
    assert_eq!(waiting.head, before.head, "a read does not touch the chain");
    assert_eq!(waiting.pending, 1);
    let found = events_of(app, resident).await;
    assert_eq!(found[0].action, "resident.read");
    assert_eq!(found[0].seq, 0, "waiting in the inbox");
    let id = found[0].id;

    let sealed = app.seal_audit_inbox().await.unwrap();
    assert_eq!(sealed.sealed, 1);
    let after = app.verify_audit_chain().await.unwrap();
    assert!(after.holds(None), "{after:?}");
    assert_eq!((after.pending, after.verified), (0, before.verified + 1));
    let found = events_of(app, resident).await;
    assert_eq!(
        (found[0].id, found[0].action.as_str()),
        (id, "resident.read")
    );
    assert_eq!(found[0].seq, after.head.unwrap().0);
}
both_backends!(
    reads_wait_in_the_inbox_until_sealed,
    reads_wait_in_the_inbox_until_sealed
);

/// An edited inbox event is reported by verify and never sealed (the chain stays intact).
async fn an_edited_inbox_event_is_found(db: TestDb) {
    let w = world(&db).await;
    let app = &w.app;
    let resident = person(app).await;
    let doc = reader(&w, "doc", resident).await;
    for _ in 0..3 {
        app.resident_access(&doc, resident, "resident.read", "treatment")
            .await
            .unwrap();
    }
    let second: (i64,) = app
        .store()
        .fetch_one(ygt_app::ygt_store::Sql::new(
            "SELECT MIN(seq) + 1 FROM audit_inbox",
        ))
        .await
        .unwrap();
    tamper(
        app,
        &format!(
            "UPDATE audit_inbox SET purpose = 'research' WHERE seq = {}",
            second.0
        ),
    )
    .await;
    let r = app.verify_audit_chain().await.unwrap();
    assert!(r.problem.is_none());
    assert_eq!(r.inbox_modified, Some(second.0));
    assert!(!r.holds(None));
    let sealed = app.seal_audit_inbox().await.unwrap();
    assert_eq!((sealed.sealed, sealed.tampered), (1, Some(second.0)));
    let r = app.verify_audit_chain().await.unwrap();
    assert!(r.problem.is_none(), "{r:?}");
    assert_eq!((r.pending, r.inbox_modified), (0, Some(second.0)));
}
both_backends!(
    an_edited_inbox_event_is_found,
    an_edited_inbox_event_is_found
);

/// Verify reads one snapshot: writes, reads and sealing committing while it runs never make a
/// healthy chain look broken (before, the head was read after the rows and a commit between
/// them reported a mismatch).
async fn verify_reads_one_snapshot(db: TestDb) {
    let w = world(&db).await;
    let app = w.app.clone();
    let resident = person(&app).await;
    let doc = reader(&w, "doc", resident).await;
    let busy = {
        let app = app.clone();
        tokio::spawn(async move {
            for _ in 0..60 {
                app.break_glass(&doc, resident, REASON).await.unwrap();
                app.resident_access(&doc, resident, "resident.read", "treatment")
                    .await
                    .unwrap();
                app.seal_audit_inbox().await.unwrap();
            }
        })
    };
    let mut runs = 0;
    while !busy.is_finished() {
        let r = app.verify_audit_chain().await.unwrap();
        assert!(r.holds(None), "after {runs} runs: {r:?}");
        runs += 1;
    }
    busy.await.unwrap();
    assert!(runs > 1, "verify ran {runs} times");
    assert!(app.verify_audit_chain().await.unwrap().holds(None));
}
both_backends!(verify_reads_one_snapshot, verify_reads_one_snapshot);

/// Verify's snapshot blocks neither reads, writes nor sealing.
async fn a_verify_snapshot_blocks_nobody(db: TestDb) {
    let w = world(&db).await;
    let app = &w.app;
    let resident = person(app).await;
    let doc = reader(&w, "doc", resident).await;
    let mut snapshot = app.store().snapshot().await.unwrap();
    let head = snapshot.audit_head().await.unwrap();
    let work = async {
        app.resident_access(&doc, resident, "resident.read", "treatment")
            .await
            .unwrap();
        app.break_glass(&doc, resident, REASON).await.unwrap();
        app.seal_audit_inbox().await.unwrap()
    };
    let sealed = tokio::time::timeout(std::time::Duration::from_secs(20), work)
        .await
        .expect("blocked by a snapshot");
    assert_eq!(sealed.sealed, 1);
    assert_eq!(snapshot.audit_head().await.unwrap(), head, "one snapshot");
    snapshot.rollback().await.unwrap();
}
both_backends!(
    a_verify_snapshot_blocks_nobody,
    a_verify_snapshot_blocks_nobody
);

/// On PostgreSQL a transaction holding the chain head (as an import batch does from its start)
/// does not hold up the audit of a 360 page's read: the read answers while it is held.
#[test]
fn a_held_chain_head_does_not_hold_up_reads_postgres() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let Some(db) = TestDb::postgres().await else {
                return;
            };
            let w = world(&db).await;
            let app = &w.app;
            let resident = person(app).await;
            let doc = reader(&w, "doc", resident).await;
            let mut held = app.store().begin().await.unwrap();
            held.lock_writes().await.unwrap();
            let all = ygt_app::ygt_store::record::TimelineFilter::default();
            let read = app.patient_record(&doc, resident, &all, "treatment");
            let answered = tokio::time::timeout(std::time::Duration::from_secs(20), read).await;
            held.rollback().await.unwrap();
            answered
                .expect("the read waited for the chain head")
                .unwrap();
            let r = app.verify_audit_chain().await.unwrap();
            assert!(r.holds(None) && r.pending >= 1, "{r:?}");
        });
}
