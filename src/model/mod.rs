//! Below the configuration, the resource types and the planner (DESIGN.md's layer 2):
//! resource schemas as data ([`schema`]) and the changes a type plans ([`change`]), which
//! `plan` orders and `apply` executes. It imports only `lang`, `api` and `diag`.

pub mod change;
pub mod schema;

pub use change::{Action, AttrChange, Change};
pub use schema::{Attr, Block, Internal, Nesting, Schema, Wire};
