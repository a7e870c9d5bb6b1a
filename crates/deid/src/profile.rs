//! The attribute table of the Basic Application Level Confidentiality Profile
//! (DICOM PS3.15 Annex E, Table E.1-1) and the rule that decides what happens to one element.
//!
//! The standard gives several attributes a compound action whose choice depends on the
//! attribute's type in the IOD of the instance (for example "X/Z" or "Z/D"). This crate does not
//! evaluate IODs; it resolves compound actions once, conservatively, as follows:
//!
//! | Standard | Here | Why |
//! |----------|------|-----|
//! | Z/D, X/Z, X/Z/D | [`Action::Z`] | an empty value is valid for Type 2 and 3 attributes and removes the content |
//! | X/D | [`Action::X`] | these attributes are Type 3 in the IODs the order server receives |
//! | X/Z/U* (Referenced Image Sequence, Source Image Sequence) | not listed | the sequence is kept and its items are processed like any data set, so the UIDs inside are replaced (U) and everything else follows the table |
//!
//! Options applied on top of the basic profile:
//! - *Retain Patient Characteristics Option* (for the four attributes the segmentation pipeline
//!   uses only): Patient's Sex, Patient's Age, Patient's Size and Patient's Weight are
//!   [`Action::K`]. Every other patient characteristic (ethnic group, smoking status, ...)
//!   follows the basic profile.
//! - *Retain Longitudinal Temporal Information with Full Dates Option* only when
//!   [`DeidPolicy::keep_dates`](crate::DeidPolicy::keep_dates) is set: listed attributes whose VR
//!   is DA, DT or TM are kept, except Patient's Birth Date and Patient's Birth Time.
//!
//! Besides the table, [`rule_for`] removes every private element (odd group), every element of
//! the repeating curve groups (50xx,xxxx) and of the overlay groups (60xx,xxxx): Table E.1-1
//! lists Overlay Data (60xx,3000) and Overlay Comments (60xx,4000) as X, and an overlay plane
//! whose data is gone is removed whole so that no incomplete plane remains.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use serde::Serialize;

/// What the profile does with an attribute (PS3.15 Table E.1-1 action codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// Replace with a non-zero-length dummy value consistent with the VR (see [`dummy_text`]).
    D,
    /// Replace with a zero-length value.
    Z,
    /// Remove the element.
    X,
    /// Keep the element (sequences are kept and their items processed).
    K,
    /// Replace the UID with a consistent new UID (see [`crate::uid::replacement_uid`]).
    U,
}

/// One row of the attribute table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileEntry {
    /// The attribute's tag.
    pub tag: Tag,
    /// The attribute's keyword in the standard data dictionary.
    pub keyword: &'static str,
    /// The action applied (compound actions resolved as described in the module docs).
    pub action: Action,
}

/// Attributes kept because the pipeline uses them (Retain Patient Characteristics Option).
pub const RETAINED_PATIENT_CHARACTERISTICS: [Tag; 4] = [
    Tag(0x0010, 0x0040), // PatientSex
    Tag(0x0010, 0x1010), // PatientAge
    Tag(0x0010, 0x1020), // PatientSize
    Tag(0x0010, 0x1030), // PatientWeight
];

/// Temporal attributes that the full-dates option does not retain.
const NEVER_RETAINED_DATES: [Tag; 2] = [Tag(0x0010, 0x0030), Tag(0x0010, 0x0032)];

use Action::{D, K, U, X, Z};

macro_rules! table {
    ($(($g:literal, $e:literal, $a:ident, $k:literal)),* $(,)?) => {
        &[$(ProfileEntry { tag: Tag($g, $e), keyword: $k, action: $a }),*]
    };
}

