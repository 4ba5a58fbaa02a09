//! The one authorization policy (権限方針): `can(actor, action, target)` answers every question
//! of the form "may this person do this to that", and `scope(actor, action)` tells list queries
//! which rows an actor may see. Handlers and templates never decide access themselves.

use crate::roles::Role;

/// The signed-in person on whose behalf a request runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub organisation_id: String,
    /// The 6-digit code of the municipality the actor's organisation belongs to, if any.
    pub municipality_code6: Option<String>,
    pub roles: Vec<Role>,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    fn is_member_of(&self, organisation_id: &str) -> bool {
        self.organisation_id == organisation_id
    }
}

/// Everything a route or a repository can do. Each route declares exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::VariantArray)]
pub enum Action {
    /// Pages anybody may open without signing in (sign-in, health checks).
    Public,
    /// Any signed-in user's pages: home, sign-out, the organisation directory.
    ViewHome,
    /// Own password, two-factor sign-in and recovery codes.
    ManageOwnAccount,
    /// Read the role matrix (役割分担, 別表1).
    ViewMatrix,
    /// Edit the role matrix.
    EditMatrix,
    /// Read the list of organisations and their contact details.
    ViewOrganisations,
    /// Edit an organisation's contact details.
    EditOrganisation,
    /// Create and retire organisations.
    ManageOrganisations,
    /// Create, disable and reset accounts of any organisation.
    ManageUsers,
    /// Read areas (圏域) and municipalities.
    ViewGeography,
    /// Create and edit areas; add, rename or retire municipalities.
    ManageGeography,
    /// Browse and export the audit log.
    ViewAuditLog,
    /// See the e-mail outbox (送信待ち・送信できなかったメール) and send a message again.
    ManageMail,
    /// Read the care-type code list (医療的ケアの種別).
    ViewCareTypes,
    /// Correct the care-type code list and its scores.
    ManageCareTypes,
    /// Search and read the resource directory (社会資源) when signed in.
    ViewResources,
    /// Read a resource's internal fields (internal note, direct line).
    ViewResourceInternals,
    /// Create, edit, retire, import and export resources and their categories.
    ManageResources,
    /// Read consultations (相談記録) with the requester's personal details.
    ViewConsultations,
    /// Log consultations, add to their timeline, attach resources and refer them.
    RecordConsultations,
    /// Read referrals (つなぎ先への連絡) sent to one's organisation, and acknowledge and answer
    /// them. The requester's personal details come with a referral only under consent.
    HandleReferrals,
    /// Read a referral's personal details (name and contact of the requester).
    ViewReferralPersonalDetails,
    /// Consultation statistics for a 年度 or period.
    ViewConsultationStats,
    /// Read survey rounds (状況把握調査) and a municipality's response.
    ViewSurveys,
    /// Build survey definitions (調査票), issue rounds, send reminders, export rounds.
    ManageSurveys,
    /// Fill in, save and submit a municipality's response.
    RespondToSurvey,
    /// Approve, return, reopen and unlock municipalities' responses.
    ReviewSurveyResponses,
    /// The roll-up of approved figures by area, the map and trends.
    ViewSurveyResults,
    /// The good practices municipalities agreed to share (好事例).
    ViewGoodPractices,
}

impl Action {
    /// Every action, derived from the enum, so that a new one cannot be left out of the policy
    /// table test.
    pub const ALL: &'static [Action] = <Action as strum::VariantArray>::VARIANTS;
}

/// What an action is done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// "Some record": the route-level question, answered yes when the actor may act on at least
    /// one target of this action. The specific record is checked again when it is known.
    Any,
    /// An organisation, with the municipality it belongs to.
    Organisation {
        id: &'a str,
        municipality_code6: Option<&'a str>,
    },
    /// A user account, with its organisation.
    User {
        id: &'a str,
        organisation_id: &'a str,
    },
    /// A referral of a consultation to an organisation, and whether the requester consented to
    /// their personal details going with it.
    Referral {
        to_organisation_id: &'a str,
        consent: bool,
    },
    /// A municipality's own records, such as its survey response, by 6-digit code.
    Municipality { code6: &'a str },
}

/// Which rows of a list an actor may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Organisation(String),
    Municipality(String),
    User(String),
    Nothing,
}

