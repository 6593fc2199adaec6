//! Compiling a [`Workflow`] into the form the interpreter runs: every task list and task
//! addressable by its JSON pointer, every expression compiled once, every duration resolved.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use baton_model::duration::is_runtime_expression;
use baton_model::{
    AuthenticationPolicy, CallArguments, Diagnostic, Endpoint, ErrorDefinition, ErrorFilter, ErrorRef,
    EventConsumptionStrategy, EventFilter, FlowDirective, ListenTask, OutputFormat, ReadMode, RetryPolicy, RetryRef,
    SchemaDefinition, Task, TaskKind, TaskList, TimeoutRef, Workflow,
};

use crate::events::{CorrelationKey, Filter, FilterRole};
use crate::expr::{Expression, ExpressionError, Template};

/// Index of a task in [`CompiledWorkflow::tasks`].
pub type TaskId = usize;
/// Index of a task list in [`CompiledWorkflow::lists`].
pub type ListId = usize;

/// A workflow ready to run. Immutable; shared by every run of the same definition.
#[derive(Debug)]
pub struct CompiledWorkflow {
    pub workflow: Workflow,
    /// The definition as a parsed object (`$workflow.definition`).
    pub definition: Value,
    pub tasks: Vec<CompiledTask>,
    pub lists: Vec<CompiledList>,
    /// The top-level `do` list.
    pub root: ListId,
    pub input_schema: Option<Arc<jsonschema::Validator>>,
    pub input_from: Option<Template>,
    pub output_as: Option<Template>,
    pub output_schema: Option<Arc<jsonschema::Validator>>,
    pub timeout_ms: Option<u64>,
    /// Whether any expression may read `$workflow` / `$task`: building those descriptors (with
    /// the whole definition) for every evaluation is the costliest part of an evaluation, and
    /// jq cannot name a variable dynamically, so a workflow whose text never mentions them
    /// never needs them.
    pub uses_workflow_descriptor: bool,
    pub uses_task_descriptor: bool,
    by_reference: HashMap<String, TaskId>,
    lists_by_reference: HashMap<String, ListId>,
}

/// A task list: its tasks in order and its JSON pointer (e.g. `/do/0/outer/do`).
#[derive(Debug)]
pub struct CompiledList {
    pub reference: String,
    pub tasks: Vec<TaskId>,
    names: HashMap<String, usize>,
}

impl CompiledList {
    /// Position of the task called `name` in this list.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }
}

/// One task with its expressions compiled.
#[derive(Debug)]
pub struct CompiledTask {
    pub name: String,
    /// JSON pointer of the task, e.g. `/do/0/tryGetPet/try/0/getPet`.
    pub reference: String,
    /// The task's definition as a parsed object (`$task.definition`).
    pub definition: Value,
    pub if_: Option<Expression>,
    pub input_schema: Option<Arc<jsonschema::Validator>>,
    pub input_from: Option<Template>,
    pub output_as: Option<Template>,
    pub output_schema: Option<Arc<jsonschema::Validator>>,
    pub export_as: Option<Template>,
    pub export_schema: Option<Arc<jsonschema::Validator>>,
    pub timeout_ms: Option<u64>,
    pub then: FlowDirective,
    pub kind: CompiledKind,
}

/// What a task does, with its parts compiled.
#[derive(Debug)]
pub enum CompiledKind {
    Set(Template),
    Do(ListId),
    For {
        each: String,
        at: String,
        in_: Template,
        while_: Option<Expression>,
        body: ListId,
    },
    Fork {
        branches: ListId,
        compete: bool,
    },
    Try {
        body: ListId,
        catch: Box<CompiledCatch>,
    },
    Raise(CompiledError),
    Wait(DelaySpec),
    Emit(Template),
    Switch(Vec<CompiledCase>),
    Http(Box<CompiledHttp>),
    OpenApi(Box<CompiledOpenApi>),
    /// A function from `use.functions`: run that task with the evaluated `with` as its input.
    Function {
        function: TaskId,
        with: Template,
    },
    Subflow {
        namespace: String,
        name: String,
        version: String,
        input: Option<Template>,
        await_: bool,
    },
    Listen(Box<CompiledListen>),
    /// A feature validation refuses; kept so a stale stored definition faults cleanly.
    Unsupported(String),
}

