//! [`ScheduleStore`]: the `schedule` of deployed workflow versions and the pending events of
//! `schedule.on.all` groups.

use std::future::Future;

use crate::error::StoreError;
use crate::records::{ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord};

/// Schedules (`dsl-reference.md#schedule`); each record, claim and key names its workspace.
pub trait ScheduleStore: Send + Sync + 'static {
    /// Stores the schedule of a workflow version (in `record.workspace`) unless it has one
    /// already. Returns `true` when it was created; deploying the same version again keeps its
    /// schedule state.
    fn put_schedule(&self, record: ScheduleRecord) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Node-level (the scheduler, every workspace): every schedule (of `kind` when given),
    /// earliest `next_due_at` first (`None` last), then by namespace, name and version. Each
    /// record carries its workspace.
    fn schedules(&self, kind: Option<&str>) -> impl Future<Output = Result<Vec<ScheduleRecord>, StoreError>> + Send;

    /// Sets a schedule's `next_due_at` (and its last fire) if its `next_due_at` is still
    /// `claim.expected_due_at`, atomically: of several nodes claiming one due time, exactly one
    /// gets `true`. `false`: already claimed, or no such schedule.
    fn claim_schedule(&self, claim: ScheduleClaim) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records an event matched by a filter of a `schedule.on.all` (`dsl-reference.md#schedule`)
    /// unless its slot (workflow version, `group_key`, `filter_index`) holds an event already or
    /// this event (`event_key`) is recorded for the version already. Returns `true` when it was
    /// recorded; of several nodes recording into one slot at once, exactly one gets `true`.
    fn put_schedule_match(&self, found: ScheduleMatch) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The recorded matches of one workflow version (of one group when `group_key` is given),
    /// by group, then in arrival order.
    fn schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ScheduleMatch>, StoreError>> + Send;

    /// Deletes the matches of group `group_key` whose events are in `event_keys` (those a fire
    /// used) and returns how many it deleted; of several nodes deleting the same matches at
    /// once, one deletes them and the others delete nothing.
    fn delete_schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: &str,
        event_keys: &[String],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
