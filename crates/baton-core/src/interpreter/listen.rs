//! `listen` (`dsl-reference.md#listen`): subscribing, consuming events, `until`, `read` and
//! `foreach`. Decisions where the specification is open are in ARCHITECTURE.md.

use serde_json::{Value, json};

use baton_model::ReadMode;

use crate::compile::{CompiledKind, CompiledListen, CompiledWorkflow, Strategy, Until};
use crate::error::WorkflowError;
use crate::events::{FilterRole, Subscription, event_key, first_match};
use crate::interpreter::lifecycle::iso8601;
use crate::interpreter::{Machine, Work, data};
use crate::state::{ActiveSubscription, Command, Cursor, Exec, Iteration};

/// The `reason` an expired human-input wait records in the run's metadata and error detail.
const APPROVAL_TIMEOUT: &str = "approval_timeout";

/// What a consumed event becomes in the output (`listen.read`).
fn read_event(mode: ReadMode, event: &Value) -> Value {
    let data = event.get("data").filter(|data| !data.is_null());
    let encoded = || event.get("data_base64").cloned().unwrap_or(Value::Null);
    match mode {
        ReadMode::Envelope => event.clone(),
        ReadMode::Data => data.cloned().unwrap_or_else(encoded),
        ReadMode::Raw => match data {
            Some(Value::String(text)) => Value::String(text.clone()),
            Some(other) => Value::String(other.to_string()),
            None => encoded(),
        },
    }
}

/// Whether every filter with `role` consumed its event.
fn all_satisfied(subscription: &Subscription, role: FilterRole) -> bool {
    subscription.filters.iter().filter(|filter| filter.role == role).all(|filter| filter.satisfied)
}

/// The compiled `listen` task at `reference`.
fn listen_task<'w>(workflow: &'w CompiledWorkflow, reference: &str) -> Option<&'w CompiledListen> {
    match &workflow.tasks[workflow.task_by_reference(reference)?].kind {
        CompiledKind::Listen(listen) => Some(listen),
        _ => None,
    }
}

