//! medprint-segment
