//! Roles of users and kinds of organisations.

use serde::{Deserialize, Serialize};

/// A role a user holds (役割). A user has one or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// システム管理者
    SystemAdmin,
    /// 県担当者 (prefectural office)
    PrefectureOfficer,
    /// 県コーディネーター (the support center's coordinators)
    CenterCoordinator,
    /// 市町村担当者 (municipal staff and area coordinators)
    MunicipalOfficer,
    /// 医療機関スタッフ (NICU hospital staff)
    HospitalStaff,
    /// 研修担当者 (training body)
    TrainingStaff,
    /// 閲覧者 (read-only)
    Viewer,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::SystemAdmin,
        Role::PrefectureOfficer,
        Role::CenterCoordinator,
        Role::MunicipalOfficer,
        Role::HospitalStaff,
        Role::TrainingStaff,
        Role::Viewer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::SystemAdmin => "system_admin",
            Role::PrefectureOfficer => "prefecture_officer",
            Role::CenterCoordinator => "center_coordinator",
            Role::MunicipalOfficer => "municipal_officer",
            Role::HospitalStaff => "hospital_staff",
            Role::TrainingStaff => "training_staff",
            Role::Viewer => "viewer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::SystemAdmin => "システム管理者",
            Role::PrefectureOfficer => "県担当者",
            Role::CenterCoordinator => "県コーディネーター",
            Role::MunicipalOfficer => "市町村担当者",
            Role::HospitalStaff => "医療機関スタッフ",
            Role::TrainingStaff => "研修担当者",
            Role::Viewer => "閲覧者",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code.trim())
    }

    /// Roles whose holders can see personal data of children or families: by default they must
    /// use two-factor sign-in.
    pub fn sees_personal_data(self) -> bool {
        !matches!(self, Role::Viewer)
    }
}

/// The kind of an organisation (機関種別).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 都道府県庁
    PrefecturalOffice,
    /// 医療的ケア児支援センター
    SupportCenter,
    /// 研修実施機関
    TrainingBody,
    /// 医療機関
    Hospital,
    /// 市町村
    MunicipalOffice,
    /// 障害福祉サービス事業所など
    ServiceProvider,
    /// 保育所・学校
    NurserySchool,
    /// その他
    Other,
}

impl OrgKind {
    pub const ALL: [OrgKind; 8] = [
        OrgKind::PrefecturalOffice,
        OrgKind::SupportCenter,
        OrgKind::TrainingBody,
        OrgKind::Hospital,
        OrgKind::MunicipalOffice,
        OrgKind::ServiceProvider,
        OrgKind::NurserySchool,
        OrgKind::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrgKind::PrefecturalOffice => "prefectural_office",
            OrgKind::SupportCenter => "support_center",
            OrgKind::TrainingBody => "training_body",
            OrgKind::Hospital => "hospital",
            OrgKind::MunicipalOffice => "municipal_office",
            OrgKind::ServiceProvider => "service_provider",
            OrgKind::NurserySchool => "nursery_school",
            OrgKind::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgKind::PrefecturalOffice => "県（都道府県庁）",
            OrgKind::SupportCenter => "支援センター",
            OrgKind::TrainingBody => "研修実施機関",
            OrgKind::Hospital => "医療機関",
            OrgKind::MunicipalOffice => "市町村",
            OrgKind::ServiceProvider => "サービス事業所",
            OrgKind::NurserySchool => "保育所・学校",
            OrgKind::Other => "その他",
        }
    }

    pub fn from_code(code: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.code() == code.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::from_code(r.code()), Some(r));
        }
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::from_code(k.code()), Some(k));
        }
        assert_eq!(Role::from_code("root"), None);
        assert_eq!(OrgKind::from_code(""), None);
    }

    #[test]
    fn only_viewers_see_no_personal_data() {
        let seeing: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| !r.sees_personal_data())
            .collect();
        assert_eq!(seeing, vec![Role::Viewer]);
    }
}
