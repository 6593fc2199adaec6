//! Deployed workflows by namespace, name and version, compiled once and loaded from the store
//! on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_core::compile::CompiledWorkflow;
use baton_core::definition::load_definition;
use baton_store::{PutOutcome, Store, WorkflowRecord, WorkspaceId};

use crate::clock::now_ms;
use crate::engine::EngineError;

/// Workspace, namespace, name and version of a workflow.
pub type WorkflowKey = (String, String, String, String);

/// A deployed workflow version: its compiled definition and its concurrency limit.
#[derive(Debug)]
pub struct Deployed {
    /// The workspace the version is deployed in; its runs belong to it.
    pub workspace: WorkspaceId,
    pub workflow: Arc<CompiledWorkflow>,
    /// Most runs active at once (`None`: no limit).
    pub max_concurrency: Option<u32>,
}

/// How long the answer to "which version is `latest`" is reused. Another node may deploy a
/// newer version; this node sees it within this time.
const LATEST_TTL: Duration = Duration::from_secs(2);

/// A cache of deployed workflows. Deployments are immutable, so entries never go stale; only
/// the meaning of `latest` changes, and is cached briefly.
#[derive(Clone, Default)]
pub struct Registry {
    deployed: Arc<Mutex<HashMap<WorkflowKey, Arc<Deployed>>>>,
    latest: Arc<Mutex<HashMap<LatestKey, LatestEntry>>>,
}

/// Workspace, namespace and name: what `latest` is resolved for.
type LatestKey = (String, String, String);

/// What `latest` meant for a namespace and name, and since when.
type LatestEntry = (Arc<Deployed>, Instant);

pub(super) fn key_of(workspace: &WorkspaceId, workflow: &CompiledWorkflow) -> WorkflowKey {
    (workspace.to_string(), workflow.namespace().into(), workflow.name().into(), workflow.version().into())
}

impl Registry {
    fn cached(&self, key: &WorkflowKey) -> Option<Arc<Deployed>> {
        self.deployed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(key).cloned()
    }

    fn latest_cached(&self, workspace: &WorkspaceId, namespace: &str, name: &str) -> Option<Arc<Deployed>> {
        let latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (deployed, at) = latest.get(&(workspace.to_string(), namespace.to_owned(), name.to_owned()))?;
        (at.elapsed() < LATEST_TTL).then(|| deployed.clone())
    }

    fn remember_latest(&self, deployed: &Arc<Deployed>) {
        let key = (
            deployed.workspace.to_string(),
            deployed.workflow.namespace().to_owned(),
            deployed.workflow.name().to_owned(),
        );
        self.latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, (deployed.clone(), Instant::now()));
    }

    fn forget_latest(&self, workspace: &WorkspaceId, namespace: &str, name: &str) {
        self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&(
            workspace.to_string(),
            namespace.to_owned(),
            name.to_owned(),
        ));
    }

    fn insert(&self, deployed: Deployed) -> Arc<Deployed> {
        let deployed = Arc::new(deployed);
        let key = key_of(&deployed.workspace, &deployed.workflow);
        self.deployed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key, deployed.clone());
        deployed
    }

    pub(super) async fn deploy<S: Store>(
        &self,
        store: &S,
        workspace: &WorkspaceId,
        text: &str,
        max_concurrency: Option<u32>,
    ) -> Result<(Arc<Deployed>, PutOutcome), EngineError> {
        let workflow = Arc::new(load_definition(text)?);
        let record = WorkflowRecord {
            workspace: workspace.clone(),
            namespace: workflow.namespace().into(),
            name: workflow.name().into(),
            version: workflow.version().into(),
            definition: text.into(),
            max_concurrency,
            created_at: now_ms(),
        };
        let outcome = store.put_workflow(record).await?;
        self.forget_latest(workspace, workflow.namespace(), workflow.name());
        Ok((self.insert(Deployed { workspace: workspace.clone(), workflow, max_concurrency }), outcome))
    }

    /// The deployed workflow with this identity; `version` may be `latest`.
    pub(super) async fn get<S: Store>(
        &self,
        store: &S,
        workspace: &WorkspaceId,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<Arc<Deployed>, EngineError> {
        let is_latest = version == "latest";
        let cached = match is_latest {
            true => self.latest_cached(workspace, namespace, name),
            false => self.cached(&(workspace.to_string(), namespace.to_owned(), name.to_owned(), version.to_owned())),
        };
        if let Some(deployed) = cached {
            return Ok(deployed);
        }
        let record = store.get_workflow(workspace, namespace, name, version).await?.ok_or_else(|| {
            EngineError::WorkflowNotFound { namespace: namespace.into(), name: name.into(), version: version.into() }
        })?;
        let key = (workspace.to_string(), record.namespace.clone(), record.name.clone(), record.version.clone());
        let deployed = match self.cached(&key) {
            Some(deployed) => deployed,
            None => {
                let workflow = Arc::new(load_definition(&record.definition)?);
                self.insert(Deployed {
                    workspace: workspace.clone(),
                    workflow,
                    max_concurrency: record.max_concurrency,
                })
            }
        };
        if is_latest {
            self.remember_latest(&deployed);
        }
        Ok(deployed)
    }
}
