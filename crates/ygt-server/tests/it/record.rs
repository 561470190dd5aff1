//! The shared health record through the JSON API and the pages, on both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use ygt_app::Ctx;
use ygt_app::ygt_store::org::InstitutionFilter;
use ygt_domain::access::Role;
use ygt_domain::org::Tier;
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;

async fn json(r: reqwest::Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn tier(s: &TestServer, t: Tier) -> Vec<Uuid> {
    let (list, _) = s
        .app
        .list_institutions(
            &Ctx::system(),
            &InstitutionFilter {
                tier: Some(t),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    list.into_iter().map(|i| i.id).collect()
}

fn recent(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    format!(
        "{:04}-{:02}-{:02} 09:30",
        t.year(),
        u8::from(t.month()),
        t.day()
    )
}

/// A county-hospital CT report for a resident registered at a township reaches the township
/// doctor's 360 page; sending it twice stores it once; bad input names the field; a doctor of
/// another township is refused; an item for an unknown patient waits and is assigned.
async fn ct_report_reaches_the_township(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let county = tier(&s, Tier::County).await[0];
    let towns = tier(&s, Tier::Township).await;
    let (town, other_town) = (towns[0], towns[1]);
    let reg = s
        .app
        .register_resident(
            &Ctx::system(),
            &ygt_app::mpi::ResidentDraft {
                institution_id: town.to_string(),
                record_id: Some("T-1001".into()),
                name: "周桂芳".into(),
                id_number: Some("34189019620815002X".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let radiologist = s
        .client_as("ct.reader", &[Role::Doctor], Some(county))
        .await;
    let ct = json!({"items": [{
        "kind": "imaging_report", "institution_id": county, "source_system": "PACS",
        "source_id": "CT-2026-0001", "patient": {"id_number": "34189019620815002X", "name": "周桂芳"},
        "occurred_at": recent(10), "modality": "CT", "body_part": "胸部", "department": "放射科",
        "findings": "右肺上叶见一约 8mm 磨玻璃结节，边界清。", "conclusion": "右肺上叶磨玻璃结节，建议 6 个月后复查。",
        "study_uid": "1.2.840.113619.2.55.3.2831164355.1"
    }]});
    let r = radiologist
        .post(s.url("/api/v1/clinical-items"))
        .json(&ct)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v = json(r).await;
    assert_eq!(v["items"][0]["outcome"], "created", "{v}");
    assert_eq!(v["items"][0]["person_id"], reg.person_id.to_string());
    let item_id = v["items"][0]["item_id"].as_str().unwrap().to_owned();
    let again = json(
        radiologist
            .post(s.url("/api/v1/clinical-items"))
            .json(&ct)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["items"][0]["outcome"], "unchanged");

    // Bad input: the field is named, nothing stored.
    let mut bad = ct.clone();
    bad["items"][0]["occurred_at"] = json!("2026-02-30");
    let r = radiologist
        .post(s.url("/api/v1/clinical-items"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(r).await["error"]["field"], "occurred_at");
    let two = json!({"items": [ct["items"][0].clone(), {"kind": "lab_report", "institution_id": county,
        "source_system": "LIS", "source_id": "X", "patient": {"name": "某"}, "occurred_at": recent(1),
        "results": [{"code": "GLU", "value": ""}]}]});
    let r = radiologist
        .post(s.url("/api/v1/clinical-items"))
        .json(&two)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(r).await["error"]["field"], "items[1].results[0].value");
    let r = radiologist
        .post(s.url("/api/v1/clinical-items"))
        .header("content-type", "application/json")
        .body("{\"items\": [")
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v = json(r).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["field"].as_str().unwrap().starts_with("items"),
        "{v}"
    );

    // The township doctor sees it: API (masked, no sender reference) and pages.
    let doctor = s
        .client_as("town.doctor", &[Role::Doctor], Some(town))
        .await;
    let rec = json(
        doctor
            .get(s.url(&format!("/api/v1/residents/{}/record", reg.person_id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(rec["timeline"][0]["title"], "胸部CT", "{rec}");
    assert_eq!(rec["timeline"][0]["institution_id"], county.to_string());
    assert!(rec["timeline"][0].get("patient_ref").is_none());
    assert_eq!(rec["person"]["id_number_masked"], "3418**********002X");
    let recog = json(
        doctor
            .get(s.url(&format!(
                "/api/v1/patients/{}/recognised-results",
                reg.person_id
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(recog["items"][0]["code"], "CT:胸部", "{recog}");
    let page = doctor
        .get(s.url(&format!("/residents/{}/record", reg.person_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("胸部CT"), "{html}");
    assert!(html.contains("可互认的检查检验结果"));
    // Dates are whole, never cut with an ellipsis.
    let recognised = &html[html.find("可互认的检查检验结果").unwrap()..];
    assert!(!recognised.contains('…'), "{recognised}");
    let item_page = doctor
        .get(s.url(&format!("/records/items/{item_id}?lang=en")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(item_page.contains("右肺上叶磨玻璃结节"));
    assert!(item_page.contains("Conclusion"));

    // Another township's doctor: no link, refused.
    let stranger = s
        .client_as("other.doctor", &[Role::Doctor], Some(other_town))
        .await;
    let r = stranger
        .get(s.url(&format!("/residents/{}/record", reg.person_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = stranger
        .get(s.url(&format!("/api/v1/clinical-items/{item_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // An unknown patient: held, listed, assigned.
    let r = radiologist
        .post(s.url("/api/v1/clinical-items"))
        .json(&json!({"items": [{"kind": "ecg_report", "institution_id": county, "source_system": "ECG",
            "source_id": "E-77", "patient": {"name": "周桂芳", "record_id": "H-999"}, "occurred_at": recent(2),
            "conclusion": "窦性心律，正常心电图"}]}))
        .send()
        .await
        .unwrap();
    let v = json(r).await;
    assert!(v["items"][0]["person_id"].is_null(), "{v}");
    let ecg = v["items"][0]["item_id"].as_str().unwrap().to_owned();
    let q = json(
        radiologist
            .get(s.url("/api/v1/unmatched-items"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(q["items"][0]["item"]["id"], ecg.as_str());
    let html = radiologist
        .get(s.url("/records/unmatched"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("H-999"));
    // Sending the CT gave the county hospital no relationship: it cannot file the ECG under a
    // resident it may not see, until it registers her with her ID card itself.
    let r = radiologist
        .post(s.url(&format!("/records/unmatched/{ecg}/assign")))
        .form(&[("person_id", reg.person_id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    s.app
        .register_resident(
            &Ctx::system(),
            &ygt_app::mpi::ResidentDraft {
                institution_id: county.to_string(),
                record_id: Some("H-999".into()),
                name: "周桂芳".into(),
                id_number: Some("34189019620815002X".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let r = radiologist
        .post(s.url(&format!("/records/unmatched/{ecg}/assign")))
        .form(&[("person_id", reg.person_id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = radiologist
        .post(s.url(&format!("/api/v1/unmatched-items/{ecg}/assign")))
        .json(&json!({"person_id": reg.person_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}
both_backends!(
    ct_report_reaches_the_township,
    ct_report_reaches_the_township
);
