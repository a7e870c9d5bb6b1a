//! medprint-print: turns conditioned shells (patient mm) into parts a printer can make
//! (seed §5). Work in progress.
