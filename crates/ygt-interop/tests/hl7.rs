//! HL7 v2.5 against fixtures made by another implementation (hl7apy, see
//! tests/fixtures/make_hl7_fixtures.py) and against a corpus of malformed messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ygt_interop::hl7::{
    self, AckCode, ErrorCode, Hl7Error, Message, MessageBuilder, SegmentBuilder,
};
use ygt_interop::mllp::{self, MllpDecoder};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hl7")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> Message {
    hl7::decode(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const WELL_FORMED: [&str; 8] = [
    "adt_a01.hl7",
    "adt_a04.hl7",
    "adt_a08.hl7",
    "oru_r01_lab.hl7",
    "oru_r01_two_orders.hl7",
    "oru_r01_ct.hl7",
    "adt_a01.gb18030.hl7",
    "oru_r01_lab.gb18030.hl7",
];

#[test]
fn every_fixture_is_listed_and_parses() {
    let mut found: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".hl7"))
        .collect();
    found.sort();
    let mut listed: Vec<String> = WELL_FORMED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
    for name in WELL_FORMED {
        let m = load(name);
        let h = m.header().unwrap();
        hl7::patient(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        if h.message_code == "ORU" {
            hl7::reports(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(m.text().starts_with("MSH|^~\\&|"));
    }
}

fn check_patient(m: &Message) {
    let p = hl7::patient(m).unwrap();
    assert_eq!(p.name.as_deref(), Some("张伟"));
    assert_eq!(p.id_number(), Some("110101199003074514"));
    assert_eq!(p.record_number(), Some("MR000123"));
    assert_eq!(p.identifiers.len(), 2);
    assert_eq!(p.identifiers[0].type_code.as_deref(), Some("NNCHN"));
    assert_eq!(p.identifiers[0].assigning_authority.as_deref(), Some("CHN"));
    assert_eq!(
        p.identifiers[1].assigning_authority.as_deref(),
        Some("XRMYY")
    );
    assert_eq!(p.birth_date.as_deref(), Some("19900307"));
    assert_eq!(p.sex.as_deref(), Some("M"));
    assert_eq!(p.phone.as_deref(), Some("13800138000"));
    assert_eq!(p.address.as_deref(), Some("北京市东城区景山前街4号"));
    assert_eq!(p.ethnicity.as_deref(), Some("01"));
    assert_eq!(p.nationality.as_deref(), Some("CHN"));
    assert_eq!(m.get("PID-22-2").as_deref(), Some("汉族"));
}

#[test]
fn adt_messages() {
    for (name, event, class, control) in [
        ("adt_a01.hl7", "A01", "I", "ADT0001"),
        ("adt_a04.hl7", "A04", "O", "ADT0002"),
        ("adt_a08.hl7", "A08", "I", "ADT0003"),
        ("adt_a01.gb18030.hl7", "A01", "I", "ADT0101"),
    ] {
        let m = load(name);
        let h = m.header().unwrap();
        assert_eq!(h.message_code, "ADT", "{name}");
        assert_eq!(h.trigger_event, event, "{name}");
        assert_eq!(h.structure, "ADT_A01", "{name}");
        assert_eq!(h.control_id, control, "{name}");
        assert_eq!(h.sending_application, "HIS");
        assert_eq!(h.sending_facility, "县人民医院");
        assert_eq!(h.receiving_application, "YGT");
        assert_eq!(h.receiving_facility, "县域医共体");
        assert_eq!(h.timestamp, "20240301101500");
        assert_eq!(h.processing_id, "P");
        assert_eq!(h.version, "2.5");
        assert_eq!(m.get("EVN-1").as_deref(), Some(event));
        check_patient(&m);
        let v = hl7::visit(&m).unwrap();
        assert_eq!(v.class.as_deref(), Some(class));
        assert_eq!(v.location.as_deref(), Some("内科一病区 305 12 县人民医院"));
        assert_eq!(v.department.as_deref(), Some("内科一病区"));
        assert_eq!(v.attending_doctor.as_deref(), Some("李明"));
        assert_eq!(v.attending_doctor_id.as_deref(), Some("D0042"));
        assert_eq!(v.visit_number.as_deref(), Some("V20240301001"));
        assert_eq!(v.admit_time.as_deref(), Some("20240301093000"));
        assert_eq!(v.discharge_time, None);
        // An ADT carries no results.
        assert_eq!(hl7::reports(&m).unwrap_err().field, "OBR");
    }
    assert_eq!(
        load("adt_a01.hl7").header().unwrap().charset,
        "UNICODE UTF-8"
    );
    assert_eq!(
        load("adt_a01.gb18030.hl7").header().unwrap().charset,
        "GB 18030-2000"
    );
}

#[test]
fn gb18030_copies_read_like_the_utf8_ones() {
    for (gb, utf8) in [
        ("adt_a01.gb18030.hl7", "adt_a01.hl7"),
        ("oru_r01_lab.gb18030.hl7", "oru_r01_lab.hl7"),
    ] {
        let raw = read(gb);
        assert!(
            std::str::from_utf8(&raw).is_err(),
            "{gb} should not be UTF-8"
        );
        let (a, b) = (load(gb), load(utf8));
        assert_eq!(hl7::patient(&a).unwrap(), hl7::patient(&b).unwrap());
        assert_eq!(hl7::visit(&a), hl7::visit(&b));
        assert_eq!(a.segments().count(), b.segments().count());
        if a.header().unwrap().message_code == "ORU" {
            assert_eq!(hl7::reports(&a).unwrap(), hl7::reports(&b).unwrap());
        }
        // Encoding the UTF-8 text back to GB 18030 gives the fixture's bytes (control id and
        // charset aside).
        let text = b
            .text()
            .replace("UNICODE UTF-8", "GB 18030-2000")
            .replace("ORU0001", "ORU0101")
            .replace("ADT0001", "ADT0101");
        assert_eq!(hl7::encode(&text, "GB 18030-2000").unwrap(), raw);
    }
}

#[test]
fn lab_report() {
    let m = load("oru_r01_lab.hl7");
    let h = m.header().unwrap();
    assert_eq!(
        (
            h.message_code.as_str(),
            h.trigger_event.as_str(),
            h.structure.as_str()
        ),
        ("ORU", "R01", "ORU_R01")
    );
    assert_eq!(h.sending_application, "LIS");
    check_patient(&m);
    let reports = hl7::reports(&m).unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.set_id.as_deref(), Some("1"));
    assert_eq!(r.placer.as_deref(), Some("P20240301001"));
    assert_eq!(r.filler.as_deref(), Some("F20240301001"));
    assert_eq!(r.service_code.as_deref(), Some("LAB001"));
    assert_eq!(
        r.service_name.as_deref(),
        Some("血常规+糖化血红蛋白+空腹血糖")
    );
    assert_eq!(r.service_system.as_deref(), Some("L"));
    assert_eq!(r.observed_at.as_deref(), Some("20240301080000"));
    assert_eq!(r.reported_at.as_deref(), Some("20240301100000"));
    assert_eq!(r.result_status.as_deref(), Some("F"));
    assert_eq!(r.diagnostic_service.as_deref(), Some("LAB"));
    assert_eq!(r.ordering_provider.as_deref(), Some("李明"));
    assert!(r.notes.is_empty());
    let o = &r.observations;
    assert_eq!(o.len(), 5);
    let rows: Vec<_> = o
        .iter()
        .map(|x| {
            (
                x.code.as_str(),
                x.name.as_deref().unwrap(),
                x.value.as_deref().unwrap(),
                x.unit.as_deref(),
                x.ref_range.as_deref(),
                x.abnormal.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "718-7",
                "血红蛋白",
                "135",
                Some("g/L"),
                Some("130-175"),
                Some("N")
            ),
            (
                "6690-2",
                "白细胞计数",
                "6.5",
                Some("10*9/L"),
                Some("3.5-9.5"),
                Some("N")
            ),
            (
                "4548-4",
                "糖化血红蛋白",
                "7.8",
                Some("%"),
                Some("4.0-6.0"),
                Some("H")
            ),
            (
                "1558-6",
                "空腹血糖",
                "8.2",
                Some("mmol/L"),
                Some("3.9-6.1"),
                Some("H")
            ),
            // hl7apy escaped the delimiters in this ST value (\S\ and \T\).
            (
                "8251-1",
                "检验备注",
                "标本轻度溶血^复查 & 随访",
                None,
                None,
                None
            ),
        ]
    );
    for x in o {
        assert_eq!(x.code_system.as_deref(), Some("LN"));
        assert_eq!(x.status, "F");
        assert_eq!(x.observed_at.as_deref(), Some("20240301095000"));
        assert_eq!(x.producer.as_deref(), Some("LAB01"));
    }
    assert_eq!(o[0].value_type.as_deref(), Some("NM"));
    assert_eq!(o[4].value_type.as_deref(), Some("ST"));
    assert_eq!(o[2].set_id.as_deref(), Some("3"));
    // The raw text keeps the escapes.
    assert_eq!(
        m.get_raw("OBX(4)-5"),
        Some("标本轻度溶血\\S\\复查 \\T\\ 随访")
    );
}

#[test]
fn two_orders_with_notes() {
    let m = load("oru_r01_two_orders.hl7");
    let reports = hl7::reports(&m).unwrap();
    assert_eq!(reports.len(), 2);
    let (a, b) = (&reports[0], &reports[1]);
    assert_eq!(a.service_name.as_deref(), Some("肝功能"));
    assert_eq!(a.filler.as_deref(), Some("F20240302001"));
    assert_eq!(a.notes, vec!["标本已复核 & 签发"]);
    assert_eq!(a.observations.len(), 2);
    assert!(a.observations[0].notes.is_empty());
    assert_eq!(a.observations[0].abnormal.as_deref(), Some("H"));
    assert_eq!(a.observations[1].notes, vec!["轻度升高，建议复查"]);
    assert_eq!(b.service_name.as_deref(), Some("肾功能"));
    assert_eq!(b.placer.as_deref(), Some("P20240302002"));
    assert_eq!(b.notes, vec!["空腹采血"]);
    assert_eq!(b.observations.len(), 2);
    assert_eq!(b.observations[0].name.as_deref(), Some("肌酐"));
    assert_eq!(b.observations[0].unit.as_deref(), Some("umol/L"));
    assert_eq!(b.observations[1].value.as_deref(), Some("5.1"));
    assert_eq!(m.segments_named("NTE").count(), 3);
    assert_eq!(m.segments_named("ORC").count(), 2);
}

#[test]
fn ct_report() {
    let m = load("oru_r01_ct.hl7");
    assert_eq!(m.header().unwrap().sending_application, "PACS");
    let reports = hl7::reports(&m).unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.diagnostic_service.as_deref(), Some("CT"));
    assert_eq!(r.service_code.as_deref(), Some("CT-CHEST"));
    assert_eq!(r.service_name.as_deref(), Some("胸部CT平扫"));
    assert_eq!(r.filler.as_deref(), Some("CT20240303001"));
    let findings = &r.observations[0];
    assert_eq!(findings.value_type.as_deref(), Some("TX"));
    assert_eq!(findings.name.as_deref(), Some("影像所见"));
    assert_eq!(
        findings.value.as_deref(),
        Some(
            "双肺纹理清晰，右肺上叶见一直径约6mm磨玻璃结节。\n纵隔未见肿大淋巴结。\n心影大小正常。"
        )
    );
    let conclusion = &r.observations[1];
    assert_eq!(conclusion.name.as_deref(), Some("诊断意见"));
    assert_eq!(
        conclusion.value.as_deref(),
        Some("右肺上叶磨玻璃结节，建议12个月后复查。")
    );
    assert_eq!(
        m.get_rep("OBX-5", 2, 0, 0).as_deref(),
        Some("心影大小正常。")
    );
}

