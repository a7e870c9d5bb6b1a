//! Binary and ASCII STL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medprint_mesh::export::read_stl;

fuzz_target!(|data: &[u8]| {
    if let Ok(mesh) = read_stl(data) {
        let n = mesh.vertices.len();
        assert!(mesh.triangles.iter().flatten().all(|&v| (v as usize) < n));
    }
});
