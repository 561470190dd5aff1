//! Real-browser journeys in headless Chromium.

use std::time::Duration;

use ygt_testkit::{Browser, TestDb};

use crate::TestServer;

const WAIT: Duration = Duration::from_secs(10);

/// Opens the demo's institution tree, follows a link to a township centre, checks what the page
/// shows, edits it with a bad phone number (error beside the field), then switches to English.
#[tokio::test]
async fn institution_tree_to_township_and_back() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let s = TestServer::start(TestDb::sqlite(), true).await;
    let result = journey(&browser, &s).await;
    if result.is_err() {
        let _ = browser
            .save_screenshot(concat!(env!("CARGO_TARGET_TMPDIR"), "/browser-failure.png"))
            .await;
    }
    browser.quit().await;
    result.unwrap();
}

/// Signs in through the login form (the browser is sent there first).
async fn sign_in(
    b: &Browser,
    s: &TestServer,
    path: &str,
    user: &str,
) -> Result<(), ygt_testkit::BrowserError> {
    b.goto(&s.url(path)).await?;
    let name = b.wait_for("input[name=username]", WAIT).await?;
    name.send_keys(user).await?;
    b.find("input[name=password]")
        .await?
        .send_keys(crate::PASSWORD)
        .await?;
    b.find("#sign-in").await?.click().await?;
    b.wait_for("#current-user", WAIT).await?;
    Ok(())
}

async fn journey(b: &Browser, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    sign_in(b, s, "/institutions", "admin").await?;
    b.wait_for("#institution-tree", WAIT).await?;
    assert!(b.title().await?.contains("机构树"));
    let towns = b
        .find_all(".tier-township > details > summary a.node-name")
        .await?;
    assert_eq!(
        towns.len(),
        8,
        "eight township centres under the county hospital"
    );
    let name = towns[0].text().await?;
    assert!(name.ends_with("卫生院"), "{name}");
    towns[0].click().await?;

    let h1 = b.wait_for_text("#institution-name", &name, WAIT).await?;
    assert!(h1.text().await?.contains(&name));
    assert_eq!(
        b.find("#institution-kind").await?.text().await?,
        "乡镇卫生院"
    );
    assert!(
        b.find("#institution-aliases")
            .await?
            .text()
            .await?
            .contains("分院")
    );
    let villages = b.find_all("#children tbody tr").await?;
    assert_eq!(villages.len(), 5, "five village clinics");
    assert!(villages[0].text().await?.contains("卫生室"));
    assert!(!b.find_all("#departments tbody tr").await?.is_empty());

    // Edit with a bad phone: the form comes back with the error beside the field.
    b.find("a[href$='/edit']").await?.click().await?;
    let phone = b.wait_for("input[name=phone]", WAIT).await?;
    phone.clear().await?;
    phone.send_keys("12345").await?;
    b.find("form.stack button[type=submit]")
        .await?
        .click()
        .await?;
    b.wait_for_text("#form-errors li[data-field=phone]", "电话", WAIT)
        .await?;
    let invalid = b.find("input[name=phone]").await?;
    assert_eq!(invalid.attr("aria-invalid").await?.as_deref(), Some("true"));

    // Switch to English.
    b.goto(&s.url("/institutions")).await?;
    b.find(".lang a").await?.click().await?;
    b.wait_for_text("h1", "Institution tree", WAIT).await?;
    assert!(
        b.find("nav.main")
            .await?
            .text()
            .await?
            .contains("Institutions")
    );
    Ok(())
}

/// A village doctor signs in, sees the registry but none of the administration, is refused an
/// administration page, and signs out.
#[tokio::test]
async fn village_doctor_sees_only_what_the_role_may() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let s = TestServer::start(TestDb::sqlite(), true).await;
    let result = village_journey(&browser, &s).await;
    if result.is_err() {
        let _ = browser
            .save_screenshot(concat!(
                env!("CARGO_TARGET_TMPDIR"),
                "/browser-failure-village.png"
            ))
            .await;
    }
    browser.quit().await;
    result.unwrap();
}

