//! Calls that leave the interpreter: `call: http`, `call: openapi`, `run: workflow`, and how
//! their results come back.

use serde_json::Value;

use baton_model::error_types::StandardError;

use crate::compile::{CompiledAuth, CompiledHttp, CompiledKind, CompiledOpenApi, EndpointSpec};
use crate::effects::{Effect, EffectResult, HttpRequest};
use crate::error::WorkflowError;
use crate::expr::Variables;
use crate::http::{Credentials, HttpCall, build_request, expand_uri_template, read_response};
use crate::interpreter::enter::text_of;
use crate::interpreter::{Machine, Work};
use crate::state::{Command, EffectStage, Exec, PendingEffect};

impl Machine<'_> {
    fn endpoint_uri(
        &self,
        endpoint: &EndpointSpec,
        input: &Value,
        variables: &Variables,
    ) -> Result<String, WorkflowError> {
        match endpoint {
            EndpointSpec::UriTemplate(template) => expand_uri_template(template, input),
            EndpointSpec::Expression(template) => Ok(text_of(&template.evaluate(input, variables)?)),
        }
    }

    fn credentials(
        &self,
        auth: Option<&CompiledAuth>,
        input: &Value,
        variables: &Variables,
    ) -> Result<Option<Credentials>, WorkflowError> {
        let secret = |name: &str, field: &str| -> Result<String, WorkflowError> {
            self.context.secrets.get(name).and_then(|secret| secret.get(field)).map(text_of).ok_or_else(|| {
                WorkflowError::standard(StandardError::Authorization, format!("secret {name:?} has no field {field:?}"))
            })
        };
        let field = |template: &crate::expr::Template| -> Result<String, WorkflowError> {
            Ok(text_of(&template.evaluate(input, variables)?))
        };
        Ok(match auth {
            None => None,
            Some(CompiledAuth::Basic { username, password }) => {
                Some(Credentials::Basic { username: field(username)?, password: field(password)? })
            }
            Some(CompiledAuth::Bearer { token }) => Some(Credentials::Bearer { token: field(token)? }),
            Some(CompiledAuth::BasicSecret(name)) => {
                Some(Credentials::Basic { username: secret(name, "username")?, password: secret(name, "password")? })
            }
            Some(CompiledAuth::BearerSecret(name)) => Some(Credentials::Bearer { token: secret(name, "token")? }),
        })
    }

    /// Records an effect in flight and asks the driver to perform it.
    fn perform(&mut self, frame_id: u64, effect: Effect, stage: EffectStage) -> String {
        let effect_id = format!("e{}", self.next_id());
        let reference = self.frame(frame_id).map(|f| f.reference.clone()).unwrap_or_default();
        // Stable across crash and replay: the effect id is part of the committed state.
        let idempotency_key = format!("{}:{reference}:{effect_id}", self.state.run_id);
        let pending =
            PendingEffect { frame: frame_id, idempotency_key: idempotency_key.clone(), effect: effect.clone() };
        self.state.effects.insert(effect_id.clone(), pending);
        if let Some(frame) = self.state.frames.get_mut(&frame_id) {
            frame.exec = Exec::Effect { effect_id: effect_id.clone(), stage };
        }
        self.push_command(Command::Perform { effect_id: effect_id.clone(), idempotency_key, effect });
        effect_id
    }

    pub(super) fn start_http(
        &mut self,
        frame_id: u64,
        call: &CompiledHttp,
        input: &Value,
    ) -> Result<(), WorkflowError> {
        let variables = self.task_variables(frame_id, None);
        let uri = self.endpoint_uri(&call.endpoint, input, &variables)?;
        let evaluate = |template: &Option<crate::expr::Template>| -> Result<Option<Value>, WorkflowError> {
            Ok(template.as_ref().map(|t| t.evaluate(input, &variables)).transpose()?)
        };
        let request = build_request(HttpCall {
            method: call.method.clone(),
            uri,
            headers: evaluate(&call.headers)?,
            query: evaluate(&call.query)?,
            body: evaluate(&call.body)?,
            redirect: call.redirect,
            credentials: self.credentials(call.auth.as_ref(), input, &variables)?,
        })?;
        self.perform(frame_id, Effect::Http { request }, EffectStage::Http);
        Ok(())
    }

    pub(super) fn start_openapi(
        &mut self,
        frame_id: u64,
        call: &CompiledOpenApi,
        input: &Value,
    ) -> Result<(), WorkflowError> {
        let variables = self.task_variables(frame_id, None);
        let uri = self.endpoint_uri(&call.document, input, &variables)?;
        self.perform(frame_id, Effect::FetchDocument { uri, headers: Vec::new() }, EffectStage::OpenApiDocument);
        Ok(())
    }

    pub(super) fn start_subflow(&mut self, frame_id: u64, effect: Effect, await_: bool, input: Value) {
        let effect_id = self.perform(frame_id, effect, EffectStage::Subflow);
        if !await_ {
            // Fire and forget: the child runs on its own; this task outputs its input now.
            self.state.effects.remove(&effect_id);
            self.detached.push(effect_id);
            self.agenda.push_back(Work::Produce { frame: frame_id, raw_output: input, directive: None });
        }
    }

    pub(super) fn effect_completed(&mut self, effect_id: &str, result: EffectResult) {
        let Some(pending) = self.state.effects.remove(effect_id) else { return };
        let frame_id = pending.frame;
        let Some(frame) = self.frame(frame_id).cloned() else { return };
        let Exec::Effect { stage, .. } = frame.exec else { return };
        let workflow = self.workflow;
        let Some(task) = workflow.task_by_reference(&frame.reference).map(|id| &workflow.tasks[id]) else { return };
        let outcome = match (stage, result, &pending.effect) {
            (_, EffectResult::Failed { error }, _) => Err(error),
            (EffectStage::Http, EffectResult::Http { response }, Effect::Http { request }) => {
                let format = match &task.kind {
                    CompiledKind::Http(call) => call.output,
                    CompiledKind::OpenApi(call) => call.output,
                    _ => Default::default(),
                };
                read_response(request, &response, format).map(Some)
            }
            (EffectStage::OpenApiDocument, EffectResult::Document { document }, Effect::FetchDocument { uri, .. }) => {
                match &task.kind {
                    CompiledKind::OpenApi(call) => {
                        self.openapi_request(frame_id, call, &document, uri).map(|request| {
                            self.perform(frame_id, Effect::Http { request }, EffectStage::Http);
                            None
                        })
                    }
                    _ => Ok(None),
                }
            }
            (EffectStage::Subflow, EffectResult::Output { output }, _) => Ok(Some(output)),
            (_, other, _) => Err(WorkflowError::standard(StandardError::Runtime, "unexpected effect result")
                .with_detail(format!("{other:?}").chars().take(200).collect::<String>())),
        };
        match outcome {
            Ok(Some(raw_output)) => {
                self.agenda.push_back(Work::Produce { frame: frame_id, raw_output, directive: None })
            }
            Ok(None) => {}
            Err(error) => self.agenda.push_back(Work::Fail { frame: frame_id, error }),
        }
    }

    fn openapi_request(
        &self,
        frame_id: u64,
        call: &CompiledOpenApi,
        document: &Value,
        document_uri: &str,
    ) -> Result<HttpRequest, WorkflowError> {
        let Some(frame) = self.frame(frame_id) else {
            return Err(WorkflowError::standard(StandardError::Runtime, "task is gone"));
        };
        let variables = self.task_variables(frame_id, None);
        let parameters = match &call.parameters {
            Some(template) => template.evaluate(&frame.input, &variables)?,
            None => Value::Object(Default::default()),
        };
        let parameters = parameters.as_object().cloned().unwrap_or_default();
        let operation = crate::openapi::resolve_operation(document, document_uri, &call.operation_id, &parameters)?;
        let headers =
            Value::Object(operation.headers.into_iter().map(|(name, value)| (name, Value::String(value))).collect());
        build_request(HttpCall {
            method: operation.method,
            uri: operation.uri,
            headers: Some(headers),
            query: None,
            body: operation.body,
            redirect: call.redirect,
            credentials: self.credentials(call.auth.as_ref(), &frame.input, &variables)?,
        })
    }
}
