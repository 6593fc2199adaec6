//! Only the inbox answers an inbox wait: a `listen` with `metadata.inbox` takes only events that
//! name its item in the `batoninboxitem` extension attribute (inbox responses always do; an
//! event posted to `/events` may, if the item opts in with `acceptEvents: true` and the sender
//! may answer it, which the API checks at intake). Plain events never reach such a wait.
//!
//! When an inbox wait consumes its answer, the run's history records who answered
//! (`io.baton.inbox.responded.v1`, with `respondedBy`).

use serde_json::{Value, json};

use baton_core::events::Subscription;
use baton_core::state::{Command, HistoryEvent, RunState, StepInput, StepOutput};

/// Extension attribute naming the inbox item (`{runId}~{subscriptionId}`) an event answers.
pub const INBOX_ITEM_ATTRIBUTE: &str = "batoninboxitem";
/// Extension attributes of an answer: the answering member's id and name.
pub const RESPONDER_ATTRIBUTE: &str = "batonresponder";
pub const RESPONDER_NAME_ATTRIBUTE: &str = "batonrespondername";

/// History entry type recording who answered an inbox item.
pub const INBOX_RESPONDED: &str = "io.baton.inbox.responded.v1";

/// The id of the item of subscription `subscription_id` in run `run_id`.
pub fn item_id(run_id: &str, subscription_id: &str) -> String {
    format!("{run_id}~{subscription_id}")
}

/// Whether `event` may be offered to the subscription at all: any event to a plain `listen`,
/// only its own item's answers to an inbox wait.
pub(crate) fn admits(run_id: &str, subscription_id: &str, subscription: &Subscription, event: &Value) -> bool {
    if subscription.inbox.is_none() {
        return true;
    }
    event.get(INBOX_ITEM_ATTRIBUTE).and_then(Value::as_str) == Some(item_id(run_id, subscription_id).as_str())
}

/// What to record if the step consumes an inbox answer: the subscription's task and the answer.
pub(crate) struct PendingAnswer {
    task: String,
    item: String,
    event_id: String,
    responder: Value,
}

/// Notes an inbox answer about to be applied (`None` for any other input).
pub(crate) fn pending_answer(state: &RunState, input: &StepInput) -> Option<PendingAnswer> {
    let StepInput::EventReceived { subscription_id, event } = input else { return None };
    let active = state.subscriptions.get(subscription_id)?;
    active.subscription.inbox.as_ref()?;
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(PendingAnswer {
        task: active.subscription.task.clone(),
        item: item_id(&state.run_id, subscription_id),
        event_id: text("id")?,
        responder: json!({"id": text(RESPONDER_ATTRIBUTE)?, "name": text(RESPONDER_NAME_ATTRIBUTE).unwrap_or_default()}),
    })
}

/// Appends the `respondedBy` history entry when the step consumed the answer.
pub(crate) fn record_answer(answer: Option<PendingAnswer>, output: &mut StepOutput, now: i64) {
    let Some(answer) = answer else { return };
    let consumed = output
        .commands
        .iter()
        .any(|command| matches!(command, Command::EventConsumed { id, .. } if *id == answer.event_id));
    if consumed {
        // First: the answer is what the step began with (and a step that ends the run keeps
        // its terminal entry last).
        output.history.insert(
            0,
            HistoryEvent {
                at: now,
                kind: INBOX_RESPONDED.into(),
                task: Some(answer.task),
                data: json!({"item": answer.item, "eventId": answer.event_id, "respondedBy": answer.responder}),
            },
        );
    }
}
