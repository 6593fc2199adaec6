//! The persisted state of one run, and the inputs and outputs of an interpreter step.
//!
//! [`RunState`] is stored as JSON after every step (it is a persistence boundary, hence the
//! serde derives and the `format` field). Frames name tasks by JSON pointer, never by index,
//! so a state stays readable by a later Baton that compiles the same definition differently.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use baton_model::FlowDirective;

use crate::effects::{Effect, EffectResult};
use crate::error::WorkflowError;
use crate::events::Subscription;

/// Version of the [`RunState`] JSON layout.
pub const STATE_FORMAT: u32 = 1;

/// Unix time in milliseconds.
pub type Millis = i64;

/// A run's status (`dsl.md#status-phases`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Pending,
    Running,
    Waiting,
    Suspended,
    Cancelled,
    Faulted,
    Completed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Suspended => "suspended",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Faulted => "faulted",
            RunStatus::Completed => "completed",
        }
    }

    /// Completed, faulted or cancelled: nothing will change any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Faulted | RunStatus::Cancelled)
    }

    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Suspended,
        RunStatus::Cancelled,
        RunStatus::Faulted,
        RunStatus::Completed,
    ];

    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Everything the interpreter knows about a run between two steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub format: u32,
    pub run_id: String,
    pub status: RunStatus,
    /// The raw workflow input (`$workflow.input`).
    pub input: Value,
    /// `$context`.
    pub context: Value,
    pub started_at: Millis,
    /// Source of frame, timer and effect ids; only grows.
    pub next_id: u64,
    /// Active task executions by frame id. Frame 0 is the workflow itself.
    pub frames: BTreeMap<u64, Frame>,
    /// Pending timers by timer id.
    pub timers: BTreeMap<String, Timer>,
    /// Effects in flight by effect id.
    pub effects: BTreeMap<String, PendingEffect>,
    /// Event subscriptions of listening tasks by subscription id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscriptions: BTreeMap<String, ActiveSubscription>,
    /// Inputs that arrived while suspended, applied on resume in order.
    #[serde(default)]
    pub deferred: Vec<StepInput>,
    /// Work a step left when it reached its bound (`crate::interpreter::MAX_WORK_PER_STEP`)
    /// or when the run was suspended in the middle of it: the next step does it first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub pending: VecDeque<Work>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WorkflowError>,
    /// The run's metadata: an object set when the run is created (`POST /api/v1/runs`,
    /// `metadata`), to which the interpreter adds keys and never removes any (an expired
    /// human-input wait adds `reason: "approval_timeout"`). Absent in states stored before it
    /// existed, which load with `{}`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

/// One task being executed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    pub parent: Option<u64>,
    /// Position among the parent's children (fork branch index), 0 otherwise.
    pub slot: usize,
    /// JSON pointer of the task; empty for the workflow frame.
    pub reference: String,
    pub raw_input: Value,
    /// The transformed input (`$input`).
    pub input: Value,
    pub started_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_timer: Option<String>,
    pub exec: Exec,
}

/// Where in its own work a task is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exec {
    /// Running a task list (the workflow's `do`, a `do` task, a `catch.do`, a function).
    Sequence { cursor: Cursor },
    /// Running iteration `index` of a `for` over `items`.
    For { items: Vec<Value>, index: usize, cursor: Cursor },
    /// Running all branches; `outputs[i]` is set when branch `i` completed.
    Fork { outputs: Vec<Option<Value>>, compete: bool },
    /// Running the `try` list (attempt 1 is the first run; each retry adds one).
    Try { attempt: u32, first_attempt_at: Millis, phase: TryPhase },
    /// Waiting for an effect's result.
    Effect { effect_id: String, stage: EffectStage },
    /// Waiting for a `wait` timer.
    Wait { timer_id: String },
    /// Running a `use.functions` task as a child.
    Function,
    /// Listening for events, or running `foreach` over the events consumed.
    Listen {
        /// The subscription while listening; `None` once the strategy is complete (events
        /// still queued for `foreach` are processed before the task completes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription_id: Option<String>,
        /// The events consumed into the output, after `read`, in order.
        #[serde(default)]
        consumed: Vec<Value>,
        /// `(source, id)` of every event consumed, also by `until`: a duplicate is ignored.
        #[serde(default)]
        seen: Vec<(String, String)>,
        /// `foreach`: consumed events waiting for their iteration, first in first out.
        #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
        queue: VecDeque<Value>,
        /// `foreach`: the outputs of the finished iterations.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        outputs: Vec<Value>,
        /// `foreach`: the iteration running.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iteration: Option<Iteration>,
    },
}

/// One `foreach` iteration of a `listen` task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Iteration {
    /// The event (after `read`), bound to `$item` or `foreach.item`.
    pub item: Value,
    /// Bound to `$index` or `foreach.at`.
    pub index: usize,
    pub cursor: Cursor,
}

