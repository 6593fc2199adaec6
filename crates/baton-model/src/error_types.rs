//! The DSL's standard error types (`dsl-reference.md#standard-error-types`).
//!
//! Types compare by their last path segment, so the 1.0.3 URIs
//! (`https://serverlessworkflow.io/spec/1.0.0/errors/communication`), the renamed host
//! (`https://open-workflow-specification.org/...`) and the CTK's
//! `.../dsl/errors/types/communication` are the same type (DESIGN.md, "Decisions").

/// URI prefix Baton uses when it raises a standard error.
pub const STANDARD_ERROR_PREFIX: &str = "https://serverlessworkflow.io/spec/1.0.0/errors/";

/// A standard error kind with its default HTTP-like status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardError {
    Configuration,
    Validation,
    Expression,
    Authentication,
    Authorization,
    Timeout,
    Communication,
    Runtime,
}

impl StandardError {
    /// The last path segment of the type URI.
    pub fn name(self) -> &'static str {
        match self {
            StandardError::Configuration => "configuration",
            StandardError::Validation => "validation",
            StandardError::Expression => "expression",
            StandardError::Authentication => "authentication",
            StandardError::Authorization => "authorization",
            StandardError::Timeout => "timeout",
            StandardError::Communication => "communication",
            StandardError::Runtime => "runtime",
        }
    }

    /// The full type URI, e.g. `https://serverlessworkflow.io/spec/1.0.0/errors/timeout`.
    pub fn type_uri(self) -> String {
        format!("{STANDARD_ERROR_PREFIX}{}", self.name())
    }

    /// Default status per the spec: 400 for configuration/validation/expression, 401, 403,
    /// 408 for timeout, 500 for communication/runtime.
    pub fn default_status(self) -> u16 {
        match self {
            StandardError::Configuration | StandardError::Validation | StandardError::Expression => 400,
            StandardError::Authentication => 401,
            StandardError::Authorization => 403,
            StandardError::Timeout => 408,
            StandardError::Communication | StandardError::Runtime => 500,
        }
    }
}

/// Whether two error type URIs name the same type: equal, or equal in their last path segment.
pub fn error_types_match(filter: &str, actual: &str) -> bool {
    filter == actual || last_segment(filter) == last_segment(actual)
}

fn last_segment(uri: &str) -> &str {
    uri.trim_end_matches('/').rsplit('/').next().unwrap_or(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_of_one_standard_type_match() {
        let ctk = "https://serverlessworkflow.io/dsl/errors/types/communication";
        let ows = "https://open-workflow-specification.org/spec/1.0.0/errors/communication";
        assert!(error_types_match(ctk, &StandardError::Communication.type_uri()));
        assert!(error_types_match(ows, &StandardError::Communication.type_uri()));
        assert!(!error_types_match(ctk, &StandardError::Timeout.type_uri()));
    }
}
