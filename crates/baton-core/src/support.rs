//! Features of the DSL that Baton does not run yet.
//!
//! A definition using one of them is valid but refused at deploy time with one diagnostic per
//! use, naming the feature at its path, so that nothing fails later in the middle of a run.
//! Not supported yet: `schedule.on` with `until`, a `correlate.expect` expression in
//! `schedule.on` (there is no input to evaluate it on), `schedule.on.all` filters correlating on
//! different keys, a `schedule.every` or `schedule.after` given as an expression, `call: grpc|asyncapi|mcp|a2a`,
//! `run: container|script|shell`, functions from catalogs or URLs, the `oauth2`, `oidc` and
//! `digest` authentication schemes, `use.extensions`, `use.catalogs`, `evaluate` other than
//! jq in strict mode, and schemas given as an external `resource`.

use baton_model::{
    AuthenticationPolicy, CallArguments, Diagnostic, Endpoint, Evaluate, Export, Input, Output, Schedule,
    SchemaDefinition, Task, TaskKind, TaskList, Workflow,
};

/// Call protocols Baton does not speak yet.
const UNSUPPORTED_CALLS: [&str; 4] = ["grpc", "asyncapi", "mcp", "a2a"];

/// Every feature of `workflow` that Baton cannot run yet, each at its path, in the order of the
/// definition.
pub fn unsupported_features(workflow: &Workflow) -> Vec<Diagnostic> {
    let mut finder = Finder { workflow, diagnostics: Vec::new() };
    finder.workflow();
    finder.diagnostics
}

/// Collects unsupported features while walking a workflow.
struct Finder<'a> {
    workflow: &'a Workflow,
    diagnostics: Vec<Diagnostic>,
}

