//! Deterministic UID replacement (action U).
//!
//! `replacement_uid(salt, old) = "2.25." + decimal(first 128 bits of SHA-256(salt || old))`,
//! where `old` is the UID with trailing NUL and space padding removed. The result:
//! - is a valid UID under the `2.25` root (UUID-derived UIDs, PS3.5 B.2): at most
//!   5 + 39 = 44 characters, digits and dots only, no leading zero in the last component;
//! - depends only on the salt and the old UID, so every reference to one UID (the series UID
//!   in all files of a series, a Referenced SOP Instance UID pointing at another file, the
//!   Media Storage SOP Instance UID of the meta group) maps to the same new UID across files;
//! - cannot be inverted without the salt (a keyed hash; keep the salt secret and stable).

use sha2::{Digest, Sha256};

/// Root of every replacement UID.
pub const UID_ROOT: &str = "2.25.";

/// Trims the padding a UID value may carry (trailing NUL or spaces, leading spaces).
pub fn trim_uid(uid: &str) -> &str {
    uid.trim_matches(|c: char| c == '\0' || c == ' ')
}

/// The replacement for `old` under `salt` (see the module documentation).
pub fn replacement_uid(salt: &[u8], old: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(trim_uid(old).as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    format!("{UID_ROOT}{}", u128::from_be_bytes(first))
}

/// Whether `uid` has the form of a replacement UID: `2.25.` followed by the decimal form of a
/// 128-bit number (digits only, no leading zero, at most 39 digits, value below 2^128).
pub fn is_replacement_form(uid: &str) -> bool {
    let Some(number) = trim_uid(uid).strip_prefix(UID_ROOT) else {
        return false;
    };
    !number.is_empty()
        && number.len() <= 39
        && number.bytes().all(|b| b.is_ascii_digit())
        && (number == "0" || !number.starts_with('0'))
        && number.parse::<u128>().is_ok()
}

/// Whether `uid` is a syntactically valid DICOM UID: 1 to 64 characters, digits and dots,
/// no empty component, no leading zero in a multi-digit component.
pub fn is_valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid
            .split('.')
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) && (c == "0" || !c.starts_with('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_valid_and_salted() {
        let a = replacement_uid(b"salt", "1.2.840.113619.2.1.1.1");
        assert_eq!(a, replacement_uid(b"salt", "1.2.840.113619.2.1.1.1\0"));
        assert_ne!(a, replacement_uid(b"other", "1.2.840.113619.2.1.1.1"));
        assert_ne!(a, replacement_uid(b"salt", "1.2.840.113619.2.1.1.2"));
        assert!(a.starts_with("2.25."));
        assert!(a.len() <= 64);
        assert!(is_valid_uid(&a), "{a}");
        assert!(is_replacement_form(&a));
        assert!(!is_replacement_form("1.2.3"));
        assert!(!is_replacement_form("2.25.0123"));
        assert!(!is_replacement_form("2.25.999999999999999999999999999999999999999"));
        assert!(!is_valid_uid("1..2"));
        assert!(!is_valid_uid("1.02"));
    }
}
