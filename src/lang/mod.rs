//! Terraform's value model and expression language, as Terraform 1.11 (go-cty 1.16, HCL
//! 2.23) has it:
//!
//! - [`number`]: arbitrary-precision binary floats with per-value precision;
//! - [`types`]: types and type constraints; [`value`]: values with typed nulls, unknowns
//!   (with refinements) and the `sensitive` mark;
//! - [`convert`]: conversions and unification;
//! - [`eval`]: the expression evaluator over hcl-rs's syntax tree;
//! - [`funcs`]: the functions, grouped by family, behind one dispatcher.

pub mod convert;
pub mod eval;
pub mod funcs;
pub mod number;
pub mod types;
pub mod value;

pub use eval::{EvalError, Evaluator, Scope};
pub use number::Number;
pub use types::Type;
pub use value::{Value, V};
