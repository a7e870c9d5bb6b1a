//! Reading element values without ever exposing them: emptiness, dummy detection, byte lengths
//! and UID lists.

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::VR;
use dicom_object::mem::InMemElement;

use crate::profile::dummy_text;

fn trim_text(s: &str) -> &str {
    s.trim_matches(|c: char| c == '\0' || c == ' ')
}

/// Whether a primitive value holds text (as opposed to binary or numeric data).
fn is_textual(p: &PrimitiveValue) -> bool {
    matches!(
        p,
        PrimitiveValue::Str(_)
            | PrimitiveValue::Strs(_)
            | PrimitiveValue::Date(_)
            | PrimitiveValue::Time(_)
            | PrimitiveValue::DateTime(_)
    )
}

/// Whether an element carries no content: zero length, only padding, or a sequence without items.
pub fn is_empty(elem: &InMemElement) -> bool {
    match elem.value() {
        Value::Primitive(p) if is_textual(p) => p.to_multi_str().iter().all(|s| trim_text(s).is_empty()),
        Value::Primitive(p) => p.calculate_byte_len() == 0,
        Value::Sequence(s) => s.items().is_empty(),
        Value::PixelSequence(_) => false,
    }
}

/// Whether an element holds exactly the dummy value that action D writes for its VR.
pub fn is_dummy(elem: &InMemElement) -> bool {
    match (elem.value(), dummy_text(elem.vr())) {
        (Value::Primitive(p), Some(dummy)) if is_textual(p) => {
            let strs = p.to_multi_str();
            strs.len() == 1 && trim_text(&strs[0]) == dummy
        }
        _ => false,
    }
}

/// Number of bytes of an element's value (for findings: the length, never the content).
pub fn byte_len(elem: &InMemElement) -> usize {
    match elem.value() {
        Value::Primitive(p) => p.calculate_byte_len(),
        Value::Sequence(_) => 0,
        Value::PixelSequence(s) => s.fragments().iter().map(|f| f.len()).sum(),
    }
}

/// Number of items of a sequence element (0 for other elements).
pub fn item_count(elem: &InMemElement) -> usize {
    elem.value().items().map_or(0, |i| i.len())
}

/// The UID values of an element: strings for UI (or text) values, bytes decoded as ASCII for
/// values read without a known VR (UN). `None` when the value cannot hold UIDs.
pub fn uid_values(elem: &InMemElement) -> Option<Vec<String>> {
    match elem.value() {
        Value::Primitive(PrimitiveValue::Empty) => Some(Vec::new()),
        Value::Primitive(p) if is_textual(p) => Some(p.to_multi_str().iter().map(|s| s.to_string()).collect()),
        Value::Primitive(PrimitiveValue::U8(bytes)) => {
            let text = std::str::from_utf8(bytes).ok()?;
            let text = trim_text(text);
            if text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'\\') {
                Some(text.split('\\').map(str::to_string).collect())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Short, non-identifying description of what an element holds: its VR and size.
pub fn shape(elem: &InMemElement) -> String {
    match elem.value() {
        Value::Sequence(_) => format!("sequence with {} item(s)", item_count(elem)),
        Value::PixelSequence(s) => format!("encapsulated data, {} fragment(s)", s.fragments().len()),
        Value::Primitive(_) => format!("{} value of {} byte(s)", vr_name(elem.vr()), byte_len(elem)),
    }
}

/// The two-letter name of a VR.
pub fn vr_name(vr: VR) -> &'static str {
    vr.to_string()
}
