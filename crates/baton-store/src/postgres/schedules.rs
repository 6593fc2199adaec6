//! Schedules on PostgreSQL: each call is one statement; the claim is a row-locking
//! compare-and-set, so concurrent nodes claiming one due time see exactly one success. Matches
//! of `schedule.on.all` are decided by unique indexes (one event per slot, an event once per
//! version) and deleted under row locks taken in arrival order.

use sqlx::PgPool;

use crate::error::StoreError;
use crate::postgres::codec::encode_json;
use crate::records::{ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord};
use crate::rows_schedules::{
    CLAIM_SCHEDULE_PG, DELETE_MATCHES_PG, INSERT_MATCH_PG, INSERT_SCHEDULE, MatchRow, SELECT_MATCHES_PG,
    SELECT_SCHEDULES_PG, ScheduleRow, decode_match, decode_schedule,
};

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

pub(crate) async fn put_schedule_match(pool: &PgPool, found: &ScheduleMatch) -> Result<bool, StoreError> {
    let key = &found.schedule;
    let inserted = sqlx::query(INSERT_MATCH_PG)
        .bind(&key.workspace)
        .bind(&key.namespace)
        .bind(&key.name)
        .bind(&key.version)
        .bind(&found.group_key)
        .bind(found.filter_index)
        .bind(&found.event_key)
        .bind(encode_json(&found.event)?)
        .bind(found.received_at)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

pub(crate) async fn schedule_matches(
    pool: &PgPool,
    key: &ScheduleKey,
    group_key: Option<&str>,
) -> Result<Vec<ScheduleMatch>, StoreError> {
    let rows: Vec<MatchRow> = sqlx::query_as(SELECT_MATCHES_PG)
        .bind(&key.workspace)
        .bind(&key.namespace)
        .bind(&key.name)
        .bind(&key.version)
        .bind(group_key)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(|row| decode_match(key, row)).collect()
}

pub(crate) async fn delete_schedule_matches(
    pool: &PgPool,
    key: &ScheduleKey,
    group_key: &str,
    event_keys: &[String],
) -> Result<u64, StoreError> {
    let deleted = sqlx::query(DELETE_MATCHES_PG)
        .bind(&key.workspace)
        .bind(&key.namespace)
        .bind(&key.name)
        .bind(&key.version)
        .bind(group_key)
        .bind(event_keys)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(deleted)
}
