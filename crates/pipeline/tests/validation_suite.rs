//! The validation suite (`medprint validate`) on real data and phantoms: the default bone
//! segmentation's accuracy, and its agreement with itself across resolutions. The measured
//! table is printed (`cargo test -p medprint-pipeline --test validation_suite -- --nocapture`).

use std::path::{Path, PathBuf};

use medprint_pipeline::validation::{
    validate, Grid, ValidationOptions, ValidationReport, VariantResult, ABDOMEN, ABDOMEN_DICE_TARGET,
    AGREEMENT_TARGET_DICE, AORTA_IN_BONE_TARGET_PERCENT, CHEST_CTA, KNEE_PHANTOM, T12_COVERED_TARGET_PERCENT,
    TORSO_PHANTOM,
};

fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Runs the suite on `scans` and `grids` and prints its table.
fn run_suite(scans: &[&str], grids: Vec<Grid>) -> ValidationReport {
    let mut options = ValidationOptions::new(shared_data()).expect("default options");
    options.only = scans.iter().map(|s| s.to_string()).collect();
    options.grids = grids;
    let report = validate(&options, &|step| eprintln!("{step}")).expect("validation runs");
    println!("{}", report.table());
    assert!(report.skipped.is_empty(), "scans missing: {:?}", report.skipped);
    report
}

fn row<'a>(report: &'a ValidationReport, scan: &str, grid: &str) -> &'a VariantResult {
    report
        .rows
        .iter()
        .find(|r| r.scan == scan && r.grid == grid)
        .unwrap_or_else(|| panic!("no row for {scan} at {grid}"))
}

#[test]
fn abdomen_bone_and_phantoms_at_native_resolution() {
    let report = run_suite(&[ABDOMEN, KNEE_PHANTOM, TORSO_PHANTOM], vec![Grid::Native]);
    let abdomen = row(&report, ABDOMEN, "native").bone.as_ref().expect("bone metrics");
    assert!(
        abdomen.dice >= ABDOMEN_DICE_TARGET,
        "abdomen bone Dice {:.4} < {ABDOMEN_DICE_TARGET}",
        abdomen.dice
    );
    let knee = row(&report, KNEE_PHANTOM, "native");
    let knee_dice = knee.bone.as_ref().expect("knee metrics").dice;
    assert!(knee_dice >= 0.95, "knee phantom Dice {knee_dice:.4} < 0.95");
    let knee_error = knee.volume_error_percent.expect("analytic volume error");
    assert!(knee_error.abs() < 2.0, "knee phantom volume error {knee_error:+.2} %");
    let torso_dice = row(&report, TORSO_PHANTOM, "native")
        .bone
        .as_ref()
        .expect("torso metrics")
        .dice;
    assert!(torso_dice >= 0.95, "torso phantom Dice {torso_dice:.4} < 0.95");
}

#[test]
fn abdomen_masks_agree_across_resolutions() {
    let report = run_suite(&[ABDOMEN], Grid::defaults());
    assert_eq!(report.agreements.len(), 3, "native, 1x1x2 and 0.7 compared pairwise");
    let missed: Vec<String> = report
        .agreements
        .iter()
        .filter(|a| a.metrics.dice < AGREEMENT_TARGET_DICE)
        .map(|a| format!("{} vs {}: Dice {:.4}", a.a, a.b, a.metrics.dice))
        .collect();
    assert!(
        missed.is_empty(),
        "resolution agreement below {AGREEMENT_TARGET_DICE}: {}",
        missed.join("; ")
    );
}

#[test]
fn angiogram_contrast_is_not_bone_and_t12_is() {
    let report = run_suite(&[CHEST_CTA], vec![Grid::Native]);
    let checks = row(&report, CHEST_CTA, "native")
        .contrast
        .as_ref()
        .expect("contrast checks");
    assert!(
        checks.aorta_in_bone_percent < AORTA_IN_BONE_TARGET_PERCENT,
        "{:.2} % of the aorta ({} voxels) is in the bone mask",
        checks.aorta_in_bone_percent,
        checks.bone_voxels_in_aorta
    );
    assert!(
        checks.t12_covered_percent >= T12_COVERED_TARGET_PERCENT,
        "T12 covered {:.1} %",
        checks.t12_covered_percent
    );
}
