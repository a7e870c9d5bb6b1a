//! medprint-mesh
