//! Run ownership on PostgreSQL (see [`crate::ClusterStore::claim_run`]): the shared statements
//! of `sql/ownership.rs`, one statement each; the orphan sweep skips rows another node's sweep
//! has locked, and storing an input notifies the run's owner through `LISTEN`/`NOTIFY` (this
//! statement is PostgreSQL's own).

use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio::sync::{mpsc, watch};

use crate::postgres::codec::encode_json;
use crate::rows::RecordRow;

crate::sql::ownership::ownership!(sqlx::Postgres);

/// The channel [`put_run_input`] notifies, with the run's owner as payload.
const INPUTS_CHANNEL: &str = "baton_inputs";

pub(crate) async fn put_run_input(
    pool: &PgPool,
    run_id: &str,
    input: &Value,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    // The notification is delivered when the statement's transaction commits, so the owner
    // never looks for an input that is not visible yet.
    let row = sqlx::query(statement!(
        "WITH run AS (SELECT id, owner, status IN ({}) AS ended \
           FROM runs WHERE id = $1), \
         input AS (INSERT INTO run_inputs (run_id, input, created_at) \
           SELECT id, $2::json, $3 FROM run WHERE NOT ended RETURNING id) \
         SELECT run.owner, run.ended, (SELECT pg_notify($4, COALESCE(run.owner, '')) FROM input) IS NULL AS notified \
         FROM run",
        terminal_sql_list()
    ))
    .bind(run_id)
    .bind(encode_json(input)?)
    .bind(now)
    .bind(INPUTS_CHANNEL)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) if row.try_get::<bool, _>("ended")? => Ok(None),
        Some(row) => row.optional_text("owner"),
        None => Err(StoreError::NotFound(format!("run {run_id}"))),
    }
}

/// Listens on [`INPUTS_CHANNEL`] and sends `()` for each notification addressed to `node`.
/// The listener reconnects by itself after a lost connection (notifications sent meanwhile
/// are lost: the engine's safety-net poll finds those inputs); the task ends when the receiver
/// is dropped or the store closes (`closing` turns true), which gives the listener's pooled
/// connection back.
pub(crate) async fn input_notifications(
    pool: &PgPool,
    node: &str,
    mut closing: watch::Receiver<bool>,
) -> Result<mpsc::UnboundedReceiver<()>, StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(INPUTS_CHANNEL).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let node = node.to_owned();
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                received = listener.recv() => received,
                _ = closing.wait_for(|closing| *closing) => return,
                () = sender.closed() => return,
            };
            match received {
                Ok(notification) if notification.payload() == node => {
                    if sender.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    if sender.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %err, "lost the notification connection; reconnecting");
                    // Wake the owner so it looks for inputs stored while it was not listening.
                    let _ = sender.send(());
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
    });
    Ok(receiver)
}
