//! `medprint validate`: the default bone segmentation measured on every labelled scan and on
//! the phantoms, at the native grid and resampled (`medprint_pipeline::validation`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use medprint_pipeline::validation::{validate, Grid, ValidationError, ValidationOptions};

const VALIDATE_HELP: &str = "\
SCANS (--only, comma-separated):
  ct-abdomen-3mm      real abdominal CT with reference labels; the defaults were chosen on it
  ct-chest-cta-1.5mm  real contrast CT angiogram (contrast limits chosen on it): aorta and T12 masks
  knee-phantom        the demo's phantom, analytic bone volume
  torso-phantom       synthetic torso with two long bones and a sphere, exact truth mask

The segmentation runs exactly as `medprint convert` runs it by default (no meshes are made).
Real scans are also resampled (trilinear) to each --resolutions grid and segmented there; metrics
are computed in patient space on the reference's grid. Agreement is the Dice between one scan's
masks at two grids, on the coarser grid of the two.

TARGETS:
  resolution agreement Dice ≥ 0.92; CT angiogram: < 2 % of the aorta in bone, ≥ 95 % of T12 covered

EXIT CODES:
  0  success (the table says which targets were met)
  1  unexpected internal error
  2  invalid command line
  3  a scan or reference file could not be read
  4  segmentation or comparison failed";

/// Options of `medprint validate`.
#[derive(clap::Args)]
#[command(after_help = VALIDATE_HELP)]
pub struct ValidateArgs {
    /// Folder holding ct-abdomen-3mm/ and ct-chest-cta-1.5mm/.
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Run only these scans (see SCANS below).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    only: Vec<String>,
    /// Grids the real scans are segmented on: native, an isotropic voxel size in mm, or XxYxZ mm.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "native,1x1x2,0.7",
        value_name = "GRID,..."
    )]
    resolutions: Vec<String>,
    /// Print the measurements as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs `medprint validate` and returns its exit code.
pub fn run(args: ValidateArgs) -> ExitCode {
    match measure(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code() as u8)
        }
    }
}

fn measure(args: &ValidateArgs) -> Result<ExitCode, ValidationError> {
    let mut options = ValidationOptions::new(args.data.clone())?;
    options.only = args.only.clone();
    options.grids = args
        .resolutions
        .iter()
        .map(|r| Grid::parse(r))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let log = |step: &str| eprintln!("[{:>6.1} s] {step}", started.elapsed().as_secs_f64());
    let report = validate(&options, &log)?;
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: could not serialise the measurements: {e}");
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        print!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}
