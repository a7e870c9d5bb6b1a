//! Each printed structure encloses the volume of the segmentation it was made from.
//!
//! A surface shell is matched to the mask components it bounds by stepping a little inward
//! from each of its vertices and looking up the face-connected component of the voxel found
//! there. Shells and components joined that way form one *structure* (a bone whose voxels
//! touch only along an edge is two components but one shell; a bone with a cavity is one
//! component but two shells). The conditioning then brings the shells of each structure to the
//! structure's voxel volume, and [`MaskShellVolumes::check`] measures how close the final model
//! came.

use medprint_mesh::condition::ShellVolumeTargets;
use medprint_mesh::shells::split_shells;
use medprint_mesh::smooth::vertex_normals;
use medprint_mesh::{signed_volume_mm3, Mesh};
use medprint_segment::components::{Components, Connectivity};
use medprint_segment::SegmentError;
use medprint_volume::{Geometry, Volume};
use rayon::prelude::*;
use serde::Serialize;

/// Depths (in units of the smallest voxel spacing) at which a vertex's voxel is looked up,
/// inward along its normal, first hit wins.
const INWARD_STEPS: [f64; 3] = [0.5, 0.25, 0.9];

/// Besides the component most of a shell's vertices fall in, a component joins the shell's
/// structure with at least [`MIN_VOTES`] votes, or with at least this share of the shell's
/// matched vertices when those are also [`MIN_COMPONENT_SHARE`] of all the votes the
/// component gets: a few stray lookups from a small shell into a neighbouring bone (near
/// the scan's edge, where a cap is only half a voxel thick) then do not merge the two.
const MIN_VOTE_SHARE: f64 = 0.02;
/// See [`MIN_VOTE_SHARE`].
const MIN_VOTES: usize = 20;
/// See [`MIN_VOTE_SHARE`].
const MIN_COMPONENT_SHARE: f64 = 0.1;

/// The voxel volumes of a mask's components and a way to find which of them a shell bounds.
pub struct MaskShellVolumes {
    components: Components,
    geometry: Geometry,
    step_mm: f64,
    voxel_volume_mm3: f64,
}

/// How closely the shells of each structure enclose its voxel volume.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShellVolumeCheck {
    /// Structures (groups of shells and the mask components they bound) compared.
    pub structures: usize,
    /// Those within ±2 % of their voxel volume.
    pub within_2_percent: usize,
    /// Largest deviation of a structure's enclosed volume from its voxel volume, %.
    pub worst_percent: f64,
    /// Mean absolute deviation over the structures, %.
    pub mean_abs_percent: f64,
    /// Voxel volume of the structures compared, mm³.
    pub voxel_volume_mm3: f64,
    /// Mask components no shell bounds (specks dropped by conditioning), and their volume, mm³.
    pub components_without_shell: usize,
    /// See `components_without_shell`.
    pub volume_without_shell_mm3: f64,
}

/// Shells grouped into structures.
struct Structures {
    /// Structure of each shell (`None`: no component found under it).
    of_shell: Vec<Option<usize>>,
    /// Voxel volume of each structure, mm³.
    voxel_volume_mm3: Vec<f64>,
    /// Components that belong to no structure.
    unmatched: Vec<usize>,
}

impl MaskShellVolumes {
    /// Labels the face-connected components of `mask` (nonzero = inside).
    pub fn new(mask: &Volume<u8>) -> Result<Self, SegmentError> {
        let components = Components::label(mask.data(), mask.dims(), true, Connectivity::Face3d)?;
        let spacing = mask.geometry.spacing;
        Ok(Self {
            components,
            geometry: mask.geometry,
            step_mm: spacing.iter().copied().fold(f64::INFINITY, f64::min),
            voxel_volume_mm3: mask.geometry.voxel_volume_mm3(),
        })
    }

    /// Component under one surface point, looked up inward along its normal.
    fn component_under(&self, p: [f32; 3], n: [f32; 3]) -> Option<usize> {
        INWARD_STEPS.iter().find_map(|&depth| {
            let d = depth * self.step_mm;
            let q = [0, 1, 2].map(|a| f64::from(p[a]) - d * f64::from(n[a]));
            let ijk = self.geometry.patient_to_index(q).map(f64::round);
            if ijk.iter().any(|&c| !(0.0..(u32::MAX as f64)).contains(&c)) {
                return None;
            }
            self.components
                .component_at(ijk[0] as usize, ijk[1] as usize, ijk[2] as usize)
        })
    }

    /// Components under a shell's vertices, as (component, vertices) in component order.
    fn votes_of(&self, shell: &Mesh) -> Vec<(usize, usize)> {
        let normals = vertex_normals(shell);
        let mut votes: Vec<usize> = shell
            .vertices
            .iter()
            .zip(&normals)
            .filter_map(|(&p, &n)| self.component_under(p, n))
            .collect();
        votes.sort_unstable();
        votes.chunk_by(|a, b| a == b).map(|run| (run[0], run.len())).collect()
    }