/// The attribute table, sorted by tag (checked by a unit test; looked up by binary search).
pub static PROFILE: &[ProfileEntry] = table![
    (0x0000, 0x1000, X, "AffectedSOPInstanceUID"),
    (0x0000, 0x1001, U, "RequestedSOPInstanceUID"),
    (0x0002, 0x0003, U, "MediaStorageSOPInstanceUID"),
    (0x0004, 0x1511, U, "ReferencedSOPInstanceUIDInFile"),
    (0x0008, 0x0012, X, "InstanceCreationDate"),
    (0x0008, 0x0013, Z, "InstanceCreationTime"),
    (0x0008, 0x0014, U, "InstanceCreatorUID"),
    (0x0008, 0x0015, X, "InstanceCoercionDateTime"),
    (0x0008, 0x0017, U, "AcquisitionUID"),
    (0x0008, 0x0018, U, "SOPInstanceUID"),
    (0x0008, 0x0019, U, "PyramidUID"),
    (0x0008, 0x0020, Z, "StudyDate"),
    (0x0008, 0x0021, X, "SeriesDate"),
    (0x0008, 0x0022, Z, "AcquisitionDate"),
    (0x0008, 0x0023, Z, "ContentDate"),
    (0x0008, 0x0024, X, "OverlayDate"),
    (0x0008, 0x0025, X, "CurveDate"),
    (0x0008, 0x002A, Z, "AcquisitionDateTime"),
    (0x0008, 0x0030, Z, "StudyTime"),
    (0x0008, 0x0031, X, "SeriesTime"),
    (0x0008, 0x0032, Z, "AcquisitionTime"),
    (0x0008, 0x0033, Z, "ContentTime"),
    (0x0008, 0x0034, X, "OverlayTime"),
    (0x0008, 0x0035, X, "CurveTime"),
    (0x0008, 0x0050, Z, "AccessionNumber"),
    (0x0008, 0x0054, X, "RetrieveAETitle"),
    (0x0008, 0x0055, X, "StationAETitle"),
    (0x0008, 0x0058, U, "FailedSOPInstanceUIDList"),
    (0x0008, 0x0080, Z, "InstitutionName"),
    (0x0008, 0x0081, X, "InstitutionAddress"),
    (0x0008, 0x0082, Z, "InstitutionCodeSequence"),
    (0x0008, 0x0090, Z, "ReferringPhysicianName"),
    (0x0008, 0x0092, X, "ReferringPhysicianAddress"),
    (0x0008, 0x0094, X, "ReferringPhysicianTelephoneNumbers"),
    (0x0008, 0x0096, X, "ReferringPhysicianIdentificationSequence"),
    (0x0008, 0x009C, Z, "ConsultingPhysicianName"),
    (0x0008, 0x009D, X, "ConsultingPhysicianIdentificationSequence"),
    (0x0008, 0x0201, X, "TimezoneOffsetFromUTC"),
    (0x0008, 0x1000, X, "NetworkID"),
    (0x0008, 0x1010, Z, "StationName"),
    (0x0008, 0x1030, X, "StudyDescription"),
    (0x0008, 0x103E, X, "SeriesDescription"),
    (0x0008, 0x1040, X, "InstitutionalDepartmentName"),
    (0x0008, 0x1041, X, "InstitutionalDepartmentTypeCodeSequence"),
    (0x0008, 0x1048, X, "PhysiciansOfRecord"),
    (0x0008, 0x1049, X, "PhysiciansOfRecordIdentificationSequence"),
    (0x0008, 0x1050, X, "PerformingPhysicianName"),
    (0x0008, 0x1052, X, "PerformingPhysicianIdentificationSequence"),
    (0x0008, 0x1060, X, "NameOfPhysiciansReadingStudy"),
    (0x0008, 0x1062, X, "PhysiciansReadingStudyIdentificationSequence"),
    (0x0008, 0x1070, Z, "OperatorsName"),
    (0x0008, 0x1072, X, "OperatorIdentificationSequence"),
    (0x0008, 0x1080, X, "AdmittingDiagnosesDescription"),
    (0x0008, 0x1084, X, "AdmittingDiagnosesCodeSequence"),
    (0x0008, 0x1088, X, "PyramidDescription"),
    (0x0008, 0x1110, Z, "ReferencedStudySequence"),
    (0x0008, 0x1111, Z, "ReferencedPerformedProcedureStepSequence"),
    (0x0008, 0x1120, X, "ReferencedPatientSequence"),
    (0x0008, 0x1155, U, "ReferencedSOPInstanceUID"),
    (0x0008, 0x1195, U, "TransactionUID"),
    (0x0008, 0x2111, X, "DerivationDescription"),
    (0x0008, 0x3010, U, "IrradiationEventUID"),
    (0x0008, 0x4000, X, "IdentifyingComments"),
    (0x0010, 0x0010, Z, "PatientName"),
    (0x0010, 0x0020, Z, "PatientID"),
    (0x0010, 0x0021, X, "IssuerOfPatientID"),
    (0x0010, 0x0030, Z, "PatientBirthDate"),
    (0x0010, 0x0032, X, "PatientBirthTime"),
    (0x0010, 0x0040, K, "PatientSex"),
    (0x0010, 0x0050, X, "PatientInsurancePlanCodeSequence"),
    (0x0010, 0x0101, X, "PatientPrimaryLanguageCodeSequence"),
    (0x0010, 0x0102, X, "PatientPrimaryLanguageModifierCodeSequence"),
    (0x0010, 0x1000, X, "OtherPatientIDs"),
    (0x0010, 0x1001, X, "OtherPatientNames"),
    (0x0010, 0x1002, X, "OtherPatientIDsSequence"),
    (0x0010, 0x1005, X, "PatientBirthName"),
    (0x0010, 0x1010, K, "PatientAge"),
    (0x0010, 0x1020, K, "PatientSize"),
    (0x0010, 0x1030, K, "PatientWeight"),
    (0x0010, 0x1040, X, "PatientAddress"),
    (0x0010, 0x1050, X, "InsurancePlanIdentification"),
    (0x0010, 0x1060, X, "PatientMotherBirthName"),
    (0x0010, 0x1080, X, "MilitaryRank"),
    (0x0010, 0x1081, X, "BranchOfService"),
    (0x0010, 0x1090, X, "MedicalRecordLocator"),
    (0x0010, 0x1100, X, "ReferencedPatientPhotoSequence"),
    (0x0010, 0x2000, X, "MedicalAlerts"),
    (0x0010, 0x2110, X, "Allergies"),
    (0x0010, 0x2150, X, "CountryOfResidence"),
    (0x0010, 0x2152, X, "RegionOfResidence"),
    (0x0010, 0x2154, X, "PatientTelephoneNumbers"),
    (0x0010, 0x2155, X, "PatientTelecomInformation"),
    (0x0010, 0x2160, X, "EthnicGroup"),
    (0x0010, 0x2180, X, "Occupation"),
    (0x0010, 0x21A0, X, "SmokingStatus"),
    (0x0010, 0x21B0, X, "AdditionalPatientHistory"),
    (0x0010, 0x21C0, X, "PregnancyStatus"),
    (0x0010, 0x21D0, X, "LastMenstrualDate"),
    (0x0010, 0x21F0, X, "PatientReligiousPreference"),
    (0x0010, 0x2203, Z, "PatientSexNeutered"),
    (0x0010, 0x2297, X, "ResponsiblePerson"),
    (0x0010, 0x2299, X, "ResponsibleOrganization"),
    (0x0010, 0x4000, X, "PatientComments"),
    (0x0012, 0x0010, D, "ClinicalTrialSponsorName"),
    (0x0012, 0x0020, D, "ClinicalTrialProtocolID"),
    (0x0012, 0x0021, Z, "ClinicalTrialProtocolName"),
    (0x0012, 0x0030, Z, "ClinicalTrialSiteID"),
    (0x0012, 0x0031, Z, "ClinicalTrialSiteName"),
    (0x0012, 0x0040, D, "ClinicalTrialSubjectID"),
    (0x0012, 0x0042, D, "ClinicalTrialSubjectReadingID"),
    (0x0012, 0x0050, Z, "ClinicalTrialTimePointID"),
    (0x0012, 0x0051, X, "ClinicalTrialTimePointDescription"),
    (0x0012, 0x0060, Z, "ClinicalTrialCoordinatingCenterName"),
    (0x0012, 0x0071, X, "ClinicalTrialSeriesID"),
    (0x0012, 0x0072, X, "ClinicalTrialSeriesDescription"),
    (0x0012, 0x0081, D, "ClinicalTrialProtocolEthicsCommitteeName"),
    (0x0012, 0x0082, X, "ClinicalTrialProtocolEthicsCommitteeApprovalNumber"),
    (0x0016, 0x002B, X, "MakerNote"),
    (0x0016, 0x004D, X, "CameraOwnerName"),
    (0x0016, 0x0051, X, "LensSerialNumber"),
    (0x0016, 0x0070, X, "GPSVersionID"),
    (0x0016, 0x0072, X, "GPSLatitude"),
    (0x0016, 0x0074, X, "GPSLongitude"),
    (0x0016, 0x0076, X, "GPSAltitude"),
    (0x0016, 0x008D, X, "GPSDateStamp"),
    (0x0018, 0x0010, Z, "ContrastBolusAgent"),
    (0x0018, 0x0027, X, "InterventionDrugStopTime"),
    (0x0018, 0x0035, X, "InterventionDrugStartTime"),
    (0x0018, 0x1000, Z, "DeviceSerialNumber"),
    (0x0018, 0x1002, U, "DeviceUID"),
    (0x0018, 0x1004, X, "PlateID"),
    (0x0018, 0x1005, X, "GeneratorID"),
    (0x0018, 0x1007, X, "CassetteID"),
    (0x0018, 0x1008, X, "GantryID"),
    (0x0018, 0x1009, X, "UniqueDeviceIdentifier"),
    (0x0018, 0x100A, X, "UDISequence"),
    (0x0018, 0x100B, U, "ManufacturerDeviceClassUID"),
    (0x0018, 0x1012, X, "DateOfSecondaryCapture"),
    (0x0018, 0x1014, X, "TimeOfSecondaryCapture"),
    (0x0018, 0x1030, X, "ProtocolName"),
    (0x0018, 0x1042, X, "ContrastBolusStartTime"),
    (0x0018, 0x1043, X, "ContrastBolusStopTime"),
    (0x0018, 0x1072, X, "RadiopharmaceuticalStartTime"),
    (0x0018, 0x1073, X, "RadiopharmaceuticalStopTime"),
    (0x0018, 0x1078, X, "RadiopharmaceuticalStartDateTime"),
    (0x0018, 0x1079, X, "RadiopharmaceuticalStopDateTime"),
    (0x0018, 0x1200, X, "DateOfLastCalibration"),
    (0x0018, 0x1201, X, "TimeOfLastCalibration"),
    (0x0018, 0x1202, X, "DateTimeOfLastCalibration"),
    (0x0018, 0x1203, Z, "CalibrationDateTime"),
    (0x0018, 0x1204, X, "DateOfManufacture"),
    (0x0018, 0x1205, X, "DateOfInstallation"),
    (0x0018, 0x1400, X, "AcquisitionDeviceProcessingDescription"),
    (0x0018, 0x2042, U, "TargetUID"),
    (0x0018, 0x4000, X, "AcquisitionComments"),
    (0x0018, 0x5011, X, "TransducerIdentificationSequence"),
    (0x0018, 0x700A, X, "DetectorID"),
    (0x0018, 0x700C, X, "DateOfLastDetectorCalibration"),
    (0x0018, 0x700E, X, "TimeOfLastDetectorCalibration"),
    (0x0018, 0x9074, D, "FrameAcquisitionDateTime"),
    (0x0018, 0x9151, D, "FrameReferenceDateTime"),
    (0x0018, 0x9185, X, "RespiratoryMotionCompensationTechniqueDescription"),
    (0x0018, 0x9367, D, "XRaySourceID"),
    (0x0018, 0x9369, D, "SourceStartDateTime"),
    (0x0018, 0x936A, D, "SourceEndDateTime"),
    (0x0018, 0x9371, D, "XRayDetectorID"),
    (0x0018, 0x9373, X, "XRayDetectorLabel"),
    (0x0018, 0x937B, X, "MultienergyAcquisitionDescription"),
    (0x0018, 0x937F, X, "DecompositionDescription"),
    (0x0018, 0x9424, X, "AcquisitionProtocolDescription"),
    (0x0018, 0x9516, X, "StartAcquisitionDateTime"),
    (0x0018, 0x9517, X, "EndAcquisitionDateTime"),
    (0x0018, 0x9701, D, "DecayCorrectionDateTime"),
    (0x0018, 0x9937, X, "RequestedSeriesDescription"),
    (0x0018, 0xA002, X, "ContributionDateTime"),
    (0x0018, 0xA003, X, "ContributionDescription"),
    (0x0020, 0x000D, U, "StudyInstanceUID"),
    (0x0020, 0x000E, U, "SeriesInstanceUID"),
    (0x0020, 0x0010, Z, "StudyID"),
    (0x0020, 0x0027, X, "PyramidLabel"),
    (0x0020, 0x0052, U, "FrameOfReferenceUID"),
    (0x0020, 0x0200, U, "SynchronizationFrameOfReferenceUID"),
    (0x0020, 0x3401, X, "ModifyingDeviceID"),
    (0x0020, 0x3403, X, "ModifiedImageDate"),
    (0x0020, 0x3405, X, "ModifiedImageTime"),
    (0x0020, 0x3406, X, "ModifiedImageDescription"),
    (0x0020, 0x4000, X, "ImageComments"),
    (0x0020, 0x9158, X, "FrameComments"),
    (0x0020, 0x9161, U, "ConcatenationUID"),
    (0x0020, 0x9164, U, "DimensionOrganizationUID"),
    (0x0028, 0x1199, U, "PaletteColorLookupTableUID"),
    (0x0028, 0x1214, U, "LargePaletteColorLookupTableUID"),
    (0x0028, 0x4000, X, "ImagePresentationComments"),
    (0x0032, 0x0012, X, "StudyIDIssuer"),
    (0x0032, 0x0032, X, "StudyVerifiedDate"),
    (0x0032, 0x0033, X, "StudyVerifiedTime"),
    (0x0032, 0x0034, X, "StudyReadDate"),
    (0x0032, 0x0035, X, "StudyReadTime"),
    (0x0032, 0x1000, X, "ScheduledStudyStartDate"),
    (0x0032, 0x1001, X, "ScheduledStudyStartTime"),
    (0x0032, 0x1010, X, "ScheduledStudyStopDate"),
    (0x0032, 0x1011, X, "ScheduledStudyStopTime"),
    (0x0032, 0x1020, X, "ScheduledStudyLocation"),
    (0x0032, 0x1021, X, "ScheduledStudyLocationAETitle"),
    (0x0032, 0x1030, X, "ReasonForStudy"),
    (0x0032, 0x1032, X, "RequestingPhysician"),
    (0x0032, 0x1033, X, "RequestingService"),
    (0x0032, 0x1040, X, "StudyArrivalDate"),
    (0x0032, 0x1041, X, "StudyArrivalTime"),
    (0x0032, 0x1050, X, "StudyCompletionDate"),
    (0x0032, 0x1051, X, "StudyCompletionTime"),
    (0x0032, 0x1060, Z, "RequestedProcedureDescription"),
    (0x0032, 0x1066, X, "ReasonForVisit"),
    (0x0032, 0x1067, X, "ReasonForVisitCodeSequence"),
    (0x0032, 0x1070, X, "RequestedContrastAgent"),
    (0x0032, 0x4000, X, "StudyComments"),
    (0x0038, 0x0004, X, "ReferencedPatientAliasSequence"),
    (0x0038, 0x0010, X, "AdmissionID"),
    (0x0038, 0x0011, X, "IssuerOfAdmissionID"),
    (0x0038, 0x0014, X, "IssuerOfAdmissionIDSequence"),
    (0x0038, 0x001A, X, "ScheduledAdmissionDate"),
    (0x0038, 0x001B, X, "ScheduledAdmissionTime"),
    (0x0038, 0x001C, X, "ScheduledDischargeDate"),
    (0x0038, 0x001D, X, "ScheduledDischargeTime"),
    (0x0038, 0x001E, X, "ScheduledPatientInstitutionResidence"),
    (0x0038, 0x0020, X, "AdmittingDate"),
    (0x0038, 0x0021, X, "AdmittingTime"),
    (0x0038, 0x0030, X, "DischargeDate"),
    (0x0038, 0x0032, X, "DischargeTime"),
    (0x0038, 0x0040, X, "DischargeDiagnosisDescription"),
    (0x0038, 0x0050, X, "SpecialNeeds"),
    (0x0038, 0x0060, X, "ServiceEpisodeID"),
    (0x0038, 0x0061, X, "IssuerOfServiceEpisodeID"),
    (0x0038, 0x0062, X, "ServiceEpisodeDescription"),
    (0x0038, 0x0064, X, "IssuerOfServiceEpisodeIDSequence"),
    (0x0038, 0x0300, X, "CurrentPatientLocation"),
    (0x0038, 0x0400, X, "PatientInstitutionResidence"),
    (0x0038, 0x0500, X, "PatientState"),
    (0x0038, 0x4000, X, "VisitComments"),
    (0x0040, 0x0001, X, "ScheduledStationAETitle"),
    (0x0040, 0x0002, X, "ScheduledProcedureStepStartDate"),
    (0x0040, 0x0003, X, "ScheduledProcedureStepStartTime"),
    (0x0040, 0x0004, X, "ScheduledProcedureStepEndDate"),
    (0x0040, 0x0005, X, "ScheduledProcedureStepEndTime"),
    (0x0040, 0x0006, X, "ScheduledPerformingPhysicianName"),
    (0x0040, 0x0007, X, "ScheduledProcedureStepDescription"),
    (0x0040, 0x0009, X, "ScheduledProcedureStepID"),
    (0x0040, 0x000B, X, "ScheduledPerformingPhysicianIdentificationSequence"),
    (0x0040, 0x0010, X, "ScheduledStationName"),
    (0x0040, 0x0011, X, "ScheduledProcedureStepLocation"),
    (0x0040, 0x0012, X, "PreMedication"),
    (0x0040, 0x0241, X, "PerformedStationAETitle"),
    (0x0040, 0x0242, X, "PerformedStationName"),
    (0x0040, 0x0243, X, "PerformedLocation"),
    (0x0040, 0x0244, X, "PerformedProcedureStepStartDate"),
    (0x0040, 0x0245, X, "PerformedProcedureStepStartTime"),
    (0x0040, 0x0250, X, "PerformedProcedureStepEndDate"),
    (0x0040, 0x0251, X, "PerformedProcedureStepEndTime"),
    (0x0040, 0x0253, X, "PerformedProcedureStepID"),
    (0x0040, 0x0254, X, "PerformedProcedureStepDescription"),
    (0x0040, 0x0275, X, "RequestAttributesSequence"),
    (0x0040, 0x0280, X, "CommentsOnThePerformedProcedureStep"),
    (0x0040, 0x0310, X, "CommentsOnRadiationDose"),
    (0x0040, 0x050A, X, "SpecimenAccessionNumber"),
    (0x0040, 0x0512, D, "ContainerIdentifier"),
    (0x0040, 0x051A, X, "ContainerDescription"),
    (0x0040, 0x0551, D, "SpecimenIdentifier"),
    (0x0040, 0x0554, U, "SpecimenUID"),
    (0x0040, 0x0555, Z, "AcquisitionContextSequence"),
    (0x0040, 0x0600, X, "SpecimenShortDescription"),
    (0x0040, 0x0602, X, "SpecimenDetailedDescription"),
    (0x0040, 0x06FA, X, "SlideIdentifier"),
    (0x0040, 0x1001, X, "RequestedProcedureID"),
    (0x0040, 0x1002, X, "ReasonForTheRequestedProcedure"),
    (0x0040, 0x1004, X, "PatientTransportArrangements"),
    (0x0040, 0x1005, X, "RequestedProcedureLocation"),
    (0x0040, 0x100A, X, "ReasonForRequestedProcedureCodeSequence"),
    (0x0040, 0x1010, X, "NamesOfIntendedRecipientsOfResults"),
    (0x0040, 0x1011, X, "IntendedRecipientsOfResultsIdentificationSequence"),
    (0x0040, 0x1101, D, "PersonIdentificationCodeSequence"),
    (0x0040, 0x1102, X, "PersonAddress"),
    (0x0040, 0x1103, X, "PersonTelephoneNumbers"),
    (0x0040, 0x1104, X, "PersonTelecomInformation"),
    (0x0040, 0x1400, X, "RequestedProcedureComments"),
    (0x0040, 0x2001, X, "ReasonForTheImagingServiceRequest"),
    (0x0040, 0x2004, X, "IssueDateOfImagingServiceRequest"),
    (0x0040, 0x2005, X, "IssueTimeOfImagingServiceRequest"),
    (0x0040, 0x2008, X, "OrderEnteredBy"),
    (0x0040, 0x2009, X, "OrderEntererLocation"),
    (0x0040, 0x2010, X, "OrderCallbackPhoneNumber"),
    (0x0040, 0x2011, X, "OrderCallbackTelecomInformation"),
    (0x0040, 0x2016, Z, "PlacerOrderNumberImagingServiceRequest"),
    (0x0040, 0x2017, Z, "FillerOrderNumberImagingServiceRequest"),
    (0x0040, 0x2400, X, "ImagingServiceRequestComments"),
    (0x0040, 0x3001, X, "ConfidentialityConstraintOnPatientDataDescription"),
    (0x0040, 0x4005, X, "ScheduledProcedureStepStartDateTime"),
    (0x0040, 0x4008, X, "ScheduledProcedureStepExpirationDateTime"),
    (0x0040, 0x4010, X, "ScheduledProcedureStepModificationDateTime"),
    (0x0040, 0x4011, X, "ExpectedCompletionDateTime"),
    (
        0x0040,
        0x4023,
        U,
        "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID"
    ),
    (0x0040, 0x4025, X, "ScheduledStationNameCodeSequence"),
    (0x0040, 0x4027, X, "ScheduledStationGeographicLocationCodeSequence"),
    (0x0040, 0x4028, X, "PerformedStationNameCodeSequence"),
    (0x0040, 0x4030, X, "PerformedStationGeographicLocationCodeSequence"),
    (0x0040, 0x4034, X, "ScheduledHumanPerformersSequence"),
    (0x0040, 0x4035, X, "ActualHumanPerformersSequence"),
    (0x0040, 0x4036, X, "HumanPerformerOrganization"),
    (0x0040, 0x4037, X, "HumanPerformerName"),
    (0x0040, 0x4050, X, "PerformedProcedureStepStartDateTime"),
    (0x0040, 0x4051, X, "PerformedProcedureStepEndDateTime"),
    (0x0040, 0x4052, X, "ProcedureStepCancellationDateTime"),
    (0x0040, 0xA027, D, "VerifyingOrganization"),
    (0x0040, 0xA030, D, "VerificationDateTime"),
    (0x0040, 0xA032, X, "ObservationDateTime"),
    (0x0040, 0xA033, X, "ObservationStartDateTime"),
    (0x0040, 0xA073, D, "VerifyingObserverSequence"),
    (0x0040, 0xA075, D, "VerifyingObserverName"),
    (0x0040, 0xA078, X, "AuthorObserverSequence"),
    (0x0040, 0xA07A, X, "ParticipantSequence"),
    (0x0040, 0xA07C, X, "CustodialOrganizationSequence"),
    (0x0040, 0xA082, Z, "ParticipationDateTime"),
    (0x0040, 0xA088, Z, "VerifyingObserverIdentificationCodeSequence"),
    (0x0040, 0xA120, D, "DateTime"),
    (0x0040, 0xA121, D, "Date"),
    (0x0040, 0xA122, D, "Time"),
    (0x0040, 0xA123, D, "PersonName"),
    (0x0040, 0xA124, U, "UID"),
    (0x0040, 0xA13A, D, "ReferencedDateTime"),
    (0x0040, 0xA171, U, "ObservationUID"),
    (0x0040, 0xA730, D, "ContentSequence"),
    (0x0040, 0xDB0C, U, "TemplateExtensionOrganizationUID"),
    (0x0040, 0xDB0D, U, "TemplateExtensionCreatorUID"),
    (0x0040, 0xE004, X, "HL7DocumentEffectiveTime"),
    (0x0042, 0x0011, D, "EncapsulatedDocument"),
    (0x0062, 0x0021, U, "TrackingUID"),
    (0x0064, 0x0003, U, "SourceFrameOfReferenceUID"),
    (0x0070, 0x0001, D, "GraphicAnnotationSequence"),
    (0x0070, 0x0082, X, "PresentationCreationDate"),
    (0x0070, 0x0083, X, "PresentationCreationTime"),
    (0x0070, 0x0084, Z, "ContentCreatorName"),
    (0x0070, 0x0086, X, "ContentCreatorIdentificationCodeSequence"),
    (0x0070, 0x031A, U, "FiducialUID"),
    (0x0070, 0x1101, U, "PresentationDisplayCollectionUID"),
    (0x0070, 0x1102, U, "PresentationSequenceCollectionUID"),
    (0x0088, 0x0140, U, "StorageMediaFileSetUID"),
    (0x0088, 0x0200, X, "IconImageSequence"),
    (0x0088, 0x0904, X, "TopicTitle"),
    (0x0088, 0x0906, X, "TopicSubject"),
    (0x0088, 0x0910, X, "TopicAuthor"),
    (0x0088, 0x0912, X, "TopicKeywords"),
    (0x0400, 0x0100, U, "DigitalSignatureUID"),
    (0x0400, 0x0105, D, "DigitalSignatureDateTime"),
    (0x0400, 0x0115, D, "CertificateOfSigner"),
    (0x0400, 0x0310, X, "CertifiedTimestamp"),
    (0x0400, 0x0402, X, "ReferencedDigitalSignatureSequence"),
    (0x0400, 0x0403, X, "ReferencedSOPInstanceMACSequence"),
    (0x0400, 0x0404, X, "MAC"),
    (0x0400, 0x0550, X, "ModifiedAttributesSequence"),
    (0x0400, 0x0561, X, "OriginalAttributesSequence"),
    (0x0400, 0x0562, D, "AttributeModificationDateTime"),
    (0x0400, 0x0563, D, "ModifyingSystem"),
    (0x0400, 0x0564, Z, "SourceOfPreviousValues"),
    (0x0400, 0x0565, D, "ReasonForTheAttributeModification"),
    (0x2030, 0x0020, X, "TextString"),
    (0x2100, 0x0040, X, "CreationDate"),
    (0x2100, 0x0050, X, "CreationTime"),
    (0x2100, 0x0070, X, "Originator"),
    (0x2100, 0x0140, D, "DestinationAE"),
    (0x2200, 0x0002, Z, "LabelText"),
    (0x2200, 0x0005, Z, "BarcodeValue"),
    (0x3006, 0x0002, D, "StructureSetLabel"),
    (0x3006, 0x0004, X, "StructureSetName"),
    (0x3006, 0x0006, X, "StructureSetDescription"),
    (0x3006, 0x0008, Z, "StructureSetDate"),
    (0x3006, 0x0009, Z, "StructureSetTime"),
    (0x3006, 0x0024, U, "ReferencedFrameOfReferenceUID"),
    (0x3006, 0x0026, Z, "ROIName"),
    (0x3006, 0x0028, X, "ROIDescription"),
    (0x3006, 0x0038, X, "ROIGenerationDescription"),
    (0x3006, 0x0085, X, "ROIObservationLabel"),
    (0x3006, 0x0088, X, "ROIObservationDescription"),
    (0x3006, 0x00A6, Z, "ROIInterpreter"),
    (0x3006, 0x00C2, U, "RelatedFrameOfReferenceUID"),
    (0x300A, 0x0002, D, "RTPlanLabel"),
    (0x300A, 0x0003, X, "RTPlanName"),
    (0x300A, 0x0004, X, "RTPlanDescription"),
    (0x300A, 0x0006, X, "RTPlanDate"),
    (0x300A, 0x0007, X, "RTPlanTime"),
    (0x300A, 0x000B, X, "TreatmentSites"),
    (0x300A, 0x000E, X, "PrescriptionDescription"),
    (0x300A, 0x0013, U, "DoseReferenceUID"),
    (0x300A, 0x0016, X, "DoseReferenceDescription"),
    (0x300A, 0x0072, X, "FractionGroupDescription"),
    (0x300A, 0x0083, U, "ReferencedDoseReferenceUID"),
    (0x300A, 0x00B2, Z, "TreatmentMachineName"),
    (0x300A, 0x00C3, X, "BeamDescription"),
    (0x300A, 0x00DD, X, "BolusDescription"),
    (0x300A, 0x0196, X, "FixationDeviceDescription"),
    (0x300A, 0x01A6, X, "ShieldingDeviceDescription"),
    (0x300A, 0x01B2, X, "SetupTechniqueDescription"),
    (0x300A, 0x0216, X, "SourceManufacturer"),
    (0x300A, 0x02EB, X, "CompensatorDescription"),
    (0x300A, 0x0650, U, "PatientSetupUID"),
    (0x300A, 0x0700, U, "TreatmentSessionUID"),
    (0x300E, 0x0004, Z, "ReviewDate"),
    (0x300E, 0x0005, Z, "ReviewTime"),
    (0x300E, 0x0008, Z, "ReviewerName"),
    (0x4000, 0x0010, X, "Arbitrary"),
    (0x4000, 0x4000, X, "TextComments"),
    (0x4008, 0x0040, X, "ResultsID"),
    (0x4008, 0x0042, X, "ResultsIDIssuer"),
    (0x4008, 0x0100, X, "InterpretationRecordedDate"),
    (0x4008, 0x0101, X, "InterpretationRecordedTime"),
    (0x4008, 0x0102, X, "InterpretationRecorder"),
    (0x4008, 0x0108, X, "InterpretationTranscriptionDate"),
    (0x4008, 0x0109, X, "InterpretationTranscriptionTime"),
    (0x4008, 0x010A, X, "InterpretationTranscriber"),
    (0x4008, 0x010B, X, "InterpretationText"),
    (0x4008, 0x010C, X, "InterpretationAuthor"),
    (0x4008, 0x0111, X, "InterpretationApproverSequence"),
    (0x4008, 0x0112, X, "InterpretationApprovalDate"),
    (0x4008, 0x0113, X, "InterpretationApprovalTime"),
    (0x4008, 0x0114, X, "PhysicianApprovingInterpretation"),
    (0x4008, 0x0115, X, "InterpretationDiagnosisDescription"),
    (0x4008, 0x0118, X, "ResultsDistributionListSequence"),
    (0x4008, 0x0119, X, "DistributionName"),
    (0x4008, 0x011A, X, "DistributionAddress"),
    (0x4008, 0x0200, X, "InterpretationID"),
    (0x4008, 0x0202, X, "InterpretationIDIssuer"),
    (0x4008, 0x0300, X, "Impressions"),
    (0x4008, 0x4000, X, "ResultsComments"),
    (0xFFFA, 0xFFFA, X, "DigitalSignaturesSequence"),
    (0xFFFC, 0xFFFC, X, "DataSetTrailingPadding"),
];

