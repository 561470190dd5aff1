//! The JSON API, health, metrics and OpenAPI, on both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;

async fn json(r: reqwest::Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts an error response: status, code and field.
async fn expect_error(
    r: reqwest::Response,
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) -> Value {
    assert_eq!(r.status(), status, "status");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "errors of the API are JSON"
    );
    let v = json(r).await;
    assert_eq!(v["error"]["code"], code, "{v}");
    if let Some(f) = field {
        assert_eq!(v["error"]["field"], f, "{v}");
    }
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    v
}

async fn health_metrics_and_docs(db: TestDb) {
    let backend = match db.backend {
        ygt_testkit::Backend::Sqlite => "sqlite",
        ygt_testkit::Backend::Postgres => "postgres",
    };
    let s = TestServer::start(db, false).await;
    let c = s.admin().await;
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await, json!({"status": "ok", "database": backend}));

    let r = crate::client()
        .get(s.url("/metrics"))
        .bearer_auth(crate::METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            "ygt_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("ygt_http_request_duration_seconds_bucket"));
    assert!(text.contains(&format!(
        "ygt_db_pool_max_connections{{backend=\"{backend}\"}}"
    )));

    let doc = json(c.get(s.url("/api/openapi.json")).send().await.unwrap()).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/institutions"]["post"].is_object());

    let docs = c.get(s.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text()
            .await
            .unwrap()
            .contains("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    );
    let js = c
        .get(s.url("/static/vendor/swagger-ui/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let htmx = c
        .get(s.url("/static/vendor/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(htmx.status(), StatusCode::OK);
    let missing = c.get(s.url("/static/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Security headers on every response.
    let r = c.get(s.url("/")).send().await.unwrap();
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("x-request-id"));
}
both_backends!(health_metrics_and_docs, health_metrics_and_docs);

async fn institution_lifecycle(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let c = s.admin().await;
    let r = c
        .post(s.url("/api/v1/institutions"))
        .json(&json!({
            "name": "云溪县人民医院",
            "aliases": ["云溪县医共体总医院"],
            "kind": "county_general_hospital",
            "division_code": "341890",
            "uscc": "91350100M000100Y43",
            "phone": "0563-2345678",
            "services": ["ct", "mri", "lab"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let h = json(r).await;
    let hid = h["id"].as_str().unwrap().to_owned();
    assert_eq!(h["tier"], "county");
    assert_eq!(h["services"], json!(["ct", "mri", "lab"]));

    let r = c
        .post(s.url("/api/v1/institutions"))
        .json(&json!({
            "name": "柳河镇卫生院",
            "aliases": ["云溪县人民医院柳河分院"],
            "kind": "township_health_centre",
            "parent_id": hid,
            "division_code": "341890100"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let t = json(r).await;
    let tid = t["id"].as_str().unwrap().to_owned();

    // Read, list, filter.
    let r = c
        .get(s.url(&format!("/api/v1/institutions/{tid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["parent_id"], hid.as_str());
    let page = json(
        c.get(s.url("/api/v1/institutions?tier=township&q=%E6%9F%B3%E6%B2%B3"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], tid.as_str());
    let page = json(
        c.get(s.url(&format!("/api/v1/institutions?parent_id={hid}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["total"], 1);

    // Update with the right version, then a stale one.
    let body = json!({
        "name": "柳河镇中心卫生院",
        "aliases": ["云溪县人民医院柳河分院"],
        "kind": "township_health_centre",
        "parent_id": hid,
        "division_code": "341890100",
        "services": ["ecg", "lab"]
    });
    let r = c
        .put(s.url(&format!("/api/v1/institutions/{tid}")))
        .header("if-match", "\"1\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let r = c
        .put(s.url(&format!("/api/v1/institutions/{tid}")))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "改名", "kind": "township_health_centre", "parent_id": hid, "division_code": "341890100"}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::CONFLICT, "stale", Some("version")).await;
    let now = json(
        c.get(s.url(&format!("/api/v1/institutions/{tid}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        now["name"], "柳河镇中心卫生院",
        "a refused update changes nothing"
    );
    let r = c
        .put(s.url(&format!("/api/v1/institutions/{tid}")))
        .header("if-match", "three")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("If-Match"),
    )
    .await;

    // Deactivation: refused while a child is active; nothing is deleted.
    let r = c
        .post(s.url(&format!("/api/v1/institutions/{hid}/deactivate")))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::CONFLICT, "conflict", None).await;
    let r = c
        .post(s.url(&format!("/api/v1/institutions/{tid}/deactivate")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["active"], false);
    let page = json(c.get(s.url("/api/v1/institutions")).send().await.unwrap()).await;
    assert_eq!(page["total"], 1);
    let page = json(
        c.get(s.url("/api/v1/institutions?include_inactive=true"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["total"], 2);
    let r = c
        .post(s.url(&format!("/api/v1/institutions/{tid}/activate")))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["active"], true);

    // Departments and staff.
    let r = c
        .post(s.url(&format!("/api/v1/institutions/{hid}/departments")))
        .json(&json!({"name": "心血管内科", "code": "cardiology", "beds": 45}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let dep = json(r).await;
    let r = c
        .post(s.url(&format!("/api/v1/institutions/{hid}/departments")))
        .json(&json!({"name": "心血管内科"}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::CONFLICT, "duplicate", Some("name")).await;
    let r = c
        .post(s.url(&format!("/api/v1/institutions/{hid}/departments")))
        .json(&json!({"name": "骨科", "beds": -3}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", Some("beds")).await;

    let staff = json!({
        "name": "李秀英", "sex": "2", "title": "chief_physician",
        "institution_id": hid, "department_id": dep["id"],
        "licence_number": "110341197000001", "id_number": "11010519491231002x",
        "phone": "13800138000"
    });
    let r = c
        .post(s.url("/api/v1/staff"))
        .json(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let st = json(r).await;
    assert_eq!(st["id_number_masked"], "1101**********002X");
    assert_eq!(st["phone_masked"], "138****8000");
    assert!(
        st.get("id_number").is_none(),
        "the full ID number is not in the API"
    );
    assert_eq!(st["department_name"], "心血管内科");
    let r = c
        .post(s.url("/api/v1/staff"))
        .json(&staff)
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::CONFLICT, "duplicate", None).await;
    let page = json(
        c.get(s.url(&format!(
            "/api/v1/staff?institution_id={hid}&q=%E7%A7%80%E8%8B%B1"
        )))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(page["total"], 1);

    // Department of another institution.
    let mut other = staff.clone();
    other["institution_id"] = json!(tid);
    other["licence_number"] = json!("110341197000002");
    other["id_number"] = json!(null);
    let r = c
        .post(s.url("/api/v1/staff"))
        .json(&other)
        .send()
        .await
        .unwrap();
    expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("department_id"),
    )
    .await;

    // Communities.
    let r = c
        .post(s.url("/api/v1/communities"))
        .json(&json!({"name": "云溪县县域医共体", "form": "county_community", "lead_institution_id": hid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let com = json(r).await;
    let cid = com["id"].as_str().unwrap().to_owned();
    assert_eq!(com["member_count"], 1);
    let r = c
        .post(s.url(&format!("/api/v1/communities/{cid}/members")))
        .json(&json!({"institution_id": tid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["members"].as_array().unwrap().len(), 2);
    let r = c
        .delete(s.url(&format!("/api/v1/communities/{cid}/members/{hid}")))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::CONFLICT, "conflict", Some("institution_id")).await;
    let r = c
        .delete(s.url(&format!("/api/v1/communities/{cid}/members/{tid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = json(
        c.get(s.url(&format!("/api/v1/communities/{cid}/members")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["total"], 1);
}
both_backends!(institution_lifecycle, institution_lifecycle);

async fn bad_input_is_named_never_a_500(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let c = s.admin().await;
    let post = |body: &'static str| {
        c.post(s.url("/api/v1/institutions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post(
        r#"{"name": "某卫生院", "kind": "township_health_centre", "division_code": "991890"}"#,
    )
    .await
    .unwrap();
    expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("division_code"),
    )
    .await;
    let r = post(r#"{"name": "某卫生院", "kind": "hospital", "division_code": "341890"}"#)
        .await
        .unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", Some("kind")).await;
    let r = post(
        r#"{"name": "", "kind": "cdc", "division_code": "341890", "uscc": "91350100M000100Y44"}"#,
    )
    .await
    .unwrap();
    let v = expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", Some("name")).await;
    let fields: Vec<&str> = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "uscc"], "every bad field is reported");
    let r = post(r#"{"name": "x", "kind": "cdc", "division_code": "341890", "services": "ct"}"#)
        .await
        .unwrap();
    expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("services"),
    )
    .await;
    let r = post(r#"{"name": "x", "kind": "cdc", "division_code": "341890", "colour": "red"}"#)
        .await
        .unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", None).await;
    let r = post(r#"{"name": "x", "#).await.unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", None).await;
    let r = post(r#"{"name": 5, "kind": "cdc", "division_code": "341890"}"#)
        .await
        .unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", Some("name")).await;
    let r = c
        .post(s.url("/api/v1/institutions"))
        .body("name=x")
        .send()
        .await
        .unwrap();
    expect_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        Some("body"),
    )
    .await;
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(3 * 1024 * 1024));
    // Its own client: the server stops reading the oversized body and may close the connection
    // before the client finished sending; either way it is refused, never a 500.
    match reqwest::Client::new()
        .post(s.url("/api/v1/institutions"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
    {
        Ok(r) => assert!(r.status().is_client_error(), "{}", r.status()),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }

    let r = c
        .get(s.url("/api/v1/institutions/not-a-uuid"))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", Some("id")).await;
    let r = c
        .get(s.url("/api/v1/institutions/0190a3c2-0000-7000-8000-000000000000"))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::NOT_FOUND, "not_found", None).await;
    let r = c
        .get(s.url("/api/v1/institutions?limit=0"))
        .send()
        .await
        .unwrap();
    expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("limit"),
    )
    .await;
    let r = c
        .get(s.url("/api/v1/institutions?limit=abc"))
        .send()
        .await
        .unwrap();
    expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("limit"),
    )
    .await;
    let r = c
        .get(s.url("/api/v1/institutions?tier=city"))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", Some("tier")).await;
    let r = c
        .get(s.url("/api/v1/staff?institution_id=x"))
        .send()
        .await
        .unwrap();
    expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("institution_id"),
    )
    .await;
    let r = c.get(s.url("/api/v1/nothing-here")).send().await.unwrap();
    expect_error(r, StatusCode::NOT_FOUND, "not_found", None).await;

    let r = c
        .post(s.url("/api/v1/staff"))
        .json(&json!({"name": "王五", "sex": "1", "title": "physician",
            "institution_id": "0190a3c2-0000-7000-8000-000000000000", "id_number": "110105194912310021"}))
        .send()
        .await
        .unwrap();
    let v = expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("id_number"),
    )
    .await;
    // Chinese by default, English on request.
    assert!(
        v["error"]["message"].as_str().unwrap().contains("校验码"),
        "{v}"
    );
    let r = c
        .post(s.url("/api/v1/staff?lang=en"))
        .json(&json!({"name": "王五", "sex": "1", "title": "physician",
            "institution_id": "0190a3c2-0000-7000-8000-000000000000", "id_number": "110105194912310021"}))
        .send()
        .await
        .unwrap();
    let v = expect_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        Some("id_number"),
    )
    .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check character"),
        "{v}"
    );

    // Nothing was stored by any of these.
    let page = json(
        c.get(s.url("/api/v1/institutions?include_inactive=true"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["total"], 0);
}
both_backends!(
    bad_input_is_named_never_a_500,
    bad_input_is_named_never_a_500
);