/// `listen` compiled (semantics in ARCHITECTURE.md, "Semantics decided where the specification
/// is open").
#[derive(Debug)]
pub struct CompiledListen {
    /// The filters as the subscription carries them: those of `to` in declaration order (one
    /// filter without attributes for `any: []`), then those of an `until` strategy. Constant
    /// `expect`s are set; expression ones are in `expect_expressions`.
    pub filters: Vec<Filter>,
    /// `expect` expressions evaluated on the task input when the task starts listening:
    /// (filter index, key, expression).
    pub expect_expressions: Vec<(usize, String, Expression)>,
    /// How the filters of `to` complete the task.
    pub strategy: Strategy,
    pub until: Until,
    pub read: ReadMode,
    pub foreach: Option<CompiledForeach>,
    /// Whether any filter correlates (the task records the correlation lifecycle events).
    pub correlates: bool,
    /// The task's `metadata.inbox` (human input), with `${ }` values compiled.
    pub inbox: Option<Template>,
}

/// How the filters of one strategy complete it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Complete on the first event.
    One,
    /// Complete once every filter consumed an event.
    All,
    /// Complete on the first event, unless `until` says otherwise.
    Any,
}

/// When a `listen.to.any` stops.
#[derive(Debug)]
pub enum Until {
    /// After the first event (no `until`, or `one`/`all`).
    None,
    /// When this condition holds after an event is consumed: `.` is the array of consumed
    /// events (after `read`), `$event` the event just consumed.
    Condition(Expression),
    /// When the `until` filters complete this strategy; their events are not output.
    Events(Strategy),
}

/// `foreach` of a `listen` task.
#[derive(Debug)]
pub struct CompiledForeach {
    pub item: String,
    pub at: String,
    pub body: Option<ListId>,
    pub output_as: Option<Template>,
    pub output_schema: Option<Arc<jsonschema::Validator>>,
    pub export_as: Option<Template>,
    pub export_schema: Option<Arc<jsonschema::Validator>>,
}

/// A duration known at compile time, or an expression evaluated when needed.
#[derive(Debug)]
pub enum DelaySpec {
    Fixed(u64),
    Expression(Template),
}

/// One `switch` case.
#[derive(Debug)]
pub struct CompiledCase {
    pub name: String,
    pub when: Option<Expression>,
    pub then: FlowDirective,
}

/// An error to raise; `type`, `title` and `detail` may be expressions.
#[derive(Debug)]
pub struct CompiledError {
    pub type_: Template,
    pub status: Template,
    pub title: Option<Template>,
    pub detail: Option<Template>,
    pub instance: Option<String>,
}

/// `catch` with its filter, conditions, retry policy and handler list.
#[derive(Debug)]
pub struct CompiledCatch {
    pub filter: ErrorFilter,
    /// Variable name bound to the caught error (default `error`).
    pub as_: String,
    pub when: Option<Expression>,
    pub except_when: Option<Expression>,
    pub retry: Option<CompiledRetry>,
    pub do_: Option<ListId>,
    pub then: Option<FlowDirective>,
}

/// A retry policy with durations in ms (`dsl-reference.md#retry`; backoff formulas in DESIGN.md).
#[derive(Debug)]
pub struct CompiledRetry {
    pub when: Option<Expression>,
    pub except_when: Option<Expression>,
    pub delay_ms: u64,
    pub backoff: Backoff,
    /// Maximum number of retries (`limit.attempt.count`); `None` is unbounded.
    pub max_retries: Option<u32>,
    /// Limit on the whole retrying, measured from the first attempt.
    pub max_duration_ms: Option<u64>,
    pub jitter_ms: Option<(u64, u64)>,
}

/// How the delay grows between retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Constant,
    /// `delay × n` for retry n (1-based).
    Linear,
    /// `delay × 2^(n-1)` for retry n (1-based).
    Exponential,
}

/// Credentials with their fields as templates (so `${ $secrets.x }` works).
#[derive(Debug)]
pub enum CompiledAuth {
    Basic {
        username: Template,
        password: Template,
    },
    Bearer {
        token: Template,
    },
    /// `{use: secret}` credentials: the secret holds `username`/`password` or `token`.
    BasicSecret(String),
    BearerSecret(String),
}

/// `call: http` compiled.
#[derive(Debug)]
pub struct CompiledHttp {
    pub method: String,
    pub endpoint: EndpointSpec,
    pub headers: Option<Template>,
    pub query: Option<Template>,
    pub body: Option<Template>,
    pub output: OutputFormat,
    pub redirect: bool,
    pub auth: Option<CompiledAuth>,
}

/// `call: openapi` compiled.
#[derive(Debug)]
pub struct CompiledOpenApi {
    pub document: EndpointSpec,
    pub operation_id: String,
    pub parameters: Option<Template>,
    pub output: OutputFormat,
    pub redirect: bool,
    pub auth: Option<CompiledAuth>,
}

/// An endpoint URI: an RFC 6570 template expanded with the task input, or an expression.
#[derive(Debug)]
pub enum EndpointSpec {
    UriTemplate(String),
    Expression(Template),
}

