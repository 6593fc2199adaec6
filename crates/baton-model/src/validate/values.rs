//! Checks of single values: the DSL version, durations, cron expressions, inline JSON schemas
//! and variable names.

use croner::parser::{CronParser, Seconds, Year};

use crate::duration::DurationError;
use crate::types::{Duration, RetryPolicy, SchemaDefinition};
use crate::validate::Checker;
use crate::validate::pointer::Pointer;
use crate::validate::schema::explain;

impl Checker<'_> {
    /// `document.dsl` is a 1.0.x version.
    pub(super) fn dsl_version(&mut self, dsl: &str, path: &Pointer) {
        let mut parts = dsl.split(['.', '-', '+']);
        if (parts.next(), parts.next()) != (Some("1"), Some("0")) {
            self.report(path, format!("unsupported DSL version \"{dsl}\": expected 1.0.x"));
        }
    }

    /// A duration converts to milliseconds; `${ }` expressions are checked when evaluated.
    pub(super) fn duration(&mut self, duration: &Duration, path: &Pointer) {
        match duration.to_millis() {
            Ok(_) | Err(DurationError::Expression) => {}
            Err(error) => self.report(path, error.to_string()),
        }
    }

    /// The durations of a retry policy, and a jitter range that is not reversed.
    pub(super) fn retry_policy(&mut self, policy: &RetryPolicy, path: &Pointer) {
        if let Some(delay) = &policy.delay {
            self.duration(delay, &path.join("delay"));
        }
        if let Some(limit) = &policy.limit {
            if let Some(duration) = &limit.duration {
                self.duration(duration, &path.join("limit").join("duration"));
            }
            if let Some(duration) = limit.attempt.as_ref().and_then(|attempt| attempt.duration.as_ref()) {
                self.duration(duration, &path.join("limit").join("attempt").join("duration"));
            }
        }
        if let Some(jitter) = &policy.jitter {
            let jitter_path = path.join("jitter");
            self.duration(&jitter.from, &jitter_path.join("from"));
            self.duration(&jitter.to, &jitter_path.join("to"));
            if let (Ok(from), Ok(to)) = (jitter.from.to_millis(), jitter.to.to_millis())
                && from > to
            {
                self.report(
                    &jitter_path,
                    format!("jitter range is reversed: from ({from} ms) is greater than to ({to} ms)"),
                );
            }
        }
    }

    /// A cron expression with 5 fields (POSIX) or 6 (with seconds first).
    pub(super) fn cron(&mut self, cron: &str, path: &Pointer) {
        let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
        if let Err(error) = parser.parse(cron) {
            let reason = error.to_string();
            let reason = reason.trim_end_matches('.');
            self.report(path, format!("invalid cron expression \"{cron}\": {}", reason.to_lowercase()));
        }
    }

    /// An inline JSON schema compiles; authentication references of an external one resolve.
    pub(super) fn schema_definition(&mut self, schema: &SchemaDefinition, path: &Pointer) {
        if let Some(document) = &schema.document
            && let Err(error) = jsonschema::validator_for(document)
        {
            let document_path = path.join("document");
            for problem in explain(None, &[error]) {
                let problem_path = Pointer::from(format!("{}{}", document_path.as_str(), problem.path).as_str());
                self.report(&problem_path, format!("invalid JSON schema: {}", problem.message));
            }
        }
        if let Some(resource) = &schema.resource {
            self.endpoint(&resource.endpoint, &path.join("resource").join("endpoint"));
        }
    }

    /// `for.each`, `for.at`, `catch.as` and `foreach.item`/`at` name jq variables.
    pub(super) fn variable_name(&mut self, name: Option<&str>, path: &Pointer) {
        let Some(name) = name else { return };
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|rest| rest.is_ascii_alphanumeric() || rest == '_');
        if !valid {
            self.report(
                path,
                format!(
                    "invalid variable name \"{name}\": expected letters, digits and '_', not starting with a digit"
                ),
            );
        }
    }
}
