//! Part-10 bytes in, Part-10 bytes out ([`crate::deidentify_bytes`]).
//!
//! Input is untrusted. Before dicom-rs builds the object, [`check_structure`] walks the element
//! headers of the raw bytes and rejects what would make the parser allocate or recurse without
//! bound: a defined length beyond the end of the input (dicom-rs reserves the declared length
//! before reading), and sequences nested deeper than [`MAX_DEPTH`].

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{tags, uids, StandardDataDictionary};
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, OpenFileOptions};

use crate::{deidentify, DeidError, DeidPolicy, DeidReport};

const PREAMBLE_LEN: usize = 128;
const MAGIC: &[u8; 4] = b"DICM";
const UNDEFINED: u32 = 0xFFFF_FFFF;
/// Deepest sequence nesting accepted (real objects rarely exceed 5).
pub const MAX_DEPTH: usize = 32;

const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_DELIMITER: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_DELIMITER: Tag = Tag(0xFFFE, 0xE0DD);

/// How the bytes start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 128-byte preamble, `DICM`, file meta group.
    Preamble,
    /// `DICM` and file meta group without preamble.
    NoPreamble,
    /// A bare implicit VR little endian data set (ACR-NEMA style, no meta group).
    BareDataSet,
}

fn layout(input: &[u8]) -> Result<Layout, DeidError> {
    if input.len() >= PREAMBLE_LEN + 4 && &input[PREAMBLE_LEN..PREAMBLE_LEN + 4] == MAGIC {
        return Ok(Layout::Preamble);
    }
    if input.starts_with(MAGIC) {
        return Ok(Layout::NoPreamble);
    }
    // A bare data set starts with an element of group 0008 in implicit little endian.
    if input.len() >= 8 && input[0] == 0x08 && input[1] == 0x00 {
        return Ok(Layout::BareDataSet);
    }
    if input.is_empty() {
        return Err(DeidError::NotDicom("empty input".into()));
    }
    Err(DeidError::NotDicom(
        "no DICM magic (with or without preamble) and no recognisable data set".into(),
    ))
}

/// Encoding of the data set, from the transfer syntax UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Encoding {
    explicit: bool,
    big_endian: bool,
}

fn encoding_of(ts: &str) -> Result<Encoding, DeidError> {
    match ts {
        "1.2.840.10008.1.2" => Ok(Encoding {
            explicit: false,
            big_endian: false,
        }),
        "1.2.840.10008.1.2.2" => Ok(Encoding {
            explicit: true,
            big_endian: true,
        }),
        "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" => Err(DeidError::Malformed(format!(
            "deflated transfer syntax {ts} is not supported"
        ))),
        _ if !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit() || b == b'.') => Ok(Encoding {
            explicit: true,
            big_endian: false,
        }),
        _ => Err(DeidError::Malformed("transfer syntax UID is not a UID".into())),
    }
}

/// One open container while walking.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// Elements (the top-level data set or one sequence item); `end` for defined lengths.
    DataSet { end: Option<usize>, item: bool },
    /// Items of a sequence.
    Sequence { end: Option<usize> },
    /// Fragments of encapsulated pixel data.
    Fragments,
}

struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
    enc: Encoding,
}

