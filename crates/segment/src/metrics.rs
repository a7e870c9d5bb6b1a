//! Agreement metrics between masks (nonzero = foreground).

use crate::SegmentError;
use rayon::prelude::*;

/// Dice overlap `2|A∩B| / (|A|+|B|)` in `[0, 1]`; 1 when both masks are empty.
pub fn dice(a: &[u8], b: &[u8]) -> Result<f64, SegmentError> {
    if a.len() != b.len() {
        return Err(SegmentError::SizeMismatch {
            left: a.len(),
            right: b.len(),
        });
    }
    let (both, na, nb) = a
        .par_iter()
        .zip(b)
        .map(|(&x, &y)| (u64::from(x != 0 && y != 0), u64::from(x != 0), u64::from(y != 0)))
        .reduce(|| (0, 0, 0), |p, q| (p.0 + q.0, p.1 + q.1, p.2 + q.2));
    Ok(if na + nb == 0 {
        1.0
    } else {
        2.0 * both as f64 / (na + nb) as f64
    })
}

/// Signed volume error of `segmented` against `reference` in percent of the reference volume;
/// `None` when the reference is empty.
pub fn volume_error_percent(segmented: &[u8], reference: &[u8]) -> Result<Option<f64>, SegmentError> {
    if segmented.len() != reference.len() {
        return Err(SegmentError::SizeMismatch {
            left: segmented.len(),
            right: reference.len(),
        });
    }
    let count = |m: &[u8]| m.par_iter().filter(|&&v| v != 0).count() as f64;
    let (s, r) = (count(segmented), count(reference));
    Ok((r > 0.0).then(|| 100.0 * (s - r) / r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_and_volume_error() {
        assert_eq!(dice(&[1, 1, 0, 0], &[1, 0, 1, 0]).expect("dice"), 0.5);
        assert_eq!(dice(&[0, 0], &[0, 0]).expect("dice"), 1.0);
        assert!(dice(&[1], &[1, 1]).is_err());
        assert_eq!(
            volume_error_percent(&[1, 1, 1, 0], &[1, 1, 0, 0]).expect("len"),
            Some(50.0)
        );
        assert_eq!(volume_error_percent(&[1], &[0]).expect("len"), None);
    }
}
