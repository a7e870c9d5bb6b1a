//! UID consistency across files, salts, determinism and idempotence.

mod common;

use std::collections::BTreeMap;

use common::*;
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use medprint_deid::uid::{is_valid_uid, replacement_uid};
use medprint_deid::{deidentify, deidentify_bytes, inspect, parse, DeidPolicy};

fn policy(salt: &[u8]) -> DeidPolicy {
    DeidPolicy {
        keep_dates: false,
        uid_salt: salt.to_vec(),
    }
}

fn instance(series: &str, sop: &str) -> DefaultDicomObject {
    let ds = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(uids::CT_IMAGE_STORAGE),
        ),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, PrimitiveValue::from(sop)),
        DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.826.0.1.3680043.2.1"),
        ),
        DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, PrimitiveValue::from(series)),
        DataElement::new(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.826.0.1.3680043.2.9"),
        ),
        DataElement::new(tags::PATIENT_NAME, VR::PN, PrimitiveValue::from("ROE^JANE")),
    ]);
    ds.with_meta(
        FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
            .media_storage_sop_instance_uid(sop)
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN),
    )
    .expect("meta")
}

#[test]
fn two_files_of_one_series_stay_one_series() {
    let mut a = instance("1.2.826.0.1.3680043.2.5", "1.2.826.0.1.3680043.2.5.1");
    let mut b = instance("1.2.826.0.1.3680043.2.5", "1.2.826.0.1.3680043.2.5.2");
    let mut c = instance("1.2.826.0.1.3680043.2.6", "1.2.826.0.1.3680043.2.6.1");
    for o in [&mut a, &mut b, &mut c] {
        let r = deidentify(o, &policy(b"order-42"));
        assert_eq!(r.uids_replaced, 5, "4 data set UIDs and the meta group's");
    }
    let series = |o: &DefaultDicomObject| text(o, tags::SERIES_INSTANCE_UID).expect("series UID");
    let sop = |o: &DefaultDicomObject| text(o, tags::SOP_INSTANCE_UID).expect("SOP UID");
    assert_eq!(series(&a), series(&b));
    assert_ne!(series(&a), series(&c));
    assert_ne!(sop(&a), sop(&b));
    assert_eq!(text(&a, tags::STUDY_INSTANCE_UID), text(&c, tags::STUDY_INSTANCE_UID));
    assert_eq!(
        text(&a, tags::FRAME_OF_REFERENCE_UID),
        text(&b, tags::FRAME_OF_REFERENCE_UID)
    );
    assert_eq!(series(&a), replacement_uid(b"order-42", "1.2.826.0.1.3680043.2.5"));
    for o in [&a, &b, &c] {
        assert_eq!(o.meta().media_storage_sop_instance_uid().trim_end_matches('\0'), sop(o));
        assert!(inspect(o).is_empty(), "{:#?}", inspect(o));
    }
}

#[test]
fn real_files_that_share_a_uid_still_share_it() {
    // The transfer syntax set was made from one acquisition: files share their study (and
    // possibly series) UIDs but have distinct SOP Instance UIDs.
    let mut by_old: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut shared = 0;
    for path in transfer_syntax_files() {
        let input = read(&path);
        let original = parse(&input).expect("parses");
        let (out, _) = deidentify_bytes(&input, &policy(b"ts-set")).expect("de-identifies");
        let clean = reparse(&out);
        for tag in [
            tags::STUDY_INSTANCE_UID,
            tags::SERIES_INSTANCE_UID,
            tags::FRAME_OF_REFERENCE_UID,
            tags::SOP_INSTANCE_UID,
        ] {
            let (Some(old), Some(new)) = (text(&original, tag), text(&clean, tag)) else {
                continue;
            };
            by_old.entry((tag.to_string(), old)).or_default().push(new);
        }
    }
    let mut new_to_old: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (old, news) in &by_old {
        if news.len() > 1 {
            shared += 1;
        }
        assert!(
            news.iter().all(|n| n == &news[0]),
            "{old:?} mapped to several UIDs: {news:?}"
        );
        assert!(is_valid_uid(&news[0]) && news[0].starts_with("2.25."), "{}", news[0]);
        if let Some(prev) = new_to_old.insert(news[0].clone(), old.clone()) {
            assert_eq!(prev.1, old.1, "two different old UIDs mapped to one new UID");
        }
    }
    assert!(
        shared >= 1,
        "no UID shared between files: the consistency check checked nothing"
    );
}