impl Machine<'_> {
    fn compiled_listen(&self, frame_id: u64) -> Option<&CompiledListen> {
        let workflow = self.workflow;
        listen_task(workflow, &self.frame(frame_id)?.reference)
    }

    /// Starts listening: resolves the `expect` expressions on the task input and subscribes.
    pub(super) fn start_listen(
        &mut self,
        frame_id: u64,
        listen: &CompiledListen,
        input: &Value,
    ) -> Result<(), WorkflowError> {
        let mut filters = listen.filters.clone();
        if !listen.expect_expressions.is_empty() {
            let variables = self.task_variables(frame_id, None);
            for (index, key, expression) in &listen.expect_expressions {
                let value = expression.evaluate(input, &variables)?;
                if let Some(correlation) = filters.get_mut(*index).and_then(|filter| filter.correlate.get_mut(key)) {
                    correlation.expect = Some(value);
                }
            }
        }
        let reference = self.frame(frame_id).map(|frame| frame.reference.clone()).unwrap_or_default();
        let inbox = match &listen.inbox {
            Some(template) => Some(template.evaluate(input, &self.task_variables(frame_id, None))?),
            None => None,
        };
        let timeout_ms = self.workflow.task_by_reference(&reference).and_then(|id| self.workflow.tasks[id].timeout_ms);
        let mut subscription = Subscription {
            created_at: self.now(),
            task: reference.clone(),
            types: None,
            filters,
            correlation: Default::default(),
            inbox,
            deadline_at: timeout_ms.map(|ms| self.now() + ms as crate::state::Millis),
        };
        subscription.refresh_types();
        let exec = |subscription_id| Exec::Listen {
            subscription_id,
            consumed: Vec::new(),
            seen: Vec::new(),
            queue: Default::default(),
            outputs: Vec::new(),
            iteration: None,
        };
        // `all: []` (in `to` or in `until`) is complete before any event.
        let vacuous = (listen.strategy == Strategy::All && all_satisfied(&subscription, FilterRole::Consume))
            || (matches!(listen.until, Until::Events(Strategy::All))
                && all_satisfied(&subscription, FilterRole::Until));
        if vacuous {
            if let Some(frame) = self.state.frames.get_mut(&frame_id) {
                frame.exec = exec(None);
            }
            self.agenda.push_back(Work::Produce { frame: frame_id, raw_output: json!([]), directive: None });
            return Ok(());
        }
        let subscription_id = format!("s{}", self.next_id());
        if let Some(frame) = self.state.frames.get_mut(&frame_id) {
            frame.exec = exec(Some(subscription_id.clone()));
        }
        self.state.subscriptions.insert(
            subscription_id.clone(),
            ActiveSubscription { frame: frame_id, subscription: subscription.clone() },
        );
        self.new_subscriptions.push(subscription_id.clone());
        self.push_command(Command::Subscribe { subscription_id, subscription });
        let workflow = self.workflow.name().to_owned();
        let data =
            json!({"workflow": workflow, "task": reference, "updatedAt": iso8601(self.now()), "status": "waiting"});
        self.history("task.status-changed", Some(&reference), data);
        if listen.correlates {
            self.history(
                "workflow.correlation-started",
                None,
                json!({"name": workflow, "startedAt": iso8601(self.now())}),
            );
        }
        Ok(())
    }

    /// Applies [`crate::state::StepInput::Expire`]: the wait's deadline passed. Ignored when the
    /// subscription has already ended. Adds `reason: "approval_timeout"` to the run's metadata
    /// (its other keys stay) and raises the `timeout` error (detail `reason: approval_timeout`).
    pub(super) fn expire(&mut self, subscription_id: &str) {
        let Some(frame_id) = self.state.subscriptions.get(subscription_id).map(|active| active.frame) else { return };
        let Some(reference) = self.frame(frame_id).map(|frame| frame.reference.clone()) else { return };
        self.state.metadata.insert("reason".to_owned(), Value::String(APPROVAL_TIMEOUT.to_owned()));
        let error = crate::interpreter::lifecycle::timeout_error("the approval deadline passed", &reference)
            .with_detail(format!("reason: {APPROVAL_TIMEOUT}"));
        self.agenda.push_back(Work::Fail { frame: frame_id, error });
    }

    /// Applies [`crate::state::StepInput::EventReceived`].
    pub(super) fn event_received(&mut self, subscription_id: &str, event: Value) {
        let workflow = self.workflow;
        let Some(active) = self.state.subscriptions.get(subscription_id) else { return };
        let frame_id = active.frame;
        let Some(frame) = self.frame(frame_id) else { return };
        let Some(listen) = listen_task(workflow, &frame.reference) else { return };
        let key = event_key(&event);
        if let (Some(key), Exec::Listen { seen, .. }) = (&key, &frame.exec)
            && seen.contains(key)
        {
            return;
        }
        let Ok(Some(matched)) = first_match(&active.subscription, &event, self.now()) else { return };

        // The subscription learns the correlation values and the satisfied filters.
        let Some(active) = self.state.subscriptions.get_mut(subscription_id) else { return };
        let subscription = &mut active.subscription;
        let mut changed = false;
        for (name, value) in matched.correlation {
            if let std::collections::btree_map::Entry::Vacant(entry) = subscription.correlation.entry(name) {
                entry.insert(value);
                changed = true;
            }
        }
        let role = subscription.filters[matched.filter].role;
        let strategy = match (role, &listen.until) {
            (FilterRole::Consume, _) => listen.strategy,
            (FilterRole::Until, Until::Events(strategy)) => *strategy,
            (FilterRole::Until, _) => Strategy::One,
        };
        if strategy == Strategy::All {
            subscription.filters[matched.filter].satisfied = true;
            changed = true;
        }
        let role_complete = strategy != Strategy::All || all_satisfied(subscription, role);
        if changed {
            subscription.refresh_types();
        }

        let item = read_event(listen.read, &event);
        let foreach = listen.foreach.is_some();
        if let Some((source, id)) = key.clone() {
            self.push_command(Command::EventConsumed { source, id });
        }
        let Some(Exec::Listen { seen, consumed, queue, .. }) = self.exec_mut(frame_id) else { return };
        seen.extend(key);
        if role == FilterRole::Consume {
            consumed.push(item.clone());
            if foreach {
                queue.push_back(item);
            }
        }
        let complete = match (role, listen.strategy, &listen.until) {
            (FilterRole::Until, _, _) => role_complete,
            (FilterRole::Consume, Strategy::Any, Until::Events(_)) => false,
            (FilterRole::Consume, Strategy::Any, Until::Condition(condition)) => {
                let consumed = Value::Array(consumed.clone());
                let mut variables = self.task_variables(frame_id, None);
                variables.set("event", event);
                match condition.evaluate_condition(&consumed, &variables) {
                    Ok(stop) => stop,
                    Err(err) => return self.agenda.push_back(Work::Fail { frame: frame_id, error: err.into() }),
                }
            }
            (FilterRole::Consume, _, _) => role_complete,
        };
        if complete {
            self.stop_listening(frame_id, subscription_id);
        } else if changed && let Some(active) = self.state.subscriptions.get(subscription_id) {
            let subscription = active.subscription.clone();
            self.push_command(Command::Subscribe { subscription_id: subscription_id.to_owned(), subscription });
        }
        self.next_item(frame_id);
    }

    /// The strategy is complete: unsubscribe (queued `foreach` events are still processed).
    fn stop_listening(&mut self, frame_id: u64, subscription_id: &str) {
        let Some(active) = self.state.subscriptions.remove(subscription_id) else { return };
        self.push_command(Command::Unsubscribe { subscription_id: subscription_id.to_owned() });
        if let Some(Exec::Listen { subscription_id, .. }) = self.exec_mut(frame_id) {
            *subscription_id = None;
        }
        if self.compiled_listen(frame_id).is_some_and(|listen| listen.correlates) {
            let data = json!({
                "name": self.workflow.name(),
                "completedAt": iso8601(self.now()),
                "correlationKeys": active.subscription.correlation,
            });
            self.history("workflow.correlation-completed", None, data);
        }
    }

    /// Starts the next `foreach` iteration if none runs, or completes the task once the strategy
    /// is complete and every consumed event was processed.
    fn next_item(&mut self, frame_id: u64) {
        let workflow = self.workflow;
        loop {
            let Some(listen) = self.compiled_listen(frame_id) else { return };
            let body = listen.foreach.as_ref().map(|foreach| foreach.body);
            let Some(Exec::Listen { subscription_id, consumed, queue, outputs, iteration, .. }) =
                self.exec_mut(frame_id)
            else {
                return;
            };
            if iteration.is_some() {
                return;
            }
            match (body, queue.pop_front()) {
                (Some(Some(list)), Some(item)) => {
                    let list = workflow.lists[list].reference.clone();
                    let cursor = Cursor { list, index: 0, child: None };
                    *iteration = Some(Iteration { item: item.clone(), index: outputs.len(), cursor });
                    return self.advance(frame_id, item, None);
                }
                (Some(None), Some(item)) => {
                    let index = outputs.len();
                    if let Err(error) = self.finish_iteration(frame_id, item.clone(), index, item) {
                        return self.agenda.push_back(Work::Fail { frame: frame_id, error });
                    }
                }
                (_, Some(_)) => {}
                (_, None) => {
                    if subscription_id.is_none() {
                        let output = if body.is_some() { std::mem::take(outputs) } else { std::mem::take(consumed) };
                        let raw_output = Value::Array(output);
                        self.agenda.push_back(Work::Produce { frame: frame_id, raw_output, directive: None });
                    }
                    return;
                }
            }
        }
    }

    /// The `foreach.do` list of the running iteration ended with `output`.
    pub(super) fn iteration_done(&mut self, frame_id: u64, output: Value) {
        let Some(Exec::Listen { iteration, .. }) = self.exec_mut(frame_id) else { return };
        let Some(Iteration { item, index, .. }) = iteration.clone() else { return };
        if let Err(error) = self.finish_iteration(frame_id, item, index, output) {
            return self.agenda.push_back(Work::Fail { frame: frame_id, error });
        }
        self.next_item(frame_id);
    }

    /// Applies `foreach.output` and `foreach.export` to an iteration's output and records it.
    fn finish_iteration(
        &mut self,
        frame_id: u64,
        item: Value,
        index: usize,
        output: Value,
    ) -> Result<(), WorkflowError> {
        let workflow = self.workflow;
        let Some(reference) = self.frame(frame_id).map(|frame| frame.reference.clone()) else { return Ok(()) };
        let Some(foreach) = listen_task(workflow, &reference).and_then(|listen| listen.foreach.as_ref()) else {
            return Ok(());
        };
        let mut variables = self.task_variables(frame_id, None);
        variables.set(&foreach.item, item);
        variables.set(&foreach.at, json!(index));
        let output = match &foreach.output_as {
            Some(template) => template.evaluate(&output, &variables)?,
            None => output,
        };
        if let Some(validator) = &foreach.output_schema {
            data::validate(validator, &output, &reference, "foreach output")?;
        }
        if let Some(template) = &foreach.export_as {
            variables.set("output", output.clone());
            let context = template.evaluate(&output, &variables)?;
            if let Some(validator) = &foreach.export_schema {
                data::validate(validator, &context, &reference, "exported context")?;
            }
            self.set_context(context);
        }
        if let Some(Exec::Listen { outputs, iteration, .. }) = self.exec_mut(frame_id) {
            outputs.push(output);
            *iteration = None;
        }
        Ok(())
    }
}
