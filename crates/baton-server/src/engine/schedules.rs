//! Workflow schedules (`schedule.every|cron|after|on`): one row per deployed version in the
//! store, one scheduler loop per engine.
//!
//! A time-driven schedule fires at `next_due_at`. The fire's run id is derived from the
//! workflow version and the due time, so creating it twice (a retried fire, or two nodes) is a
//! store conflict, and the store's compare-and-set on `next_due_at` advances the schedule once.
//! A fire missed while no engine ran happens ONCE when the scheduler next looks, then the
//! schedule continues from the present: missed slots are skipped, not replayed.
//!
//! - `every`: due times on a fixed grid from deployment, whether or not earlier runs ended.
//! - `cron`: the next matching minute (or second) after the fire, in UTC.
//! - `after`: first due one delay after deployment; a fire parks the schedule (no due time)
//!   until its run ends, then the next due time is the run's end plus the delay.
//! - `on` (`dsl-reference.md#schedule`, `#event-consumption-strategy`, `#correlation`): with
//!   `one` or `any`, each event routed that matches a filter starts a run whose input is
//!   `[event]`, the envelope (DSL 1.0.3 has no `schedule.read`; should a definition carry one,
//!   it is honoured as by `listen`); the run id is derived from the event's `source` and `id`,
//!   so an event starts a workflow version at most once. With `all`, each matching event is
//!   recorded in the store (`schedule_matches`) for the first filter whose slot in its
//!   correlation group is free; when every filter of a group holds an event, a run starts with
//!   those events in arrival order, its id derived from their identities, and only then are
//!   they deleted: a crash in between repeats the fire, which finds its run and deletes them.
//!   Correlation values (`from` on the event, constant `expect`) form the group; a null or
//!   failing `from` never matches.

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use baton_core::events::{CorrelationKey, Filter, FilterRole, Subscription, correlation_group, match_filter, matches};
use baton_model::{EventFilter, ReadMode, Schedule};
use baton_store::{
    ConflictKind, ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord, Store, StoreError, WorkspaceId,
};

use crate::clock::now_ms;
use crate::engine::{CreateRun, Deployed, Engine, EngineError, Inner};

/// Longest sleep of the scheduler loop: other nodes' deployments and ended `after` runs are
/// noticed within this time.
const POLL_MS: i64 = 1_000;

/// Namespace of the UUIDv5 run ids of scheduled fires.
const FIRE_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6ba7_b812_9dad_11d1_80b4_00c0_4fd4_30c8);

/// The scheduler's wake-up and whether its loop runs.
#[derive(Default)]
pub(super) struct Scheduler {
    started: AtomicBool,
    changed: Arc<Notify>,
}

/// What a schedule does, decoded from its spec.
enum Plan {
    Every(i64),
    Cron(Box<croner::Cron>),
    After(i64),
    On(Box<OnPlan>),
}

/// An event-driven schedule: its filters as a subscription (correlation values are never
/// established on it: each group of an `all` keeps its own in the store), whether every filter
/// must match (`all`) or one (`one`, `any`), and how each event enters the run's input.
struct OnPlan {
    subscription: Subscription,
    all: bool,
    read: Option<ReadMode>,
}

fn kind_of(schedule: &Schedule) -> Option<&'static str> {
    if schedule.every.is_some() {
        Some("every")
    } else if schedule.cron.is_some() {
        Some("cron")
    } else if schedule.after.is_some() {
        Some("after")
    } else if schedule.on.is_some() {
        Some("on")
    } else {
        None
    }
}

fn parse_cron(text: &str) -> Option<croner::Cron> {
    use croner::parser::{CronParser, Seconds, Year};
    CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build().parse(text).ok()
}

/// The first cron occurrence strictly after `after` (unix ms, UTC).
fn next_cron(cron: &croner::Cron, after: i64) -> Option<i64> {
    let start = jiff::Timestamp::from_millisecond(after).ok()?.to_zoned(jiff::tz::TimeZone::UTC);
    let next = cron.find_next_occurrence(&start, false).ok()?;
    Some(next.timestamp().as_millisecond())
}

