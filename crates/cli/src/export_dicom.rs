//! `medprint export-dicom`: writes a NIfTI scan as a DICOM CT series with correct geometry
//! (for testing DICOM tools and the order server with real data, and for sending a converted
//! scan to a PACS).

use std::path::PathBuf;
use std::process::ExitCode;

use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions, WriteTransferSyntax};
use medprint_volume::nifti::read_nifti_scan;

/// Arguments of `medprint export-dicom`.
#[derive(clap::Args)]
pub struct ExportDicomArgs {
    /// NIfTI scan (.nii or .nii.gz) with int16 values (HU for CT).
    pub input: PathBuf,
    /// Output folder (one file per slice).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Patient's Name written into every file (DICOM PN, e.g. DOE^JANE).
    #[arg(long, default_value = "Anonymous")]
    pub patient_name: String,
    /// Patient ID.
    #[arg(long, default_value = "ANON")]
    pub patient_id: String,
    /// Patient's Birth Date, YYYYMMDD.
    #[arg(long, default_value = "")]
    pub birth_date: String,
    /// Store pixels JPEG-LS lossless (else uncompressed explicit VR little endian).
    #[arg(long)]
    pub jpeg_ls: bool,
}

/// Runs the command.
pub fn run(args: ExportDicomArgs) -> ExitCode {
    let scan = match read_nifti_scan(&args.input) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    if scan.slope != 1.0 || scan.intercept != 0.0 {
        eprintln!(
            "warning: {} was rescaled to 16 bits; stored values are written",
            args.input.display()
        );
    }
    let options = WriteSeriesOptions {
        transfer_syntax: if args.jpeg_ls {
            WriteTransferSyntax::JpegLsLossless
        } else {
            WriteTransferSyntax::ExplicitVrLittleEndian
        },
        patient_name: args.patient_name,
        patient_id: args.patient_id,
        patient_birth_date: args.birth_date,
        ..Default::default()
    };
    match write_dicom_series(&args.out, &scan.volume, &options) {
        Ok(files) => {
            println!("wrote {} slices to {}", files.len(), args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(5)
        }
    }
}
