//! Finding what identifying content remains ([`crate::inspect`]).

use dicom_core::header::Header;
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use crate::markers::{self, BURNED_IN_ANNOTATION, PATIENT_IDENTITY_REMOVED};
use crate::profile::{keyword, rule_for, tag_string, Action, Rule};
use crate::uid::{is_replacement_form, trim_uid};
use crate::values::{byte_len, is_dummy, is_empty, shape, uid_values};
use crate::{Finding, FindingKind};

struct Inspector {
    /// UIDs in replacement form count as replaced only in objects carrying this crate's marker.
    trust_replaced_uids: bool,
    keep_dates: bool,
    findings: Vec<Finding>,
}

impl Inspector {
    fn push(&mut self, path: &str, tag: Tag, action: Action, kind: FindingKind, description: String, len: usize) {
        self.findings.push(Finding {
            tag: tag_string(tag),
            path: path.to_string(),
            keyword: keyword(tag),
            action,
            kind,
            description,
            value_length: len,
        });
    }

    fn uid_ok(&self, uid: &str) -> bool {
        let uid = trim_uid(uid);
        uid.is_empty() || (self.trust_replaced_uids && is_replacement_form(uid))
    }

    fn data_set(&mut self, ds: &InMemDicomObject, prefix: &str) {
        for elem in ds.iter() {
            let tag = elem.tag();
            let path = format!("{prefix}{}", tag_string(tag));
            let len = byte_len(elem);
            match rule_for(tag, self.keep_dates) {
                Rule::GroupLength => {}
                Rule::Private => self.push(
                    &path,
                    tag,
                    Action::X,
                    FindingKind::PrivateElement,
                    format!("private element ({}); all private elements are removed", shape(elem)),
                    len,
                ),
                Rule::CurveOrOverlay => self.push(
                    &path,
                    tag,
                    Action::X,
                    FindingKind::CurveOrOverlay,
                    format!(
                        "curve or overlay plane element ({}); overlays may carry burned-in identity",
                        shape(elem)
                    ),
                    len,
                ),
                Rule::Listed(Action::X) => self.push(
                    &path,
                    tag,
                    Action::X,
                    FindingKind::ProfileAttribute,
                    format!("present ({}); the profile removes it", shape(elem)),
                    len,
                ),
                Rule::Listed(Action::Z) if !is_empty(elem) => self.push(
                    &path,
                    tag,
                    Action::Z,
                    FindingKind::ProfileAttribute,
                    format!("not empty ({}); the profile requires zero length", shape(elem)),
                    len,
                ),
                Rule::Listed(Action::D) if !is_empty(elem) && !is_dummy(elem) => self.push(
                    &path,
                    tag,
                    Action::D,
                    FindingKind::ProfileAttribute,
                    format!("original value ({}); the profile requires a dummy value", shape(elem)),
                    len,
                ),
                Rule::Listed(Action::U) => {
                    let ok = uid_values(elem).is_some_and(|v| v.iter().all(|u| self.uid_ok(u)));
                    if !ok {
                        self.push(
                            &path,
                            tag,
                            Action::U,
                            FindingKind::UidNotReplaced,
                            format!("original UID ({}); the profile requires a new UID", shape(elem)),
                            len,
                        );
                    }
                }
                Rule::Listed(_) | Rule::Unlisted => {
                    if let Some(items) = elem.value().items() {
                        for (i, item) in items.iter().enumerate() {
                            self.data_set(item, &format!("{path}[{i}]."));
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn inspect(obj: &DefaultDicomObject) -> Vec<Finding> {
    let mut ins = Inspector {
        trust_replaced_uids: markers::has_our_marker(obj),
        keep_dates: markers::declares_full_dates(obj),
        findings: Vec::new(),
    };
    ins.data_set(obj, "");

    let meta = obj.meta();
    let meta_uid = trim_uid(&meta.media_storage_sop_instance_uid);
    let tag = Tag(0x0002, 0x0003);
    if !ins.uid_ok(meta_uid) {
        ins.push(
            &tag_string(tag),
            tag,
            Action::U,
            FindingKind::UidNotReplaced,
            "original UID in the file meta group; the profile requires a new UID".into(),
            meta_uid.len(),
        );
    } else if let Some(sop) = obj.get(tags::SOP_INSTANCE_UID).and_then(|e| e.value().primitive()) {
        let sop = sop.to_str();
        let sop = trim_uid(&sop);
        if !sop.is_empty() && sop != meta_uid {
            ins.push(
                &tag_string(tag),
                tag,
                Action::U,
                FindingKind::UidNotReplaced,
                "differs from the data set's SOP Instance UID".into(),
                meta_uid.len(),
            );
        }
    }
    let meta_texts = [
        (
            Tag(0x0002, 0x0016),
            meta.source_application_entity_title.as_ref().map(String::len),
        ),
        (
            Tag(0x0002, 0x0017),
            meta.sending_application_entity_title.as_ref().map(String::len),
        ),
        (
            Tag(0x0002, 0x0018),
            meta.receiving_application_entity_title.as_ref().map(String::len),
        ),
        (
            Tag(0x0002, 0x0100),
            meta.private_information_creator_uid.as_ref().map(String::len),
        ),
        (Tag(0x0002, 0x0102), meta.private_information.as_ref().map(Vec::len)),
    ];
    for (tag, len) in meta_texts {
        if let Some(len) = len {
            ins.push(
                &tag_string(tag),
                tag,
                Action::X,
                FindingKind::FileMetaElement,
                format!("file meta element of {len} byte(s) naming the sender or private to it"),
                len,
            );
        }
    }

    if !markers::identity_removed(obj) {
        ins.push(
            &tag_string(PATIENT_IDENTITY_REMOVED),
            PATIENT_IDENTITY_REMOVED,
            Action::D,
            FindingKind::MissingMarker,
            "Patient Identity Removed is not YES (the profile requires YES and a De-identification Method)".into(),
            0,
        );
    }
    if markers::burned_in_annotation(obj) {
        ins.push(
            &tag_string(BURNED_IN_ANNOTATION),
            BURNED_IN_ANNOTATION,
            Action::K,
            FindingKind::BurnedInAnnotation,
            "Burned In Annotation is YES: the pixel data may show identifying text, which cannot be stripped \
             from the header"
                .into(),
            0,
        );
    }
    ins.findings
}