/// The table entry for a tag, if the tag is listed.
pub fn entry(tag: Tag) -> Option<&'static ProfileEntry> {
    PROFILE.binary_search_by_key(&tag, |e| e.tag).ok().map(|i| &PROFILE[i])
}

/// Why an element is treated the way it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A listed attribute (after options are applied).
    Listed(Action),
    /// A private element (odd group): removed.
    Private,
    /// A curve (50xx) or overlay (60xx) element: removed.
    CurveOrOverlay,
    /// A group length element (gggg,0000) of the data set: retired, and stale once
    /// elements are removed, so always dropped. Not identifying; never reported.
    GroupLength,
    /// Not listed: kept (sequences are kept and their items processed).
    Unlisted,
}

/// Whether a group is one of the repeating curve groups 5000-501E (even).
fn is_curve_group(group: u16) -> bool {
    (0x5000..=0x50FF).contains(&group) && group & 1 == 0
}

/// Whether a group is one of the repeating overlay groups 6000-601E (even).
fn is_overlay_group(group: u16) -> bool {
    (0x6000..=0x60FF).contains(&group) && group & 1 == 0
}

/// Whether the standard dictionary gives the tag a DA, DT or TM VR.
fn is_temporal(tag: Tag) -> bool {
    matches!(
        StandardDataDictionary.by_tag(tag).map(|e| e.vr()),
        Some(VirtualVr::Exact(VR::DA | VR::DT | VR::TM))
    )
}

