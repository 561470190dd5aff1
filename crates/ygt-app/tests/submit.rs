//! Submissions: residents and their items together, and several submissions sharing one
//! commit, each scenario on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use uuid::Uuid;
use ygt_app::mpi::ResidentDraft;
use ygt_app::record::{ItemDraft, PatientRef, ResultDraft};
use ygt_app::submit::{Submission, Submitted};
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::record::TimelineFilter;
use ygt_app::{App, AppError, Ctx};
use ygt_domain::org::InstitutionDraft;
use ygt_testkit::{TestDb, both_backends};

async fn hospital(app: &App) -> Uuid {
    app.create_institution(
        &Ctx::system(),
        &InstitutionDraft {
            name: "云溪县人民医院".into(),
            kind: "county_general_hospital".into(),
            division_code: "341890".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

fn lab(inst: Uuid, source: &str, patient: PatientRef) -> ItemDraft {
    ItemDraft {
        kind: "lab_report".into(),
        institution_id: inst.to_string(),
        source_system: "LIS".into(),
        source_id: source.into(),
        patient,
        occurred_at: "2026-11-01 08:00".into(),
        results: vec![ResultDraft {
            code: "GLU".into(),
            value: "6.4".into(),
            unit: Some("mmol/L".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A registration and an item about it in one submission; then three submissions sharing a
/// commit, the middle one refused while writing (its person does not exist): it alone fails,
/// and leaves nothing behind.
async fn submissions_share_a_commit_and_fail_alone(db: TestDb) {
    let app = App::new(Store::open(&db.url).await.unwrap());
    let ctx = Ctx::system();
    let inst = hospital(&app).await;
    let out = app
        .submit(
            &ctx,
            &[
                Submission::Resident(Box::new(ResidentDraft {
                    institution_id: inst.to_string(),
                    record_id: Some("ZY-7".into()),
                    name: "李秀英".into(),
                    id_number: Some("341890196503120026".into()),
                    ..Default::default()
                })),
                Submission::Item {
                    draft: Box::new(lab(inst, "L-0", PatientRef::default())),
                    patient_entry: Some(0),
                },
            ],
            "test",
        )
        .await
        .unwrap();
    let Submitted::Resident(r) = &out[0] else {
        panic!("{out:?}")
    };
    let Submitted::Item(item) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(item.person_id, Some(r.person_id));
    let person = r.person_id;

    let by_record = PatientRef {
        record_id: Some("ZY-7".into()),
        ..Default::default()
    };
    let nobody = PatientRef {
        person_id: Some(Uuid::now_v7().to_string()),
        ..Default::default()
    };
    let mut batch = Vec::new();
    for (source, patient) in [
        ("L-1", by_record.clone()),
        ("L-2", nobody),
        ("L-3", by_record),
    ] {
        let subs = [Submission::Item {
            draft: Box::new(lab(inst, source, patient)),
            patient_entry: None,
        }];
        batch.push((
            ctx.clone(),
            app.prepare_submission(&ctx, &subs).await.unwrap(),
        ));
    }
    let results = app.write_many(&batch, "test").await;
    assert!(results[0].is_ok(), "{results:?}");
    match &results[1] {
        Err(AppError::Invalid(e)) => assert_eq!(e.0[0].field, "patient.person_id"),
        other => panic!("{other:?}"),
    }
    assert!(results[2].is_ok(), "{results:?}");
    let (items, _) = app
        .search_record(&ctx, person, &TimelineFilter::default(), 50)
        .await
        .unwrap();
    let mut sources: Vec<&str> = items.iter().map(|i| i.source_id.as_str()).collect();
    sources.sort();
    assert_eq!(sources, ["L-0", "L-1", "L-3"]);
    assert_eq!(app.unmatched_items(&ctx, 10).await.unwrap().len(), 0);

    // All good: one pass, one commit; the audit chain, appended several at a time, holds.
    let mut batch = Vec::new();
    for source in ["L-4", "L-5", "L-6"] {
        let subs = [Submission::Item {
            draft: Box::new(lab(
                inst,
                source,
                PatientRef {
                    record_id: Some("ZY-7".into()),
                    ..Default::default()
                },
            )),
            patient_entry: None,
        }];
        batch.push((
            ctx.clone(),
            app.prepare_submission(&ctx, &subs).await.unwrap(),
        ));
    }
    for r in app.write_many(&batch, "test").await {
        let Submitted::Item(i) = &r.unwrap()[0] else {
            panic!()
        };
        assert_eq!(i.person_id, Some(person));
    }
    let report = app.verify_audit_chain().await.unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
}

both_backends!(
    submissions_share_a_commit_and_fail_alone,
    submissions_share_a_commit_and_fail_alone
);
