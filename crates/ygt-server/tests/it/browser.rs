//! Real-browser journeys in headless Chromium.

use std::time::Duration;

use ygt_testkit::{Browser, CONTROL, TestDb, Window};

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

/// Finds raw English codes in the visible text of `main` of a page in Chinese: returns them
/// with the text around them, or null.
const ENGLISH_CODES: &str = r#"
var main = document.querySelector('main');
if (!main || !/^zh/i.test(document.documentElement.lang || '')) { return null; }
var skip = 'input, textarea, select, code, pre, kbd, samp, script, style, template, .code';
var dotted = /\b[a-z]+[._][a-z_.]*[a-z]\b/g;
var words = /\b(submitted|accepted|rejected|redirected|cancelled|scheduled|arrived|completed|allowed|denied|failed|draft|routine|urgent|emergency|outgoing|incoming|handover|overdue|justified|unjustified|up|down|true|false|null|none)\b/g;
var out = [];
var walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
var node;
while ((node = walker.nextNode()) && out.length < 8) {
  var el = node.parentElement;
  var text = node.data;
  if (!el || !/[a-z]/.test(text) || el.closest(skip) || !el.getClientRects().length) { continue; }
  var hits = (text.match(dotted) || []).concat(text.match(words) || []);
  hits.forEach(function (h) {
    if (out.length < 8) {
      var at = text.indexOf(h);
      out.push('"' + h + '" in <' + el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '> "'
        + text.slice(Math.max(0, at - 20), at + h.length + 20).trim() + '"');
    }
  });
}
return out.length ? out.join('; ') : null;
"#;

/// The longest a person may wait for any page of a walk.
const STEP_LIMIT: Duration = Duration::from_secs(3);
/// How long a step is waited for before it is given up (longer than [`STEP_LIMIT`], so that a
/// slow step is measured and named rather than cut off).
const STEP_GIVE_UP: Duration = Duration::from_secs(80);
/// Referrals the doctor opens in tabs of their own: more than the six connections a browser
/// opens to one server over HTTP/1.1.
const TABS: usize = 7;

/// A county doctor walks through pages as a person does, clicking links, opening referrals
/// in new tabs and going back and forward, with Chromium's default features, on a desktop, a
/// tablet and a phone. Each page listens to the live-notification stream; pages that kept
/// theirs open (in the back/forward cache, in background tabs) once used up the browser's six
/// connections to the server and the next page waited about a minute.
///
/// No step may take more than three seconds, only the page in front may hold a stream (the
/// server's `ygt_live_streams` gauge, which also shows that the server lets go of a stream
/// as soon as its page does), no page may scroll sideways, and no page in Chinese may show a
/// raw English code. The walk runs once more with pages the back/forward cache keeps: as
/// served, the stream's `Cache-Control: no-store` keeps every page out of Chromium's cache;
/// without it, pages are kept and restored. Screenshots of every step are kept under
/// `target/screenshots/<size>/<role>/`.
#[tokio::test]
async fn county_doctor_walks_pages_and_tabs_without_waiting() {
    walk_journey(Journey::CountyDoctor).await;
}

/// A village doctor's day: the tasks due, a resident's 360 page with the referral loop, the
/// up-referral form, a search by pinyin initials, the inbox.
#[tokio::test]
async fn village_doctor_walks_pages_without_waiting() {
    walk_journey(Journey::VillageDoctor).await;
}

/// A township doctor: referrals to accept, one referral and its record, the handover list,
/// the care tasks.
#[tokio::test]
async fn township_doctor_walks_pages_without_waiting() {
    walk_journey(Journey::TownshipDoctor).await;
}

/// A referral coordinator: every worklist, one referral, the statistics, the calendars.
#[tokio::test]
async fn referral_coordinator_walks_pages_without_waiting() {
    walk_journey(Journey::Coordinator).await;
}

/// An auditor: the audit log, a search by a resident's name, the resident's access history,
/// the break-glass queue and the grants.
#[tokio::test]
async fn auditor_walks_pages_without_waiting() {
    walk_journey(Journey::Auditor).await;
}

/// The people whose journeys are walked, each through the pages of their work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Journey {
    CountyDoctor,
    VillageDoctor,
    TownshipDoctor,
    Coordinator,
    Auditor,
}

