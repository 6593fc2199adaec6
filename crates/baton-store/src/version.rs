//! Choosing the "latest" of several versions of one workflow.

use crate::records::{Millis, WorkflowRecord};

/// The version `get_workflow` treats as "the highest stored version".
pub(crate) const LATEST: &str = "latest";

/// Returns the highest version; see [`crate::Store::get_workflow`] for the order.
pub(crate) fn latest(records: Vec<WorkflowRecord>) -> Option<WorkflowRecord> {
    records.into_iter().max_by(|a, b| rank(a).cmp(&rank(b)))
}

/// Sort key; a total order so `max_by` is well defined.
///
/// `None` (non-numeric) < any numeric version; among numeric versions a pre-release ranks below
/// the release with the same numbers.
fn rank(record: &WorkflowRecord) -> (Option<(Vec<u64>, bool)>, Millis, &str) {
    (parse(&record.version), record.created_at, &record.version)
}

/// Parses `v1.2.3-rc1+build` into `([1, 2, 3], false)`; trailing zero parts are dropped so
/// `1.0` equals `1.0.0`. `None` when a numeric part is not a number.
fn parse(version: &str) -> Option<(Vec<u64>, bool)> {
    let version = version.strip_prefix(['v', 'V']).unwrap_or(version);
    let version = version.split_once('+').map_or(version, |(core, _build)| core);
    let (core, release) = match version.split_once('-') {
        Some((core, _pre)) => (core, false),
        None => (version, true),
    };
    let mut parts = core.split('.').map(|part| part.parse::<u64>().ok()).collect::<Option<Vec<u64>>>()?;
    while parts.last() == Some(&0) {
        parts.pop();
    }
    Some((parts, release))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dotted_numbers() {
        assert_eq!(parse("1.10.0"), Some((vec![1, 10], true)));
        assert_eq!(parse("v2.0.1+abc"), Some((vec![2, 0, 1], true)));
        assert_eq!(parse("1.0.0-rc.1"), Some((vec![1], false)));
        assert_eq!(parse("0.0.0"), Some((vec![], true)));
        assert_eq!(parse("draft"), None);
        assert_eq!(parse("1.x"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn orders_numerically_then_by_creation() {
        let record = |version: &str, created_at| WorkflowRecord {
            workspace: "default".into(),
            namespace: "ns".into(),
            name: "flow".into(),
            version: version.into(),
            definition: String::new(),
            max_concurrency: None,
            created_at,
        };
        let pick = |records: Vec<WorkflowRecord>| latest(records).map(|it| it.version);
        assert_eq!(pick(vec![record("1.10.0", 1), record("1.9.2", 2)]).as_deref(), Some("1.10.0"));
        assert_eq!(pick(vec![record("1.0.0-rc1", 2), record("1.0.0", 1)]).as_deref(), Some("1.0.0"));
        assert_eq!(pick(vec![record("draft", 9), record("0.1", 1)]).as_deref(), Some("0.1"));
        assert_eq!(pick(vec![record("b", 1), record("a", 2)]).as_deref(), Some("a"));
        assert_eq!(pick(vec![]), None);
    }
}
