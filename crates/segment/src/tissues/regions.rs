//! Relabelling from the surroundings: tiny mislabelled regions, and voxels whose density is not
//! trustworthy (metal streaks).

use super::class::TissueClass;
use crate::components::face_neighbours;
use crate::components::{Components, Connectivity};
use crate::SegmentError;
use medprint_volume::Volume;
use rayon::prelude::*;

/// The most frequent label among `counts` (indexed by label value), ties to the lower value;
/// `None` when every count is 0.
fn most_common(counts: &[u64; 256]) -> Option<u8> {
    let (label, &count) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    (count > 0).then_some(label as u8)
}

/// Relabels every 6-connected region of a tissue class (labels 1..=8) smaller than `min_mm3`
/// (mm³) to the label most common among the voxels face-adjacent to it (0, outside, included).
/// Classes are processed in label order; regions with no neighbour (filling the grid) are kept.
/// Returns the number of voxels relabelled. Errors on a negative or non-finite limit.
pub fn fix_small_regions(labels: &mut Volume<u8>, min_mm3: f64) -> Result<u64, SegmentError> {
    if !min_mm3.is_finite() || min_mm3 < 0.0 {
        return Err(SegmentError::InvalidParameter {
            name: "min_mm3",
            value: min_mm3,
            reason: "must be finite and >= 0",
        });
    }
    let dims = labels.dims();
    let voxel_mm3 = labels.geometry.voxel_volume_mm3();
    let min_voxels = (min_mm3 / voxel_mm3).ceil() as u64;
    let mut relabelled = 0;
    let present = labels
        .data()
        .par_chunks(1 << 16)
        .map(|chunk| {
            let mut seen = [false; 256];
            chunk.iter().for_each(|&l| seen[usize::from(l)] = true);
            seen
        })
        .reduce(|| [false; 256], |a, b| std::array::from_fn(|k| a[k] || b[k]));
    for class in TissueClass::ALL.into_iter().filter(|c| present[usize::from(c.label())]) {
        let value = class.label();
        let data = labels.data();
        let mask: Vec<u8> = data.par_iter().map(|&l| u8::from(l == value)).collect();
        let comps = Components::label(&mask, dims, true, Connectivity::Face3d)?;
        let small: Vec<bool> = comps.sizes.iter().map(|&s| s < min_voxels).collect();
        if !small.iter().any(|&s| s) {
            continue;
        }
        let mut votes = vec![[0u64; 256]; comps.count()];
        comps.for_each_run(|c, start, len| {
            if small[c] {
                for i in start..start + len {
                    for j in face_neighbours(i, dims) {
                        if data[j] != value {
                            votes[c][usize::from(data[j])] += 1;
                        }
                    }
                }
            }
        });
        let target: Vec<Option<u8>> = votes.iter().map(most_common).collect();
        let out = labels.data_mut();
        comps.for_each_run(|c, start, len| {
            if let (true, Some(t)) = (small[c], target[c]) {
                out[start..start + len].fill(t);
                relabelled += len as u64;
            }
        });
    }
    Ok(relabelled)
}

/// Gives every voxel of `labels` equal to `unknown` the label most common among its known face
/// neighbours, in rounds (each round reads the previous one, so the result does not depend on
/// the order), from the border of the unknown region inwards. Neighbours labelled 0 (outside)
/// vote only where no tissue neighbour is known. Voxels never reached get `fallback`.
/// Returns the number of voxels relabelled.
pub(crate) fn relabel_from_surroundings(labels: &mut [u8], dims: [usize; 3], unknown: u8, fallback: u8) -> u64 {
    const CHUNK: usize = 1 << 16;
    let mut pending: Vec<usize> = labels
        .par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(|(c, chunk)| {
            let found: Vec<usize> = if chunk.contains(&unknown) {
                (0..chunk.len())
                    .filter(|&k| chunk[k] == unknown)
                    .map(|k| c * CHUNK + k)
                    .collect()
            } else {
                Vec::new()
            };
            found
        })
        .collect();
    let total = pending.len() as u64;
    while !pending.is_empty() {
        let snapshot: &[u8] = labels;
        let decided: Vec<(usize, Option<u8>)> = pending
            .par_iter()
            .map(|&i| {
                let mut counts = [0u64; 256];
                let mut outside = 0u64;
                for j in face_neighbours(i, dims) {
                    match snapshot[j] {
                        l if l == unknown => {}
                        0 => outside += 1,
                        l => counts[usize::from(l)] += 1,
                    }
                }
                if counts.iter().all(|&c| c == 0) && outside > 0 {
                    counts[0] = outside;
                }
                (i, most_common(&counts))
            })
            .collect();
        let mut still = Vec::new();
        for (i, label) in decided {
            match label {
                Some(l) => labels[i] = l,
                None => still.push(i),
            }
        }
        if still.len() == pending.len() {
            for &i in &still {
                labels[i] = fallback;
            }
            break;
        }
        pending = still;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_volume::Geometry;

    #[test]
    fn lone_voxel_takes_its_surroundings() {
        let dims = [5, 5, 5];
        let mut data = vec![TissueClass::SoftTissue.label(); 125];
        data[62] = TissueClass::Lung.label();
        let mut labels = Volume::from_vec(dims, data, Geometry::default()).expect("grid");
        let changed = fix_small_regions(&mut labels, 2.0).expect("fix");
        assert_eq!(changed, 1);
        assert!(labels.data().iter().all(|&l| l == TissueClass::SoftTissue.label()));
        assert!(fix_small_regions(&mut labels, f64::NAN).is_err());
    }

    #[test]
    fn unknown_block_fills_from_border() {
        let dims = [6, 1, 1];
        let mut labels = vec![3, 9, 9, 9, 9, 6];
        let n = relabel_from_surroundings(&mut labels, dims, 9, 6);
        assert_eq!(n, 4);
        assert_eq!(labels, vec![3, 3, 3, 6, 6, 6]);
    }
}
