//! Events into runs: intake (posted or emitted), routing to the subscriptions that match, and
//! the lookback that gives a new subscription the events received before it (DESIGN.md, "Human
//! input": no lost approvals).

use serde_json::Value;

use baton_core::events::{Subscription, matches, validate_cloud_event};
use baton_core::state::StepInput;
use baton_store::{Store, StoredEvent, SubscriptionRecord, WorkspaceId};

use crate::clock::now_ms;
use crate::engine::{DEFAULT_WORKSPACE, Engine, EngineError, inbox_gate};

/// Most retained events offered to one new subscription.
const LOOKBACK_LIMIT: u32 = 10_000;

/// The stored form of a CloudEvent received (or emitted) at `now`.
pub(super) fn stored_event(event: &Value, now: i64) -> StoredEvent {
    let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let time = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|time| time.parse::<jiff::Timestamp>().ok())
        .map(|time| time.as_millisecond())
        .unwrap_or(now);
    StoredEvent {
        id: text("id"),
        source: text("source"),
        kind: text("type"),
        time,
        event: event.clone(),
        received_at: now,
    }
}

/// The stored form of a subscription a step issued. A human-input wait without a deadline of
/// its own gets the engine's default approval deadline.
pub(super) fn subscription_record(
    workspace: &WorkspaceId,
    run_id: &str,
    subscription_id: &str,
    subscription: &Subscription,
    approval_deadline_ms: i64,
) -> SubscriptionRecord {
    let default_deadline = (subscription.inbox.is_some() && approval_deadline_ms > 0)
        .then_some(subscription.created_at + approval_deadline_ms);
    SubscriptionRecord {
        run_id: run_id.to_owned(),
        subscription_id: subscription_id.to_owned(),
        workspace: workspace.clone(),
        types: subscription.types.clone(),
        subscription: serde_json::to_value(subscription).expect("a Subscription serializes: its maps have string keys"),
        inbox: subscription.inbox.clone(),
        deadline_at: subscription.deadline_at.or(default_deadline),
        created_at: subscription.created_at,
    }
}

impl<S: Store + Clone> Engine<S> {
    /// [`Engine::publish_event_in`] the `default` workspace.
    pub async fn publish_event(&self, event: Value) -> Result<bool, EngineError> {
        self.publish_event_in(&DEFAULT_WORKSPACE, event).await
    }

    /// Accepts a CloudEvent (structured JSON) into `workspace`: checks it, stores it once per
    /// `source` + `id`, and delivers it to every matching subscription of that workspace (never
    /// to another's). Returns `false` for a duplicate, which is acknowledged and otherwise
    /// ignored.
    ///
    /// Errors: [`EngineError::InvalidEvent`] listing every missing or invalid attribute.
    pub async fn publish_event_in(&self, workspace: &WorkspaceId, event: Value) -> Result<bool, EngineError> {
        validate_cloud_event(&event).map_err(EngineError::InvalidEvent)?;
        let stored = stored_event(&event, now_ms());
        if !self.inner.store.put_event(workspace, stored, None).await? {
            return Ok(false);
        }
        self.route_event(workspace, &event).await?;
        Ok(true)
    }

    /// Accepts a CloudEvent that answers one subscription of one run of `workspace` (an inbox
    /// response): it is stored once per `source` + `id` like any event, but delivered to that
    /// subscription only and never offered to other runs. Returns `false` for a duplicate.
    ///
    /// Errors: [`EngineError::InvalidEvent`] listing every missing or invalid attribute.
    pub async fn publish_event_to(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        subscription_id: &str,
        event: Value,
    ) -> Result<bool, EngineError> {
        validate_cloud_event(&event).map_err(EngineError::InvalidEvent)?;
        let stored = stored_event(&event, now_ms());
        if !self.inner.store.put_event(workspace, stored, Some(run_id)).await? {
            return Ok(false);
        }
        self.deliver(run_id, StepInput::EventReceived { subscription_id: subscription_id.to_owned(), event });
        Ok(true)
    }

    /// Delivers a stored event to every subscription of `workspace` it matches (an inbox wait
    /// only its own item's answers, [`inbox_gate`]).
    pub(super) async fn route_event(&self, workspace: &WorkspaceId, event: &Value) -> Result<(), EngineError> {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        let now = now_ms();
        for record in self.inner.store.subscriptions_for_type(workspace, kind).await? {
            let Ok(subscription) = serde_json::from_value::<Subscription>(record.subscription) else { continue };
            if inbox_gate::admits(&record.run_id, &record.subscription_id, &subscription, event)
                && matches(&subscription, event, now).unwrap_or(false)
            {
                let input = StepInput::EventReceived { subscription_id: record.subscription_id, event: event.clone() };
                self.deliver(&record.run_id, input);
            }
        }
        self.fire_event_schedules(workspace, event).await;
        Ok(())
    }

    /// Offers a subscription every retained event of `workspace` it matches that its run has
    /// not consumed yet, oldest first: an event sent before the run reached its `listen` is not
    /// lost.
    pub(super) async fn offer_retained(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        subscription_id: &str,
        subscription: &Subscription,
    ) -> Result<(), EngineError> {
        let now = now_ms();
        let since = now - self.inner.event_retention_ms;
        let types = subscription.types.as_deref();
        let events = self.inner.store.retained_events(workspace, run_id, since, types, LOOKBACK_LIMIT).await?;
        for stored in events {
            if inbox_gate::admits(run_id, subscription_id, subscription, &stored.event)
                && matches(subscription, &stored.event, now).unwrap_or(false)
            {
                let input =
                    StepInput::EventReceived { subscription_id: subscription_id.to_owned(), event: stored.event };
                self.deliver(run_id, input);
            }
        }
        Ok(())
    }
}
