//! Where a DICOM file's bytes come from (a path on disk or an in-memory archive entry) and
//! how to open it, with or without the 128-byte preamble and file meta group.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;

use super::lengths::{check_declared_lengths, Encoding};

/// Bytes of the preamble that precedes the `DICM` magic in a standard DICOM file.
const PREAMBLE_LEN: usize = 128;
const MAGIC: &[u8; 4] = b"DICM";

/// One candidate DICOM file.
#[derive(Debug, Clone)]
pub enum DicomSource {
    /// A file on disk.
    Path(PathBuf),
    /// An archive entry already read into memory.
    Memory {
        /// Entry name (for messages).
        name: String,
        /// Entry contents.
        bytes: Arc<[u8]>,
    },
}

/// How much of a file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadExtent {
    /// Every element before Pixel Data (cheap; for grouping and sorting).
    Header,
    /// The whole data set including pixel data.
    Full,
}

/// Layout of the start of a file, detected from its first 132 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 128-byte preamble, `DICM`, file meta group.
    Standard,
    /// `DICM` and file meta group without preamble.
    NoPreamble,
    /// Bare implicit-VR little-endian data set (old ACR-NEMA style files).
    BareDataSet,
}

impl DicomSource {
    /// Human-readable name used in every message about this file.
    pub fn display_name(&self) -> String {
        match self {
            DicomSource::Path(p) => p.display().to_string(),
            DicomSource::Memory { name, .. } => name.clone(),
        }
    }

    /// Size of the file or entry in bytes.
    pub fn byte_len(&self) -> Result<u64, String> {
        match self {
            DicomSource::Path(p) => std::fs::metadata(p)
                .map(|m| m.len())
                .map_err(|e| format!("cannot read: {e}")),
            DicomSource::Memory { bytes, .. } => Ok(bytes.len() as u64),
        }
    }

    fn head(&self) -> Result<Vec<u8>, String> {
        match self {
            DicomSource::Path(p) => {
                let file = File::open(p).map_err(|e| format!("cannot open: {e}"))?;
                let mut head = Vec::with_capacity(PREAMBLE_LEN + 4);
                file.take((PREAMBLE_LEN + 4) as u64)
                    .read_to_end(&mut head)
                    .map_err(|e| format!("cannot read: {e}"))?;
                Ok(head)
            }
            DicomSource::Memory { bytes, .. } => Ok(bytes[..bytes.len().min(PREAMBLE_LEN + 4)].to_vec()),
        }
    }

    fn layout(&self) -> Result<Layout, String> {
        let head = self.head()?;
        if head.is_empty() {
            return Err("empty file (0 bytes)".into());
        }
        if head.len() >= PREAMBLE_LEN + 4 && &head[PREAMBLE_LEN..PREAMBLE_LEN + 4] == MAGIC {
            return Ok(Layout::Standard);
        }
        if head.starts_with(MAGIC) {
            return Ok(Layout::NoPreamble);
        }
        // A bare data set starts with a group-0008 element (Identifying group) in
        // implicit little endian: group 0x0008, then an element number, then a 4-byte length.
        if head.len() >= 8 && head[0] == 0x08 && head[1] == 0x00 {
            return Ok(Layout::BareDataSet);
        }
        Err("not a DICOM file (no DICM magic and no recognisable data set)".into())
    }

    /// Opens the file, reading only the header or everything.
    ///
    /// Errors are plain messages (the caller adds the file name).
    pub fn open(&self, extent: ReadExtent) -> Result<DefaultDicomObject, String> {
        let layout = self.layout()?;
        self.check_lengths(layout)?;
        let options = || {
            let o = OpenFileOptions::new();
            match extent {
                ReadExtent::Header => o.read_until(tags::PIXEL_DATA),
                ReadExtent::Full => o.read_all(),
            }
        };
        let parsed = match (layout, self) {
            (Layout::Standard, DicomSource::Path(p)) => options().read_preamble(ReadPreamble::Always).open_file(p),
            (Layout::NoPreamble, DicomSource::Path(p)) => options().read_preamble(ReadPreamble::Never).open_file(p),
            (Layout::Standard, DicomSource::Memory { bytes, .. }) => options()
                .read_preamble(ReadPreamble::Never)
                .from_reader(&bytes[PREAMBLE_LEN..]),
            (Layout::NoPreamble, DicomSource::Memory { bytes, .. }) => {
                options().read_preamble(ReadPreamble::Never).from_reader(&bytes[..])
            }
            (Layout::BareDataSet, _) => return self.open_bare_data_set(),
        };
        parsed.map_err(|e| format!("not a readable DICOM file (truncated or corrupt): {e}"))
    }