/// Roles that act for the prefecture-wide center and may see across organisations.
const CENTER_WIDE: &[Role] = &[Role::PrefectureOfficer, Role::CenterCoordinator];

/// Roles of organisations that receive referrals and work with the center.
const PARTNERS: &[Role] = &[
    Role::MunicipalOfficer,
    Role::HospitalStaff,
    Role::TrainingStaff,
];

/// Roles that may change their own organisation's contact details.
const ORG_EDITORS: &[Role] = &[
    Role::PrefectureOfficer,
    Role::CenterCoordinator,
    Role::MunicipalOfficer,
    Role::HospitalStaff,
    Role::TrainingStaff,
];

/// May `actor` (None when not signed in) do `action` to `target`?
pub fn can(actor: Option<&Actor>, action: Action, target: Target<'_>) -> bool {
    let Some(actor) = actor else {
        return action == Action::Public;
    };
    if actor.roles.is_empty() {
        return action == Action::Public;
    }
    match action {
        Action::Public
        | Action::ViewHome
        | Action::ViewMatrix
        | Action::ViewOrganisations
        | Action::ViewGeography => true,
        Action::ManageOwnAccount => match target {
            Target::Any => true,
            Target::User { id, .. } => id == actor.user_id,
            _ => false,
        },
        Action::EditMatrix => actor.has(Role::PrefectureOfficer),
        Action::EditOrganisation => {
            if actor.has(Role::SystemAdmin) || actor.has_any(CENTER_WIDE) {
                return matches!(target, Target::Any | Target::Organisation { .. });
            }
            if !actor.has_any(ORG_EDITORS) {
                return false;
            }
            match target {
                Target::Any => true,
                Target::Organisation { id, .. } => actor.is_member_of(id),
                _ => false,
            }
        }
        Action::ManageOrganisations
        | Action::ManageUsers
        | Action::ViewAuditLog
        | Action::ManageMail => actor.has(Role::SystemAdmin),
        Action::ManageGeography | Action::ManageCareTypes => {
            actor.has_any(&[Role::SystemAdmin, Role::PrefectureOfficer])
        }
        Action::ViewCareTypes | Action::ViewResources | Action::ViewGoodPractices => true,
        Action::ViewResourceInternals => !actor.roles.iter().all(|r| *r == Role::Viewer),
        Action::ManageResources
        | Action::ViewConsultations
        | Action::RecordConsultations
        | Action::ViewConsultationStats
        | Action::ManageSurveys
        | Action::ReviewSurveyResponses
        | Action::ViewSurveyResults => actor.has_any(CENTER_WIDE),
        Action::ViewSurveys | Action::RespondToSurvey => {
            if actor.has_any(CENTER_WIDE) {
                return true;
            }
            if !actor.has(Role::MunicipalOfficer) {
                return false;
            }
            let Some(own) = actor.municipality_code6.as_deref() else {
                return false;
            };
            match target {
                Target::Any => true,
                Target::Municipality { code6 } => code6 == own,
                _ => false,
            }
        }
        Action::HandleReferrals | Action::ViewReferralPersonalDetails => {
            if actor.has_any(CENTER_WIDE) {
                return true;
            }
            if !actor.has_any(PARTNERS) {
                return false;
            }
            match target {
                Target::Any => true,
                Target::Referral {
                    to_organisation_id,
                    consent,
                } => {
                    actor.is_member_of(to_organisation_id)
                        && (action == Action::HandleReferrals || consent)
                }
                _ => false,
            }
        }
    }
}

/// The rows of a list that `actor` may see for `action`. Repositories turn this into a WHERE
/// clause; a handler never filters rows itself.
pub fn scope(actor: Option<&Actor>, action: Action) -> Scope {
    let Some(a) = actor else {
        return Scope::Nothing;
    };
    if !can(actor, action, Target::Any) {
        return Scope::Nothing;
    }
    match action {
        Action::ManageOwnAccount => Scope::User(a.user_id.clone()),
        Action::EditOrganisation if !(a.has(Role::SystemAdmin) || a.has_any(CENTER_WIDE)) => {
            Scope::Organisation(a.organisation_id.clone())
        }
        Action::HandleReferrals if !a.has_any(CENTER_WIDE) => {
            Scope::Organisation(a.organisation_id.clone())
        }
        Action::ViewSurveys | Action::RespondToSurvey if !a.has_any(CENTER_WIDE) => a
            .municipality_code6
            .clone()
            .map_or(Scope::Nothing, Scope::Municipality),
        _ => Scope::All,
    }
}

