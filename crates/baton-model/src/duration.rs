//! DSL durations (`dsl-reference.md#duration`): an inline object or an ISO 8601 string.

use crate::types::Duration;

/// A duration that cannot be turned into milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid ISO 8601 duration {0:?}")]
    InvalidIso(String),
    #[error("duration {0:?} uses years or months, whose length depends on a date")]
    Calendar(String),
    #[error("duration is a runtime expression and has no fixed value")]
    Expression,
    #[error("duration is negative")]
    Negative,
}

impl Duration {
    /// The duration in milliseconds. Days are 24 hours; years and months are refused.
    ///
    /// Errors: [`DurationError`] for unparsable strings, calendar units, negative values and
    /// `${ }` expressions (evaluate those first, then call [`parse_iso8601_ms`]).
    pub fn to_millis(&self) -> Result<u64, DurationError> {
        match self {
            Duration::Inline(parts) => {
                let ms = parts.days.unwrap_or(0) as f64 * 86_400_000.0
                    + parts.hours.unwrap_or(0) as f64 * 3_600_000.0
                    + parts.minutes.unwrap_or(0) as f64 * 60_000.0
                    + parts.seconds.unwrap_or(0) as f64 * 1_000.0
                    + parts.milliseconds.unwrap_or(0) as f64;
                Ok(ms as u64)
            }
            Duration::Text(text) if is_runtime_expression(text) => Err(DurationError::Expression),
            Duration::Text(text) => parse_iso8601_ms(text),
        }
    }
}

/// Parses an ISO 8601 duration such as `PT1H30M`, `P2D` or `PT0.25S` into milliseconds.
pub fn parse_iso8601_ms(text: &str) -> Result<u64, DurationError> {
    let span: jiff::Span = jiff::fmt::temporal::SpanParser::new()
        .parse_span(text.trim())
        .map_err(|_| DurationError::InvalidIso(text.to_owned()))?;
    if span.get_years() != 0 || span.get_months() != 0 {
        return Err(DurationError::Calendar(text.to_owned()));
    }
    let duration = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| DurationError::InvalidIso(text.to_owned()))?;
    if duration.is_negative() {
        return Err(DurationError::Negative);
    }
    Ok(duration.as_millis() as u64)
}

/// Whether a string is a runtime expression in a value position: `^\s*\$\{.+\}\s*$`
/// (`schema/workflow.yaml#/$defs/runtimeExpression`).
pub fn is_runtime_expression(text: &str) -> bool {
    let trimmed = text.trim();
    trimmed.len() > 3 && trimmed.starts_with("${") && trimmed.ends_with('}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::InlineDuration;

    #[test]
    fn iso_and_inline_durations_convert_to_millis() {
        assert_eq!(parse_iso8601_ms("PT1H30M"), Ok(5_400_000));
        assert_eq!(parse_iso8601_ms("P1DT2H"), Ok(93_600_000));
        assert_eq!(parse_iso8601_ms("PT0.25S"), Ok(250));
        assert!(matches!(parse_iso8601_ms("P1Y"), Err(DurationError::Calendar(_))));
        assert!(matches!(parse_iso8601_ms("soon"), Err(DurationError::InvalidIso(_))));
        let inline = Duration::Inline(InlineDuration { seconds: Some(2), milliseconds: Some(5), ..Default::default() });
        assert_eq!(inline.to_millis(), Ok(2_005));
    }
}
