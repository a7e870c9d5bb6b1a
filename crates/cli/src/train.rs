//! `medprint train`: decision forests from labelled scans, cross-validated, written as a
//! versioned model file that `convert --model` reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use medprint_segment::evaluate::{parse_class, resample_labels_nearest, same_grid, LabelClass};
use medprint_segment::forest::{train_bone_model, BoneModel, ForestParams, TrainOptions, TrainingCase, TrainingClass};
use medprint_volume::input::{load_scan, LoadOptions};
use medprint_volume::nifti::read_nifti;

const TRAIN_HELP: &str = "\
CLASSES:
  --classes bone=IDS or bone=FILE.tsv says which label values of LABELS are bone
  (e.g. bone=25-92 or bone=labels.tsv for a TotalSegmentator table with an is_bone column).
  The forests learn bone against everything else.

CROSS-VALIDATION:
  With several --image/--labels pairs, each scan (up to 5) is held out in turn; with one pair,
  its lower and upper halves of slices are held out in turn. Dice on the held-out part is
  printed for the model and for the threshold pipeline alone; the saved model is then trained
  on everything.

EXIT CODES:
  0  success
  1  unexpected internal error
  2  invalid command line (class definition, unpaired --image/--labels)
  3  an input could not be read (scan, label map, table) or the grids do not match
  4  training failed
  5  the model file could not be written";

/// Options of `medprint train`.
#[derive(clap::Args)]
#[command(after_help = TRAIN_HELP)]
pub struct TrainArgs {
    /// A training scan (NIfTI, DICOM folder or zip); repeat together with --labels.
    #[arg(long, required = true)]
    image: Vec<PathBuf>,
    /// Label map (NIfTI) of the scan given at the same position; repeatable.
    #[arg(long, required = true)]
    labels: Vec<PathBuf>,
    /// Which label values are bone: bone=IDS or bone=FILE.tsv (see CLASSES).
    #[arg(long, value_name = "bone=IDS|bone=FILE.tsv")]
    classes: String,
    /// Where to write the model file.
    #[arg(long, short)]
    out: PathBuf,
    /// Trees per forest.
    #[arg(long, default_value_t = 24)]
    trees: usize,
    /// Chained forest stages (the first sees the threshold result, the next ones also the previous stage).
    #[arg(long, default_value_t = 2)]
    stages: usize,
    /// Training samples drawn per scan (half bone, half not; half of each near the bone boundary).
    #[arg(long, default_value_t = 100_000)]
    samples: usize,
    /// Skip cross-validation (faster; no accuracy figure).
    #[arg(long)]
    no_cv: bool,
    /// Print the training summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

enum TrainFailure {
    Usage(String),
    Input(String),
    Training(String),
    Output(String),
}

impl TrainFailure {
    fn exit(self) -> ExitCode {
        let (code, message) = match self {
            TrainFailure::Usage(m) => (2, m),
            TrainFailure::Input(m) => (3, m),
            TrainFailure::Training(m) => (4, m),
            TrainFailure::Output(m) => (5, m),
        };
        eprintln!("error: {message}");
        ExitCode::from(code)
    }
}

#[derive(Serialize)]
struct TrainReport<'a> {
    model: &'a Path,
    summary: &'a medprint_segment::forest::TrainingSummary,
    mean_held_out_dice: Option<f64>,
}

/// Runs `medprint train` and returns its exit code.
pub fn run(args: TrainArgs) -> ExitCode {
    match train(&args) {
        Ok(code) => code,
        Err(failure) => failure.exit(),
    }
}

/// Bone truth of `labels_path` on the grid of `scan`, resampled through both affines when the
/// grids differ.
fn bone_truth(
    labels_path: &Path,
    scan: &medprint_volume::Volume<i16>,
    class: &LabelClass,
) -> Result<Vec<u8>, TrainFailure> {
    let labels = read_nifti(labels_path).map_err(|e| TrainFailure::Input(e.to_string()))?;
    let values: Vec<u16> = labels
        .data()
        .iter()
        .map(|&v| (v >= 0.0 && v <= f32::from(u16::MAX) && v.fract() == 0.0).then_some(v as u16))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            TrainFailure::Input(format!(
                "{}: not a label map (values must be whole numbers 0..=65535)",
                labels_path.display()
            ))
        })?;
    let on_grid = if same_grid(labels.dims(), &labels.geometry, scan.dims(), &scan.geometry) {
        values
    } else {
        resample_labels_nearest(&values, labels.dims(), &labels.geometry, scan.dims(), &scan.geometry)
    };
    let truth: Vec<u8> = on_grid
        .iter()
        .map(|&l| u8::from(class.labels.contains(u32::from(l))))
        .collect();
    if !truth.contains(&1) {
        return Err(TrainFailure::Input(format!(
            "{}: no voxel of class \"{}\" on the scan's grid",
            labels_path.display(),
            class.name
        )));
    }
    Ok(truth)
}

fn train(args: &TrainArgs) -> Result<ExitCode, TrainFailure> {
    if args.image.len() != args.labels.len() {
        return Err(TrainFailure::Usage(format!(
            "{} --image but {} --labels: give them in pairs",
            args.image.len(),
            args.labels.len()
        )));
    }
    let class = parse_class(&args.classes).map_err(|e| TrainFailure::Usage(e.to_string()))?;
    let mut cases = Vec::with_capacity(args.image.len());
    for (image, labels) in args.image.iter().zip(&args.labels) {
        let scan = load_scan(image, &LoadOptions::default()).map_err(|e| TrainFailure::Input(e.to_string()))?;
        let truth = bone_truth(labels, &scan.volume, &class)?;
        cases.push(TrainingCase {
            name: image.display().to_string(),
            scan: scan.volume,
            bone_truth: truth,
        });
    }
    let options = TrainOptions {
        stages: args.stages,
        samples_per_scan: args.samples,
        forest: ForestParams {
            trees: args.trees,
            ..ForestParams::default()
        },
        cross_validate: !args.no_cv,
        ..TrainOptions::default()
    };
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30.cyan/blue}] {msg} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix("train");
    let classes = vec![TrainingClass {
        name: class.name.clone(),
        label_ranges: class.labels.ranges().iter().map(|r| (*r.start(), *r.end())).collect(),
    }];
    let result = train_bone_model(&cases, classes, &options, &|step, fraction| {
        bar.set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
        bar.set_message(step.to_string());
    });
    bar.finish_and_clear();
    let model: BoneModel = result.map_err(|e| TrainFailure::Training(e.to_string()))?;
    model.save(&args.out).map_err(|e| TrainFailure::Output(e.to_string()))?;
    let summary = &model.summary;
    if args.json {
        let report = TrainReport {
            model: &args.out,
            summary,
            mean_held_out_dice: summary.mean_dice(),
        };
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => return Err(TrainFailure::Output(format!("could not serialise the summary: {e}"))),
        }
    } else {
        println!(
            "trained {} stage(s) × {} trees on {} scan(s), {} samples each",
            summary.stages,
            summary.forest.trees,
            summary.scans.len(),
            summary.samples_per_scan
        );
        for fold in &summary.folds {
            println!(
                "held out {:<40} Dice model {:.4}  threshold alone {:.4}",
                fold.held_out, fold.dice, fold.threshold_dice
            );
        }
        if let Some(mean) = summary.mean_dice() {
            println!("mean held-out Dice {mean:.4}");
        }
        println!("model written to {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}