impl Journey {
    fn label(self) -> &'static str {
        match self {
            Journey::CountyDoctor => "county-doctor",
            Journey::VillageDoctor => "village-doctor",
            Journey::TownshipDoctor => "township-doctor",
            Journey::Coordinator => "referral-coordinator",
            Journey::Auditor => "auditor",
        }
    }

    /// The fewest navigations the journey makes.
    fn least_steps(self) -> usize {
        match self {
            Journey::CountyDoctor => 30,
            _ => 12,
        }
    }

    async fn walk(self, w: &mut Walk<'_>, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
        match self {
            Journey::CountyDoctor => doctor_walk(w, s).await,
            Journey::VillageDoctor => village_walk(w, s).await,
            Journey::TownshipDoctor => township_walk(w, s).await,
            Journey::Coordinator => coordinator_walk(w, s).await,
            Journey::Auditor => auditor_walk(w, s).await,
        }
    }
}

/// Walks one journey on the demo county at the three sizes, then once more on a desktop with
/// pages the back/forward cache keeps; fails at the end with every problem seen.
async fn walk_journey(journey: Journey) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // When set, the stream is served without `no-store`, so pages may enter the back/forward
    // cache (the stream's no-store response is what keeps them out today).
    let cacheable = Arc::new(AtomicBool::new(false));
    let strip = Arc::clone(&cacheable);
    let s = TestServer::start_wrapped(TestDb::sqlite(), true, move |router| {
        router.layer(axum::middleware::map_response(
            move |mut resp: axum::response::Response| {
                let strip = strip.load(Ordering::Relaxed);
                async move {
                    let h = resp.headers_mut();
                    let stream = h
                        .get(axum::http::header::CONTENT_TYPE)
                        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
                    if strip && stream {
                        h.remove(axum::http::header::CACHE_CONTROL);
                    }
                    resp
                }
            },
        ))
    })
    .await;
    // The demo county as people see it: residents and the two-way referrals of its doctors.
    let started = std::time::Instant::now();
    ygt_synth::generate_residents(&s.app, 7, 1_000, &|_, _| {})
        .await
        .unwrap();
    ygt_synth::referrals::generate_referrals(&s.app, 7, ygt_synth::Scale::Small, &|_, _| {})
        .await
        .unwrap();
    if journey == Journey::Auditor {
        break_glass_four_times(&s).await;
    }
    eprintln!(
        "{}: demo county generated in {:?}",
        journey.label(),
        started.elapsed()
    );
    let mut problems = Vec::new();
    let mut summary = Vec::new();
    for (window, cache) in [
        (Window::DESKTOP, false),
        (Window::TABLET, false),
        (Window::PHONE, false),
        (Window::DESKTOP, true),
    ] {
        cacheable.store(cache, Ordering::Relaxed);
        let Some(browser) = Browser::launch_with(window).await else {
            return;
        };
        let size = if cache {
            format!("{}-bfcache", window.label())
        } else {
            window.label()
        };
        let mut walk = Walk::new(
            &browser,
            &s,
            format!("{} {size}", journey.label()),
            std::path::Path::new(&size).join(journey.label()),
        );
        let result = journey.walk(&mut walk, &s).await;
        if result.is_err() {
            let _ = browser.save_screenshot(walk.dir.join("failure.png")).await;
        }
        let slowest = walk.times.iter().max_by_key(|t| t.1).cloned();
        let line = format!(
            "walk {}: {} steps, {} restored from the back/forward cache, slowest {slowest:?}",
            walk.name,
            walk.times.len(),
            walk.restored
        );
        eprintln!("{line}");
        summary.push(line);
        if result.is_ok() {
            assert!(
                walk.times.len() >= journey.least_steps(),
                "{}: {} navigations",
                walk.name,
                walk.times.len()
            );
            if cache {
                assert!(
                    walk.restored > 0,
                    "{}: no page came back from the back/forward cache: the walk tests nothing",
                    walk.name
                );
            }
        }
        problems.append(&mut walk.problems);
        browser.quit().await;
        result.unwrap();
    }
    eprintln!("{}", summary.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

async fn doctor_walk(w: &mut Walk<'_>, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    let b = w.b;
    w.sign_in(s, "doctor", "#today").await?;
    w.click(
        "referrals",
        "nav.main a[href='/referrals']",
        "#worklist, #worklist-empty",
    )
    .await?;
    w.click(
        "incoming",
        "nav.tabs a[href='/referrals?list=incoming']",
        "#worklist",
    )
    .await?;
    // Several referrals in tabs of their own (Ctrl+click), to read one after the other.
    let first_tab = b.window_handle().await?;
    let before = b.window_handles().await?;
    let links = b.find_all("#worklist tbody td:first-child a").await?;
    assert!(links.len() >= TABS, "{} incoming referrals", links.len());
    b.key_down(CONTROL).await?;
    let mut tabs = Vec::new();
    for (i, link) in links.iter().take(TABS).enumerate() {
        let tab = w
            .open_tab(&format!("new-tab-{}", i + 1), link, &before, &tabs)
            .await;
        tabs.push(tab?);
    }
    b.release_keys().await?;
    w.click("referral", "#worklist tbody a", "#referral-status")
        .await?;
    w.click("record", "main a[href$='/record']", "#record-name")
        .await?;
    w.history("back-to-referral", "back", "#referral-status")
        .await?;
    w.history("back-to-incoming", "back", "#worklist").await?;
    w.history("forward-to-referral", "forward", "#referral-status")
        .await?;
    w.history("forward-to-record", "forward", "#record-name")
        .await?;
    // The last tab opened, read in front; then the tabs are closed.
    let last = tabs.last().cloned().unwrap_or_default();
    w.switch_tab("last-tab", &last, "#referral-status").await?;
    for t in &tabs {
        b.switch_to_window(t).await?;
        b.close_window().await?;
    }
    w.switch_tab("first-tab", &first_tab, "#record-name")
        .await?;
    w.click(
        "tasks",
        "nav.main a[href='/tasks']",
        "#care-tasks, #tasks-empty",
    )
    .await?;
    w.click("inbox", "#inbox-link", "#inbox, #inbox-empty")
        .await?;
    w.click(
        "institutions",
        "nav.main a[href='/institutions']",
        "#institution-tree",
    )
    .await?;
    w.click(
        "township",
        ".tier-township > details > summary a.node-name",
        "#institution-name",
    )
    .await?;
    w.driver_back("back-to-tree", "#institution-tree").await?;
    // Links used less often are under 「更多」: the header stays one line on a tablet.
    b.find("#nav-more > summary").await?.click().await?;
    w.click(
        "communities",
        "nav.main a[href='/communities']",
        "main a[href^='/communities/']:not([href$='/new'])",
    )
    .await?;
    w.click(
        "community",
        "main a[href^='/communities/']:not([href$='/new'])",
        "#members",
    )
    .await?;
    b.find("#nav-more > summary").await?.click().await?;
    w.click("staff", "nav.main a[href='/staff']", "#staff-results")
        .await?;
    w.click(
        "residents",
        "nav.main a[href='/residents']",
        "a[aria-current=page][href='/residents']",
    )
    .await?;
    w.click("account", "#current-user", "#my-roles").await?;
    w.history(
        "back-to-residents",
        "back",
        "a[aria-current=page][href='/residents']",
    )
    .await?;
    w.history("back-to-staff", "back", "#staff-results").await?;
    w.history(
        "forward-to-residents",
        "forward",
        "a[aria-current=page][href='/residents']",
    )
    .await?;
    w.driver_forward("forward-to-account", "#my-roles").await?;
    w.click("home", "a.brand", "#today").await?;
    w.click(
        "referrals-to-accept",
        "a.stat[href*='list=incoming']",
        "#worklist, #worklist-empty",
    )
    .await?;
    Ok(())
}

/// The county doctor breaks the glass for four residents: the auditor's queue has one to
/// review in each of the four walks.
async fn break_glass_four_times(s: &TestServer) {
    let anon = ygt_app::Ctx::anonymous("walk".into(), None);
    let signed = s
        .app
        .sign_in(&anon, "doctor", crate::PASSWORD, None)
        .await
        .unwrap();
    let info = s
        .app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap();
    let ctx = ygt_app::Ctx {
        actor: ygt_app::Actor::User(Box::new(info.principal)),
        request_id: "walk".into(),
        client_addr: None,
    };
    let found = s
        .app
        .search_residents(&ygt_app::Ctx::system(), "王", 4)
        .await
        .unwrap();
    assert_eq!(found.len(), 4);
    for f in found {
        s.app
            .break_glass_for(&ctx, f.person.id, "夜间急诊昏迷，需查看既往史与用药", None)
            .await
            .unwrap();
    }
}

/// The id in a path `/<segment>/<id>…` of the page in front.
async fn id_in_url(b: &Browser, segment: &str) -> Result<String, ygt_testkit::BrowserError> {
    let url = b.current_url().await?;
    Ok(url
        .split(&format!("/{segment}/"))
        .nth(1)
        .and_then(|x| x.split(['/', '?', '#']).next())
        .unwrap_or_default()
        .to_owned())
}

/// The worklist of referrals, or its empty note.
const WORKLIST: &str = "#worklist, #worklist-empty";
/// The care tasks, or their empty note.
const TASKS: &str = "#care-tasks, #tasks-empty";

async fn village_walk(w: &mut Walk<'_>, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    let b = w.b;
    w.sign_in(s, "village", "#today").await?;
    w.click_first(
        "tasks-due",
        &[
            "a.stat.warn[href='/tasks?due=overdue']",
            "#due-tasks h2 a",
            "nav.main a[href='/tasks']",
        ],
        TASKS,
    )
    .await?;
    // A resident whose task a down-referral's plan made: the record shows the referral loop.
    w.click_first(
        "task-resident",
        &[
            "#care-tasks tbody tr:has(a[href^='/referrals/']) td:nth-child(2) a",
            "#care-tasks tbody td:nth-child(2) a",
        ],
        "#record-name",
    )
    .await?;
    w.shows("#episodes .episode", "the referral loop on the 360 page")
        .await?;
    let person = id_in_url(b, "residents").await?;
    w.click("refer-up", "#refer-up", "#referral-form").await?;
    w.history("back-to-record", "back", "#record-name").await?;
    w.click(
        "resident",
        &format!("main a[href='/residents/{person}']"),
        "#person-name",
    )
    .await?;
    let name = b.find("#person-name").await?.text().await?;
    let (_, initials) = ygt_empi::pinyin_of(name.trim(), 4);
    w.menu("residents", "/residents", "main form[role=search]")
        .await?;
    w.search(
        "search-initials",
        "main input[name=q]",
        &initials,
        "main form[role=search] button[type=submit]",
        "#resident-list",
    )
    .await?;
    w.click(
        "found-resident",
        "#resident-list tbody td:first-child a",
        "#person-name",
    )
    .await?;
    w.click("open-record", "#open-record", "#record-name")
        .await?;
    w.driver_back("back-to-resident", "#person-name").await?;
    w.driver_back("back-to-results", "#resident-list").await?;
    w.driver_forward("forward-to-resident", "#person-name")
        .await?;
    w.menu("tasks", "/tasks", TASKS).await?;
    w.menu("referrals", "/referrals", WORKLIST).await?;
    w.click_first(
        "a-referral",
        &["#worklist tbody td:first-child a"],
        "#referral-status",
    )
    .await?;
    w.history("back-to-worklist", "back", WORKLIST).await?;
    w.click("inbox", "#inbox-link", "#inbox, #inbox-empty")
        .await?;
    w.click("home", "a.brand", "#today").await?;
    Ok(())
}

async fn township_walk(w: &mut Walk<'_>, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    w.sign_in(s, "township.doctor", "#today").await?;
    w.click("incoming", "a.stat[href*='list=incoming']", "#worklist")
        .await?;
    w.click(
        "referral",
        "#worklist tbody td:first-child a",
        "#referral-status",
    )
    .await?;
    w.click("record", "main a[href$='/record']", "#record-name")
        .await?;
    w.shows("#episodes .episode", "the referral loop on the 360 page")
        .await?;
    w.history("back-to-referral", "back", "#referral-status")
        .await?;
    w.history("back-to-incoming", "back", "#worklist").await?;
    w.history("forward-to-referral", "forward", "#referral-status")
        .await?;
    w.menu("referrals", "/referrals", WORKLIST).await?;
    w.click(
        "handover",
        "nav.tabs a[href='/referrals?list=handover']",
        WORKLIST,
    )
    .await?;
    w.click(
        "outgoing",
        "nav.tabs a[href='/referrals?list=outgoing']",
        WORKLIST,
    )
    .await?;
    w.click_first(
        "outgoing-referral",
        &["#worklist tbody td:first-child a"],
        "#referral-status",
    )
    .await?;
    w.driver_back("back-to-outgoing", WORKLIST).await?;
    w.menu("tasks", "/tasks", TASKS).await?;
    w.click_first(
        "task-resident",
        &["#care-tasks tbody td:nth-child(2) a"],
        "#record-name",
    )
    .await?;
    w.click(
        "identity",
        "main p.toolbar a[href^='/residents/']:not([href$='/record'])",
        "#person-name",
    )
    .await?;
    w.driver_back("back-to-record", "#record-name").await?;
    w.menu("residents", "/residents", "main form[role=search]")
        .await?;
    w.click("home", "a.brand", "#today").await?;
    Ok(())
}

async fn coordinator_walk(
    w: &mut Walk<'_>,
    s: &TestServer,
) -> Result<(), ygt_testkit::BrowserError> {
    w.sign_in(s, "referral", "#today").await?;
    w.menu("referrals", "/referrals", WORKLIST).await?;
    for list in ["outgoing", "incoming", "overdue", "handover", "all"] {
        w.click(
            list,
            &format!("nav.tabs a[href='/referrals?list={list}']"),
            WORKLIST,
        )
        .await?;
    }
    w.click(
        "referral",
        "#worklist tbody td:first-child a",
        "#referral-status",
    )
    .await?;
    w.history("back-to-all", "back", "#worklist").await?;
    w.history("forward-to-referral", "forward", "#referral-status")
        .await?;
    w.history("back-again", "back", "#worklist").await?;
    w.click("stats", "main a[href='/referrals/stats']", "#stats-table")
        .await?;
    w.driver_back("back-from-stats", "#worklist").await?;
    w.click("calendars", "main a[href='/calendars']", "#calendars")
        .await?;
    w.click("inbox", "#inbox-link", "#inbox, #inbox-empty")
        .await?;
    w.click("home", "a.brand", "#today").await?;
    w.click(
        "referrals-to-accept",
        "a.stat[href*='list=incoming']",
        WORKLIST,
    )
    .await?;
    Ok(())
}

async fn auditor_walk(w: &mut Walk<'_>, s: &TestServer) -> Result<(), ygt_testkit::BrowserError> {
    let b = w.b;
    w.sign_in(s, "auditor", "#nav-home[aria-current=page]")
        .await?;
    w.menu("audit", "/audit", "#audit-total").await?;
    // A resident named in the log, looked up by name as an auditor is asked to.
    let name = b
        .find("#audit-events tbody td:nth-child(6) a")
        .await?
        .text()
        .await?;
    w.search(
        "search-resident",
        "input[name=resident_id]",
        name.trim(),
        "form.filters button[type=submit]",
        "#note-resident_id",
    )
    .await?;
    w.click(
        "resident-history",
        "#audit-events tbody td:nth-child(6) a",
        "#history-resident",
    )
    .await?;
    w.history("back-to-search", "back", "#note-resident_id")
        .await?;
    w.history("forward-to-history", "forward", "#history-resident")
        .await?;
    w.click(
        "resident-events",
        "main a[href^='/audit?resident_id=']",
        "#audit-total",
    )
    .await?;
    w.click_first(
        "actor-events",
        &["#audit-events tbody td:nth-child(3) a"],
        "#audit-total",
    )
    .await?;
    w.click(
        "break-glass-queue",
        "main a[href='/audit/break-glass']",
        "#break-glass-queue",
    )
    .await?;
    w.driver_back("back-to-actor", "#audit-total").await?;
    w.driver_forward("forward-to-queue", "#break-glass-queue")
        .await?;
    w.shows(
        "main section.card dd a[href^='/audit/residents/']",
        "a break-glass access",
    )
    .await?;
    w.click(
        "review-justified",
        "main section.card button[value=justified]",
        "#break-glass-queue",
    )
    .await?;
    w.click(
        "reviewed-too",
        "main a[href='/audit/break-glass?all=1']",
        "#break-glass-queue",
    )
    .await?;
    w.menu("audit-again", "/audit", "#audit-total").await?;
    w.click("access-grants", "#audit-grants", "#audit-total")
        .await?;
    w.history("back-to-audit", "back", "#audit-total").await?;
    w.click(
        "privilege-grants",
        "#audit-privilege-grants",
        "#grants-total",
    )
    .await?;
    w.menu("institutions", "/institutions", "#institution-tree")
        .await?;
    w.click("home", "a.brand", "#nav-home[aria-current=page]")
        .await?;
    Ok(())
}

/// A walk through pages: each step is one navigation, timed from the click (the history move,
/// the switch of tabs) until the page in front has loaded and shows what it should.
struct Walk<'a> {
    b: &'a Browser,
    /// The server's metrics, for the live streams it holds.
    metrics: String,
    name: String,
    dir: std::path::PathBuf,
    times: Vec<(String, Duration)>,
    /// History steps that brought a page back from the back/forward cache.
    restored: usize,
    problems: Vec<String>,
}

