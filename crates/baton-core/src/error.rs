//! Runtime errors of a run: RFC 7807 problem details with the DSL's error types
//! (`dsl-reference.md#error`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use baton_model::error_types::StandardError;

use crate::expr::ExpressionError;

/// An error raised while running a workflow: `{type, status, instance, title?, detail?}`.
/// `instance` is the JSON pointer of the task that raised it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowError {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: u16,
    #[serde(default)]
    pub instance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl WorkflowError {
    /// A standard error with its default status and a title.
    pub fn standard(kind: StandardError, title: impl Into<String>) -> WorkflowError {
        WorkflowError {
            type_: kind.type_uri(),
            status: kind.default_status(),
            instance: String::new(),
            title: Some(title.into()),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> WorkflowError {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_status(mut self, status: u16) -> WorkflowError {
        self.status = status;
        self
    }

    /// Sets `instance` unless an inner task already set it.
    pub fn at(mut self, instance: &str) -> WorkflowError {
        if self.instance.is_empty() {
            self.instance = instance.to_owned();
        }
        self
    }

    /// The error as a JSON object (what `catch.as` binds and what a faulted run reports).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn is(&self, kind: StandardError) -> bool {
        baton_model::error_types::error_types_match(&kind.type_uri(), &self.type_)
    }
}

impl From<ExpressionError> for WorkflowError {
    /// A value over the size limit is a `runtime` error (the run hit a limit of this runtime,
    /// not a mistake in the expression); every other failure is an `expression` error.
    fn from(err: ExpressionError) -> WorkflowError {
        match err {
            ExpressionError::TooLarge { .. } => {
                WorkflowError::standard(StandardError::Runtime, "a value exceeds the size limit")
                    .with_detail(err.to_string())
            }
            _ => WorkflowError::standard(StandardError::Expression, "expression evaluation failed")
                .with_detail(err.to_string()),
        }
    }
}
