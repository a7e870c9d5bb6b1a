//! Roles, the permission matrix, order states and the quality gates.
//!
//! The workflow: draft → uploaded → processing → review → sign_off → print_preparation →
//! printing → quality_control → shipped → delivered (and cancelled). Each [`Action`] is allowed
//! to a fixed set of [`Role`]s ([`Role::may`]) and, for order actions, only in some states
//! ([`Action::allowed_in`]); printing starts only when every gate of [`GATES_BEFORE_PRINTING`]
//! has been passed on the current version by the role that owns it.

use serde::{Deserialize, Serialize};

/// What a user is in their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Surgeon or other clinician: orders models and approves them.
    Surgeon,
    /// Radiologist: provides scans and verifies the segmentation.
    Radiologist,
    /// Clinical director: approves the spend.
    ClinicalDirector,
    /// Biomedical engineer: prepares and approves the print plan.
    BiomedicalEngineer,
    /// Print technician: prints, checks quality, ships.
    PrintTechnician,
    /// Administrator of one organisation: its users, read access, audit trail.
    OrgAdmin,
    /// Administrator of the whole server: organisations and their administrators only.
    SystemAdmin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::Surgeon,
        Role::Radiologist,
        Role::ClinicalDirector,
        Role::BiomedicalEngineer,
        Role::PrintTechnician,
        Role::OrgAdmin,
        Role::SystemAdmin,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Surgeon => "surgeon",
            Role::Radiologist => "radiologist",
            Role::ClinicalDirector => "clinical_director",
            Role::BiomedicalEngineer => "biomedical_engineer",
            Role::PrintTechnician => "print_technician",
            Role::OrgAdmin => "org_admin",
            Role::SystemAdmin => "system_admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may perform `action` at all (states are checked separately).
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        use Role::*;
        match action {
            CreateOrg | ListOrgs => self == SystemAdmin,
            CreateUser | ListUsers => matches!(self, OrgAdmin | SystemAdmin),
            CreateToken => true,
            ViewOrder | ListOrders | Download => self != SystemAdmin,
            CreateOrder => matches!(self, Surgeon | Radiologist),
            Upload | Submit => matches!(self, Surgeon | Radiologist),
            Annotate => matches!(self, Surgeon | Radiologist | BiomedicalEngineer),
            ApproveModel => self == Surgeon,
            VerifySegmentation => self == Radiologist,
            RequestChanges => matches!(self, Surgeon | Radiologist | BiomedicalEngineer),
            // The surgeon who ordered re-runs a failed order with other parameters.
            Rerun => matches!(self, Surgeon | Radiologist | BiomedicalEngineer),
            CancelJob => matches!(self, Surgeon | Radiologist | BiomedicalEngineer),
            SignOff | Decline => self == ClinicalDirector,
            ApprovePrintPlan => self == BiomedicalEngineer,
            StartPrinting | FinishPrinting | RecordQc | Ship => self == PrintTechnician,
            ConfirmDelivery => self == Surgeon,
            CancelOrder => matches!(self, Surgeon | ClinicalDirector | OrgAdmin),
            ViewAudit => matches!(self, OrgAdmin | ClinicalDirector),
        }
    }
}

/// Something a user asks the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create an organisation.
    CreateOrg,
    /// List organisations.
    ListOrgs,
    /// Create a user.
    CreateUser,
    /// List users.
    ListUsers,
    /// Create an API token for oneself.
    CreateToken,
    /// Read an order, its files, jobs, versions, annotations.
    ViewOrder,
    /// List orders.
    ListOrders,
    /// Download a version's files.
    Download,
    /// Create an order.
    CreateOrder,
    /// Upload scan files.
    Upload,
    /// Submit the uploaded scan for processing.
    Submit,
    /// Annotate a model.
    Annotate,
    /// Clinician approves the model (gate `model_approved`).
    ApproveModel,
    /// Radiologist verifies the segmentation (gate `segmentation_verified`).
    VerifySegmentation,
    /// Ask for changes: a new version is made with changed parameters.
    RequestChanges,
    /// Re-run with changed parameters.
    Rerun,
    /// Cancel a queued or running job.
    CancelJob,
    /// Clinical director approves the spend (gate `spend_approved`).
    SignOff,
    /// Clinical director declines: back to review.
    Decline,
    /// Biomedical engineer approves the print plan (gate `print_plan_approved`).
    ApprovePrintPlan,
    /// Printing starts (needs every gate).
    StartPrinting,
    /// Printing ends.
    FinishPrinting,
    /// Quality control: measured dimensions against the model.
    RecordQc,
    /// Shipped (needs QC passed).
    Ship,
    /// Delivered.
    ConfirmDelivery,
    /// Cancel the order before printing.
    CancelOrder,
    /// Read the order's audit trail.
    ViewAudit,
}

