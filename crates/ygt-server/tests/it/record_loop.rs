//! Issue 13 §4: the 360 page closes the loop. An up-referral, the county visit it produced, its
//! outcome, the down-referral that followed with its plan and tasks, shown as one episode with
//! links to each, on both backends.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;
use ygt_testkit::{Browser, TestDb, Window, both_backends};

use crate::TestServer;
use crate::referral::county;

const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn ok_json(r: reqwest::RequestBuilder) -> Value {
    let resp = r.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn now() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap()
}

/// The part of the page between two markers.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap_or_else(|| panic!("no {start}"));
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

async fn record_shows_the_referral_episode(db: TestDb) {
    let sqlite = !db.url.starts_with("postgres");
    let a = TestServer::start(db, false).await;
    let c = county(&a.app).await;
    let cun = a.signed_in("cundoc").await;
    let xian = a.signed_in("xiandoc").await;
    let up = ok_json(cun.post(a.url("/api/v1/referrals")).json(&json!({
        "direction": "up", "person_id": c.person, "to_institution_id": c.hospital,
        "reason": "右侧肢体无力2天", "diagnosis_code": "I63.900", "diagnosis_name": "脑梗死",
        "submit": true})))
    .await;
    let up_id = up["id"].as_str().unwrap().to_owned();
    let step = |client: &reqwest::Client, id: &str, body: Value| {
        client
            .post(a.url(&format!("/api/v1/referrals/{id}/steps")))
            .json(&body)
    };
    ok_json(step(&xian, &up_id, json!({"action": "accept"}))).await;
    ok_json(step(&xian, &up_id, json!({"action": "arrive"}))).await;
    // What the county records during the stay: a diagnosis, and an old chronic one before.
    let item = |source: &str, code: &str, title: &str, at: String| {
        json!({"kind": "diagnosis", "institution_id": c.hospital, "source_system": "HIS",
            "source_id": source, "patient": {"person_id": c.person}, "occurred_at": at,
            "code": code, "title": title, "role": "primary"})
    };
    let sent = ok_json(
        xian.post(a.url("/api/v1/clinical-items"))
            .json(&json!({"items": [
                item("DX-1", "I63.900", "脑梗死", now()),
                item("DX-0", "I10.x00x002", "高血压", "2020-05-01 09:00".into()),
            ]})),
    )
    .await;
    let visit_item = sent["items"][0]["item_id"].as_str().unwrap().to_owned();
    ok_json(step(
        &xian,
        &up_id,
        json!({"action": "complete", "outcome": {
        "diagnosis_code": "I63.900", "diagnosis_name": "脑梗死", "treatment": "静脉溶栓",
        "summary": "住院14天，好转出院"}}),
    ))
    .await;
    let down = ok_json(xian.post(a.url("/api/v1/referrals")).json(&json!({
        "direction": "down", "person_id": c.person, "to_institution_id": c.village,
        "to_staff_id": c.village_doctor, "reason": "病情稳定，回村康复",
        "diagnosis_code": "I69.300", "diagnosis_name": "脑梗死后遗症",
        "plan": {"discharge_summary": "溶栓后恢复良好", "medications": "阿司匹林肠溶片 100mg 每日一次",
            "follow_ups": "+7 血压随访", "rehab_goals": "独立行走"},
        "submit": true})))
    .await;
    let down_id = down["id"].as_str().unwrap().to_owned();
    ok_json(step(&cun, &down_id, json!({"action": "accept"}))).await;
    readings(&a, &cun, c.village, c.person).await;

    for (who, client) in [("village", &cun), ("county", &xian)] {
        let resp = client
            .get(a.url(&format!("/residents/{}/record", c.person)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{who}");
        let html = resp.text().await.unwrap();
        let ep = between(&html, r#"id="episodes""#, "</section>");
        let up_at = ep.find(&format!("/referrals/{up_id}")).expect("up link");
        let visit_at = ep
            .find(&format!("/records/items/{visit_item}"))
            .expect("visit");
        let outcome_at = ep.find("住院14天，好转出院").expect("outcome");
        let down_at = ep
            .find(&format!("/referrals/{down_id}"))
            .expect("down link");
        assert!(
            up_at < visit_at && visit_at < outcome_at && outcome_at < down_at,
            "{who}: in order"
        );
        assert_eq!(
            ep.matches("<ol class=\"episode\">").count(),
            1,
            "{who}: {ep}"
        );
        assert!(ep.contains("阿司匹林肠溶片 100mg 每日一次"), "{who}: plan");
        assert!(
            ep.contains("class=\"ep-plan-item\""),
            "{who}: plan prescription"
        );
        assert!(ep.contains("href=\"/tasks\""), "{who}: tasks");
        assert!(ep.contains("血压随访"), "{who}: task title");
        // Chronic and acute problems apart; no codes of states or directions in Chinese.
        let chronic = between(&html, r#"id="chronic""#, "</ul>");
        let acute = between(&html, r#"id="acute""#, "</ul>");
        assert!(
            chronic.contains("高血压") && !chronic.contains("脑梗死"),
            "{chronic}"
        );
        assert!(
            acute.contains("脑梗死") && !acute.contains("高血压"),
            "{acute}"
        );
        // Charts with the unit above the value ticks.
        assert!(html.contains(r#"class="axis unit">mmHg<"#), "{who}: unit");
        assert!(html.contains(r#"class="axis unit">mmol/L<"#), "{who}: unit");
        for code in [">completed<", ">up<", ">down<", ">accepted<"] {
            assert!(!ep.contains(code), "{who}: {code} in {ep}");
        }
    }
    if sqlite {
        look(&a, c.person).await;
    }
}

/// Blood pressure and glucose at the village clinic over half a year, for the charts.
async fn readings(a: &TestServer, client: &reqwest::Client, village: Uuid, person: Uuid) {
    let items: Vec<Value> = (0..8)
        .map(|i| {
            let at = OffsetDateTime::now_utc() - time::Duration::days(180 - i * 24);
            json!({"kind": "measurement", "institution_id": village, "source_system": "GW",
                "source_id": format!("M-{i}"), "patient": {"person_id": person},
                "occurred_at": at.format(&Rfc3339).unwrap(), "results": [
                    {"code": "SBP", "name": "收缩压", "value": format!("{}", 150 - i * 3), "unit": "mmHg"},
                    {"code": "DBP", "name": "舒张压", "value": format!("{}", 95 - i * 2), "unit": "mmHg"},
                    {"code": "GLU", "name": "空腹血糖", "value": format!("{:.1}", 8.4 - i as f64 * 0.3), "unit": "mmol/L"}]})
        })
        .collect();
    ok_json(
        client
            .post(a.url("/api/v1/clinical-items"))
            .json(&json!({ "items": items })),
    )
    .await;
}

/// The page in a phone's and a tablet's window: nothing scrolls sideways; screenshots go to
/// `target/screenshots/record-loop/`.
async fn look(a: &TestServer, person: Uuid) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots/record-loop");
    for window in [Window::PHONE, Window::TABLET] {
        let Some(b) = Browser::launch_with(window).await else {
            return;
        };
        b.goto(&a.url("/login")).await.unwrap();
        let user = b.wait_for("input[name=username]", WAIT).await.unwrap();
        user.send_keys("cundoc").await.unwrap();
        let pw = b.find("input[name=password]").await.unwrap();
        pw.send_keys(crate::PASSWORD).await.unwrap();
        b.find("#sign-in").await.unwrap().click().await.unwrap();
        b.wait_for("#today", WAIT).await.unwrap();
        b.goto(&a.url(&format!("/residents/{person}/record")))
            .await
            .unwrap();
        b.wait_for("#episodes", WAIT).await.unwrap();
        let file = dir.join(format!("{}.png", window.label()));
        b.save_full_page(&file, 6000).await.unwrap();
        let wide = b
            .execute(
                "var d = document.documentElement;\
                 return d.scrollWidth - Math.min(d.clientWidth, window.innerWidth);",
                vec![],
            )
            .await
            .unwrap();
        b.quit().await;
        assert!(
            wide.as_f64().unwrap_or(0.0) <= 1.0,
            "{} scrolls sideways by {wide}",
            window.label()
        );
    }
}

both_backends!(
    record_shows_the_referral_episode,
    record_shows_the_referral_episode
);
