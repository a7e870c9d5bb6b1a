//! Automatic bone threshold from the intensity histogram (programmatic threshold, seed §2.3).
//!
//! Steps: smooth the histogram; find the soft-tissue/water peak (the tissue next to bone in
//! intensity); find the inflection point on its high side as the zero crossing of the second
//! derivative; `offset = inflection − peak`; `threshold = peak + 3 × offset`. The result is
//! checked against a sane window per scan and bone type; on failure a documented default is
//! used and `note` says why.

use crate::histogram::Histogram;
use serde::Serialize;

/// Imaging modality chosen by the user (the scan type of the method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScanType {
    /// X-ray computed tomography, values in HU.
    Ct,
    /// Magnetic resonance: arbitrary units, no HU calibration.
    Mr,
    /// Positron emission tomography.
    Pt,
    /// Nuclear medicine / SPECT.
    Nm,
}

/// Kind of bone to segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BoneType {
    /// Mineralised adult bone; calcified cartilage is excluded.
    Hard,
    /// Less mineralised bone (children, osteoporosis); calcified cartilage may be included.
    Soft,
}

/// How a threshold was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ThresholdMethod {
    /// Peak + 3 × (inflection − peak) of the smoothed histogram.
    HistogramInflection,
    /// The documented default for the scan and bone type (estimation failed or unsupported).
    DefaultForScanType,
    /// Given by the user.
    UserOverride,
}

/// A bone threshold and how it was derived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdEstimate {
    /// Threshold in HU (scanner units for non-CT scans).
    pub threshold_hu: f32,
    /// How it was derived.
    pub method: ThresholdMethod,
    /// Soft-tissue peak (HU), when found.
    pub peak_hu: Option<f32>,
    /// Inflection point on the high side of the peak (HU), when found.
    pub inflection_hu: Option<f32>,
    /// `inflection − peak` (HU), when found.
    pub offset_hu: Option<f32>,
    /// Human-readable explanation (why a default or clamp was used).
    pub note: String,
}

/// Smoothing of the histogram before differentiation (HU); suppresses count noise.
pub const HISTOGRAM_SMOOTHING_HU: f64 = 6.0;
/// Window (HU) where the CT soft-tissue/water peak is searched (water 0, muscle/organs 30–60).
pub const CT_SOFT_TISSUE_PEAK_WINDOW_HU: (f32, f32) = (-40.0, 120.0);
/// Peak height over the lowest smoothed count within 150 HU above it needed for a prominent peak.
pub const MIN_PEAK_PROMINENCE: f64 = 3.0;
/// Fraction of voxels in the fat range (−200..−50 HU) below which a histogram is not a CT in HU.
pub const MIN_FAT_FRACTION: f64 = 0.01;
/// Multiple of the peak-to-inflection offset added to the peak (seed §2.3 step 4).
pub const INFLECTION_MULTIPLE: f32 = 3.0;
/// Sane CT hard-bone range (HU). Below 120 HU calcified costal cartilage (≈ 100–110 HU) and
/// partial-volume soft tissue would be taken as bone, so lower estimates are raised to 120.
pub const CT_HARD_RANGE_HU: (f32, f32) = (120.0, 400.0);
/// Sane CT soft-bone range (HU): poorly mineralised bone starts just above soft tissue.
pub const CT_SOFT_RANGE_HU: (f32, f32) = (80.0, 300.0);
/// Default CT hard-bone threshold (HU): between partial-volumed cancellous bone and cartilage.
pub const CT_HARD_DEFAULT_HU: f32 = 150.0;
/// Default CT soft-bone threshold (HU).
pub const CT_SOFT_DEFAULT_HU: f32 = 100.0;
/// Percentile of the histogram used as threshold for scans without HU calibration (MR, PET,
/// SPECT): only a starting point for manual review.
pub const UNCALIBRATED_PERCENTILE: f64 = 0.95;