/// The part of a `try` task in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum TryPhase {
    Body { cursor: Cursor },
    RetryDelay { timer_id: String, error: WorkflowError },
    Handler { cursor: Cursor, error: WorkflowError },
}

/// Which result an effect frame waits for (an OpenAPI call fetches its document first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectStage {
    Http,
    OpenApiDocument,
    Subflow,
}

/// Position in a task list: the list's JSON pointer, the index of the running task, and the
/// frame of that task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub list: String,
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<u64>,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timer {
    pub due_at: Millis,
    pub purpose: TimerPurpose,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerPurpose {
    /// A `wait` task's delay ended.
    Wait { frame: u64 },
    /// A task's `timeout` expired: it raises the `timeout` error.
    TaskTimeout { frame: u64 },
    /// The workflow's `timeout` expired.
    WorkflowTimeout,
    /// A retry delay ended: run the `try` list again.
    Retry { frame: u64 },
}

/// A subscription issued and the frame of the `listen` task that owns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActiveSubscription {
    pub frame: u64,
    pub subscription: Subscription,
}

/// One unit of work inside a step (the interpreter's agenda). A step that reaches its work
/// bound keeps the rest of its agenda in [`RunState::pending`]; the next step goes on with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    /// Start `task` as frame `frame`, a child of `parent`.
    Enter { frame: u64, parent: u64, slot: usize, task: usize, raw_input: Value },
    /// The task in `frame` produced its raw output; `directive` overrides its `then`.
    Produce { frame: u64, raw_output: Value, directive: Option<FlowDirective> },
    /// A child of `parent` completed with its transformed output.
    ChildDone { parent: u64, slot: usize, output: Value, directive: FlowDirective },
    /// The task in `frame` raised an error.
    Fail { frame: u64, error: WorkflowError },
    /// A child of `parent` faulted.
    ChildFailed { parent: u64, error: WorkflowError },
}

/// An effect in flight and the frame waiting for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingEffect {
    pub frame: u64,
    pub idempotency_key: String,
    pub effect: Effect,
}

/// What can happen to a run: the closed set of inputs of [`crate::step`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepInput {
    Start,
    EffectCompleted {
        effect_id: String,
        result: EffectResult,
    },
    TimerFired {
        timer_id: String,
    },
    /// An event matched the subscription (see [`crate::events::matches`]). `event` is the
    /// CloudEvent in the JSON format. Ignored when the subscription is unknown or ended, when
    /// the event no longer matches, or when this subscription already consumed an event with
    /// the same `source` and `id`.
    EventReceived {
        subscription_id: String,
        event: Value,
    },
    /// A human-input wait passed its deadline (the stale-wait sweeper): the `listen` holding
    /// the subscription raises the standard `timeout` error, as its own `timeout` would.
    Expire {
        subscription_id: String,
    },
    Cancel,
    Suspend,
    Resume,
    /// The answer to [`Command::Continue`]: go on with the work the last step left pending.
    Continue,
}

/// What the driver must do after committing a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// Perform an effect and feed back [`StepInput::EffectCompleted`] with this id. HTTP requests
    /// carry `idempotency_key` as their `Idempotency-Key` header.
    Perform {
        effect_id: String,
        idempotency_key: String,
        effect: Effect,
    },
    /// Feed back [`StepInput::TimerFired`] at `due_at` (unix ms).
    StartTimer {
        timer_id: String,
        due_at: Millis,
    },
    CancelTimer {
        timer_id: String,
    },
    /// Store (or replace, for an id already stored) the subscription and deliver each event
    /// [`crate::events::matches`] accepts as [`StepInput::EventReceived`], including retained
    /// events received before (rules in ARCHITECTURE.md, `listen`).
    Subscribe {
        subscription_id: String,
        subscription: Subscription,
    },
    /// Drop the subscription: nothing more is delivered to it.
    Unsubscribe {
        subscription_id: String,
    },
    /// The run consumed this event (`source`, `id`): it is never offered to the run again, so
    /// a later `listen` of the same run does not take it as an event received before it.
    EventConsumed {
        source: String,
        id: String,
    },
    /// Store (and later deliver) an emitted CloudEvent.
    EmitEvent {
        event: Value,
    },
    Complete {
        output: Value,
    },
    Fault {
        error: WorkflowError,
    },
    Cancelled,
    /// The step reached its work bound with pure work left (a long `for`, a loop of `then`
    /// jumps): once the step is committed, feed back [`StepInput::Continue`], after the inputs
    /// already waiting, so that a cancel or a suspend takes effect between two chunks.
    Continue,
}

/// A lifecycle event for the run's history (`io.serverlessworkflow.*.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub at: Millis,
    /// CloudEvent type, e.g. `io.serverlessworkflow.task.completed.v1`.
    pub kind: String,
    /// The task reference, for task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub data: Value,
}

/// The result of one step: commands to run after commit and history to append.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    pub commands: Vec<Command>,
    pub history: Vec<HistoryEvent>,
}
