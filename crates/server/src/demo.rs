//! `medprint serve --demo`: a ready-to-try server. On an empty database it creates the
//! "Demo Hospital" with one user of every role and submits a demo order: the synthetic knee
//! phantom written as a DICOM series carrying a (fictitious) patient identity, which the server
//! de-identifies on arrival and processes like any other order.

use std::path::Path;

use medprint_phantom::{knee_phantom, KneePhantomSpec};
use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions, WriteTransferSyntax};
use serde_json::json;

use crate::client::{patient_key, Client, ClientError};
use crate::FIRST_ADMIN_EMAIL;

/// Password of every demo user (the server listens on loopback by default).
pub const DEMO_PASSWORD: &str = "medprint demo password";
/// Name of the demo organisation.
pub const DEMO_ORG: &str = "Demo Hospital";
/// Roles of the demo users; each signs in as `<role>@demo.hospital`.
pub const DEMO_ROLES: [&str; 6] = [
    "org_admin",
    "surgeon",
    "radiologist",
    "clinical_director",
    "biomedical_engineer",
    "print_technician",
];

/// Creates the demo organisation, users and order unless they exist; returns the order id
/// (`None` when the demo was seeded before).
pub async fn seed_demo(base: &str, admin_password: &str, scratch: &Path) -> Result<Option<String>, ClientError> {
    let admin = Client::login(base, FIRST_ADMIN_EMAIL, admin_password).await?;
    let orgs = admin.get("/api/orgs").await?;
    if orgs.as_array().is_some_and(|o| o.iter().any(|o| o["name"] == DEMO_ORG)) {
        return Ok(None);
    }
    let org = admin.post("/api/orgs", &json!({"name": DEMO_ORG})).await?;
    let email = |role: &str| format!("{role}@demo.hospital");
    admin
        .post(
            "/api/users",
            &json!({"email": email("org_admin"), "name": "Demo administrator", "role": "org_admin",
                    "password": DEMO_PASSWORD, "org_id": org["id"]}),
        )
        .await?;
    let org_admin = Client::login(base, &email("org_admin"), DEMO_PASSWORD).await?;
    for role in &DEMO_ROLES[1..] {
        let name = format!("Demo {}", role.replace('_', " "));
        org_admin
            .post(
                "/api/users",
                &json!({"email": email(role), "name": name, "role": role, "password": DEMO_PASSWORD}),
            )
            .await?;
    }
    let surgeon = Client::login(base, &email("surgeon"), DEMO_PASSWORD).await?;
    let prescription = json!({
        "anatomy": ["knee"], "scan_type": "ct", "bone_type": "hard", "patient_age": 54, "sex": "male",
        "weight_kg": 82, "material_preferences": ["PLA"], "notes": "Demo order: synthetic knee phantom with a screw.",
    });
    let order = surgeon
        .create_order(
            &prescription,
            &patient_key(b"demo organisation secret", "DEMO-PATIENT-1"),
        )
        .await?;
    let order_id = order["id"].as_str().unwrap_or_default().to_string();
    let phantom = knee_phantom(&KneePhantomSpec::demo());
    let series = scratch.join("demo-series");
    let options = WriteSeriesOptions {
        transfer_syntax: WriteTransferSyntax::JpegLsLossless,
        patient_name: "DEMO^PATIENT".into(),
        patient_id: "DEMO-PATIENT-1".into(),
        patient_birth_date: "19720101".into(),
        ..Default::default()
    };
    write_dicom_series(&series, &phantom.ct, &options).map_err(|e| ClientError::Io {
        path: series.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    surgeon.upload_dir(&order_id, &series, 4, |_, _| {}).await?;
    let _ = std::fs::remove_dir_all(&series);
    surgeon
        .action(&order_id, "submit", &json!({"comment": "demo order"}))
        .await?;
    Ok(Some(order_id))
}
