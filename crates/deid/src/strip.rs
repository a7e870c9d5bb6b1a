//! Applying the profile to an object ([`crate::deidentify`]).

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use crate::profile::{dummy_text, keyword, rule_for, tag_string, Action, Rule};
use crate::uid::{is_replacement_form, replacement_uid, trim_uid};
use crate::values::{is_dummy, is_empty, uid_values};
use crate::{markers, DeidPolicy, DeidReport, RemovedElement};

struct Stripper<'p> {
    policy: &'p DeidPolicy,
    /// The object already carries this crate's marker: UIDs already in replacement form are
    /// kept instead of being hashed a second time (idempotence).
    keep_replaced_uids: bool,
    report: DeidReport,
}

impl Stripper<'_> {
    fn record(&mut self, path: &str, tag: Tag, action: Action) {
        self.report.removed.push(RemovedElement {
            tag: tag_string(tag),
            keyword: keyword(tag),
            action,
            path: path.to_string(),
        });
    }

    /// The replacement of one UID value, or `None` when it stays.
    fn map_uid(&self, uid: &str) -> Option<String> {
        let uid = trim_uid(uid);
        if uid.is_empty() || (self.keep_replaced_uids && is_replacement_form(uid)) {
            return None;
        }
        Some(replacement_uid(&self.policy.uid_salt, uid))
    }

    fn data_set(&mut self, ds: &mut InMemDicomObject, prefix: &str) {
        let tags: Vec<Tag> = ds.tags().collect();
        for tag in tags {
            let path = format!("{prefix}{}", tag_string(tag));
            match rule_for(tag, self.policy.keep_dates) {
                Rule::GroupLength => {
                    ds.remove_element(tag);
                }
                Rule::Private => {
                    ds.remove_element(tag);
                    self.report.private_removed += 1;
                    self.record(&path, tag, Action::X);
                }
                Rule::CurveOrOverlay | Rule::Listed(Action::X) => {
                    ds.remove_element(tag);
                    self.record(&path, tag, Action::X);
                }
                Rule::Listed(Action::Z) => {
                    if let Some(elem) = ds.get(tag).filter(|e| !is_empty(e)) {
                        let vr = elem.vr();
                        ds.put(empty_element(tag, vr));
                        self.record(&path, tag, Action::Z);
                    }
                }
                Rule::Listed(Action::D) => {
                    if let Some(elem) = ds.get(tag).filter(|e| !is_empty(e) && !is_dummy(e)) {
                        let vr = elem.vr();
                        ds.put(dummy_element(tag, vr));
                        self.record(&path, tag, Action::D);
                    }
                }
                Rule::Listed(Action::U) => self.uids(ds, tag, &path),
                Rule::Listed(Action::K) | Rule::Unlisted => {
                    if ds.get(tag).is_none_or(|e| e.value().items().is_none()) {
                        continue;
                    }
                    ds.update_value(tag, |value| {
                        if let Some(items) = value.items_mut() {
                            for (i, item) in items.iter_mut().enumerate() {
                                self.data_set(item, &format!("{path}[{i}]."));
                            }
                        }
                    });
                }
            }
        }
    }

    fn uids(&mut self, ds: &mut InMemDicomObject, tag: Tag, path: &str) {
        let Some(elem) = ds.get(tag) else { return };
        let Some(values) = uid_values(elem) else {
            // Not readable as UIDs (binary content under a UID tag): nothing to map, remove it.
            ds.remove_element(tag);
            self.record(path, tag, Action::X);
            return;
        };
        let mut changed = 0;
        let new: Vec<String> = values
            .iter()
            .map(|v| match self.map_uid(v) {
                Some(n) => {
                    changed += 1;
                    n
                }
                None => trim_uid(v).to_string(),
            })
            .collect();
        if changed > 0 {
            ds.put(DataElement::new(tag, VR::UI, PrimitiveValue::Strs(new.into())));
            self.report.uids_replaced += changed;
        }
    }
}

fn empty_element(tag: Tag, vr: VR) -> InMemElement {
    if vr == VR::SQ {
        DataElement::new(tag, VR::SQ, Value::from(DataSetSequence::<InMemDicomObject>::empty()))
    } else {
        DataElement::new(tag, vr, PrimitiveValue::Empty)
    }
}

fn dummy_element(tag: Tag, vr: VR) -> InMemElement {
    match dummy_text(vr) {
        Some(text) => DataElement::new(tag, vr, PrimitiveValue::from(text)),
        None => empty_element(tag, vr),
    }
}

fn text_value(ds: &InMemDicomObject, tag: Tag) -> Option<String> {
    ds.get(tag)
        .and_then(|e| e.value().primitive())
        .map(|p| trim_uid(&p.to_str()).to_string())
        .filter(|s| !s.is_empty())
}

pub(crate) fn deidentify(obj: &mut DefaultDicomObject, policy: &DeidPolicy) -> DeidReport {
    let mut s = Stripper {
        policy,
        keep_replaced_uids: markers::has_our_marker(obj),
        report: DeidReport::default(),
    };
    s.data_set(obj, "");

    // File meta group: the instance UID follows the data set's (new) SOP Instance UID; AE titles
    // name the sending site and private information is private.
    let sop = text_value(obj, tags::SOP_INSTANCE_UID);
    let old_meta_uid = trim_uid(&obj.meta().media_storage_sop_instance_uid).to_string();
    let new_meta_uid = match sop {
        Some(sop) => sop,
        None => s.map_uid(&old_meta_uid).unwrap_or_else(|| old_meta_uid.clone()),
    };
    let mut meta_removed = Vec::new();
    {
        let meta = obj.meta_mut();
        if new_meta_uid != old_meta_uid {
            meta.media_storage_sop_instance_uid = new_meta_uid;
            s.report.uids_replaced += 1;
        }
        if meta.source_application_entity_title.take().is_some() {
            meta_removed.push(Tag(0x0002, 0x0016));
        }
        if meta.sending_application_entity_title.take().is_some() {
            meta_removed.push(Tag(0x0002, 0x0017));
        }
        if meta.receiving_application_entity_title.take().is_some() {
            meta_removed.push(Tag(0x0002, 0x0018));
        }
        if meta.private_information_creator_uid.take().is_some() {
            meta_removed.push(Tag(0x0002, 0x0100));
        }
        if meta.private_information.take().is_some() {
            meta_removed.push(Tag(0x0002, 0x0102));
        }
        // Not identifying, but a version name that is not short ASCII would be written in a
        // form the meta group reader rejects (SH, at most 16 characters); it is optional.
        if meta
            .implementation_version_name
            .as_deref()
            .is_some_and(|v| !v.is_ascii() || v.trim_end_matches(['\0', ' ']).len() > 16)
        {
            meta.implementation_version_name = None;
        }
        meta.update_information_group_length();
    }
    for tag in meta_removed {
        s.record(&tag_string(tag), tag, Action::X);
    }

    markers::put_markers(obj, policy);
    s.report.burned_in_annotation = markers::burned_in_annotation(obj);
    s.report
}
