//! Logistic bone probability (seed §2.2): a soft threshold instead of a hard one.

use medprint_volume::Volume;

/// Per-voxel bone probability `p = 1 / (1 + exp(−(v − threshold_hu) / width_hu))` scaled to
/// `0..=255` (rounded), so `≥ 128` ⇔ `v ≥ threshold_hu` and `p(threshold ± width) ≈ 0.73 / 0.27`.
/// `width_hu <= 0` (or not finite) gives a hard step (0 or 255). Uses a 65 536-entry lookup table.
pub fn logistic_probability(v: &Volume<i16>, threshold_hu: f32, width_hu: f32) -> Volume<u8> {
    let lut: Vec<u8> = (i16::MIN..=i16::MAX)
        .map(|x| {
            let d = f32::from(x) - threshold_hu;
            if !(width_hu.is_finite() && width_hu > 0.0) {
                return if d >= 0.0 { 255 } else { 0 };
            }
            let p = 1.0 / (1.0 + (-d / width_hu).exp());
            // Exactly at the threshold p = 0.5 → 127.5 → 128; keep the 128 boundary exact.
            let q = (255.0 * p).round().clamp(0.0, 255.0) as u8;
            if d >= 0.0 {
                q.max(128)
            } else {
                q.min(127)
            }
        })
        .collect();
    v.map(|&x| lut[(i32::from(x) - i32::from(i16::MIN)) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_volume::Geometry;

    #[test]
    fn probability_is_monotonic_and_centred() {
        let v = Volume::from_vec([5, 1, 1], vec![-1000i16, 99, 100, 101, 3000], Geometry::default()).expect("shape");
        let p = logistic_probability(&v, 100.0, 20.0);
        assert_eq!(p.data()[0], 0);
        // 1 HU below: p = 1 / (1 + e^0.05) ≈ 0.4875 → 124.
        assert_eq!(p.data()[1], 124);
        assert_eq!(p.data()[2], 128);
        assert!(p.data()[3] >= 128);
        assert_eq!(p.data()[4], 255);
        let step = logistic_probability(&v, 100.0, 0.0);
        assert_eq!(step.data(), &[0, 0, 255, 255, 255]);
    }
}