/// Estimates the bone threshold of a scan from its histogram (ideally of body voxels only).
pub fn estimate_bone_threshold(h: &Histogram, scan: ScanType, bone: BoneType) -> ThresholdEstimate {
    if scan != ScanType::Ct {
        let t = percentile(h, UNCALIBRATED_PERCENTILE).unwrap_or(0.0);
        return ThresholdEstimate {
            threshold_hu: t,
            method: ThresholdMethod::DefaultForScanType,
            peak_hu: None,
            inflection_hu: None,
            offset_hu: None,
            note: format!(
                "{scan:?} has no Hounsfield calibration: threshold set to the {:.0}th percentile ({t:.0}); bone threshold \
                 segmentation is unreliable here, review needed",
                UNCALIBRATED_PERCENTILE * 100.0
            ),
        };
    }
    let (range, default) = match bone {
        BoneType::Hard => (CT_HARD_RANGE_HU, CT_HARD_DEFAULT_HU),
        BoneType::Soft => (CT_SOFT_RANGE_HU, CT_SOFT_DEFAULT_HU),
    };
    let fallback = |note: String, peak: Option<f32>, inflection: Option<f32>| ThresholdEstimate {
        threshold_hu: default,
        method: ThresholdMethod::DefaultForScanType,
        peak_hu: peak,
        inflection_hu: inflection,
        offset_hu: peak.zip(inflection).map(|(p, i)| i - p),
        note: format!("{note}; default {default} HU for CT {bone:?} bone used"),
    };
    let total = h.total();
    if total == 0 {
        return fallback("empty histogram".into(), None, None);
    }
    let fat: u64 = (h.bin_of_hu(-200.0)..=h.bin_of_hu(-50.0)).map(|i| h.counts[i]).sum();
    let fat_fraction = fat as f64 / total as f64;
    if fat_fraction < MIN_FAT_FRACTION {
        return fallback(
            format!(
                "only {:.2} % of voxels in the fat range (−200..−50 HU): not a CT histogram in HU?",
                fat_fraction * 100.0
            ),
            None,
            None,
        );
    }
    let s = h.smoothed(HISTOGRAM_SMOOTHING_HU);
    let (lo, hi) = (
        h.bin_of_hu(CT_SOFT_TISSUE_PEAK_WINDOW_HU.0),
        h.bin_of_hu(CT_SOFT_TISSUE_PEAK_WINDOW_HU.1),
    );
    let Some(peak) = (lo..=hi).max_by(|&a, &b| s[a].total_cmp(&s[b])) else {
        return fallback("no soft-tissue window in the histogram".into(), None, None);
    };
    let peak_hu = h.hu_of_bin(peak);
    if peak == lo || peak == hi {
        return fallback(
            format!(
                "no soft-tissue peak inside {CT_SOFT_TISSUE_PEAK_WINDOW_HU:?} HU (maximum at the edge, {peak_hu} HU)"
            ),
            None,
            None,
        );
    }
    let above = (peak..(peak + 150).min(s.len()))
        .map(|i| s[i])
        .fold(f64::INFINITY, f64::min);
    let prominence = s[peak] / above.max(1e-9);
    if prominence < MIN_PEAK_PROMINENCE {
        return fallback(
            format!(
                "soft-tissue peak at {peak_hu} HU is not prominent (ratio {prominence:.2} < {MIN_PEAK_PROMINENCE})"
            ),
            Some(peak_hu),
            None,
        );
    }
    let d2 = |i: usize| s[i + 1] - 2.0 * s[i] + s[i - 1];
    let end = (peak + 150).min(s.len() - 1);
    let crossing = (peak + 1..end).find(|&i| d2(i) < 0.0 && d2(i + 1) >= 0.0);
    let Some(i) = crossing else {
        return fallback(
            format!("no inflection point within 150 HU above the peak at {peak_hu} HU"),
            Some(peak_hu),
            None,
        );
    };
    let (a, b) = (d2(i), d2(i + 1));
    let inflection_hu = h.hu_of_bin(i) + (a / (a - b)) as f32;
    let offset = inflection_hu - peak_hu;
    let estimate = peak_hu + INFLECTION_MULTIPLE * offset;
    let found = |threshold_hu: f32, note: String| ThresholdEstimate {
        threshold_hu,
        method: ThresholdMethod::HistogramInflection,
        peak_hu: Some(peak_hu),
        inflection_hu: Some(inflection_hu),
        offset_hu: Some(offset),
        note,
    };
    if estimate > range.1 {
        return fallback(
            format!("estimate {estimate:.0} HU above the sane range {range:?} HU"),
            Some(peak_hu),
            Some(inflection_hu),
        );
    }
    if estimate < range.0 {
        return found(
            range.0,
            format!(
                "estimate {estimate:.0} HU (peak {peak_hu:.0} + 3 × {offset:.1}) raised to the CT {bone:?}-bone floor {} HU",
                range.0
            ),
        );
    }
    found(estimate, format!("peak {peak_hu:.0} HU + 3 × offset {offset:.1} HU"))
}