/// Decodes, reads the header, then what the message type carries: the first error.
fn process(bytes: &[u8]) -> Result<(), Hl7Error> {
    let m = hl7::decode(bytes)?;
    let h = m.header()?;
    match h.message_code.as_str() {
        "ADT" => {
            hl7::patient(&m)?;
        }
        "ORU" => {
            hl7::patient(&m)?;
            hl7::reports(&m)?;
        }
        _ => {}
    }
    Ok(())
}

/// Every file of the malformed corpus, the field its error names and the table 0357 code.
const MALFORMED: [(&str, &str, u16); 21] = [
    ("empty.hl7", "MSH", 100),
    ("no_msh.hl7", "MSH", 100),
    ("binary_garbage.hl7", "MSH", 100),
    ("bad_field_separator.hl7", "MSH-1", 102),
    ("bad_encoding_chars.hl7", "MSH-2", 102),
    ("gbk_declared_utf8.hl7", "MSH-18", 102),
    ("ascii_declared_with_high_bytes.hl7", "MSH-18", 102),
    ("unknown_charset.hl7", "MSH-18", 103),
    ("missing_control_id.hl7", "MSH-10", 101),
    ("missing_message_type.hl7", "MSH-9", 101),
    ("unsupported_version.hl7", "MSH-12", 203),
    ("truncated_segment.hl7", "MSH-9", 101),
    ("bad_segment_id.hl7", "segment 2", 100),
    ("second_msh.hl7", "segment 3", 100),
    ("adt_without_pid.hl7", "PID", 100),
    ("pid_without_identifier_or_name.hl7", "PID-3", 101),
    ("bad_birth_date.hl7", "PID-7", 102),
    ("oru_without_obr.hl7", "OBR", 100),
    ("obr_without_order_number.hl7", "OBR-3", 101),
    ("obx_without_code.hl7", "OBX-3", 101),
    ("nm_not_a_number.hl7", "OBX-5", 102),
];

