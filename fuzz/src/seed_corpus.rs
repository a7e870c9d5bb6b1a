//! Writes a small seed corpus for every target into `corpus/<target>/` (git-ignored), from
//! our own writers: a DICOM phantom series (explicit VR and JPEG-LS), NIfTI phantoms, binary
//! and ASCII STL, a zip of the series. `--shared` adds the real samples of
//! `../shared/data` (large files make libFuzzer slower).
//!
//! Built with the targets (`cargo fuzz build`); run from `fuzz/`:
//! `target/x86_64-unknown-linux-gnu/release/seed_corpus [--shared]`.

use std::io::Write;
use std::path::Path;

use medprint_mesh::export::{write_stl_ascii, write_stl_binary};
use medprint_mesh::Mesh;
use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions, WriteTransferSyntax};
use medprint_volume::nifti::write_nifti;
use medprint_volume::{Geometry, Volume};

type Seeds = Vec<(String, Vec<u8>)>;

fn phantom() -> Volume<i16> {
    let (nx, ny, nz) = (6, 5, 3);
    let data = (0..nx * ny * nz).map(|n| (n * 37 % 2000) as i16 - 1000).collect();
    Volume::from_vec(
        [nx, ny, nz],
        data,
        Geometry::axis_aligned([0.8, 0.9, 2.0], [-10.0, 5.0, 100.0]),
    )
    .expect("shape")
}

fn dicom_seeds(scratch: &Path) -> Seeds {
    let mut seeds = Seeds::new();
    for (syntax, tag) in [
        (WriteTransferSyntax::ExplicitVrLittleEndian, "explicit"),
        (WriteTransferSyntax::JpegLsLossless, "jpegls"),
    ] {
        let dir = scratch.join(tag);
        let options = WriteSeriesOptions {
            transfer_syntax: syntax,
            ..WriteSeriesOptions::default()
        };
        for (k, path) in write_dicom_series(&dir, &phantom(), &options)
            .expect("write series")
            .iter()
            .enumerate()
        {
            seeds.push((format!("{tag}-{k}.dcm"), std::fs::read(path).expect("read slice")));
        }
    }
    seeds
}

fn nifti_seeds(scratch: &Path) -> Seeds {
    let path = scratch.join("phantom.nii");
    write_nifti(&path, &phantom()).expect("write nifti");
    let gz = scratch.join("phantom.nii.gz");
    write_nifti(&gz, &phantom()).expect("write nifti.gz");
    [path, gz]
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                std::fs::read(p).expect("read"),
            )
        })
        .collect()
}

fn stl_seeds() -> Seeds {
    let tetrahedron = Mesh {
        vertices: vec![[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]],
        triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
    };
    let mut binary = Vec::new();
    write_stl_binary(&mut binary, &tetrahedron).expect("binary stl");
    let mut ascii = Vec::new();
    write_stl_ascii(&mut ascii, &tetrahedron).expect("ascii stl");
    vec![("tetra-binary.stl".into(), binary), ("tetra-ascii.stl".into(), ascii)]
}

fn zip_of(entries: &Seeds, method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

fn shared_samples() -> Seeds {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let mut seeds = Seeds::new();
    for dir in ["dicom-samples", "dicom-transfer-syntaxes/In", "ct-abdomen-3mm"] {
        let Ok(listing) = std::fs::read_dir(root.join(dir)) else {
            eprintln!("{} not found; skipped", root.join(dir).display());
            continue;
        };
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".dcm") || name.ends_with(".nii.gz") {
                seeds.push((name, std::fs::read(entry.path()).expect("read sample")));
            }
        }
    }
    seeds
}

fn save(target: &str, seeds: &Seeds) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
    println!("{target}: {} seeds", seeds.len());
}

fn main() {
    let scratch = std::env::temp_dir().join(format!("medprint-seed-{}", std::process::id()));
    let mut dicom = dicom_seeds(&scratch);
    let mut nifti = nifti_seeds(&scratch);
    if std::env::args().any(|a| a == "--shared") {
        let (nii, dcm): (Seeds, Seeds) = shared_samples().into_iter().partition(|(n, _)| n.ends_with(".nii.gz"));
        dicom.extend(dcm);
        nifti.extend(nii);
    }
    let stl = stl_seeds();
    let series: Seeds = dicom
        .iter()
        .filter(|(n, _)| n.starts_with("explicit"))
        .cloned()
        .collect();
    let zips = vec![
        (
            "series-deflated.zip".to_string(),
            zip_of(&series, zip::CompressionMethod::Deflated),
        ),
        (
            "series-stored.zip".to_string(),
            zip_of(&series, zip::CompressionMethod::Stored),
        ),
    ];
    save("dicom_file", &dicom);
    save("nifti", &nifti);
    save("stl", &stl);
    save("zip_archive", &zips);
    // load_scan: first byte picks the name (0 .dcm, 1 .nii, 2 .nii.gz, 3 .zip).
    let tagged = |pick: u8, seeds: &Seeds| -> Seeds {
        seeds
            .iter()
            .map(|(n, b)| (n.clone(), std::iter::once(pick).chain(b.iter().copied()).collect()))
            .collect()
    };
    let (gz, plain): (Seeds, Seeds) = nifti.iter().cloned().partition(|(n, _)| n.ends_with(".gz"));
    let mut all = tagged(0, &dicom);
    all.extend(tagged(1, &plain));
    all.extend(tagged(2, &gz));
    all.extend(tagged(3, &zips));
    save("load_scan", &all);
    let _ = std::fs::remove_dir_all(&scratch);
}
