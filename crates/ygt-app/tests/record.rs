//! The shared health record use cases, each scenario on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use uuid::Uuid;
use ygt_app::mpi::ResidentDraft;
use ygt_app::record::{ItemDraft, ParsedItem, PatientRef, ResultDraft};
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::record::TimelineFilter;
use ygt_app::{App, AppError, Ctx};
use ygt_domain::org::InstitutionDraft;
use ygt_testkit::{TestDb, both_backends};

struct County {
    app: App,
    ctx: Ctx,
    hospital: Uuid,
    town: Uuid,
}

async fn county(db: &TestDb) -> County {
    let app = App::new(Store::open(&db.url).await.unwrap());
    let ctx = Ctx::system();
    let mk = |name: &str, kind: &str, parent: Option<Uuid>, div: &str| InstitutionDraft {
        name: name.into(),
        kind: kind.into(),
        parent_id: parent.map(|p| p.to_string()),
        division_code: div.into(),
        ..Default::default()
    };
    let hospital = app
        .create_institution(
            &ctx,
            &mk("云溪县人民医院", "county_general_hospital", None, "341890"),
        )
        .await
        .unwrap()
        .id;
    let town = app
        .create_institution(
            &ctx,
            &mk(
                "柳河镇卫生院",
                "township_health_centre",
                Some(hospital),
                "341890100",
            ),
        )
        .await
        .unwrap()
        .id;
    County {
        app,
        ctx,
        hospital,
        town,
    }
}