/// A correlation `expect` that is an expression on the task input: `${ … }`, or bare jq starting
/// with `.` or `$`; anything else is a constant.
pub(crate) fn is_expect_expression(source: &str) -> bool {
    let trimmed = source.trim_start();
    is_runtime_expression(source) || trimmed.starts_with('.') || trimmed.starts_with('$')
}

/// A filter expression's compile error, with what filters can use.
fn filter_message(err: &ExpressionError) -> String {
    format!("{err} (event filters see only the attribute or event as `.` and the event as `$event`)")
}

/// Names of the scope variables visible at a point of the definition (besides the runtime
/// arguments), e.g. a `for` body sees its `each` and `at` names.
type Scope = Vec<String>;

impl CompiledWorkflow {
    /// The task with this JSON pointer.
    pub fn task_by_reference(&self, reference: &str) -> Option<TaskId> {
        self.by_reference.get(reference).copied()
    }

    /// The task list with this JSON pointer.
    pub fn list_by_reference(&self, reference: &str) -> Option<ListId> {
        self.lists_by_reference.get(reference).copied()
    }

    pub fn namespace(&self) -> &str {
        &self.workflow.document.namespace
    }

    pub fn name(&self) -> &str {
        &self.workflow.document.name
    }

    pub fn version(&self) -> &str {
        &self.workflow.document.version
    }
}

/// Compiles a parsed workflow. Errors: every expression, schema or duration that cannot be
/// compiled, each with its path.
pub fn compile(workflow: Workflow) -> Result<CompiledWorkflow, Vec<Diagnostic>> {
    let definition = serde_json::to_value(&workflow).unwrap_or(Value::Null);
    let text = definition.to_string();
    let (uses_workflow_descriptor, uses_task_descriptor) = (text.contains("$workflow"), text.contains("$task"));
    let mut compiler = Compiler { workflow: &workflow, tasks: Vec::new(), lists: Vec::new(), diagnostics: Vec::new() };
    let root = compiler.list(&workflow.do_, "/do", &Vec::new());
    let input = workflow.input.as_ref();
    let output = workflow.output.as_ref();
    let input_schema = input.and_then(|i| compiler.schema(i.schema.as_ref(), "/input/schema"));
    let input_from = input.and_then(|i| compiler.expression_field(i.from.as_ref(), "/input/from", &Vec::new()));
    let output_as = output.and_then(|o| compiler.expression_field(o.as_.as_ref(), "/output/as", &Vec::new()));
    let output_schema = output.and_then(|o| compiler.schema(o.schema.as_ref(), "/output/schema"));
    let timeout_ms = compiler.timeout(workflow.timeout.as_ref(), "/timeout");
    if let Some(on) = workflow.schedule.as_ref().and_then(|schedule| schedule.on.as_ref()) {
        compiler.schedule_on(on);
    }
    let Compiler { tasks, lists, diagnostics, .. } = compiler;
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let by_reference = tasks.iter().enumerate().map(|(id, task)| (task.reference.clone(), id)).collect();
    let lists_by_reference = lists.iter().enumerate().map(|(id, list)| (list.reference.clone(), id)).collect();
    Ok(CompiledWorkflow {
        definition,
        tasks,
        lists,
        root,
        input_schema,
        input_from,
        output_as,
        output_schema,
        timeout_ms,
        uses_workflow_descriptor,
        uses_task_descriptor,
        by_reference,
        lists_by_reference,
        workflow,
    })
}

struct Compiler<'w> {
    workflow: &'w Workflow,
    tasks: Vec<CompiledTask>,
    lists: Vec<CompiledList>,
    diagnostics: Vec<Diagnostic>,
}

fn scope_with(scope: &Scope, names: &[&str]) -> Scope {
    let mut extended = scope.clone();
    extended.extend(names.iter().map(|name| (*name).to_owned()));
    extended
}

