//! Byte-level mutations that turn a valid file into a hostile one.

use std::fmt;

use rand::Rng;

/// 16-bit values that tend to break length and size arithmetic.
pub const INTERESTING_U16: [u16; 11] = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff];
/// 32-bit values that tend to break length and size arithmetic.
pub const INTERESTING_U32: [u32; 15] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// Share of offsets drawn from the start of the file, where headers and length fields live.
const HEADER_BIAS: f64 = 0.6;
/// Bytes counted as "the start of the file" for [`HEADER_BIAS`].
const HEADER_SPAN: usize = 1024;

/// One edit of a byte buffer. Offsets beyond the end are clamped, so any mutation applies to
/// any buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Keep only the first `len` bytes.
    Truncate {
        /// Bytes kept.
        len: usize,
    },
    /// XOR the byte at `at` with `mask`.
    FlipBits {
        /// Offset.
        at: usize,
        /// Bits flipped.
        mask: u8,
    },
    /// Insert `bytes` before offset `at`.
    Insert {
        /// Offset.
        at: usize,
        /// Inserted run.
        bytes: Vec<u8>,
    },
    /// Remove `len` bytes from offset `at`.
    Delete {
        /// Offset.
        at: usize,
        /// Bytes removed.
        len: usize,
    },
    /// Repeat the run `[at, at + len)` `times` more times right after itself (duplicated
    /// elements or records).
    Duplicate {
        /// Offset.
        at: usize,
        /// Run length.
        len: usize,
        /// Extra copies.
        times: usize,
    },
    /// Overwrite the bytes at `at` (length fields, counts, magic numbers).
    Overwrite {
        /// Offset.
        at: usize,
        /// New bytes.
        bytes: Vec<u8>,
    },
}

fn short_hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 16 { "…" } else { "" };
    format!("{} bytes [{}{more}]", bytes.len(), shown.join(" "))
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutation::Truncate { len } => write!(f, "truncate to {len} bytes"),
            Mutation::FlipBits { at, mask } => write!(f, "xor byte {at} with {mask:#04x}"),
            Mutation::Insert { at, bytes } => write!(f, "insert {} at {at}", short_hex(bytes)),
            Mutation::Delete { at, len } => write!(f, "delete {len} bytes at {at}"),
            Mutation::Duplicate { at, len, times } => write!(f, "repeat the {len} bytes at {at} {times} more time(s)"),
            Mutation::Overwrite { at, bytes } => write!(f, "overwrite at {at} with {}", short_hex(bytes)),
        }
    }
}

impl Mutation {
    /// Applies the edit in place.
    pub fn apply(&self, data: &mut Vec<u8>) {
        let clamp = |at: usize| at.min(data.len());
        match self {
            Mutation::Truncate { len } => data.truncate(*len),
            Mutation::FlipBits { at, mask } => {
                if let Some(b) = data.get_mut(*at) {
                    *b ^= mask;
                }
            }
            Mutation::Insert { at, bytes } => {
                let at = clamp(*at);
                data.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let at = clamp(*at);
                let end = at.saturating_add(*len).min(data.len());
                data.drain(at..end);
            }
            Mutation::Duplicate { at, len, times } => {
                let at = clamp(*at);
                let end = at.saturating_add(*len).min(data.len());
                let run = data[at..end].to_vec();
                let copies: Vec<u8> = run.iter().copied().cycle().take(run.len() * times).collect();
                data.splice(end..end, copies);
            }
            Mutation::Overwrite { at, bytes } => {
                let at = clamp(*at);
                let end = at.saturating_add(bytes.len()).min(data.len());
                data[at..end].copy_from_slice(&bytes[..end - at]);
            }
        }
    }
}

/// An offset in `0..=len`, drawn from the first [`HEADER_SPAN`] bytes with probability
/// [`HEADER_BIAS`].
fn offset(rng: &mut impl Rng, len: usize) -> usize {
    let span = if rng.random_bool(HEADER_BIAS) {
        len.min(HEADER_SPAN)
    } else {
        len
    };
    rng.random_range(0..=span)
}

/// A little- or big-endian extreme value of 2 or 4 bytes.
fn extreme_value(rng: &mut impl Rng) -> Vec<u8> {
    let big_endian = rng.random_bool(0.25);
    if rng.random_bool(0.5) {
        let v = INTERESTING_U16[rng.random_range(0..INTERESTING_U16.len())];
        if big_endian {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    } else {
        let v = INTERESTING_U32[rng.random_range(0..INTERESTING_U32.len())];
        if big_endian {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    }
}

/// One random format-agnostic mutation of a buffer of `len` bytes.
pub fn random_mutation(rng: &mut impl Rng, len: usize) -> Mutation {
    let at = offset(rng, len);
    let run = |rng: &mut dyn rand::RngCore, cap: usize| rng.random_range(1..=cap.max(1));
    match rng.random_range(0..100) {
        0..15 => Mutation::Truncate { len: at },
        15..40 => Mutation::FlipBits {
            at: at.min(len.saturating_sub(1)),
            mask: 1 << rng.random_range(0..8) | if rng.random_bool(0.2) { rng.random() } else { 0 },
        },
        40..50 => {
            let bytes = if rng.random_bool(0.5) {
                (0..run(rng, 64)).map(|_| rng.random()).collect()
            } else {
                vec![rng.random(); run(rng, 4096)]
            };
            Mutation::Insert { at, bytes }
        }
        50..60 => {
            let cap = if rng.random_bool(0.8) { 64 } else { len / 2 };
            Mutation::Delete { at, len: run(rng, cap) }
        }
        60..70 => Mutation::Duplicate {
            at,
            len: run(rng, 256),
            times: run(rng, 4),
        },
        _ => Mutation::Overwrite {
            at,
            bytes: extreme_value(rng),
        },
    }
}

/// Applies between 1 and `max` random mutations to `data`; returns their descriptions.
pub fn random_mutations(rng: &mut impl Rng, data: &mut Vec<u8>, max: usize) -> Vec<String> {
    (0..rng.random_range(1..=max.max(1)))
        .map(|_| {
            let m = random_mutation(rng, data.len());
            m.apply(data);
            m.to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_clamp_to_the_buffer() {
        let mut data = b"abcdef".to_vec();
        Mutation::Overwrite {
            at: 4,
            bytes: vec![b'X'; 5],
        }
        .apply(&mut data);
        assert_eq!(data, b"abcdXX");
        Mutation::Duplicate {
            at: 1,
            len: 2,
            times: 2,
        }
        .apply(&mut data);
        assert_eq!(data, b"abcbcbcdXX");
        Mutation::Delete { at: 8, len: 100 }.apply(&mut data);
        assert_eq!(data, b"abcbcbcd");
        Mutation::Insert {
            at: 100,
            bytes: b"!".to_vec(),
        }
        .apply(&mut data);
        assert_eq!(data, b"abcbcbcd!");
        Mutation::FlipBits { at: 0, mask: 0x20 }.apply(&mut data);
        Mutation::Truncate { len: 3 }.apply(&mut data);
        assert_eq!(data, b"Abc");
        Mutation::FlipBits { at: 99, mask: 1 }.apply(&mut data);
        assert_eq!(data, b"Abc");
    }
}