fn glucose(inst: Uuid, source_id: &str, record_id: Option<&str>, value: &str) -> ItemDraft {
    ItemDraft {
        kind: "lab_report".into(),
        institution_id: inst.to_string(),
        source_system: "LIS".into(),
        source_id: source_id.into(),
        patient: PatientRef {
            record_id: record_id.map(str::to_owned),
            name: Some("王秀英".into()),
            ..Default::default()
        },
        occurred_at: "2026-11-20 08:30".into(),
        title: Some("空腹血糖".into()),
        results: vec![ResultDraft {
            code: "GLU".into(),
            name: Some("空腹血糖".into()),
            value: value.into(),
            unit: Some("mmol/L".into()),
            ref_range: Some("3.9-6.1".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn parse(app: &App, d: &ItemDraft) -> ParsedItem {
    let _ = app;
    d.parse(time::OffsetDateTime::now_utc()).unwrap()
}

/// Recorded once, sent again unchanged, corrected: one item, two versions, the history kept;
/// linked through the institution's patient number; visible in the timeline, the trend series
/// and the recognised results.
async fn record_idempotent_and_corrected(db: TestDb) {
    let c = county(&db).await;
    let reg = c
        .app
        .register_resident(
            &c.ctx,
            &ResidentDraft {
                institution_id: c.hospital.to_string(),
                record_id: Some("MR0001".into()),
                name: "王秀英".into(),
                id_number: Some("341890195507120029".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let d = glucose(c.hospital, "LAB-1", Some("MR0001"), "7.8");
    let first = c
        .app
        .record_items(&c.ctx, &[parse(&c.app, &d)], "test")
        .await
        .unwrap();
    assert_eq!(first[0].outcome, "created");
    assert_eq!(first[0].person_id, Some(reg.person_id));
    let again = c
        .app
        .record_items(&c.ctx, &[parse(&c.app, &d)], "test")
        .await
        .unwrap();
    assert_eq!(again[0].outcome, "unchanged");
    assert_eq!(again[0].item_id, first[0].item_id);
    let corrected = glucose(c.hospital, "LAB-1", Some("MR0001"), "6.8");
    let third = c
        .app
        .record_items(&c.ctx, &[parse(&c.app, &corrected)], "test")
        .await
        .unwrap();
    assert_eq!(third[0].outcome, "updated");
    assert_eq!(third[0].version, 2);
    let (item, obs, versions) = c.app.record_item(&c.ctx, first[0].item_id).await.unwrap();
    assert!(item.abnormal, "6.8 is above 3.9-6.1");
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].value_num, Some(6.8));
    assert_eq!(obs[0].abnormal.as_deref(), Some("H"));
    assert_eq!(versions.len(), 1);
    assert!(versions[0].body.contains("7.8"));

    let rec = c
        .app
        .patient_record(
            &c.ctx,
            reg.person_id,
            &TimelineFilter::default(),
            "treatment",
        )
        .await
        .unwrap();
    assert_eq!(rec.timeline.len(), 1);
    assert_eq!(rec.counts.get("lab_report"), Some(&1));
    let glu = rec.trends.iter().find(|t| t.key == "glu").unwrap();
    assert_eq!(glu.points.len(), 1);
    // Recognised for 30 days by default; the test's "now" is real time, the result is from
    // 2026-11-20, so it is recognised only while that is within 30 days.
    let recognised = c
        .app
        .recognised_results(&c.ctx, reg.person_id)
        .await
        .unwrap();
    let fresh = time::OffsetDateTime::now_utc()
        < time::macros::datetime!(2026-11-20 00:30 UTC) + time::Duration::days(30);
    assert_eq!(recognised.iter().any(|r| r.code == "GLU"), fresh);
    assert!(c.app.verify_audit_chain().await.unwrap().problem.is_none());
}
both_backends!(
    record_idempotent_and_corrected,
    record_idempotent_and_corrected
);

/// An item for a patient the index cannot identify waits in the unmatched queue, then is
/// assigned; a registration merged into another person takes its items along.
async fn unmatched_queue_and_merge(db: TestDb) {
    let c = county(&db).await;
    let d = glucose(c.town, "LAB-9", Some("T-77"), "5.2");
    let out = c
        .app
        .record_items(&c.ctx, &[parse(&c.app, &d)], "test")
        .await
        .unwrap();
    assert_eq!(out[0].person_id, None);
    let queue = c.app.unmatched_items(&c.ctx, 10).await.unwrap();
    assert_eq!(queue.len(), 1);
    let a = c
        .app
        .register_resident(
            &c.ctx,
            &ResidentDraft {
                institution_id: c.town.to_string(),
                record_id: Some("T-77".into()),
                name: "李建国".into(),
                birth_date: Some("1960-01-01".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    c.app
        .assign_unmatched(&c.ctx, out[0].item_id, a.person_id)
        .await
        .unwrap();
    assert!(c.app.unmatched_items(&c.ctx, 10).await.unwrap().is_empty());
    let err = c
        .app
        .assign_unmatched(&c.ctx, out[0].item_id, a.person_id)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict { .. }));
    // A later item with the same patient number finds the person by itself.
    let later = c
        .app
        .record_items(
            &c.ctx,
            &[parse(
                &c.app,
                &glucose(c.town, "LAB-10", Some("T-77"), "5.0"),
            )],
            "test",
        )
        .await
        .unwrap();
    assert_eq!(later[0].person_id, Some(a.person_id));
    // Merged into another person: the items follow.
    let b = c
        .app
        .register_resident(
            &c.ctx,
            &ResidentDraft {
                institution_id: c.hospital.to_string(),
                name: "李建国".into(),
                birth_date: Some("1960-01-01".into()),
                phone: Some("13900000000".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    if b.person_id != a.person_id {
        c.app
            .merge_persons(&c.ctx, a.person_id, b.person_id)
            .await
            .unwrap();
    }
    let rec = c
        .app
        .patient_record(&c.ctx, b.person_id, &TimelineFilter::default(), "treatment")
        .await
        .unwrap();
    assert_eq!(rec.timeline.len(), 2);
}
both_backends!(unmatched_queue_and_merge, unmatched_queue_and_merge);

/// Bad input names the field; a batch with one bad item stores nothing.
async fn bad_input_stores_nothing(db: TestDb) {
    let c = county(&db).await;
    let now = time::OffsetDateTime::now_utc();
    let mut d = glucose(c.hospital, "LAB-2", None, "abc");
    d.results[0].abnormal = Some("ZZ".into());
    d.occurred_at = "2026-13-01".into();
    let errs = d.parse(now).unwrap_err();
    let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"occurred_at"), "{fields:?}");
    assert!(fields.contains(&"results[0].abnormal"), "{fields:?}");
    let mut diag = ItemDraft {
        kind: "diagnosis".into(),
        institution_id: c.hospital.to_string(),
        source_system: "HIS".into(),
        source_id: "DX-1".into(),
        occurred_at: "2026-11-01".into(),
        code: Some("高血压".into()),
        patient: PatientRef {
            name: Some("王秀英".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let errs = diag.parse(now).unwrap_err();
    let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["code", "title"]);
    diag.code = Some("I10.x00".into());
    diag.title = Some("原发性高血压".into());
    let good = diag.parse(now).unwrap();
    let mut unknown_person = glucose(c.hospital, "LAB-3", None, "5.0");
    unknown_person.patient.person_id = Some(Uuid::now_v7().to_string());
    let bad = unknown_person.parse(now).unwrap();
    let err = c
        .app
        .record_items(&c.ctx, &[good, bad], "test")
        .await
        .unwrap_err();
    match err {
        AppError::Invalid(e) => assert_eq!(e.0[0].field, "items[1].patient.person_id"),
        other => panic!("{other:?}"),
    }
    assert!(c.app.unmatched_items(&c.ctx, 10).await.unwrap().is_empty());
}
both_backends!(bad_input_stores_nothing, bad_input_stores_nothing);

/// Bulk import: new items stored with their persons, repeats skipped, unknown patients held.
async fn bulk_import_is_idempotent(db: TestDb) {
    let c = county(&db).await;
    let reg = c
        .app
        .register_resident(
            &c.ctx,
            &ResidentDraft {
                institution_id: c.town.to_string(),
                record_id: Some("T-1".into()),
                name: "孙立军".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let mut items: Vec<ParsedItem> = (0..250)
        .map(|i| {
            glucose(c.town, &format!("B-{i}"), Some("T-1"), "5.5")
                .parse(now)
                .unwrap()
        })
        .collect();
    items.push(
        glucose(c.town, "B-x", Some("T-404"), "5.5")
            .parse(now)
            .unwrap(),
    );
    let r = c.app.bulk_record(&c.ctx, &items, "test").await.unwrap();
    assert_eq!((r.created, r.skipped, r.unmatched), (251, 0, 1));
    let again = c.app.bulk_record(&c.ctx, &items, "test").await.unwrap();
    assert_eq!((again.created, again.skipped), (0, 251));
    let rec = c
        .app
        .patient_record(
            &c.ctx,
            reg.person_id,
            &TimelineFilter::default(),
            "treatment",
        )
        .await
        .unwrap();
    assert_eq!(rec.counts.get("lab_report"), Some(&250));
    assert_eq!(rec.timeline.len(), 50);
    let next = ygt_app::record::parse_cursor(rec.next.as_deref().unwrap()).unwrap();
    let page2 = c
        .app
        .patient_record(
            &c.ctx,
            reg.person_id,
            &TimelineFilter {
                before: Some(next),
                ..Default::default()
            },
            "treatment",
        )
        .await
        .unwrap();
    assert_eq!(page2.timeline.len(), 50);
    assert!(
        page2
            .timeline
            .iter()
            .all(|a| rec.timeline.iter().all(|b| a.id != b.id))
    );
}
both_backends!(bulk_import_is_idempotent, bulk_import_is_idempotent);
