//! Touching-bone separation: distance map, significant maxima as markers, watershed flooding.
//!
//! Flooding runs from the highest distance down (the priority order of a watershed on −distance,
//! made by one parallel sort). Every regional maximum starts a basin; when the flood joins two
//! basins at a saddle, the lower one is merged into the higher one unless it is a marker: its
//! peak rises at least `min_depth_mm` above the saddle and lies at least `min_separation_mm`
//! from the other peak. This merging by dynamics is the watershed with h-maxima markers
//! (h = `min_depth_mm`) computed in one pass; voxels take the basin of their highest neighbour.

use crate::components::face_neighbours;
use crate::evaluate::distance::distance_transform_mm;
use crate::SegmentError;
use medprint_volume::Volume;
use rayon::prelude::*;

/// Parameters (mm) of the touching-bone separation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeparationParams {
    /// A maximum of the distance map (mm to the background) is a marker only when it rises at
    /// least this much (mm) above the saddle joining it to a higher one: the neck must be this
    /// much thinner (in radius) than the thinner of the two bones.
    pub min_depth_mm: f64,
    /// … and when its peak is at least this far (mm) from that higher peak.
    pub min_separation_mm: f64,
    /// Depth as a fraction of the lower peak, whichever of this and `min_depth_mm` is larger:
    /// thick bones need proportionally deep necks.
    pub min_depth_fraction: f64,
}

impl Default for SeparationParams {
    fn default() -> Self {
        Self {
            min_depth_mm: 2.0,
            min_separation_mm: 8.0,
            min_depth_fraction: 0.3,
        }
    }
}

/// Individual bones of a mask.
#[derive(Debug, Clone)]
pub struct BoneInstances {
    /// Instance per voxel: 0 background, 1..=count the instances.
    pub labels: Volume<u16>,
    /// Number of instances.
    pub count: usize,
    /// Volume (mm³) of instance `i + 1` at index `i`.
    pub volume_mm3: Vec<f64>,
}

/// A basin of the flooding: its peak height (mm) and position (voxel index).
#[derive(Debug, Clone, Copy)]
struct Basin {
    peak_mm: f32,
    peak_index: usize,
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[parent[i as usize] as usize];
        parent[i as usize] = p;
        i = p;
    }
    i
}

