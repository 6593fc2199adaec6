//! Schedules on PostgreSQL: each call is one statement; the claim is a row-locking
//! compare-and-set, so concurrent nodes claiming one due time see exactly one success.

use sqlx::PgPool;

use crate::error::StoreError;
use crate::postgres::codec::encode_json;
use crate::records::{ScheduleClaim, ScheduleRecord};
use crate::rows_schedules::{CLAIM_SCHEDULE_PG, INSERT_SCHEDULE, SELECT_SCHEDULES_PG, ScheduleRow, decode_schedule};

pub(crate) async fn put_schedule(pool: &PgPool, record: &ScheduleRecord) -> Result<bool, StoreError> {
    let inserted = sqlx::query(INSERT_SCHEDULE)
        .bind(&record.workspace)
        .bind(&record.namespace)
        .bind(&record.name)
        .bind(&record.version)
        .bind(&record.kind)
        .bind(encode_json(&record.spec)?)
        .bind(record.next_due_at)
        .bind(record.last_fired_at)
        .bind(record.last_run_id.as_deref())
        .bind(record.created_at)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

pub(crate) async fn claim_schedule(pool: &PgPool, claim: &ScheduleClaim) -> Result<bool, StoreError> {
    let (fired_at, run_id) = claim.fired.clone().unzip();
    let updated = sqlx::query(CLAIM_SCHEDULE_PG)
        .bind(&claim.workspace)
        .bind(&claim.namespace)
        .bind(&claim.name)
        .bind(&claim.version)
        .bind(claim.expected_due_at)
        .bind(claim.next_due_at)
        .bind(fired_at)
        .bind(run_id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(updated == 1)
}

pub(crate) async fn schedules(pool: &PgPool, kind: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
    let rows: Vec<ScheduleRow> = sqlx::query_as(SELECT_SCHEDULES_PG).bind(kind).fetch_all(pool).await?;
    rows.into_iter().map(decode_schedule).collect()
}