/// Value (HU) below which a fraction `q` of the counted voxels lie; `None` when empty.
fn percentile(h: &Histogram, q: f64) -> Option<f32> {
    let total = h.total();
    if total == 0 {
        return None;
    }
    let target = (q * total as f64).ceil().max(1.0) as u64;
    let mut acc = 0;
    h.counts
        .iter()
        .position(|&c| {
            acc += c;
            acc >= target
        })
        .map(|i| h.hu_of_bin(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Histogram of Gaussian tissue peaks `(centre HU, sigma HU, voxels)`.
    fn synthetic(peaks: &[(f64, f64, f64)]) -> Histogram {
        let min_hu = -1024;
        let counts = (0..4096)
            .map(|i| {
                let x = f64::from(min_hu + i);
                peaks
                    .iter()
                    .map(|&(c, s, n)| {
                        n / (s * (2.0 * std::f64::consts::PI).sqrt()) * (-(x - c).powi(2) / (2.0 * s * s)).exp()
                    })
                    .sum::<f64>()
                    .round() as u64
            })
            .collect();
        Histogram { min_hu, counts }
    }

    #[test]
    fn gaussian_peak_gives_peak_plus_three_sigma() {
        // A Gaussian's inflection lies at peak + σ; smoothing by 6 HU widens σ to √(σ²+36).
        let sigma = 30.0;
        let h = synthetic(&[
            (-1000.0, 10.0, 3e6),
            (-100.0, 20.0, 2e6),
            (40.0, sigma, 4e6),
            (700.0, 200.0, 2e5),
        ]);
        let e = estimate_bone_threshold(&h, ScanType::Ct, BoneType::Hard);
        let eff = (sigma * sigma + HISTOGRAM_SMOOTHING_HU * HISTOGRAM_SMOOTHING_HU).sqrt() as f32;
        assert_eq!(e.method, ThresholdMethod::HistogramInflection, "{}", e.note);
        assert!((e.peak_hu.expect("peak") - 40.0).abs() <= 1.0);
        assert!((e.offset_hu.expect("offset") - eff).abs() < 2.0, "{e:?}");
        assert!((e.threshold_hu - (40.0 + 3.0 * eff)).abs() < 6.0, "{e:?}");
    }

    #[test]
    fn narrow_peak_is_raised_to_hard_floor_but_not_for_soft() {
        // σ_eff = √(20² + 6²) ≈ 20.9 HU → estimate ≈ 40 + 3 × 20.9 ≈ 103 HU.
        let h = synthetic(&[(-100.0, 20.0, 2e6), (40.0, 20.0, 4e6)]);
        let hard = estimate_bone_threshold(&h, ScanType::Ct, BoneType::Hard);
        assert_eq!(hard.threshold_hu, CT_HARD_RANGE_HU.0);
        assert!(hard.note.contains("raised"), "{}", hard.note);
        let soft = estimate_bone_threshold(&h, ScanType::Ct, BoneType::Soft);
        assert_eq!(soft.method, ThresholdMethod::HistogramInflection);
        assert!(soft.threshold_hu > 98.0 && soft.threshold_hu < 108.0, "{soft:?}");
    }

    #[test]
    fn flat_histogram_falls_back_with_note() {
        let h = Histogram {
            min_hu: -1024,
            counts: vec![100; 4096],
        };
        let e = estimate_bone_threshold(&h, ScanType::Ct, BoneType::Hard);
        assert_eq!(e.method, ThresholdMethod::DefaultForScanType);
        assert_eq!(e.threshold_hu, CT_HARD_DEFAULT_HU);
        assert!(
            e.note.contains("not prominent") || e.note.contains("edge"),
            "{}",
            e.note
        );
    }

    #[test]
    fn histogram_without_fat_is_not_ct() {
        let h = synthetic(&[(10.0, 20.0, 1e6), (300.0, 100.0, 1e6)]);
        let e = estimate_bone_threshold(&h, ScanType::Ct, BoneType::Hard);
        assert_eq!(e.method, ThresholdMethod::DefaultForScanType);
        assert!(e.note.contains("fat"), "{}", e.note);
    }

    #[test]
    fn very_wide_peak_above_range_falls_back() {
        let h = synthetic(&[(-100.0, 20.0, 2e6), (60.0, 150.0, 4e6)]);
        let e = estimate_bone_threshold(&h, ScanType::Ct, BoneType::Hard);
        assert_eq!(e.method, ThresholdMethod::DefaultForScanType, "{e:?}");
    }

    #[test]
    fn non_ct_uses_percentile_and_empty_is_default() {
        let h = Histogram {
            min_hu: 0,
            counts: vec![1; 100],
        };
        let e = estimate_bone_threshold(&h, ScanType::Mr, BoneType::Hard);
        assert_eq!(e.method, ThresholdMethod::DefaultForScanType);
        assert_eq!(e.threshold_hu, 94.0);
        let empty = Histogram {
            min_hu: -1024,
            counts: vec![0; 4096],
        };
        assert_eq!(
            estimate_bone_threshold(&empty, ScanType::Ct, BoneType::Hard).threshold_hu,
            CT_HARD_DEFAULT_HU
        );
    }
}
