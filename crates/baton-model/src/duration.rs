//! DSL durations (`dsl-reference.md#duration`): an inline object or an ISO 8601 string.

use crate::types::{Duration, InlineDuration};

/// The longest duration a definition or an expression may give: 100 years of 365.25 days
/// (36,525 days, 3,155,760,000,000 ms). Beyond it a duration is refused, so that adding it to a
/// time in ms can never wrap (`i64` ms reach ~292 million years).
pub const MAX_DURATION_MS: u64 = 36_525 * MS_PER_DAY;

const MS_PER_DAY: u64 = 86_400_000;

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
    #[error("duration exceeds 100 years (the limit is {MAX_DURATION_MS} ms)")]
    TooLong,
}

impl Duration {
    /// The duration in milliseconds. Days are 24 hours; years and months are refused.
    ///
    /// Errors: [`DurationError`] for unparsable strings, calendar units, negative values and
    /// `${ }` expressions (evaluate those first, then call [`parse_iso8601_ms`]), and
    /// [`DurationError::TooLong`] beyond [`MAX_DURATION_MS`] (any field, or their sum).
    pub fn to_millis(&self) -> Result<u64, DurationError> {
        match self {
            Duration::Inline(parts) => inline_ms(parts),
            Duration::Text(text) if is_runtime_expression(text) => Err(DurationError::Expression),
            Duration::Text(text) => parse_iso8601_ms(text),
        }
    }
}

/// The sum of the inline fields in ms, in checked arithmetic: a field of `u64::MAX` days must
/// be refused, not wrap or round through `f64`.
fn inline_ms(parts: &InlineDuration) -> Result<u64, DurationError> {
    let fields = [
        (parts.days, MS_PER_DAY),
        (parts.hours, 3_600_000),
        (parts.minutes, 60_000),
        (parts.seconds, 1_000),
        (parts.milliseconds, 1),
    ];
    let total = fields.into_iter().try_fold(0u64, |total, (count, unit)| {
        count.unwrap_or(0).checked_mul(unit).and_then(|ms| total.checked_add(ms))
    });
    total.filter(|ms| *ms <= MAX_DURATION_MS).ok_or(DurationError::TooLong)
}

/// Parses an ISO 8601 duration such as `PT1H30M`, `P2D` or `PT0.25S` into milliseconds.
///
/// Errors: [`DurationError`] for unparsable text, years or months, a negative duration and one
/// beyond [`MAX_DURATION_MS`] (including values too large for jiff's span units).
pub fn parse_iso8601_ms(text: &str) -> Result<u64, DurationError> {
    let span: jiff::Span =
        jiff::fmt::temporal::SpanParser::new().parse_span(text.trim()).map_err(|err| iso_error(text, &err))?;
    if span.get_years() != 0 || span.get_months() != 0 {
        return Err(DurationError::Calendar(text.to_owned()));
    }
    let duration = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| DurationError::InvalidIso(text.to_owned()))?;
    if duration.is_negative() {
        return Err(DurationError::Negative);
    }
    u64::try_from(duration.as_millis()).ok().filter(|ms| *ms <= MAX_DURATION_MS).ok_or(DurationError::TooLong)
}

/// jiff refuses a unit beyond its range (more than 7,304,484 days, or a number beyond 64 bits)
/// with a parse error whose text is all it offers to tell it apart;
/// that is a duration too long, not a malformed one.
fn iso_error(text: &str, err: &jiff::Error) -> DurationError {
    let message = err.to_string();
    if message.contains("range") || message.contains("too big") {
        DurationError::TooLong
    } else {
        DurationError::InvalidIso(text.to_owned())
    }
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

    #[test]
    fn exactly_100_years_is_accepted_and_one_ms_more_refused() {
        let days = |days, milliseconds| {
            Duration::Inline(InlineDuration { days: Some(days), milliseconds, ..Default::default() }).to_millis()
        };
        assert_eq!(days(36_525, None), Ok(MAX_DURATION_MS));
        assert_eq!(days(36_525, Some(1)), Err(DurationError::TooLong));
        assert_eq!(days(106_751_991_167, None), Err(DurationError::TooLong));
        assert_eq!(days(u64::MAX, Some(u64::MAX)), Err(DurationError::TooLong));
        let hours = Duration::Inline(InlineDuration { hours: Some(u64::MAX / 1_000), ..Default::default() });
        assert_eq!(hours.to_millis(), Err(DurationError::TooLong));
        assert_eq!(parse_iso8601_ms("P36525D"), Ok(MAX_DURATION_MS));
        assert_eq!(parse_iso8601_ms("PT876600H"), Ok(MAX_DURATION_MS));
        assert_eq!(parse_iso8601_ms("P36525DT0.001S"), Err(DurationError::TooLong));
        assert_eq!(parse_iso8601_ms("P36526D"), Err(DurationError::TooLong));
        assert_eq!(parse_iso8601_ms("P106751991167D"), Err(DurationError::TooLong));
        assert_eq!(parse_iso8601_ms("PT99999999999999999999S"), Err(DurationError::TooLong));
    }
}
