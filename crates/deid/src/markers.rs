//! The attributes that record de-identification in the object itself (PS3.15 E.1.1 and
//! PS3.3 C.7.1.1): Patient Identity Removed, De-identification Method and its code sequence,
//! Longitudinal Temporal Information Modified; and Burned In Annotation.

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_object::InMemDicomObject;

use crate::DeidPolicy;

/// De-identification Method (0012,0063) written by this crate.
pub const DEIDENTIFICATION_METHOD: &str = "medprint basic profile";

pub(crate) const PATIENT_IDENTITY_REMOVED: Tag = Tag(0x0012, 0x0062);
pub(crate) const DEIDENTIFICATION_METHOD_TAG: Tag = Tag(0x0012, 0x0063);
pub(crate) const DEIDENTIFICATION_METHOD_CODE_SEQUENCE: Tag = Tag(0x0012, 0x0064);
pub(crate) const LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED: Tag = Tag(0x0028, 0x0303);
pub(crate) const BURNED_IN_ANNOTATION: Tag = Tag(0x0028, 0x0301);
const CODE_VALUE: Tag = Tag(0x0008, 0x0100);
const CODING_SCHEME_DESIGNATOR: Tag = Tag(0x0008, 0x0102);
const CODE_MEANING: Tag = Tag(0x0008, 0x0104);

/// CID 7050 code of the Basic Application Confidentiality Profile.
const BASIC_PROFILE_CODE: (&str, &str) = ("113100", "Basic Application Confidentiality Profile");
/// CID 7050 code of the Retain Patient Characteristics Option.
const PATIENT_CHARACTERISTICS_CODE: (&str, &str) = ("113108", "Retain Patient Characteristics Option");
/// CID 7050 code of the Retain Longitudinal Temporal Information Full Dates Option.
pub(crate) const FULL_DATES_CODE: (&str, &str) =
    ("113106", "Retain Longitudinal Temporal Information Full Dates Option");

fn trimmed(s: &str) -> &str {
    s.trim_matches(|c: char| c == '\0' || c == ' ')
}

fn strings(ds: &InMemDicomObject, tag: Tag) -> Vec<String> {
    ds.get(tag)
        .and_then(|e| e.value().primitive())
        .map(|p| p.to_multi_str().iter().map(|s| trimmed(s).to_string()).collect())
        .unwrap_or_default()
}

/// Whether Patient Identity Removed is "YES".
pub(crate) fn identity_removed(ds: &InMemDicomObject) -> bool {
    strings(ds, PATIENT_IDENTITY_REMOVED).iter().any(|s| s == "YES")
}

/// Whether the object says it was de-identified by this crate: Patient Identity Removed is "YES"
/// and one De-identification Method value is [`DEIDENTIFICATION_METHOD`].
pub fn has_our_marker(ds: &InMemDicomObject) -> bool {
    identity_removed(ds)
        && strings(ds, DEIDENTIFICATION_METHOD_TAG)
            .iter()
            .any(|s| s == DEIDENTIFICATION_METHOD)
}

/// Whether the De-identification Method Code Sequence declares the full dates option.
pub(crate) fn declares_full_dates(ds: &InMemDicomObject) -> bool {
    ds.get(DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .and_then(|e| e.value().items())
        .is_some_and(|items| {
            items
                .iter()
                .any(|item| strings(item, CODE_VALUE).iter().any(|v| v == FULL_DATES_CODE.0))
        })
}

/// Whether Burned In Annotation is "YES".
pub fn burned_in_annotation(ds: &InMemDicomObject) -> bool {
    strings(ds, BURNED_IN_ANNOTATION)
        .iter()
        .any(|s| s.eq_ignore_ascii_case("YES"))
}

fn code_item(code: (&str, &str)) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(CODE_VALUE, VR::SH, PrimitiveValue::from(code.0)),
        DataElement::new(CODING_SCHEME_DESIGNATOR, VR::SH, PrimitiveValue::from("DCM")),
        DataElement::new(CODE_MEANING, VR::LO, PrimitiveValue::from(code.1)),
    ])
}

/// Writes the de-identification record into the data set (always the same values for a policy,
/// so writing them again changes nothing).
pub(crate) fn put_markers(ds: &mut InMemDicomObject, policy: &DeidPolicy) {
    ds.put(DataElement::new(
        PATIENT_IDENTITY_REMOVED,
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    ds.put(DataElement::new(
        DEIDENTIFICATION_METHOD_TAG,
        VR::LO,
        PrimitiveValue::from(DEIDENTIFICATION_METHOD),
    ));
    let mut codes = vec![code_item(BASIC_PROFILE_CODE), code_item(PATIENT_CHARACTERISTICS_CODE)];
    if policy.keep_dates {
        codes.push(code_item(FULL_DATES_CODE));
    }
    ds.put(DataElement::new(
        DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        VR::SQ,
        Value::from(DataSetSequence::from(codes)),
    ));
    ds.put(DataElement::new(
        LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
        VR::CS,
        PrimitiveValue::from(if policy.keep_dates { "UNMODIFIED" } else { "REMOVED" }),
    ));
}