    /// Components each shell bounds: its votes filtered by the rule of [`MIN_VOTE_SHARE`].
    fn components_of_shells(&self, shells: &[Mesh]) -> Vec<Vec<usize>> {
        let votes: Vec<Vec<(usize, usize)>> = shells.par_iter().map(|s| self.votes_of(s)).collect();
        let mut votes_of_component = vec![0usize; self.components.count()];
        for &(c, n) in votes.iter().flatten() {
            votes_of_component[c] += n;
        }
        votes
            .iter()
            .map(|shell_votes| {
                let matched: usize = shell_votes.iter().map(|&(_, n)| n).sum();
                let plurality = shell_votes.iter().max_by_key(|&&(_, n)| n).map(|&(c, _)| c);
                shell_votes
                    .iter()
                    .filter(|&&(c, n)| {
                        Some(c) == plurality
                            || n >= MIN_VOTES
                            || (n as f64 >= MIN_VOTE_SHARE * matched as f64
                                && n as f64 >= MIN_COMPONENT_SHARE * votes_of_component[c] as f64)
                    })
                    .map(|&(c, _)| c)
                    .collect()
            })
            .collect()
    }

    /// Groups shells and components into structures (union–find over components).
    fn structures(&self, shells: &[Mesh]) -> Structures {
        let per_shell = self.components_of_shells(shells);
        let count = self.components.count();
        let mut parent: Vec<usize> = (0..count).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut has_shell = vec![false; count];
        for comps in &per_shell {
            for &c in comps {
                has_shell[c] = true;
            }
            for pair in comps.windows(2) {
                let (a, b) = (root(&mut parent, pair[0]), root(&mut parent, pair[1]));
                parent[a.max(b)] = a.min(b);
            }
        }
        let mut structure_of_root = vec![usize::MAX; count];
        let mut voxel_volume_mm3 = Vec::new();
        let mut unmatched = Vec::new();
        for (c, &matched) in has_shell.iter().enumerate() {
            if !matched {
                unmatched.push(c);
                continue;
            }
            let r = root(&mut parent, c);
            if structure_of_root[r] == usize::MAX {
                structure_of_root[r] = voxel_volume_mm3.len();
                voxel_volume_mm3.push(0.0);
            }
            voxel_volume_mm3[structure_of_root[r]] += self.components.sizes[c] as f64 * self.voxel_volume_mm3;
        }
        let of_shell = per_shell
            .iter()
            .map(|comps| comps.first().map(|&c| structure_of_root[root(&mut parent, c)]))
            .collect();
        Structures {
            of_shell,
            voxel_volume_mm3,
            unmatched,
        }
    }

    /// Compares the enclosed volume of each structure of `mesh` with its voxel volume.
    pub fn check(&self, mesh: &Mesh) -> ShellVolumeCheck {
        let shells = split_shells(mesh);
        let structures = self.structures(&shells);
        let mut enclosed = vec![0.0f64; structures.voxel_volume_mm3.len()];
        for (shell, s) in shells.iter().zip(&structures.of_shell) {
            if let Some(s) = *s {
                enclosed[s] += signed_volume_mm3(shell);
            }
        }
        let deviations: Vec<f64> = enclosed
            .iter()
            .zip(&structures.voxel_volume_mm3)
            .map(|(&e, &v)| 100.0 * (e - v) / v)
            .collect();
        let worst = deviations
            .iter()
            .copied()
            .fold(0.0f64, |w, d| if d.abs() > w.abs() { d } else { w });
        ShellVolumeCheck {
            structures: deviations.len(),
            within_2_percent: deviations.iter().filter(|d| d.abs() <= 2.0).count(),
            worst_percent: worst,
            mean_abs_percent: if deviations.is_empty() {
                0.0
            } else {
                deviations.iter().map(|d| d.abs()).sum::<f64>() / deviations.len() as f64
            },
            voxel_volume_mm3: structures.voxel_volume_mm3.iter().sum(),
            components_without_shell: structures.unmatched.len(),
            volume_without_shell_mm3: structures
                .unmatched
                .iter()
                .map(|&c| self.components.sizes[c] as f64 * self.voxel_volume_mm3)
                .sum(),
        }
    }
}

