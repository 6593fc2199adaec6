//! Typed model of a Serverless Workflow 1.0.3 document (`schema/workflow.yaml`).
//!
//! Expressions and value templates stay `serde_json::Value`/`String`: they are compiled by
//! `baton-core`. Unknown keys are rejected by the JSON-schema gate before these types are built,
//! so the types accept and ignore them.

use indexmap::IndexMap;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON object with its keys in document order.
pub type Map = IndexMap<String, Value>;

/// A whole workflow definition (`dsl.md#workflow`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    pub document: Document,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<Use>,
    #[serde(rename = "do")]
    pub do_: TaskList,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate: Option<Evaluate>,
}

/// `document`: identity and descriptive metadata of the workflow.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Document {
    pub dsl: String,
    pub namespace: String,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<IndexMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map>,
}

/// `evaluate`: the expression language and mode (main branch; accepted, jq strict only).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Evaluate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// `use`: reusable components referenced by name.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Use {
    #[serde(default)]
    pub authentications: IndexMap<String, AuthenticationPolicy>,
    #[serde(default)]
    pub errors: IndexMap<String, ErrorDefinition>,
    #[serde(default)]
    pub extensions: Vec<IndexMap<String, Extension>>,
    #[serde(default)]
    pub functions: IndexMap<String, Task>,
    #[serde(default)]
    pub retries: IndexMap<String, RetryPolicy>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub timeouts: IndexMap<String, Timeout>,
    #[serde(default)]
    pub catalogs: IndexMap<String, Catalog>,
}

/// `use.catalogs.<name>`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Catalog {
    pub endpoint: Endpoint,
}

/// `use.extensions[].<name>` (`dsl-reference.md#extension`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Extension {
    pub extend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<TaskList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<TaskList>,
}

/// `schedule` (`dsl-reference.md#schedule`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<EventConsumptionStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<ReadMode>,
}

/// A duration: an inline object or an ISO 8601 string (or, from 1.0.2, a `${ }` expression).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Duration {
    Inline(InlineDuration),
    Text(String),
}

/// The inline duration form `{days, hours, minutes, seconds, milliseconds}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InlineDuration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milliseconds: Option<u64>,
}

/// `timeout`: `{after: duration}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Timeout {
    pub after: Duration,
}

/// A timeout inline, or the name of one in `use.timeouts`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum TimeoutRef {
    Inline(Timeout),
    Named(String),
}

/// `input`: schema of, and filter applied to, the data coming in.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Input {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaDefinition>,
    /// A jq expression (string) or an object template with `${ }` leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
}

/// `output`: filter applied to, and schema of, the data going out.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Output {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaDefinition>,
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_: Option<Value>,
}

/// `export`: how a task's output updates `$context`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Export {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaDefinition>,
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_: Option<Value>,
}

/// `schema`: an inline JSON schema document or an external resource.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SchemaDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ExternalResource>,
}

/// `externalResource`: `{name?, endpoint}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExternalResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub endpoint: Endpoint,
}

/// `endpoint`: a URI template or `${ }` expression, or `{uri, authentication?}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "definitions are built once per deploy; boxing would only complicate matching"
)]
pub enum Endpoint {
    Uri(String),
    Config(EndpointConfig),
}

/// The object form of an endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EndpointConfig {
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationPolicy>,
}

impl Endpoint {
    /// The URI template or expression.
    pub fn uri(&self) -> &str {
        match self {
            Endpoint::Uri(uri) => uri,
            Endpoint::Config(config) => &config.uri,
        }
    }

    pub fn authentication(&self) -> Option<&AuthenticationPolicy> {
        match self {
            Endpoint::Uri(_) => None,
            Endpoint::Config(config) => config.authentication.as_ref(),
        }
    }
}

/// `authenticationPolicy`, or `{use: name}` referring to `use.authentications`.
/// Each scheme is either inline or `{use: secretName}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthenticationPolicy {
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<Map>,
}

/// `error`: an RFC 7807 problem as written in a definition; `type`, `title` and `detail` may be
/// runtime expressions.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ErrorDefinition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `errorFilter`: the properties a caught error must have. `details` is the 1.0.3 schema's
/// spelling; `detail` is accepted too.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ErrorFilter {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, alias = "detail", skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// `retryPolicy` (`dsl-reference.md#retry`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except_when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<RetryLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
}

