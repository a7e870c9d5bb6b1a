//! Instant quotes: price and expected ready date of a printed model, from the anatomy asked
//! for (before processing: typical bone volumes) or from the model's measured volume (after).
//!
//! Price = setup + segmentation and review service + material (model volume plus 20 % for
//! supports and waste, at the material's price per cm³) + machine time (volume / the
//! material's build rate, at the printer's hourly rate). The ready date adds processing and
//! review (2 days), printing (whole days of machine time), post-processing and QC (1 day)
//! and delivery (1 day); express halves the queue days for 50 % more.

use chrono::{Days, NaiveDate};
use serde::Serialize;

/// A print material offered.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Material {
    /// Name shown and sent by clients.
    pub name: &'static str,
    /// Printing process.
    pub process: &'static str,
    /// Price per cm³ of printed material, EUR.
    pub eur_per_cm3: f64,
    /// Build rate, cm³ per machine hour.
    pub cm3_per_hour: f64,
    /// Machine time price, EUR per hour.
    pub eur_per_hour: f64,
    /// Sterilisable (autoclave) for use in theatre.
    pub sterilisable: bool,
}

/// Materials on offer.
pub const MATERIALS: [Material; 5] = [
    Material {
        name: "PLA",
        process: "FDM",
        eur_per_cm3: 0.06,
        cm3_per_hour: 12.0,
        eur_per_hour: 4.0,
        sterilisable: false,
    },
    Material {
        name: "PETG",
        process: "FDM",
        eur_per_cm3: 0.08,
        cm3_per_hour: 10.0,
        eur_per_hour: 4.0,
        sterilisable: false,
    },
    Material {
        name: "resin",
        process: "SLA",
        eur_per_cm3: 0.25,
        cm3_per_hour: 18.0,
        eur_per_hour: 8.0,
        sterilisable: false,
    },
    Material {
        name: "PA12",
        process: "SLS",
        eur_per_cm3: 0.45,
        cm3_per_hour: 40.0,
        eur_per_hour: 15.0,
        sterilisable: true,
    },
    Material {
        name: "clear resin",
        process: "SLA",
        eur_per_cm3: 0.30,
        cm3_per_hour: 15.0,
        eur_per_hour: 8.0,
        sterilisable: false,
    },
];

/// Typical printed bone volume of an anatomy name, cm³ (adult; for quotes before processing).
pub fn typical_volume_cm3(anatomy: &str) -> f64 {
    let a = anatomy.to_lowercase();
    let table: [(&str, f64); 14] = [
        ("skull", 650.0),
        ("mandible", 60.0),
        ("pelvis", 520.0),
        ("femur", 260.0),
        ("tibia", 180.0),
        ("humerus", 120.0),
        ("scapula", 90.0),
        ("vertebra", 35.0),
        ("spine", 240.0),
        ("rib", 350.0),
        ("knee", 300.0),
        ("hand", 80.0),
        ("foot", 150.0),
        ("hip", 400.0),
    ];
    table
        .iter()
        .find(|(k, _)| a.contains(k))
        .map(|(_, v)| *v)
        .unwrap_or(200.0)
}

/// Fixed setup fee, EUR.
pub const SETUP_EUR: f64 = 80.0;
/// Segmentation, review and print preparation service, EUR.
pub const SERVICE_EUR: f64 = 150.0;
/// Extra material for supports and waste.
pub const SUPPORT_FACTOR: f64 = 1.2;

/// A quote.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    /// Material quoted.
    pub material: Material,
    /// Model volume used, cm³.
    pub volume_cm3: f64,
    /// Whether the volume was measured on the model (else typical for the anatomy).
    pub measured: bool,
    /// Total price, EUR (rounded to cents).
    pub price_eur: f64,
    /// Price parts, EUR.
    pub breakdown: Vec<(String, f64)>,
    /// Machine hours.
    pub print_hours: f64,
    /// Expected ready (delivered) date.
    pub ready_date: NaiveDate,
    /// Express service was needed to meet the deadline (and is priced in).
    pub express: bool,
    /// The ready date is on or before the deadline (true without a deadline).
    pub meets_deadline: bool,
}

