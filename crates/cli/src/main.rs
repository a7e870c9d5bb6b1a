//! `medprint`: turn a CT/MRI scan into a 1:1 print-ready 3D model.
//!
//! A thin layer over `medprint-pipeline`: argument parsing, progress bars, exit codes.

mod eval;
mod export_dicom;
mod progress;
mod server_cmd;
mod train;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use medprint_pipeline::params::{BoneKind, ModalityKind, RunParams, SexKind};
use medprint_pipeline::{
    convert_path, run_demo, ConvertOptions, DemoComparison, PipelineError, Report, Stage, TrainedModel,
};
use medprint_segment::edits::LabelEdit;
use medprint_segment::forest::ForestResolution;
use medprint_segment::fusion::FusionRule;

const EXIT_CODES: &str = "\
EXIT CODES:
  0  success
  1  unexpected internal error
  2  invalid command line (including print-ready settings)
  3  the input or the --model file could not be read (the message names each file and problem),
     or the scan cannot give a model (fewer than 3 slices, a blank image, pure noise)
  4  segmentation failed or found no bone
  5  an output file could not be written
  6  demo only: the result missed the accuracy targets (with --check)";

#[derive(Parser)]
#[command(name = "medprint", version, about = "Turn a CT or MRI scan into a 1:1-scale, print-ready 3D model", after_help = EXIT_CODES)]
struct Cli {
    /// Log level for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert a scan into model.stl, model.3mf, labels.nii.gz, report.json and preview/*.png.
    #[command(after_help = EXIT_CODES)]
    Convert {
        /// A folder of DICOM files (any nesting), a .zip of them, one DICOM file, or a NIfTI file (.nii/.nii.gz).
        input: PathBuf,
        /// Output directory (created if missing).
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// DICOM SeriesInstanceUID to use (default: the CT series with most slices).
        #[arg(long)]
        series: Option<String>,
    },
    /// Run the pipeline on a built-in synthetic CT phantom and compare the result with its known truth.
    #[command(after_help = EXIT_CODES)]
    Demo {
        /// Output directory.
        #[arg(long, short, default_value = "medprint-demo")]
        out: PathBuf,
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// Exit with code 6 unless Dice ≥ 0.95, the model volume is within 1 % of the truth, the screw and the table are flagged and no metal is in the model.
        #[arg(long)]
        check: bool,
    },
    /// Compare a predicted label map with a reference: Dice, Jaccard, HD95, mean surface distance, volume, per class.
    Eval(eval::EvalArgs),
    /// Measure the default bone segmentation on every labelled scan and phantom, at several resolutions.
    Validate(validate::ValidateArgs),
    /// Train bone decision forests from labelled scans and write a model file for `convert --model`.
    Train(train::TrainArgs),
    /// Write a NIfTI scan as a DICOM CT series (one file per slice, correct geometry).
    ExportDicom(export_dicom::ExportDicomArgs),
    /// Run the order server: API, web app and in-process workers (SQLite and a local folder by default).
    Serve(server_cmd::ServeArgs),
    /// Run a job worker against the server's database and storage (scale-out).
    Worker(server_cmd::WorkerArgs),
    /// Check the hash-chained audit trail of a database (exit 7 when changed) or of a downloaded order trail.
    Verify(server_cmd::VerifyArgs),
    /// Create an order on a server, upload a scan (resumable, de-duplicated) and submit it.
    Submit(server_cmd::SubmitArgs),
    /// Show an order's state and progress, or list orders.
    Status(server_cmd::StatusArgs),
    /// Download a version's models, labels, report and the audit trail.
    Download(server_cmd::DownloadArgs),
}