/// State of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Created, files being uploaded.
    Draft,
    /// Submitted, waiting for a worker.
    Uploaded,
    /// A worker runs the pipeline.
    Processing,
    /// Clinician and radiologist review the model.
    Review,
    /// Clinical director approves the spend.
    SignOff,
    /// Engineer prepares the print.
    PrintPreparation,
    /// Printing.
    Printing,
    /// Technician measures the print.
    QualityControl,
    /// On its way.
    Shipped,
    /// Received.
    Delivered,
    /// Stopped before printing.
    Cancelled,
}

impl OrderState {
    /// Every state, in workflow order.
    pub const ALL: [OrderState; 11] = [
        OrderState::Draft,
        OrderState::Uploaded,
        OrderState::Processing,
        OrderState::Review,
        OrderState::SignOff,
        OrderState::PrintPreparation,
        OrderState::Printing,
        OrderState::QualityControl,
        OrderState::Shipped,
        OrderState::Delivered,
        OrderState::Cancelled,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Draft => "draft",
            OrderState::Uploaded => "uploaded",
            OrderState::Processing => "processing",
            OrderState::Review => "review",
            OrderState::SignOff => "sign_off",
            OrderState::PrintPreparation => "print_preparation",
            OrderState::Printing => "printing",
            OrderState::QualityControl => "quality_control",
            OrderState::Shipped => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A quality gate: who must pass it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Stored name.
    pub name: &'static str,
    /// The role that passes it.
    pub role: Role,
}

/// Gates that must all be passed on the current version before printing starts.
pub const GATES_BEFORE_PRINTING: [Gate; 4] = [
    Gate {
        name: "model_approved",
        role: Role::Surgeon,
    },
    Gate {
        name: "segmentation_verified",
        role: Role::Radiologist,
    },
    Gate {
        name: "spend_approved",
        role: Role::ClinicalDirector,
    },
    Gate {
        name: "print_plan_approved",
        role: Role::BiomedicalEngineer,
    },
];

/// The gate QC records; shipping needs it passed.
pub const QC_GATE: &str = "quality_control";

impl Action {
    /// The states an order action is allowed in (empty for actions that are not on an order).
    pub fn allowed_in(self) -> &'static [OrderState] {
        use OrderState as S;
        match self {
            Action::Upload | Action::Submit => &[S::Draft],
            Action::Annotate => &[S::Review, S::SignOff, S::PrintPreparation],
            Action::ApproveModel | Action::VerifySegmentation | Action::RequestChanges => &[S::Review],
            Action::Rerun => &[S::Uploaded, S::Review, S::PrintPreparation],
            Action::CancelJob => &[S::Uploaded, S::Processing],
            Action::SignOff | Action::Decline => &[S::SignOff],
            Action::ApprovePrintPlan | Action::StartPrinting => &[S::PrintPreparation],
            Action::FinishPrinting => &[S::Printing],
            Action::RecordQc | Action::Ship => &[S::QualityControl],
            Action::ConfirmDelivery => &[S::Shipped],
            Action::CancelOrder => &[
                S::Draft,
                S::Uploaded,
                S::Processing,
                S::Review,
                S::SignOff,
                S::PrintPreparation,
            ],
            _ => &[],
        }
    }

    /// The state an order moves to after this action (the same state for gate-only actions;
    /// review → sign-off happens when both review gates are passed).
    pub fn next_state(self, from: OrderState) -> OrderState {
        use OrderState as S;
        match self {
            Action::Submit | Action::RequestChanges | Action::Rerun => S::Uploaded,
            Action::SignOff => S::PrintPreparation,
            Action::Decline => S::Review,
            Action::StartPrinting => S::Printing,
            Action::FinishPrinting => S::QualityControl,
            Action::Ship => S::Shipped,
            Action::ConfirmDelivery => S::Delivered,
            Action::CancelOrder => S::Cancelled,
            _ => from,
        }
    }