/// The plan of an `on` strategy (`until` is refused at deploy, so it is ignored here).
fn on_plan(schedule: &Schedule) -> Option<OnPlan> {
    let strategy = schedule.on.as_ref()?;
    let (filters, all): (Vec<EventFilter>, bool) = match (&strategy.one, &strategy.any, &strategy.all) {
        (Some(one), _, _) => (vec![one.clone()], false),
        // `any: []` matches every event.
        (None, Some(any), _) if any.is_empty() => (vec![EventFilter::default()], false),
        (None, Some(any), _) => (any.clone(), false),
        (None, None, Some(all)) => (all.clone(), true),
        _ => return None,
    };
    let filters = filters
        .into_iter()
        .map(|filter| Filter {
            role: FilterRole::Consume,
            satisfied: false,
            with: filter.with.unwrap_or_default().into_iter().collect::<Map<String, Value>>(),
            correlate: filter
                .correlate
                .unwrap_or_default()
                .into_iter()
                .map(|(key, correlation)| {
                    let expect = correlation.expect.map(Value::String);
                    (key, CorrelationKey { from: correlation.from, expect })
                })
                .collect(),
        })
        .collect();
    let mut subscription = Subscription {
        created_at: 0,
        task: "/schedule/on".into(),
        types: None,
        filters,
        correlation: Default::default(),
        inbox: None,
        deadline_at: None,
    };
    subscription.refresh_types();
    Some(OnPlan { subscription, all, read: schedule.read })
}

fn plan(spec: &Value) -> Option<Plan> {
    let schedule: Schedule = serde_json::from_value(spec.clone()).ok()?;
    if let Some(every) = &schedule.every {
        return Some(Plan::Every(every.to_millis().ok()?.max(1) as i64));
    }
    if let Some(cron) = &schedule.cron {
        return Some(Plan::Cron(Box::new(parse_cron(cron)?)));
    }
    if let Some(after) = &schedule.after {
        return Some(Plan::After(after.to_millis().ok()? as i64));
    }
    Some(Plan::On(Box::new(on_plan(&schedule)?)))
}

/// The first due time of a schedule deployed at `now`.
fn first_due(plan: &Plan, now: i64) -> Option<i64> {
    match plan {
        Plan::Every(ms) | Plan::After(ms) => Some(now + ms),
        Plan::Cron(cron) => next_cron(cron, now),
        Plan::On(..) => None,
    }
}

/// The due time after a fire of `due` handled at `now`: missed slots are skipped.
fn next_due(plan: &Plan, due: i64, now: i64) -> Option<i64> {
    match plan {
        Plan::Every(ms) => Some(due + ((now - due) / ms + 1) * ms),
        Plan::Cron(cron) => next_cron(cron, now.max(due)),
        Plan::After(_) | Plan::On(..) => None,
    }
}

fn schedule_key(record: &ScheduleRecord) -> ScheduleKey {
    ScheduleKey {
        workspace: record.workspace.clone(),
        namespace: record.namespace.clone(),
        name: record.name.clone(),
        version: record.version.clone(),
    }
}

/// An event's identity as [`ScheduleMatch::event_key`] holds it: `[source, id]` as JSON text.
fn event_key(event: &Value) -> String {
    let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default();
    json!([text("source"), text("id")]).to_string()
}

fn fire_id(record: &ScheduleRecord, what: &str) -> String {
    let key = format!("{}/{}/{}:{}@{what}", record.workspace, record.namespace, record.name, record.version);
    uuid::Uuid::new_v5(&FIRE_NAMESPACE, key.as_bytes()).to_string()
}

impl<S: Store + Clone> Engine<S> {
    /// Stores the schedule of a freshly deployed workflow (a no-op when it has none or already
    /// has one) and makes sure the scheduler runs.
    pub(super) async fn register_schedule(&self, deployed: &Deployed) -> Result<(), EngineError> {
        let workflow = &deployed.workflow;
        let Some(schedule) = &workflow.workflow.schedule else { return Ok(()) };
        let Some(kind) = kind_of(schedule) else { return Ok(()) };
        let spec = serde_json::to_value(schedule).expect("a schedule serializes: its maps have string keys");
        let now = now_ms();
        let Some(plan) = plan(&spec) else {
            tracing::warn!(workflow = workflow.name(), "schedule cannot be planned; ignored");
            return Ok(());
        };
        let record = ScheduleRecord {
            workspace: deployed.workspace.clone(),
            namespace: workflow.namespace().into(),
            name: workflow.name().into(),
            version: workflow.version().into(),
            kind: kind.into(),
            spec,
            next_due_at: first_due(&plan, now),
            last_fired_at: None,
            last_run_id: None,
            created_at: now,
        };
        self.inner.store.put_schedule(record).await?;
        self.start_scheduler();
        self.inner.schedules.changed.notify_one();
        Ok(())
    }

    /// Starts the scheduler loop unless it runs already.
    pub(super) fn start_scheduler(&self) {
        if !self.inner.schedules.started.swap(true, Ordering::SeqCst) {
            let notify = self.inner.schedules.changed.clone();
            tokio::spawn(run_scheduler(Arc::downgrade(&self.inner), notify));
        }
    }

