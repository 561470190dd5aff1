//! Two-way referral use cases (crates/ygt-app/src/referral.rs), each scenario on SQLite and
//! on PostgreSQL: the whole loop up and down, every forbidden step, access for the referral's
//! duration, exactly one acceptance and no double booking under concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Debug;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_app::access::Principal;
use ygt_app::account::AccountDraft;
use ygt_app::mpi::ResidentDraft;
use ygt_app::referral::{PlanDraft, ReferralDraft, ReferralOutcome, StepDraft, WorklistQuery};
use ygt_app::referral::{TaskDone, TaskQuery};
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::referral::NewCareTask;
use ygt_app::{Actor, App, AppError, Ctx};
use ygt_domain::org::{DepartmentDraft, InstitutionDraft, StaffDraft};
use ygt_domain::referral::ResourceKind;
use ygt_domain::referral::Status;
use ygt_testkit::{TestDb, both_backends};

const PASSWORD: &str = "Demo-Kite#58";

struct World {
    app: App,
    sys: Ctx,
    hospital: Uuid,
    radiology: Uuid,
    town: Uuid,
    village: Uuid,
    village_doctor_staff: Uuid,
    person: Uuid,
    ct: Uuid,
}

async fn world(db: &TestDb) -> World {
    let app = App::new(Store::open(&db.url).await.unwrap());
    let sys = Ctx::system();
    let inst = |name: &str, kind: &str, parent: Option<Uuid>, div: &str| InstitutionDraft {
        name: name.into(),
        kind: kind.into(),
        parent_id: parent.map(|p| p.to_string()),
        division_code: div.into(),
        ..Default::default()
    };
    let hospital = app
        .create_institution(
            &sys,
            &inst("云溪县人民医院", "county_general_hospital", None, "341890"),
        )
        .await
        .unwrap()
        .id;
    let town = app
        .create_institution(
            &sys,
            &inst(
                "柳河镇卫生院",
                "township_health_centre",
                Some(hospital),
                "341890100",
            ),
        )
        .await
        .unwrap()
        .id;
    let village = app
        .create_institution(
            &sys,
            &inst(
                "柳河镇东村卫生室",
                "village_clinic",
                Some(town),
                "341890100200",
            ),
        )
        .await
        .unwrap()
        .id;
    let radiology = app
        .create_department(
            &sys,
            hospital,
            &DepartmentDraft {
                name: "放射科".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let staff = |name: &str, inst: Uuid, title: &str| StaffDraft {
        name: name.into(),
        sex: "1".into(),
        title: title.into(),
        institution_id: inst.to_string(),
        ..Default::default()
    };
    let village_doctor_staff = app
        .create_staff(&sys, &staff("赵村医", village, "village_doctor"))
        .await
        .unwrap()
        .id;
    for (user, inst, role, staff_id) in [
        (
            "cundoc",
            village,
            "village_doctor",
            Some(village_doctor_staff),
        ),
        ("xiandoc", hospital, "doctor", None),
        ("xiandoc2", hospital, "doctor", None),
        ("towndoc", town, "doctor", None),
    ] {
        app.create_account(
            &sys,
            &AccountDraft {
                username: user.into(),
                display_name: format!("{user}医生"),
                institution_id: Some(inst.to_string()),
                staff_id: staff_id.map(|s| s.to_string()),
                roles: vec![role.into()],
                password: Some(PASSWORD.into()),
                must_change_password: Some(false),
            },
        )
        .await
        .unwrap();
    }
    let person = app
        .register_resident(
            &sys,
            &ResidentDraft {
                institution_id: village.to_string(),
                name: "王秀英".into(),
                id_number: Some("341890195507120029".into()),
                phone: Some("13955012345".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    // CT: 4 slots a day for a week, the first 2 reserved for referrals until 24 h before.
    let tomorrow =
        (OffsetDateTime::now_utc() + Duration::days(1)).replace_time(time::macros::time!(00:30));
    let ct = app
        .create_calendar(
            &sys,
            hospital,
            Some(radiology),
            ResourceKind::Ct,
            "64排CT",
            "门诊楼二楼 CT 室",
            None,
            24,
            tomorrow,
            30,
            4,
            2,
            7,
            true,
        )
        .await
        .unwrap();
    World {
        app,
        sys,
        hospital,
        radiology,
        town,
        village,
        village_doctor_staff,
        person,
        ct,
    }
}

async fn ctx_of(app: &App, name: &str) -> Ctx {
    let signed = app
        .sign_in(
            &Ctx::anonymous("t".into(), Some("10.0.0.9".into())),
            name,
            PASSWORD,
            None,
        )
        .await
        .unwrap();
    let info = app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap();
    user(info.principal)
}

fn user(p: Principal) -> Ctx {
    Ctx {
        actor: Actor::User(Box::new(p)),
        request_id: "t".into(),
        client_addr: Some("10.0.0.9".into()),
    }
}

fn up(w: &World, slot: Option<Uuid>) -> ReferralDraft {
    ReferralDraft {
        direction: "up".into(),
        person_id: w.person.to_string(),
        urgency: "urgent".into(),
        to_institution_id: w.hospital.to_string(),
        to_department_id: Some(w.radiology.to_string()),
        diagnosis_code: Some("I63.900".into()),
        diagnosis_name: Some("脑梗死".into()),
        reason: "右侧肢体无力2天，需头颅CT".into(),
        criterion: Some("missing_equipment".into()),
        summary: Some("高血压10年，血压 172/98 mmHg".into()),
        needs: Some("ct".into()),
        slot_id: slot.map(|s| s.to_string()),
        submit: true,
        ..Default::default()
    }
}

/// A consultation is addressed to a department that sees patients: radiology takes a CT
/// booking, not a referral without one.
async fn departments_that_see_patients(db: TestDb) {
    let w = world(&db).await;
    let cun = ctx_of(&w.app, "cundoc").await;
    let mut d = up(&w, None);
    d.needs = None;
    assert_eq!(
        field(w.app.create_referral(&cun, &d).await),
        "to_department_id"
    );
    d.needs = Some("ct".into());
    w.app.create_referral(&cun, &d).await.unwrap();
}
both_backends!(departments_that_see_patients, departments_that_see_patients);

fn step(action: &str) -> StepDraft {
    StepDraft {
        action: action.into(),
        ..Default::default()
    }
}

fn field<T: Debug>(r: Result<T, AppError>) -> String {
    match r {
        Err(AppError::Invalid(e)) => e.first().unwrap().field.clone(),
        Err(AppError::Conflict { field, .. }) => field.unwrap_or_default(),
        other => panic!("expected an invalid input or a conflict, got {other:?}"),
    }
}

fn forbidden<T: Debug>(r: Result<T, AppError>) {
    assert!(matches!(r, Err(AppError::Forbidden { .. })), "{r:?}");
}

async fn free_slots(w: &World) -> Vec<Uuid> {
    w.app
        .free_slots(&w.sys, w.ct, 14)
        .await
        .unwrap()
        .into_iter()
        .map(|(s, _)| s.id)
        .collect()
}

/// A village doctor refers up with a CT booking; the county accepts, the patient arrives, the
/// outcome goes back; the county refers down with a plan; the village takes over the tasks.
async fn the_whole_loop(db: TestDb) {
    let w = world(&db).await;
    let cun = ctx_of(&w.app, "cundoc").await;
    let xian = ctx_of(&w.app, "xiandoc").await;
    let slots = free_slots(&w).await;
    assert_eq!(slots.len(), 28);

    // The county cannot see the resident before the referral.
    forbidden(
        w.app
            .resident_access(&xian, w.person, "record.read", "treatment")
            .await,
    );

    // Bad input names the field and stores nothing.
    let mut bad = up(&w, None);
    bad.diagnosis_code = Some("brain".into());
    assert_eq!(
        field(w.app.create_referral(&cun, &bad).await),
        "diagnosis_code"
    );
    let mut bad = up(&w, None);
    bad.to_institution_id = w.town.to_string();
    bad.direction = "down".into();
    bad.submit = false;
    assert_eq!(
        field(w.app.create_referral(&cun, &bad).await),
        "to_institution_id"
    );
    let mut bad = up(&w, None);
    bad.reason = "  ".into();
    assert_eq!(field(w.app.create_referral(&cun, &bad).await), "reason");
    let mut bad = up(&w, None);
    bad.slot_id = Some("nope".into());
    assert_eq!(field(w.app.create_referral(&cun, &bad).await), "slot_id");
    assert!(
        w.app
            .worklist(&cun, &WorklistQuery::default())
            .await
            .unwrap()
            .referrals
            .is_empty()
    );

    // A referral opens the record to the receiving side for its duration only.
    let gone = w.app.create_referral(&cun, &up(&w, None)).await.unwrap();
    w.app
        .resident_access(&xian, w.person, "record.read", "referral")
        .await
        .unwrap();
    let mut cancel = step("cancel");
    cancel.reason = Some("患者要求暂缓".into());
    w.app.referral_step(&cun, gone.id, &cancel).await.unwrap();
    forbidden(
        w.app
            .resident_access(&xian, w.person, "record.read", "treatment")
            .await,
    );

    let r = w
        .app
        .create_referral(&cun, &up(&w, Some(slots[0])))
        .await
        .unwrap();
    assert_eq!(r.status, Status::Submitted);
    assert!(r.number.starts_with("ZZ"), "{}", r.number);
    assert!(r.appointment_at.is_some());
    assert_eq!(free_slots(&w).await.len(), 27);

    // Now the county sees the resident (for the referral's duration) and the referral.
    w.app
        .resident_access(&xian, w.person, "record.read", "referral")
        .await
        .unwrap();
    let incoming = w
        .app
        .worklist(
            &xian,
            &WorklistQuery {
                list: "incoming".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(incoming.referrals.len(), 1);
    let inbox: Vec<_> = w
        .app
        .inbox(&xian, true)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.referral_id == Some(r.id))
        .collect();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let message = inbox[0].message.clone().unwrap_or_default();
    assert!(message.contains("王秀英"), "{message}");
    let counts = w.app.worklist_counts(&xian).await.unwrap();
    assert_eq!(counts.incoming_waiting, 1);
    assert_eq!(counts.unread, 3, "submitted, cancelled, submitted");

    // The referring side cannot accept; the receiving side cannot cancel-and-complete.
    forbidden(w.app.referral_step(&cun, r.id, &step("accept")).await);
    assert_eq!(
        field(w.app.referral_step(&xian, r.id, &step("complete")).await),
        "action"
    );
    assert_eq!(
        field(w.app.referral_step(&xian, r.id, &step("reject")).await),
        "reason"
    );

    let r = w
        .app
        .referral_step(&xian, r.id, &step("accept"))
        .await
        .unwrap();
    assert_eq!(
        r.status,
        Status::Scheduled,
        "a booked referral is scheduled on acceptance"
    );
    let view = w.app.referral_view(&cun, r.id).await.unwrap();
    assert_eq!(
        view.events
            .iter()
            .map(|e| e.action.code())
            .collect::<Vec<_>>(),
        ["create", "book", "accept", "schedule"]
    );
    assert!(view.slot.is_some());
    assert_eq!(
        view.actions.iter().map(|a| a.code()).collect::<Vec<_>>(),
        ["cancel"]
    );
    let cun_inbox = w.app.inbox(&cun, true).await;
    assert!(
        cun_inbox.unwrap().is_empty(),
        "viewing the referral read its notifications"
    );

    // Reschedule to a free time, then arrival and the outcome.
    let mut s = step("schedule");
    s.appointment_at = Some("2099-01-02T09:30".into());
    let r = w.app.referral_step(&xian, r.id, &s).await.unwrap();
    assert_eq!(
        r.appointment_at.unwrap().to_string(),
        "2099-01-02 1:30:00.0 +00:00:00"
    );
    assert_eq!(
        free_slots(&w).await.len(),
        28,
        "the CT slot went back to the calendar"
    );
    // The history names people and reads local times to the minute.
    let view = w.app.referral_view(&xian, r.id).await.unwrap();
    let last = view.events.last().unwrap();
    assert_eq!(last.note.as_deref(), Some("2099-01-02 09:30"));
    assert!(
        view.events.iter().all(|e| e.actor_name.ends_with("医生")),
        "{:?}",
        view.events
    );
    assert!(
        view.events
            .iter()
            .filter(|e| e.action.code() == "book")
            .all(|e| e
                .note
                .as_deref()
                .is_some_and(|n| !n.contains("+08") && !n.contains(":00.0"))),
        "{:?}",
        view.events
    );
    let r = w
        .app
        .referral_step(&xian, r.id, &step("arrive"))
        .await
        .unwrap();
    assert_eq!(
        field(w.app.referral_step(&cun, r.id, &step("cancel")).await),
        "action"
    );
    let mut done = step("complete");
    done.outcome = Some(ReferralOutcome {
        diagnosis_code: Some("I63.900".into()),
        diagnosis_name: Some("脑梗死".into()),
        treatment: "溶栓后康复".into(),
        summary: "住院14天，病情稳定出院".into(),
    });
    let r = w.app.referral_step(&xian, r.id, &done).await.unwrap();
    assert_eq!(r.status, Status::Completed);
    let back = w.app.inbox(&cun, true).await.unwrap();
    assert!(back.iter().any(|n| n.kind == "complete"), "{back:?}");
    let view = w.app.referral_view(&cun, r.id).await.unwrap();
    assert_eq!(view.outcome.unwrap().summary, "住院14天，病情稳定出院");
    // The patient was seen at the county: it keeps caring for them after the referral.
    w.app
        .resident_access(&xian, w.person, "record.read", "treatment")
        .await
        .unwrap();

    // A down-referral starts back where the patient came from, with the county's diagnosis.
    let d = w
        .app
        .down_referral_defaults(&xian, w.person)
        .await
        .unwrap()
        .expect("the up-referral the patient arrived with");
    assert_eq!(d.to_institution_id, w.village);
    assert_eq!(d.to_staff_id, Some(w.village_doctor_staff));
    assert_eq!(d.diagnosis_name.as_deref(), Some("脑梗死"));
    assert_eq!(d.up_referral, r.id);
    // The village doctor has no up-referral addressed to them: no defaults.
    assert!(
        w.app
            .down_referral_defaults(&cun, w.person)
            .await
            .unwrap()
            .is_none()
    );

    // Down: the plan is required and checked line by line.
    let mut down = ReferralDraft {
        direction: "down".into(),
        person_id: w.person.to_string(),
        to_institution_id: w.village.to_string(),
        to_staff_id: Some(w.village_doctor_staff.to_string()),
        diagnosis_code: Some("I69.300".into()),
        reason: "脑梗死恢复期，转回社区康复".into(),
        submit: true,
        ..Default::default()
    };
    assert_eq!(
        field(w.app.create_referral(&xian, &down).await),
        "plan.discharge_summary"
    );
    down.plan = Some(PlanDraft {
        discharge_summary: "脑梗死，溶栓后恢复良好".into(),
        follow_ups: "+14 血压随访".into(),
        ..Default::default()
    });
    let town = ctx_of(&w.app, "towndoc").await;
    let sys_ref = w.app.create_referral(&w.sys, &down).await;
    assert!(
        sys_ref.is_err(),
        "the system actor has no institution to refer from"
    );
    let admitted = w
        .app
        .register_resident(
            &w.sys,
            &ResidentDraft {
                institution_id: w.hospital.to_string(),
                name: "王秀英".into(),
                id_number: Some("341890195507120029".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(admitted.person_id, w.person);
    down.plan = Some(PlanDraft {
        discharge_summary: "脑梗死，溶栓后恢复良好".into(),
        medications: "阿司匹林肠溶片 100mg 每日一次\n阿托伐他汀钙片 20mg 每晚一次".into(),
        follow_ups: "+14 血压随访\nnext-week 复查".into(),
        warning_signs: "言语不清、肢体无力加重立即就诊".into(),
        rehab_goals: "独立行走".into(),
    });
    assert_eq!(
        field(w.app.create_referral(&xian, &down).await),
        "plan.follow_ups[1]"
    );
    down.plan.as_mut().unwrap().follow_ups = "+14 血压随访\n2099-03-01 复查血脂".into();
    let d = w.app.create_referral(&xian, &down).await.unwrap();
    // The plan's medications are in the resident's record (近90天用药), from the county.
    let record = w
        .app
        .patient_record(
            &xian,
            w.person,
            &ygt_app::ygt_store::record::TimelineFilter::default(),
            "treatment",
        )
        .await
        .unwrap();
    let meds: Vec<String> = record
        .medications
        .iter()
        .filter_map(|m| m.summary.clone())
        .collect();
    assert!(
        meds.iter()
            .any(|m| m.contains("阿司匹林肠溶片 100mg 每日一次") && m.contains("阿托伐他汀钙片")),
        "{meds:?}"
    );
    assert_eq!(record.medications[0].institution_id, d.from_institution_id);
    let handover = w
        .app
        .worklist(
            &cun,
            &WorklistQuery {
                list: "handover".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(handover.referrals.len(), 1);
    let d = w
        .app
        .referral_step(&cun, d.id, &step("accept"))
        .await
        .unwrap();
    assert_eq!(d.status, Status::Accepted);
    let tasks = w.app.care_task_list(&cun, true).await.unwrap();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert_eq!(tasks[0].title, "血压随访");
    assert_eq!(tasks[0].staff_id, Some(w.village_doctor_staff));
    assert_eq!(tasks[1].due_on.to_string(), "2099-03-01");
    // The county doctor hears of the acceptance (closed loop).
    let heard = w.app.inbox(&xian, true).await.unwrap();
    assert!(heard.iter().any(|n| n.kind == "accept"), "{heard:?}");
    // Another institution's doctor cannot complete the village's task.
    let nothing = TaskDone::default();
    let xian_task = w.app.complete_care_task(&xian, tasks[0].id, &nothing).await;
    forbidden(xian_task);
    // Readings that cannot be right are refused naming the field; the task stays open.
    for (sys, dia, field) in [
        ("132", "", "diastolic"),
        ("84", "132", "diastolic"),
        ("400", "84", "systolic"),
    ] {
        let bad = TaskDone {
            systolic: Some(sys.into()),
            diastolic: Some(dia.into()),
            ..Default::default()
        };
        match w.app.complete_care_task(&cun, tasks[0].id, &bad).await {
            Err(AppError::Invalid(e)) => assert_eq!(e.0[0].field, field, "{sys}/{dia}"),
            other => panic!("{sys}/{dia}: {other:?}"),
        }
    }
    assert_eq!(w.app.care_task_list(&cun, true).await.unwrap().len(), 2);
    let t = w
        .app
        .complete_care_task(
            &cun,
            tasks[0].id,
            &TaskDone {
                systolic: Some("132".into()),
                diastolic: Some("84".into()),
                glucose: Some("6.1".into()),
                note: Some("头晕已缓解".into()),
            },
        )
        .await
        .unwrap();
    assert!(t.done_at.is_some());
    assert_eq!(
        t.note.as_deref(),
        Some("血压 132/84 mmHg；空腹血糖 6.1 mmol/L；头晕已缓解")
    );
    // The readings are in the resident's record, on the trend chart, from the village.
    let series = w
        .app
        .store()
        .series(
            t.person_id,
            &["SBP", "DBP", "GLU"],
            OffsetDateTime::now_utc() - Duration::days(1),
            10,
        )
        .await
        .unwrap();
    let mut got: Vec<(String, Option<f64>)> = series
        .iter()
        .map(|o| (o.code.clone(), o.value_num))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("DBP".to_owned(), Some(84.0)),
            ("GLU".to_owned(), Some(6.1)),
            ("SBP".to_owned(), Some(132.0))
        ]
    );
    assert!(matches!(
        w.app.complete_care_task(&cun, tasks[0].id, &nothing).await,
        Err(AppError::Conflict { .. })
    ));
    // The township manages the village clinic: it sees the task too.
    assert_eq!(w.app.care_task_list(&town, true).await.unwrap().len(), 1);

    // Statistics count what is in the database.
    let stats = w
        .app
        .referral_stats(
            &w.sys,
            OffsetDateTime::now_utc() - Duration::days(1),
            OffsetDateTime::now_utc() + Duration::days(1),
        )
        .await
        .unwrap();
    assert_eq!(stats.total, 3);
    let ups: i64 = stats
        .rows
        .iter()
        .filter(|r| r.direction == "up")
        .map(|r| r.count)
        .sum();
    assert_eq!(ups, 2);
    let up_row = stats.rows.iter().find(|r| r.direction == "up").unwrap();
    assert_eq!(up_row.acceptance_rate, Some(100.0));
    assert!(up_row.median_hours_to_acceptance.is_some());
    forbidden(
        w.app
            .referral_stats(
                &cun,
                OffsetDateTime::now_utc() - Duration::days(1),
                OffsetDateTime::now_utc(),
            )
            .await,
    );
}
both_backends!(the_whole_loop, the_whole_loop);

/// The home page's work of today: care tasks overdue and due today are counted in SQL and
/// listed by the same filter; another institution's doctor sees none of them; a wrong filter
/// names its field.
async fn todays_work(db: TestDb) {
    let w = world(&db).await;
    let cun = ctx_of(&w.app, "cundoc").await;
    let xian = ctx_of(&w.app, "xiandoc").await;
    let today = ygt_app::local_today(OffsetDateTime::now_utc());
    let task = |days: i64, title: &str| NewCareTask {
        id: ygt_app::new_id(),
        referral_id: None,
        person_id: w.person,
        institution_id: w.village,
        staff_id: Some(w.village_doctor_staff),
        kind: ygt_domain::referral::TaskKind::FollowUp,
        title: title.into(),
        due_on: today + Duration::days(days),
        note: None,
    };
    let tasks = [
        task(-3, "逾期三天"),
        task(-1, "逾期一天"),
        task(0, "今天到期"),
        task(5, "下周到期"),
    ];
    let mut tx = w.app.store().begin().await.unwrap();
    tx.insert_care_tasks(&tasks, OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let c = w.app.worklist_counts(&cun).await.unwrap();
    assert_eq!((c.tasks_overdue, c.tasks_today, c.tasks_open), (2, 1, 4));
    let page = |due: &str| TaskQuery {
        due: Some(due.into()),
        ..Default::default()
    };
    for (due, titles) in [
        ("overdue", vec!["逾期三天", "逾期一天"]),
        ("today", vec!["今天到期"]),
        ("now", vec!["逾期三天", "逾期一天", "今天到期"]),
        ("", vec!["逾期三天", "逾期一天", "今天到期", "下周到期"]),
    ] {
        let (rows, total) = w.app.care_task_page(&cun, &page(due)).await.unwrap();
        let got: Vec<&str> = rows.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(got, titles, "due={due}");
        assert_eq!(total, titles.len() as i64, "due={due}");
    }
    let small = TaskQuery {
        limit: Some(1),
        offset: 1,
        ..Default::default()
    };
    let (rows, total) = w.app.care_task_page(&cun, &small).await.unwrap();
    assert_eq!((rows[0].title.as_str(), total), ("逾期一天", 4));
    let c = w.app.worklist_counts(&xian).await.unwrap();
    assert_eq!((c.tasks_overdue, c.tasks_today, c.tasks_open), (0, 0, 0));
    assert!(
        w.app
            .care_task_page(&xian, &page("now"))
            .await
            .unwrap()
            .0
            .is_empty()
    );
    assert_eq!(
        field(w.app.care_task_page(&cun, &page("soon")).await),
        "due"
    );
}
both_backends!(todays_work, todays_work);

/// Of two concurrent bookings of one slot exactly one wins; of two concurrent acceptances
/// exactly one wins; cancelling and rejecting return the slot.
async fn concurrency_and_slots(db: TestDb) {
    let w = world(&db).await;
    let cun = ctx_of(&w.app, "cundoc").await;
    let x1 = ctx_of(&w.app, "xiandoc").await;
    let x2 = ctx_of(&w.app, "xiandoc2").await;
    let slots = free_slots(&w).await;
    for (round, &slot) in slots.iter().take(4).enumerate() {
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (app, ctx, d) = (w.app.clone(), cun.clone(), up(&w, Some(slot)));
            tasks.push(tokio::spawn(
                async move { app.create_referral(&ctx, &d).await },
            ));
        }
        let mut ok = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => ok.push(r),
                Err(e) => assert!(matches!(e, AppError::Conflict { .. }), "{e:?}"),
            }
        }
        assert_eq!(ok.len(), 1, "round {round}: exactly one booking wins");
        let r = &ok[0];
        let accept = |ctx: &Ctx| {
            let (app, ctx, id) = (w.app.clone(), ctx.clone(), r.id);
            tokio::spawn(async move { app.referral_step(&ctx, id, &step("accept")).await })
        };
        let (ta, tb) = (accept(&x1), accept(&x2));
        let (a, b) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(
            [a.is_ok(), b.is_ok()].iter().filter(|x| **x).count(),
            1,
            "round {round}: exactly one acceptance"
        );
        let loser = if a.is_ok() { b } else { a };
        assert!(
            matches!(loser, Err(AppError::Conflict { .. }) | Err(AppError::Stale)),
            "{loser:?}"
        );
        let view = w.app.referral_view(&cun, r.id).await.unwrap();
        assert_eq!(
            view.events
                .iter()
                .filter(|e| e.action.code() == "accept")
                .count(),
            1
        );
    }
    assert_eq!(free_slots(&w).await.len(), 24);
    // Cancel returns the slot; a rejection too; a stale version is refused.
    let all = w
        .app
        .worklist(&cun, &WorklistQuery::default())
        .await
        .unwrap();
    let first = &all.referrals[0];
    let mut stale = step("cancel");
    stale.reason = Some("患者放弃".into());
    stale.version = Some(first.version - 1);
    assert!(matches!(
        w.app.referral_step(&cun, first.id, &stale).await,
        Err(AppError::Stale)
    ));
    stale.version = Some(first.version);
    let c = w.app.referral_step(&cun, first.id, &stale).await.unwrap();
    assert_eq!(c.status, Status::Cancelled);
    assert_eq!(c.status_note.as_deref(), Some("患者放弃"));
    assert_eq!(free_slots(&w).await.len(), 25);
    let r = w
        .app
        .create_referral(&cun, &up(&w, Some(slots[10])))
        .await
        .unwrap();
    let mut rej = step("reject");
    rej.reason = Some("建议先到乡镇卫生院就诊".into());
    let r = w.app.referral_step(&x1, r.id, &rej).await.unwrap();
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(free_slots(&w).await.len(), 25);
    // Draft, then submit; the county redirects it to the township (also above the village).
    let mut draft = up(&w, None);
    draft.submit = false;
    let d = w.app.create_referral(&cun, &draft).await.unwrap();
    assert_eq!(d.status, Status::Draft);
    let x_in = w
        .app
        .worklist(
            &x1,
            &WorklistQuery {
                list: "incoming".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        x_in.referrals.iter().all(|r| r.id != d.id),
        "drafts stay with the referring side"
    );
    let d = w
        .app
        .referral_step(&cun, d.id, &step("submit"))
        .await
        .unwrap();
    let mut redirect = step("redirect");
    redirect.reason = Some("县医院CT检修，改派乡镇卫生院DR".into());
    redirect.to_institution_id = Some(w.town.to_string());
    let d = w.app.referral_step(&x1, d.id, &redirect).await.unwrap();
    assert_eq!(d.status, Status::Redirected);
    assert_eq!(d.to_institution_id, w.town);
    let town = ctx_of(&w.app, "towndoc").await;
    // The county's access ended; the township's began.
    w.app
        .resident_access(&town, w.person, "record.read", "referral")
        .await
        .unwrap();
    forbidden(w.app.referral_step(&x1, d.id, &step("accept")).await);
    let d = w
        .app
        .referral_step(&town, d.id, &step("accept"))
        .await
        .unwrap();
    assert_eq!(d.status, Status::Accepted);
    // Overdue: an emergency waits 30 minutes at most; nothing here is overdue yet.
    let over = w
        .app
        .worklist(
            &x1,
            &WorklistQuery {
                list: "overdue".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(over.referrals.is_empty());
}
both_backends!(concurrency_and_slots, concurrency_and_slots);

/// The catalogues and overdue rules the migration seeds are the domain's defaults, and the
/// criteria read the resident's record: an emergency blood pressure at a township suggests an
/// emergency up-referral.
async fn defaults_and_suggestions(db: TestDb) {
    use ygt_domain::org::Tier;
    use ygt_domain::referral::{Criterion, default_catalogue};
    let w = world(&db).await;
    for tier in [Tier::Township, Tier::Village, Tier::County] {
        assert_eq!(
            w.app.catalogue(tier).await.unwrap(),
            default_catalogue(tier),
            "{tier}"
        );
    }
    let rules = w.app.store().referral_rules().await.unwrap();
    let d = ygt_domain::referral::OverdueRules::default();
    for r in rules {
        let u = ygt_domain::referral::Urgency::parse("u", &r.urgency).unwrap();
        let want = d.rule(u);
        assert_eq!(r.accept_minutes, want.accept_within.whole_minutes(), "{u}");
        assert_eq!(r.arrive_minutes, want.arrive_within.whole_minutes(), "{u}");
        assert_eq!(
            r.grace_minutes,
            want.appointment_grace.whole_minutes(),
            "{u}"
        );
        assert_eq!(
            r.complete_minutes,
            want.complete_within.whole_minutes(),
            "{u}"
        );
    }
    // A blood pressure of 186/112 measured at the village clinic.
    use ygt_app::record::{ItemDraft, PatientRef, ResultDraft};
    let bp = ItemDraft {
        kind: "measurement".into(),
        institution_id: w.village.to_string(),
        source_system: "device".into(),
        source_id: "bp-1".into(),
        occurred_at: OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
        title: Some("血压".into()),
        patient: PatientRef {
            id_number: Some("341890195507120029".into()),
            name: Some("王秀英".into()),
            ..Default::default()
        },
        results: vec![
            ResultDraft {
                code: "SBP".into(),
                name: Some("收缩压".into()),
                value: "186".into(),
                unit: Some("mmHg".into()),
                ..Default::default()
            },
            ResultDraft {
                code: "DBP".into(),
                name: Some("舒张压".into()),
                value: "112".into(),
                unit: Some("mmHg".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let parsed = bp.parse(OffsetDateTime::now_utc()).unwrap();
    w.app.record_items(&w.sys, &[parsed], "test").await.unwrap();
    let cun = ctx_of(&w.app, "cundoc").await;
    let s = w
        .app
        .referral_suggestions(&cun, w.person, &[])
        .await
        .unwrap();
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].criterion, Criterion::EmergencyBloodPressure);
    assert_eq!(s[0].detail_zh, "最近一次血压 186/112 mmHg");
    let xian = ctx_of(&w.app, "xiandoc").await;
    forbidden(w.app.referral_suggestions(&xian, w.person, &[]).await);
    assert_eq!(
        field(
            w.app
                .dismiss_suggestion(&cun, w.person, "emergency_bp", "")
                .await
        ),
        "reason"
    );
    w.app
        .dismiss_suggestion(&cun, w.person, "emergency_bp", "已在本院急诊处理")
        .await
        .unwrap();
}
both_backends!(defaults_and_suggestions, defaults_and_suggestions);

/// A second daily session joins a calendar (the afternoon beside the morning); the demo
/// generator's retime moves a referral's steps, events, slip number and booking into the past
/// and leaves the appointment and the audit log as they are.
async fn sessions_and_retime(db: TestDb) {
    use ygt_synth::retime::{Retime, retime_generated_referral};
    let w = world(&db).await;
    let cun = ctx_of(&w.app, "cundoc").await;
    let xian = ctx_of(&w.app, "xiandoc").await;
    // 14:00 Beijing time from tomorrow.
    let afternoon =
        (OffsetDateTime::now_utc() + Duration::days(1)).replace_time(time::macros::time!(06:00));
    forbidden(
        w.app
            .add_calendar_session(&cun, w.ct, afternoon, 30, 2, 1, 7, true)
            .await,
    );
    assert_eq!(
        field(
            w.app
                .add_calendar_session(&w.sys, w.ct, afternoon, 30, 0, 0, 7, true)
                .await
        ),
        "per_day"
    );
    assert_eq!(
        field(
            w.app
                .add_calendar_session(&w.sys, w.ct, afternoon, 30, 2, 3, 7, true)
                .await
        ),
        "reserved_per_day"
    );
    assert!(matches!(
        w.app
            .add_calendar_session(&w.sys, Uuid::now_v7(), afternoon, 30, 2, 1, 7, true)
            .await,
        Err(AppError::NotFound(_))
    ));
    let added = w
        .app
        .add_calendar_session(&w.sys, w.ct, afternoon, 30, 2, 1, 7, true)
        .await
        .unwrap();
    assert_eq!(added, 14);
    assert_eq!(free_slots(&w).await.len(), 42);
    let all = w
        .app
        .store()
        .slots(
            w.ct,
            OffsetDateTime::now_utc(),
            OffsetDateTime::now_utc() + Duration::days(30),
            false,
        )
        .await
        .unwrap();
    assert_eq!(all.iter().filter(|s| s.reserved).count(), 7 * 3);
    assert_eq!(
        all.iter()
            .filter(|s| s.starts_at.to_offset(time::macros::offset!(+8)).hour() >= 14)
            .count(),
        14
    );

    // Written now, moved to three days ago (accepted two days ago).
    let slot = free_slots(&w).await[3];
    let real_create = OffsetDateTime::now_utc();
    let r = w
        .app
        .create_referral(&cun, &up(&w, Some(slot)))
        .await
        .unwrap();
    let real_accept = OffsetDateTime::now_utc();
    let r = w
        .app
        .referral_step(&xian, r.id, &step("accept"))
        .await
        .unwrap();
    assert_eq!(r.status, Status::Scheduled);
    let now = OffsetDateTime::now_utc();
    let (created, accepted) = (now - Duration::days(3), now - Duration::days(2));
    let day = created.to_offset(time::macros::offset!(+8)).date();
    retime_generated_referral(
        w.app.store(),
        r.id,
        &Retime {
            anchors: vec![(real_create, created), (real_accept, accepted)],
            number_day: Some(day),
        },
    )
    .await
    .unwrap();
    let near = |a: OffsetDateTime, b: OffsetDateTime| (a - b).abs() < Duration::seconds(10);
    let m = w.app.store().referral(r.id).await.unwrap().unwrap();
    assert!(near(m.created_at, created), "{}", m.created_at);
    assert!(near(m.submitted_at.unwrap(), created));
    assert!(near(m.accepted_at.unwrap(), accepted));
    assert!(near(m.status_since, accepted));
    assert_eq!(m.appointment_at, r.appointment_at, "the appointment stays");
    assert_eq!(m.version, r.version, "no change by a person");
    let stamp = format!(
        "ZZ{:04}{:02}{:02}-",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    assert!(m.number.starts_with(&stamp), "{}", m.number);
    let events = w.app.store().referral_events(r.id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.action.code()).collect::<Vec<_>>(),
        ["create", "book", "accept", "schedule"]
    );
    assert!(near(events[0].at, created) && near(events[1].at, created));
    assert!(near(events[2].at, accepted) && near(events[3].at, accepted));
    let held = w.app.store().slot_of_referral(r.id).await.unwrap().unwrap();
    assert_eq!(held.id, slot);
    assert!(near(held.booked_at.unwrap(), created));
    let inbox = w.app.inbox(&cun, false).await.unwrap();
    assert!(
        inbox.iter().all(|n| near(n.created_at, accepted)),
        "{inbox:?}"
    );
    // Scheduled with a future appointment: not overdue however long ago it was accepted.
    let view = w.app.referral_view(&cun, r.id).await.unwrap();
    assert_eq!(view.overdue, None);
    // The audit log keeps the real times and its chain.
    let report = w.app.verify_audit_chain().await.unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
}
both_backends!(sessions_and_retime, sessions_and_retime);
