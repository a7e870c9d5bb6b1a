//! Pixel decoding (any supported transfer syntax) and the mapping of stored values to the
//! i16 output grid.

use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;

use super::header::ImageHeader;

/// Linear map from real values (e.g. HU) to the i16 output: `real = out * slope + intercept`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputScale {
    /// Real units per output step.
    pub slope: f64,
    /// Real value of output 0.
    pub intercept: f64,
}

/// Range of stored values of one file together with its rescale.
#[derive(Debug, Clone, Copy)]
pub struct StoredRange {
    /// Rescale Slope of the file.
    pub slope: f64,
    /// Rescale Intercept of the file.
    pub intercept: f64,
    /// Lowest stored value (after sign handling and MONOCHROME1 inversion).
    pub lo: i64,
    /// Highest stored value.
    pub hi: i64,
}

impl StoredRange {
    fn real_range(&self) -> (f64, f64) {
        let a = self.lo as f64 * self.slope + self.intercept;
        let b = self.hi as f64 * self.slope + self.intercept;
        (a.min(b), a.max(b))
    }
}

fn fits_i16(lo: f64, hi: f64) -> bool {
    lo >= f64::from(i16::MIN) && hi <= f64::from(i16::MAX)
}

fn integral(x: f64) -> bool {
    x.fract() == 0.0
}

/// Chooses a lossless output scale, or `None` when the values cannot be held exactly in i16.
///
/// Preference: real values themselves (slope 1, intercept 0) when they are integers (or, for
/// CT, HU that round) and fit i16; else the files' common rescale when stored values fit i16.
pub fn lossless_scale(ranges: &[StoredRange], is_ct: bool) -> Option<OutputScale> {
    let (lo, hi) = ranges
        .iter()
        .map(StoredRange::real_range)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (a, b)| {
            (l.min(a), h.max(b))
        });
    let integer_real = ranges.iter().all(|r| integral(r.slope) && integral(r.intercept));
    if (integer_real || is_ct) && fits_i16(lo, hi) {
        return Some(OutputScale {
            slope: 1.0,
            intercept: 0.0,
        });
    }
    let first = ranges.first()?;
    let common = ranges
        .iter()
        .all(|r| r.slope == first.slope && r.intercept == first.intercept);
    let stored_fit = ranges.iter().all(|r| fits_i16(r.lo as f64, r.hi as f64));
    (common && stored_fit).then_some(OutputScale {
        slope: first.slope,
        intercept: first.intercept,
    })
}

/// Linear scale spreading real values `[lo, hi]` over the whole i16 range (lossy).
pub fn spread_scale(ranges: &[StoredRange]) -> OutputScale {
    let (lo, hi) = ranges
        .iter()
        .map(StoredRange::real_range)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (a, b)| {
            (l.min(a), h.max(b))
        });
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return OutputScale {
            slope: 1.0,
            intercept: if lo.is_finite() { lo } else { 0.0 },
        };
    }
    let slope = (hi - lo) / 65535.0;
    OutputScale {
        slope,
        intercept: lo + 32768.0 * slope,
    }
}

/// Decoded stored values of frames of one file.
pub struct DecodedFile<'a> {
    header: &'a ImageHeader,
    decoded: Vec<(u32, Vec<u8>)>,
}

/// Runs a third-party pixel decoder, turning a panic into an error: the decoders index their
/// buffers by the DICOM image size without checking it against the compressed stream, so a
/// file whose Rows/Columns disagree with its JPEG/RLE/JPEG 2000 data panics inside them.
fn contain_decoder_panic<T>(what: &str, decode: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        Err(format!(
            "cannot decode {what}: the compressed data does not match the image size in the header (corrupt file)"
        ))
    })
}

/// Transfer syntax UID of RLE Lossless.
const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
/// Bytes of the header that starts every RLE frame (segment count and 15 offsets).
const RLE_HEADER_BYTES: usize = 64;
/// Most segments an RLE frame may have (PS3.5 G.3.1).
const RLE_MAX_SEGMENTS: u32 = 15;

/// Checks the RLE header of `frame` before decoding: the decoder allocates one offset per
/// declared segment (up to 16 GiB for a corrupt count) and slices the header without bounds
/// checks.
fn check_rle_frame(obj: &DefaultDicomObject, frame: u32) -> Result<(), String> {
    let fragment = obj
        .element(dicom_dictionary_std::tags::PIXEL_DATA)
        .ok()
        .and_then(|e| e.fragments())
        .and_then(|fragments| fragments.get(frame as usize))
        .ok_or_else(|| format!("RLE pixel data has no fragment for frame {frame}"))?;
    let segments = fragment
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .filter(|&n| (1..=RLE_MAX_SEGMENTS).contains(&n) && fragment.len() >= RLE_HEADER_BYTES);
    match segments {
        Some(_) => Ok(()),
        None => Err(format!("RLE frame {frame} has a corrupt header (corrupt file)")),
    }
}

