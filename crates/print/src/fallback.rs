//! What print preparation does when a step fails on a part: the step is retried where an
//! alternative exists (see `split`), and otherwise left out for that part, the model is still
//! made and the reason is recorded, so that an order always reaches review. Only invalid
//! parameters (the caller's mistake) and a failure that leaves no model at all stop preparation.

use serde::Serialize;
use tracing::warn;

use crate::error::PrintError;

/// A print-preparation step that can be left out for a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintStep {
    /// The input checks (closed, manifold) and the repair pass on an open input.
    Input,
    /// Filling internal cavities.
    Cavities,
    /// The orientation search and the overhang measure.
    Orientation,
    /// Drainage or access channels.
    Channel,
    /// Hollowing to a wall with drains.
    Hollow,
    /// Dowels between separate pieces.
    Dowels,
    /// Splitting for the build volume.
    Split,
    /// Support pillars.
    Supports,
    /// The hard-link tag plate.
    Tag,
}

/// One step done differently or left out, in the print report and among the run's warnings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fallback {
    /// The step concerned.
    pub step: PrintStep,
    /// Names of the parts concerned (input part names).
    pub parts: Vec<String>,
    /// What was done instead, in plain language (what the technician has to do, if anything).
    pub instead: String,
    /// Why: the failure of the step (technical, for the log and the report).
    pub reason: String,
}

impl Fallback {
    /// The warning shown to users: the parts, then what was done instead (no technical detail).
    pub fn warning(&self) -> String {
        let parts = if self.parts.is_empty() {
            "the model".to_string()
        } else {
            self.parts.join(", ")
        };
        format!("print preparation ({parts}): {}", self.instead)
    }
}

/// The fallbacks of one [`crate::prepare`] run.
#[derive(Debug, Default)]
pub(crate) struct Fallbacks {
    pub(crate) taken: Vec<Fallback>,
}

impl Fallbacks {
    /// `Ok(Some(value))` when the step worked; `Ok(None)` after recording the fallback when it
    /// failed on the geometry; `Err` for an invalid parameter, which no fallback can mend.
    pub(crate) fn or_leave_out<T>(
        &mut self,
        result: Result<T, PrintError>,
        step: PrintStep,
        parts: &[&str],
        instead: &str,
    ) -> Result<Option<T>, PrintError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(e @ PrintError::BadParameter { .. }) => Err(e),
            Err(e) => {
                self.record(step, parts, instead.to_string(), e.to_string());
                Ok(None)
            }
        }
    }

    /// Records that `step` was done differently (or not at all) on `parts`.
    pub(crate) fn record(&mut self, step: PrintStep, parts: &[&str], instead: String, reason: String) {
        warn!(?step, ?parts, %reason, "print preparation step left out or changed");
        self.taken.push(Fallback {
            step,
            parts: parts.iter().map(|p| p.to_string()).collect(),
            instead,
            reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_failures_are_recorded_and_bad_parameters_kept() {
        let mut fallbacks = Fallbacks::default();
        let failed: Result<u8, PrintError> = Err(PrintError::Infeasible("a split part is not closed".into()));
        let kept = fallbacks.or_leave_out(failed, PrintStep::Split, &["femur"], "left whole");
        assert_eq!(kept, Ok(None));
        assert_eq!(fallbacks.taken.len(), 1);
        assert_eq!(fallbacks.taken[0].warning(), "print preparation (femur): left whole");
        assert_eq!(fallbacks.taken[0].reason, "a split part is not closed");
        let bad: Result<u8, PrintError> = Err(PrintError::BadParameter {
            name: "wall_mm",
            value: -1.0,
            why: "must be finite and > 0",
        });
        assert!(fallbacks
            .or_leave_out(bad, PrintStep::Hollow, &["femur"], "left solid")
            .is_err());
        assert_eq!(
            fallbacks.or_leave_out(Ok(3u8), PrintStep::Tag, &[], "none"),
            Ok(Some(3))
        );
        assert_eq!(fallbacks.taken.len(), 1);
    }
}