impl Compiler<'_> {
    fn report(&mut self, path: &str, errors: Vec<(String, ExpressionError)>) {
        for (leaf, err) in errors {
            self.diagnostics.push(Diagnostic::new(format!("{path}{leaf}"), err.to_string()));
        }
    }

    fn scope_refs(scope: &Scope) -> Vec<&str> {
        scope.iter().map(String::as_str).collect()
    }

    fn expression(&mut self, source: &str, path: &str, scope: &Scope) -> Option<Expression> {
        let source = crate::expr::strip_runtime_expression(source).unwrap_or(source);
        match Expression::compile(source, &Self::scope_refs(scope)) {
            Ok(expression) => Some(expression),
            Err(err) => {
                self.diagnostics.push(Diagnostic::new(path, err.to_string()));
                None
            }
        }
    }

    fn expression_field(&mut self, value: Option<&Value>, path: &str, scope: &Scope) -> Option<Template> {
        let value = value?;
        match Template::compile_expression_field(value, &Self::scope_refs(scope)) {
            Ok(template) => Some(template),
            Err(errors) => {
                self.report(path, errors);
                None
            }
        }
    }

    fn value(&mut self, value: &Value, path: &str, scope: &Scope) -> Template {
        match Template::compile_value(value, &Self::scope_refs(scope)) {
            Ok(template) => template,
            Err(errors) => {
                self.report(path, errors);
                Template::compile_value(&Value::Null, &[]).unwrap_or_else(|_| unreachable!("null is a constant"))
            }
        }
    }

    fn schema(&mut self, schema: Option<&SchemaDefinition>, path: &str) -> Option<Arc<jsonschema::Validator>> {
        let document = schema?.document.as_ref()?;
        match jsonschema::validator_for(document) {
            Ok(validator) => Some(Arc::new(validator)),
            Err(err) => {
                self.diagnostics
                    .push(Diagnostic::new(format!("{path}/document"), format!("invalid JSON schema: {err}")));
                None
            }
        }
    }

    fn duration_ms(&mut self, duration: &baton_model::Duration, path: &str) -> Option<u64> {
        match duration.to_millis() {
            Ok(ms) => Some(ms),
            Err(err) => {
                self.diagnostics.push(Diagnostic::new(path, err.to_string()));
                None
            }
        }
    }

    fn timeout(&mut self, timeout: Option<&TimeoutRef>, path: &str) -> Option<u64> {
        let after = match timeout? {
            TimeoutRef::Inline(timeout) => &timeout.after,
            TimeoutRef::Named(name) => match self.workflow.use_.as_ref().and_then(|u| u.timeouts.get(name)) {
                Some(timeout) => &timeout.after,
                None => {
                    self.diagnostics
                        .push(Diagnostic::new(path, format!("timeout {name:?} is not defined in use.timeouts")));
                    return None;
                }
            },
        };
        self.duration_ms(after, &format!("{path}/after"))
    }

    fn list(&mut self, list: &TaskList, reference: &str, scope: &Scope) -> ListId {
        let id = self.lists.len();
        self.lists.push(CompiledList { reference: reference.to_owned(), tasks: Vec::new(), names: HashMap::new() });
        for (index, item) in list.iter().enumerate() {
            let task_reference = format!("{reference}/{index}/{}", item.name);
            let task = self.task(&item.name, &item.task, &task_reference, scope);
            self.lists[id].tasks.push(task);
            self.lists[id].names.entry(item.name.clone()).or_insert(index);
        }
        id
    }

    fn task(&mut self, name: &str, task: &Task, reference: &str, scope: &Scope) -> TaskId {
        let base = &task.base;
        let if_ = base.if_.as_deref().and_then(|source| self.expression(source, &format!("{reference}/if"), scope));
        let input = base.input.as_ref();
        let output = base.output.as_ref();
        let export = base.export.as_ref();
        let input_schema = input.and_then(|i| self.schema(i.schema.as_ref(), &format!("{reference}/input/schema")));
        let input_from =
            input.and_then(|i| self.expression_field(i.from.as_ref(), &format!("{reference}/input/from"), scope));
        let output_as =
            output.and_then(|o| self.expression_field(o.as_.as_ref(), &format!("{reference}/output/as"), scope));
        let output_schema = output.and_then(|o| self.schema(o.schema.as_ref(), &format!("{reference}/output/schema")));
        let export_as =
            export.and_then(|e| self.expression_field(e.as_.as_ref(), &format!("{reference}/export/as"), scope));
        let export_schema = export.and_then(|e| self.schema(e.schema.as_ref(), &format!("{reference}/export/schema")));
        let timeout_ms = self.timeout(base.timeout.as_ref(), &format!("{reference}/timeout"));
        let mut kind = self.kind(&task.kind, reference, scope);
        if let CompiledKind::Listen(listen) = &mut kind
            && let Some(inbox) = base.metadata.as_ref().and_then(|metadata| metadata.get("inbox"))
        {
            listen.inbox = Some(self.value(inbox, &format!("{reference}/metadata/inbox"), scope));
        }
        let id = self.tasks.len();
        self.tasks.push(CompiledTask {
            name: name.to_owned(),
            reference: reference.to_owned(),
            definition: serde_json::to_value(task).unwrap_or(Value::Null),
            if_,
            input_schema,
            input_from,
            output_as,
            output_schema,
            export_as,
            export_schema,
            timeout_ms,
            then: base.then.clone().unwrap_or(FlowDirective::Continue),
            kind,
        });
        id
    }

    fn kind(&mut self, kind: &TaskKind, reference: &str, scope: &Scope) -> CompiledKind {
        match kind {
            TaskKind::Set(set) => CompiledKind::Set(self.set_template(&set.set, &format!("{reference}/set"), scope)),
            TaskKind::Do(task) => CompiledKind::Do(self.list(&task.do_, &format!("{reference}/do"), scope)),
            TaskKind::For(task) => {
                let each = task.for_.each.clone().unwrap_or_else(|| "item".into());
                let at = task.for_.at.clone().unwrap_or_else(|| "index".into());
                let inner = scope_with(scope, &[&each, &at]);
                let in_ = match &task.for_.in_ {
                    Value::String(source) => self.expression_field(
                        Some(&Value::String(source.clone())),
                        &format!("{reference}/for/in"),
                        scope,
                    ),
                    other => Some(self.value(other, &format!("{reference}/for/in"), scope)),
                }
                .unwrap_or_else(|| self.value(&Value::Null, "", scope));
                let while_ = task
                    .while_
                    .as_deref()
                    .and_then(|source| self.expression(source, &format!("{reference}/while"), &inner));
                let body = self.list(&task.do_, &format!("{reference}/do"), &inner);
                CompiledKind::For { each, at, in_, while_, body }
            }
            TaskKind::Fork(task) => CompiledKind::Fork {
                branches: self.list(&task.fork.branches, &format!("{reference}/fork/branches"), scope),
                compete: task.fork.compete,
            },
            TaskKind::Try(task) => {
                let body = self.list(&task.try_, &format!("{reference}/try"), scope);
                let catch = &task.catch;
                let as_ = catch.as_.clone().unwrap_or_else(|| "error".into());
                let inner = scope_with(scope, &[&as_]);
                let when =
                    catch.when.as_deref().and_then(|s| self.expression(s, &format!("{reference}/catch/when"), &inner));
                let except_when = catch
                    .except_when
                    .as_deref()
                    .and_then(|s| self.expression(s, &format!("{reference}/catch/exceptWhen"), &inner));
                let retry = catch
                    .retry
                    .as_ref()
                    .and_then(|retry| self.retry(retry, &format!("{reference}/catch/retry"), &inner));
                let do_ = catch.do_.as_ref().map(|list| self.list(list, &format!("{reference}/catch/do"), &inner));
                let filter = catch.errors.as_ref().and_then(|errors| errors.with.clone()).unwrap_or_default();
                CompiledKind::Try {
                    body,
                    catch: Box::new(CompiledCatch {
                        filter,
                        as_,
                        when,
                        except_when,
                        retry,
                        do_,
                        then: catch.then.clone(),
                    }),
                }
            }
            TaskKind::Raise(task) => {
                let path = format!("{reference}/raise/error");
                match &task.raise.error {
                    ErrorRef::Inline(error) => CompiledKind::Raise(self.error(error, &path, scope)),
                    ErrorRef::Named(name) => match self.workflow.use_.as_ref().and_then(|u| u.errors.get(name)) {
                        Some(error) => CompiledKind::Raise(self.error(error, &format!("/use/errors/{name}"), scope)),
                        None => {
                            self.diagnostics
                                .push(Diagnostic::new(path, format!("error {name:?} is not defined in use.errors")));
                            CompiledKind::Unsupported(format!("undefined error {name:?}"))
                        }
                    },
                }
            }
            TaskKind::Wait(task) => CompiledKind::Wait(self.delay(&task.wait, &format!("{reference}/wait"), scope)),
            TaskKind::Emit(task) => {
                let with = serde_json::to_value(&task.emit.event.with).unwrap_or(Value::Null);
                CompiledKind::Emit(self.value(&with, &format!("{reference}/emit/event/with"), scope))
            }
            TaskKind::Switch(task) => {
                let mut cases = Vec::new();
                for (index, case) in task.switch.iter().enumerate() {
                    for (name, case) in case {
                        let path = format!("{reference}/switch/{index}/{name}/when");
                        let when = case.when.as_deref().and_then(|s| self.expression(s, &path, scope));
                        cases.push(CompiledCase { name: name.clone(), when, then: case.then.clone() });
                    }
                }
                CompiledKind::Switch(cases)
            }
            TaskKind::Call(call) => self.call(&call.call, &call.with, reference, scope),
            TaskKind::Run(task) => match &task.run.workflow {
                Some(subflow) => CompiledKind::Subflow {
                    namespace: subflow.namespace.clone(),
                    name: subflow.name.clone(),
                    version: subflow.version.clone(),
                    input: subflow
                        .input
                        .as_ref()
                        .map(|input| self.value(input, &format!("{reference}/run/workflow/input"), scope)),
                    await_: task.run.await_,
                },
                None => CompiledKind::Unsupported("run: container, script and shell are not supported yet".into()),
            },
            TaskKind::Listen(task) => self.listen(task, reference, scope),
        }
    }

    /// Checks the filter expressions of `schedule.on` (`dsl-reference.md#schedule`): the engine
    /// matches them outside any run, with `.` and `$event` only, as `listen` filters.
    fn schedule_on(&mut self, on: &EventConsumptionStrategy) {
        let mut filters = CompiledListen {
            filters: Vec::new(),
            expect_expressions: Vec::new(),
            strategy: Strategy::Any,
            until: Until::None,
            read: ReadMode::default(),
            foreach: None,
            correlates: false,
            inbox: None,
        };
        self.strategy(on, "/schedule/on", FilterRole::Consume, &Vec::new(), &mut filters);
    }

    fn listen(&mut self, task: &ListenTask, reference: &str, scope: &Scope) -> CompiledKind {
        let path = format!("{reference}/listen/to");
        let to = &task.listen.to;
        let mut compiled = CompiledListen {
            filters: Vec::new(),
            expect_expressions: Vec::new(),
            strategy: Strategy::Any,
            until: Until::None,
            read: task.listen.read.unwrap_or_default(),
            foreach: None,
            correlates: false,
            inbox: None,
        };
        compiled.strategy = self.strategy(to, &path, FilterRole::Consume, scope, &mut compiled);
        if to.any.is_some() {
            match &to.until {
                None => {}
                Some(Value::String(source)) => {
                    let until_scope = scope_with(scope, &["event"]);
                    if let Some(condition) = self.expression(source, &format!("{path}/until"), &until_scope) {
                        compiled.until = Until::Condition(condition);
                    }
                }
                Some(value) => match serde_json::from_value::<EventConsumptionStrategy>(value.clone()) {
                    Ok(nested) if nested.until.is_some() => self.diagnostics.push(Diagnostic::new(
                        format!("{path}/until/until"),
                        "an until strategy cannot have its own until",
                    )),
                    Ok(nested) => {
                        let until_path = format!("{path}/until");
                        let strategy = self.strategy(&nested, &until_path, FilterRole::Until, scope, &mut compiled);
                        compiled.until = Until::Events(strategy);
                    }
                    Err(err) => self.diagnostics.push(Diagnostic::new(
                        format!("{path}/until"),
                        format!("until must be an expression or an event consumption strategy: {err}"),
                    )),
                },
            }
        }
        if let Some(foreach) = &task.foreach {
            let item = foreach.item.clone().unwrap_or_else(|| "item".into());
            let at = foreach.at.clone().unwrap_or_else(|| "index".into());
            let inner = scope_with(scope, &[&item, &at]);
            let foreach_path = format!("{reference}/foreach");
            let body = foreach.do_.as_ref().map(|list| self.list(list, &format!("{foreach_path}/do"), &inner));
            let output = foreach.output.as_ref();
            let export = foreach.export.as_ref();
            compiled.foreach = Some(CompiledForeach {
                body,
                output_as: output
                    .and_then(|o| self.expression_field(o.as_.as_ref(), &format!("{foreach_path}/output/as"), &inner)),
                output_schema: output
                    .and_then(|o| self.schema(o.schema.as_ref(), &format!("{foreach_path}/output/schema"))),
                export_as: export
                    .and_then(|e| self.expression_field(e.as_.as_ref(), &format!("{foreach_path}/export/as"), &inner)),
                export_schema: export
                    .and_then(|e| self.schema(e.schema.as_ref(), &format!("{foreach_path}/export/schema"))),
                item,
                at,
            });
        }
        CompiledKind::Listen(Box::new(compiled))
    }

    /// Adds the filters of one strategy to `listen` and says how they complete it.
    fn strategy(
        &mut self,
        to: &EventConsumptionStrategy,
        path: &str,
        role: FilterRole,
        scope: &Scope,
        listen: &mut CompiledListen,
    ) -> Strategy {
        if let Some(one) = &to.one {
            self.event_filter(one, &format!("{path}/one"), role, scope, listen);
            Strategy::One
        } else if let Some(all) = &to.all {
            for (index, filter) in all.iter().enumerate() {
                self.event_filter(filter, &format!("{path}/all/{index}"), role, scope, listen);
            }
            Strategy::All
        } else {
            let any = to.any.as_deref().unwrap_or_default();
            if any.is_empty() {
                // `any: []` consumes every event.
                listen.filters.push(Filter {
                    role,
                    satisfied: false,
                    with: Default::default(),
                    correlate: Default::default(),
                });
            }
            for (index, filter) in any.iter().enumerate() {
                self.event_filter(filter, &format!("{path}/any/{index}"), role, scope, listen);
            }
            Strategy::Any
        }
    }

    /// Checks the expressions of one filter and adds it to `listen`.
    fn event_filter(
        &mut self,
        filter: &EventFilter,
        path: &str,
        role: FilterRole,
        scope: &Scope,
        listen: &mut CompiledListen,
    ) {
        let index = listen.filters.len();
        let with: serde_json::Map<String, Value> = filter.with.clone().unwrap_or_default().into_iter().collect();
        for (name, value) in &with {
            self.filter_expressions(value, &format!("{path}/with/{name}"));
        }
        let mut correlate = std::collections::BTreeMap::new();
        for (key, correlation) in filter.correlate.iter().flatten() {
            listen.correlates = true;
            let key_path = format!("{path}/correlate/{key}");
            if let Err(err) = crate::events::compile_filter_expression(&correlation.from) {
                self.diagnostics.push(Diagnostic::new(format!("{key_path}/from"), filter_message(&err)));
            }
            let expect = match correlation.expect.as_deref() {
                None => None,
                Some(source) if is_expect_expression(source) => {
                    if let Some(expression) = self.expression(source, &format!("{key_path}/expect"), scope) {
                        listen.expect_expressions.push((index, key.clone(), expression));
                    }
                    None
                }
                Some(constant) => Some(Value::String(constant.to_owned())),
            };
            correlate.insert(key.clone(), CorrelationKey { from: correlation.from.clone(), expect });
        }
        listen.filters.push(Filter { role, satisfied: false, with, correlate });
    }

    /// Reports every `${ }` leaf of a filter attribute that does not compile.
    fn filter_expressions(&mut self, value: &Value, path: &str) {
        match value {
            Value::String(text) if is_runtime_expression(text) => {
                if let Err(err) = crate::events::compile_filter_expression(text) {
                    self.diagnostics.push(Diagnostic::new(path, filter_message(&err)));
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.filter_expressions(item, &format!("{path}/{index}"));
                }
            }
            Value::Object(entries) => {
                for (key, item) in entries {
                    self.filter_expressions(item, &format!("{path}/{key}"));
                }
            }
            _ => {}
        }
    }

    /// `set` takes an object template or a single `${ }` expression.
    fn set_template(&mut self, value: &Value, path: &str, scope: &Scope) -> Template {
        self.value(value, path, scope)
    }

    fn delay(&mut self, duration: &baton_model::Duration, path: &str, scope: &Scope) -> DelaySpec {
        match duration {
            baton_model::Duration::Text(text) if is_runtime_expression(text) => {
                DelaySpec::Expression(self.value(&Value::String(text.clone()), path, scope))
            }
            _ => DelaySpec::Fixed(self.duration_ms(duration, path).unwrap_or(0)),
        }
    }

    fn error(&mut self, error: &ErrorDefinition, path: &str, scope: &Scope) -> CompiledError {
        let text = |s: &String| Value::String(s.clone());
        CompiledError {
            type_: self.value(&text(&error.type_), &format!("{path}/type"), scope),
            status: self.value(&error.status, &format!("{path}/status"), scope),
            title: error.title.as_ref().map(|t| self.value(&text(t), &format!("{path}/title"), scope)),
            detail: error.detail.as_ref().map(|d| self.value(&text(d), &format!("{path}/detail"), scope)),
            instance: error.instance.clone(),
        }
    }

    fn retry(&mut self, retry: &RetryRef, path: &str, scope: &Scope) -> Option<CompiledRetry> {
        let (policy, path): (&RetryPolicy, String) = match retry {
            RetryRef::Inline(policy) => (policy, path.to_owned()),
            RetryRef::Named(name) => match self.workflow.use_.as_ref().and_then(|u| u.retries.get(name)) {
                Some(policy) => (policy, format!("/use/retries/{name}")),
                None => {
                    self.diagnostics
                        .push(Diagnostic::new(path, format!("retry policy {name:?} is not defined in use.retries")));
                    return None;
                }
            },
        };
        let when = policy.when.as_deref().and_then(|s| self.expression(s, &format!("{path}/when"), scope));
        let except_when =
            policy.except_when.as_deref().and_then(|s| self.expression(s, &format!("{path}/exceptWhen"), scope));
        let delay_ms = policy.delay.as_ref().and_then(|d| self.duration_ms(d, &format!("{path}/delay"))).unwrap_or(0);
        let backoff = match &policy.backoff {
            Some(backoff) if backoff.exponential.is_some() => Backoff::Exponential,
            Some(backoff) if backoff.linear.is_some() => Backoff::Linear,
            _ => Backoff::Constant,
        };
        let limit = policy.limit.as_ref();
        let max_retries = limit.and_then(|l| l.attempt.as_ref()).and_then(|a| a.count);
        let max_duration_ms = limit
            .and_then(|l| l.duration.as_ref())
            .and_then(|d| self.duration_ms(d, &format!("{path}/limit/duration")));
        let jitter_ms = policy.jitter.as_ref().and_then(|jitter| {
            let from = self.duration_ms(&jitter.from, &format!("{path}/jitter/from"))?;
            let to = self.duration_ms(&jitter.to, &format!("{path}/jitter/to"))?;
            Some((from.min(to), from.max(to)))
        });
        Some(CompiledRetry { when, except_when, delay_ms, backoff, max_retries, max_duration_ms, jitter_ms })
    }

    fn endpoint(&mut self, endpoint: &Endpoint, path: &str, scope: &Scope) -> EndpointSpec {
        let uri = endpoint.uri();
        if is_runtime_expression(uri) {
            EndpointSpec::Expression(self.value(&Value::String(uri.to_owned()), path, scope))
        } else {
            EndpointSpec::UriTemplate(uri.to_owned())
        }
    }

    fn auth(&mut self, policy: Option<&AuthenticationPolicy>, path: &str, scope: &Scope) -> Option<CompiledAuth> {
        let mut policy = policy?;
        if let Some(name) = &policy.use_ {
            match self.workflow.use_.as_ref().and_then(|u| u.authentications.get(name)) {
                Some(named) => policy = named,
                None => {
                    self.diagnostics.push(Diagnostic::new(
                        path,
                        format!("authentication {name:?} is not defined in use.authentications"),
                    ));
                    return None;
                }
            }
        }
        let field = |map: &baton_model::Map, key: &str| map.get(key).cloned().unwrap_or(Value::Null);
        let secret = |map: &baton_model::Map| map.get("use").and_then(Value::as_str).map(str::to_owned);
        if let Some(basic) = &policy.basic {
            return Some(match secret(basic) {
                Some(name) => CompiledAuth::BasicSecret(name),
                None => CompiledAuth::Basic {
                    username: self.value(&field(basic, "username"), &format!("{path}/basic/username"), scope),
                    password: self.value(&field(basic, "password"), &format!("{path}/basic/password"), scope),
                },
            });
        }
        if let Some(bearer) = &policy.bearer {
            return Some(match secret(bearer) {
                Some(name) => CompiledAuth::BearerSecret(name),
                None => CompiledAuth::Bearer {
                    token: self.value(&field(bearer, "token"), &format!("{path}/bearer/token"), scope),
                },
            });
        }
        None
    }

    fn call(&mut self, function: &str, with: &CallArguments, reference: &str, scope: &Scope) -> CompiledKind {
        let path = format!("{reference}/with");
        match with {
            CallArguments::Http(args) => {
                let endpoint = self.endpoint(&args.endpoint, &format!("{path}/endpoint"), scope);
                let auth = self.auth(args.endpoint.authentication(), &format!("{path}/endpoint/authentication"), scope);
                CompiledKind::Http(Box::new(CompiledHttp {
                    method: args.method.to_uppercase(),
                    endpoint,
                    headers: args.headers.as_ref().map(|h| self.value(h, &format!("{path}/headers"), scope)),
                    query: args.query.as_ref().map(|q| self.value(q, &format!("{path}/query"), scope)),
                    body: args.body.as_ref().map(|b| self.value(b, &format!("{path}/body"), scope)),
                    output: args.output.unwrap_or_default(),
                    redirect: args.redirect,
                    auth,
                }))
            }
            CallArguments::OpenApi(args) => {
                let document = self.endpoint(&args.document.endpoint, &format!("{path}/document/endpoint"), scope);
                let auth =
                    self.auth(args.authentication.as_ref(), &format!("{path}/authentication"), scope).or_else(|| {
                        self.auth(
                            args.document.endpoint.authentication(),
                            &format!("{path}/document/endpoint/authentication"),
                            scope,
                        )
                    });
                let parameters = args.parameters.as_ref().map(|p| {
                    let value = serde_json::to_value(p).unwrap_or(Value::Null);
                    self.value(&value, &format!("{path}/parameters"), scope)
                });
                CompiledKind::OpenApi(Box::new(CompiledOpenApi {
                    document,
                    operation_id: args.operation_id.clone(),
                    parameters,
                    output: args.output.unwrap_or_default(),
                    redirect: args.redirect,
                    auth,
                }))
            }
            CallArguments::Function(args) => {
                let Some(task) = self.workflow.use_.as_ref().and_then(|u| u.functions.get(function)) else {
                    return CompiledKind::Unsupported(format!("call: {function} is not supported yet"));
                };
                let with = self.value(&serde_json::to_value(args).unwrap_or(Value::Null), &path, scope);
                let function = self.task(function, task, &format!("/use/functions/{function}"), &Vec::new());
                CompiledKind::Function { function, with }
            }
            CallArguments::Grpc(_) | CallArguments::AsyncApi(_) | CallArguments::A2a(_) | CallArguments::Mcp(_) => {
                CompiledKind::Unsupported(format!("call: {function} is not supported yet"))
            }
        }
    }
}