impl ShellVolumeTargets for MaskShellVolumes {
    /// Each structure's voxel volume shared among its shells in proportion to their own
    /// (signed) volumes, so a cavity shell keeps its share.
    fn targets(&self, shells: &[Mesh]) -> Vec<Option<f64>> {
        let structures = self.structures(shells);
        let own: Vec<f64> = shells.par_iter().map(signed_volume_mm3).collect();
        let mut total = vec![0.0f64; structures.voxel_volume_mm3.len()];
        for (v, s) in own.iter().zip(&structures.of_shell) {
            if let Some(s) = *s {
                total[s] += v;
            }
        }
        own.iter()
            .zip(&structures.of_shell)
            .map(|(&v, s)| {
                let s = (*s)?;
                (total[s] > 0.0).then(|| v * structures.voxel_volume_mm3[s] / total[s])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_mesh::condition::{condition, condition_with_volume_targets, ConditionOptions};
    use medprint_mesh::isosurface::extract_isosurface;

    /// Two balls of radius 4 voxels (3 mm voxels) and a one-voxel-thick plate: shapes whose
    /// smoothed isosurface encloses less than their voxel count.
    fn phantom() -> Volume<u8> {
        let dims = [40, 30, 24];
        let geometry = Geometry::axis_aligned([3.0, 2.0, 2.5], [-10.0, 5.0, 0.0]);
        let mut m = Volume::filled(dims, 0u8, geometry);
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let ball = |c: [f64; 3]| {
                        let d: f64 = [i as f64 - c[0], j as f64 - c[1], k as f64 - c[2]]
                            .iter()
                            .map(|x| x * x)
                            .sum();
                        d <= 16.0
                    };
                    let plate = (24..36).contains(&i) && (4..26).contains(&j) && k == 12;
                    if ball([8.0, 8.0, 8.0]) || ball([9.0, 20.0, 14.0]) || plate {
                        let idx = m.index(i, j, k);
                        m.data_mut()[idx] = 1;
                    }
                }
            }
        }
        m
    }

    fn field_of(mask: &Volume<u8>) -> Volume<f32> {
        mask.map(|&v| if v != 0 { 1.0 } else { 0.0 })
    }

    #[test]
    fn conditioning_to_voxel_volumes_meets_two_percent_per_structure() {
        let mask = phantom();
        let targets = MaskShellVolumes::new(&mask).expect("label");
        let raw = extract_isosurface(&field_of(&mask), 0.5);
        let (plain, _) = condition(raw.clone(), &ConditionOptions::default());
        let before = targets.check(&plain);
        let (matched, report) = condition_with_volume_targets(raw, &ConditionOptions::default(), &targets);
        let after = targets.check(&matched);
        println!("without targets {before:?}\nwith targets {after:?}");
        assert_eq!(after.structures, 3, "two balls and the plate");
        assert_eq!(after.components_without_shell, 0);
        assert!(
            before.worst_percent.abs() > 2.0,
            "the plain chain shrinks the thin plate"
        );
        assert_eq!(after.within_2_percent, 3, "{after:?}");
        assert!(after.worst_percent.abs() < 1.0, "{after:?}");
        assert!(report.check.is_printable(), "{:?}", report.check);
        let voxels = mask.data().iter().filter(|&&v| v != 0).count() as f64 * mask.geometry.voxel_volume_mm3();
        assert!((after.voxel_volume_mm3 - voxels).abs() < 1e-6);
    }

    #[test]
    fn shells_far_from_the_mask_get_no_target() {
        let mask = phantom();
        let targets = MaskShellVolumes::new(&mask).expect("label");
        let mut elsewhere = extract_isosurface(&field_of(&mask), 0.5);
        for p in &mut elsewhere.vertices {
            p[0] += 1000.0;
        }
        let shells = split_shells(&elsewhere);
        assert!(targets.targets(&shells).iter().all(Option::is_none));
        let check = targets.check(&elsewhere);
        assert_eq!(check.structures, 0);
        assert_eq!(check.components_without_shell, 3);
    }

    #[test]
    fn a_two_voxel_fragment_is_scaled_not_folded() {
        let mut mask = Volume::filled([8, 8, 8], 0u8, Geometry::axis_aligned([3.0; 3], [0.0; 3]));
        for i in [3, 4] {
            let index = mask.index(i, 3, 3);
            mask.data_mut()[index] = 1;
        }
        let targets = MaskShellVolumes::new(&mask).expect("label");
        let raw = extract_isosurface(&field_of(&mask), 0.5);
        // The isosurface of two voxels encloses a third of their volume.
        assert!(signed_volume_mm3(&raw) < 20.0);
        let options = ConditionOptions {
            min_shell_volume_mm3: 1.0,
            ..ConditionOptions::default()
        };
        let (m, report) = condition_with_volume_targets(raw, &options, &targets);
        assert!((signed_volume_mm3(&m) - 54.0).abs() < 0.5, "{}", signed_volume_mm3(&m));
        assert_eq!(report.self_intersections.pairs_found, 0);
        assert!(report.check.is_printable(), "{:?}", report.check);
    }
}