#[derive(clap::Args)]
struct PipelineArgs {
    /// Modality of the scan when the file does not say (NIfTI) or says it wrongly.
    #[arg(long, value_enum)]
    modality: Option<ModalityArg>,
    /// Bone type: hard (cortical, adult) or soft (paediatric, osteoporotic).
    #[arg(long, value_enum, default_value = "hard")]
    bone: BoneArg,
    /// Use this bone threshold (HU) instead of estimating it from the histogram.
    #[arg(long)]
    threshold: Option<f32>,
    /// Smoothing iterations of the surface (0 keeps the voxel staircase).
    #[arg(long, default_value_t = 10)]
    smooth: usize,
    /// Fraction of triangles to keep when decimating (1 = no decimation).
    #[arg(long, default_value_t = 0.25)]
    keep: f32,
    /// Skip the PNG previews.
    #[arg(long)]
    no_preview: bool,
    /// A bone model written by `medprint train`, combined with the threshold pipeline.
    #[arg(long, value_name = "MODEL.bin")]
    model: Option<PathBuf>,
    /// How the threshold and model results are combined: learned (the chained forest's output), mean or vote.
    #[arg(long, value_enum, default_value = "learned")]
    fusion: FusionArg,
    /// Where the model's forests are evaluated: a subsampled grid (then interpolated), the same refined at full
    /// resolution where the result is uncertain, or every voxel.
    #[arg(long, value_enum, default_value = "refined")]
    forest_grid: ForestGridArg,
    /// Also make models at these offsets (HU) from the chosen threshold, e.g. --alternatives=-60,60.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, value_name = "HU,...")]
    alternatives: Vec<f32>,
    /// Also model these tissues, each as its own object: skin (body outline), lung, airway, fat, soft_tissue,
    /// vessel, metal, or all; labels.nii.gz then holds every class (1 bone … 8 metal).
    #[arg(long, value_name = "CLASS,...|all")]
    tissues: Option<String>,
    /// Separate touching bones (distance transform + watershed) and write DIR/bone_instances.nii.gz (one label per bone).
    #[arg(long)]
    separate_bones: bool,
    /// Prepare the bone model for printing into DIR/print/: cavities filled, separate pieces joined by dowels,
    /// auto-orientation, split to fit the build volume with 3 mm sockets and 2.8 mm pins, hard-link tag.
    #[arg(long)]
    print_ready: bool,
    /// Printer build volume in mm (with --print-ready).
    #[arg(long, value_delimiter = ',', default_values_t = [120.0, 120.0, 120.0], value_name = "X,Y,Z")]
    build_volume: Vec<f64>,
    /// Hollow the model to this wall thickness in mm, with drainage holes at the lowest points (with --print-ready).
    #[arg(long, value_name = "MM")]
    hollow: Option<f64>,
    /// Add support pillars under the local minima for the chosen orientation (with --print-ready).
    #[arg(long)]
    supports: bool,
    /// Leave out the hard-link tag (QR code and short code plate) (with --print-ready).
    #[arg(long)]
    no_tag: bool,
    /// Patient age in years (lowers the threshold for bone expected to be less dense).
    #[arg(long)]
    age: Option<f32>,
    /// Patient sex.
    #[arg(long, value_enum)]
    sex: Option<SexArg>,
    /// Patient weight in kg (heavier patients: noisier scans, wider probability).
    #[arg(long)]
    weight: Option<f32>,
    /// Brush and eraser strokes (a JSON list, as the web app's review sends them) applied to the bone
    /// mask before the surface is made: [{"mode":"add|remove","normal_axis":0-2,"slice":N,"radius_vox":R,
    /// "points_vox":[[u,v],...]},...].
    #[arg(long, value_name = "EDITS.json")]
    label_edits: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModalityArg {
    Ct,
    Mr,
    Pt,
    Nm,
}

#[derive(Clone, Copy, ValueEnum)]
enum BoneArg {
    Hard,
    Soft,
}

#[derive(Clone, Copy, ValueEnum)]
enum FusionArg {
    Learned,
    Mean,
    Vote,
}

#[derive(Clone, Copy, ValueEnum)]
enum ForestGridArg {
    Subsampled,
    Refined,
    Full,
}

#[derive(Clone, Copy, ValueEnum)]
enum SexArg {
    Female,
    Male,
    Unknown,
}

impl PipelineArgs {
    fn options(&self) -> Result<ConvertOptions, PipelineError> {
        let params = RunParams {
            modality: self.modality.map(|m| match m {
                ModalityArg::Ct => ModalityKind::Ct,
                ModalityArg::Mr => ModalityKind::Mr,
                ModalityArg::Pt => ModalityKind::Pt,
                ModalityArg::Nm => ModalityKind::Nm,
            }),
            bone: match self.bone {
                BoneArg::Hard => BoneKind::Hard,
                BoneArg::Soft => BoneKind::Soft,
            },
            threshold_hu: self.threshold,
            smooth: self.smooth,
            keep: self.keep,
            previews: !self.no_preview,
            alternatives_hu: self.alternatives.clone(),
            tissues: self.tissues.clone(),
            separate_bones: self.separate_bones,
            print_ready: self.print_ready,
            build_volume_mm: match self.build_volume.as_slice() {
                [x, y, z] => [*x, *y, *z],
                _ => {
                    return Err(PipelineError::Usage(
                        "--build-volume needs three positive sizes in mm".into(),
                    ))
                }
            },
            hollow_mm: self.hollow,
            supports: self.supports,
            tag: !self.no_tag,
            age_years: self.age,
            sex: self.sex.map(|s| match s {
                SexArg::Female => SexKind::Female,
                SexArg::Male => SexKind::Male,
                SexArg::Unknown => SexKind::Unknown,
            }),
            weight_kg: self.weight,
            label_edits: match &self.label_edits {
                Some(path) => read_label_edits(path)?,
                None => Vec::new(),
            },
        };
        let mut options = params.to_options()?;
        options.model = self.model.as_deref().map(TrainedModel::load).transpose()?;
        options.fusion = match self.fusion {
            FusionArg::Learned => FusionRule::Learned,
            FusionArg::Mean => FusionRule::WeightedMean(vec![1.0, 1.0]),
            FusionArg::Vote => FusionRule::MajorityVote,
        };
        options.forest_resolution = match self.forest_grid {
            ForestGridArg::Subsampled => ForestResolution::Subsampled,
            ForestGridArg::Refined => ForestResolution::Refined,
            ForestGridArg::Full => ForestResolution::Full,
        };
        Ok(options)
    }
}

/// Reads a `--label-edits` file; an unreadable or malformed file is a usage error naming it.
fn read_label_edits(path: &Path) -> Result<Vec<LabelEdit>, PipelineError> {
    let usage = |reason: String| PipelineError::Usage(format!("--label-edits {}: {reason}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| usage(e.to_string()))?;
    // Bounded read: the strokes of one review are far below 16 MiB.
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, 16 << 20), &mut text)
        .map_err(|e| usage(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| usage(e.to_string()))
}

fn print_summary(report: &Report) {
    let m = &report.model;
    let t = &report.segmentation.threshold;
    println!("bone threshold   {:.0} HU ({:?})", t.threshold_hu, t.method);
    println!(
        "bone volume      {:.1} cm³ ({} voxels)",
        report.segmentation.bone_volume_mm3 / 1e3,
        report.segmentation.bone_voxels
    );
    println!(
        "model            {} triangles, {} shell(s), {:.1} cm³, {:.1} cm², printable: {}",
        m.triangles,
        m.shells,
        m.volume_mm3 / 1e3,
        m.area_mm2 / 1e2,
        if m.printable { "yes" } else { "NO" }
    );
    let checks = &report.anomalies;
    println!(
        "scan checks      {} finding(s), trust in the result {:.0} %",
        checks.anomalies.len(),
        100.0 * checks.trust()
    );
    for w in &report.warnings {
        println!("warning: {w}");
    }
    for f in &report.input.skipped_files {
        println!("skipped: {f}");
    }
    println!("outputs          {}", report.outputs.join(", "));
    println!("total            {:.2} s", report.total_ms / 1e3);
}

/// Prints the plain-language reason (the one the web app shows) and, on a second line, the
/// technical detail with the paths the user gave; exits with the error's code.
fn fail(err: PipelineError) -> ExitCode {
    let message = err.user_message();
    eprintln!("error: {message}");
    let detail = err.to_string();
    if !message.contains(&detail) {
        eprintln!("detail: {detail}");
    }
    ExitCode::from(err.exit_code() as u8)
}

/// Prints `value` as JSON when asked, otherwise the human summary.
fn emit<T: Serialize>(json: bool, value: &T, summary: impl FnOnce()) -> ExitCode {
    if !json {
        summary();
        return ExitCode::SUCCESS;
    }
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: could not serialise the report: {e}");
            ExitCode::from(1)
        }
    }
}

