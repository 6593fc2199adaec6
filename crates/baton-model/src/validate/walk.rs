//! The traversal of a workflow for the semantic checks: every task list (`do`, `for.do`, `try`,
//! `catch.do`, `fork.branches`, `listen` `foreach.do`, `use.functions`, extension
//! `before`/`after`) and every task, each with its JSON pointer.

use crate::types::{
    CallArguments, Catch, Export, Input, Output, RetryRef, Schedule, Task, TaskBase, TaskKind, TaskList, Workflow,
};
use crate::validate::Checker;
use crate::validate::pointer::Pointer;

impl Checker<'_> {
    pub(super) fn workflow(&mut self, workflow: &Workflow) {
        let root = Pointer::default();
        self.dsl_version(&workflow.document.dsl, &root.join("document").join("dsl"));
        self.input(workflow.input.as_ref(), &root.join("input"));
        self.uses(&root.join("use"));
        self.task_list(&workflow.do_, &root.join("do"));
        if let Some(timeout) = &workflow.timeout {
            self.timeout(timeout, &root.join("timeout"));
        }
        self.output(workflow.output.as_ref(), &root.join("output"));
        if let Some(schedule) = &workflow.schedule {
            self.schedule(schedule, &root.join("schedule"));
        }
    }

    fn uses(&mut self, path: &Pointer) {
        let uses = self.uses;
        for (name, policy) in &uses.authentications {
            self.authentication(policy, &path.join("authentications").join(name));
        }
        self.unique_extension_names(&uses.extensions, &path.join("extensions"));
        for (index, item) in uses.extensions.iter().enumerate() {
            for (name, extension) in item {
                let extension_path = path.join("extensions").join(index).join(name);
                if let Some(before) = &extension.before {
                    self.task_list(before, &extension_path.join("before"));
                }
                if let Some(after) = &extension.after {
                    self.task_list(after, &extension_path.join("after"));
                }
            }
        }
        for (name, task) in &uses.functions {
            self.task(task, &path.join("functions").join(name), &TaskList::default());
        }
        for (name, retry) in &uses.retries {
            self.retry_policy(retry, &path.join("retries").join(name));
        }
        for (name, timeout) in &uses.timeouts {
            self.duration(&timeout.after, &path.join("timeouts").join(name).join("after"));
        }
        for (name, catalog) in &uses.catalogs {
            self.endpoint(&catalog.endpoint, &path.join("catalogs").join(name).join("endpoint"));
        }
    }

    fn schedule(&mut self, schedule: &Schedule, path: &Pointer) {
        if let Some(every) = &schedule.every {
            self.duration(every, &path.join("every"));
        }
        if let Some(cron) = &schedule.cron {
            self.cron(cron, &path.join("cron"));
        }
        if let Some(after) = &schedule.after {
            self.duration(after, &path.join("after"));
        }
    }

    /// A list of named tasks; `then` targets of its tasks resolve within it.
    fn task_list(&mut self, list: &TaskList, path: &Pointer) {
        self.unique_task_names(list, path);
        for (index, item) in list.iter().enumerate() {
            self.task(&item.task, &path.join(index).join(&item.name), list);
        }
    }

    fn task(&mut self, task: &Task, path: &Pointer, siblings: &TaskList) {
        self.task_base(&task.base, path, siblings);
        match &task.kind {
            TaskKind::Call(call) => {
                self.function_reference(&call.call, &path.join("call"));
                self.call_arguments(&call.with, &path.join("with"));
            }
            TaskKind::Do(task) => self.task_list(&task.do_, &path.join("do")),
            TaskKind::Emit(_) | TaskKind::Run(_) | TaskKind::Set(_) => {}
            TaskKind::For(task) => {
                let for_path = path.join("for");
                self.variable_name(task.for_.each.as_deref(), &for_path.join("each"));
                self.variable_name(task.for_.at.as_deref(), &for_path.join("at"));
                self.task_list(&task.do_, &path.join("do"));
            }
            TaskKind::Fork(task) => self.task_list(&task.fork.branches, &path.join("fork").join("branches")),
            TaskKind::Listen(task) => {
                if let Some(foreach) = &task.foreach {
                    let foreach_path = path.join("foreach");
                    self.variable_name(foreach.item.as_deref(), &foreach_path.join("item"));
                    self.variable_name(foreach.at.as_deref(), &foreach_path.join("at"));
                    if let Some(tasks) = &foreach.do_ {
                        self.task_list(tasks, &foreach_path.join("do"));
                    }
                    self.output(foreach.output.as_ref(), &foreach_path.join("output"));
                    self.export(foreach.export.as_ref(), &foreach_path.join("export"));
                }
            }
            TaskKind::Raise(task) => self.error_reference(&task.raise.error, &path.join("raise").join("error")),
            TaskKind::Switch(task) => self.switch(task, path, siblings),
            TaskKind::Try(task) => {
                self.task_list(&task.try_, &path.join("try"));
                self.catch(&task.catch, &path.join("catch"), siblings);
            }
            TaskKind::Wait(task) => self.duration(&task.wait, &path.join("wait")),
        }
    }

    fn task_base(&mut self, base: &TaskBase, path: &Pointer, siblings: &TaskList) {
        self.input(base.input.as_ref(), &path.join("input"));
        self.output(base.output.as_ref(), &path.join("output"));
        self.export(base.export.as_ref(), &path.join("export"));
        if let Some(timeout) = &base.timeout {
            self.timeout(timeout, &path.join("timeout"));
        }
        if let Some(then) = &base.then {
            self.flow_target(then, &path.join("then"), siblings);
        }
    }

    fn catch(&mut self, catch: &Catch, path: &Pointer, siblings: &TaskList) {
        self.variable_name(catch.as_.as_deref(), &path.join("as"));
        match &catch.retry {
            Some(RetryRef::Named(name)) => self.retry_reference(name, &path.join("retry")),
            Some(RetryRef::Inline(policy)) => self.retry_policy(policy, &path.join("retry")),
            None => {}
        }
        if let Some(tasks) = &catch.do_ {
            self.task_list(tasks, &path.join("do"));
        }
        if let Some(then) = &catch.then {
            self.flow_target(then, &path.join("then"), siblings);
        }
    }

    fn call_arguments(&mut self, arguments: &CallArguments, path: &Pointer) {
        match arguments {
            CallArguments::Http(http) => self.endpoint(&http.endpoint, &path.join("endpoint")),
            CallArguments::OpenApi(openapi) => {
                self.endpoint(&openapi.document.endpoint, &path.join("document").join("endpoint"));
                if let Some(policy) = &openapi.authentication {
                    self.authentication(policy, &path.join("authentication"));
                }
            }
            CallArguments::A2a(a2a) => {
                if let Some(card) = &a2a.agent_card {
                    self.endpoint(&card.endpoint, &path.join("agentCard").join("endpoint"));
                }
                if let Some(server) = &a2a.server {
                    self.endpoint(server, &path.join("server"));
                }
            }
            CallArguments::Grpc(map) | CallArguments::AsyncApi(map) | CallArguments::Mcp(map) => {
                self.nested_authentications(map, path);
            }
            CallArguments::Function(_) => {}
        }
    }

    fn input(&mut self, input: Option<&Input>, path: &Pointer) {
        if let Some(schema) = input.and_then(|input| input.schema.as_ref()) {
            self.schema_definition(schema, &path.join("schema"));
        }
    }

    fn output(&mut self, output: Option<&Output>, path: &Pointer) {
        if let Some(schema) = output.and_then(|output| output.schema.as_ref()) {
            self.schema_definition(schema, &path.join("schema"));
        }
    }

    fn export(&mut self, export: Option<&Export>, path: &Pointer) {
        if let Some(schema) = export.and_then(|export| export.schema.as_ref()) {
            self.schema_definition(schema, &path.join("schema"));
        }
    }
}
