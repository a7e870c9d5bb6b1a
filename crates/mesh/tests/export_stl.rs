//! STL round trips and hostile input.

mod conditioning_support;

use conditioning_support::icosphere;
use medprint_mesh::export::{read_stl, write_stl_ascii, write_stl_binary, StlError};
use medprint_mesh::{check_mesh, Mesh};

/// Triangles as position triples, the representation STL preserves.
fn corners(m: &Mesh) -> Vec<[[f32; 3]; 3]> {
    m.triangles.iter().map(|t| t.map(|v| m.vertices[v as usize])).collect()
}

fn sample() -> Mesh {
    icosphere(3, 17.3, [-123.456, 78.9, 1001.25])
}

#[test]
fn binary_round_trip_is_exact_and_welded() {
    let m = sample();
    let mut bytes = Vec::new();
    write_stl_binary(&mut bytes, &m).unwrap();
    assert_eq!(bytes.len(), 84 + 50 * m.triangles.len());
    let back = read_stl(bytes.as_slice()).unwrap();
    assert_eq!(corners(&back), corners(&m));
    assert_eq!(back.vertices.len(), m.vertices.len());
    assert!(check_mesh(&back).is_printable());
}

#[test]
fn ascii_round_trip_is_exact() {
    let m = sample();
    let mut bytes = Vec::new();
    write_stl_ascii(&mut bytes, &m).unwrap();
    assert!(bytes.starts_with(b"solid"));
    let back = read_stl(bytes.as_slice()).unwrap();
    assert_eq!(corners(&back), corners(&m));
    assert_eq!(back.vertices.len(), m.vertices.len());
}

#[test]
fn truncated_binary_is_an_error() {
    let mut bytes = Vec::new();
    write_stl_binary(&mut bytes, &sample()).unwrap();
    bytes.truncate(bytes.len() - 7);
    assert!(matches!(read_stl(bytes.as_slice()), Err(StlError::Truncated { .. })));
}

#[test]
fn declared_count_beyond_the_bytes_is_an_error() {
    let mut bytes = vec![0u8; 84 + 50];
    bytes[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
    match read_stl(bytes.as_slice()) {
        Err(StlError::Truncated {
            declared,
            needed,
            actual,
        }) => {
            assert_eq!((declared, actual), (u32::MAX, 134));
            assert_eq!(needed, 84 + 50 * u64::from(u32::MAX));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn garbage_and_malformed_ascii_are_errors() {
    assert!(matches!(read_stl(&b""[..]), Err(StlError::TooShort(0))));
    assert!(matches!(read_stl(&b"\x89PNG garbage"[..]), Err(StlError::TooShort(_))));
    let cases: [&[u8]; 4] = [
        b"solid x\n facet normal 0 0 1\n outer loop\n vertex 0 0 0\n vertex 1 0 0\n endloop\n endfacet\nendsolid\n",
        b"solid x\n facet normal 0 0 1\n outer loop\n vertex 0 zero 0\n",
        b"solid x\n facet normal 0 0 1\n outer loop\n vertex 0 0 0\n vertex 1 0 0\n vertex 0 1 0\n endloop\n endfacet\n",
        b"solid x\n banana\nendsolid\n",
    ];
    for case in cases {
        assert!(
            matches!(read_stl(case), Err(StlError::Parse { .. })),
            "{}",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn non_finite_coordinates_are_errors() {
    let mut bytes = Vec::new();
    write_stl_binary(&mut bytes, &sample()).unwrap();
    bytes[84 + 50 * 3 + 16..84 + 50 * 3 + 20].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(read_stl(bytes.as_slice()), Err(StlError::NonFinite(3))));
    let ascii = b"solid x\n facet normal 0 0 1\n outer loop\n vertex 0 0 inf\n vertex 1 0 0\n vertex 0 1 0\n endloop\n endfacet\nendsolid\n";
    assert!(matches!(read_stl(&ascii[..]), Err(StlError::NonFinite(0))));
}
