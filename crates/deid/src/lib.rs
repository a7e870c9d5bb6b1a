//! DICOM de-identification for the order server: the Basic Application Level Confidentiality
//! Profile of DICOM PS3.15 Annex E (Table E.1-1), with the Retain Patient Characteristics Option
//! for the four attributes the pipeline needs, and optionally the Retain Longitudinal Temporal
//! Information with Full Dates Option.
//!
//! Hospitals send DICOM files that should already be de-identified. The server
//! - *verifies* with [`inspect`] / [`is_deidentified`] what identifying content remains,
//! - *strips* it with [`deidentify`] (in memory) or [`deidentify_bytes`] (Part-10 bytes in and
//!   out, same transfer syntax, pixel data untouched), and
//! - *records* what it removed in a [`DeidReport`], which never contains a removed value.
//!
//! What the profile does to each attribute is in [`profile`]; how UIDs are replaced is in [`uid`].
//!
//! Invariants:
//! - After [`deidentify`], [`inspect`] finds nothing except, when Burned In Annotation is YES,
//!   one [`FindingKind::BurnedInAnnotation`] finding: text burned into the pixels cannot be
//!   removed by editing the header, so the server must flag such files.
//! - [`deidentify`] is idempotent: a second run with the same policy removes nothing and
//!   replaces no UID (UIDs already in replacement form are kept in objects that carry this
//!   crate's marker, see [`deidentify`]).
//! - UID replacement is a pure function of the salt and the old UID, so files of one series stay
//!   one series and references between files stay consistent.
//! - Neither [`Finding`] nor [`DeidReport`] ever holds an element's value; at most its length.
//! - [`deidentify_bytes`] never panics on hostile input; it returns a [`DeidError`].

use dicom_object::DefaultDicomObject;
use serde::Serialize;

mod bytes;
mod inspect;
mod markers;
pub mod profile;
mod strip;
pub mod uid;
mod values;

pub use bytes::{parse, write, MAX_DEPTH};
pub use markers::{has_our_marker, DEIDENTIFICATION_METHOD};
pub use profile::Action;

/// How to de-identify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeidPolicy {
    /// Keep dates and times (Retain Longitudinal Temporal Information with Full Dates Option).
    /// Default `false`: every listed date and time is emptied (Z) or removed (X) as the basic
    /// profile says. Patient's Birth Date and Birth Time are never kept.
    pub keep_dates: bool,
    /// Secret mixed into every replacement UID (see [`uid::replacement_uid`]). Use the same salt
    /// for all files of an order so that references between them stay consistent; a different
    /// salt gives unrelated UIDs. With an empty or guessable salt anyone holding an original
    /// UID can recompute its replacement and so link the two; use a long random secret.
    pub uid_salt: Vec<u8>,
}

/// What kind of identifying content a [`Finding`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FindingKind {
    /// An attribute of the profile table whose value does not satisfy its action.
    ProfileAttribute,
    /// A private element (odd group).
    PrivateElement,
    /// An element of a curve (50xx) or overlay (60xx) group.
    CurveOrOverlay,
    /// A UID that has not been replaced (or a meta group instance UID that does not match).
    UidNotReplaced,
    /// A file meta element naming the sender (AE titles) or private to it.
    FileMetaElement,
    /// Patient Identity Removed (0012,0062) is missing or not YES.
    MissingMarker,
    /// Burned In Annotation (0028,0301) is YES: identity may be in the pixels.
    BurnedInAnnotation,
}

/// One piece of identifying content that remains in an object.
///
/// Never contains the element's value: only where it is, what the profile does with it, and
/// its length in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The element's tag, `(gggg,eeee)`.
    pub tag: String,
    /// Where the element is: `(gggg,eeee)` at top level, `(gggg,eeee)[i].(gggg,eeee)` inside
    /// item `i` of a sequence.
    pub path: String,
    /// The element's keyword (`PrivateCreator` / `PrivateElement` for private tags, empty when
    /// the dictionary does not know it).
    pub keyword: String,
    /// The action that applies ([`Action::K`] for burned-in annotation, which cannot be stripped;
    /// [`Action::D`] for the missing Patient Identity Removed marker, which is set to YES).
    pub action: Action,
    /// What kind of content this is.
    pub kind: FindingKind,
    /// Non-identifying description (VR, size, why it matters).
    pub description: String,
    /// Length of the value in bytes (0 for sequences and markers).
    pub value_length: usize,
}