/// The rule for a data set element (not the file meta group).
///
/// `keep_dates` applies the Retain Longitudinal Temporal Information with Full Dates Option.
pub fn rule_for(tag: Tag, keep_dates: bool) -> Rule {
    let Tag(group, element) = tag;
    if group & 1 == 1 {
        return Rule::Private;
    }
    if is_curve_group(group) || is_overlay_group(group) {
        return Rule::CurveOrOverlay;
    }
    if element == 0x0000 && group != 0x0002 {
        return Rule::GroupLength;
    }
    match entry(tag) {
        Some(e) if keep_dates && e.action != K && is_temporal(tag) && !NEVER_RETAINED_DATES.contains(&tag) => {
            Rule::Listed(K)
        }
        Some(e) => Rule::Listed(e.action),
        None => Rule::Unlisted,
    }
}

/// The keyword of a tag for reports ("" for an unknown standard tag, "PrivateCreator" or
/// "PrivateElement" for private ones).
pub fn keyword(tag: Tag) -> String {
    if tag.0 & 1 == 1 {
        return if (0x0010..=0x00FF).contains(&tag.1) {
            "PrivateCreator".into()
        } else {
            "PrivateElement".into()
        };
    }
    if let Some(e) = entry(tag) {
        return e.keyword.into();
    }
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias().to_string())
        .unwrap_or_default()
}