fn print_demo_comparison(c: &DemoComparison, out: &Path) {
    println!("--- compared with the phantom's known truth ---");
    println!("Dice (bone)                 {:.4}", c.dice);
    println!("true bone volume            {:.1} cm³", c.true_volume_mm3 / 1e3);
    println!(
        "segmentation volume error   {:+.2} %",
        c.segmentation_volume_error_percent
    );
    println!("model volume error          {:+.2} %", c.model_volume_error_percent);
    println!(
        "parts                       {} model / {} true",
        c.model_parts, c.true_parts
    );
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    println!(
        "metal screw flagged         {} ({} screw voxels in the model)",
        yes_no(c.metal_flagged),
        c.metal_voxels_in_model
    );
    println!("scanner table flagged       {}", yes_no(c.table_flagged));
    println!("open {}/preview/*.png to look at the result", out.display());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()))
        .init();
    match cli.command {
        Command::Convert {
            input,
            out,
            pipeline,
            series,
        } => {
            let mut options = match pipeline.options() {
                Ok(options) => options,
                Err(err) => return fail(err),
            };
            options.load.series_uid = series;
            let bars = progress::StageBars::new(Stage::planned(&options).len());
            let result = convert_path(&input, &out, &options, &bars);
            bars.clear();
            match result {
                Ok(report) => emit(pipeline.json, &report, || print_summary(&report)),
                Err(err) => fail(err),
            }
        }
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(args),
        Command::Validate(args) => validate::run(args),
        Command::ExportDicom(args) => export_dicom::run(args),
        Command::Serve(args) => server_cmd::serve(args),
        Command::Worker(args) => server_cmd::worker(args),
        Command::Verify(args) => server_cmd::verify(args),
        Command::Submit(args) => server_cmd::submit(args),
        Command::Status(args) => server_cmd::status(args),
        Command::Download(args) => server_cmd::download(args),
        Command::Demo { out, pipeline, check } => {
            let options = match pipeline.options() {
                Ok(options) => options,
                Err(err) => return fail(err),
            };
            let bars = progress::StageBars::new(Stage::planned(&options).len());
            let result = run_demo(&out, &options, &bars);
            bars.clear();
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(err) => return fail(err),
            };
            let c = &outcome.comparison;
            let code = emit(pipeline.json, &outcome, || {
                print_summary(&outcome.report);
                print_demo_comparison(c, &out);
            });
            let met = c.dice >= 0.95
                && c.model_volume_error_percent.abs() < 1.0
                && c.metal_flagged
                && c.table_flagged
                && c.metal_voxels_in_model == 0;
            if check && !met {
                eprintln!(
                    "error: the demo missed its targets (Dice ≥ 0.95, |model volume error| < 1 %, metal and table \
                     flagged, no metal in the model)"
                );
                return ExitCode::from(6);
            }
            code
        }
    }
}
