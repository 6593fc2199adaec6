//! Compiled workflows by namespace, name and version, loaded from the store on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use baton_core::compile::CompiledWorkflow;
use baton_core::definition::load_definition;
use baton_store::{Store, WorkflowRecord};

use crate::engine::{DEFAULT_WORKSPACE, EngineError, now_ms};

type Key = (String, String, String);

/// A cache of compiled definitions. Definitions are immutable once deployed, so entries never
/// go stale.
#[derive(Clone, Default)]
pub struct Registry {
    compiled: Arc<Mutex<HashMap<Key, Arc<CompiledWorkflow>>>>,
}

impl Registry {
    fn cached(&self, key: &Key) -> Option<Arc<CompiledWorkflow>> {
        self.compiled.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(key).cloned()
    }

    fn insert(&self, key: Key, workflow: Arc<CompiledWorkflow>) {
        self.compiled.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key, workflow);
    }

    pub(super) async fn deploy<S: Store>(&self, store: &S, text: &str) -> Result<Arc<CompiledWorkflow>, EngineError> {
        let workflow = Arc::new(load_definition(text)?);
        let record = WorkflowRecord {
            workspace: DEFAULT_WORKSPACE.into(),
            namespace: workflow.namespace().into(),
            name: workflow.name().into(),
            version: workflow.version().into(),
            definition: text.into(),
            created_at: now_ms(),
        };
        store.put_workflow(record).await?;
        let key = (workflow.namespace().into(), workflow.name().into(), workflow.version().into());
        self.insert(key, workflow.clone());
        Ok(workflow)
    }

    /// The workflow with this identity; `version` may be `latest`.
    pub(super) async fn get<S: Store>(
        &self,
        store: &S,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<Arc<CompiledWorkflow>, EngineError> {
        let key = (namespace.to_owned(), name.to_owned(), version.to_owned());
        if version != "latest"
            && let Some(workflow) = self.cached(&key)
        {
            return Ok(workflow);
        }
        let record = store.get_workflow(DEFAULT_WORKSPACE, namespace, name, version).await?.ok_or_else(|| {
            EngineError::WorkflowNotFound { namespace: namespace.into(), name: name.into(), version: version.into() }
        })?;
        let key = (record.namespace.clone(), record.name.clone(), record.version.clone());
        if let Some(workflow) = self.cached(&key) {
            return Ok(workflow);
        }
        let workflow = Arc::new(load_definition(&record.definition)?);
        self.insert(key, workflow.clone());
        Ok(workflow)
    }
}