impl Walker<'_> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize, what: &str) -> Result<(), DeidError> {
        if self.remaining() < n {
            Err(DeidError::Truncated(format!(
                "{what} at byte {} needs {n} byte(s), {} left",
                self.pos,
                self.remaining()
            )))
        } else {
            Ok(())
        }
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = [self.data[at], self.data[at + 1]];
        if self.enc.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = [self.data[at], self.data[at + 1], self.data[at + 2], self.data[at + 3]];
        if self.enc.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn tag(&self) -> Result<Tag, DeidError> {
        self.need(4, "element tag")?;
        Ok(Tag(self.u16_at(self.pos), self.u16_at(self.pos + 2)))
    }

    /// Reads an item or delimiter header (tag and 4-byte length, no VR).
    fn item_header(&mut self) -> Result<(Tag, u32), DeidError> {
        self.need(8, "item header")?;
        let tag = self.tag()?;
        let len = self.u32_at(self.pos + 4);
        self.pos += 8;
        Ok((tag, len))
    }

    /// Reads a data element header: tag, VR (explicit, or from the dictionary) and length.
    fn element_header(&mut self) -> Result<(Tag, Option<VR>, u32), DeidError> {
        let tag = self.tag()?;
        if self.enc.explicit {
            self.need(8, "element header")?;
            let vr_bytes = [self.data[self.pos + 4], self.data[self.pos + 5]];
            let vr = VR::from_binary(vr_bytes).ok_or_else(|| {
                DeidError::Malformed(format!("invalid VR bytes for element {tag} at byte {}", self.pos))
            })?;
            let long = matches!(
                vr,
                VR::OB
                    | VR::OD
                    | VR::OF
                    | VR::OL
                    | VR::OV
                    | VR::OW
                    | VR::SQ
                    | VR::SV
                    | VR::UC
                    | VR::UN
                    | VR::UR
                    | VR::UT
                    | VR::UV
            );
            if long {
                self.need(12, "element header")?;
                let len = self.u32_at(self.pos + 8);
                self.pos += 12;
                Ok((tag, Some(vr), len))
            } else {
                let len = u32::from(self.u16_at(self.pos + 6));
                self.pos += 8;
                Ok((tag, Some(vr), len))
            }
        } else {
            self.need(8, "element header")?;
            let len = self.u32_at(self.pos + 4);
            self.pos += 8;
            let vr = match StandardDataDictionary.by_tag(tag).map(|e| e.vr()) {
                Some(VirtualVr::Exact(vr)) => Some(vr),
                _ => None,
            };
            Ok((tag, vr, len))
        }
    }

    /// Checks that `len` bytes follow and returns the end position.
    fn span(&self, tag: Tag, len: u32) -> Result<usize, DeidError> {
        let len = len as usize;
        if len > self.remaining() {
            return Err(DeidError::Truncated(format!(
                "element {tag} at byte {} declares {len} byte(s) but only {} remain",
                self.pos,
                self.remaining()
            )));
        }
        Ok(self.pos + len)
    }

    /// Walks the data set from the current position to the end of the input.
    fn walk(&mut self) -> Result<(), DeidError> {
        let mut stack = vec![Frame::DataSet { end: None, item: false }];
        loop {
            // Close the containers with a defined length that end here.
            while let Some(&frame) = stack.last() {
                let end = match frame {
                    Frame::DataSet { end: Some(end), .. } | Frame::Sequence { end: Some(end) } => end,
                    _ => break,
                };
                if self.pos > end {
                    return Err(DeidError::Malformed(format!(
                        "content overruns its container at byte {}",
                        self.pos
                    )));
                }
                if self.pos < end {
                    break;
                }
                stack.pop();
            }
            if stack.len() > 2 * MAX_DEPTH + 1 {
                return Err(DeidError::Malformed(format!(
                    "sequences nested deeper than {MAX_DEPTH}"
                )));
            }
            let Some(&frame) = stack.last() else {
                return Err(DeidError::Malformed(format!(
                    "content after the end of the data set at byte {}",
                    self.pos
                )));
            };
            if self.remaining() == 0 {
                return match frame {
                    Frame::DataSet { end: None, item: false } if stack.len() == 1 => Ok(()),
                    _ => Err(DeidError::Truncated("input ends inside a sequence".into())),
                };
            }
            match frame {
                Frame::Fragments => {
                    let (tag, len) = self.item_header()?;
                    match tag {
                        ITEM if len != UNDEFINED => self.pos = self.span(tag, len)?,
                        SEQUENCE_DELIMITER => {
                            stack.pop();
                        }
                        _ => {
                            return Err(DeidError::Malformed(format!(
                                "unexpected {tag} in encapsulated pixel data at byte {}",
                                self.pos
                            )))
                        }
                    }
                }
                Frame::Sequence { end } => {
                    let (tag, len) = self.item_header()?;
                    match tag {
                        ITEM if len == UNDEFINED => stack.push(Frame::DataSet { end: None, item: true }),
                        ITEM => {
                            let item_end = self.span(tag, len)?;
                            stack.push(Frame::DataSet {
                                end: Some(item_end),
                                item: true,
                            });
                        }
                        SEQUENCE_DELIMITER if end.is_none() => {
                            stack.pop();
                        }
                        _ => {
                            return Err(DeidError::Malformed(format!(
                                "unexpected {tag} in a sequence at byte {}",
                                self.pos
                            )))
                        }
                    }
                }
                Frame::DataSet { end, item } => {
                    let tag = self.tag()?;
                    if tag.0 == 0xFFFE {
                        let (tag, _) = self.item_header()?;
                        match tag {
                            ITEM_DELIMITER if item && end.is_none() => {
                                stack.pop();
                            }
                            // Stray delimiters are tolerated by readers; skip them.
                            ITEM_DELIMITER | SEQUENCE_DELIMITER => {}
                            _ => {
                                return Err(DeidError::Malformed(format!(
                                    "unexpected {tag} among data elements at byte {}",
                                    self.pos
                                )))
                            }
                        }
                        continue;
                    }
                    let (tag, vr, len) = self.element_header()?;
                    if len == UNDEFINED {
                        if tag == tags::PIXEL_DATA {
                            stack.push(Frame::Fragments);
                        } else {
                            // SQ, or UN / unknown with undefined length: a sequence.
                            stack.push(Frame::Sequence { end: None });
                        }
                    } else if vr == Some(VR::SQ) {
                        let seq_end = self.span(tag, len)?;
                        stack.push(Frame::Sequence { end: Some(seq_end) });
                    } else {
                        self.pos = self.span(tag, len)?;
                    }
                }
            }
        }
    }
}

