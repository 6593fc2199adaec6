//! One home per statement: the SQL both backends run, written once and generic over a small
//! [`Dialect`] that supplies the fragments that differ (a list parameter, the insertion-order
//! column, row locks, casts, walking a JSON array).
//!
//! sqlx's `Any` driver cannot express this (no array or JSON kinds), and generic sqlx code over
//! `DB: Database` needs a wall of `Encode`/`Executor` bounds and fights `Send`; so each area's
//! functions are written once in a `macro_rules!` that every backend expands with its database
//! type (`crate::sql::reads::reads!(sqlx::Sqlite)`), and the differing text comes from
//! `<DB as Dialect>`. Writes that truly differ stay per backend: SQLite's savepoints in the
//! group-commit writer (`sqlite/writes.rs`), PostgreSQL's `UNNEST` CTEs (`postgres/writes.rs`).

pub(crate) mod leases;
pub(crate) mod ownership;
pub(crate) mod reads;
pub(crate) mod runs;
pub(crate) mod schedules;

use crate::error::StoreError;

/// The SQL fragments in which SQLite and PostgreSQL differ. Everything else is the same text.
pub(crate) trait Dialect: sqlx::Database {
    /// The `events` column giving insertion order (`rowid` / `seq`).
    const EVENT_SEQ: &'static str;
    /// The row lock of a sweep that several nodes run at once (none on SQLite, whose single
    /// writer serializes them; `FOR UPDATE SKIP LOCKED` on PostgreSQL).
    const SKIP_LOCKED: &'static str;
    /// The row lock taken before deleting rows that several nodes may delete at once.
    const LOCK_ROWS: &'static str;
    /// Null-safe equality (`IS` / `IS NOT DISTINCT FROM`).
    const NULL_SAFE_EQ: &'static str;
    /// Cast of a text parameter whose type PostgreSQL cannot infer (`$1 IS NULL`).
    const TEXT: &'static str;
    /// Cast of a bigint parameter whose type PostgreSQL cannot infer.
    const BIGINT: &'static str;
    /// Cast of a JSON document bound as text into a `json` column.
    const JSON: &'static str;
    /// A `json` column selected as text.
    const JSON_AS_TEXT: &'static str;
    /// Before and after the parameter of `column <IN_LIST_OPEN> $n <IN_LIST_CLOSE>`: the
    /// column is one of the texts of [`Dialect::text_list`].
    const IN_LIST_OPEN: &'static str;
    const IN_LIST_CLOSE: &'static str;
    /// `EXISTS (…)` over the string items of `s.inbox`'s `assignees` array (none when it is
    /// not an array), open for ` = <bind>)`.
    const ASSIGNEE_EXISTS: &'static str;

    /// A list of texts bound as one parameter (a JSON array on SQLite, `text[]` on PostgreSQL).
    type TextList: for<'q> sqlx::Encode<'q, Self> + sqlx::Type<Self> + Send + 'static;

    /// `values` as one parameter.
    fn text_list(values: &[String]) -> Result<Self::TextList, StoreError>;
}

impl Dialect for sqlx::Sqlite {
    const EVENT_SEQ: &'static str = "rowid";
    const SKIP_LOCKED: &'static str = "";
    const LOCK_ROWS: &'static str = "";
    const NULL_SAFE_EQ: &'static str = "IS";
    const TEXT: &'static str = "";
    const BIGINT: &'static str = "";
    const JSON: &'static str = "";
    const JSON_AS_TEXT: &'static str = "";
    const IN_LIST_OPEN: &'static str = " IN (SELECT value FROM json_each(";
    const IN_LIST_CLOSE: &'static str = "))";
    // Only string items of an `assignees` array (json_each would also walk a scalar).
    const ASSIGNEE_EXISTS: &'static str = "json_type(s.inbox, '$.assignees') = 'array' AND EXISTS (SELECT 1 FROM \
         json_each(s.inbox, '$.assignees') a WHERE a.type = 'text' AND a.value = ";

    type TextList = String;

    fn text_list(values: &[String]) -> Result<String, StoreError> {
        crate::rows::encode_json(&serde_json::json!(values))
    }
}

impl Dialect for sqlx::Postgres {
    const EVENT_SEQ: &'static str = "seq";
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    const LOCK_ROWS: &'static str = "FOR UPDATE";
    const NULL_SAFE_EQ: &'static str = "IS NOT DISTINCT FROM";
    const TEXT: &'static str = "::text";
    const BIGINT: &'static str = "::bigint";
    const JSON: &'static str = "::json";
    const JSON_AS_TEXT: &'static str = "::text";
    const IN_LIST_OPEN: &'static str = " = ANY(";
    const IN_LIST_CLOSE: &'static str = "::text[])";
    // Only string items of an `assignees` array (json_array_elements fails on a non-array).
    const ASSIGNEE_EXISTS: &'static str = "EXISTS (SELECT 1 FROM json_array_elements(CASE \
         WHEN json_typeof(s.inbox -> 'assignees') = 'array' THEN s.inbox -> 'assignees' \
         ELSE '[]'::json END) a WHERE json_typeof(a) = 'string' AND a #>> '{}' = ";

    type TextList = Vec<String>;

    fn text_list(values: &[String]) -> Result<Vec<String>, StoreError> {
        Ok(values.to_vec())
    }
}

/// A statement built once per backend from a template and its dialect's fragments, kept for
/// the life of the process (sqlx wants `&'static str` for its statement cache).
macro_rules! statement {
    ($($arg:tt)*) => {{
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!($($arg)*));
        SQL.as_str()
    }};
}
pub(crate) use statement;