    /// Fires every due time-driven schedule and re-arms `after` schedules whose run ended.
    /// Returns how long to sleep until the next due time (at most [`POLL_MS`]).
    pub async fn fire_due_schedules(&self) -> Result<i64, EngineError> {
        let store = &self.inner.store;
        let now = now_ms();
        let mut wait = POLL_MS;
        for record in store.schedules(None).await? {
            if record.kind == "on" {
                continue;
            }
            let Some(plan) = plan(&record.spec) else { continue };
            let Some(due) = record.next_due_at else {
                if let (Plan::After(delay), Some(run_id)) = (&plan, &record.last_run_id)
                    && let Some(run) = store.get_run(&record.workspace, run_id).await?
                    && run.status.is_terminal()
                {
                    let next = run.updated_at + delay;
                    store.claim_schedule(claim(&record, None, Some(next), None)).await?;
                    wait = wait.min((next - now).max(0));
                }
                continue;
            };
            if due > now {
                wait = wait.min(due - now);
                continue;
            }
            let run_id = fire_id(&record, &due.to_string());
            if let Err(err) = self.start_scheduled_run(&record, json!({}), &run_id).await {
                // Not created: the due time stays due and the next pass tries again (same id).
                tracing::warn!(error = %err, workflow = record.name, "scheduled run not created");
                continue;
            }
            let next = next_due(&plan, due, now);
            store.claim_schedule(claim(&record, Some(due), next, Some((now, run_id)))).await?;
            if let Some(next) = next {
                wait = wait.min((next - now).max(0));
            }
        }
        Ok(wait)
    }

    /// Creates and starts the run of one fire; `Ok(false)` when this fire's run exists already.
    async fn start_scheduled_run(
        &self,
        record: &ScheduleRecord,
        input: Value,
        run_id: &str,
    ) -> Result<bool, EngineError> {
        let deployed = self.workflow_in(&record.workspace, &record.namespace, &record.name, &record.version).await?;
        let request = CreateRun {
            run_id: Some(run_id.to_owned()),
            workspace: record.workspace.clone(),
            ..CreateRun::new(&deployed.workflow, input)
        };
        let created = match self.create(request).await {
            Ok(created) => created,
            Err(EngineError::Store(StoreError::Conflict(ConflictKind::RunExists { .. }))) => return Ok(false),
            Err(err) => return Err(err),
        };
        self.start_created(&created.record, &deployed);
        Ok(true)
    }

    /// Starts a run of every workflow whose `schedule.on` matches `event`. Failures are logged:
    /// they never reach the event's sender nor any run.
    pub(super) async fn fire_event_schedules(&self, workspace: &WorkspaceId, event: &Value) {
        let schedules = match self.inner.store.schedules(Some("on")).await {
            Ok(schedules) => schedules,
            Err(err) => {
                tracing::warn!(error = %err, "event-driven schedules not read");
                return;
            }
        };
        let now = now_ms();
        let key = format!(
            "{}\u{0}{}",
            event.get("source").and_then(Value::as_str).unwrap_or_default(),
            event.get("id").and_then(Value::as_str).unwrap_or_default()
        );
        for record in schedules.into_iter().filter(|record| record.workspace == *workspace) {
            let Some(Plan::On(on)) = plan(&record.spec) else { continue };
            if on.all {
                if let Err(err) = self.record_all_match(&record, &on, event, now).await {
                    tracing::warn!(error = %err, workflow = record.name, "event-driven match not recorded");
                }
                continue;
            }
            if !matches(&on.subscription, event, now).unwrap_or(false) {
                continue;
            }
            let item = read_event(event, on.read);
            let run_id = fire_id(&record, &format!("event:{key}"));
            match self.start_scheduled_run(&record, json!([item]), &run_id).await {
                Ok(true) => {
                    let fired = claim(&record, None, None, Some((now, run_id)));
                    let _ = self.inner.store.claim_schedule(fired).await;
                }
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %err, workflow = record.name, "event-driven run not started"),
            }
        }
    }
}

impl<S: Store + Clone> Engine<S> {
    /// Records `event` for the first filter of an `all` schedule that matches it and whose slot
    /// in the event's correlation group is free (none: the event is not used), then fires every
    /// group the event could join that is complete.
    async fn record_all_match(
        &self,
        record: &ScheduleRecord,
        on: &OnPlan,
        event: &Value,
        now: i64,
    ) -> Result<(), EngineError> {
        let schedule = schedule_key(record);
        let mut groups: Vec<String> = Vec::new();
        for index in 0..on.subscription.filters.len() {
            let Ok(Some(values)) = match_filter(&on.subscription, index, event, now) else { continue };
            let group_key = correlation_group(&values);
            if !groups.contains(&group_key) {
                groups.push(group_key.clone());
            }
            let found = ScheduleMatch {
                schedule: schedule.clone(),
                group_key,
                filter_index: index as i64,
                event_key: event_key(event),
                event: event.clone(),
                received_at: now,
            };
            if self.inner.store.put_schedule_match(found).await? {
                break;
            }
        }
        for group_key in groups {
            let pending = self.inner.store.schedule_matches(&schedule, Some(&group_key)).await?;
            self.fire_group(record, on, &pending).await?;
        }
        Ok(())
    }