/// Walks the element headers of a Part-10 stream (starting at `DICM`) or of a bare data set.
fn check_structure(data: &[u8], bare: bool) -> Result<(), DeidError> {
    if bare {
        let mut w = Walker {
            data,
            pos: 0,
            enc: Encoding {
                explicit: false,
                big_endian: false,
            },
        };
        return w.walk();
    }
    // File meta group: explicit VR little endian, group 0002.
    let mut w = Walker {
        data,
        pos: 4,
        enc: Encoding {
            explicit: true,
            big_endian: false,
        },
    };
    let mut ts = None;
    loop {
        if w.remaining() < 4 || w.tag()?.0 != 0x0002 {
            break;
        }
        let (tag, vr, len) = w.element_header()?;
        if len == UNDEFINED || vr == Some(VR::SQ) {
            return Err(DeidError::Malformed(format!(
                "file meta element {tag} has an undefined length"
            )));
        }
        let end = w.span(tag, len)?;
        if tag == tags::TRANSFER_SYNTAX_UID {
            let text = String::from_utf8_lossy(&data[w.pos..end]);
            ts = Some(text.trim_matches(|c: char| c == '\0' || c == ' ').to_string());
        }
        w.pos = end;
    }
    let ts = ts.ok_or_else(|| DeidError::Malformed("file meta group without Transfer Syntax UID".into()))?;
    w.enc = encoding_of(&ts)?;
    w.walk()
}

/// Whether an error chain was caused by running out of input.
fn is_eof(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        parts.push(err.to_string());
        cur = err.source();
    }
    parts.join(": ")
}

fn read_error(e: impl std::error::Error + 'static) -> DeidError {
    if is_eof(&e) {
        DeidError::Truncated(chain(&e))
    } else {
        DeidError::Malformed(chain(&e))
    }
}

