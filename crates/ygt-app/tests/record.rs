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
            .merge_persons(
                &c.ctx,
                a.person_id,
                &ygt_app::mpi::MergeDraft {
                    into: b.person_id.to_string(),
                    reason: "两份登记为同一居民，电话与出生日期一致".into(),
                    confirm: true,
                },
            )
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

/// Bulk import stores every value exactly as one item at a time does (on PostgreSQL it
/// streams rows with COPY, one item at a time inserts them): tabs, newlines, carriage
/// returns, backslashes, quotes and Chinese text in every text column, empty text apart from
/// NULL, a value of more than the part COPY sends at once, times to the microsecond, floats
/// to the bit. Patients without a person id are found by patient number, then ID number.
async fn bulk_import_keeps_values_exactly(db: TestDb) {
    use ygt_app::ygt_store::record::NewObservation;
    let c = county(&db).await;
    let person = c
        .app
        .register_resident(
            &c.ctx,
            &ResidentDraft {
                institution_id: c.hospital.to_string(),
                record_id: Some("MR-COPY".into()),
                name: "李淑珍".into(),
                id_number: Some("341890195507120029".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    let texts = [
        "tab\there",
        "line\nbreak",
        "cr\rlf\r\n",
        r"back\slash \N \. \t \\ \x41",
        "quotes ' \" ` ''",
        "空腹血糖 6.2mmol/L↑ 心电图：窦性心律，ST 段压低",
        "",
        "\\",
        "\t\n\r\\",
        "emoji 😀 and μmol/L",
        "comma, semi; pipe| braces {}",
        "E'\\x41' $1 ?",
    ];
    let long: String = texts.concat().repeat(1 << 14);
    assert!(long.len() > 1 << 20);
    let now = time::OffsetDateTime::now_utc();
    let base = glucose(c.hospital, "BASE", None, "5.5").parse(now).unwrap();
    let at = |ns: i64| {
        time::macros::datetime!(2026-11-20 08:30:01 +08:00) + time::Duration::nanoseconds(ns)
    };
    let nums = [
        Some(0.1),
        Some(-0.0),
        Some(1e-300),
        Some(f64::MAX),
        None,
        Some(-6.25),
    ];
    let item = |n: usize, prefix: &str| -> ParsedItem {
        let s = texts[n % texts.len()];
        let some = |v: &str| (n % 3 != 2).then(|| v.to_owned());
        let mut p = base.clone();
        p.person_id = Some(person);
        let it = &mut p.item;
        it.source_id = format!("{prefix}{n}\t{s}");
        it.encounter_ref = some(s);
        it.occurred_at = at(n as i64 * 123_456_789);
        it.ended_at = n.is_multiple_of(2).then(|| at(999_999_999 + n as i64));
        // A status is one of the codes (the store decodes it); the texts above test escaping.
        it.status = ["final", "amended", "preliminary"][n % 3].to_owned();
        it.code = some(s);
        it.code_system = some(&format!("{s}\n系统"));
        it.title = format!("{s}|{n}");
        it.summary = some(s);
        it.department = some("内科\t门诊");
        it.doctor = some("王\\医生 \"主任\"");
        it.abnormal = n % 2 == 1;
        it.body = if n == 5 {
            long.clone()
        } else {
            serde_json::json!({ "note": s, "n": n }).to_string()
        };
        it.patient_ref = serde_json::json!({ "record_id": s }).to_string();
        it.record_id = some(s);
        it.observations = (0..2)
            .map(|k| NewObservation {
                code: format!("C{k}{s}"),
                name: format!("{s}名称"),
                value_num: nums[(n + k) % nums.len()],
                value_text: some(s),
                unit: Some(s.to_owned()),
                ref_range: (k == 0).then(String::new),
                abnormal: some("H"),
                effective_at: at(n as i64 * 7_000 + k as i64 * 1_001),
            })
            .collect();
        p
    };
    let count = texts.len() * 2;
    // Enough items for PostgreSQL to take them by COPY (smaller batches are INSERTs).
    let bulk_len = 1_000;
    let bulk: Vec<ParsedItem> = (0..bulk_len).map(|n| item(n, "B")).collect();
    let single: Vec<ParsedItem> = (0..count).map(|n| item(n, "S")).collect();
    let r = c.app.bulk_record(&c.ctx, &bulk, "test").await.unwrap();
    assert_eq!((r.created, r.skipped, r.unmatched), (bulk_len, 0, 0));
    for p in &single {
        c.app
            .record_items(&c.ctx, std::slice::from_ref(p), "test")
            .await
            .unwrap();
    }
    let again = c.app.bulk_record(&c.ctx, &bulk, "test").await.unwrap();
    assert_eq!((again.created, again.skipped), (0, bulk_len));

    let store = c.app.store();
    let stored = store
        .timeline(person, &TimelineFilter::default(), 5000)
        .await
        .unwrap();
    assert_eq!(stored.len(), bulk_len + count);
    let find = |id: &str| stored.iter().find(|i| i.source_id == id).unwrap();
    for n in 0..count {
        let want = &bulk[n].item;
        let b = find(&want.source_id);
        let s = find(&single[n].item.source_id);
        assert_eq!(b.person_id, Some(person));
        assert_eq!(b.kind.code(), want.kind);
        assert_eq!(b.institution_id, want.institution_id);
        assert_eq!(b.source_system, want.source_system);
        assert_eq!(b.encounter_ref, want.encounter_ref);
        assert_eq!(b.status.code(), want.status);
        assert_eq!(b.code, want.code);
        assert_eq!(b.code_system, want.code_system);
        assert_eq!(b.title, want.title);
        assert_eq!(b.summary, want.summary);
        assert_eq!(b.department, want.department);
        assert_eq!(b.doctor, want.doctor);
        assert_eq!(b.abnormal, want.abnormal);
        assert_eq!(b.body, want.body, "body of item {n}");
        assert_eq!(b.patient_ref, want.patient_ref);
        assert_eq!(b.record_id, want.record_id);
        assert_eq!(b.version, 1);
        // Times as the one-by-one path stores them (PostgreSQL keeps microseconds).
        assert_eq!(b.occurred_at, s.occurred_at, "occurred_at of item {n}");
        assert_eq!(b.ended_at, s.ended_at, "ended_at of item {n}");
        assert_eq!(b.received_at, b.updated_at);
        let bo = store.item_observations(b.id).await.unwrap();
        let so = store.item_observations(s.id).await.unwrap();
        assert_eq!(bo.len(), 2);
        assert_eq!(bo.len(), so.len());
        for ((o, x), w) in bo.iter().zip(&so).zip(&want.observations) {
            assert_eq!(o.code, w.code);
            assert_eq!(o.name, w.name);
            assert_eq!(o.value_text, w.value_text);
            assert_eq!(o.unit, w.unit);
            assert_eq!(o.ref_range, w.ref_range);
            assert_eq!(o.abnormal, w.abnormal);
            assert_eq!(o.value_num.map(f64::to_bits), x.value_num.map(f64::to_bits));
            assert_eq!(o.effective_at, x.effective_at);
        }
    }

    // Patients named by patient number or ID number, looked up for the whole batch.
    let by = |source: &str, record: Option<&str>, id_number: Option<&str>, inst: Uuid| {
        let mut d = glucose(inst, source, record, "5.5");
        d.patient.id_number = id_number.map(str::to_owned);
        d.parse(now).unwrap()
    };
    let found = [
        by("R-1", Some("MR-COPY"), None, c.hospital),
        by("R-2", Some("MR-COPY"), None, c.hospital),
        by(
            "R-3",
            Some("MR-NONE"),
            Some("341890195507120029"),
            c.hospital,
        ),
        by("R-4", None, Some("341890195507120029"), c.town),
        by("R-5", Some("MR-COPY"), None, c.town),
        by(
            "R-6",
            Some("MR-NONE"),
            Some("341890196503120026"),
            c.hospital,
        ),
    ];
    let r = c.app.bulk_record(&c.ctx, &found, "test").await.unwrap();
    assert_eq!((r.created, r.skipped, r.unmatched), (6, 0, 2));
    let stored = store
        .timeline(person, &TimelineFilter::default(), 5000)
        .await
        .unwrap();
    for id in ["R-1", "R-2", "R-3", "R-4"] {
        assert!(
            stored.iter().any(|i| i.source_id == id),
            "{id} is the resident's"
        );
    }
    let mut unmatched: Vec<String> = store
        .unmatched_items(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.source_id)
        .collect();
    unmatched.sort();
    assert_eq!(unmatched, ["R-5", "R-6"]);
    assert!(c.app.verify_audit_chain().await.unwrap().problem.is_none());
}
both_backends!(
    bulk_import_keeps_values_exactly,
    bulk_import_keeps_values_exactly
);

/// Documents as PDF files, through both write paths: the file is kept with the item (body:
/// type, size, SHA-256), read back byte for byte, once per content; a file is only for a
/// document, and a document needs its text or its file.
async fn document_files(db: TestDb) {
    use ygt_domain::clinical::Pdf;
    let c = county(&db).await;
    let reg = c
        .app
        .register_resident(
            &c.ctx,
            &ResidentDraft {
                institution_id: c.hospital.to_string(),
                record_id: Some("MR0009".into()),
                name: "王秀英".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let bytes = |n: usize| {
        let mut b = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        b.extend((0..n).map(|i| u8::try_from(i % 251).unwrap()));
        b.extend_from_slice(b"\n%%EOF\n");
        b
    };
    let doc = |source: &str, record: &str, pdf: Option<Vec<u8>>| ItemDraft {
        kind: "document".into(),
        institution_id: c.hospital.to_string(),
        source_system: "EMR".into(),
        source_id: source.into(),
        patient: PatientRef {
            record_id: Some(record.into()),
            name: Some("王秀英".into()),
            ..Default::default()
        },
        occurred_at: "2026-11-20 10:00".into(),
        document_type: Some("discharge_summary".into()),
        pdf: pdf.map(|b| Pdf::parse("pdf", b).unwrap()),
        ..Default::default()
    };
    let first = bytes(5000);
    let one = parse(&c.app, &doc("DS-1", "MR0009", Some(first.clone())));
    let body: ygt_app::record::Body = serde_json::from_str(&one.item.body).unwrap();
    let att = body.attachment.unwrap();
    assert_eq!(
        (att.content_type.as_str(), att.size),
        ("application/pdf", u64::try_from(first.len()).unwrap())
    );
    assert_eq!(one.item.summary.as_deref(), Some("PDF 文档，4.9 KB"));
    let r = c.app.record_items(&c.ctx, &[one], "test").await.unwrap();
    assert_eq!(r[0].person_id, Some(reg.person_id));
    let (item, file) = c.app.document_content(&c.ctx, r[0].item_id).await.unwrap();
    assert_eq!(item.id, r[0].item_id);
    assert_eq!(file.data, first);
    assert_eq!(file.sha256, att.sha256);
    // Through the bulk path, for a patient nobody knows yet.
    let second = bytes(70_000);
    let bulk = [parse(&c.app, &doc("DS-2", "MR-NONE", Some(second.clone())))];
    let rep = c.app.bulk_record(&c.ctx, &bulk, "test").await.unwrap();
    assert_eq!((rep.created, rep.unmatched), (1, 1));
    let id = c.app.store().unmatched_items(None, 10).await.unwrap()[0].id;
    assert_eq!(
        c.app.document_content(&c.ctx, id).await.unwrap().1.data,
        second
    );
    assert_eq!(c.app.store().count_document_contents(id).await.unwrap(), 1);
    // The same file again: unchanged, kept once.
    let again = parse(&c.app, &doc("DS-1", "MR0009", Some(first)));
    let r2 = c.app.record_items(&c.ctx, &[again], "test").await.unwrap();
    assert_eq!(r2[0].outcome, "unchanged");
    assert_eq!(
        c.app
            .store()
            .count_document_contents(r[0].item_id)
            .await
            .unwrap(),
        1
    );
    // Input rules.
    let field = |d: &ItemDraft| {
        d.parse(time::OffsetDateTime::now_utc())
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect::<Vec<_>>()
    };
    assert_eq!(field(&doc("DS-3", "MR0009", None)), ["text"]);
    let mut lab = glucose(c.hospital, "LAB-P", None, "5.1");
    lab.pdf = Some(Pdf::parse("pdf", bytes(10)).unwrap());
    assert_eq!(field(&lab), ["pdf"]);
    // A document without a file has none to read.
    let mut text = doc("DS-4", "MR0009", None);
    text.text = Some("出院小结".into());
    let t = c
        .app
        .record_items(&c.ctx, &[parse(&c.app, &text)], "test")
        .await
        .unwrap();
    assert!(matches!(
        c.app.document_content(&c.ctx, t[0].item_id).await,
        Err(AppError::NotFound(_))
    ));
    assert!(c.app.verify_audit_chain().await.unwrap().problem.is_none());
}
both_backends!(document_files, document_files);

/// A batch of new items (an HL7 group commit, a FHIR transaction) is written together: each
/// finds its person as item-by-item writing would (patient number, ID number, or the
/// unmatched queue), gets its audit event and a care link; a batch holding an item already
/// stored is written item by item, correcting that one.
async fn batches_of_new_items(db: TestDb) {
    let c = county(&db).await;
    let by_record = c
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
        .unwrap()
        .person_id;
    let by_number = c
        .app
        .register_resident(
            &c.ctx,
            &ResidentDraft {
                institution_id: c.town.to_string(),
                record_id: Some("T-77".into()),
                name: "李国强".into(),
                id_number: Some("341890196203150039".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    let mut numbered = glucose(c.hospital, "LAB-2", None, "5.1");
    numbered.patient.id_number = Some("341890196203150039".into());
    let batch = [
        glucose(c.hospital, "LAB-1", Some("MR0001"), "7.8"),
        numbered,
        glucose(c.hospital, "LAB-3", Some("NOBODY"), "4.4"),
    ];
    let parsed: Vec<ParsedItem> = batch.iter().map(|d| parse(&c.app, d)).collect();
    let out = c.app.record_items(&c.ctx, &parsed, "test").await.unwrap();
    let persons: Vec<Option<Uuid>> = out.iter().map(|r| r.person_id).collect();
    assert_eq!(persons, [Some(by_record), Some(by_number), None]);
    assert!(out.iter().all(|r| r.outcome == "created" && r.version == 1));
    let (item, obs, _) = c.app.record_item(&c.ctx, out[1].item_id).await.unwrap();
    assert_eq!(item.person_id, Some(by_number));
    assert_eq!((obs.len(), obs[0].value_num), (1, Some(5.1)));
    let unmatched = c.app.unmatched_items(&c.ctx, 10).await.unwrap();
    assert_eq!(
        unmatched.iter().map(|i| i.item.id).collect::<Vec<_>>(),
        [out[2].item_id]
    );
    // Recording data opens nothing: the hospital that sent the result gets no link to the
    // town's resident (issue 12).
    let now = time::OffsetDateTime::now_utc();
    let links = c.app.store().care_links(by_number, now).await.unwrap();
    assert!(
        !links.iter().any(|l| l.institution_id == Some(c.hospital)),
        "{links:?}"
    );
    let (events, _) = c
        .app
        .search_audit(
            &c.ctx,
            &ygt_app::ygt_store::access::AuditFilter {
                action: Some("record.write".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 3);
    for r in &out {
        let e = events
            .iter()
            .find(|e| e.resource_id == Some(r.item_id.to_string()))
            .unwrap();
        assert_eq!(e.resident_id, r.person_id);
        let d = e.detail.as_deref().unwrap();
        assert!(d.contains("outcome=created channel=test"), "{d}");
        assert_eq!(d.ends_with(" unmatched"), r.person_id.is_none(), "{d}");
    }

    // LAB-1 again, corrected, beside a new one: item by item.
    let again = [
        glucose(c.hospital, "LAB-1", Some("MR0001"), "6.8"),
        glucose(c.hospital, "LAB-4", Some("MR0001"), "5.0"),
    ];
    let parsed: Vec<ParsedItem> = again.iter().map(|d| parse(&c.app, d)).collect();
    let out2 = c.app.record_items(&c.ctx, &parsed, "test").await.unwrap();
    assert_eq!(
        out2.iter()
            .map(|r| (r.outcome, r.version))
            .collect::<Vec<_>>(),
        [("updated", 2), ("created", 1)]
    );
    assert_eq!(out2[0].item_id, out[0].item_id);
    // The same source twice in one batch: stored once.
    let twice = [
        glucose(c.hospital, "LAB-5", Some("MR0001"), "5.5"),
        glucose(c.hospital, "LAB-5", Some("MR0001"), "5.5"),
    ];
    let parsed: Vec<ParsedItem> = twice.iter().map(|d| parse(&c.app, d)).collect();
    let out3 = c.app.record_items(&c.ctx, &parsed, "test").await.unwrap();
    assert_eq!(out3[0].item_id, out3[1].item_id);
    assert_eq!((out3[0].outcome, out3[1].outcome), ("created", "unchanged"));
    // A batch naming an institution that does not exist stores nothing.
    let mut bad = glucose(c.hospital, "LAB-6", Some("MR0001"), "5.5");
    bad.institution_id = Uuid::now_v7().to_string();
    let parsed: Vec<ParsedItem> = [glucose(c.hospital, "LAB-7", Some("MR0001"), "5.5"), bad]
        .iter()
        .map(|d| parse(&c.app, d))
        .collect();
    let err = c
        .app
        .record_items(&c.ctx, &parsed, "test")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Invalid(_)), "{err:?}");
    let rec = c
        .app
        .patient_record(&c.ctx, by_record, &TimelineFilter::default(), "treatment")
        .await
        .unwrap();
    assert_eq!(rec.counts.get("lab_report"), Some(&3), "LAB-1, 4, 5; not 7");
    assert!(c.app.verify_audit_chain().await.unwrap().problem.is_none());
}
both_backends!(batches_of_new_items, batches_of_new_items);
