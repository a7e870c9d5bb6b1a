//! check_mesh, shells and nesting on meshes with known defects.

mod conditioning_support;

use conditioning_support::{cuboid, icosphere};
use medprint_mesh::repair::{orient_outward, split_non_manifold_vertices, weld_vertices};
use medprint_mesh::shells::{merge, split_shells};
use medprint_mesh::{check_mesh, Mesh};

fn tetrahedron(apex_down: bool, offset: [f32; 3]) -> Mesh {
    let s = if apex_down { -1.0 } else { 1.0 };
    let p = |x: f32, y: f32, z: f32| [x + offset[0], y + offset[1], s * z + offset[2]];
    let mut m = Mesh {
        vertices: vec![
            p(0.0, 0.0, 0.0),
            p(1.0, 0.0, 1.0),
            p(-1.0, 1.0, 1.0),
            p(-1.0, -1.0, 1.0),
        ],
        triangles: vec![[0, 2, 1], [0, 3, 2], [0, 1, 3], [1, 2, 3]],
    };
    orient_outward(&mut m);
    m
}

#[test]
fn closed_icosphere_is_printable_with_euler_two() {
    let c = check_mesh(&icosphere(3, 10.0, [5.0, -3.0, 100.0]));
    assert!(c.is_printable(), "{c:?}");
    assert_eq!((c.shells, c.euler_characteristic), (1, 2));
    assert_eq!(c.boundary_edges + c.non_manifold_edges + c.non_manifold_vertices, 0);
}

#[test]
fn open_box_reports_its_four_boundary_edges() {
    let mut m = cuboid([0.0; 3], [1.0, 2.0, 3.0]);
    m.triangles.truncate(10);
    let c = check_mesh(&m);
    assert!(!c.closed && !c.is_printable());
    assert_eq!(c.boundary_edges, 4);
}

#[test]
fn one_flipped_triangle_breaks_orientation() {
    let mut m = icosphere(2, 10.0, [0.0; 3]);
    m.triangles[17].swap(0, 1);
    let c = check_mesh(&m);
    assert!(c.closed && c.manifold && !c.oriented && !c.is_printable());
}

#[test]
fn inside_out_sphere_is_not_outward() {
    let mut m = icosphere(2, 10.0, [0.0; 3]);
    m.triangles.iter_mut().for_each(|t| t.swap(1, 2));
    let c = check_mesh(&m);
    assert!(c.oriented && !c.outward);
}

#[test]
fn cubes_sharing_an_edge_make_one_non_manifold_edge() {
    let mut m = merge(&[cuboid([0.0; 3], [1.0; 3]), cuboid([1.0, 1.0, 0.0], [2.0, 2.0, 1.0])]);
    weld_vertices(&mut m, 0.0);
    assert_eq!(m.vertices.len(), 14);
    let c = check_mesh(&m);
    assert_eq!(c.non_manifold_edges, 1);
    assert!(!c.manifold && c.closed);
}

#[test]
fn tetrahedra_touching_at_a_tip_make_one_non_manifold_vertex() {
    let mut m = merge(&[tetrahedron(false, [0.0; 3]), tetrahedron(true, [0.0; 3])]);
    weld_vertices(&mut m, 0.0);
    assert_eq!(m.vertices.len(), 7);
    let c = check_mesh(&m);
    assert_eq!((c.non_manifold_vertices, c.non_manifold_edges), (1, 0));
    assert!(!c.manifold && c.closed && c.oriented && c.outward);
    assert_eq!(c.shells, 1);

    assert_eq!(split_non_manifold_vertices(&mut m), 1);
    let c = check_mesh(&m);
    assert!(c.is_printable(), "{c:?}");
    assert_eq!(c.shells, 2);
}

#[test]
fn degenerate_triangles_are_counted() {
    let mut m = icosphere(1, 10.0, [0.0; 3]);
    let n = m.vertices.len() as u32;
    m.vertices.extend([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]);
    m.triangles.push([n, n + 1, n + 2]); // collinear
    m.triangles.push([0, 0, 1]); // repeated index
    let c = check_mesh(&m);
    assert_eq!(c.degenerate_triangles, 2);
    assert!(!c.is_printable());
}

#[test]
fn cavity_must_point_inward_and_orient_outward_makes_it_so() {
    let outer = cuboid([-10.0; 3], [10.0; 3]);
    let mut cavity = icosphere(2, 5.0, [1.0, 0.0, 0.0]);
    let shells = merge(&[outer.clone(), cavity.clone()]);
    assert!(!check_mesh(&shells).outward, "outward cavity accepted");

    cavity.triangles.iter_mut().for_each(|t| t.swap(1, 2));
    let hollow = merge(&[outer, cavity]);
    let c = check_mesh(&hollow);
    assert!(c.is_printable() && c.shells == 2, "{c:?}");

    let mut fixed = shells;
    orient_outward(&mut fixed);
    assert_eq!(fixed, hollow);
}

#[test]
fn split_shells_compacts_each_component_and_merge_restores() {
    let a = icosphere(1, 3.0, [0.0; 3]);
    let b = cuboid([10.0; 3], [11.0; 3]);
    let parts = split_shells(&merge(&[a.clone(), b.clone()]));
    assert_eq!(parts, vec![a.clone(), b.clone()]);
    assert_eq!(merge(&parts), merge(&[a, b]));
}
