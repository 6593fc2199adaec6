//! Running one scenario: the arrange steps collect a definition and an input, the act step runs
//! the workflow on a database of its own, the assert steps check what it left behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use baton_server::engine::{CreateRun, EngineError};
use baton_server::outbound::egress::EgressPolicy;
use baton_server::server::{Server, ServerConfig};
use baton_store::AnyStore;
use baton_store::WorkspaceId;
use baton_store::prelude::*;

use crate::commands::conformance::check::{self, Execution, TaskEvent};
use crate::commands::conformance::feature::{Scenario, StepText};
use crate::commands::conformance::step::{self, Step, StepError};

/// Longest a scenario's run may take before it counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// History entries read per page.
const HISTORY_PAGE: u32 = 500;

/// What every scenario shares: the stand-in's rewrites and a scratch folder for databases.
pub struct Harness {
    rewrites: Vec<(String, String)>,
    scratch: PathBuf,
    n_databases: usize,
}

/// A scenario's state between steps.
#[derive(Default)]
struct World {
    definition: Option<String>,
    input: Option<Value>,
    execution: Option<Execution>,
}

impl Harness {
    pub fn new(rewrites: Vec<(String, String)>, scratch: &Path) -> Harness {
        Harness { rewrites, scratch: scratch.to_owned(), n_databases: 0 }
    }

    /// Runs the scenario's steps in order, stopping at the first that fails; `Err` names that
    /// step and says why it failed.
    pub async fn run(&mut self, scenario: &Scenario) -> Result<(), String> {
        let mut world = World::default();
        for step_text in &scenario.steps {
            let step = match step::parse(&step_text.text, step_text.docstring.as_deref()) {
                Ok(step) => step,
                Err(StepError::Unknown) => return Err(format!("unknown step \"{step_text}\"")),
                Err(StepError::Invalid(reason)) => return Err(failed(step_text, &reason)),
            };
            self.apply(&mut world, step).await.map_err(|reason| failed(step_text, &reason))?;
        }
        Ok(())
    }

    async fn apply(&mut self, world: &mut World, step: Step) -> Result<(), String> {
        match step {
            Step::Definition(text) => world.definition = Some(text),
            Step::Input(input) => world.input = Some(input),
            Step::Execute => {
                let definition = world.definition.as_deref().ok_or("no workflow definition was given")?;
                // The CTK has no input step when the input does not matter: start from `{}`.
                let input = world.input.clone().unwrap_or_else(|| Value::Object(Default::default()));
                world.execution = Some(self.execute(definition, input).await?);
            }
            step => {
                let execution = world.execution.as_ref().ok_or("the workflow was not executed")?;
                check::check(execution, &step)?;
            }
        }
        Ok(())
    }

    /// Deploys and runs the workflow on a fresh database: definitions are immutable once
    /// deployed, and the CTK reuses names (two `output-filtering` workflows in `data-flow`).
    async fn execute(&mut self, definition: &str, input: Value) -> Result<Execution, String> {
        self.n_databases += 1;
        let path = self.scratch.join(format!("scenario-{}.db", self.n_databases));
        let mut config = ServerConfig::local(path);
        config.egress = EgressPolicy { allow_loopback: true, allow_private: false };
        config.rewrites = self.rewrites.clone();
        let server = Server::start(config).await.map_err(|err| format!("{:#}", anyhow::Error::new(err)))?;
        let result = Self::execute_on(&server, definition, input).await;
        server.close().await;
        result
    }

    async fn execute_on(server: &Server, definition: &str, input: Value) -> Result<Execution, String> {
        let engine = server.engine();
        let workflow = engine.deploy(definition).await.map_err(|err| match err {
            EngineError::Definition(err) => {
                let diagnostics: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
                format!("invalid definition: {}", diagnostics.join("; "))
            }
            err => format!("cannot deploy the definition: {err}"),
        })?;
        let run_id = engine
            .create(CreateRun::new(&workflow, input))
            .await
            .map(|created| created.record.id)
            .map_err(|err| format!("cannot create the run: {err}"))?;
        // A task of its own, so that a panic in the engine fails this scenario only.
        let driving = tokio::spawn({
            let engine = engine.clone();
            let run_id = run_id.clone();
            async move { engine.drive(&run_id).await }
        });
        let abort = driving.abort_handle();
        let outcome = match tokio::time::timeout(RUN_TIMEOUT, driving).await {
            Ok(Ok(Ok(outcome))) => outcome,
            Ok(Ok(Err(err))) => return Err(format!("the engine failed: {err}")),
            Ok(Err(err)) => return Err(format!("the engine panicked: {err}")),
            Err(_) => {
                abort.abort();
                return Err(format!("the run did not end within {}s", RUN_TIMEOUT.as_secs()));
            }
        };
        Ok(Execution {
            status: outcome.status,
            output: outcome.output,
            error: outcome.error.map(|error| error.to_value()),
            events: task_events(server.store(), &run_id).await?,
        })
    }
}

/// The run's task lifecycle events, in history order.
async fn task_events(store: &AnyStore, run_id: &str) -> Result<Vec<TaskEvent>, String> {
    let mut events = Vec::new();
    let mut after_seq = 0;
    loop {
        let page = store
            .history(&WorkspaceId::DEFAULT, run_id, after_seq, HISTORY_PAGE)
            .await
            .map_err(|err| format!("cannot read the run's history: {err}"))?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        events.extend(
            page.into_iter()
                .filter_map(|entry| entry.task.map(|reference| TaskEvent::new(entry.kind, &reference, entry.data))),
        );
    }
    Ok(events)
}

fn failed(step_text: &StepText, reason: &str) -> String {
    format!("step \"{step_text}\" failed: {reason}")
}
