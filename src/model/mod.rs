//! Data shared by the reconciler's layers: resource schemas ([`schema`]) and the changes
//! resource types plan ([`change`]).

pub mod change;
pub mod schema;

pub use change::{Action, AttrChange, Change};
pub use schema::{Attr, Block, Internal, Nesting, Schema, Wire};
