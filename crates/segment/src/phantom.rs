//! Synthetic CT phantoms with exactly known bone, for tests and benchmarks.

use medprint_volume::{Geometry, Volume};
use rayon::prelude::*;

/// HU of the materials of [`ct_phantom`].
pub mod hu {
    /// Air.
    pub const AIR: f32 = -1000.0;
    /// Subcutaneous fat.
    pub const FAT: f32 = -100.0;
    /// Muscle / organs.
    pub const SOFT_TISSUE: f32 = 40.0;
    /// Cortical bone.
    pub const CORTEX: f32 = 1000.0;
    /// Cancellous bone / red marrow.
    pub const MARROW: f32 = 300.0;
    /// Table core (foam / carbon fibre).
    pub const TABLE_CORE: f32 = 200.0;
    /// Table shell.
    pub const TABLE_SHELL: f32 = 600.0;
}

/// A synthetic CT and its exact bone mask.
#[derive(Debug, Clone)]
pub struct Phantom {
    /// The scan (HU).
    pub scan: Volume<i16>,
    /// 1 where the phantom is bone (cortex or marrow).
    pub bone: Vec<u8>,
    /// 1 where the phantom is the table.
    pub table: Vec<u8>,
}

/// A torso-like CT of `dims` voxels of `spacing` mm: an elliptic body (fat rim, soft tissue)
/// with two long bones along z (1000 HU cortex ≥ 3 mm thick, 300 HU marrow) and a spherical bone,
/// a table (600 HU shell, 200 HU core) below the body (+y, posterior), air elsewhere, and
/// Gaussian noise of `noise_sigma_hu` (deterministic for a `seed`).
pub fn ct_phantom(dims: [usize; 3], spacing: [f64; 3], noise_sigma_hu: f32, seed: u64) -> Phantom {
    let fov = [0, 1, 2].map(|a| dims[a] as f64 * spacing[a]);
    let (cx, cy) = (fov[0] / 2.0, fov[1] * 0.42);
    let (ax, ay) = (fov[0] * 0.42, fov[1] * 0.32);
    let fat_mm = fov[0] * 0.04;
    let cortex_mm = 3.0f64.max(2.0 * spacing[0].max(spacing[1]));
    let bones = [(cx - ax * 0.45, cy, fov[0] * 0.09), (cx + ax * 0.45, cy, fov[0] * 0.07)];
    let sphere = ([cx, cy - ay * 0.45, fov[2] / 2.0], (fov[0] * 0.08).min(fov[2] * 0.35));
    let table_top = cy + ay + fov[1] * 0.04;
    let table_mm = fov[1] * 0.08;
    let shell_mm = table_mm * 0.25;
    let n = dims[0] * dims[1] * dims[2];
    let labels: Vec<(f32, u8, u8)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (x, y, z) = (i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1]));
            let p = [
                (x as f64 + 0.5) * spacing[0],
                (y as f64 + 0.5) * spacing[1],
                (z as f64 + 0.5) * spacing[2],
            ];
            let r_body = ((p[0] - cx) / ax).powi(2) + ((p[1] - cy) / ay).powi(2);
            if r_body > 1.0 {
                let in_table = p[1] >= table_top && p[1] <= table_top + table_mm && (p[0] - cx).abs() <= fov[0] * 0.45;
                if in_table {
                    let core = p[1] > table_top + shell_mm && p[1] < table_top + table_mm - shell_mm;
                    return (if core { hu::TABLE_CORE } else { hu::TABLE_SHELL }, 0, 1);
                }
                return (hu::AIR, 0, 0);
            }
            let mut bone_value = None;
            for &(bx, by, r) in &bones {
                let d = ((p[0] - bx).powi(2) + (p[1] - by).powi(2)).sqrt();
                if d <= r {
                    bone_value = Some(if d > r - cortex_mm { hu::CORTEX } else { hu::MARROW });
                }
            }
            let ds = (0..3).map(|a| (p[a] - sphere.0[a]).powi(2)).sum::<f64>().sqrt();
            if ds <= sphere.1 {
                bone_value = Some(if ds > sphere.1 - cortex_mm {
                    hu::CORTEX
                } else {
                    hu::MARROW
                });
            }
            if let Some(v) = bone_value {
                return (v, 1, 0);
            }
            let inner = ((p[0] - cx) / (ax - fat_mm)).powi(2) + ((p[1] - cy) / (ay - fat_mm)).powi(2);
            (if inner > 1.0 { hu::FAT } else { hu::SOFT_TISSUE }, 0, 0)
        })
        .collect();
    let data: Vec<i16> = labels
        .par_iter()
        .enumerate()
        .map(|(i, &(v, _, _))| {
            (v + noise_sigma_hu * gaussian_noise(seed, i as u64))
                .round()
                .clamp(-1024.0, 3071.0) as i16
        })
        .collect();
    let scan = Volume::from_vec(dims, data, Geometry::axis_aligned(spacing, [0.0; 3]))
        .unwrap_or_else(|_| unreachable!("n matches dims"));
    Phantom {
        scan,
        bone: labels.iter().map(|l| l.1).collect(),
        table: labels.iter().map(|l| l.2).collect(),
    }
}

/// Standard normal deviate from a counter-based hash (SplitMix64 + Box–Muller): reproducible
/// and parallel.
fn gaussian_noise(seed: u64, i: u64) -> f32 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let a = mix(seed ^ i.wrapping_mul(2));
    let b = mix(a ^ 0xD1B5_4A32_D192_ED03);
    let u1 = ((a >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let u2 = (b >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}