/// One element removed, emptied or replaced by a dummy value by [`deidentify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedElement {
    /// The element's tag, `(gggg,eeee)`.
    pub tag: String,
    /// The element's keyword (see [`Finding::keyword`]).
    pub keyword: String,
    /// What was done: [`Action::X`] removed, [`Action::Z`] emptied, [`Action::D`] dummy value.
    pub action: Action,
    /// Where the element was (see [`Finding::path`]).
    pub path: String,
}

/// The record of one [`deidentify`] run. Holds no removed value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeidReport {
    /// Elements removed, emptied or given a dummy value, in data set order (a removed sequence
    /// is one entry; its contents are not listed). Includes private elements and file meta
    /// elements.
    pub removed: Vec<RemovedElement>,
    /// Number of UID values replaced (data set and file meta group).
    pub uids_replaced: usize,
    /// Number of private elements removed (also listed in `removed`).
    pub private_removed: usize,
    /// Burned In Annotation is YES: the pixel data may show identifying text that this crate
    /// cannot remove; the server must flag the file.
    pub burned_in_annotation: bool,
}

/// Errors of [`deidentify_bytes`] and [`parse`].
#[derive(Debug, thiserror::Error)]
pub enum DeidError {
    /// The input is not a DICOM file.
    #[error("not a DICOM file: {0}")]
    NotDicom(String),
    /// The input ends before the data it declares.
    #[error("truncated DICOM file: {0}")]
    Truncated(String),
    /// The input is DICOM but cannot be read safely.
    #[error("malformed DICOM file: {0}")]
    Malformed(String),
    /// The de-identified object could not be written.
    #[error("cannot write the de-identified DICOM file: {0}")]
    Write(String),
}

/// Lists the identifying content that remains in `obj` according to the profile.
///
/// An empty list means `obj` is de-identified: every listed attribute satisfies its action, no
/// private, curve or overlay element remains, every UID is in replacement form (UIDs count as
/// replaced only in objects carrying this crate's marker, see [`has_our_marker`]), the meta
/// group's instance UID equals the SOP Instance UID, Patient Identity Removed is YES and Burned
/// In Annotation is not YES. Dates count as allowed when the object's De-identification Method
/// Code Sequence declares the full dates option (113106).
pub fn inspect(obj: &DefaultDicomObject) -> Vec<Finding> {
    inspect::inspect(obj)
}

/// Whether [`inspect`] finds nothing.
pub fn is_deidentified(obj: &DefaultDicomObject) -> bool {
    inspect(obj).is_empty()
}

/// Applies the profile to `obj` and returns what was done.
///
/// - Listed attributes get their action (X removed, Z emptied, D dummy value, U new UID, K kept),
///   in the data set and, recursively, inside every kept sequence item.
/// - Private elements, curve and overlay groups and data set group length elements are removed.
/// - The meta group's Media Storage SOP Instance UID becomes the new SOP Instance UID; its AE
///   titles and private information are removed.
/// - Patient Identity Removed = YES, De-identification Method = [`DEIDENTIFICATION_METHOD`],
///   the De-identification Method Code Sequence (113100, 113108, and 113106 with `keep_dates`)
///   and Longitudinal Temporal Information Modified (REMOVED / UNMODIFIED) are set.
///
/// Idempotence: an object that already carries this crate's marker ([`has_our_marker`]) keeps
/// UIDs that are already in replacement form `2.25.<n>` instead of hashing them again, so a
/// second run changes nothing. (Consequence: the marker is trusted; a sender that copied it
/// would keep its own `2.25` UIDs, which are random UUID-derived UIDs in practice.)
pub fn deidentify(obj: &mut DefaultDicomObject, policy: &DeidPolicy) -> DeidReport {
    strip::deidentify(obj, policy)
}

/// Parses a DICOM file (Part-10 with or without the 128-byte preamble, or a bare implicit VR
/// little endian data set), de-identifies it and writes it back as Part-10 bytes in the same
/// transfer syntax; pixel data (native or encapsulated) is carried over unchanged.
///
/// Never panics on hostile input: malformed, truncated or oversized declarations give an error.
pub fn deidentify_bytes(input: &[u8], policy: &DeidPolicy) -> Result<(Vec<u8>, DeidReport), DeidError> {
    bytes::deidentify_bytes(input, policy)
}
