//! A synthetic object full of identity: inspect flags each piece, deidentify removes each, and
//! neither the findings nor the report leak a value.

mod common;

use common::*;
use dicom_core::value::{DataSetSequence, PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use medprint_deid::{deidentify, deidentify_bytes, inspect, is_deidentified, write, Action, DeidPolicy, FindingKind};

const SECRETS: [&str; 9] = [
    "DOE",
    "JOHN",
    "PID-778812",
    "19610417",
    "ST ELSEWHERE",
    "OLDID-9",
    "DR^WHO",
    "OPERATOR^ONE",
    "PRIVATE-CREATOR-X",
];

fn seq(items: Vec<InMemDicomObject>) -> Value<InMemDicomObject, Vec<u8>> {
    Value::from(DataSetSequence::from(items))
}

fn identified() -> DefaultDicomObject {
    let el = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let request = InMemDicomObject::from_element_iter([
        el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "DR^WHO"),
        el(tags::REQUESTED_PROCEDURE_ID, VR::SH, "RP1"),
    ]);
    // Contributing Equipment Sequence is kept; its items are processed like the data set.
    let equipment = InMemDicomObject::from_element_iter([
        el(tags::MANUFACTURER, VR::LO, "ACME"),
        el(tags::INSTITUTION_NAME, VR::LO, "ST ELSEWHERE"),
        el(tags::OPERATORS_NAME, VR::PN, "OPERATOR^ONE"),
        el(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.9.77.1"),
    ]);
    let ds = InMemDicomObject::from_element_iter([
        el(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.9.77.2"),
        el(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.9.77.3"),
        el(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.9.77.4"),
        el(tags::MODALITY, VR::CS, "CT"),
        el(tags::PATIENT_NAME, VR::PN, "DOE^JOHN"),
        el(tags::PATIENT_ID, VR::LO, "PID-778812"),
        el(tags::PATIENT_BIRTH_DATE, VR::DA, "19610417"),
        el(tags::PATIENT_SEX, VR::CS, "M"),
        el(tags::PATIENT_AGE, VR::AS, "063Y"),
        el(tags::INSTITUTION_NAME, VR::LO, "ST ELSEWHERE"),
        el(OTHER_PATIENT_IDS, VR::LO, "OLDID-9"),
        el(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"),
        el(Tag(0x0009, 0x0010), VR::LO, "PRIVATE-CREATOR-X"),
        DataElement::new(Tag(0x0009, 0x1001), VR::OB, PrimitiveValue::from(vec![1u8, 2, 3, 4])),
        el(Tag(0x6000, 0x0010), VR::US, "0"),
        DataElement::new(Tag(0x6000, 0x3000), VR::OW, PrimitiveValue::from(vec![0u8; 8])),
        DataElement::new(tags::REQUEST_ATTRIBUTES_SEQUENCE, VR::SQ, seq(vec![request])),
        DataElement::new(tags::CONTRIBUTING_EQUIPMENT_SEQUENCE, VR::SQ, seq(vec![equipment])),
        el(tags::ROWS, VR::US, "1"),
        el(tags::COLUMNS, VR::US, "1"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::PixelSequence(PixelFragmentSequence::new(
                vec![0u32],
                vec![vec![0xFF, 0xD8, 0xFF, 0xD9]],
            )),
        ),
    ]);
    ds.with_meta(
        FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
            .media_storage_sop_instance_uid("1.2.826.0.1.3680043.9.77.2")
            .transfer_syntax(uids::JPEG_BASELINE8_BIT)
            .source_application_entity_title("ELSEWHERE_CT"),
    )
    .expect("meta")
}

/// Other Patient IDs (0010,1000), retired in the dictionary but still sent.
const OTHER_PATIENT_IDS: Tag = Tag(0x0010, 0x1000);

fn policy() -> DeidPolicy {
    DeidPolicy {
        keep_dates: false,
        uid_salt: b"synthetic".to_vec(),
    }
}

/// (path, action) pairs that must be flagged and then handled.
const EXPECTED: [(&str, Action); 17] = [
    ("(0002,0003)", Action::U),
    ("(0002,0016)", Action::X),
    ("(0008,0018)", Action::U),
    ("(0008,0080)", Action::Z),
    ("(0009,0010)", Action::X),
    ("(0009,1001)", Action::X),
    ("(0010,0010)", Action::Z),
    ("(0010,0020)", Action::Z),
    ("(0010,0030)", Action::Z),
    ("(0010,1000)", Action::X),
    ("(0012,0062)", Action::D),
    ("(0018,A001)[0].(0008,0080)", Action::Z),
    ("(0018,A001)[0].(0008,1070)", Action::Z),
    ("(0018,A001)[0].(0008,1155)", Action::U),
    ("(0040,0275)", Action::X),
    ("(6000,0010)", Action::X),
    ("(6000,3000)", Action::X),
];

#[test]
fn inspect_flags_every_identifying_element() {
    let obj = identified();
    let findings = inspect(&obj);
    for (path, action) in EXPECTED {
        assert!(
            findings.iter().any(|f| f.path == path && f.action == action),
            "{path} ({action:?}) not flagged; findings: {findings:#?}"
        );
    }
    for kept in [
        "(0010,0040)",
        "(0010,1010)",
        "(0008,0060)",
        "(0018,A001)[0].(0008,0070)",
        "(7FE0,0010)",
    ] {
        assert!(
            !findings.iter().any(|f| f.path == kept),
            "{kept} flagged but kept by the profile"
        );
    }
    assert!(findings.iter().any(|f| f.kind == FindingKind::PrivateElement));
    assert!(!is_deidentified(&obj));

    // Findings never carry a value.
    let json = serde_json::to_string(&findings).expect("serialise findings");
    for secret in SECRETS {
        assert!(!json.contains(secret), "findings leak {secret}: {json}");
    }
    let debug = format!("{findings:?}");
    assert!(!debug.contains("DOE"), "{debug}");
}

#[test]
fn deidentify_removes_everything_and_names_it() {
    let mut obj = identified();
    let report = deidentify(&mut obj, &policy());

    assert!(inspect(&obj).is_empty(), "{:#?}", inspect(&obj));
    assert!(is_deidentified(&obj));
    assert!(!report.burned_in_annotation);
    assert_eq!(report.private_removed, 2);
    assert_eq!(report.uids_replaced, 5, "SOP, study, series, nested reference, meta");

    // The report names each removed element with its action.
    let expect_removed = [
        ("(0002,0016)", Action::X),
        ("(0008,0080)", Action::Z),
        ("(0009,0010)", Action::X),
        ("(0009,1001)", Action::X),
        ("(0010,0010)", Action::Z),
        ("(0010,0020)", Action::Z),
        ("(0010,0030)", Action::Z),
        ("(0010,1000)", Action::X),
        ("(0018,A001)[0].(0008,0080)", Action::Z),
        ("(0018,A001)[0].(0008,1070)", Action::Z),
        ("(0040,0275)", Action::X),
        ("(6000,0010)", Action::X),
        ("(6000,3000)", Action::X),
    ];
    for (path, action) in expect_removed {
        assert!(
            report.removed.iter().any(|r| r.path == path && r.action == action),
            "{path} missing from report: {:#?}",
            report.removed
        );
    }
    assert_eq!(report.removed.len(), expect_removed.len(), "{:#?}", report.removed);
    let name = report
        .removed
        .iter()
        .find(|r| r.tag == "(0010,0010)")
        .expect("PatientName reported");
    assert_eq!(name.keyword, "PatientName");
    let request = report
        .removed
        .iter()
        .find(|r| r.tag == "(0040,0275)")
        .expect("sequence reported");
    assert_eq!(request.keyword, "RequestAttributesSequence");

    // Gone from the object: values emptied or elements removed, at every level.
    assert_eq!(text(&obj, tags::PATIENT_NAME).as_deref(), Some(""));
    assert_eq!(text(&obj, tags::PATIENT_ID).as_deref(), Some(""));
    assert_eq!(text(&obj, tags::PATIENT_BIRTH_DATE).as_deref(), Some(""));
    assert_eq!(text(&obj, tags::INSTITUTION_NAME).as_deref(), Some(""));
    assert!(obj.get(OTHER_PATIENT_IDS).is_none());
    assert!(obj.get(tags::REQUEST_ATTRIBUTES_SEQUENCE).is_none());
    assert!(obj.get(Tag(0x0009, 0x0010)).is_none() && obj.get(Tag(0x0009, 0x1001)).is_none());
    assert!(obj.get(Tag(0x6000, 0x3000)).is_none() && obj.get(Tag(0x6000, 0x0010)).is_none());
    assert!(obj.meta().source_application_entity_title.is_none());
    // Kept: patient characteristics the pipeline needs, equipment, pixel data.
    assert_eq!(text(&obj, tags::PATIENT_SEX).as_deref(), Some("M"));
    assert_eq!(text(&obj, tags::PATIENT_AGE).as_deref(), Some("063Y"));
    assert!(obj.get(tags::PIXEL_DATA).is_some());

    // Neither the report (JSON or Debug) nor the written file contains any identifying value.
    let json = serde_json::to_string(&report).expect("serialise report");
    assert!(json.contains("\"(0010,0010)\"") && json.contains("\"Z\""), "{json}");
    let bytes = write(&obj).expect("write");
    for secret in SECRETS {
        assert!(!json.contains(secret), "report leaks {secret}: {json}");
        assert!(!format!("{report:?}").contains(secret), "report Debug leaks {secret}");
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "file still holds {secret}"
        );
    }
    let old_root = b"1.2.826.0.1.3680043.9.77";
    assert!(
        !bytes.windows(old_root.len()).any(|w| w == old_root),
        "an old UID survives"
    );
}

#[test]
fn bytes_round_trip_of_the_synthetic_object() {
    let input = write(&identified()).expect("write");
    let (out, report) = deidentify_bytes(&input, &policy()).expect("de-identify");
    let clean = reparse(&out);
    assert!(inspect(&clean).is_empty(), "{:#?}", inspect(&clean));
    assert_eq!(
        clean.meta().transfer_syntax().trim_end_matches('\0'),
        uids::JPEG_BASELINE8_BIT
    );
    let fragments = clean
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.value().fragments().map(|f| f.to_vec()));
    assert_eq!(fragments, Some(vec![vec![0xFF, 0xD8, 0xFF, 0xD9]]));
    assert!(!serde_json::to_string(&report).expect("json").contains("DOE"));
}

#[test]
fn burned_in_annotation_is_reported_not_hidden() {
    let mut obj = identified();
    obj.put(DataElement::new(
        tags::BURNED_IN_ANNOTATION,
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    let report = deidentify(&mut obj, &policy());
    assert!(report.burned_in_annotation);
    let findings = inspect(&obj);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].kind, FindingKind::BurnedInAnnotation);
    assert_eq!(findings[0].tag, "(0028,0301)");
    assert!(!is_deidentified(&obj));
}

#[test]
fn dummy_values_and_emptied_sequences_count_as_clean() {
    let mut obj = identified();
    obj.put(DataElement::new(
        tags::PERSON_NAME,
        VR::PN,
        PrimitiveValue::from("DOE^JANE"),
    ));
    let code = InMemDicomObject::from_element_iter([DataElement::new(
        tags::CODE_MEANING,
        VR::LO,
        PrimitiveValue::from("ST ELSEWHERE"),
    )]);
    obj.put(DataElement::new(
        tags::INSTITUTION_CODE_SEQUENCE,
        VR::SQ,
        seq(vec![code]),
    ));
    let flagged = inspect(&obj);
    assert!(flagged
        .iter()
        .any(|f| f.keyword == "PersonName" && f.action == Action::D));
    assert!(flagged
        .iter()
        .any(|f| f.keyword == "InstitutionCodeSequence" && f.action == Action::Z));
    let report = deidentify(&mut obj, &policy());
    assert!(report
        .removed
        .iter()
        .any(|r| r.keyword == "PersonName" && r.action == Action::D));
    assert_eq!(text(&obj, tags::PERSON_NAME).as_deref(), Some("ANONYMIZED"));
    assert_eq!(
        obj.get(tags::INSTITUTION_CODE_SEQUENCE)
            .and_then(|e| e.value().items().map(|i| i.len())),
        Some(0)
    );
    assert!(inspect(&obj).is_empty(), "{:#?}", inspect(&obj));
}