impl<'a> Walk<'a> {
    /// A walk called `name`, its screenshots under `target/screenshots/<dir>`.
    fn new(b: &'a Browser, s: &TestServer, name: String, dir: std::path::PathBuf) -> Walk<'a> {
        let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| env!("CARGO_TARGET_TMPDIR").into());
        let dir = target.join("screenshots").join(dir);
        let _ = std::fs::remove_dir_all(&dir);
        Walk {
            b,
            metrics: s.url("/metrics"),
            name,
            dir,
            times: Vec::new(),
            restored: 0,
            problems: Vec::new(),
        }
    }

    /// Signs in through the login form: the first step.
    async fn sign_in(
        &mut self,
        s: &TestServer,
        user: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        self.b.goto(&s.url("/login")).await?;
        self.b
            .wait_for("input[name=username]", WAIT)
            .await?
            .send_keys(user)
            .await?;
        self.b
            .find("input[name=password]")
            .await?
            .send_keys(crate::PASSWORD)
            .await?;
        self.click("sign-in", "#sign-in", expect).await
    }

    /// Follows the link of the main menu to `href`, opening 「更多」 first when the link is
    /// under it.
    async fn menu(
        &mut self,
        step: &str,
        href: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let css = format!("nav.main a[href='{href}']");
        let folded = self
            .b
            .execute(
                "var a = document.querySelector(arguments[0]);\
                 var d = a && a.closest('details');\
                 return !!(d && !d.open);",
                vec![css.clone().into()],
            )
            .await?;
        if folded.as_bool() == Some(true) {
            self.b.find("#nav-more > summary").await?.click().await?;
        }
        self.click(step, &css, expect).await
    }