/// `retryPolicy.backoff`: exactly one of `constant`, `exponential`, `linear` (no parameters).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Backoff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exponential: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<Map>,
}

/// `retryPolicy.limit`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RetryLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<RetryAttemptLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

/// `retryPolicy.limit.attempt`: `count` is the maximum number of retries (DESIGN.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RetryAttemptLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

/// `retryPolicy.jitter`: a uniform random delay in `[from, to]` added to each retry delay.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Jitter {
    pub from: Duration,
    pub to: Duration,
}

/// A retry policy inline, or the name of one in `use.retries`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "definitions are built once per deploy; boxing would only complicate matching"
)]
pub enum RetryRef {
    Named(String),
    Inline(RetryPolicy),
}

/// A `taskList`: an ordered list of single-key maps `- name: task`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct TaskList(pub Vec<TaskItem>);

/// One named entry of a task list.
#[derive(Debug, Clone)]
pub struct TaskItem {
    pub name: String,
    pub task: Task,
}

impl Serialize for TaskItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.name, &self.task)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for TaskList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items: Vec<IndexMap<String, Task>> = Vec::deserialize(deserializer)?;
        let mut list = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            if item.len() != 1 {
                return Err(de::Error::custom(format!(
                    "task list item {index} must have exactly one key (the task name), found {}",
                    item.len()
                )));
            }
            let (name, task) = item.into_iter().next().expect("one entry");
            list.push(TaskItem { name, task });
        }
        Ok(TaskList(list))
    }
}

impl TaskList {
    pub fn iter(&self) -> std::slice::Iter<'_, TaskItem> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A flow directive (`dsl-reference.md#flow-directive`): `continue`, `exit`, `end` or a task name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum FlowDirective {
    Continue,
    Exit,
    End,
    Goto(String),
}

impl From<FlowDirective> for String {
    fn from(directive: FlowDirective) -> String {
        match directive {
            FlowDirective::Continue => "continue".into(),
            FlowDirective::Exit => "exit".into(),
            FlowDirective::End => "end".into(),
            FlowDirective::Goto(name) => name,
        }
    }
}

impl<'de> Deserialize<'de> for FlowDirective {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "continue" => FlowDirective::Continue,
            "exit" => FlowDirective::Exit,
            "end" => FlowDirective::End,
            _ => FlowDirective::Goto(text),
        })
    }
}

/// Properties every task has (`taskBase`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TaskBase {
    /// A jq condition on the task's raw input; false skips the task.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<FlowDirective>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map>,
}

/// A task: the common base and its kind, told apart by the kind's key
/// (`for` is checked before `do`, since a `for` task also has `do`).
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    #[serde(flatten)]
    pub base: TaskBase,
    #[serde(flatten)]
    pub kind: TaskKind,
}

/// The kind of a task and its own properties.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "definitions are built once per deploy; boxing would only complicate matching"
)]
pub enum TaskKind {
    Call(CallTask),
    Do(DoTask),
    Emit(EmitTask),
    For(ForTask),
    Fork(ForkTask),
    Listen(ListenTask),
    Raise(RaiseTask),
    Run(RunTask),
    Set(SetTask),
    Switch(SwitchTask),
    Try(TryTask),
    Wait(WaitTask),
}

impl TaskKind {
    /// The DSL keyword of this kind (`call`, `do`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            TaskKind::Call(_) => "call",
            TaskKind::Do(_) => "do",
            TaskKind::Emit(_) => "emit",
            TaskKind::For(_) => "for",
            TaskKind::Fork(_) => "fork",
            TaskKind::Listen(_) => "listen",
            TaskKind::Raise(_) => "raise",
            TaskKind::Run(_) => "run",
            TaskKind::Set(_) => "set",
            TaskKind::Switch(_) => "switch",
            TaskKind::Try(_) => "try",
            TaskKind::Wait(_) => "wait",
        }
    }
}

/// Kind keywords in the order they are looked for.
pub const TASK_KEYWORDS: [&str; 12] =
    ["for", "call", "fork", "emit", "listen", "raise", "run", "set", "switch", "try", "wait", "do"];

impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let Value::Object(object) = &value else {
            return Err(de::Error::custom("a task must be an object"));
        };
        let keyword = TASK_KEYWORDS.iter().find(|keyword| object.contains_key(**keyword)).ok_or_else(|| {
            de::Error::custom(format!("unknown task type: expected one of the keys {}", TASK_KEYWORDS.join(", ")))
        })?;
        let base = TaskBase::deserialize(&value).map_err(de::Error::custom)?;
        let kind = match *keyword {
            "call" => TaskKind::Call(CallTask::deserialize(&value).map_err(de::Error::custom)?),
            "do" => TaskKind::Do(DoTask::deserialize(&value).map_err(de::Error::custom)?),
            "emit" => TaskKind::Emit(EmitTask::deserialize(&value).map_err(de::Error::custom)?),
            "for" => TaskKind::For(ForTask::deserialize(&value).map_err(de::Error::custom)?),
            "fork" => TaskKind::Fork(ForkTask::deserialize(&value).map_err(de::Error::custom)?),
            "listen" => TaskKind::Listen(ListenTask::deserialize(&value).map_err(de::Error::custom)?),
            "raise" => TaskKind::Raise(RaiseTask::deserialize(&value).map_err(de::Error::custom)?),
            "run" => TaskKind::Run(RunTask::deserialize(&value).map_err(de::Error::custom)?),
            "set" => TaskKind::Set(SetTask::deserialize(&value).map_err(de::Error::custom)?),
            "switch" => TaskKind::Switch(SwitchTask::deserialize(&value).map_err(de::Error::custom)?),
            "try" => TaskKind::Try(TryTask::deserialize(&value).map_err(de::Error::custom)?),
            _ => TaskKind::Wait(WaitTask::deserialize(&value).map_err(de::Error::custom)?),
        };
        Ok(Task { base, kind })
    }
}

/// `call`: the function name (`http`, `openapi`, `grpc`, `asyncapi`, `a2a`, `mcp`, or a custom
/// function from `use.functions` or a catalog) and its arguments.
#[derive(Debug, Clone, Serialize)]
pub struct CallTask {
    pub call: String,
    #[serde(rename = "with")]
    pub with: CallArguments,
}

/// The arguments of a call, typed by the called function.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CallArguments {
    Http(HttpArguments),
    OpenApi(OpenApiArguments),
    Grpc(Map),
    AsyncApi(Map),
    A2a(A2aArguments),
    Mcp(Map),
    /// A custom function's input: any object, evaluated as a template.
    Function(Map),
}

impl<'de> Deserialize<'de> for CallTask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            call: String,
            #[serde(default, rename = "with")]
            with: Option<Value>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let with = raw.with.unwrap_or(Value::Object(Default::default()));
        fn typed<T: serde::de::DeserializeOwned, E: de::Error>(call: &str, with: Value) -> Result<T, E> {
            serde_json::from_value(with).map_err(|err| E::custom(format!("call: {call}: with: {err}")))
        }
        let with = match raw.call.as_str() {
            "http" => CallArguments::Http(typed(&raw.call, with)?),
            "openapi" => CallArguments::OpenApi(typed(&raw.call, with)?),
            "grpc" => CallArguments::Grpc(typed(&raw.call, with)?),
            "asyncapi" => CallArguments::AsyncApi(typed(&raw.call, with)?),
            "a2a" => CallArguments::A2a(typed(&raw.call, with)?),
            "mcp" => CallArguments::Mcp(typed(&raw.call, with)?),
            _ => CallArguments::Function(typed(&raw.call, with)?),
        };
        Ok(CallTask { call: raw.call, with })
    }
}

/// `call: http` arguments (`dsl-reference.md#http-call`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HttpArguments {
    pub method: String,
    pub endpoint: Endpoint,
    /// A map of header values (templates) or a `${ }` expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A map of query values (templates) or a `${ }` expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputFormat>,
    #[serde(default)]
    pub redirect: bool,
}

/// How an HTTP or OpenAPI call's response becomes the task's raw output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// The deserialized body.
    #[default]
    Content,
    /// The body, base64-encoded.
    Raw,
    /// `{request, statusCode, headers, content}`.
    Response,
}

/// `call: openapi` arguments (`dsl-reference.md#openapi-call`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenApiArguments {
    pub document: ExternalResource,
    pub operation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputFormat>,
    #[serde(default)]
    pub redirect: bool,
}

/// `call: a2a` arguments (`dsl-reference.md#a2a-call`, 1.0.2+).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct A2aArguments {
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_card: Option<ExternalResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// `do`: run subtasks in order.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DoTask {
    #[serde(rename = "do")]
    pub do_: TaskList,
}

/// `emit`: publish a CloudEvent.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EmitTask {
    pub emit: EmitDefinition,
}