impl Finder<'_> {
    fn report(&mut self, path: String, feature: impl std::fmt::Display) {
        self.diagnostics.push(Diagnostic::new(path, format!("{feature} is not supported yet")));
    }

    fn workflow(&mut self) {
        let workflow = self.workflow;
        self.input(workflow.input.as_ref(), "/input");
        if let Some(uses) = &workflow.use_ {
            for (name, policy) in &uses.authentications {
                self.authentication(policy, &join("/use/authentications", name));
            }
            if !uses.extensions.is_empty() {
                self.report("/use/extensions".into(), "use.extensions");
            }
            for (name, task) in &uses.functions {
                self.task(task, &join("/use/functions", name));
            }
            if !uses.catalogs.is_empty() {
                self.report("/use/catalogs".into(), "use.catalogs");
            }
        }
        self.task_list(&workflow.do_, "/do");
        self.output(workflow.output.as_ref(), "/output");
        if let Some(schedule) = &workflow.schedule {
            self.schedule(schedule);
        }
        if let Some(evaluate) = &workflow.evaluate {
            self.evaluate(evaluate);
        }
    }

    /// `schedule.on` runs `one`, `any` and `all` (`dsl-reference.md#schedule`), correlating with
    /// constant `expect`s only (an expression has no input to read before the run exists), and an
    /// `all` only when its filters correlate on the same keys (they form the correlation group);
    /// time-driven schedules need literal durations.
    fn schedule(&mut self, schedule: &Schedule) {
        for (key, duration) in [("every", &schedule.every), ("after", &schedule.after)] {
            if let Some(duration) = duration
                && duration.to_millis().is_err()
            {
                self.report(format!("/schedule/{key}"), format!("schedule.{key} given as an expression"));
            }
        }
        let Some(on) = &schedule.on else { return };
        if on.until.is_some() {
            self.report("/schedule/on/until".into(), "schedule.on.until");
        }
        let filters = on.one.iter().map(|filter| ("/schedule/on/one".to_owned(), filter));
        let listed =
            [("any", &on.any), ("all", &on.all)].into_iter().filter_map(|(key, list)| Some((key, list.as_ref()?)));
        let listed = listed.flat_map(|(key, list)| {
            list.iter().enumerate().map(move |(index, filter)| (format!("/schedule/on/{key}/{index}"), filter))
        });
        for (path, filter) in filters.chain(listed) {
            for (key, correlation) in filter.correlate.iter().flatten() {
                if correlation.expect.as_deref().is_some_and(crate::compile::is_expect_expression) {
                    let path = join(&join(&join(&path, "correlate"), key), "expect");
                    self.report(path, "correlate.expect given as an expression in schedule.on");
                }
            }
        }
        let mut keys = on.all.iter().flatten().map(|filter| {
            let mut names: Vec<&String> = filter.correlate.iter().flatten().map(|(key, _)| key).collect();
            names.sort();
            names
        });
        if let Some(first) = keys.next()
            && keys.any(|names| names != first)
        {
            self.report("/schedule/on/all".into(), "schedule.on.all with filters that correlate on different keys");
        }
    }

    fn evaluate(&mut self, evaluate: &Evaluate) {
        if let Some(language) = evaluate.language.as_deref().filter(|language| *language != "jq") {
            self.report("/evaluate/language".into(), format!("evaluate.language: {language}"));
        }
        if let Some(mode) = evaluate.mode.as_deref().filter(|mode| *mode != "strict") {
            self.report("/evaluate/mode".into(), format!("evaluate.mode: {mode}"));
        }
    }

    fn task_list(&mut self, list: &TaskList, path: &str) {
        for (index, item) in list.iter().enumerate() {
            self.task(&item.task, &join(&join(path, &index.to_string()), &item.name));
        }
    }

    fn task(&mut self, task: &Task, path: &str) {
        self.input(task.base.input.as_ref(), &join(path, "input"));
        self.output(task.base.output.as_ref(), &join(path, "output"));
        self.export(task.base.export.as_ref(), &join(path, "export"));
        match &task.kind {
            TaskKind::Call(call) => self.call(&call.call, &call.with, path),
            TaskKind::Do(task) => self.task_list(&task.do_, &join(path, "do")),
            TaskKind::For(task) => self.task_list(&task.do_, &join(path, "do")),
            TaskKind::Fork(task) => self.task_list(&task.fork.branches, &join(&join(path, "fork"), "branches")),
            TaskKind::Listen(task) => {
                if let Some(foreach) = &task.foreach {
                    let foreach_path = join(path, "foreach");
                    if let Some(tasks) = &foreach.do_ {
                        self.task_list(tasks, &join(&foreach_path, "do"));
                    }
                    self.output(foreach.output.as_ref(), &join(&foreach_path, "output"));
                    self.export(foreach.export.as_ref(), &join(&foreach_path, "export"));
                }
            }
            TaskKind::Run(task) => {
                let processes = [
                    ("container", task.run.container.is_some()),
                    ("script", task.run.script.is_some()),
                    ("shell", task.run.shell.is_some()),
                ];
                for (process, _) in processes.into_iter().filter(|(_, present)| *present) {
                    self.report(join(path, "run"), format!("run: {process}"));
                }
            }
            TaskKind::Try(task) => {
                self.task_list(&task.try_, &join(path, "try"));
                if let Some(tasks) = &task.catch.do_ {
                    self.task_list(tasks, &join(&join(path, "catch"), "do"));
                }
            }
            TaskKind::Emit(_) | TaskKind::Raise(_) | TaskKind::Set(_) | TaskKind::Switch(_) | TaskKind::Wait(_) => {}
        }
    }

    fn call(&mut self, function: &str, arguments: &CallArguments, path: &str) {
        let with = join(path, "with");
        match arguments {
            CallArguments::Http(http) => self.endpoint(&http.endpoint, &join(&with, "endpoint")),
            CallArguments::OpenApi(openapi) => {
                self.endpoint(&openapi.document.endpoint, &join(&join(&with, "document"), "endpoint"));
                if let Some(policy) = &openapi.authentication {
                    self.authentication(policy, &join(&with, "authentication"));
                }
            }
            _ if UNSUPPORTED_CALLS.contains(&function) => self.report(join(path, "call"), format!("call: {function}")),
            _ => {
                let in_use = self.workflow.use_.as_ref().is_some_and(|uses| uses.functions.contains_key(function));
                if !in_use && (function.contains(':') || function.contains('@')) {
                    self.report(join(path, "call"), format!("calling a function from a catalog or URL ({function})"));
                }
            }
        }
    }

    fn endpoint(&mut self, endpoint: &Endpoint, path: &str) {
        if let Some(policy) = endpoint.authentication() {
            self.authentication(policy, &join(path, "authentication"));
        }
    }

    fn authentication(&mut self, policy: &AuthenticationPolicy, path: &str) {
        let schemes = [("digest", &policy.digest), ("oauth2", &policy.oauth2), ("oidc", &policy.oidc)];
        for (scheme, _) in schemes.into_iter().filter(|(_, config)| config.is_some()) {
            self.report(join(path, scheme), format!("authentication: {scheme}"));
        }
    }

    fn input(&mut self, input: Option<&Input>, path: &str) {
        self.schema(input.and_then(|input| input.schema.as_ref()), path);
    }

    fn output(&mut self, output: Option<&Output>, path: &str) {
        self.schema(output.and_then(|output| output.schema.as_ref()), path);
    }

    fn export(&mut self, export: Option<&Export>, path: &str) {
        self.schema(export.and_then(|export| export.schema.as_ref()), path);
    }

    /// `path` is the owner of the schema (`/input`, `/do/0/task/output`...).
    fn schema(&mut self, schema: Option<&SchemaDefinition>, path: &str) {
        if schema.is_some_and(|schema| schema.resource.is_some()) {
            self.report(join(&join(path, "schema"), "resource"), "a schema given as an external resource");
        }
    }
}

