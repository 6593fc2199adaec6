//! Conversions between PostgreSQL columns and record fields. Documents are `json` columns:
//! written as JSON text (cast with `::json` in the SQL, so PostgreSQL keeps the text as is),
//! read back through [`Json`]; decode errors become [`StoreError::Encoding`].

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Decode, Postgres, Row, Type};

use crate::error::StoreError;
pub(crate) use crate::rows::{RecordRow, encode_json, encode_optional_json};

fn column<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(name).map_err(|err| StoreError::Encoding(format!("column {name}: {err}")))
}

impl RecordRow for PgRow {
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
        column::<Json<Value>>(self, name).map(|Json(value)| value)
    }

    fn optional_json(&self, name: &str) -> Result<Option<Value>, StoreError> {
        column::<Option<Json<Value>>>(self, name).map(|value| value.map(|Json(value)| value))
    }
}
