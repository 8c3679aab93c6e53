//! Wire types for the Google REST APIs runform speaks, defined once and shared by the
//! reconciler's client (`cloud`) and the bundled local runtime (`runtime`).
//!
//! JSON follows the proto3 JSON mapping: lowerCamelCase names, defaults omitted, int64 as
//! strings, enums as names (integers accepted on input, because Google's Python clients send
//! `enum-encoding=int`).

pub mod common;
pub mod cron;
pub mod ext;
pub mod iam;
pub mod iam_admin;
pub mod run;
pub mod scheduler;
pub mod storage;
pub mod workflows;

pub use common::*;

/// The Google APIs runform calls (each has its own host on googleapis.com).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    Run,
    Scheduler,
    Iam,
    IamCredentials,
    Workflows,
    Eventarc,
    Storage,
    ResourceManager,
    Compute,
    ServiceUsage,
    ArtifactRegistry,
    Logging,
    SecretManager,
}