#[test]
fn malformed_corpus() {
    let dir = fixtures().join("malformed");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = MALFORMED.iter().map(|(n, _, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "every malformed file has an expected field");

    for (name, field, code) in MALFORMED {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let e = process(&bytes).expect_err(name);
        assert_eq!(e.field, field, "{name}: {e}");
        assert_eq!(e.code.number(), code, "{name}: {e}");
        assert!(!e.reason.is_empty());
        // A receiver can still answer it.
        let ack = hl7::ack_for_unparseable(&bytes, AckCode::AR, &e, "20240301120000+0800", "ACK1");
        let a = hl7::parse(&ack).unwrap_or_else(|x| panic!("{name}: ack {x}"));
        assert_eq!(a.get("MSA-1").as_deref(), Some("AR"));
        assert_eq!(a.get("ERR-8").as_deref(), Some(e.reason.as_str()), "{name}");
        assert_eq!(
            a.get("ERR-3-1").as_deref(),
            Some(code.to_string().as_str()),
            "{name}"
        );
    }
}

#[test]
fn malformed_details() {
    let dir = fixtures().join("malformed");
    let read_err = |n: &str| process(&std::fs::read(dir.join(n)).unwrap()).unwrap_err();

    let e = read_err("gbk_declared_utf8.hl7");
    assert!(e.reason.contains("not valid"), "{e}");
    assert!(e.reason.contains("UTF-8"), "{e}");
    assert!(e.reason.contains("offset 13"), "{e}");

    let e = read_err("unknown_charset.hl7");
    assert!(e.reason.contains("EBCDIC"), "{e}");

    let e = read_err("obx_without_code.hl7");
    assert_eq!(e.segment_index, Some(4));
    assert_eq!(e.segment_sequence, Some(2));
    assert!(e.reason.contains("set ID 2"), "{e}");
    assert_eq!(e.code, ErrorCode::RequiredFieldMissing);

    let e = read_err("nm_not_a_number.hl7");
    assert!(e.reason.contains("一百三十五"), "{e}");
    assert_eq!(e.to_string().split(':').next(), Some("OBX-5"));

    // ACK of an error in a known message: ERR-2 locates it.
    let bytes = std::fs::read(dir.join("obx_without_code.hl7")).unwrap();
    let m = hl7::decode(&bytes).unwrap();
    let h = m.header().unwrap();
    let ack = hl7::ack(
        &h,
        AckCode::AE,
        None,
        Some(&e),
        "20240301120000+0800",
        "ACK2",
    );
    let a = hl7::parse(&ack).unwrap();
    assert_eq!(a.get("MSA-2").as_deref(), Some("BAD0001"));
    assert_eq!(a.get("MSH-9").as_deref(), Some("ACK^R01^ACK"));
    assert_eq!(a.get("MSH-3").as_deref(), Some("YGT"));
    assert_eq!(a.get("MSH-4").as_deref(), Some("县域医共体"));
    assert_eq!(a.get("MSH-5").as_deref(), Some("HIS"));
    assert_eq!(a.get("MSH-6").as_deref(), Some("县人民医院"));

    // Garbage that still has an MSH-10: the AR names its control id.
    let bytes = std::fs::read(dir.join("gbk_declared_utf8.hl7")).unwrap();
    let e = hl7::decode(&bytes).unwrap_err();
    let ack = hl7::ack_for_unparseable(&bytes, AckCode::AR, &e, "20240301120000+0800", "ACK3");
    let a = hl7::parse(&ack).unwrap();
    assert_eq!(a.get("MSA-2").as_deref(), Some("BAD0001"));
    assert_eq!(a.get("MSH-5").as_deref(), Some("HIS"));
    assert_eq!(a.get("ERR-2").as_deref(), Some("MSH^1^18"));
}

#[test]
fn acks_for_every_fixture() {
    for name in WELL_FORMED {
        let m = load(name);
        let h = m.header().unwrap();
        let ack = hl7::ack(
            &h,
            AckCode::AA,
            Some("收到"),
            None,
            "20240301120000+0800",
            "A9",
        );
        let a = hl7::parse(&ack).unwrap();
        let ah = a.header().unwrap();
        assert_eq!(ah.message_code, "ACK");
        assert_eq!(ah.trigger_event, h.trigger_event);
        assert_eq!(ah.structure, "ACK");
        assert_eq!(ah.control_id, "A9");
        assert_eq!(ah.sending_application, h.receiving_application);
        assert_eq!(ah.receiving_facility, h.sending_facility);
        // Answered in the sender's character set when it writes GB 18030, else UTF-8.
        assert_eq!(ah.charset, hl7::ack_charset(&h).msh18());
        assert!(
            ah.charset == "UNICODE UTF-8" || h.charset.contains("18030"),
            "{}",
            h.charset
        );
        assert_eq!(a.get("MSA-1").as_deref(), Some("AA"));
        assert_eq!(a.get("MSA-2").as_deref(), Some(h.control_id.as_str()));
        assert_eq!(a.get("MSA-3").as_deref(), Some("收到"));
        assert!(a.segment("ERR").is_none());
    }
}

#[test]
fn build_then_parse_with_delimiters_and_chinese() {
    let text = MessageBuilder::new()
        .segment(
            SegmentBuilder::new("MSH")
                .field(3, "HIS|A")
                .field(4, "县医院^B")
                .field(7, "20240301")
                .components(9, &["ADT", "A08", "ADT_A01"])
                .field(10, "C&1")
                .field(11, "P")
                .field(12, "2.5")
                .field(18, "UNICODE UTF-8"),
        )
        .segment(
            SegmentBuilder::new("PID")
                .repetitions(
                    3,
                    &[
                        &["110101199003074514", "", "", "CHN", "NNCHN"],
                        &["M~1", "", "", "H\\1", "MR"],
                    ],
                )
                .components(5, &["王", "小明"])
                .null(8)
                .field(11, "第一行\n第二行"),
        )
        .build();
    let m = hl7::parse(&text).unwrap();
    let h = m.header().unwrap();
    assert_eq!(h.sending_application, "HIS|A");
    assert_eq!(h.sending_facility, "县医院^B");
    assert_eq!(h.control_id, "C&1");
    let p = hl7::patient(&m).unwrap();
    assert_eq!(p.name.as_deref(), Some("王小明"));
    assert_eq!(p.record_number(), Some("M~1"));
    assert_eq!(
        p.identifiers[1].assigning_authority.as_deref(),
        Some("H\\1")
    );
    assert!(m.is_null("PID-8"));
    assert_eq!(p.sex, None);
    assert_eq!(m.get("PID-11").as_deref(), Some("第一行\n第二行"));
    // GB 18030 out and back.
    let bytes = hl7::encode(&text.replace("UNICODE UTF-8", "GB18030"), "GB18030").unwrap();
    let back = hl7::decode(&bytes).unwrap();
    assert_eq!(hl7::patient(&back).unwrap(), p);
}

#[test]
fn fixtures_over_mllp_in_small_reads() {
    let mut stream = Vec::new();
    let mut payloads = Vec::new();
    for name in WELL_FORMED {
        let bytes = read(name);
        stream.extend(mllp::frame(&bytes));
        payloads.push(bytes);
    }
    for chunk in [1usize, 7, 100, 4096] {
        let mut d = MllpDecoder::new(64 * 1024);
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            d.push(piece);
            while let Some(frame) = d.next_frame().unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(d.finish(), None);
        assert_eq!(got, payloads, "chunks of {chunk}");
        for f in &got {
            hl7::decode(f).unwrap();
        }
    }
}

/// A typical ORU^R01 of about 2 KB: the lab fixture with its OBX segments repeated.
fn two_kb_oru() -> Vec<u8> {
    let lab = String::from_utf8(read("oru_r01_lab.hl7")).unwrap();
    let obx: Vec<&str> = lab.split('\r').filter(|s| s.starts_with("OBX|")).collect();
    let mut text = lab.trim_end_matches('\r').to_owned();
    let mut i = 0;
    while text.len() < 2048 {
        text.push('\r');
        text.push_str(obx[i % obx.len()]);
        i += 1;
    }
    text.push('\r');
    text.into_bytes()
}

#[test]
fn two_kb_oru_reads() {
    let m = hl7::decode(&two_kb_oru()).unwrap();
    let r = hl7::reports(&m).unwrap();
    assert!(r[0].observations.len() > 10);
}
