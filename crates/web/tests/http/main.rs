//! HTTP integration tests: the real router on a random port with a fresh database, driven over
//! HTTP as users of different organisations would. Every test runs on SQLite, and on PostgreSQL
//! too when `TSUNAGU_TEST_POSTGRES_URL` is set (each test gets a database of its own).

mod support;

mod account;
mod admin;
mod audit;
mod auth;
mod care_types;
mod consultation_stats;
mod consultations;
mod input_text;
mod platform;
mod public_statistics;
mod resource_transfer;
mod resources;
mod routes;
mod survey_definitions;
mod survey_mail;
mod survey_results;
mod survey_transfer;
mod surveys;