/// Splits the bones of `mask` (nonzero = bone) into instances: separate components stay
/// separate, and touching bones are split at the necks between significant maxima of the
/// distance map (see the module doc). Errors: empty grid, invalid parameters, more than 65535
/// instances.
pub fn separate_touching_bones(mask: &Volume<u8>, params: &SeparationParams) -> Result<BoneInstances, SegmentError> {
    let dims = mask.dims();
    if mask.is_empty() {
        return Err(SegmentError::EmptyVolume { dims });
    }
    let checks = [
        ("min_depth_mm", params.min_depth_mm),
        ("min_separation_mm", params.min_separation_mm),
        ("min_depth_fraction", params.min_depth_fraction),
    ];
    for (name, value) in checks {
        if !value.is_finite() || value < 0.0 {
            return Err(SegmentError::InvalidParameter {
                name,
                value,
                reason: "must be finite and >= 0",
            });
        }
    }
    if mask.len() > u32::MAX as usize - 1 {
        return Err(SegmentError::TooLarge { dims });
    }
    let spacing = mask.geometry.spacing;
    let data = mask.data();
    let background: Vec<u8> = data.par_iter().map(|&m| u8::from(m == 0)).collect();
    let mut depth = distance_transform_mm(&background, dims, spacing);
    drop(background);
    // A mask filling the grid has no background: measure depth to the grid border instead.
    let [nx, ny, _] = dims;
    if depth.first().is_some_and(|d| d.is_infinite()) {
        depth.par_iter_mut().enumerate().for_each(|(i, d)| {
            let ijk = [i % nx, (i / nx) % ny, i / (nx * ny)];
            let to_border = (0..3)
                .map(|a| (ijk[a].min(dims[a] - 1 - ijk[a]) as f64 + 1.0) * spacing[a])
                .fold(f64::INFINITY, f64::min);
            *d = to_border as f32;
        });
    }
    let mut order: Vec<(f32, u32)> = depth
        .par_iter()
        .enumerate()
        .filter(|(i, _)| data[*i] != 0)
        .map(|(i, &d)| (d, i as u32))
        .collect();
    order.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

    const NONE: u32 = u32::MAX;
    let mut basin_of = vec![NONE; data.len()];
    let mut basins: Vec<Basin> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    let position = |i: usize| {
        let ijk = [i % nx, (i / nx) % ny, i / (nx * ny)];
        [0, 1, 2].map(|a| ijk[a] as f64 * spacing[a])
    };
    let significant = |lower: &Basin, higher: &Basin, saddle: f32| {
        let (p, q) = (position(lower.peak_index), position(higher.peak_index));
        let apart = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
        let needed = params
            .min_depth_mm
            .max(params.min_depth_fraction * f64::from(lower.peak_mm));
        f64::from(lower.peak_mm - saddle) >= needed && apart >= params.min_separation_mm
    };
    let mut neighbour_roots: Vec<u32> = Vec::with_capacity(6);
    for &(d, i) in &order {
        let i = i as usize;
        let neighbours = face_neighbours(i, dims);
        // The labelled neighbour of highest depth gives the voxel its basin.
        let mut steepest: Option<(f32, u32)> = None;
        neighbour_roots.clear();
        for j in neighbours {
            let b = basin_of[j];
            if b == NONE {
                continue;
            }
            let root = find(&mut parent, b);
            if !neighbour_roots.contains(&root) {
                neighbour_roots.push(root);
            }
            if steepest.is_none_or(|(sd, _)| depth[j] > sd) {
                steepest = Some((depth[j], root));
            }
        }
        let Some((_, mut own)) = steepest else {
            basin_of[i] = basins.len() as u32;
            parent.push(basins.len() as u32);
            basins.push(Basin {
                peak_mm: d,
                peak_index: i,
            });
            continue;
        };
        // Merge insignificant basins meeting at this saddle, lowest peaks first.
        neighbour_roots.sort_by(|&a, &b| basins[a as usize].peak_mm.total_cmp(&basins[b as usize].peak_mm));
        for k in 0..neighbour_roots.len() {
            let low = find(&mut parent, neighbour_roots[k]);
            // The highest other basin still distinct from `low`.
            let high = neighbour_roots
                .iter()
                .map(|&r| find(&mut parent, r))
                .filter(|&r| r != low)
                .max_by(|&a, &b| basins[a as usize].peak_mm.total_cmp(&basins[b as usize].peak_mm));
            let Some(high) = high else { continue };
            let (lb, hb) = (basins[low as usize], basins[high as usize]);
            if lb.peak_mm <= hb.peak_mm && !significant(&lb, &hb, d) {
                parent[low as usize] = high;
            }
        }
        own = find(&mut parent, own);
        basin_of[i] = own;
    }

    // Compact the surviving basins into instance numbers.
    let mut instance_of_root = vec![0u16; basins.len()];
    let mut count = 0usize;
    let mut voxels: Vec<u64> = Vec::new();
    for b in 0..basins.len() as u32 {
        let root = find(&mut parent, b) as usize;
        if instance_of_root[root] == 0 {
            if count == u16::MAX as usize {
                return Err(SegmentError::TooLarge { dims });
            }
            count += 1;
            instance_of_root[root] = count as u16;
            voxels.push(0);
        }
    }
    let root_of: Vec<u32> = (0..basins.len() as u32).map(|b| find(&mut parent, b)).collect();
    let labels: Vec<u16> = basin_of
        .par_iter()
        .map(|&b| {
            if b == NONE {
                0
            } else {
                instance_of_root[root_of[b as usize] as usize]
            }
        })
        .collect();
    for &l in &labels {
        if l != 0 {
            voxels[usize::from(l) - 1] += 1;
        }
    }
    let voxel_mm3 = mask.geometry.voxel_volume_mm3();
    let volume_mm3 = voxels.iter().map(|&v| v as f64 * voxel_mm3).collect();
    let labels = Volume::from_vec(dims, labels, mask.geometry).map_err(|_| SegmentError::SizeMismatch {
        left: mask.len(),
        right: mask.len(),
    })?;
    Ok(BoneInstances {
        labels,
        count,
        volume_mm3,
    })
}
