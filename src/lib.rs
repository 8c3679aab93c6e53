//! # runform
//!
//! A Terraform-style reconciler for Google Cloud Run **jobs** and what drives them, with a
//! bundled local runtime that speaks the same REST API and really runs jobs.
//!
//! Data flows one way (see `shared/DESIGN.md`):
//!
//! ```text
//! *.tf/*.hcl ─config─▶ Stack ─graph─▶ refresh (cloud: list calls) ─▶ plan (pure diff) ─▶ apply
//! ```
//!
//! Layers (a module imports only from lower layers):
//! - 0 [`diag`]: diagnostics with source ranges; [`fmt`]: canonical formatting (tokens only).
//! - 1 [`api`]: wire types shared by the client and the runtime.
//! - 2 [`config`] (HCL → Stack), [`graph`], [`cloud`] (REST client), [`runtime`] (local server).
//! - 3 [`resources`]: one file per resource type.
//! - 3 [`state`]: state file, journal, lock.
//! - 4 [`plan`]: pure diff. 5 [`apply`]: executes a plan. 6 [`view`]: rendering. 7 [`cli`].
#![forbid(unsafe_code)]

pub mod api;
pub mod apply;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod console;
pub mod diag;
pub mod fmt;
pub mod graph;
pub mod lang;
pub mod model;
pub mod ops;
pub mod plan;
pub mod resources;
pub mod runtime;
pub mod state;
pub mod view;
