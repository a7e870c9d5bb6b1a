//! The distance transform is exact: it matches brute force on random anisotropic masks.

use medprint_segment::evaluate::distance_transform_mm;

/// Deterministic xorshift generator (no external randomness needed).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn brute_force(mask: &[u8], dims: [usize; 3], spacing: [f64; 3]) -> Vec<f32> {
    let coords = |i: usize| [i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1])];
    let features: Vec<[usize; 3]> = (0..mask.len()).filter(|&i| mask[i] != 0).map(coords).collect();
    (0..mask.len())
        .map(|i| {
            let p = coords(i);
            features
                .iter()
                .map(|f| {
                    (0..3)
                        .map(|a| ((p[a] as f64 - f[a] as f64) * spacing[a]).powi(2))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt() as f32
        })
        .collect()
}

#[test]
fn edt_matches_brute_force_on_random_anisotropic_masks() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let cases = [
        ([7, 5, 6], [0.7, 1.3, 2.5], 20),
        ([9, 8, 4], [1.0, 1.0, 3.0], 60),
        ([4, 11, 7], [2.0, 0.5, 0.9], 3),
        ([13, 1, 1], [0.3, 1.0, 1.0], 4),
        ([6, 6, 6], [1.1, 1.7, 0.6], 200),
    ];
    for (dims, spacing, per_mille_sparsity) in cases {
        for _ in 0..4 {
            let n = dims.iter().product();
            let mask: Vec<u8> = (0..n)
                .map(|_| u8::from(rng.next() % 1000 < per_mille_sparsity))
                .collect();
            let fast = distance_transform_mm(&mask, dims, spacing);
            let slow = brute_force(&mask, dims, spacing);
            for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
                let ok = (f.is_infinite() && s.is_infinite()) || (f - s).abs() <= 1e-4 * s.max(1.0);
                assert!(
                    ok,
                    "dims {dims:?} spacing {spacing:?} voxel {i}: EDT {f} vs brute force {s}"
                );
            }
        }
    }
}

#[test]
fn edt_of_an_empty_mask_is_infinite_and_of_a_full_mask_zero() {
    let dims = [3, 4, 5];
    assert!(distance_transform_mm(&[0; 60], dims, [1.0; 3])
        .iter()
        .all(|d| d.is_infinite()));
    assert!(distance_transform_mm(&[1; 60], dims, [1.0; 3])
        .iter()
        .all(|&d| d == 0.0));
}
