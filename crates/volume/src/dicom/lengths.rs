//! A walk over the element headers of a DICOM file, before it is parsed, that refuses value
//! lengths running past the end of the file.
//!
//! The DICOM parser reserves and zero-fills each value's declared length before reading it,
//! so without this check a few hostile bytes (one length field set to 2³² − 2) make it
//! allocate and touch up to 4 GiB. Only lengths are checked; everything else is left to the
//! parser. Values are skipped by seeking, so the walk reads element headers only.

use std::io::{self, Read, Seek, SeekFrom};

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use flate2::read::DeflateDecoder;

/// Length field value meaning "undefined length" (delimited).
const UNDEFINED_LENGTH: u32 = u32::MAX;
/// Group of item and delimitation tags (no VR, 4-byte length in every transfer syntax).
const DELIMITER_GROUP: u16 = 0xFFFE;
const ITEM: u16 = 0xE000;
const SEQUENCE_END: u16 = 0xE0DD;
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const META_GROUP: u16 = 0x0002;
const TRANSFER_SYNTAX: (u16, u16) = (0x0002, 0x0010);
/// Explicit VRs whose length field has 2 bytes; every other VR, unknown ones included (read
/// as UN, as the parser does), has 2 reserved bytes and a 4-byte length.
const SHORT_VRS: [VR; 21] = [
    VR::AE,
    VR::AS,
    VR::AT,
    VR::CS,
    VR::DA,
    VR::DS,
    VR::DT,
    VR::FL,
    VR::FD,
    VR::IS,
    VR::LO,
    VR::LT,
    VR::PN,
    VR::SH,
    VR::SL,
    VR::SS,
    VR::ST,
    VR::TM,
    VR::UI,
    VR::UL,
    VR::US,
];
const IMPLICIT_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2";
const EXPLICIT_BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// How element headers are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// VR written in each element header.
    pub explicit_vr: bool,
    /// Big-endian numbers.
    pub big_endian: bool,
}

impl Encoding {
    /// Explicit VR little endian (the file meta group, and every compressed transfer syntax).
    pub const EXPLICIT_LE: Encoding = Encoding {
        explicit_vr: true,
        big_endian: false,
    };
    /// Implicit VR little endian (bare ACR-NEMA-style data sets).
    pub const IMPLICIT_LE: Encoding = Encoding {
        explicit_vr: false,
        big_endian: false,
    };

    /// Encoding of a data set in transfer syntax `uid`; `None` for deflated data sets (explicit
    /// VR little endian once inflated).
    fn of_transfer_syntax(uid: &str) -> Option<Encoding> {
        match uid.trim_end_matches(['\0', ' ']) {
            IMPLICIT_LITTLE_ENDIAN => Some(Encoding::IMPLICIT_LE),
            EXPLICIT_BIG_ENDIAN => Some(Encoding {
                explicit_vr: true,
                big_endian: true,
            }),
            DEFLATED => None,
            _ => Some(Encoding::EXPLICIT_LE),
        }
    }
}

/// An undefined-length value being walked, closed by a sequence delimitation item.
enum Open {
    /// A sequence (or an undefined-length UN read as one); `outer` is restored at its end.
    Sequence { outer: Encoding },
    /// Encapsulated pixel data: its items are compressed fragments, skipped by length.
    Fragments,
}

struct Walker<R> {
    reader: R,
    pos: u64,
    end: u64,
}

