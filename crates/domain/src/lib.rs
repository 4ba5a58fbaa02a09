//! Pure rules of Tsunagu. No IO lives here, so these tests build and run fast.

pub mod audit;
pub mod care;
pub mod consultation;
pub mod csv_import;
pub mod disclosure;
pub mod geo;
pub mod map;
pub mod matrix;
pub mod outbox;
pub mod password;
pub mod policy;
pub mod roles;
pub mod survey;
pub mod text;
pub mod totp;
pub mod validation;
pub mod wareki;
