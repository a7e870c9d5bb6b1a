//! Histogram plot: marker lines sit at the HU they name on the plotted axis.

use image::RgbImage;
use medprint_preview::palette::{AXIS_GRAY, THRESHOLD_RED};
use medprint_preview::{render_histogram_plot, write_histogram_plot, PreviewError};

/// Columns that contain `color` in more than `min_run` pixels.
fn columns_with(img: &RgbImage, color: [u8; 3], min_run: u32) -> Vec<u32> {
    (0..img.width())
        .filter(|&x| (0..img.height()).filter(|&y| img.get_pixel(x, y).0 == color).count() as u32 > min_run)
        .collect()
}

/// Bimodal CT-like histogram: fat/soft tissue peak near 40 HU, bone tail up to 1500 HU.
fn synthetic_counts(min_hu: i32, max_hu: i32) -> Vec<u64> {
    (min_hu..max_hu)
        .map(|hu| {
            let hu = f64::from(hu);
            let soft = 1e6 * (-((hu - 40.0) / 60.0).powi(2)).exp();
            let bone = 2e3 * (-((hu - 700.0) / 300.0).powi(2)).exp();
            (soft + bone) as u64
        })
        .collect()
}

#[test]
fn threshold_line_is_at_its_hu() {
    let (min_hu, max_hu) = (-1024, 2000);
    let counts = synthetic_counts(min_hu, max_hu);
    let peak_color = [90, 210, 110];
    for threshold in [226.0f32, -500.0, 1234.0] {
        let markers = vec![
            ("threshold".to_string(), threshold, THRESHOLD_RED),
            ("peak".to_string(), 40.0, peak_color),
        ];
        let img = render_histogram_plot(min_hu, &counts, &markers, "bone threshold").expect("plot");
        // The frame's vertical lines are the only long runs of the axis colour.
        let frame = columns_with(&img, AXIS_GRAY, img.height() / 2);
        let (&left, &right) = (frame.first().expect("frame"), frame.last().expect("frame"));
        assert!(right > left + 500, "plot frame {left}..{right}");
        let expected =
            |hu: f32| f64::from(left) + f64::from(hu - min_hu as f32) / counts.len() as f64 * f64::from(right - left);
        let red = columns_with(&img, THRESHOLD_RED, img.height() / 3);
        assert!(!red.is_empty(), "no threshold line for {threshold}");
        for x in &red {
            assert!(
                (f64::from(*x) - expected(threshold)).abs() <= 1.5,
                "threshold {threshold} drawn at {x}, want {}",
                expected(threshold)
            );
        }
        let green = columns_with(&img, peak_color, img.height() / 3);
        assert!(
            green.iter().all(|&x| (f64::from(x) - expected(40.0)).abs() <= 1.5),
            "peak drawn at {green:?}"
        );
    }
}

#[test]
fn rejects_empty_and_non_finite_input() {
    assert!(matches!(
        render_histogram_plot(0, &[], &[], "t"),
        Err(PreviewError::EmptyHistogram)
    ));
    let bad = vec![("nan".to_string(), f32::NAN, THRESHOLD_RED)];
    assert!(matches!(
        render_histogram_plot(0, &[1, 2, 3], &bad, "t"),
        Err(PreviewError::NonFiniteMarker { .. })
    ));
    // Off-scale markers and single-bin or all-zero histograms still render.
    let off = vec![("far".to_string(), 5000.0, THRESHOLD_RED)];
    let img = render_histogram_plot(0, &[0], &off, "").expect("renders");
    assert!(columns_with(&img, THRESHOLD_RED, img.height() / 3).is_empty());
    assert!(render_histogram_plot(i32::MIN, &[u64::MAX, 0], &[], "extreme").is_ok());
}

#[test]
fn writes_png() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = std::env::var_os("MEDPRINT_PREVIEW_KEEP").map(std::path::PathBuf::from);
    let dir = keep.as_deref().unwrap_or(dir.path());
    let path = dir.join("histogram.png");
    let markers = vec![
        ("threshold".to_string(), 226.0, THRESHOLD_RED),
        ("soft-tissue peak".to_string(), 40.0, [90, 210, 110]),
        ("inflection".to_string(), 480.0, [250, 200, 60]),
    ];
    write_histogram_plot(&path, -1024, &synthetic_counts(-1024, 2000), &markers, "CT histogram").expect("written");
    assert_eq!(
        image::open(&path).expect("png").width(),
        medprint_preview::histogram::PLOT_WIDTH_PX
    );
    assert!(write_histogram_plot(&dir.join("missing/dir/h.png"), 0, &[1], &[], "t").is_err());
}