impl<R: Read + Seek> Walker<R> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.reader.read_exact(&mut b)?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u16(&mut self, enc: Encoding) -> io::Result<u16> {
        let b = self.bytes::<2>()?;
        Ok(if enc.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self, enc: Encoding) -> io::Result<u32> {
        let b = self.bytes::<4>()?;
        Ok(if enc.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Skips a value of `len` bytes, refusing one that runs past the end.
    fn skip(&mut self, tag: (u16, u16), len: u32) -> Result<(), String> {
        let remaining = self.end - self.pos;
        if u64::from(len) > remaining {
            return Err(format!(
                "element ({:04X},{:04X}) declares a {len}-byte value but only {remaining} bytes remain; the file is truncated or corrupt",
                tag.0, tag.1
            ));
        }
        self.reader
            .seek(SeekFrom::Current(i64::from(len)))
            .map_err(|e| format!("cannot read: {e}"))?;
        self.pos += u64::from(len);
        Ok(())
    }
}

/// Largest expansion of a deflated data set that is walked (inflated bytes per compressed
/// byte, with 1 MiB allowed for any file); the parser would hold all of it in memory.
const DEFLATE_MAX_RATIO: u64 = 64;

/// Inflates the deflated data set starting at `at` (within the limit) and walks it.
fn check_deflated<R: Read + Seek>(reader: &mut R, at: u64, end: u64) -> Result<(), String> {
    reader
        .seek(SeekFrom::Start(at))
        .map_err(|e| format!("cannot read: {e}"))?;
    let compressed = end - at;
    let limit = compressed.saturating_mul(DEFLATE_MAX_RATIO).max(1 << 20);
    let mut inflated = Vec::new();
    // A corrupt stream stops early: what inflated so far is what the parser would see.
    let _ = DeflateDecoder::new(reader.take(compressed))
        .take(limit + 1)
        .read_to_end(&mut inflated);
    if inflated.len() as u64 > limit {
        return Err(format!(
            "the deflated data set expands more than {DEFLATE_MAX_RATIO}-fold; refused as a decompression bomb"
        ));
    }
    let len = inflated.len() as u64;
    check_declared_lengths(io::Cursor::new(inflated), 0, len, Encoding::EXPLICIT_LE)
}

fn is_sequence_in_dictionary(tag: (u16, u16)) -> bool {
    StandardDataDictionary
        .by_tag(Tag(tag.0, tag.1))
        .is_some_and(|e| e.vr() == VirtualVr::Exact(VR::SQ))
}

/// Walks the elements from the reader's current position (`start`) to `end` (file length)
/// and fails when a declared value length runs past `end`.
///
/// `encoding` is that of the first element: [`Encoding::EXPLICIT_LE`] for a file meta group
/// (the data set's encoding is then taken from its Transfer Syntax UID), or the data set's
/// own. A file that ends inside an element header is left to the parser to report.
pub fn check_declared_lengths<R: Read + Seek>(
    reader: R,
    start: u64,
    end: u64,
    encoding: Encoding,
) -> Result<(), String> {
    let mut w = Walker {
        reader,
        pos: start,
        end,
    };
    let mut enc = encoding;
    let mut in_meta = true;
    let mut dataset_encoding = Some(encoding);
    let mut open: Vec<Open> = Vec::new();
    let truncated_header = |e: io::Error| -> Result<(), String> {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => Ok(()),
            _ => Err(format!("cannot read: {e}")),
        }
    };
    while w.end - w.pos >= 8 {
        let at = w.pos;
        let tag = match (w.u16(enc), w.u16(enc)) {
            (Ok(g), Ok(e)) => (g, e),
            (Err(e), _) | (_, Err(e)) => return truncated_header(e),
        };
        if in_meta && tag.0 != META_GROUP {
            in_meta = false;
            let Some(dataset) = dataset_encoding else {
                return check_deflated(&mut w.reader, at, w.end);
            };
            if dataset != enc {
                enc = dataset;
                w.reader
                    .seek(SeekFrom::Start(at))
                    .map_err(|e| format!("cannot read: {e}"))?;
                w.pos = at;
                continue;
            }
        }
        if tag.0 == DELIMITER_GROUP {
            let len = match w.u32(enc) {
                Ok(len) => len,
                Err(e) => return truncated_header(e),
            };
            match tag.1 {
                ITEM if matches!(open.last(), Some(Open::Fragments)) => w.skip(tag, len)?,
                SEQUENCE_END => {
                    if let Some(Open::Sequence { outer }) = open.pop() {
                        enc = outer;
                    }
                }
                // Items of a sequence and item delimiters: walk on into the item.
                _ => {}
            }
            continue;
        }
        let (vr, len) = if enc.explicit_vr {
            let vr = match w.bytes::<2>() {
                Ok(raw) => VR::from_binary(raw).unwrap_or(VR::UN),
                Err(e) => return truncated_header(e),
            };
            let len = if SHORT_VRS.contains(&vr) {
                w.u16(enc).map(u32::from)
            } else {
                w.u16(enc).and_then(|_| w.u32(enc))
            };
            (Some(vr), len)
        } else {
            (None, w.u32(enc))
        };
        let len = match len {
            Ok(len) => len,
            Err(e) => return truncated_header(e),
        };
        let sequence = match vr {
            Some(vr) => vr == VR::SQ,
            None => is_sequence_in_dictionary(tag),
        };
        if len == UNDEFINED_LENGTH {
            if tag == PIXEL_DATA && !sequence {
                open.push(Open::Fragments);
            } else {
                open.push(Open::Sequence { outer: enc });
                if vr == Some(VR::UN) {
                    // An undefined-length UN holds an implicit VR little-endian sequence.
                    enc = Encoding::IMPLICIT_LE;
                }
            }
            continue;
        }
        if sequence {
            // A defined-length sequence: walk its items in place.
            continue;
        }
        if in_meta && tag == TRANSFER_SYNTAX && len <= 64 {
            let mut uid = vec![0u8; len as usize];
            if let Err(e) = w.reader.read_exact(&mut uid) {
                return truncated_header(e);
            }
            w.pos += u64::from(len);
            dataset_encoding = Encoding::of_transfer_syntax(&String::from_utf8_lossy(&uid));
            continue;
        }
        w.skip(tag, len)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Explicit VR LE element with a short length field.
    fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(group.to_le_bytes());
        b.extend(element.to_le_bytes());
        b.extend(vr);
        b.extend((value.len() as u16).to_le_bytes());
        b.extend(value);
        b
    }

    fn long_header(group: u16, element: u16, vr: &[u8; 2], len: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(group.to_le_bytes());
        b.extend(element.to_le_bytes());
        b.extend(vr);
        b.extend([0, 0]);
        b.extend(len.to_le_bytes());
        b
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        check_declared_lengths(Cursor::new(bytes), 0, bytes.len() as u64, Encoding::EXPLICIT_LE)
    }

    #[test]
    fn consistent_lengths_pass_and_a_length_past_the_end_fails() {
        let mut file = short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
        file.extend(short(0x0028, 0x0010, b"US", &4u16.to_le_bytes()));
        let mut good = file.clone();
        good.extend(long_header(0x7FE0, 0x0010, b"OW", 8));
        good.extend([0u8; 8]);
        assert_eq!(check(&good), Ok(()));

        // An unknown VR is read as UN, with a 4-byte length: here 0x7FE0_3030, taken from the
        // value and the next tag.
        let mut unknown_vr = file.clone();
        unknown_vr.extend(short(0x0028, 0x2110, b"BS", b"00"));
        unknown_vr.extend(&good[file.len()..]);
        let err = check(&unknown_vr).expect_err("unknown VR read as UN");
        assert!(err.contains("(0028,2110)"), "{err}");

        let mut hostile = file.clone();
        hostile.extend(long_header(0x0029, 0x1010, b"OB", 0xFFFF_FFFE));
        hostile.extend([0u8; 16]);
        let err = check(&hostile).expect_err("length past the end");
        assert!(err.contains("(0029,1010)") && err.contains("4294967294"), "{err}");
    }

    #[test]
    fn sequences_and_fragments_are_walked() {
        let mut file = short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.4.80\0");
        // Undefined-length sequence with one undefined-length item holding a short element.
        file.extend(long_header(0x5200, 0x9229, b"SQ", UNDEFINED_LENGTH));
        file.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        file.extend(short(0x0020, 0x0032, b"DS", b"0\\0\\0 "));
        file.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        file.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        // Encapsulated pixel data: empty offset table, one 6-byte fragment, delimiter.
        file.extend(long_header(0x7FE0, 0x0010, b"OB", UNDEFINED_LENGTH));
        file.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        file.extend([0xFE, 0xFF, 0x00, 0xE0, 6, 0, 0, 0]);
        file.extend([1u8; 6]);
        file.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(check(&file), Ok(()));
        // A fragment claiming more bytes than remain.
        let at = file.len() - 8 - 6 - 4;
        file[at..at + 4].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        assert!(check(&file).is_err());
    }
}
