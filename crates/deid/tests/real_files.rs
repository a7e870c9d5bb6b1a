//! Every real DICOM file: de-identify the bytes, re-parse, and check that nothing identifying
//! remains while the image is untouched.

mod common;

use common::*;
use dicom_core::value::Value;
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use medprint_deid::uid::is_valid_uid;
use medprint_deid::{deidentify_bytes, inspect, parse, DeidPolicy, FindingKind};

fn policy() -> DeidPolicy {
    DeidPolicy {
        keep_dates: false,
        uid_salt: b"real-files-salt".to_vec(),
    }
}

const UID_TAGS: [Tag; 5] = [
    tags::SOP_INSTANCE_UID,
    tags::SERIES_INSTANCE_UID,
    tags::STUDY_INSTANCE_UID,
    tags::FRAME_OF_REFERENCE_UID,
    tags::REFERENCED_SOP_INSTANCE_UID,
];

#[test]
fn every_real_file_is_clean_after_deidentify_bytes() {
    let mut checked_pixels = 0;
    for path in real_files() {
        let name = path.display().to_string();
        let input = read(&path);
        let original = parse(&input).unwrap_or_else(|e| panic!("{name}: original does not parse: {e}"));
        assert!(
            !inspect(&original).is_empty(),
            "{name}: original already clean? then this test checks nothing"
        );

        let (out, report) = deidentify_bytes(&input, &policy()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let clean = reparse(&out);
        eprintln!(
            "{name}: {} finding(s) before, {} removed, {} UIDs replaced, {} private, burned-in {}",
            inspect(&original).len(),
            report.removed.len(),
            report.uids_replaced,
            report.private_removed,
            report.burned_in_annotation
        );

        // Nothing identifying left (burned-in annotation can only be flagged).
        let findings = inspect(&clean);
        let burned = findings.iter().any(|f| f.kind == FindingKind::BurnedInAnnotation);
        assert_eq!(burned, report.burned_in_annotation, "{name}");
        let rest: Vec<_> = findings
            .iter()
            .filter(|f| f.kind != FindingKind::BurnedInAnnotation)
            .collect();
        assert!(rest.is_empty(), "{name}: findings after de-identification: {rest:#?}");

        // Same transfer syntax.
        assert_eq!(
            clean.meta().transfer_syntax().trim_end_matches('\0'),
            original.meta().transfer_syntax().trim_end_matches('\0'),
            "{name}: transfer syntax changed"
        );

        // Patient name absent or empty; no private tags anywhere.
        assert!(
            text(&clean, tags::PATIENT_NAME).is_none_or(|s| s.is_empty()),
            "{name}: PatientName left"
        );
        let mut all = Vec::new();
        all_tags(&clean, "", &mut all);
        let odd: Vec<_> = all.iter().filter(|(_, t)| t.0 % 2 == 1).map(|(p, _)| p).collect();
        assert!(odd.is_empty(), "{name}: private tags left: {odd:?}");
        let overlay: Vec<_> = all.iter().filter(|(_, t)| (0x6000..=0x60FF).contains(&t.0)).collect();
        assert!(overlay.is_empty(), "{name}: overlay elements left: {overlay:?}");

        // Pixel data identical (native values or encapsulated fragments and offset table).
        match (original.get(tags::PIXEL_DATA), clean.get(tags::PIXEL_DATA)) {
            (Some(a), Some(b)) => {
                match (a.value(), b.value()) {
                    (Value::PixelSequence(x), Value::PixelSequence(y)) => {
                        assert_eq!(x.offset_table(), y.offset_table(), "{name}: offset table changed");
                        assert_eq!(
                            x.fragments().len(),
                            y.fragments().len(),
                            "{name}: fragment count changed"
                        );
                        assert!(x.fragments() == y.fragments(), "{name}: fragments changed");
                        assert!(!x.fragments().is_empty(), "{name}");
                    }
                    (Value::Primitive(x), Value::Primitive(y)) => {
                        assert!(x.to_bytes() == y.to_bytes(), "{name}: pixel bytes changed");
                        assert!(!x.to_bytes().is_empty(), "{name}");
                    }
                    _ => panic!("{name}: pixel data changed kind"),
                }
                assert_eq!(a.vr(), b.vr(), "{name}: pixel data VR changed");
                checked_pixels += 1;
            }
            (None, None) => {}
            _ => panic!("{name}: pixel data appeared or disappeared"),
        }

        // Every old instance UID is gone from the bytes, every new one is valid and under 2.25,
        // and the meta group names the new SOP Instance UID.
        for tag in UID_TAGS {
            let mut old = Vec::new();
            uids_of(&original, tag, &mut old);
            for uid in old.iter().filter(|u| u.len() > 8) {
                assert!(
                    !out.windows(uid.len()).any(|w| w == uid.as_bytes()),
                    "{name}: an original {tag} value is still in the output"
                );
            }
            let mut new = Vec::new();
            uids_of(&clean, tag, &mut new);
            assert_eq!(old.len(), new.len(), "{name}: {tag} count changed");
            for uid in &new {
                assert!(
                    uid.starts_with("2.25.") && is_valid_uid(uid),
                    "{name}: {tag} = {uid} invalid"
                );
            }
        }
        let meta_uid = clean
            .meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches('\0')
            .to_string();
        assert!(
            meta_uid.starts_with("2.25.") && is_valid_uid(&meta_uid),
            "{name}: {meta_uid}"
        );
        assert_ne!(
            meta_uid,
            original.meta().media_storage_sop_instance_uid().trim_end_matches('\0'),
            "{name}"
        );
        if text(&original, tags::SOP_INSTANCE_UID).is_some() {
            assert_eq!(text(&clean, tags::SOP_INSTANCE_UID), Some(meta_uid), "{name}");
        }

        // The original patient name and ID do not survive anywhere in the bytes.
        for tag in [tags::PATIENT_NAME, tags::PATIENT_ID] {
            if let Some(v) = text(&original, tag).filter(|v| v.len() >= 4) {
                assert!(
                    !out.windows(v.len()).any(|w| w == v.as_bytes()),
                    "{name}: {tag} value survived"
                );
                assert!(
                    report
                        .removed
                        .iter()
                        .any(|r| r.tag == format!("({:04X},{:04X})", tag.0, tag.1)),
                    "{name}"
                );
            }
        }

        // The de-identification record.
        assert_eq!(text(&clean, Tag(0x0012, 0x0062)).as_deref(), Some("YES"), "{name}");
        assert_eq!(
            text(&clean, Tag(0x0012, 0x0063)).as_deref(),
            Some("medprint basic profile"),
            "{name}"
        );
    }
    assert!(checked_pixels >= 16, "pixel data compared in {checked_pixels} files");
}
