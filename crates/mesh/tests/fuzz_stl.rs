//! Bounded fuzzing of `read_stl`: binary and ASCII files written by our own writers are
//! mutated (triangle counts set to extreme values, coordinates replaced by non-numbers,
//! lines dropped or repeated, plus byte-level edits) and read back. The reader must return a
//! mesh whose indices and coordinates are valid, or an `StlError`; never panic or allocate
//! far beyond the input size. Reproduce one case with `MEDPRINT_FUZZ_CASE=<index>`.

mod conditioning_support;

use conditioning_support::icosphere;
use medprint_mesh::export::{read_stl, write_stl_ascii, write_stl_binary};
use medprint_mesh::Mesh;
use medprint_mutate::{
    random_mutations, run_campaign, Campaign, CountingAllocator, Mutation, Verdict, INTERESTING_U32,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Offset of the binary triangle count (after the 80-byte header).
const COUNT_OFFSET: usize = 80;

/// Tokens that replace an ASCII coordinate.
const HOSTILE_NUMBERS: [&str; 8] = ["nan", "inf", "-inf", "1e39", "-0", "", "0x10", "1.5.5"];

fn bases() -> Vec<(String, Vec<u8>)> {
    let mesh = icosphere(1, 12.5, [-40.0, 3.25, 900.0]);
    let mut binary = Vec::new();
    write_stl_binary(&mut binary, &mesh).expect("write binary");
    let mut ascii = Vec::new();
    write_stl_ascii(&mut ascii, &mesh).expect("write ascii");
    let mut solid_header = binary.clone();
    solid_header[..5].copy_from_slice(b"solid");
    vec![
        ("binary.stl".into(), binary),
        ("ascii.stl".into(), ascii),
        ("binary-with-solid-header.stl".into(), solid_header),
    ]
}

/// A format-aware edit: the binary triangle count, or a line of ASCII STL.
fn stl_edit(rng: &mut ChaCha8Rng, data: &mut Vec<u8>) -> String {
    if !data.starts_with(b"solid m") {
        let count = match rng.random_range(0..3) {
            0 => INTERESTING_U32[rng.random_range(0..INTERESTING_U32.len())],
            1 => u32::from_le_bytes(data.get(80..84).and_then(|b| b.try_into().ok()).unwrap_or([0; 4]))
                .wrapping_add(rng.random_range(0..3))
                .wrapping_sub(1),
            _ => rng.random(),
        };
        let edit = Mutation::Overwrite {
            at: COUNT_OFFSET,
            bytes: count.to_le_bytes().to_vec(),
        };
        edit.apply(data);
        return format!("triangle count {count}");
    }
    let text = String::from_utf8_lossy(data).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = rng.random_range(0..lines.len());
    let what = match rng.random_range(0..4) {
        0 => {
            let token = HOSTILE_NUMBERS[rng.random_range(0..HOSTILE_NUMBERS.len())];
            let mut words: Vec<&str> = lines[at].split_whitespace().collect();
            if let Some(last) = words.last_mut() {
                *last = token;
            }
            lines[at] = words.join(" ");
            format!("line {} ends in {token:?}", at + 1)
        }
        1 => {
            lines.remove(at);
            format!("line {} dropped", at + 1)
        }
        2 => {
            let line = lines[at].clone();
            lines.insert(at, line);
            format!("line {} repeated", at + 1)
        }
        _ => {
            lines.truncate(at);
            format!("cut before line {}", at + 1)
        }
    };
    *data = lines.join("\n").into_bytes();
    what
}

fn mutate(rng: &mut ChaCha8Rng, _base: usize, base: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut data = base.to_vec();
    let mut edits = Vec::new();
    if rng.random_bool(0.5) {
        edits.push(stl_edit(rng, &mut data));
    }
    if edits.is_empty() || rng.random_bool(0.5) {
        edits.extend(random_mutations(rng, &mut data, 3));
    }
    (data, edits)
}

/// A read mesh must index existing vertices and hold finite coordinates only.
fn check(mesh: &Mesh) -> Verdict {
    let n = mesh.vertices.len();
    if let Some(t) = mesh.triangles.iter().find(|t| t.iter().any(|&v| v as usize >= n)) {
        return Verdict::Broken(format!("triangle {t:?} indexes past {n} vertices"));
    }
    if mesh.vertices.iter().flatten().any(|c| !c.is_finite()) {
        return Verdict::Broken("non-finite vertex coordinate".into());
    }
    Verdict::Accepted
}

#[test]
fn read_stl_survives_mutated_files() {
    let campaign = Campaign {
        reader: "read_stl",
        seed: 0x5717,
        cases: 60_000,
        heap_fixed: 1 << 20,
        heap_per_input_byte: 16,
    };
    let report = run_campaign(&campaign, &bases(), mutate, |bytes| match read_stl(bytes) {
        Ok(mesh) => check(&mesh),
        Err(e) => Verdict::Rejected(e.to_string()),
    });
    assert!(
        report.reproducing || (report.accepted > 0 && report.rejected > 0),
        "{report:?}"
    );
}