#[test]
fn different_salts_give_different_uids() {
    let input = read(&transfer_syntax_files()[0]);
    let (a, _) = deidentify_bytes(&input, &policy(b"salt-a")).expect("a");
    let (b, _) = deidentify_bytes(&input, &policy(b"salt-b")).expect("b");
    let (a, b) = (reparse(&a), reparse(&b));
    for tag in [
        tags::SOP_INSTANCE_UID,
        tags::SERIES_INSTANCE_UID,
        tags::STUDY_INSTANCE_UID,
    ] {
        let (x, y) = (text(&a, tag).expect("a"), text(&b, tag).expect("b"));
        assert_ne!(x, y, "{tag}");
        for uid in [&x, &y] {
            assert!(
                uid.starts_with("2.25.") && uid.len() <= 64 && is_valid_uid(uid),
                "{uid}"
            );
        }
    }
}

#[test]
fn same_input_same_salt_gives_identical_bytes() {
    for path in real_files() {
        let input = read(&path);
        let (a, ra) = deidentify_bytes(&input, &policy(b"s")).expect("first copy");
        let (b, rb) = deidentify_bytes(&input, &policy(b"s")).expect("second copy");
        assert!(a == b, "{}: output differs between two runs", path.display());
        assert_eq!(ra, rb);
    }
}

#[test]
fn second_pass_removes_nothing_and_keeps_uids() {
    for path in real_files() {
        let name = path.display().to_string();
        let input = read(&path);
        let (once, first) = deidentify_bytes(&input, &policy(b"idem")).expect("first pass");
        assert!(
            !first.removed.is_empty() && first.uids_replaced > 0,
            "{name}: first pass did nothing"
        );
        let (twice, second) = deidentify_bytes(&once, &policy(b"idem")).expect("second pass");
        assert!(
            second.removed.is_empty(),
            "{name}: second pass removed {:#?}",
            second.removed
        );
        assert_eq!(second.uids_replaced, 0, "{name}");
        assert_eq!(second.private_removed, 0, "{name}");
        let (a, b) = (reparse(&once), reparse(&twice));
        for tag in [
            tags::SOP_INSTANCE_UID,
            tags::SERIES_INSTANCE_UID,
            tags::STUDY_INSTANCE_UID,
        ] {
            assert_eq!(text(&a, tag), text(&b, tag), "{name}: {tag}");
        }
        assert!(once == twice, "{name}: second pass changed the bytes");

        // In memory as well.
        let mut obj = parse(&input).expect("parses");
        deidentify(&mut obj, &policy(b"idem"));
        let again = deidentify(&mut obj, &policy(b"idem"));
        assert!(
            again.removed.is_empty() && again.uids_replaced == 0,
            "{name}: {again:#?}"
        );
    }
}

#[test]
fn without_our_marker_replacement_form_uids_are_replaced_again() {
    // A sender's own 2.25 UIDs are not trusted: only objects marked by this crate keep them.
    let mut o = instance("2.25.1234", "2.25.5678");
    let r = deidentify(&mut o, &policy(b"x"));
    assert_eq!(
        text(&o, tags::SERIES_INSTANCE_UID),
        Some(replacement_uid(b"x", "2.25.1234"))
    );
    assert_eq!(r.uids_replaced, 5);
}

#[test]
fn keep_dates_keeps_study_date_but_not_birth_date() {
    let mut o = instance("1.2.3", "1.2.3.4");
    o.put(DataElement::new(
        tags::STUDY_DATE,
        VR::DA,
        PrimitiveValue::from("20240102"),
    ));
    o.put(DataElement::new(
        tags::PATIENT_BIRTH_DATE,
        VR::DA,
        PrimitiveValue::from("19700101"),
    ));
    let mut kept = o.clone();
    deidentify(&mut o, &policy(b"d"));
    assert_eq!(text(&o, tags::STUDY_DATE).as_deref(), Some(""));
    let p = DeidPolicy {
        keep_dates: true,
        uid_salt: b"d".to_vec(),
    };
    deidentify(&mut kept, &p);
    assert_eq!(text(&kept, tags::STUDY_DATE).as_deref(), Some("20240102"));
    assert_eq!(text(&kept, tags::PATIENT_BIRTH_DATE).as_deref(), Some(""));
    assert!(
        inspect(&kept).is_empty(),
        "the object declares the dates option: {:#?}",
        inspect(&kept)
    );
    // The same object judged without the option declared: the date is a finding.
    kept.remove_element(dicom_core::Tag(0x0012, 0x0064));
    assert!(inspect(&kept).iter().any(|f| f.keyword == "StudyDate"));
}