/// Decodes the listed frames of `obj` (native byte order, one buffer per frame).
pub fn decode_frames<'a>(
    obj: &DefaultDicomObject,
    header: &'a ImageHeader,
    frames: &[u32],
) -> Result<DecodedFile<'a>, String> {
    let frame_bytes = header.rows as usize * header.columns as usize * (header.bits_allocated as usize / 8);
    use dicom_encoding::TransferSyntaxIndex;
    let encapsulated = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(obj.meta().transfer_syntax())
        .map(|ts| ts.is_encapsulated_pixel_data())
        .unwrap_or(true);
    let check = |data: &[u8], frame: u32| -> Result<Vec<u8>, String> {
        data.get(..frame_bytes).map(<[u8]>::to_vec).ok_or_else(|| {
            format!(
                "pixel data of frame {frame} has {} bytes, {frame_bytes} expected (truncated?)",
                data.len()
            )
        })
    };
    let mut decoded = Vec::with_capacity(frames.len());
    if encapsulated {
        let rle = obj.meta().transfer_syntax().trim_end_matches('\0') == RLE_LOSSLESS;
        for &f in frames {
            if rle {
                check_rle_frame(obj, f)?;
            }
            let d = contain_decoder_panic(&format!("frame {f}"), || {
                obj.decode_pixel_data_frame(f)
                    .map_err(|e| format!("cannot decode frame {f}: {e}"))
            })?;
            decoded.push((f, check(d.data(), f)?));
        }
    } else {
        // Native pixel data: decode once (per-frame decoding would copy the whole element
        // for every frame).
        let d = contain_decoder_panic("pixel data", || {
            obj.decode_pixel_data()
                .map_err(|e| format!("cannot decode pixel data: {e}"))
        })?;
        for &f in frames {
            let data = d.frame_data(f).map_err(|e| format!("frame {f}: {e}"))?;
            decoded.push((f, check(data, f)?));
        }
    }
    Ok(DecodedFile { header, decoded })
}

impl DecodedFile<'_> {
    /// Stored value of every sample of `frame`: masked to Bits Stored, sign-extended when
    /// signed, MONOCHROME1 inverted so that higher means brighter (MONOCHROME2 semantics).
    fn stored_values(&self, index: usize) -> impl Iterator<Item = i64> + '_ {
        let h = self.header;
        let bytes = &self.decoded[index].1;
        let bits = u32::from(h.bits_stored);
        let mask: u64 = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
        let (lo, hi) = h.stored_range();
        let invert = h.photometric == "MONOCHROME1";
        let signed = h.signed;
        let width = h.bits_allocated as usize / 8;
        bytes.chunks_exact(width).map(move |c| {
            let raw: u64 = match width {
                1 => u64::from(c[0]),
                2 => u64::from(u16::from_ne_bytes([c[0], c[1]])),
                _ => u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])),
            } & mask;
            let v = if signed && bits < 64 && raw & (1u64 << (bits - 1)) != 0 {
                raw as i64 - (1i64 << bits)
            } else {
                raw as i64
            };
            if invert {
                lo + hi - v
            } else {
                v
            }
        })
    }

    /// Lowest and highest stored value over the decoded frames.
    pub fn stored_range(&self) -> (i64, i64) {
        (0..self.decoded.len())
            .flat_map(|i| self.stored_values(i))
            .fold((i64::MAX, i64::MIN), |(l, h), v| (l.min(v), h.max(v)))
    }

    /// Writes each decoded frame into its destination slice through `scale`
    /// (`out = round((stored * slope + intercept - scale.intercept) / scale.slope)`, clamped).
    ///
    /// `destinations` pairs frame numbers with rows×columns output slices.
    pub fn write_into(&self, destinations: Vec<(u32, &mut [i16])>, scale: OutputScale) {
        let h = self.header;
        let exact = h.rescale_slope == scale.slope && h.rescale_intercept == scale.intercept;
        let offset = h.rescale_intercept - scale.intercept;
        let integer_offset = scale.slope == 1.0 && h.rescale_slope == 1.0 && integral(offset);
        for (frame, dest) in destinations {
            let Some(index) = self.decoded.iter().position(|(f, _)| *f == frame) else {
                continue;
            };
            let values = self.stored_values(index);
            if exact {
                for (d, v) in dest.iter_mut().zip(values) {
                    *d = v.clamp(i16::MIN.into(), i16::MAX.into()) as i16;
                }
            } else if integer_offset {
                let offset = offset as i64;
                for (d, v) in dest.iter_mut().zip(values) {
                    *d = (v + offset).clamp(i16::MIN.into(), i16::MAX.into()) as i16;
                }
            } else {
                for (d, v) in dest.iter_mut().zip(values) {
                    let real = v as f64 * h.rescale_slope + h.rescale_intercept;
                    let out = ((real - scale.intercept) / scale.slope).round();
                    *d = out.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
                }
            }
        }
    }
}
