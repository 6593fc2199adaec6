//! [`WorkflowStore`]: deployed workflow versions.

use std::future::Future;

use crate::error::StoreError;
use crate::ids::WorkspaceId;
use crate::records::{PutOutcome, WorkflowRecord};

/// Deployed workflow definitions, per workspace.
pub trait WorkflowStore: Send + Sync + 'static {
    /// Stores a workflow version in `record.workspace`.
    ///
    /// Returns [`PutOutcome::Unchanged`] when the same (workspace, namespace, name, version) is
    /// already stored with the same definition text.
    ///
    /// # Errors
    /// [`crate::ConflictKind::WorkflowRedefined`] when that version is stored with a different
    /// definition or concurrency limit.
    fn put_workflow(&self, record: WorkflowRecord) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Loads one workflow version; `version == "latest"` selects the highest version.
    ///
    /// Versions compare by their dotted numeric parts (`1.10.0` > `1.9.2`, a leading `v` and
    /// `+build` are ignored, `1.0.0-rc1` < `1.0.0`); numeric versions rank above non-numeric
    /// ones; ties and non-numeric versions fall back to `created_at`.
    fn get_workflow(
        &self,
        workspace: &WorkspaceId,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> impl Future<Output = Result<Option<WorkflowRecord>, StoreError>> + Send;

    /// Lists every workflow version of a workspace, by namespace, name and creation time.
    fn list_workflows(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Vec<WorkflowRecord>, StoreError>> + Send;
}