    /// Clicks the first element that matches the first of `css` that matches anything.
    async fn click_first(
        &mut self,
        step: &str,
        css: &[&str],
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        for c in css {
            if !self.b.find_all(c).await?.is_empty() {
                return self.click(step, c, expect).await;
            }
        }
        let url = self.b.current_url().await?;
        panic!(
            "step {} `{step}` ({}): nothing matches {css:?} at {url}",
            self.times.len() + 1,
            self.name
        );
    }

    /// Types `text` into the field `field` (replacing what it held), then clicks `submit`.
    async fn search(
        &mut self,
        step: &str,
        field: &str,
        text: &str,
        submit: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let input = self.b.wait_for(field, WAIT).await?;
        input.clear().await?;
        input.send_keys(text).await?;
        self.click(step, submit, expect).await
    }

    /// Records a problem unless the page in front shows `css`.
    async fn shows(&mut self, css: &str, what: &str) -> Result<(), ygt_testkit::BrowserError> {
        if self.b.find_all(css).await?.is_empty() {
            let url = self.b.current_url().await?;
            self.problems.push(format!(
                "{} after step {} {url}: {what} is not shown ({css})",
                self.name,
                self.times.len()
            ));
        }
        Ok(())
    }

    /// Clicks the first element matching `css` as a person does.
    async fn click(
        &mut self,
        step: &str,
        css: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let el = self.b.wait_for(css, WAIT).await?;
        let mark = self.mark().await?;
        let start = std::time::Instant::now();
        self.act(step, el.click()).await?;
        self.arrive(step, expect, mark, start, false).await
    }

