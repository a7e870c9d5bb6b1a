//! Hostile input: errors, never a panic, an abort or an allocation of the declared size.

mod common;

use common::*;
use medprint_deid::{deidentify_bytes, inspect, DeidError, DeidPolicy, FindingKind};

fn policy() -> DeidPolicy {
    DeidPolicy {
        keep_dates: false,
        uid_salt: b"hostile".to_vec(),
    }
}

fn err(input: &[u8]) -> DeidError {
    match deidentify_bytes(input, &policy()) {
        Ok(_) => panic!("{} hostile byte(s) accepted", input.len()),
        Err(e) => e,
    }
}

/// Explicit VR little endian file meta group naming `ts`, preceded by preamble and magic.
fn header(ts: &str) -> Vec<u8> {
    let mut ts = ts.as_bytes().to_vec();
    if ts.len() % 2 == 1 {
        ts.push(0);
    }
    let mut elems = Vec::new();
    let mut put = |elem: u16, vr: &[u8; 2], value: &[u8]| {
        elems.extend_from_slice(&0x0002u16.to_le_bytes());
        elems.extend_from_slice(&elem.to_le_bytes());
        elems.extend_from_slice(vr);
        if vr == b"OB" {
            elems.extend_from_slice(&[0, 0]);
            elems.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            elems.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        elems.extend_from_slice(value);
    };
    put(0x0001, b"OB", &[0, 1]);
    put(0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7\0");
    put(0x0003, b"UI", b"1.2.3.4\0");
    put(0x0010, b"UI", &ts);
    put(0x0012, b"UI", b"1.2.3.5\0");
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    out.extend_from_slice(&(elems.len() as u32).to_le_bytes());
    out.extend_from_slice(&elems);
    out
}

/// An explicit VR little endian element header with a 4-byte length.
fn long_header(group: u16, elem: u16, vr: &[u8; 2], len: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&group.to_le_bytes());
    h.extend_from_slice(&elem.to_le_bytes());
    h.extend_from_slice(vr);
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&len.to_le_bytes());
    h
}

#[test]
fn the_synthetic_header_itself_is_accepted() {
    // Guards the tests below: they fail because of what they append, not the header.
    let mut ok = header("1.2.840.10008.1.2.1");
    ok.extend_from_slice(&[0x08, 0x00, 0x18, 0x00, b'U', b'I', 8, 0]);
    ok.extend_from_slice(b"1.2.3.4\0");
    let (out, _) = deidentify_bytes(&ok, &policy()).expect("a minimal valid file is accepted");
    assert!(out.len() > 132);
}

#[test]
fn empty_and_random_bytes_are_not_dicom() {
    assert!(matches!(err(&[]), DeidError::NotDicom(_)));
    let random = [0x5A, 0x13, 0xC7, 0x01, 0xFE, 0x88, 0x3B, 0x90, 0x6D, 0x21];
    assert!(matches!(err(&random), DeidError::NotDicom(_)));
    assert!(matches!(err(&[0u8; 200]), DeidError::NotDicom(_)));
}

