//! Two-way referral through the real server: the JSON API with live notifications (also
//! between two servers sharing one PostgreSQL), the printable slip, and the browser journey of
//! issue 6 on both backends.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;
use ygt_app::account::AccountDraft;
use ygt_app::mpi::ResidentDraft;
use ygt_app::ygt_store::Store;
use ygt_app::{App, Ctx};
use ygt_domain::org::{DepartmentDraft, InstitutionDraft, StaffDraft};
use ygt_domain::referral::ResourceKind;
use ygt_server::AppState;
use ygt_testkit::{Browser, TestDb, Window, both_backends};

use crate::{PASSWORD, TestServer};

const WAIT: Duration = Duration::from_secs(10);

pub(crate) struct County {
    pub(crate) hospital: Uuid,
    pub(crate) town: Uuid,
    pub(crate) village: Uuid,
    /// The village clinic's doctor (staff), named as the family doctor on the way down.
    pub(crate) village_doctor: Uuid,
    pub(crate) person: Uuid,
}

/// A county hospital with radiology and a CT calendar, a township, a village clinic with its
/// village doctor `cundoc`, a county doctor `xiandoc`, and a resident registered at the village.
pub(crate) async fn county(app: &App) -> County {
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
    let staff = app
        .create_staff(
            &sys,
            &StaffDraft {
                name: "赵村医".into(),
                sex: "1".into(),
                title: "village_doctor".into(),
                institution_id: village.to_string(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    for (user, display, inst, role, staff_id) in [
        ("cundoc", "赵村医", village, "village_doctor", Some(staff)),
        ("xiandoc", "钱主任", hospital, "doctor", None),
    ] {
        app.create_account(
            &sys,
            &AccountDraft {
                username: user.into(),
                display_name: display.into(),
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
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    let tomorrow = (OffsetDateTime::now_utc() + time::Duration::days(1))
        .replace_time(time::macros::time!(01:00));
    app.create_calendar(
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
        6,
        3,
        7,
        true,
    )
    .await
    .unwrap();
    County {
        hospital,
        town,
        village,
        village_doctor: staff,
        person,
    }
}

/// Reads server-sent events from a streaming response until one of `event` arrives.
async fn next_event(resp: &mut reqwest::Response, event: &str, buf: &mut String) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(pos) = buf.find("\n\n") {
            let block: String = buf.drain(..pos + 2).collect();
            let mut name = "message";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim());
                }
            }
            if name == event {
                return serde_json::from_str(&data).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no `{event}` event within {WAIT:?}"))
            .unwrap()
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The API loop with live events: the county doctor listens on /events of one server while
/// the village doctor submits through another (on PostgreSQL the two share the database only,
/// like two ygt processes; on SQLite one process serves both).
async fn api_loop_with_live_events(db: TestDb) {
    let backend_pg = db.url.starts_with("postgres");
    let url = db.url.clone();
    let a = TestServer::start(db, false).await;
    let c = county(&a.app).await;
    // A second server on the same database.
    let b_base = if backend_pg {
        let app = App::new(Store::open(&url).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(app);
        tokio::spawn(async move {
            let _ = ygt_server::serve(listener, state, std::future::pending::<()>()).await;
        });
        // Let its listener subscribe before anything is sent.
        tokio::time::sleep(Duration::from_millis(500)).await;
        format!("http://{addr}")
    } else {
        a.base.clone()
    };
    let cun = a.signed_in("cundoc").await;
    let xian = a.signed_in("xiandoc").await;
    let mut stream = xian.get(format!("{b_base}/events")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut buf = String::new();
    let hello = next_event(&mut stream, "hello", &mut buf).await;
    assert_eq!(hello["unread"], 0);

    // Slots of the CT calendar.
    let res: Value = cun
        .get(a.url(&format!(
            "/api/v1/booking-resources?institution_id={}&kind=ct",
            c.hospital
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ct = res["resources"][0]["id"].as_str().unwrap().to_owned();
    let slots: Value = cun
        .get(a.url(&format!("/api/v1/booking-resources/{ct}/slots")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["availability"] == "reserved")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bad input names the field; nothing is stored.
    let bad = cun
        .post(a.url("/api/v1/referrals"))
        .json(
            &json!({"direction": "up", "person_id": c.person, "to_institution_id": c.hospital,
            "reason": "头晕", "diagnosis_code": "脑梗", "submit": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let e: Value = bad.json().await.unwrap();
    assert_eq!(e["error"]["field"], "diagnosis_code");
    let wrong_way = cun
        .post(a.url("/api/v1/referrals"))
        .json(
            &json!({"direction": "down", "person_id": c.person, "to_institution_id": c.town,
            "reason": "x"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_way.status(), 422);

    let created = cun
        .post(a.url("/api/v1/referrals"))
        .json(
            &json!({"direction": "up", "person_id": c.person, "to_institution_id": c.hospital,
            "urgency": "urgent", "reason": "右侧肢体无力2天，需头颅CT", "diagnosis_code": "I63.900",
            "diagnosis_name": "脑梗死", "needs": "ct", "slot_id": slot, "submit": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let r: Value = created.json().await.unwrap();
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!(r["status"], "submitted");

    // The county doctor hears of it at once, on the other server.
    let ev = next_event(&mut stream, "notification", &mut buf).await;
    assert_eq!(ev["referral_id"], id.as_str());
    assert_eq!(ev["kind"], "submitted");
    assert!(ev["title_zh"].as_str().unwrap().contains("王秀英"));
    assert_eq!(ev["unread"], 1);

    // The same slot cannot be booked twice.
    let again = cun
        .post(a.url("/api/v1/referrals"))
        .json(
            &json!({"direction": "up", "person_id": c.person, "to_institution_id": c.hospital,
            "reason": "复查", "slot_id": slot, "submit": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let e: Value = again.json().await.unwrap();
    assert_eq!(e["error"]["field"], "slot_id");

    // Wrong side, wrong state.
    let step = |client: &reqwest::Client, body: Value| {
        client
            .post(a.url(&format!("/api/v1/referrals/{id}/steps")))
            .json(&body)
            .send()
    };
    assert_eq!(
        step(&cun, json!({"action": "accept"}))
            .await
            .unwrap()
            .status(),
        403
    );
    let e = step(&xian, json!({"action": "complete"})).await.unwrap();
    assert_eq!(e.status(), 409);
    assert_eq!(e.json::<Value>().await.unwrap()["error"]["field"], "action");
    let ok = step(&xian, json!({"action": "accept"})).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["status"], "scheduled");
    assert_eq!(
        step(&xian, json!({"action": "arrive"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let done = step(
        &xian,
        json!({"action": "complete", "outcome": {"summary": "住院14天，好转出院", "treatment": "溶栓"}}),
    )
    .await
    .unwrap();
    assert_eq!(done.status(), 200);

    // The closed loop: the referring doctor reads the outcome and has the messages.
    let view: Value = cun
        .get(a.url(&format!("/api/v1/referrals/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["referral"]["status"], "completed");
    assert_eq!(view["outcome"]["summary"], "住院14天，好转出院");
    let kinds: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["create", "book", "accept", "schedule", "arrive", "complete"]
    );
    let counts: Value = cun
        .get(a.url("/api/v1/referral-counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["outgoing_open"], 0);

    // The slip prints the national fields and a QR code.
    let slip = cun
        .get(a.url(&format!("/referrals/{id}/slip")))
        .send()
        .await
        .unwrap();
    assert_eq!(slip.status(), 200);
    let html = slip.text().await.unwrap();
    assert!(html.contains(r["number"].as_str().unwrap()));
    assert!(html.contains("<svg"), "QR code");
    assert!(html.contains("3418**********0029"), "masked ID");
    assert!(
        !html.contains("341890195507120029"),
        "full ID number on a slip"
    );

    // Statistics match the database.
    let stats: Value = a
        .admin()
        .await
        .get(a.url("/api/v1/referral-stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["rows"][0]["accepted"], 1);
    let _ = c.village;
}
both_backends!(api_loop_with_live_events, api_loop_with_live_events);

/// The first reserved slot of the county's CT calendar, as the village doctor sees it.
async fn reserved_ct_slot(s: &TestServer, cun: &reqwest::Client, c: &County) -> String {
    let res: Value = cun
        .get(s.url(&format!(
            "/api/v1/booking-resources?institution_id={}&kind=ct",
            c.hospital
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ct = res["resources"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(res["resources"][0]["location"], "门诊楼二楼 CT 室");
    let slots: Value = cun
        .get(s.url(&format!("/api/v1/booking-resources/{ct}/slots")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["availability"] == "reserved")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Issue 13 §5: the slot picker is a grid of days, and the slip says where to go and what to
/// bring, its QR code opening the referral's page under the public URL (not the Host header).
async fn slip_names_the_place(db: TestDb) {
    let s = TestServer::start_with(db, false, |c| {
        c.public_url = "https://ygt.example.cn".into();
    })
    .await;
    let c = county(&s.app).await;
    let cun = s.signed_in("cundoc").await;
    let picker = cun
        .get(s.url(&format!(
            "/referrals/slots?to_institution_id={}&needs=ct",
            c.hospital
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(picker.contains(r#"class="slot-day""#), "{picker}");
    assert!(picker.contains("label class=\"slot reserved\""), "{picker}");
    assert!(
        picker.contains("门诊楼二楼 CT 室"),
        "location in the picker"
    );
    let slot = reserved_ct_slot(&s, &cun, &c).await;
    let created: Value = cun
        .post(s.url("/api/v1/referrals"))
        .json(
            &json!({"direction": "up", "person_id": c.person, "to_institution_id": c.hospital,
            "reason": "右侧肢体无力2天，需头颅CT", "diagnosis_code": "I63.900",
            "needs": "ct", "slot_id": slot, "submit": true}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let get = |path: String| {
        let cun = cun.clone();
        async move { cun.get(path).send().await.unwrap().text().await.unwrap() }
    };
    let slip = get(s.url(&format!("/referrals/{id}/slip"))).await;
    let payload = format!(r#"data-qr="https://ygt.example.cn/referrals/{id}""#);
    assert!(slip.contains(&payload), "QR payload: {slip}");
    assert!(slip.contains("<svg"), "QR code");
    assert!(
        slip.contains(r#"<b id="slip-location">门诊楼二楼 CT 室</b>"#),
        "location: {slip}"
    );
    assert!(
        slip.contains("64排CT") && slip.contains("云溪县人民医院 · 放射科"),
        "{slip}"
    );
    assert!(
        slip.contains("请携带") && slip.contains("检查前取下金属物品"),
        "{slip}"
    );
    let page = get(s.url(&format!("/referrals/{id}"))).await;
    assert!(
        page.contains(r#"<span id="appointment-where">门诊楼二楼 CT 室</span>"#),
        "location on the referral: {page}"
    );
}
both_backends!(
    slip_names_the_place_and_links_the_referral,
    slip_names_the_place
);

/// The journey of issue 6 in a real browser: a village doctor refers a resident up with a CT
/// booking, the county accepts, the patient arrives, the county completes and refers them back
/// down with a plan, and the village doctor accepts the handover and sees the follow-up task
/// and the outcome.
async fn browser_journey(db: TestDb) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let s = TestServer::start(db, false).await;
    let c = county(&s.app).await;
    let result = journey(&browser, &s, &c).await;
    if result.is_ok() {
        look_at_the_slot_picker(&s, &c).await;
    }
    if result.is_err() {
        let _ = browser
            .save_screenshot(concat!(
                env!("CARGO_TARGET_TMPDIR"),
                "/referral-journey-failure.png"
            ))
            .await;
    }
    browser.quit().await;
    result.unwrap();
}
both_backends!(referral_journey_in_the_browser, browser_journey);

/// The slot picker of a busy calendar (26 slots a weekday for two weeks) on a tablet and a
/// phone: one resource's grid is at most 900 px high, and the page never scrolls sideways
/// (the days scroll inside their frame). Screenshots go to `target/screenshots/referral-slots/`.
async fn look_at_the_slot_picker(s: &TestServer, c: &County) {
    let start = (OffsetDateTime::now_utc() + time::Duration::days(1))
        .replace_time(time::macros::time!(00:00));
    s.app
        .create_calendar(
            &Ctx::system(),
            c.hospital,
            None,
            ResourceKind::Ct,
            "双源CT",
            "门诊医技楼一楼 CT 二室",
            None,
            24,
            start,
            15,
            26,
            8,
            14,
            false,
        )
        .await
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots/referral-slots");
    let form = format!(
        "/referrals/new?person_id={}&direction=up&to_institution_id={}&needs=ct",
        c.person, c.hospital
    );
    for window in [Window::TABLET, Window::PHONE] {
        let Some(b) = Browser::launch_with(window).await else {
            return;
        };
        sign_in(&b, s, "cundoc").await.unwrap();
        b.goto(&s.url(&form)).await.unwrap();
        b.wait_for("#slots .slot-day", WAIT).await.unwrap();
        b.save_full_page(dir.join(format!("{}.png", window.label())), 4000)
            .await
            .unwrap();
        let m = b
            .execute(
                "var g = [...document.querySelectorAll('#slots fieldset.slots')];\
                 return [document.documentElement.scrollWidth, window.innerWidth,\
                   Math.max(...g.map(f => f.getBoundingClientRect().height))];",
                vec![],
            )
            .await
            .unwrap();
        b.quit().await;
        let n = |i: usize| m[i].as_f64().unwrap_or(f64::MAX);
        assert!(n(0) <= n(1), "{} scrolls sideways: {m}", window.label());
        if !window.mobile {
            assert!(n(2) <= 900.0, "a resource's grid is {} px high", n(2));
        }
    }
}

async fn sign_in(b: &Browser, s: &TestServer, user: &str) -> Result<(), ygt_testkit::BrowserError> {
    b.goto(&s.url("/login")).await?;
    b.wait_for("input[name=username]", WAIT)
        .await?
        .send_keys(user)
        .await?;
    b.find("input[name=password]")
        .await?
        .send_keys(PASSWORD)
        .await?;
    b.find("#sign-in").await?.click().await?;
    b.wait_for("#current-user", WAIT).await?;
    Ok(())
}

async fn sign_out(b: &Browser) -> Result<(), ygt_testkit::BrowserError> {
    b.find("#sign-out").await?.click().await?;
    b.wait_for("input[name=username]", WAIT).await?;
    Ok(())
}

async fn status_is(b: &Browser, zh: &str) -> Result<(), ygt_testkit::BrowserError> {
    b.wait_for_text("#referral-status", zh, WAIT).await?;
    Ok(())
}

async fn journey(b: &Browser, s: &TestServer, c: &County) -> Result<(), ygt_testkit::BrowserError> {
    // The village doctor opens the resident's record and refers up.
    sign_in(b, s, "cundoc").await?;
    b.goto(&s.url(&format!("/residents/{}/record", c.person)))
        .await?;
    b.wait_for("#refer-up", WAIT).await?.click().await?;
    b.wait_for("#referral-form", WAIT).await?;
    b.find(&format!(
        "#to_institution_id option[value='{}']",
        c.hospital
    ))
    .await?
    .click()
    .await?;
    b.find("#needs option[value='ct']").await?.click().await?;
    let slot = b
        .wait_for("#slots label.slot.reserved input[name=slot_id]", WAIT)
        .await?;
    slot.click().await?;
    b.find("textarea[name=reason]")
        .await?
        .send_keys("右侧肢体无力2天，需头颅CT排除脑梗死")
        .await?;
    b.find("input[name=diagnosis_code]")
        .await?
        .send_keys("I63.900")
        .await?;
    b.find("#submit-referral").await?.click().await?;
    status_is(b, "已提交").await?;
    let appointment = b.find("#appointment").await?.text().await?;
    assert!(appointment.contains("64排CT"), "{appointment}");
    let referral_url = b.current_url().await?;
    // The slip.
    b.find("#print-slip").await?.click().await?;
    let number = b.wait_for("#slip-number", WAIT).await?.text().await?;
    assert!(number.starts_with("ZZ"), "{number}");
    assert!(!b.find_all(".qr svg").await?.is_empty(), "QR code");
    sign_out(b).await?;

    // The county doctor finds it among the incoming referrals, accepts, sees the patient.
    sign_in(b, s, "xiandoc").await?;
    b.goto(&s.url("/referrals?list=incoming")).await?;
    b.wait_for("#worklist", WAIT).await?;
    b.find(&format!("#worklist a[href='{}']", path_of(&referral_url)))
        .await?
        .click()
        .await?;
    b.wait_for("#do-accept", WAIT).await?.click().await?;
    status_is(b, "已预约").await?;
    b.wait_for("#do-arrive", WAIT).await?;
    // The CT is booked later than now: arriving early is confirmed first.
    b.find("#early-arrival input").await?.click().await?;
    b.find("#do-arrive").await?.click().await?;
    status_is(b, "已到诊").await?;
    b.find("#complete-form textarea[name='outcome.summary']")
        .await?
        .send_keys("头颅CT示左侧基底节区梗死，住院溶栓治疗14天，好转出院")
        .await?;
    b.find("#complete-form textarea[name='outcome.treatment']")
        .await?
        .send_keys("阿替普酶溶栓，抗血小板，他汀")
        .await?;
    b.find("#do-complete").await?.click().await?;
    status_is(b, "已完成").await?;
    // Back down to the village with a plan.
    b.find("#refer-down").await?.click().await?;
    b.wait_for("#referral-form", WAIT).await?;
    // It goes back where the patient came from: the village clinic and its doctor who
    // referred them, with the diagnosis made at the county.
    b.wait_for("#down-defaults", WAIT).await?;
    b.find(&format!(
        "#to_institution_id option[value='{}']:checked",
        c.village
    ))
    .await?;
    b.find(&format!(
        "#to_staff_id option[value='{}']:checked",
        c.village_doctor
    ))
    .await?;
    b.find("input[name=diagnosis_code][value='I63.900']")
        .await?;
    b.find("textarea[name=reason]")
        .await?
        .send_keys("脑梗死恢复期，病情稳定，转回村卫生室康复随访")
        .await?;
    b.find("textarea[name='plan.discharge_summary']")
        .await?
        .send_keys("脑梗死溶栓后恢复良好，遗留右手轻度无力")
        .await?;
    b.find("textarea[name='plan.medications']")
        .await?
        .send_keys("阿司匹林肠溶片 100mg 每日一次")
        .await?;
    b.find("textarea[name='plan.follow_ups']")
        .await?
        .send_keys("+14 血压随访")
        .await?;
    b.find("#submit-referral").await?.click().await?;
    status_is(b, "已提交").await?;
    let to = b.find("#to-institution").await?.text().await?;
    assert!(to.contains("赵村医"), "{to}");
    sign_out(b).await?;

    // The village doctor takes over: the handover, the task, and the outcome of the first.
    sign_in(b, s, "cundoc").await?;
    b.goto(&s.url("/referrals?list=handover")).await?;
    b.wait_for("#worklist a", WAIT).await?.click().await?;
    b.wait_for("#plan", WAIT).await?;
    b.find("#do-accept").await?.click().await?;
    status_is(b, "已接收").await?;
    b.goto(&s.url("/tasks")).await?;
    let task = b
        .wait_for("#care-tasks tbody tr", WAIT)
        .await?
        .text()
        .await?;
    assert!(
        task.contains("血压随访") && task.contains("赵村医"),
        "{task}"
    );
    // The home page starts with the village doctor's work: nothing is due today (the
    // follow-up is in two weeks); the worklists count the open task.
    b.goto(&s.url("/")).await?;
    b.wait_for("#today", WAIT).await?;
    let due = b.find("[data-count='tasks-today']").await?.text().await?;
    assert_eq!(due.trim(), "0", "care tasks due today on the home page");
    b.goto(&s.url("/referrals")).await?;
    b.wait_for("#worklist-total", WAIT).await?;
    let tasks = b.find("[data-count='tasks']").await?.text().await?;
    assert_eq!(tasks.trim(), "1", "open care tasks on the worklists");
    b.goto(&referral_url).await?;
    let outcome = b.wait_for("#outcome", WAIT).await?.text().await?;
    assert!(outcome.contains("好转出院"), "{outcome}");
    b.goto(&s.url("/inbox")).await?;
    let inbox = b.wait_for("#inbox", WAIT).await?.text().await?;
    assert!(inbox.contains("已完成"), "{inbox}");
    // English is one click away.
    b.goto(&s.url("/referrals?lang=en")).await?;
    b.wait_for_text("h1", "Two-way referral", WAIT).await?;
    Ok(())
}

fn path_of(url: &str) -> String {
    match url.find("/referrals/") {
        Some(i) => url[i..].to_owned(),
        None => url.to_owned(),
    }
}
