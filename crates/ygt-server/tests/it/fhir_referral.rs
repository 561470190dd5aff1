//! Two-way referral over FHIR R4, on both backends: a village doctor refers a resident up to
//! the county hospital as a ServiceRequest with a CT slot; the county moves the Task through
//! acceptance, arrival and completion with the outcome; the village reads the outcome back
//! through Task.output. Forbidden steps are OperationOutcomes naming the element, the wrong
//! side gets 403, Slots show free and busy. Every resource returned validates against the R4
//! JSON schema.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_app::Ctx;
use ygt_app::mpi::ResidentDraft;
use ygt_domain::access::Role;
use ygt_domain::org::{DepartmentDraft, InstitutionDraft};
use ygt_domain::referral::ResourceKind;
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;
use crate::fhir::{assert_valid, fhir_json};

const DIRECTION: &str = "urn:ygt:referral-direction";
const SLOT_EXT: &str = "urn:ygt:fhir:extension:slot";

struct World {
    s: TestServer,
    hospital: Uuid,
    radiology: Uuid,
    town: Uuid,
    village: Uuid,
    person: Uuid,
    ct: Uuid,
    cun: reqwest::Client,
    xian: reqwest::Client,
    other: reqwest::Client,
}

async fn world(db: TestDb) -> World {
    let s = TestServer::start(db, false).await;
    let sys = Ctx::system();
    let inst = |name: &str, kind: &str, parent: Option<Uuid>, div: &str| InstitutionDraft {
        name: name.into(),
        kind: kind.into(),
        parent_id: parent.map(|p| p.to_string()),
        division_code: div.into(),
        ..Default::default()
    };
    let app = &s.app;
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
    let other_town = app
        .create_institution(
            &sys,
            &inst(
                "石门镇卫生院",
                "township_health_centre",
                Some(hospital),
                "341890101",
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
    // CT: 4 slots a day for a week from tomorrow, the first 2 reserved for referrals.
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
    let cun = s
        .client_as("fr.cundoc", &[Role::VillageDoctor], Some(village))
        .await;
    let xian = s
        .client_as("fr.xiandoc", &[Role::Doctor], Some(hospital))
        .await;
    let other = s
        .client_as("fr.otherdoc", &[Role::Doctor], Some(other_town))
        .await;
    World {
        s,
        hospital,
        radiology,
        town,
        village,
        person,
        ct,
        cun,
        xian,
        other,
    }
}

/// Sends a FHIR request; every answer is a valid FHIR resource.
async fn call(
    w: &World,
    c: &reqwest::Client,
    method: Method,
    path: &str,
    body: Option<&Value>,
    if_match: Option<i64>,
) -> (StatusCode, Value) {
    let mut rb = c.request(method, w.s.url(path));
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/fhir+json")
            .body(b.to_string());
    }
    if let Some(v) = if_match {
        rb = rb.header("if-match", format!("W/\"{v}\""));
    }
    let (st, v) = fhir_json(rb.send().await.unwrap()).await;
    assert_valid(&v);
    (st, v)
}

async fn get(w: &World, c: &reqwest::Client, path: &str) -> (StatusCode, Value) {
    call(w, c, Method::GET, path, None, None).await
}

/// Asserts an OperationOutcome with `status` whose issues name `element`.
fn outcome(st: StatusCode, v: &Value, status: StatusCode, element: &str) {
    assert_eq!(st, status, "{v:#}");
    assert_eq!(v["resourceType"], "OperationOutcome", "{v:#}");
    if element.is_empty() {
        return;
    }
    let exprs: Vec<&str> = v["issue"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["expression"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        exprs.iter().any(|e| e.starts_with(element)),
        "expected {element}, got {exprs:?} in {v:#}"
    );
}

fn entries(b: &Value) -> Vec<Value> {
    assert_eq!(b["resourceType"], "Bundle", "{b:#}");
    b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect()
}

fn next_link(b: &Value) -> Option<String> {
    b["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| {
            let url = l["url"].as_str().unwrap();
            format!("/fhir/{}", url.split_once("/fhir/").unwrap().1)
        })
}

fn referral(w: &World, slot: Option<&str>, supporting: Option<&str>) -> Value {
    let mut sr = json!({
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": DIRECTION, "code": "up"}]}],
        "priority": "urgent",
        "subject": {"reference": format!("Patient/{}", w.person)},
        "performer": [
            {"reference": format!("Organization/{}", w.hospital)},
            {"identifier": {"system": "urn:ygt:department", "value": w.radiology.to_string()}},
        ],
        "reasonCode": [
            {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I63.900", "display": "脑梗死"}]},
            {"text": "右侧肢体无力2天，需头颅CT"},
            {"coding": [{"system": "urn:ygt:referral-criterion", "code": "missing_equipment"}]},
        ],
        "note": [{"text": "高血压10年，血压 172/98 mmHg"}],
        "orderDetail": [{"coding": [{"system": "urn:ygt:resource-kind", "code": "ct"}]}],
    });
    if let Some(slot) = slot {
        sr["extension"] =
            json!([{"url": SLOT_EXT, "valueReference": {"reference": format!("Slot/{slot}")}}]);
    }
    if let Some(item) = supporting {
        sr["supportingInfo"] = json!([{"reference": item}]);
    }
    sr
}

fn task_with(t: &Value, status: &str) -> Value {
    let mut t = t.clone();
    t["status"] = json!(status);
    t
}

async fn referral_over_fhir(db: TestDb) {
    let w = world(db).await;

    // The CapabilityStatement lists the new types with their interactions.
    let (_, cap) = get(&w, &crate::client(), "/fhir/metadata").await;
    let res = cap["rest"][0]["resource"].as_array().unwrap();
    let task_cap = res.iter().find(|r| r["type"] == "Task").unwrap();
    assert_eq!(
        task_cap["interaction"],
        json!([{"code": "read"}, {"code": "update"}, {"code": "search-type"}])
    );
    for t in ["ServiceRequest", "Appointment", "Schedule", "Slot"] {
        assert!(res.iter().any(|r| r["type"] == t), "{t}");
    }

    // The calendar: one Schedule at the county hospital, its free Slots page by page.
    let (st, sched) = get(
        &w,
        &w.cun,
        &format!("/fhir/Schedule?actor=Organization/{}", w.hospital),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{sched:#}");
    let sched = entries(&sched);
    assert_eq!(sched.len(), 1);
    assert_eq!(sched[0]["id"], w.ct.to_string());
    assert_eq!(sched[0]["serviceType"][0]["coding"][0]["code"], "ct");
    let (st, free) = get(
        &w,
        &w.cun,
        &format!("/fhir/Slot?schedule=Schedule/{}&status=free&_count=3", w.ct),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{free:#}");
    let first = entries(&free);
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|s| s["status"] == "free"));
    let (_, page2) = get(&w, &w.cun, &next_link(&free).unwrap()).await;
    let second = entries(&page2);
    assert_eq!(second.len(), 3);
    assert!(second[0]["start"].as_str() >= first[2]["start"].as_str());
    assert_ne!(second[0]["id"], first[2]["id"]);
    // Later in the week the first two slots of a day are still reserved for referrals.
    let (_, later) = get(
        &w,
        &w.cun,
        &format!(
            "/fhir/Slot?schedule=Schedule/{}&start=ge{}",
            w.ct,
            (OffsetDateTime::now_utc() + Duration::days(4)).date()
        ),
    )
    .await;
    let later = entries(&later);
    assert!(!later.is_empty());
    assert!(
        later
            .iter()
            .any(|s| s["extension"][0]["valueCode"] == "reserved"
                && s["comment"].as_str().unwrap().contains("转诊")),
        "{later:#?}"
    );
    let slot = first[0]["id"].as_str().unwrap().to_owned();

    // A record item to attach: the village doctor records the diagnosis first.
    let (st, cond) = call(
        &w,
        &w.cun,
        Method::POST,
        "/fhir/Condition",
        Some(&json!({
            "resourceType": "Condition",
            "identifier": [{"system": "urn:village:dx", "value": "DX-77"}],
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I63.900", "display": "脑梗死"}]},
            "subject": {"reference": format!("Patient/{}", w.person)},
            "onsetDateTime": "2026-11-28T08:00:00+08:00",
        })),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{cond:#}");
    let cond_ref = format!("Condition/{}", cond["id"].as_str().unwrap());

    // Bad referrals name the element and store nothing.
    let mut no_performer = referral(&w, None, None);
    no_performer.as_object_mut().unwrap().remove("performer");
    let mut bad_icd = referral(&w, None, None);
    bad_icd["reasonCode"][0]["coding"][0]["code"] = json!("brain");
    let mut no_category = referral(&w, None, None);
    no_category.as_object_mut().unwrap().remove("category");
    let mut down_to_county = referral(&w, None, None);
    down_to_county["category"][0]["coding"][0]["code"] = json!("down");
    down_to_county["status"] = json!("draft");
    let mut no_reason = referral(&w, None, None);
    no_reason["reasonCode"] = json!([no_reason["reasonCode"][0].clone()]);
    no_reason.as_object_mut().unwrap().remove("note");
    let mut bad_item = referral(&w, None, Some("Condition/not-an-id"));
    bad_item["supportingInfo"][0]["reference"] = json!(format!("Condition/{}", Uuid::now_v7()));
    let mut other_requester = referral(&w, None, None);
    other_requester["requester"] = json!({"reference": format!("Organization/{}", w.hospital)});
    for (body, element) in [
        (no_performer, "ServiceRequest.performer"),
        (bad_icd, "ServiceRequest.reasonCode"),
        (no_category, "ServiceRequest.category"),
        (down_to_county, "ServiceRequest.performer"),
        (no_reason, "ServiceRequest.reasonCode"),
        (bad_item, "ServiceRequest.supportingInfo[0]"),
        (other_requester, "ServiceRequest.requester"),
        (
            json!({"resourceType": "Task", "status": "requested"}),
            "resourceType",
        ),
    ] {
        let (st, v) = call(
            &w,
            &w.cun,
            Method::POST,
            "/fhir/ServiceRequest",
            Some(&body),
            None,
        )
        .await;
        outcome(st, &v, StatusCode::UNPROCESSABLE_ENTITY, element);
    }
    let (st, v) = call(
        &w,
        &w.cun,
        Method::POST,
        "/fhir/Task",
        Some(&json!({"resourceType": "Task", "status": "requested"})),
        None,
    )
    .await;
    outcome(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "Task");
    let (_, none) = get(
        &w,
        &w.cun,
        &format!("/fhir/ServiceRequest?patient={}", w.person),
    )
    .await;
    assert_eq!(none["total"], 0, "{none:#}");

    // The referral, with the CT slot and the diagnosis attached.
    let r = w
        .cun
        .post(w.s.url("/fhir/ServiceRequest"))
        .header("content-type", "application/fhir+json")
        .body(referral(&w, Some(&slot), Some(&cond_ref)).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/fhir/ServiceRequest/")
    );
    assert_eq!(r.headers()["etag"], "W/\"2\"", "created, then booked");
    let (st, sr) = fhir_json(r).await;
    assert_eq!(st, StatusCode::CREATED, "{sr:#}");
    assert_valid(&sr);
    let id = sr["id"].as_str().unwrap().to_owned();
    assert_eq!(sr["status"], "active");
    assert_eq!(sr["category"][0]["coding"][0]["code"], "up");
    assert_eq!(sr["priority"], "urgent");
    assert!(
        sr["identifier"][0]["value"]
            .as_str()
            .unwrap()
            .starts_with("ZZ")
    );
    assert_eq!(
        sr["performer"][0]["reference"],
        format!("Organization/{}", w.hospital)
    );
    assert_eq!(sr["performer"][1]["display"], "放射科");
    assert_eq!(sr["reasonCode"][0]["coding"][0]["code"], "I63.900");
    assert_eq!(sr["reasonCode"][1]["text"], "右侧肢体无力2天，需头颅CT");
    assert_eq!(sr["note"][0]["text"], "高血压10年，血压 172/98 mmHg");
    assert_eq!(sr["supportingInfo"][0]["reference"], cond_ref.as_str());
    assert_eq!(sr["contained"][0]["resourceType"], "PractitionerRole");
    assert_eq!(
        sr["contained"][0]["organization"]["reference"],
        format!("Organization/{}", w.village)
    );
    assert!(sr["occurrenceDateTime"].is_string());

    // The slot is busy now; booking it again is refused.
    let (_, busy) = get(
        &w,
        &w.cun,
        &format!("/fhir/Slot?schedule=Schedule/{}&status=busy", w.ct),
    )
    .await;
    let busy = entries(&busy);
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0]["id"], slot.as_str());
    assert!(busy[0].get("comment").is_none() || !busy[0].to_string().contains(&id));
    let (_, one) = get(&w, &w.cun, &format!("/fhir/Slot/{slot}")).await;
    assert_eq!(one["status"], "busy");
    let (st, v) = call(
        &w,
        &w.cun,
        Method::POST,
        "/fhir/ServiceRequest",
        Some(&referral(&w, Some(&slot), None)),
        None,
    )
    .await;
    outcome(
        st,
        &v,
        StatusCode::CONFLICT,
        "ServiceRequest.extension('urn:ygt:fhir:extension:slot')",
    );

    // The referring side finds it; the Task waits at the county.
    let (_, found) = get(
        &w,
        &w.cun,
        &format!(
            "/fhir/ServiceRequest?patient=Patient/{}&status=active&category={DIRECTION}|up",
            w.person
        ),
    )
    .await;
    assert_eq!(entries(&found).len(), 1, "{found:#}");
    let (_, done) = get(
        &w,
        &w.cun,
        &format!(
            "/fhir/ServiceRequest?patient={}&status=completed,revoked",
            w.person
        ),
    )
    .await;
    assert_eq!(entries(&done).len(), 0);
    let (_, tasks) = get(
        &w,
        &w.xian,
        &format!(
            "/fhir/Task?owner=Organization/{}&status=requested",
            w.hospital
        ),
    )
    .await;
    let tasks = entries(&tasks);
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    let task = tasks[0].clone();
    assert_eq!(task["id"], id.as_str());
    assert_eq!(task["focus"]["reference"], format!("ServiceRequest/{id}"));
    assert_eq!(task["businessStatus"]["coding"][0]["code"], "submitted");
    let (_, by_focus) = get(
        &w,
        &w.xian,
        &format!("/fhir/Task?focus=ServiceRequest/{id}"),
    )
    .await;
    assert_eq!(entries(&by_focus).len(), 1);
    let (_, pending) = get(&w, &w.cun, &format!("/fhir/Appointment/{id}")).await;
    assert_eq!(pending["status"], "pending");

    // The wrong side: the referring clinic cannot accept; another township sees nothing.
    let task_path = format!("/fhir/Task/{id}");
    let (st, v) = call(
        &w,
        &w.cun,
        Method::PUT,
        &task_path,
        Some(&task_with(&task, "accepted")),
        None,
    )
    .await;
    outcome(st, &v, StatusCode::FORBIDDEN, "");
    let (st, v) = get(&w, &w.other, &task_path).await;
    outcome(st, &v, StatusCode::FORBIDDEN, "");
    let (st, v) = call(
        &w,
        &w.other,
        Method::PUT,
        &task_path,
        Some(&task_with(&task, "accepted")),
        None,
    )
    .await;
    outcome(st, &v, StatusCode::FORBIDDEN, "");
    let (_, theirs) = get(&w, &w.other, "/fhir/ServiceRequest").await;
    assert_eq!(theirs["total"], 0);

    // Forbidden transitions and missing elements.
    let mut reject = task_with(&task, "rejected");
    reject.as_object_mut().unwrap().remove("statusReason");
    let mut redirect_accepted = task_with(&task, "accepted");
    redirect_accepted["owner"] = json!({"reference": format!("Organization/{}", w.village)});
    for (body, status, element) in [
        (
            task_with(&task, "completed"),
            StatusCode::CONFLICT,
            "Task.status",
        ),
        (
            task_with(&task, "in-progress"),
            StatusCode::CONFLICT,
            "Task.status",
        ),
        (
            task_with(&task, "draft"),
            StatusCode::CONFLICT,
            "Task.status",
        ),
        (
            task_with(&task, "on-hold"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Task.status",
        ),
        (
            reject,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Task.statusReason",
        ),
        (
            redirect_accepted,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Task.owner",
        ),
        (
            json!({"resourceType": "Task", "id": "other", "status": "accepted"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Task.id",
        ),
    ] {
        let (st, v) = call(&w, &w.xian, Method::PUT, &task_path, Some(&body), None).await;
        outcome(st, &v, status, element);
    }
    let version: i64 = task["meta"]["versionId"].as_str().unwrap().parse().unwrap();
    let (st, v) = call(
        &w,
        &w.xian,
        Method::PUT,
        &task_path,
        Some(&task_with(&task, "accepted")),
        Some(version - 1),
    )
    .await;
    outcome(st, &v, StatusCode::CONFLICT, "Task.meta.versionId");

    // Acceptance: a booked referral is scheduled; the Appointment is booked.
    let (st, accepted) = call(
        &w,
        &w.xian,
        Method::PUT,
        &task_path,
        Some(&task_with(&task, "accepted")),
        Some(version),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{accepted:#}");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["businessStatus"]["coding"][0]["code"], "scheduled");
    // The same status again changes nothing.
    let (st, again) = call(&w, &w.xian, Method::PUT, &task_path, Some(&accepted), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again["meta"]["versionId"], accepted["meta"]["versionId"]);
    let (_, appts) = get(
        &w,
        &w.cun,
        &format!("/fhir/Appointment?patient={}&status=booked", w.person),
    )
    .await;
    let appts = entries(&appts);
    assert_eq!(appts.len(), 1, "{appts:#?}");
    assert_eq!(appts[0]["slot"][0]["reference"], format!("Slot/{slot}"));
    assert_eq!(
        appts[0]["basedOn"][0]["reference"],
        format!("ServiceRequest/{id}")
    );
    assert_eq!(appts[0]["serviceType"][0]["coding"][0]["code"], "ct");
    assert_eq!(appts[0]["start"], one["start"]);
    let (_, appt) = get(&w, &w.xian, &format!("/fhir/Appointment/{id}")).await;
    assert_eq!(appt["status"], "booked");

    // Arrival, then completion: the outcome is required.
    let (st, arrived) = call(
        &w,
        &w.xian,
        Method::PUT,
        &task_path,
        Some(&task_with(&accepted, "in-progress")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{arrived:#}");
    assert_eq!(arrived["businessStatus"]["coding"][0]["code"], "arrived");
    let (st, v) = call(
        &w,
        &w.xian,
        Method::PUT,
        &task_path,
        Some(&task_with(&arrived, "completed")),
        None,
    )
    .await;
    outcome(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "Task.output");
    let mut complete = task_with(&arrived, "completed");
    complete["output"] = json!([
        {"type": {"coding": [{"system": "urn:ygt:referral-outcome", "code": "diagnosis"}]},
         "valueCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I63.900"}], "text": "脑梗死"}},
        {"type": {"coding": [{"system": "urn:ygt:referral-outcome", "code": "treatment"}]}, "valueString": "溶栓后康复"},
        {"type": {"coding": [{"system": "urn:ygt:referral-outcome", "code": "summary"}]}, "valueString": "住院14天，病情稳定出院"},
    ]);
    let (st, completed) = call(&w, &w.xian, Method::PUT, &task_path, Some(&complete), None).await;
    assert_eq!(st, StatusCode::OK, "{completed:#}");
    assert_eq!(completed["status"], "completed");

    // The referring side reads the outcome back.
    let (_, sr) = get(&w, &w.cun, &format!("/fhir/ServiceRequest/{id}")).await;
    assert_eq!(sr["status"], "completed");
    let (_, t) = get(&w, &w.cun, &task_path).await;
    let out = t["output"].as_array().unwrap();
    assert_eq!(out.len(), 3, "{t:#}");
    assert_eq!(
        out[0]["valueCodeableConcept"]["coding"][0]["code"],
        "I63.900"
    );
    assert_eq!(out[2]["valueString"], "住院14天，病情稳定出院");
    let (_, appt) = get(&w, &w.cun, &format!("/fhir/Appointment/{id}")).await;
    assert_eq!(appt["status"], "fulfilled");
    let mut cancel = task_with(&t, "cancelled");
    cancel["statusReason"] = json!({"text": "患者放弃"});
    let (st, v) = call(&w, &w.cun, Method::PUT, &task_path, Some(&cancel), None).await;
    outcome(st, &v, StatusCode::CONFLICT, "Task.status");

    // A second referral without a slot: rejected with its reason; a third one paged.
    let (st, sr2) = call(
        &w,
        &w.cun,
        Method::POST,
        "/fhir/ServiceRequest",
        Some(&referral(&w, None, None)),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{sr2:#}");
    let id2 = sr2["id"].as_str().unwrap().to_owned();
    let (_, t2) = get(&w, &w.xian, &format!("/fhir/Task/{id2}")).await;
    let (st, v) = get(&w, &w.xian, &format!("/fhir/Appointment/{id2}")).await;
    outcome(st, &v, StatusCode::NOT_FOUND, "");
    let mut reject = task_with(&t2, "rejected");
    reject["statusReason"] = json!({"text": "建议先到乡镇卫生院就诊"});
    let (st, rejected) = call(
        &w,
        &w.xian,
        Method::PUT,
        &format!("/fhir/Task/{id2}"),
        Some(&reject),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{rejected:#}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["statusReason"]["text"], "建议先到乡镇卫生院就诊");
    let (_, sr2) = get(&w, &w.cun, &format!("/fhir/ServiceRequest/{id2}")).await;
    assert_eq!(sr2["status"], "revoked");
    let mut draft = referral(&w, None, None);
    draft["status"] = json!("draft");
    let (st, sr3) = call(
        &w,
        &w.cun,
        Method::POST,
        "/fhir/ServiceRequest",
        Some(&draft),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{sr3:#}");
    assert_eq!(sr3["status"], "draft");
    let (_, p1) = get(
        &w,
        &w.cun,
        &format!("/fhir/ServiceRequest?patient={}&_count=2", w.person),
    )
    .await;
    assert_eq!(entries(&p1).len(), 2);
    let (_, p2) = get(&w, &w.cun, &next_link(&p1).unwrap()).await;
    let mut ids: Vec<String> = entries(&p1)
        .iter()
        .chain(entries(&p2).iter())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{p1:#} {p2:#}");
    // The draft is submitted by moving its Task to requested.
    let (_, t3) = get(
        &w,
        &w.cun,
        &format!("/fhir/Task/{}", sr3["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(t3["status"], "draft");
    let (st, submitted) = call(
        &w,
        &w.cun,
        Method::PUT,
        &format!("/fhir/Task/{}", sr3["id"].as_str().unwrap()),
        Some(&task_with(&t3, "requested")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{submitted:#}");
    assert_eq!(
        submitted["businessStatus"]["coding"][0]["code"],
        "submitted"
    );

    // The county redirects it to the township: a new owner, the status stays requested.
    let t3_path = format!("/fhir/Task/{}", sr3["id"].as_str().unwrap());
    let mut redirect = task_with(&submitted, "requested");
    redirect["owner"] = json!({"reference": format!("Organization/{}", w.town)});
    let (st, v) = call(&w, &w.xian, Method::PUT, &t3_path, Some(&redirect), None).await;
    outcome(
        st,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Task.statusReason",
    );
    redirect["statusReason"] = json!({"text": "县医院CT检修，改派乡镇卫生院"});
    let (st, redirected) = call(&w, &w.xian, Method::PUT, &t3_path, Some(&redirect), None).await;
    assert_eq!(st, StatusCode::OK, "{redirected:#}");
    assert_eq!(redirected["status"], "requested");
    assert_eq!(
        redirected["businessStatus"]["coding"][0]["code"],
        "redirected"
    );
    assert_eq!(
        redirected["owner"]["reference"],
        format!("Organization/{}", w.town)
    );
    assert_eq!(
        redirected["statusReason"]["text"],
        "县医院CT检修，改派乡镇卫生院"
    );
    let (st, v) = call(
        &w,
        &w.xian,
        Method::PUT,
        &t3_path,
        Some(&task_with(&redirected, "accepted")),
        None,
    )
    .await;
    outcome(st, &v, StatusCode::FORBIDDEN, "");

    // Down: the county hands the resident back with a treatment plan, checked line by line.
    w.s.app
        .register_resident(
            &Ctx::system(),
            &ResidentDraft {
                institution_id: w.hospital.to_string(),
                name: "王秀英".into(),
                id_number: Some("341890195507120029".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let plan = "urn:ygt:fhir:extension:treatment-plan";
    let mut down = json!({
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "category": [{"coding": [{"system": DIRECTION, "code": "down"}]}],
        "subject": {"reference": format!("Patient/{}", w.person)},
        "performer": [{"reference": format!("Organization/{}", w.village)}],
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I69.300"}]},
                       {"text": "脑梗死恢复期，转回社区康复"}],
        "extension": [{"url": plan, "extension": [
            {"url": "dischargeSummary", "valueString": "脑梗死，溶栓后恢复良好"},
            {"url": "medication", "valueString": "阿司匹林肠溶片 100mg 每日一次"},
            {"url": "followUp", "valueString": "+14 血压随访"},
            {"url": "followUp", "valueString": "next-week 复查"},
        ]}],
    });
    let (st, v) = call(
        &w,
        &w.xian,
        Method::POST,
        "/fhir/ServiceRequest",
        Some(&down),
        None,
    )
    .await;
    outcome(
        st,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("ServiceRequest.extension('{plan}').extension('followUp')[1]"),
    );
    down["extension"][0]["extension"][3]["valueString"] = json!("2099-03-01 复查血脂");
    let (st, d) = call(
        &w,
        &w.xian,
        Method::POST,
        "/fhir/ServiceRequest",
        Some(&down),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{d:#}");
    assert_eq!(d["category"][0]["coding"][0]["code"], "down");
    let subs: Vec<&str> = d["extension"][0]["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"] == "followUp")
        .map(|e| e["valueString"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["+14 血压随访", "2099-03-01 复查血脂"]);
    let d_task = format!("/fhir/Task/{}", d["id"].as_str().unwrap());
    let (_, dt) = get(&w, &w.cun, &d_task).await;
    let (st, dt) = call(
        &w,
        &w.cun,
        Method::PUT,
        &d_task,
        Some(&task_with(&dt, "accepted")),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{dt:#}");
    assert_eq!(dt["businessStatus"]["coding"][0]["code"], "accepted");
    // The village sets the first visit: an appointment without a slot.
    let mut visit = dt.clone();
    visit["restriction"] = json!({"period": {"start": "2099-01-02T09:30:00+08:00"}});
    let (st, dt) = call(&w, &w.cun, Method::PUT, &d_task, Some(&visit), None).await;
    assert_eq!(st, StatusCode::OK, "{dt:#}");
    assert_eq!(dt["businessStatus"]["coding"][0]["code"], "scheduled");
    let (_, da) = get(
        &w,
        &w.xian,
        &format!("/fhir/Appointment/{}", d["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(da["status"], "booked");
    assert_eq!(da["start"], "2099-01-02T01:30:00Z");
    assert_eq!(da["end"], "2099-01-02T02:00:00Z");
    assert!(da.get("slot").is_none());

    // Searches name their bad parameters.
    for (path, element) in [
        ("/fhir/Slot".to_owned(), "schedule"),
        (
            format!("/fhir/Slot?schedule=Schedule/{}&start=soon", w.ct),
            "start",
        ),
        (
            format!("/fhir/Slot?schedule=Schedule/{}&status=maybe", w.ct),
            "status",
        ),
        (
            "/fhir/ServiceRequest?category=sideways".to_owned(),
            "category",
        ),
        ("/fhir/Task?owner=Organization/x".to_owned(), "owner"),
        ("/fhir/ServiceRequest?_count=-1".to_owned(), "_count"),
    ] {
        let (st, v) = get(&w, &w.cun, &path).await;
        outcome(st, &v, StatusCode::UNPROCESSABLE_ENTITY, element);
    }
}

both_backends!(referral_over_fhir, referral_over_fhir);