/// The dummy text used by action D for a text VR: a fixed, non-identifying value valid for the
/// VR. `None` for VRs whose dummy is a zero-length value (binary and numeric VRs) or an empty
/// sequence (SQ); UI never gets a dummy (UIDs are replaced, action U).
pub fn dummy_text(vr: VR) -> Option<&'static str> {
    match vr {
        VR::DA => Some("19000101"),
        VR::TM => Some("000000"),
        VR::DT => Some("19000101000000"),
        VR::AS => Some("000Y"),
        VR::PN | VR::LO | VR::SH | VR::LT | VR::ST | VR::UT | VR::UC | VR::CS | VR::AE => Some("ANONYMIZED"),
        _ => None,
    }
}

/// Formats a tag as `(gggg,eeee)` with upper-case hexadecimal digits.
pub fn tag_string(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag.0, tag.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in PROFILE.windows(2) {
            assert!(
                w[0].tag < w[1].tag,
                "{} not before {}",
                tag_string(w[0].tag),
                tag_string(w[1].tag)
            );
        }
        assert!(PROFILE.len() >= 100, "{} entries", PROFILE.len());
    }

    #[test]
    fn keywords_match_the_standard_dictionary() {
        let mut wrong = Vec::new();
        for e in PROFILE {
            match StandardDataDictionary.by_tag(e.tag) {
                Some(d) if d.alias() == e.keyword => {}
                Some(d) => wrong.push(format!(
                    "{} {} (dictionary: {})",
                    tag_string(e.tag),
                    e.keyword,
                    d.alias()
                )),
                None => wrong.push(format!("{} {} (not in dictionary)", tag_string(e.tag), e.keyword)),
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn rules() {
        assert_eq!(rule_for(Tag(0x0009, 0x0010), false), Rule::Private);
        assert_eq!(rule_for(Tag(0x6000, 0x3000), false), Rule::CurveOrOverlay);
        assert_eq!(rule_for(Tag(0x601E, 0x0010), false), Rule::CurveOrOverlay);
        assert_eq!(rule_for(Tag(0x5000, 0x3000), false), Rule::CurveOrOverlay);
        assert_eq!(rule_for(Tag(0x0008, 0x0000), false), Rule::GroupLength);
        assert_eq!(rule_for(Tag(0x0010, 0x0010), false), Rule::Listed(Z));
        assert_eq!(rule_for(Tag(0x0008, 0x0020), false), Rule::Listed(Z));
        assert_eq!(rule_for(Tag(0x0008, 0x0020), true), Rule::Listed(K));
        assert_eq!(rule_for(Tag(0x0010, 0x0030), true), Rule::Listed(Z));
        assert_eq!(rule_for(Tag(0x0010, 0x0040), false), Rule::Listed(K));
        assert_eq!(rule_for(Tag(0x0028, 0x0010), false), Rule::Unlisted);
        for t in RETAINED_PATIENT_CHARACTERISTICS {
            assert_eq!(rule_for(t, false), Rule::Listed(K));
        }
    }
}