    /// Fires every complete group of every `all` schedule: the groups whose last event was
    /// recorded by a node that stopped before it started (or finished) the fire.
    pub(super) async fn fire_complete_groups(&self) -> Result<(), EngineError> {
        for record in self.inner.store.schedules(Some("on")).await? {
            let Some(Plan::On(on)) = plan(&record.spec) else { continue };
            if !on.all {
                continue;
            }
            let pending = self.inner.store.schedule_matches(&schedule_key(&record), None).await?;
            for group in pending.chunk_by(|a, b| a.group_key == b.group_key) {
                self.fire_group(&record, on.as_ref(), group).await?;
            }
        }
        Ok(())
    }

    /// Starts the run of one correlation group if every filter holds an event (`pending`: the
    /// group's matches in arrival order), then deletes those matches. The run id derives from
    /// the events in filter order, so nodes completing the same group start one run.
    async fn fire_group(
        &self,
        record: &ScheduleRecord,
        on: &OnPlan,
        pending: &[ScheduleMatch],
    ) -> Result<(), EngineError> {
        let filters = on.subscription.filters.len();
        let mut slots: Vec<Option<&str>> = vec![None; filters];
        for found in pending {
            if let Some(slot) = usize::try_from(found.filter_index).ok().and_then(|index| slots.get_mut(index)) {
                *slot = Some(&found.event_key);
            }
        }
        let Some(used) = slots.into_iter().collect::<Option<Vec<&str>>>() else { return Ok(()) };
        let Some(first) = pending.first() else { return Ok(()) };
        let run_id = fire_id(record, &format!("events:{}", json!(used)));
        let input: Vec<Value> = pending.iter().map(|found| read_event(&found.event, on.read)).collect();
        if self.start_scheduled_run(record, Value::Array(input), &run_id).await? {
            let fired = claim(record, None, None, Some((now_ms(), run_id)));
            let _ = self.inner.store.claim_schedule(fired).await;
        }
        let used: Vec<String> = used.into_iter().map(str::to_owned).collect();
        self.inner.store.delete_schedule_matches(&first.schedule, &first.group_key, &used).await?;
        Ok(())
    }
}

/// One triggering event as the run's input holds it: the envelope unless `schedule.read` says
/// `data` (`data`, else `data_base64`, else null) or `raw` (the payload as text), as `listen`.
fn read_event(event: &Value, read: Option<ReadMode>) -> Value {
    let payload = || event.get("data").or_else(|| event.get("data_base64")).cloned().unwrap_or(Value::Null);
    match read {
        None | Some(ReadMode::Envelope) => event.clone(),
        Some(ReadMode::Data) => payload(),
        Some(ReadMode::Raw) => match payload() {
            Value::String(text) => Value::String(text),
            Value::Null => Value::Null,
            other => Value::String(other.to_string()),
        },
    }
}

fn claim(
    record: &ScheduleRecord,
    expected: Option<i64>,
    next: Option<i64>,
    fired: Option<(i64, String)>,
) -> ScheduleClaim {
    ScheduleClaim {
        workspace: record.workspace.clone(),
        namespace: record.namespace.clone(),
        name: record.name.clone(),
        version: record.version.clone(),
        expected_due_at: expected,
        next_due_at: next,
        fired,
    }
}

/// The scheduler loop: fires what is due, sleeps until the next due time (at most
/// [`POLL_MS`]) or a deployment, and ends with the engine.
async fn run_scheduler<S: Store + Clone>(inner: Weak<Inner<S>>, changed: Arc<Notify>) {
    if let Some(inner) = inner.upgrade()
        && let Err(err) = (Engine { inner }).fire_complete_groups().await
    {
        tracing::warn!(error = %err, "complete event-driven groups not fired");
    }
    loop {
        let notified = changed.notified();
        let wait = {
            let Some(inner) = inner.upgrade() else { return };
            let engine = Engine { inner };
            match engine.fire_due_schedules().await {
                Ok(wait) => wait,
                Err(err) => {
                    tracing::warn!(error = %err, "scheduler pass failed");
                    POLL_MS
                }
            }
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait.max(5) as u64)) => {}
            () = notified => {}
        }
    }
}