/// Whether `actor` does `action` for the whole center — every organisation and municipality —
/// rather than for its own only (center staff, as against a municipality or a hospital).
pub fn is_center_wide(actor: &Actor, action: Action) -> bool {
    scope(Some(actor), action) == Scope::All
}

/// Whether `actor` does `action` for one municipality only (its own: a municipal officer).
pub fn is_for_own_municipality(actor: &Actor, action: Action) -> bool {
    matches!(scope(Some(actor), action), Scope::Municipality(_))
}

/// The times a survey response stands in, for deciding who may change its answers now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseWindow {
    /// The response is not submitted or approved (not started, draft, returned).
    pub open: bool,
    pub today: time::Date,
    /// The round's opening and deadline, when it has both.
    pub opens_on: Option<time::Date>,
    pub due_on: Option<time::Date>,
    /// The center reopened it after the deadline.
    pub reopened: bool,
}

/// Whether `actor` may change the answers of municipality `code6`'s response now: the center
/// while the response is open; the municipality while it is open, inside the round's window,
/// or after the deadline once the center reopened it.
pub fn may_edit_survey_response(actor: &Actor, code6: &str, w: &ResponseWindow) -> bool {
    if !can(
        Some(actor),
        Action::RespondToSurvey,
        Target::Municipality { code6 },
    ) {
        return false;
    }
    if is_center_wide(actor, Action::RespondToSurvey) {
        return w.open;
    }
    let (Some(opens_on), Some(due_on)) = (w.opens_on, w.due_on) else {
        return false;
    };
    w.open && w.today >= opens_on && (w.today <= due_on || w.reopened)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN_ORG: &str = "org-own";
    const OTHER_ORG: &str = "org-other";
    const OWN_MUNI: &str = "032018";
    const OTHER_MUNI: &str = "032026";

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: "user-1".into(),
            organisation_id: OWN_ORG.into(),
            municipality_code6: Some(OWN_MUNI.into()),
            roles: vec![role],
        }
    }

    /// Expected answers for every role × action, on a target in the actor's own organisation
    /// and own municipality (`own`) and on one of another organisation and municipality
    /// (`other`). Y = allowed, n = refused. Columns follow `Role::ALL`:
    /// admin, pref, coordinator, municipal, hospital, trainer, viewer.
    const TABLE: &[(Action, &str, &str)] = &[
        //                          own      other
        (Action::Public, "YYYYYYY", "YYYYYYY"),
        (Action::ViewHome, "YYYYYYY", "YYYYYYY"),
        (Action::ManageOwnAccount, "YYYYYYY", "nnnnnnn"),
        (Action::ViewMatrix, "YYYYYYY", "YYYYYYY"),
        (Action::EditMatrix, "nYnnnnn", "nYnnnnn"),
        (Action::ViewOrganisations, "YYYYYYY", "YYYYYYY"),
        (Action::EditOrganisation, "YYYYYYn", "YYYnnnn"),
        (Action::ManageOrganisations, "Ynnnnnn", "Ynnnnnn"),
        (Action::ManageUsers, "Ynnnnnn", "Ynnnnnn"),
        (Action::ViewGeography, "YYYYYYY", "YYYYYYY"),
        (Action::ManageGeography, "YYnnnnn", "YYnnnnn"),
        (Action::ViewAuditLog, "Ynnnnnn", "Ynnnnnn"),
        (Action::ManageMail, "Ynnnnnn", "Ynnnnnn"),
        (Action::ViewCareTypes, "YYYYYYY", "YYYYYYY"),
        (Action::ManageCareTypes, "YYnnnnn", "YYnnnnn"),
        (Action::ViewResources, "YYYYYYY", "YYYYYYY"),
        (Action::ViewResourceInternals, "YYYYYYn", "YYYYYYn"),
        (Action::ManageResources, "nYYnnnn", "nYYnnnn"),
        (Action::ViewConsultations, "nYYnnnn", "nYYnnnn"),
        (Action::RecordConsultations, "nYYnnnn", "nYYnnnn"),
        // A referral to the actor's own organisation (own) or another (other), with consent.
        (Action::HandleReferrals, "nYYYYYn", "nYYnnnn"),
        (Action::ViewReferralPersonalDetails, "nYYYYYn", "nYYnnnn"),
        (Action::ViewConsultationStats, "nYYnnnn", "nYYnnnn"),
        // The actor's own municipality's response (own) or another's (other).
        (Action::ViewSurveys, "nYYYnnn", "nYYnnnn"),
        (Action::ManageSurveys, "nYYnnnn", "nYYnnnn"),
        (Action::RespondToSurvey, "nYYYnnn", "nYYnnnn"),
        (Action::ReviewSurveyResponses, "nYYnnnn", "nYYnnnn"),
        (Action::ViewSurveyResults, "nYYnnnn", "nYYnnnn"),
        (Action::ViewGoodPractices, "YYYYYYY", "YYYYYYY"),
    ];

    fn target_for(action: Action, own: bool) -> Target<'static> {
        let (org, muni, user) = if own {
            (OWN_ORG, OWN_MUNI, "user-1")
        } else {
            (OTHER_ORG, OTHER_MUNI, "user-2")
        };
        match action {
            Action::ManageOwnAccount | Action::ManageUsers => Target::User {
                id: user,
                organisation_id: org,
            },
            Action::HandleReferrals | Action::ViewReferralPersonalDetails => Target::Referral {
                to_organisation_id: org,
                consent: true,
            },
            Action::ViewSurveys | Action::RespondToSurvey => Target::Municipality { code6: muni },
            _ => Target::Organisation {
                id: org,
                municipality_code6: Some(muni),
            },
        }
    }

    #[test]
    fn the_editing_window_of_a_survey_response() {
        use time::macros::date;
        let w = |open, today, reopened| ResponseWindow {
            open,
            today,
            opens_on: Some(date!(2026 - 05 - 01)),
            due_on: Some(date!(2026 - 06 - 30)),
            reopened,
        };
        let municipal = actor(Role::MunicipalOfficer);
        let center = actor(Role::CenterCoordinator);
        let inside = w(true, date!(2026 - 06 - 01), false);
        assert!(may_edit_survey_response(&municipal, OWN_MUNI, &inside));
        // The deadline day itself is still inside.
        assert!(may_edit_survey_response(
            &municipal,
            OWN_MUNI,
            &w(true, date!(2026 - 06 - 30), false)
        ));
        assert!(!may_edit_survey_response(&municipal, OTHER_MUNI, &inside));
        assert!(!may_edit_survey_response(
            &municipal,
            OWN_MUNI,
            &w(true, date!(2026 - 04 - 30), false)
        ));
        assert!(!may_edit_survey_response(
            &municipal,
            OWN_MUNI,
            &w(true, date!(2026 - 07 - 01), false)
        ));
        assert!(may_edit_survey_response(
            &municipal,
            OWN_MUNI,
            &w(true, date!(2026 - 07 - 01), true)
        ));
        assert!(!may_edit_survey_response(
            &municipal,
            OWN_MUNI,
            &w(false, date!(2026 - 06 - 01), false)
        ));
        // The center is not bound by the window, only by the response being open.
        assert!(may_edit_survey_response(
            &center,
            OTHER_MUNI,
            &w(true, date!(2027 - 01 - 01), false)
        ));
        assert!(!may_edit_survey_response(
            &center,
            OTHER_MUNI,
            &w(false, date!(2026 - 06 - 01), false)
        ));
        assert!(!may_edit_survey_response(
            &actor(Role::HospitalStaff),
            OWN_MUNI,
            &inside
        ));
        assert!(is_center_wide(&center, Action::ViewSurveys));
        assert!(!is_center_wide(&municipal, Action::ViewSurveys));
        assert!(is_for_own_municipality(&municipal, Action::RespondToSurvey));
        assert!(!is_for_own_municipality(&center, Action::RespondToSurvey));
    }

    #[test]
    fn table_covers_every_action() {
        for &action in Action::ALL {
            assert!(
                TABLE.iter().any(|(a, _, _)| *a == action),
                "{action:?} has no row in the policy table"
            );
        }
    }

    #[test]
    fn every_role_action_and_relation_matches_the_table() {
        for (action, own, other) in TABLE {
            for (expected_row, is_own) in [(own, true), (other, false)] {
                for (i, role) in Role::ALL.into_iter().enumerate() {
                    let expected = expected_row.as_bytes()[i] == b'Y';
                    let a = actor(role);
                    let got = can(Some(&a), *action, target_for(*action, is_own));
                    assert_eq!(
                        got,
                        expected,
                        "{role:?} {action:?} on {} target",
                        if is_own { "own" } else { "other" }
                    );
                }
            }
        }
    }

    #[test]
    fn route_level_answer_is_yes_when_some_target_is_allowed() {
        for (action, own, other) in TABLE {
            for (i, role) in Role::ALL.into_iter().enumerate() {
                let some = own.as_bytes()[i] == b'Y' || other.as_bytes()[i] == b'Y';
                assert_eq!(
                    can(Some(&actor(role)), *action, Target::Any),
                    some,
                    "{role:?} {action:?} route"
                );
            }
        }
    }

    #[test]
    fn anonymous_may_only_do_public_things() {
        for &action in Action::ALL {
            assert_eq!(
                can(None, action, Target::Any),
                action == Action::Public,
                "{action:?}"
            );
        }
    }

    #[test]
    fn an_account_without_roles_can_do_nothing_but_public() {
        let mut a = actor(Role::Viewer);
        a.roles.clear();
        assert!(!can(Some(&a), Action::ViewHome, Target::Any));
        assert!(can(Some(&a), Action::Public, Target::Any));
    }

    #[test]
    fn roles_add_up() {
        let mut a = actor(Role::Viewer);
        assert!(!can(Some(&a), Action::EditMatrix, Target::Any));
        a.roles.push(Role::PrefectureOfficer);
        assert!(can(Some(&a), Action::EditMatrix, Target::Any));
    }

    #[test]
    fn personal_details_of_a_referral_need_consent_outside_the_center() {
        let municipal = actor(Role::MunicipalOfficer);
        let without = Target::Referral {
            to_organisation_id: OWN_ORG,
            consent: false,
        };
        assert!(can(Some(&municipal), Action::HandleReferrals, without));
        assert!(!can(
            Some(&municipal),
            Action::ViewReferralPersonalDetails,
            without
        ));
        let coordinator = actor(Role::CenterCoordinator);
        assert!(can(
            Some(&coordinator),
            Action::ViewReferralPersonalDetails,
            without
        ));
        assert_eq!(
            scope(Some(&municipal), Action::HandleReferrals),
            Scope::Organisation(OWN_ORG.into())
        );
        assert_eq!(
            scope(Some(&coordinator), Action::HandleReferrals),
            Scope::All
        );
    }

    #[test]
    fn a_municipal_officer_sees_only_their_own_municipality_s_response() {
        let municipal = actor(Role::MunicipalOfficer);
        assert_eq!(
            scope(Some(&municipal), Action::ViewSurveys),
            Scope::Municipality(OWN_MUNI.into())
        );
        let mut without_municipality = municipal.clone();
        without_municipality.municipality_code6 = None;
        assert!(!can(
            Some(&without_municipality),
            Action::RespondToSurvey,
            Target::Any
        ));
        assert_eq!(
            scope(Some(&actor(Role::CenterCoordinator)), Action::ViewSurveys),
            Scope::All
        );
    }

    #[test]
    fn scopes_follow_the_policy() {
        assert_eq!(scope(None, Action::ViewAuditLog), Scope::Nothing);
        assert_eq!(
            scope(Some(&actor(Role::Viewer)), Action::ViewAuditLog),
            Scope::Nothing
        );
        assert_eq!(
            scope(Some(&actor(Role::SystemAdmin)), Action::ViewAuditLog),
            Scope::All
        );
        assert_eq!(
            scope(
                Some(&actor(Role::MunicipalOfficer)),
                Action::EditOrganisation
            ),
            Scope::Organisation(OWN_ORG.into())
        );
        assert_eq!(
            scope(
                Some(&actor(Role::PrefectureOfficer)),
                Action::EditOrganisation
            ),
            Scope::All
        );
        assert_eq!(
            scope(Some(&actor(Role::Viewer)), Action::ManageOwnAccount),
            Scope::User("user-1".into())
        );
    }
}