#[test]
fn magic_then_garbage_is_rejected() {
    let mut a = b"DICM".to_vec();
    a.extend((0..300u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    err(&a);
    let mut b = vec![0u8; 128];
    b.extend_from_slice(&a);
    err(&b);
    let mut c = vec![0u8; 128];
    c.extend_from_slice(b"DICM");
    err(&c);
}

#[test]
fn truncated_real_files_are_rejected() {
    for path in real_files() {
        let input = read(&path);
        for percent in [10, 50, 99] {
            let cut = input.len() * percent / 100;
            match deidentify_bytes(&input[..cut], &policy()) {
                Ok(_) => panic!("{} cut at {percent} % ({cut} bytes) accepted", path.display()),
                Err(DeidError::Truncated(_) | DeidError::Malformed(_)) => {}
                Err(e) => panic!("{} cut at {percent} %: unexpected error kind {e}", path.display()),
            }
        }
    }
}

#[test]
fn huge_declared_lengths_are_rejected_without_allocating() {
    let start = std::time::Instant::now();
    // Top-level OB element declaring almost 4 GiB.
    let mut a = header("1.2.840.10008.1.2.1");
    a.extend(long_header(0x0042, 0x0011, b"OB", 0xFFFF_FFF0));
    a.extend_from_slice(&[0u8; 64]);
    assert!(matches!(err(&a), DeidError::Truncated(_)));
    // The same inside a defined-length sequence item.
    let mut b = header("1.2.840.10008.1.2.1");
    b.extend(long_header(0x0040, 0x0275, b"SQ", 0xFFFF_FFFF));
    b.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    b.extend(long_header(0x0008, 0x0090, b"UT", 0x7FFF_FFF0));
    b.extend_from_slice(b"DOE^JOHN");
    err(&b);
    // A sequence with a defined length past the end.
    let mut c = header("1.2.840.10008.1.2.1");
    c.extend(long_header(0x0040, 0x0275, b"SQ", 0x1000_0000));
    c.extend_from_slice(&[0u8; 16]);
    err(&c);
    // Implicit VR bare data set with a huge length.
    let mut d = vec![0x08, 0x00, 0x16, 0x00, 0x0A, 0x00, 0x00, 0x00];
    d.extend_from_slice(b"1.2.3.4.5\0");
    d.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, 0xF0, 0xFF, 0xFF, 0xFF]);
    d.extend_from_slice(b"DOE^JOHN");
    err(&d);
    // A file meta element longer than the file.
    let mut e = header("1.2.840.10008.1.2.1");
    e.truncate(e.len() - 8);
    e.extend_from_slice(&[0x02, 0x00, 0x12, 0x00, b'U', b'I', 0xFF, 0x7F]);
    err(&e);
    // A real file whose pixel data length is patched to almost 4 GiB.
    let mut f = read(&data_root().join("dicom-transfer-syntaxes/In/1.dcm"));
    let pos = f
        .windows(8)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0])
        .expect("pixel data header in 1.dcm");
    f[pos + 8..pos + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    assert!(matches!(err(&f), DeidError::Truncated(_)));
    assert!(
        start.elapsed().as_secs() < 5,
        "rejection must not read or allocate the declared length"
    );
}

#[test]
fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    let mut a = header("1.2.840.10008.1.2.1");
    for _ in 0..100_000 {
        a.extend(long_header(0x0040, 0x0275, b"SQ", 0xFFFF_FFFF));
        a.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    assert!(matches!(err(&a), DeidError::Malformed(_)));
    // Implicit VR: nesting through sequences known from the dictionary.
    let mut b = header("1.2.840.10008.1.2");
    for _ in 0..100_000 {
        b.extend_from_slice(&[0x40, 0x00, 0x75, 0x02, 0xFF, 0xFF, 0xFF, 0xFF]);
        b.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    assert!(matches!(err(&b), DeidError::Malformed(_)));
}

#[test]
fn nesting_within_the_limit_is_accepted() {
    let mut a = header("1.2.840.10008.1.2.1");
    a.extend_from_slice(&[0x08, 0x00, 0x18, 0x00, b'U', b'I', 8, 0]);
    a.extend_from_slice(b"1.2.3.4\0");
    let depth = 8;
    for _ in 0..depth {
        a.extend(long_header(0x0018, 0xA001, b"SQ", 0xFFFF_FFFF));
        a.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    for _ in 0..depth {
        a.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        a.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    }
    deidentify_bytes(&a, &policy()).expect("8 nested sequences are fine");
}

/// Deterministic pseudo-random numbers (xorshift64*), no dependency needed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn mutated_real_files_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    let mut rejected = 0;
    // More rounds for a longer local run: MEDPRINT_FUZZ_ROUNDS=5000.
    let rounds: usize = std::env::var("MEDPRINT_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    for name in [
        "dicom-samples/CT_JPEG70.dcm",
        "dicom-samples/MR_UnspecifiedLength.dcm",
        "dicom-transfer-syntaxes/In/3.dcm",
        "dicom-samples/CT_Implicit_Little_Headless_Retired.dcm",
    ] {
        let original = read(&data_root().join(name));
        // Mutate the header region, where lengths, VRs and delimiters are.
        let region = original.len().min(4096);
        for _ in 0..rounds {
            let mut input = original.clone();
            for _ in 0..=(rng.next() % 4) {
                let at = (rng.next() as usize) % region;
                input[at] = match rng.next() % 3 {
                    0 => 0xFF,
                    1 => 0x00,
                    _ => rng.next() as u8,
                };
            }
            match deidentify_bytes(&input, &policy()) {
                Ok((out, _)) => {
                    // Whatever was accepted comes out clean.
                    let clean = reparse(&out);
                    let findings = inspect(&clean);
                    assert!(
                        findings.iter().all(|f| f.kind == FindingKind::BurnedInAnnotation),
                        "{name}: mutated input accepted but not clean: {findings:#?}"
                    );
                    accepted += 1;
                }
                Err(_) => rejected += 1,
            }
        }
    }
    eprintln!("mutations: {accepted} accepted, {rejected} rejected");
    assert!(
        rejected > 0 && accepted > 0,
        "mutations all accepted or all rejected: they test too little"
    );
}
