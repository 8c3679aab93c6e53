//! What resource types share with the layers above them: schemas as data ([`schema`]) and
//! the changes a type plans ([`change`]), which `plan` orders and `apply` executes.

pub mod change;
pub mod schema;

pub use change::{Action, AttrChange, Change};
pub use schema::{Attr, Block, Internal, Nesting, Schema, Wire};
