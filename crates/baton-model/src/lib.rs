//! Serverless Workflow DSL 1.0.3 definitions: typed models, parsing from YAML or JSON, and
//! validation that reports every problem with its JSON-pointer path.
//!
//! The pipeline is text → `serde_json::Value` → JSON-schema check (`schema/workflow.yaml`) →
//! typed [`Workflow`] → semantic checks. This crate does no I/O and reads no clock.

pub mod diagnostic;
pub mod duration;
pub mod error_types;
pub mod parse;
pub mod types;
pub mod validate;

pub use diagnostic::Diagnostic;
pub use parse::{ParseError, parse_workflow, parse_workflow_value};
pub use types::*;
