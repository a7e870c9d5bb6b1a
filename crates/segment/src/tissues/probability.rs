//! Per-class probabilities (0..=255) from density windows with soft (logistic) edges.

use rayon::prelude::*;

/// Probability (0..=1) that density `hu` lies in `lo..=hi` (HU), with logistic edges of width
/// `width_hu` (HU): 0.5 exactly on an edge.
pub fn window_probability(hu: f32, lo: f32, hi: f32, width_hu: f32) -> f32 {
    let rise = 1.0 / (1.0 + (-(hu - lo) / width_hu).exp());
    let fall = 1.0 / (1.0 + (-(hi - hu) / width_hu).exp());
    rise * fall
}

/// Map 0..=255 of [`window_probability`] over `hu`, 0 where `region` is 0. One table entry per
/// possible i16 density is computed first, so the per-voxel pass is a lookup.
pub fn window_map(hu: &[i16], region: &[u8], lo: f32, hi: f32, width_hu: f32) -> Vec<u8> {
    let table: Vec<u8> = (i16::MIN..=i16::MAX)
        .map(|v| (window_probability(f32::from(v), lo, hi, width_hu) * 255.0).round() as u8)
        .collect();
    hu.par_iter()
        .zip(region)
        .map(|(&v, &r)| {
            if r == 0 {
                0
            } else {
                table[(i32::from(v) - i32::from(i16::MIN)) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_edges_are_half() {
        assert!((window_probability(-190.0, -190.0, -30.0, 10.0) - 0.5).abs() < 1e-3);
        assert!(window_probability(-110.0, -190.0, -30.0, 10.0) > 0.99);
        assert!(window_probability(40.0, -190.0, -30.0, 10.0) < 0.01);
        let map = window_map(&[-100, -100, i16::MIN, i16::MAX], &[1, 0, 1, 1], -190.0, -30.0, 10.0);
        assert_eq!(map, vec![255, 0, 0, 0]);
    }
}
