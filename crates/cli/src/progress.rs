//! Terminal progress: one bar over the pipeline's stages plus a spinner for the running stage.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use medprint_pipeline::{Progress, Stage};

/// indicatif bars fed by the pipeline's [`Progress`] callbacks (drawn on stderr, hidden when
/// stderr is not a terminal).
pub struct StageBars {
    overall: ProgressBar,
    current: ProgressBar,
    _multi: MultiProgress,
}

impl StageBars {
    /// Bars for a run of `stages` stages (see [`Stage::planned`]).
    pub fn new(stages: usize) -> Self {
        let multi = MultiProgress::new();
        let stages = stages as u64;
        let overall = multi.add(ProgressBar::new(stages));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:>10} [{bar:30.cyan/blue}] {pos}/{len} stages, {elapsed_precise} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        overall.set_prefix("medprint");
        let current = multi.add(ProgressBar::new_spinner());
        current.set_style(
            ProgressStyle::with_template("{prefix:>10} {spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        current.set_prefix("stage");
        current.enable_steady_tick(Duration::from_millis(100));
        Self {
            overall,
            current,
            _multi: multi,
        }
    }

    /// Removes the bars from the terminal.
    pub fn clear(&self) {
        self.current.finish_and_clear();
        self.overall.finish_and_clear();
    }
}

impl Progress for StageBars {
    fn start(&self, stage: Stage) {
        self.current.reset_elapsed();
        self.current.set_message(stage.label());
    }

    fn advance(&self, stage: Stage, fraction: f32, step: &str) {
        let percent = 100.0 * fraction.clamp(0.0, 1.0);
        self.current
            .set_message(format!("{}: {step} {percent:>3.0} %", stage.label()));
    }

    fn finish(&self, stage: Stage, millis: f64) {
        self.overall.inc(1);
        self.overall
            .println(format!("  ✓ {:<16} {:>8.0} ms", stage.label(), millis));
    }
}