    /// Refuses declared value lengths that run past the end of the file, before the parser
    /// reserves memory for them (see [`check_declared_lengths`]).
    fn check_lengths(&self, layout: Layout) -> Result<(), String> {
        let (start, encoding) = match layout {
            Layout::Standard => ((PREAMBLE_LEN + MAGIC.len()) as u64, Encoding::EXPLICIT_LE),
            Layout::NoPreamble => (MAGIC.len() as u64, Encoding::EXPLICIT_LE),
            Layout::BareDataSet => (0, Encoding::IMPLICIT_LE),
        };
        match self {
            DicomSource::Path(p) => {
                let file = File::open(p).map_err(|e| format!("cannot open: {e}"))?;
                let end = file.metadata().map_err(|e| format!("cannot read: {e}"))?.len();
                let mut reader = BufReader::new(file);
                reader
                    .seek(SeekFrom::Start(start))
                    .map_err(|e| format!("cannot read: {e}"))?;
                check_declared_lengths(reader, start, end, encoding)
            }
            DicomSource::Memory { bytes, .. } => {
                let mut reader = Cursor::new(&bytes[..]);
                reader.set_position(start);
                check_declared_lengths(reader, start, bytes.len() as u64, encoding)
            }
        }
    }

    /// Reads a data set without file meta group as implicit VR little endian and gives it a
    /// synthetic meta group so that pixel decoding can proceed.
    fn open_bare_data_set(&self) -> Result<DefaultDicomObject, String> {
        let ts = IMPLICIT_VR_LITTLE_ENDIAN.erased();
        let parsed = match self {
            DicomSource::Path(p) => {
                let file = File::open(p).map_err(|e| format!("cannot open: {e}"))?;
                InMemDicomObject::read_dataset_with_ts(BufReader::new(file), &ts)
            }
            DicomSource::Memory { bytes, .. } => InMemDicomObject::read_dataset_with_ts(&bytes[..], &ts),
        };
        let mut obj = parsed.map_err(|e| format!("not a DICOM file (bare data set unreadable: {e})"))?;
        // ACR-NEMA files predate these attributes; they are greyscale by definition.
        if obj.get(tags::PHOTOMETRIC_INTERPRETATION).is_none() {
            obj.put(DataElement::new(
                tags::PHOTOMETRIC_INTERPRETATION,
                VR::CS,
                PrimitiveValue::from("MONOCHROME2"),
            ));
        }
        if obj.get(tags::SAMPLES_PER_PIXEL).is_none() {
            obj.put(DataElement::new(
                tags::SAMPLES_PER_PIXEL,
                VR::US,
                PrimitiveValue::from(1u16),
            ));
        }
        let text = |tag| {
            obj.get(tag)
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
                .filter(|s| !s.is_empty())
        };
        let class = text(tags::SOP_CLASS_UID).unwrap_or_else(|| uids::SECONDARY_CAPTURE_IMAGE_STORAGE.to_string());
        let instance = text(tags::SOP_INSTANCE_UID).unwrap_or_else(|| "2.25.0".to_string());
        let meta = FileMetaTableBuilder::new()
            .media_storage_sop_class_uid(class)
            .media_storage_sop_instance_uid(instance)
            .transfer_syntax(IMPLICIT_VR_LITTLE_ENDIAN.uid());
        obj.with_meta(meta)
            .map_err(|e| format!("cannot build file meta group: {e}"))
    }
}
