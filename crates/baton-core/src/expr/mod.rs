//! Runtime expressions: jq (via jaq 3.x) compiled once, evaluated many times, sandboxed and
//! metered.
//!
//! - [`Expression`]: one compiled jq filter. Evaluation sees the input as `.`, the runtime
//!   arguments [`RUNTIME_ARGUMENTS`] (`$context`, `$input`, ...) plus the scope's extra
//!   variables (`$item`, `$index`, `$error`...) bound in [`Variables`]; unbound ones are `null`.
//! - [`Template`]: a JSON value whose `${ }` strings are expressions (dsl.md "Runtime
//!   expressions"), or an expression field (`if`, `input.from`, `switch.when`...) where a string
//!   is bare jq.
//! - Multiple outputs: a value position collects 2+ outputs into an array; 0 outputs is
//!   [`ExpressionError::NoOutput`]. A condition is the truthiness of the first output, and
//!   `false` when there is none.
//! - Sandbox: no environment, clock, input or output access; `now` is the time passed to
//!   [`Variables::new`] (see `sandbox` for the list of removed filters).
//! - Budget: runaway recursion or loops fail with [`ExpressionError::Budget`] instead of
//!   overflowing the stack (see `budget` for how, and for what is not bounded).
//! - Size: no value an expression builds may exceed `max_value_bytes` (estimated bytes of
//!   JSON, [`DEFAULT_MAX_VALUE_BYTES`] unless [`Variables::with_max_value_bytes`] says
//!   otherwise); beyond it evaluation fails with [`ExpressionError::TooLarge`] before the value
//!   is allocated (see `size`).

mod budget;
mod convert;
mod expression;
mod instrument;
mod nesting;
mod sandbox;
mod size;
mod template;
mod variables;

use std::fmt;

pub use expression::Expression;
pub use size::DEFAULT_MAX_VALUE_BYTES;
pub use template::{Template, TemplateErrors, strip_runtime_expression};
pub use variables::{SharedValue, Variables};

/// Runtime-argument names always declared (dsl.md "Runtime expression arguments"): without `$`.
pub const RUNTIME_ARGUMENTS: [&str; 8] =
    ["context", "input", "output", "secrets", "task", "workflow", "runtime", "authorization"];

/// Why an expression could not be compiled or evaluated. Every variant carries the expression's
/// source text.
///
/// (`Display`/`Error` are written by hand: thiserror would treat the `source` fields as error
/// sources.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpressionError {
    /// The source is not valid jq, or uses an undefined or removed variable or filter.
    /// Displays as "cannot compile `.a |`: expected term, found end of input".
    Compile { source: String, message: String },
    /// jq raised an error while evaluating (`error("boom")`, type errors...).
    Runtime { source: String, message: String },
    /// Evaluation exceeded its budget: too many steps, too deep recursion, too many outputs, or
    /// values nested too deeply.
    Budget { source: String },
    /// The expression produced no value where one was required.
    NoOutput { source: String },
    /// A value the expression built, or its result, exceeded the evaluation's size limit of
    /// `limit_bytes` (estimated bytes of compact JSON; see [`Variables::with_max_value_bytes`]).
    TooLarge { source: String, limit_bytes: usize },
}

impl fmt::Display for ExpressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compile { source, message } => write!(f, "cannot compile `{source}`: {message}"),
            Self::Runtime { source, message } => write!(f, "cannot evaluate `{source}`: {message}"),
            Self::Budget { source } => write!(f, "evaluation budget exceeded by `{source}`"),
            Self::NoOutput { source } => write!(f, "`{source}` produced no value"),
            Self::TooLarge { source, limit_bytes } => {
                write!(f, "`{source}` built a value larger than the limit of {limit_bytes} bytes (max-value-bytes)")
            }
        }
    }
}

impl std::error::Error for ExpressionError {}