/// `path` with one more JSON-pointer segment, escaped.
fn join(path: &str, segment: &str) -> String {
    format!("{path}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn check(body: &str, expected: &[&str]) {
        let text = format!("document: {{dsl: '1.0.3', namespace: test, name: support, version: '0.1.0'}}\n{body}");
        let workflow = baton_model::parse_workflow(&text).unwrap_or_else(|err| panic!("{:?}", err.diagnostics()));
        let actual: Vec<String> = unsupported_features(&workflow).iter().map(ToString::to_string).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn supported_features_pass() {
        check(
            r#"
use:
  authentications:
    api: {bearer: {token: secret}}
  functions:
    greet:
      set: {greeting: hello}
input:
  schema: {document: {type: object}}
do:
  - get:
      call: http
      with:
        method: get
        endpoint: {uri: "https://example.com", authentication: {basic: {username: u, password: p}}}
  - greet:
      call: greet
  - child:
      run:
        workflow: {namespace: test, name: child, version: '1.0.0'}
  - loop:
      for: {in: "${ [1, 2] }"}
      do:
        - guarded:
            try:
              - pause: {wait: PT1S}
            catch:
              do:
                - recover: {set: {ok: true}}
"#,
            &[],
        );
    }

    #[test]
    fn every_unsupported_feature_is_named_at_its_path() {
        check(
            r#"
use:
  authentications:
    sso: {oidc: {authority: "https://auth.example.com", grant: client_credentials}}
  extensions:
    - logging: {extend: all}
  catalogs:
    shared: {endpoint: "https://catalog.example.com"}
  functions:
    remote:
      call: grpc
      with:
        proto: {endpoint: "https://example.com/greeter.proto"}
        service: {name: Greeter, host: example.com}
        method: SayHello
schedule:
  every: PT1H
evaluate:
  language: js
  mode: loose
output:
  schema: {resource: {endpoint: "https://example.com/schema.json"}}
do:
  - waitForApproval:
      listen:
        to: {one: {with: {type: com.example.approved}}}
      foreach:
        do:
          - notify:
              run:
                shell: {command: echo approved}
  - branches:
      fork:
        branches:
          - build:
              run:
                container: {image: alpine}
          - test:
              run:
                shell: {command: make test}
  - log:
      call: log:1.0.0@default
  - digest:
      call: http
      with:
        method: get
        endpoint: {uri: "https://example.com", authentication: {digest: {username: u, password: p}}}
  - agent:
      call: a2a
      with:
        method: message/send
"#,
            &[
                "/use/authentications/sso/oidc: authentication: oidc is not supported yet",
                "/use/extensions: use.extensions is not supported yet",
                "/use/functions/remote/call: call: grpc is not supported yet",
                "/use/catalogs: use.catalogs is not supported yet",
                "/do/0/waitForApproval/foreach/do/0/notify/run: run: shell is not supported yet",
                "/do/1/branches/fork/branches/0/build/run: run: container is not supported yet",
                "/do/1/branches/fork/branches/1/test/run: run: shell is not supported yet",
                "/do/2/log/call: calling a function from a catalog or URL (log:1.0.0@default) is not supported yet",
                "/do/3/digest/with/endpoint/authentication/digest: authentication: digest is not supported yet",
                "/do/4/agent/call: call: a2a is not supported yet",
                "/output/schema/resource: a schema given as an external resource is not supported yet",
                "/evaluate/language: evaluate.language: js is not supported yet",
                "/evaluate/mode: evaluate.mode: loose is not supported yet",
            ],
        );
    }

    #[test]
    fn schedule_on_all_and_constant_correlation_pass() {
        let tasks = "do:\n  - mark:\n      set: {done: true}\n";
        let all = "schedule:\n  on:\n    all:\n      - with: {type: a}\n        correlate: {order: {from: .data.order}}\n      - with: {type: b}\n        correlate: {order: {from: .data.id, expect: '42'}}\n";
        check(&format!("{all}{tasks}"), &[]);
        let one = "schedule:\n  on:\n    one:\n      with: {type: a}\n      correlate: {order: {from: .data.order, expect: gold}}\n";
        check(&format!("{one}{tasks}"), &[]);
    }

    #[test]
    fn schedule_on_until_expect_expressions_and_mixed_keys_are_refused() {
        check(
            r#"
schedule:
  on:
    any:
      - with: {type: a}
        correlate: {order: {from: .data.order, expect: "${ .order }"}}
    until: "${ true }"
do:
  - mark:
      set: {done: true}
"#,
            &[
                "/schedule/on/until: schedule.on.until is not supported yet",
                "/schedule/on/any/0/correlate/order/expect: correlate.expect given as an expression in schedule.on is not supported yet",
            ],
        );
        check(
            r#"
schedule:
  on:
    all:
      - with: {type: a}
        correlate: {order: {from: .data.order, expect: .order}}
      - with: {type: b}
do:
  - mark:
      set: {done: true}
"#,
            &[
                "/schedule/on/all/0/correlate/order/expect: correlate.expect given as an expression in schedule.on is not supported yet",
                "/schedule/on/all: schedule.on.all with filters that correlate on different keys is not supported yet",
            ],
        );
    }

    /// The specification examples Baton runs today; every other example is refused by name.
    #[test]
    fn specification_examples_are_supported_or_refused_by_name() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../baton-model/tests/data/examples");
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .expect("the examples folder")
            .map(|entry| entry.expect("an entry").path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "yaml"))
            .collect();
        files.sort();
        let mut supported = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("a readable example");
            let workflow = baton_model::parse_workflow(&text).expect("every example parses");
            let unsupported = unsupported_features(&workflow);
            assert!(
                unsupported.iter().all(|diagnostic| diagnostic.message.ends_with("is not supported yet")),
                "{}: {unsupported:?}",
                file.display()
            );
            if unsupported.is_empty() {
                supported.push(file.file_stem().expect("a file name").to_string_lossy().into_owned());
            }
        }
        assert_eq!(files.len(), 66);
        assert_eq!(supported, EXPECTED_SUPPORTED);
    }

    const EXPECTED_SUPPORTED: &[&str] = &[
        "accumulate-room-readings",
        "authentication-bearer-uri-format",
        "authentication-bearer",
        "authentication-reusable",
        "call-custom-function-inline",
        "call-http-endpoint-interpolation-shorthand",
        "call-http-endpoint-interpolation",
        "call-http-query-headers-expressions",
        "call-http-query-parameters",
        "call-http-redirect",
        "call-openapi-redirect",
        "call-openapi",
        "conditional-task",
        "do-multiple",
        "do-single",
        "emit",
        "for",
        "fork",
        "listen-to-all-read-envelope",
        "listen-to-all",
        "listen-to-any-filter",
        "listen-to-any-forever-foreach",
        "listen-to-any-until-condition",
        "listen-to-any-until-consumed",
        "listen-to-any",
        "listen-to-one",
        "raise-inline",
        "raise-reusable",
        "run-subflow",
        "schedule-cron",
        "schedule-event-driven",
        "set-expression",
        "set",
        "star-wars-homeworld",
        "switch-then-string",
        "try-catch-retry-inline",
        "try-catch-retry-reusable",
        "try-catch-then",
        "try-catch",
        "wait-duration-inline",
        "wait-duration-iso8601",
    ];
}
