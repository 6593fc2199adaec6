//! Conversions between stored columns and record fields: JSON as TEXT, decode errors as
//! [`StoreError::Encoding`].

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};

use crate::error::StoreError;
pub(crate) use crate::rows::{RecordRow, encode_json, encode_optional_json};

impl RecordRow for SqliteRow {
    fn text(&self, name: &str) -> Result<String, StoreError> {
        column(self, name)
    }

    fn optional_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        column(self, name)
    }

    fn int(&self, name: &str) -> Result<i64, StoreError> {
        column(self, name)
    }

    fn optional_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        column(self, name)
    }

    fn json(&self, name: &str) -> Result<Value, StoreError> {
        json_column(self, name)
    }

    fn optional_json(&self, name: &str) -> Result<Option<Value>, StoreError> {
        optional_json_column(self, name)
    }
}

/// Reads a column, reporting a missing column or a value of the wrong type as
/// [`StoreError::Encoding`].
fn column<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(name).map_err(|err| StoreError::Encoding(format!("column {name}: {err}")))
}

/// Reads a TEXT column holding a JSON document.
fn json_column(row: &SqliteRow, name: &str) -> Result<Value, StoreError> {
    let text: &str = column(row, name)?;
    decode_json(name, text)
}

/// Reads a nullable TEXT column holding a JSON document.
fn optional_json_column(row: &SqliteRow, name: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<&str> = column(row, name)?;
    text.map(|text| decode_json(name, text)).transpose()
}

fn decode_json(name: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|err| StoreError::Encoding(format!("column {name} is not valid JSON: {err}")))
}