    /// The gate this action records, if any.
    pub fn gate(self) -> Option<&'static str> {
        match self {
            Action::ApproveModel => Some("model_approved"),
            Action::VerifySegmentation => Some("segmentation_verified"),
            Action::SignOff => Some("spend_approved"),
            Action::ApprovePrintPlan => Some("print_plan_approved"),
            Action::RecordQc => Some(QC_GATE),
            _ => None,
        }
    }

    /// Name used in URLs (`POST /api/orders/{id}/actions/{name}`) and audit records.
    pub fn as_str(self) -> &'static str {
        use Action::*;
        match self {
            CreateOrg => "create_org",
            ListOrgs => "list_orgs",
            CreateUser => "create_user",
            ListUsers => "list_users",
            CreateToken => "create_token",
            ViewOrder => "view_order",
            ListOrders => "list_orders",
            Download => "download",
            CreateOrder => "create_order",
            Upload => "upload",
            Submit => "submit",
            Annotate => "annotate",
            ApproveModel => "approve_model",
            VerifySegmentation => "verify_segmentation",
            RequestChanges => "request_changes",
            Rerun => "rerun",
            CancelJob => "cancel_job",
            SignOff => "sign_off",
            Decline => "decline",
            ApprovePrintPlan => "approve_print_plan",
            StartPrinting => "start_printing",
            FinishPrinting => "finish_printing",
            RecordQc => "record_qc",
            Ship => "ship",
            ConfirmDelivery => "confirm_delivery",
            CancelOrder => "cancel_order",
            ViewAudit => "view_audit",
        }
    }

    /// Actions taken through `POST /api/orders/{id}/actions/{name}`.
    pub const WORKFLOW: [Action; 14] = [
        Action::Submit,
        Action::ApproveModel,
        Action::VerifySegmentation,
        Action::RequestChanges,
        Action::Rerun,
        Action::SignOff,
        Action::Decline,
        Action::ApprovePrintPlan,
        Action::StartPrinting,
        Action::FinishPrinting,
        Action::RecordQc,
        Action::Ship,
        Action::ConfirmDelivery,
        Action::CancelOrder,
    ];

    /// Parses a workflow action name.
    pub fn parse_workflow(s: &str) -> Option<Action> {
        Action::WORKFLOW.into_iter().find(|a| a.as_str() == s)
    }
}

/// Gates of [`GATES_BEFORE_PRINTING`] not yet passed, given the gates recorded with the role
/// that passed each.
pub fn missing_gates<'a>(passed: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Vec<&'static str> {
    GATES_BEFORE_PRINTING
        .iter()
        .filter(|g| {
            !passed
                .clone()
                .into_iter()
                .any(|(name, role)| name == g.name && role == g.role.as_str())
        })
        .map(|g| g.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gate_has_exactly_one_role_that_may_pass_it() {
        for g in GATES_BEFORE_PRINTING {
            let action = Action::WORKFLOW.into_iter().find(|a| a.gate() == Some(g.name)).unwrap();
            let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| r.may(action)).collect();
            assert_eq!(roles, vec![g.role], "{}", g.name);
        }
    }

    #[test]
    fn system_admin_sees_no_patient_data() {
        for a in [
            Action::ViewOrder,
            Action::ListOrders,
            Action::Download,
            Action::CreateOrder,
            Action::ViewAudit,
        ] {
            assert!(!Role::SystemAdmin.may(a), "{a:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
        for a in Action::WORKFLOW {
            assert_eq!(Action::parse_workflow(a.as_str()), Some(a));
            assert!(!a.allowed_in().is_empty(), "{a:?} must be allowed somewhere");
        }
    }

    #[test]
    fn missing_gates_need_the_right_role() {
        let passed = [("model_approved", "surgeon"), ("segmentation_verified", "surgeon")];
        assert_eq!(
            missing_gates(passed.iter().copied()),
            vec!["segmentation_verified", "spend_approved", "print_plan_approved"]
        );
    }
}
