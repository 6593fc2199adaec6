//! [`EventStore`]: received events, subscriptions and the inbox.

use std::future::Future;

use crate::error::StoreError;
use crate::ids::WorkspaceId;
use crate::records::{InboxFilter, InboxItem, Millis, StoredEvent, SubscriptionRecord};

/// CloudEvents kept for the retention window, the subscriptions of waiting runs, and the
/// human-input items among them (the inbox).
pub trait EventStore: Send + Sync + 'static {
    /// Loads a stored event of `workspace` by its CloudEvent `source` and `id`.
    fn get_event(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;

    /// Stores an event received from outside, in `workspace`. Returns `true` when it is new,
    /// `false` when its (`source`, `id`) is already stored (nothing changes then), also when
    /// the same event is posted concurrently: exactly one call returns `true`.
    /// With `target_run_id`, the event answers that run only (an inbox response): it is never
    /// offered to another run by [`EventStore::retained_events`].
    fn put_event(
        &self,
        workspace: &WorkspaceId,
        event: StoredEvent,
        target_run_id: Option<&str>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The subscriptions of `workspace` that can match an event of type `kind`: those listing
    /// `kind` among their types and those of any type (`types: None`), by `created_at`, run id
    /// and subscription id.
    fn subscriptions_for_type(
        &self,
        workspace: &WorkspaceId,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<SubscriptionRecord>, StoreError>> + Send;

    /// Up to `limit` stored events of `workspace` received at or after `since` (unix ms), of
    /// one of `types` (`None`: any type, an empty slice: none), that the run `run_id` has not
    /// consumed ([`crate::Checkpoint::events_consumed`]), in arrival order (`received_at`, then
    /// insertion order).
    fn retained_events(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        since: Millis,
        types: Option<&[String]>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Loads one subscription of a run of `workspace`.
    fn subscription(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        subscription_id: &str,
    ) -> impl Future<Output = Result<Option<SubscriptionRecord>, StoreError>> + Send;

    /// Open inbox items (subscriptions with an inbox document) of `workspace`, by
    /// `created_at`, run id and subscription id, one page at a time.
    fn list_inbox(
        &self,
        workspace: &WorkspaceId,
        filter: InboxFilter,
    ) -> impl Future<Output = Result<Vec<InboxItem>, StoreError>> + Send;

    /// Node-level (the stale-wait sweeper): up to `limit` inbox items of every workspace with
    /// `deadline_at <= now`, oldest deadline first (ties by run id, subscription id); each
    /// item carries its workspace.
    fn overdue_inbox(&self, now: Millis, limit: u32)
    -> impl Future<Output = Result<Vec<InboxItem>, StoreError>> + Send;

    /// Node-level (the retention purge, every workspace): deletes the events received before
    /// `received_before` (unix ms), with the runs' records of having consumed them. Returns the
    /// number of events deleted.
    fn delete_events_before(&self, received_before: Millis) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
