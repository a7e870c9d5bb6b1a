//! Dowels between separate parts that must keep their relative position.
//!
//! Candidate links are the closest point pairs between every two parts (within
//! `max_link_mm`), found with a [`SurfaceIndex`]. Links are then dropped from the longest down
//! while the parts stay connected (as far as the candidates connect them) and more than
//! `min_count` remain. Each kept link becomes a closed cylinder running `overlap_mm` into both parts.

use medprint_mesh::Mesh;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{check_geometry, positive, PrintError};
use crate::primitives::{cylinder, CYLINDER_SEGMENTS};
use crate::spatial::SurfaceIndex;
use crate::vector::{add, norm, scale, sub, widen, Vec3};

/// Parameters of [`place_dowels`] (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DowelOptions {
    /// Dowel diameter, mm.
    pub diameter_mm: f64,
    /// How far a dowel reaches into each part, mm.
    pub overlap_mm: f64,
    /// Parts farther apart than this are not linked, mm.
    pub max_link_mm: f64,
    /// Keep at least this many links (when that many candidates exist).
    pub min_count: usize,
}

impl Default for DowelOptions {
    /// 3 mm dowels reaching 2 mm into each part, links up to 40 mm, at least 1.
    fn default() -> Self {
        Self {
            diameter_mm: 3.0,
            overlap_mm: 2.0,
            max_link_mm: 40.0,
            min_count: 1,
        }
    }
}

/// One dowel: from a point on part `from_part` to the closest point on part `to_part` (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DowelLink {
    /// Index of the first part.
    pub from_part: usize,
    /// Index of the second part.
    pub to_part: usize,
    /// Surface point on the first part, mm.
    pub from: [f64; 3],
    /// Surface point on the second part, mm.
    pub to: [f64; 3],
    /// Gap bridged, mm.
    pub length_mm: f64,
}

/// What [`place_dowels`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DowelReport {
    /// Candidate links found (one per part pair within range).
    pub candidate_links: usize,
    /// Links kept, each with a dowel.
    pub links: Vec<DowelLink>,
    /// Groups of parts the kept links connect (1 = all parts held together).
    pub connected_groups: usize,
}

/// Closest point pair between two meshes: every vertex of `a` against `b`'s index, then the
/// best pair refined once from `b`'s side. `None` when farther than `max_mm`.
fn closest_pair(
    a: &Mesh,
    b_index: &SurfaceIndex<'_>,
    a_index: &SurfaceIndex<'_>,
    max_mm: f64,
) -> Option<(Vec3, Vec3, f64)> {
    let (pa, pb, _) = a
        .vertices
        .par_iter()
        .filter_map(|v| {
            let p = widen(*v);
            b_index.closest_point(p, max_mm).map(|(q, d)| (p, q, d))
        })
        .min_by(|x, y| x.2.total_cmp(&y.2))?;
    let (pa2, d2) = a_index.closest_point(pb, max_mm).unwrap_or((pa, norm(sub(pa, pb))));
    Some((pa2, pb, d2))
}

fn groups(n: usize, links: &[DowelLink]) -> usize {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut count = n;
    for l in links {
        let (a, b) = (find(&mut parent, l.from_part), find(&mut parent, l.to_part));
        if a != b {
            parent[a] = b;
            count -= 1;
        }
    }
    count
}

/// Dowels holding `parts` (each a closed mesh, mm) together; returns one closed cylinder per link.
pub fn place_dowels(parts: &[Mesh], options: &DowelOptions) -> Result<(Vec<Mesh>, DowelReport), PrintError> {
    for (n, p) in parts.iter().enumerate() {
        check_geometry(p, &format!("dowel part {n}"))?;
    }
    let radius = positive("diameter_mm", options.diameter_mm)? / 2.0;
    let overlap = positive("overlap_mm", options.overlap_mm)?;
    let max_link = positive("max_link_mm", options.max_link_mm)?;
    let indexes: Vec<SurfaceIndex<'_>> = parts.iter().map(SurfaceIndex::new).collect();
    let mut candidates = Vec::new();
    for i in 0..parts.len() {
        for j in i + 1..parts.len() {
            if let Some((from, to, length_mm)) = closest_pair(&parts[i], &indexes[j], &indexes[i], max_link) {
                candidates.push(DowelLink {
                    from_part: i,
                    to_part: j,
                    from,
                    to,
                    length_mm,
                });
            }
        }
    }
    candidates.sort_by(|a, b| b.length_mm.total_cmp(&a.length_mm));
    let target_groups = groups(parts.len(), &candidates);
    let mut kept = candidates.clone();
    let mut k = 0;
    while k < kept.len() {
        if kept.len() <= options.min_count {
            break;
        }
        let mut without = kept.clone();
        without.remove(k);
        if groups(parts.len(), &without) == target_groups {
            kept = without;
        } else {
            k += 1;
        }
    }
    let mut dowels = Vec::new();
    for link in &kept {
        let Some(dir) = crate::vector::normalized(sub(link.to, link.from)) else {
            continue; // Touching parts: nothing to bridge.
        };
        let start = sub(link.from, scale(dir, overlap));
        let end = add(link.to, scale(dir, overlap));
        if let Some(d) = cylinder(start, end, radius, CYLINDER_SEGMENTS) {
            dowels.push(d);
        }
    }
    let report = DowelReport {
        candidate_links: candidates.len(),
        connected_groups: groups(parts.len(), &kept),
        links: kept,
    };
    Ok((dowels, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::ellipsoid;
    use medprint_mesh::check_mesh;

    #[test]
    fn three_spheres_in_a_row_get_two_shortest_links() {
        let spheres: Vec<Mesh> = [0.0, 30.0, 70.0]
            .iter()
            .map(|&x| ellipsoid([x, 0.0, 0.0], [10.0; 3], 4).expect("sphere"))
            .collect();
        let options = DowelOptions {
            max_link_mm: 60.0,
            ..Default::default()
        };
        let (dowels, report) = place_dowels(&spheres, &options).expect("dowels");
        assert_eq!(report.candidate_links, 3);
        assert_eq!(report.links.len(), 2);
        assert_eq!(report.connected_groups, 1);
        let mut lengths: Vec<f64> = report.links.iter().map(|l| l.length_mm).collect();
        lengths.sort_by(f64::total_cmp);
        assert!(
            (lengths[0] - 10.0).abs() < 0.1 && (lengths[1] - 20.0).abs() < 0.1,
            "{lengths:?}"
        );
        for (dowel, link) in dowels.iter().zip(&report.links) {
            assert!(check_mesh(dowel).is_printable());
            // Both ends lie inside the parts they join.
            let (lo, hi) = dowel.bounds().expect("bounds");
            let (a, b) = (&spheres[link.from_part], &spheres[link.to_part]);
            let ends = [[f64::from(lo[0]) + 0.01, 0.0, 0.0], [f64::from(hi[0]) - 0.01, 0.0, 0.0]];
            assert!(SurfaceIndex::new(a).contains(ends[0]) || SurfaceIndex::new(a).contains(ends[1]));
            assert!(SurfaceIndex::new(b).contains(ends[0]) || SurfaceIndex::new(b).contains(ends[1]));
        }
        let with_min = DowelOptions {
            min_count: 3,
            ..options
        };
        assert_eq!(place_dowels(&spheres, &with_min).expect("dowels").1.links.len(), 3);
        assert!(place_dowels(&[Mesh::default()], &options).is_err());
        assert!(place_dowels(
            &spheres,
            &DowelOptions {
                diameter_mm: 0.0,
                ..options
            }
        )
        .is_err());
    }
}
