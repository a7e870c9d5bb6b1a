//! `medprint eval`: per-class agreement of a predicted label map with a reference.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use medprint_segment::evaluate::{evaluate_labels, parse_class, ClassError, ClassMetrics, ClassPair, LabelClass};
use medprint_volume::nifti::read_nifti;

const EVAL_HELP: &str = "\
CLASSES:
  NAME=IDS        label values and inclusive ranges, e.g. bone=1  or  bone=1,2,25-50
  NAME=FILE.tsv   a TotalSegmentator-style table (tab-separated, header: id name is_bone):
                  bone=labels.tsv takes every id with is_bone = 1; any other NAME takes the
                  ids whose name is NAME or starts with NAME_ (kidney → kidney_left, kidney_right)
  Repeat the option for several classes. --pred-classes defaults to --ref-classes and vice
  versa; without either, every nonzero label value present in either map is its own class.
  medprint's own labels.nii.gz uses 1 = bone, so against a TotalSegmentator reference use
    --pred-classes bone=1 --ref-classes bone=labels.tsv

METRICS (per class):
  Dice, Jaccard, HD95 (95th percentile of the symmetric boundary-to-boundary distances, mm),
  MSD (mean of the same distances, mm), volumes and their difference (mm³, % of reference).
  Grids that differ are compared on the reference grid: the prediction is resampled by
  nearest neighbour through both affines (patient space). Distances are empty (null) when a
  mask is empty; Dice is then 1 if both are empty, else 0.

EXIT CODES:
  0  success
  1  unexpected internal error
  2  invalid command line (bad class definition, classes that do not pair up)
  3  an input could not be read (missing/invalid NIfTI, not a label map, bad label table)";

/// Options of `medprint eval`.
#[derive(clap::Args)]
#[command(after_help = EVAL_HELP)]
pub struct EvalArgs {
    /// Predicted label map (NIfTI .nii/.nii.gz), e.g. labels.nii.gz written by `convert`.
    #[arg(long)]
    pred: PathBuf,
    /// Reference label map (NIfTI); its grid is the one metrics are computed on.
    #[arg(long = "ref")]
    reference: PathBuf,
    /// Class of the prediction: NAME=IDS or NAME=FILE.tsv (repeatable; see CLASSES below).
    #[arg(long = "pred-classes", value_name = "NAME=IDS|NAME=FILE.tsv")]
    pred_classes: Vec<String>,
    /// Class of the reference: NAME=IDS or NAME=FILE.tsv (repeatable; see CLASSES below).
    #[arg(long = "ref-classes", value_name = "NAME=IDS|NAME=FILE.tsv")]
    ref_classes: Vec<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Why `eval` failed, with its exit code.
enum EvalFailure {
    /// Bad command line (exit 2).
    Usage(String),
    /// Unreadable input (exit 3).
    Input(String),
}

impl From<ClassError> for EvalFailure {
    fn from(err: ClassError) -> Self {
        match err {
            ClassError::Syntax { .. } => Self::Usage(err.to_string()),
            ClassError::Io { .. } | ClassError::Table { .. } | ClassError::NoMatch { .. } => {
                Self::Input(err.to_string())
            }
        }
    }
}

/// The JSON document of `eval --json`.
#[derive(Serialize)]
struct EvalReport<'a> {
    pred: &'a Path,
    reference: &'a Path,
    resampled: bool,
    classes: &'a [ClassMetrics],
}

/// Runs `medprint eval` and returns its exit code.
pub fn run(args: EvalArgs) -> ExitCode {
    match evaluate(&args) {
        Ok(code) => code,
        Err(EvalFailure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(EvalFailure::Input(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(3)
        }
    }
}

fn parse_all(specs: &[String]) -> Result<Vec<LabelClass>, EvalFailure> {
    let classes = specs.iter().map(|s| parse_class(s)).collect::<Result<Vec<_>, _>>()?;
    for (i, c) in classes.iter().enumerate() {
        if classes[..i].iter().any(|d| d.name == c.name) {
            return Err(EvalFailure::Usage(format!("class \"{}\" is defined twice", c.name)));
        }
    }
    Ok(classes)
}

/// Pairs prediction and reference classes by name; `None` = every label value is a class.
fn pair_classes(pred: Vec<LabelClass>, reference: Vec<LabelClass>) -> Result<Option<Vec<ClassPair>>, EvalFailure> {
    let (pred, reference) = match (pred.is_empty(), reference.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => (reference.clone(), reference),
        (false, true) => (pred.clone(), pred),
        (false, false) => (pred, reference),
    };
    let names = |c: &[LabelClass]| c.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", ");
    if pred.len() != reference.len() || pred.iter().any(|p| !reference.iter().any(|r| r.name == p.name)) {
        return Err(EvalFailure::Usage(format!(
            "--pred-classes ({}) and --ref-classes ({}) must name the same classes",
            names(&pred),
            names(&reference)
        )));
    }
    Ok(Some(
        pred.into_iter()
            .filter_map(|p| {
                let r = reference.iter().find(|r| r.name == p.name)?;
                Some(ClassPair {
                    name: p.name,
                    pred: p.labels,
                    reference: r.labels.clone(),
                })
            })
            .collect(),
    ))
}

fn evaluate(args: &EvalArgs) -> Result<ExitCode, EvalFailure> {
    let classes = pair_classes(parse_all(&args.pred_classes)?, parse_all(&args.ref_classes)?)?;
    let read = |path: &Path| read_nifti(path).map_err(|e| EvalFailure::Input(e.to_string()));
    let pred = read(&args.pred)?;
    let reference = read(&args.reference)?;
    let result = evaluate_labels(&pred, &reference, classes.as_deref())
        .map_err(|e| EvalFailure::Input(format!("{} vs {}: {e}", args.pred.display(), args.reference.display())))?;
    if args.json {
        let report = EvalReport {
            pred: &args.pred,
            reference: &args.reference,
            resampled: result.resampled,
            classes: &result.classes,
        };
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: could not serialise the result: {e}");
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        print_table(&result.classes, result.resampled);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(classes: &[ClassMetrics], resampled: bool) {
    if resampled {
        println!("grids differ: prediction resampled onto the reference grid (nearest neighbour, patient space)");
    }
    let mm = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    println!(
        "{:<16} {:>7} {:>7} {:>9} {:>9} {:>12} {:>12} {:>9}",
        "class", "Dice", "Jaccard", "HD95 mm", "MSD mm", "pred cm³", "ref cm³", "ΔV %"
    );
    for c in classes {
        println!(
            "{:<16} {:>7.4} {:>7.4} {:>9} {:>9} {:>12.2} {:>12.2} {:>9}",
            c.name,
            c.dice,
            c.jaccard,
            mm(c.hd95_mm),
            mm(c.mean_surface_distance_mm),
            c.pred_volume_mm3 / 1e3,
            c.ref_volume_mm3 / 1e3,
            c.volume_difference_percent
                .map_or_else(|| "-".to_string(), |v| format!("{v:+.1}"))
        );
        if let Some(note) = &c.note {
            println!("{:<16} note: {note}", "");
        }
    }
}