/// Parses Part-10 bytes (with or without preamble) or a bare implicit VR little endian data set.
///
/// A bare data set gets a file meta group: implicit VR little endian, the data set's SOP Class
/// UID (Secondary Capture when it has none) and SOP Instance UID (when it has none, a UID
/// derived from the SHA-256 of the input; the data set itself is not changed).
pub fn parse(input: &[u8]) -> Result<DefaultDicomObject, DeidError> {
    let layout = layout(input)?;
    let start = if layout == Layout::Preamble { PREAMBLE_LEN } else { 0 };
    let data = &input[start..];
    check_structure(data, layout == Layout::BareDataSet)?;
    match layout {
        Layout::Preamble | Layout::NoPreamble => OpenFileOptions::new()
            .read_preamble(ReadPreamble::Never)
            .read_all()
            .from_reader(data)
            .map_err(read_error),
        Layout::BareDataSet => {
            // Give the data set a provisional meta group so that the ordinary reader takes it,
            // then fill in the real SOP Class and Instance UIDs.
            let provisional = FileMetaTableBuilder::new()
                .media_storage_sop_class_uid(uids::SECONDARY_CAPTURE_IMAGE_STORAGE)
                .media_storage_sop_instance_uid("2.25.0")
                .transfer_syntax(uids::IMPLICIT_VR_LITTLE_ENDIAN)
                .build()
                .map_err(|e| DeidError::Malformed(chain(&e)))?;
            let mut head = MAGIC.to_vec();
            provisional
                .write(&mut head)
                .map_err(|e| DeidError::Malformed(chain(&e)))?;
            let mut obj = OpenFileOptions::new()
                .read_preamble(ReadPreamble::Never)
                .read_all()
                .from_reader(std::io::Read::chain(&head[..], data))
                .map_err(read_error)?;
            let text = |tag| {
                obj.get(tag)
                    .and_then(|e| e.value().primitive())
                    .map(|p| p.to_str().trim_matches(|c: char| c == '\0' || c == ' ').to_string())
                    .filter(|s| !s.is_empty())
            };
            let class = text(tags::SOP_CLASS_UID);
            // Old ACR-NEMA files have no SOP Instance UID: name the file by its content.
            let instance = text(tags::SOP_INSTANCE_UID).unwrap_or_else(|| content_uid(input));
            let meta = obj.meta_mut();
            if let Some(class) = class {
                meta.media_storage_sop_class_uid = class;
            }
            meta.media_storage_sop_instance_uid = instance;
            meta.update_information_group_length();
            Ok(obj)
        }
    }
}

/// A UID for a file without one, derived from its bytes (`2.25.` and the first 128 bits of
/// their SHA-256), so that the same file always gets the same UID.
fn content_uid(input: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(input);
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    format!("{}{}", crate::uid::UID_ROOT, u128::from_be_bytes(first))
}

/// Serialises an object as Part-10 bytes (preamble, `DICM`, meta group, data set) in the
/// transfer syntax named by its meta group.
pub fn write(obj: &DefaultDicomObject) -> Result<Vec<u8>, DeidError> {
    let mut out = Vec::new();
    obj.write_all(&mut out).map_err(|e| DeidError::Write(chain(&e)))?;
    Ok(out)
}

pub(crate) fn deidentify_bytes(input: &[u8], policy: &DeidPolicy) -> Result<(Vec<u8>, DeidReport), DeidError> {
    // Last line of defence: a panic inside the reader on input that passed the header walk
    // becomes an error instead of taking the server down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut obj = parse(input)?;
        let report = deidentify(&mut obj, policy);
        let out = write(&obj)?;
        // What the server stores must read back.
        parse(&out).map_err(|e| DeidError::Write(format!("the written file does not read back: {e}")))?;
        Ok((out, report))
    }))
    .unwrap_or_else(|_| Err(DeidError::Malformed("the DICOM reader failed on this input".into())))
}
