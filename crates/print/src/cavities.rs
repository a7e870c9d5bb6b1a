//! Filling internal cavities: SLA traps resin in closed voids, so shells nested inside other
//! shells (inward-facing cavity walls and anything inside them) are removed and the part
//! prints solid.

use medprint_mesh::shells::{merge, split_shells};
use medprint_mesh::{signed_volume_mm3, Mesh};
use serde::Serialize;

use crate::error::{check_solid, PrintError};
use crate::spatial::SurfaceIndex;
use crate::vector::widen;

/// What [`fill_cavities`] did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CavityReport {
    /// Shells in the input.
    pub shells_in: usize,
    /// Nested shells removed (cavity walls and islands inside cavities).
    pub shells_removed: usize,
    /// Volume added by filling, mm³ (output volume − input volume).
    pub filled_volume_mm3: f64,
}

/// Removes every shell that lies inside another shell, keeping only outermost shells.
/// The input must be closed and edge-manifold; the output is too, with the same outer surface.
pub fn fill_cavities(mesh: &Mesh) -> Result<(Mesh, CavityReport), PrintError> {
    check_solid(mesh, "cavity filling input")?;
    let shells = split_shells(mesh);
    let nested = nested_shells(&shells);
    let kept: Vec<Mesh> = shells
        .iter()
        .zip(&nested)
        .filter(|(_, &n)| !n)
        .map(|(s, _)| s.clone())
        .collect();
    let out = merge(&kept);
    let report = CavityReport {
        shells_in: shells.len(),
        shells_removed: shells.len() - kept.len(),
        filled_volume_mm3: signed_volume_mm3(&out) - signed_volume_mm3(mesh),
    };
    Ok((out, report))
}

/// `true` for each shell that lies inside another shell (tested at its first vertex).
pub(crate) fn nested_shells(shells: &[Mesh]) -> Vec<bool> {
    let bounds: Vec<([f32; 3], [f32; 3])> = shells
        .iter()
        .map(|s| s.bounds().unwrap_or(([0.0; 3], [0.0; 3])))
        .collect();
    let mut nested = vec![false; shells.len()];
    for (outer, shell) in shells.iter().enumerate() {
        let (olo, ohi) = bounds[outer];
        let candidates: Vec<usize> = (0..shells.len())
            .filter(|&inner| {
                let (ilo, ihi) = bounds[inner];
                inner != outer && !nested[inner] && (0..3).all(|a| ilo[a] >= olo[a] && ihi[a] <= ohi[a])
            })
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let index = SurfaceIndex::new(shell);
        for inner in candidates {
            if let Some(&v) = shells[inner].vertices.first() {
                if index.contains(widen(v)) {
                    nested[inner] = true;
                }
            }
        }
    }
    nested
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::ellipsoid;

    fn inverted(m: &Mesh) -> Mesh {
        Mesh {
            vertices: m.vertices.clone(),
            triangles: m.triangles.iter().map(|t| [t[0], t[2], t[1]]).collect(),
        }
    }

    #[test]
    fn hollow_sphere_is_filled_and_neighbour_kept() {
        let outer = ellipsoid([0.0; 3], [20.0; 3], 4).expect("outer");
        let cavity = inverted(&ellipsoid([1.0, 0.0, 0.0], [10.0; 3], 4).expect("cavity"));
        let island = ellipsoid([1.0, 0.0, 0.0], [4.0; 3], 3).expect("island");
        let neighbour = ellipsoid([60.0, 0.0, 0.0], [10.0; 3], 3).expect("neighbour");
        let hollow = merge(&[outer.clone(), cavity.clone(), island, neighbour.clone()]);
        let (filled, report) = fill_cavities(&hollow).expect("fill");
        assert_eq!(report.shells_in, 4);
        assert_eq!(report.shells_removed, 2);
        let expected = signed_volume_mm3(&outer) + signed_volume_mm3(&neighbour);
        assert!((signed_volume_mm3(&filled) - expected).abs() < 1e-6 * expected);
        assert!(medprint_mesh::check_mesh(&filled).is_printable());
        assert!(fill_cavities(&Mesh::default()).is_err());
    }
}