async fn village_journey(b: &Browser, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    // A wrong password first: the error is shown, nobody is signed in.
    b.goto(&s.url("/")).await?;
    b.wait_for("input[name=username]", WAIT)
        .await?
        .send_keys("village")
        .await?;
    b.find("input[name=password]")
        .await?
        .send_keys("wrong-password")
        .await?;
    b.find("#sign-in").await?.click().await?;
    b.wait_for_text("#login-error", "用户名或密码错误", WAIT)
        .await?;

    sign_in(b, s, "/", "village").await?;
    let nav = b.find("nav.main").await?.text().await?;
    assert!(nav.contains("机构"), "{nav}");
    for hidden in ["账号", "角色权限", "接口令牌", "审计"] {
        assert!(
            !nav.contains(hidden),
            "a village doctor sees no {hidden}: {nav}"
        );
    }
    b.find("#current-user").await?.click().await?;
    b.wait_for_text("#my-roles", "乡村医生", WAIT).await?;

    // The institution page has no edit rights: the edit form is refused.
    b.goto(&s.url("/admin/accounts")).await?;
    b.wait_for_text("main", "没有权限", WAIT).await?;

    b.find("#sign-out").await?.click().await?;
    b.wait_for("input[name=username]", WAIT).await?;
    b.goto(&s.url("/institutions")).await?;
    b.wait_for("input[name=username]", WAIT).await?;
    assert!(b.current_url().await?.contains("/login?next="));
    Ok(())
}

/// A township doctor registers a resident at the village clinic, finds them by pinyin, and
/// decides a possible match in the review queue: the two registrations become one person.
#[tokio::test]
async fn review_queue_links_a_possible_match() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let s = TestServer::start(TestDb::sqlite(), true).await;
    let result = review_journey(&browser, &s).await;
    if result.is_err() {
        let _ = browser
            .save_screenshot(concat!(
                env!("CARGO_TARGET_TMPDIR"),
                "/browser-failure-review.png"
            ))
            .await;
    }
    browser.quit().await;
    result.unwrap();
}