    /// `history.back()` or `history.forward()`, as a page's own back link does.
    async fn history(
        &mut self,
        step: &str,
        how: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let mark = self.mark().await?;
        let start = std::time::Instant::now();
        self.b
            .execute(
                &format!("setTimeout(function () {{ history.{how}(); }}, 0)"),
                vec![],
            )
            .await?;
        self.arrive(step, expect, mark, start, true).await
    }

    /// The browser's back button.
    async fn driver_back(
        &mut self,
        step: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let mark = self.mark().await?;
        let start = std::time::Instant::now();
        self.act(step, self.b.back()).await?;
        self.arrive(step, expect, mark, start, true).await
    }

    /// The browser's forward button.
    async fn driver_forward(
        &mut self,
        step: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let mark = self.mark().await?;
        let start = std::time::Instant::now();
        self.act(step, self.b.forward()).await?;
        self.arrive(step, expect, mark, start, true).await
    }

    /// Brings another tab to the front (the one in front may have been closed).
    async fn switch_tab(
        &mut self,
        step: &str,
        handle: &str,
        expect: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        // No page carries this step's mark: any page in front counts.
        let mark = self.times.len() + 1;
        let start = std::time::Instant::now();
        self.act(step, self.b.switch_to_window(handle)).await?;
        self.arrive(step, expect, mark, start, false).await
    }