/// The material called `name` (case-insensitive).
pub fn material(name: &str) -> Option<Material> {
    MATERIALS.into_iter().find(|m| m.name.eq_ignore_ascii_case(name.trim()))
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Quotes `volume_cm3` of `material` ordered on `today`, choosing express service when the
/// normal date misses `deadline` and express meets it.
pub fn quote(
    volume_cm3: f64,
    measured: bool,
    material: Material,
    today: NaiveDate,
    deadline: Option<NaiveDate>,
) -> Quote {
    let volume = volume_cm3.max(1.0);
    let material_eur = volume * SUPPORT_FACTOR * material.eur_per_cm3;
    let print_hours = volume * SUPPORT_FACTOR / material.cm3_per_hour;
    let machine_eur = print_hours * material.eur_per_hour;
    let print_days = (print_hours / 24.0).ceil() as u64;
    let days = |express: bool| {
        if express {
            1 + print_days + 1
        } else {
            2 + print_days + 1 + 1
        }
    };
    let date = |express: bool| today.checked_add_days(Days::new(days(express))).unwrap_or(today);
    let normal = date(false);
    let express = deadline.is_some_and(|d| normal > d && date(true) <= d);
    let ready_date = date(express);
    let mut breakdown = vec![
        ("setup".to_string(), SETUP_EUR),
        ("segmentation, review and print preparation".to_string(), SERVICE_EUR),
        (
            format!("{} {:.0} cm³ incl. supports", material.name, volume * SUPPORT_FACTOR),
            round_cents(material_eur),
        ),
        (
            format!("{} machine time {:.1} h", material.process, print_hours),
            round_cents(machine_eur),
        ),
    ];
    let subtotal: f64 = breakdown.iter().map(|(_, v)| v).sum();
    if express {
        breakdown.push(("express service (+50 %)".to_string(), round_cents(subtotal * 0.5)));
    }
    Quote {
        material,
        volume_cm3: volume,
        measured,
        price_eur: round_cents(breakdown.iter().map(|(_, v)| v).sum()),
        breakdown,
        print_hours,
        ready_date,
        express,
        meets_deadline: deadline.is_none_or(|d| ready_date <= d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn price_adds_up_and_scales_with_volume() {
        let pla = material("pla").unwrap();
        let q = quote(100.0, true, pla, day("2026-11-28"), None);
        // 80 + 150 + 120 cm³ × 0.06 + 10 h × 4.
        assert_eq!(q.price_eur, 80.0 + 150.0 + 7.2 + 40.0);
        assert!((q.print_hours - 10.0).abs() < 1e-9);
        assert_eq!(q.ready_date, day("2026-12-03"));
        assert!(q.meets_deadline && !q.express);
        assert!(quote(200.0, true, pla, day("2026-11-28"), None).price_eur > q.price_eur);
    }

    #[test]
    fn express_is_chosen_only_when_it_meets_the_deadline() {
        let resin = material("resin").unwrap();
        let tight = quote(100.0, true, resin, day("2026-11-28"), Some(day("2026-12-01")));
        assert!(tight.express && tight.meets_deadline, "{tight:?}");
        let impossible = quote(100.0, true, resin, day("2026-11-28"), Some(day("2026-11-29")));
        assert!(!impossible.express && !impossible.meets_deadline);
        let relaxed = quote(100.0, true, resin, day("2026-11-28"), Some(day("2027-01-10")));
        assert!(!relaxed.express);
        assert!(tight.price_eur > relaxed.price_eur);
    }

    #[test]
    fn anatomy_volumes_and_unknown_materials() {
        assert_eq!(typical_volume_cm3("Left Femur"), 260.0);
        assert_eq!(typical_volume_cm3("something else"), 200.0);
        assert!(material("unobtainium").is_none());
    }
}