async fn review_journey(b: &Browser, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    use ygt_app::Ctx;
    let ctx = Ctx::system();
    sign_in(b, s, "/residents/new", "township.doctor").await?;
    b.wait_for("input[name=name]", WAIT)
        .await?
        .send_keys("周明")
        .await?;
    // A date input types in the browser's locale; set the value as a person's picker would.
    b.execute(
        "document.querySelector('input[name=birth_date]').value = '1970-01-01'",
        vec![],
    )
    .await?;
    b.find("#register").await?.click().await?;
    b.wait_for_text("#register-outcome", "新的居民档案", WAIT)
        .await?;
    let first_url = b.current_url().await?;
    let first: uuid::Uuid = first_url
        .split("/residents/")
        .nth(1)
        .and_then(|x| x.split('?').next())
        .unwrap()
        .parse()
        .unwrap();

    // A second registration of the same man without details: a possible match for review.
    let second = s
        .app
        .register_resident(
            &ctx,
            &ygt_app::mpi::ResidentDraft {
                institution_id: s
                    .app
                    .person_detail(&ctx, first, "treatment")
                    .await
                    .unwrap()
                    .registrations[0]
                    .institution_id
                    .to_string(),
                name: "周铭".into(),
                birth_date: Some("1970-01-01".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    if second.person_id == first {
        panic!("linked at once; the journey needs a possible match");
    }
    if second.tasks == 0 {
        let mut tx = s.app.store().begin().await.unwrap();
        tx.insert_task(
            uuid::Uuid::now_v7(),
            second.registration_id,
            first,
            4.0,
            "{}",
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    b.goto(&s.url("/residents?q=zhouming")).await?;
    b.wait_for_text("#resident-results", "周明", WAIT).await?;
    // Deciding identities is the patient-index steward's work, not the doctor's.
    b.find("#sign-out").await?.click().await?;
    b.wait_for("input[name=username]", WAIT).await?;
    sign_in(b, s, "/mpi/review", "steward").await?;
    b.wait_for(".task", WAIT).await?;
    let task = b.find(".task").await?;
    let text = task.text().await?;
    assert!(text.contains("周铭") && text.contains("周明"), "{text}");
    task.find("button.same").await?.click().await?;
    b.wait_for("#queue-empty", WAIT).await?;
    b.goto(&s.url(&format!("/residents/{first}"))).await?;
    b.wait_for_text("#person-registrations", "2", WAIT).await?;
    Ok(())
}

/// A township doctor opens a resident's health record (健康档案) and sees a county-hospital CT
/// report among the items of every member: trends drawn, more of the timeline loaded in place,
/// filtered to imaging, the report opened.
#[tokio::test]
async fn township_doctor_sees_a_county_ct_report() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let s = TestServer::start(TestDb::sqlite(), true).await;
    let result = record_journey(&browser, &s).await;
    if result.is_err() {
        let _ = browser
            .save_screenshot(concat!(
                env!("CARGO_TARGET_TMPDIR"),
                "/browser-failure-record.png"
            ))
            .await;
    }
    browser.quit().await;
    result.unwrap();
}

async fn record_journey(b: &Browser, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    use ygt_app::Ctx;
    use ygt_app::record::{ItemDraft, PatientRef, ResultDraft};
    use ygt_domain::org::Tier;
    let ctx = Ctx::system();
    let (all, _) = s
        .app
        .list_institutions(&ctx, &Default::default())
        .await
        .unwrap();
    let county = all.iter().find(|i| i.tier == Tier::County).unwrap();
    let town = all.iter().find(|i| i.tier == Tier::Township).unwrap();
    let reg = s
        .app
        .register_resident(
            &ctx,
            &ygt_app::mpi::ResidentDraft {
                institution_id: town.id.to_string(),
                record_id: Some("T-5001".into()),
                name: "钱淑珍".into(),
                id_number: Some("341890195507120029".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let patient = PatientRef {
        record_id: Some("T-5001".into()),
        ..Default::default()
    };
    let now = time::OffsetDateTime::now_utc();
    let day = |d: i64| {
        let t = now - time::Duration::days(d);
        format!(
            "{:04}-{:02}-{:02} 09:00",
            t.year(),
            u8::from(t.month()),
            t.day()
        )
    };
    // Quarterly blood pressure at the township, more than a page of them.
    let mut items: Vec<ItemDraft> = (0..60)
        .map(|q| ItemDraft {
            kind: "measurement".into(),
            institution_id: town.id.to_string(),
            source_system: "PHS".into(),
            source_id: format!("BP-{q}"),
            patient: patient.clone(),
            occurred_at: day(30 + q * 20),
            title: Some("血压".into()),
            results: vec![
                ResultDraft {
                    code: "SBP".into(),
                    name: Some("收缩压".into()),
                    value: format!("{}", 150 - q % 15),
                    unit: Some("mmHg".into()),
                    ref_range: Some("90-139".into()),
                    ..Default::default()
                },
                ResultDraft {
                    code: "DBP".into(),
                    name: Some("舒张压".into()),
                    value: "88".into(),
                    unit: Some("mmHg".into()),
                    ref_range: Some("60-89".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .collect();
    let ct = ItemDraft {
        kind: "imaging_report".into(),
        institution_id: county.id.to_string(),
        source_system: "PACS".into(),
        source_id: "CT-9".into(),
        patient: PatientRef {
            id_number: Some("341890195507120029".into()),
            ..Default::default()
        },
        occurred_at: day(5),
        modality: Some("CT".into()),
        body_part: Some("胸部".into()),
        findings: Some("右肺上叶见一约 8mm 磨玻璃结节。".into()),
        conclusion: Some("右肺上叶磨玻璃结节，建议 6 个月后复查。".into()),
        department: Some("放射科".into()),
        ..Default::default()
    };
    items.push(ct);
    let out = s.app.record_drafts(&ctx, &items, "test").await.unwrap();
    assert!(out.iter().all(|o| o.person_id == Some(reg.person_id)));
    s.app
        .create_account(
            &ctx,
            &ygt_app::account::AccountDraft {
                username: "town.record".into(),
                display_name: "乡镇医生".into(),
                institution_id: Some(town.id.to_string()),
                roles: vec!["doctor".into()],
                password: Some(crate::PASSWORD.into()),
                must_change_password: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    sign_in(
        b,
        s,
        &format!("/residents/{}", reg.person_id),
        "town.record",
    )
    .await?;
    b.wait_for("#open-record", WAIT).await?.click().await?;
    b.wait_for_text("#record-name", "钱淑珍", WAIT).await?;
    assert!(b.title().await?.contains("健康档案"));
    // The trend of blood pressure, drawn by the server.
    let points = b.find_all("#trends svg circle").await?;
    assert!(points.len() >= 100, "{} points", points.len());
    // The newest item first: the county CT report, with the county hospital named.
    let first = b.find("#timeline-body tr").await?.text().await?;
    assert!(first.contains("胸部CT"), "{first}");
    assert!(first.contains(&county.name), "{first}");
    // The recognised results list the CT (valid for 180 days).
    assert!(
        b.find("#recognised")
            .await?
            .text()
            .await?
            .contains("胸部CT")
    );
    // A page is 50 items; htmx appends the rest in place.
    assert_eq!(b.find_all("#timeline-body tr").await?.len(), 50);
    b.find("#load-more").await?.click().await?;
    b.wait_for_text("#timeline-more", "已显示全部记录", WAIT)
        .await?;
    assert_eq!(b.find_all("#timeline-body tr").await?.len(), 61);
    // Only imaging.
    b.find("input[name=kind][value=imaging_report]")
        .await?
        .click()
        .await?;
    b.find("#timeline-filter button[type=submit]")
        .await?
        .click()
        .await?;
    b.wait_for_text("#timeline-more", "已显示全部记录", WAIT)
        .await?;
    let rows = b.find_all("#timeline-body tr").await?;
    assert_eq!(rows.len(), 1);
    rows[0].find("a").await?.click().await?;
    b.wait_for_text("#conclusion", "磨玻璃结节", WAIT).await?;
    assert!(
        b.find("#item-institution")
            .await?
            .text()
            .await?
            .contains(&county.name)
    );
    Ok(())
}

/// A county doctor opens a village resident's page, is refused with the break-glass form,
/// states the reason, and lands on the page that was refused.
#[tokio::test]
async fn break_glass_from_the_refusal_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let s = TestServer::start(TestDb::sqlite(), true).await;
    let result = break_glass_journey(&browser, &s).await;
    if result.is_err() {
        let _ = browser
            .save_screenshot(concat!(env!("CARGO_TARGET_TMPDIR"), "/browser-failure.png"))
            .await;
    }
    browser.quit().await;
    result.unwrap();
}

async fn break_glass_journey(b: &Browser, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    let ctx = ygt_app::Ctx::system();
    let village = s
        .app
        .list_institutions(
            &ctx,
            &ygt_app::ygt_store::org::InstitutionFilter {
                tier: Some(ygt_domain::org::Tier::Village),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .0[0]
        .id;
    let person = s
        .app
        .register_resident(
            &ctx,
            &ygt_app::mpi::ResidentDraft {
                institution_id: village.to_string(),
                name: "周桂英".into(),
                id_number: Some("341890195508080026".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    let page = format!("/residents/{person}");
    sign_in(b, s, &page, "doctor").await?;
    let reason = b
        .wait_for("#break-glass-form textarea[name=reason]", WAIT)
        .await?;
    assert!(b.find("#refusal").await?.text().await?.contains("服务范围"));
    reason.send_keys("夜间急诊昏迷，需查看既往史与用药").await?;
    b.find("#break-glass").await?.click().await?;
    let name = b.wait_for("#person-name", WAIT).await?;
    assert!(name.text().await?.contains("周桂英"));
    assert!(b.current_url().await?.ends_with(&page));
    Ok(())
}