    /// Ctrl+clicks `link` (Control is held down): the page opens in a new tab behind this
    /// one. Timed until the browser has the tab; returns its handle.
    async fn open_tab(
        &mut self,
        step: &str,
        link: &ygt_testkit::Element,
        before: &[String],
        opened: &[String],
    ) -> Result<String, ygt_testkit::BrowserError> {
        let name = self.name.clone();
        let n = self.times.len() + 1;
        let start = std::time::Instant::now();
        match tokio::time::timeout(STEP_GIVE_UP, link.click()).await {
            Ok(r) => r?,
            Err(_) => panic!(
                "step {n} `{step}` ({name}): the click did not return within {STEP_GIVE_UP:?}"
            ),
        }
        let tab = loop {
            let new = self
                .b
                .window_handles()
                .await?
                .into_iter()
                .find(|h| !before.contains(h) && !opened.contains(h));
            if let Some(h) = new {
                break h;
            }
            if start.elapsed() > STEP_GIVE_UP {
                panic!("step {n} `{step}` ({name}): no new tab within {STEP_GIVE_UP:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = start.elapsed();
        eprintln!("{name} step {n:2} {step:<22} {:>6} ms", took.as_millis());
        self.times.push((step.to_owned(), took));
        assert!(
            took <= STEP_LIMIT,
            "step {n} `{step}` ({name}) took {took:?} (limit {STEP_LIMIT:?})"
        );
        self.streams(n, step).await;
        Ok(tab)
    }

    /// Does what a step does (a click waits for the page it opens), giving up after
    /// [`STEP_GIVE_UP`] with the step's name.
    async fn act(
        &self,
        step: &str,
        action: impl std::future::Future<Output = Result<(), ygt_testkit::BrowserError>>,
    ) -> Result<(), ygt_testkit::BrowserError> {
        match tokio::time::timeout(STEP_GIVE_UP, action).await {
            Ok(r) => r,
            Err(_) => panic!(
                "step {} `{step}` ({}) did not return within {STEP_GIVE_UP:?}",
                self.times.len() + 1,
                self.name
            ),
        }
    }

    /// Marks the page being left, so that its return (from the back/forward cache) is told
    /// apart from the page being arrived at.
    async fn mark(&self) -> Result<usize, ygt_testkit::BrowserError> {
        let mark = self.times.len() + 1;
        self.b
            .execute("window.__walkStep = arguments[0];", vec![mark.into()])
            .await?;
        Ok(mark)
    }

    async fn arrive(
        &mut self,
        step: &str,
        expect: &str,
        mark: usize,
        start: std::time::Instant,
        history: bool,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let name = self.name.clone();
        let n = self.times.len() + 1;
        let mut loaded: Option<std::time::Instant> = None;
        let restored = loop {
            let state = self
                .b
                .execute(
                    "return window.__walkStep === arguments[0] ? 'same page' \
                     : document.readyState !== 'complete' ? document.readyState \
                     : !document.querySelector(arguments[1]) ? 'no ' + arguments[1] \
                     : typeof window.__walkStep === 'number' ? 'restored' : 'new';",
                    vec![mark.into(), expect.into()],
                )
                .await;
            let last = match state {
                Ok(v) if v == "new" => break false,
                Ok(v) if v == "restored" => break true,
                Ok(v) if v.as_str().is_some_and(|v| v.starts_with("no ")) => {
                    // Loaded, but not the page expected.
                    let since = *loaded.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() > WAIT {
                        let url = self.b.current_url().await?;
                        panic!("step {n} `{step}` ({name}) arrived at {url}, which has {v}");
                    }
                    v.to_string()
                }
                Ok(v) => v.to_string(),
                // The page went away under the script: look again.
                Err(e) => e.to_string(),
            };
            if start.elapsed() > STEP_GIVE_UP {
                panic!("step {n} `{step}` ({name}) did not arrive within {STEP_GIVE_UP:?}: {last}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = start.elapsed();
        let url = self.b.current_url().await?;
        let how = if restored {
            " (back/forward cache)"
        } else {
            ""
        };
        eprintln!(
            "{name} step {n:2} {step:<22} {:>6} ms  {url}{how}",
            took.as_millis()
        );
        self.times.push((step.to_owned(), took));
        if history && restored {
            self.restored += 1;
        }
        // Before the screenshot, which lays the whole page out at once.
        self.sideways(n, step, &url).await?;
        self.header_one_line(n, step, &url).await?;
        self.english_codes(n, step, &url).await?;
        let _ = self
            .b
            .save_full_page(self.dir.join(format!("{n:02}-{step}.png")), 4000)
            .await;
        assert!(
            took <= STEP_LIMIT,
            "step {n} `{step}` ({name}) took {took:?} (limit {STEP_LIMIT:?}): {url}"
        );
        self.streams(n, step).await;
        Ok(())
    }

    /// Only the page in front listens: the server holds exactly one live stream (the pages
    /// left behind, in tabs or in the back/forward cache, have let theirs go).
    async fn streams(&mut self, n: usize, step: &str) {
        let deadline = std::time::Instant::now() + STEP_LIMIT;
        loop {
            let text = crate::client()
                .get(&self.metrics)
                .bearer_auth(crate::METRICS_TOKEN)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let open: i64 = text
                .lines()
                .find_map(|l| l.strip_prefix("ygt_live_streams "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(-1);
            if open == 1 {
                return;
            }
            if std::time::Instant::now() > deadline {
                self.problems.push(format!(
                    "{} step {n} `{step}`: {open} live streams open, expected the one of the page in front",
                    self.name
                ));
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// On a tablet or wider (1024 pixels and more) the header is one line: its links, search,
    /// the user and the language all sit at the height of one link.
    async fn header_one_line(
        &mut self,
        n: usize,
        step: &str,
        url: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let tall = self
            .b
            .execute(
                "var h = document.querySelector('header.top');\
                 if (!h || window.innerWidth < 1000) { return null; }\
                 var r = h.getBoundingClientRect();\
                 return r.height > 64 ? 'header ' + Math.round(r.height) + 'px high at ' + window.innerWidth : null;",
                vec![],
            )
            .await?;
        if let Some(t) = tall.as_str() {
            self.problems
                .push(format!("{} step {n} `{step}` {url}: {t}", self.name));
        }
        Ok(())
    }

    /// A page in Chinese shows no raw English codes in its main part: no dotted or underscored
    /// codes (`resident.read`, `status_since`) and no status or outcome codes as words. What
    /// people type or copy (fields, `code`, `pre`, `.code`) is left alone, and so is Latin text
    /// that is not a code (ICD-10 codes, slip numbers, units, CT, masked numbers).
    async fn english_codes(
        &mut self,
        n: usize,
        step: &str,
        url: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let found = self.b.execute(ENGLISH_CODES, vec![]).await?;
        if let Some(f) = found.as_str() {
            self.problems.push(format!(
                "{} step {n} `{step}` {url} shows English codes: {f}",
                self.name
            ));
        }
        Ok(())
    }

    /// No page scrolls sideways: the document is no wider than the window.
    async fn sideways(
        &mut self,
        n: usize,
        step: &str,
        url: &str,
    ) -> Result<(), ygt_testkit::BrowserError> {
        let wide = self
            .b
            .execute(
                "var d = document.documentElement, w = Math.min(d.clientWidth, window.innerWidth);\
                 if (d.scrollWidth <= w + 1) { return null; }\
                 var out = [];\
                 document.querySelectorAll('body *').forEach(function (e) {\
                   var r = e.getBoundingClientRect(), p = e.parentElement;\
                   if (r.right > w + 1 && out.length < 6 && !(p && p.getBoundingClientRect().right > w + 1)) {\
                     out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')\
                       + (typeof e.className === 'string' && e.className ? '.' + e.className.split(' ').join('.') : '')\
                       + ' right ' + Math.round(r.right));\
                   }\
                 });\
                 return 'scrollWidth ' + d.scrollWidth + ' > ' + w + ': ' + out.join(', ');",
                vec![],
            )
            .await?;
        if let Some(w) = wide.as_str() {
            self.problems.push(format!(
                "{} step {n} `{step}` {url} scrolls sideways: {w}",
                self.name
            ));
        }
        Ok(())
    }
}