/// `emit` body: `{event: {with: eventProperties}}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EmitDefinition {
    pub event: EventWith,
}

/// `{with: eventProperties}`; property values may be templates.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EventWith {
    #[serde(rename = "with")]
    pub with: Map,
}

/// `for`: iterate over a collection.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ForTask {
    #[serde(rename = "for")]
    pub for_: ForDefinition,
    /// A jq condition checked before each iteration.
    #[serde(default, rename = "while", skip_serializing_if = "Option::is_none")]
    pub while_: Option<String>,
    #[serde(rename = "do")]
    pub do_: TaskList,
}

/// `for` body: `{each = item, in, at = index}`; `in` is a jq expression or an inline array.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ForDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<String>,
    #[serde(rename = "in")]
    pub in_: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// `fork`: run branches concurrently.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ForkTask {
    pub fork: ForkDefinition,
}

/// `fork` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ForkDefinition {
    pub branches: TaskList,
    #[serde(default)]
    pub compete: bool,
}

/// `listen`: wait for events.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ListenTask {
    pub listen: ListenDefinition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<SubscriptionIterator>,
}

/// `listen` body: `{to, read = data}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ListenDefinition {
    pub to: EventConsumptionStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<ReadMode>,
}

/// What a consumed event becomes: its data, the whole envelope, or the raw payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    #[default]
    Data,
    Envelope,
    Raw,
}

/// `eventConsumptionStrategy`: exactly one of `all`, `any` (with `until`), `one`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EventConsumptionStrategy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<EventFilter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<EventFilter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one: Option<EventFilter>,
    /// An expression, or a nested strategy (without its own `until`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Value>,
}

/// `eventFilter`: `{with: eventProperties, correlate?}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EventFilter {
    #[serde(default, rename = "with", skip_serializing_if = "Option::is_none")]
    pub with: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlate: Option<IndexMap<String, Correlation>>,
}

/// `correlate.<key>`: `from` extracts a value from the event; `expect` is the value required.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Correlation {
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

/// `subscriptionIterator`: what to do with each consumed event.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SubscriptionIterator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default, rename = "do", skip_serializing_if = "Option::is_none")]
    pub do_: Option<TaskList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
}

/// `raise`: fault with an error.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RaiseTask {
    pub raise: RaiseDefinition,
}

/// `raise` body: an inline error or the name of one in `use.errors`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RaiseDefinition {
    pub error: ErrorRef,
}

/// An error inline or by name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ErrorRef {
    Named(String),
    Inline(ErrorDefinition),
}

/// `run`: a container, script, shell command or workflow.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RunTask {
    pub run: RunDefinition,
}

/// `run` body: exactly one process kind, plus `await` and `return`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RunDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<SubflowDefinition>,
    #[serde(default = "default_true", rename = "await")]
    pub await_: bool,
    #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
    pub return_: Option<String>,
}

fn default_true() -> bool {
    true
}

/// `run.workflow`: a subflow by namespace, name and version (default `latest`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SubflowDefinition {
    pub namespace: String,
    pub name: String,
    #[serde(default = "default_latest")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

fn default_latest() -> String {
    "latest".into()
}

/// `set`: replace the data with an object template or one `${ }` expression.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SetTask {
    pub set: Value,
}

/// `switch`: the first case whose `when` holds decides the flow.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SwitchTask {
    pub switch: Vec<IndexMap<String, SwitchCase>>,
}

/// One switch case: `{when?, then}`; the case without `when` is the default.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SwitchCase {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub then: FlowDirective,
}

/// `try`: run tasks, catching errors that match.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TryTask {
    #[serde(rename = "try")]
    pub try_: TaskList,
    pub catch: Catch,
}

/// `catch` (`dsl-reference.md#catch`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Catch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<CatchErrors>,
    /// Name of the variable holding the caught error (default `error`).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except_when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryRef>,
    #[serde(default, rename = "do", skip_serializing_if = "Option::is_none")]
    pub do_: Option<TaskList>,
    /// Flow directive after a handled error (main branch, `catch.then`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<FlowDirective>,
}

/// `catch.errors`: `{with: errorFilter}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CatchErrors {
    #[serde(default, rename = "with", skip_serializing_if = "Option::is_none")]
    pub with: Option<ErrorFilter>,
}

/// `wait`: pause for a duration.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WaitTask {
    pub wait: Duration,
}
