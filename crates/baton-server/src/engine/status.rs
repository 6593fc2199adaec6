//! The run status at the store edge: the interpreter's [`RunStatus`] and the store's
//! [`StoreStatus`] name the same seven statuses; these two matches are the only place they meet.

use baton_core::state::RunStatus;
use baton_store::RunStatus as StoreStatus;

/// The status to store for an interpreter status.
pub(crate) fn to_store(status: RunStatus) -> StoreStatus {
    match status {
        RunStatus::Pending => StoreStatus::Pending,
        RunStatus::Running => StoreStatus::Running,
        RunStatus::Waiting => StoreStatus::Waiting,
        RunStatus::Suspended => StoreStatus::Suspended,
        RunStatus::Cancelled => StoreStatus::Cancelled,
        RunStatus::Faulted => StoreStatus::Faulted,
        RunStatus::Completed => StoreStatus::Completed,
    }
}

/// The interpreter status of a stored status (parsed once, when the row was read).
pub(crate) fn from_store(status: StoreStatus) -> RunStatus {
    match status {
        StoreStatus::Pending => RunStatus::Pending,
        StoreStatus::Running => RunStatus::Running,
        StoreStatus::Waiting => RunStatus::Waiting,
        StoreStatus::Suspended => RunStatus::Suspended,
        StoreStatus::Cancelled => RunStatus::Cancelled,
        StoreStatus::Faulted => RunStatus::Faulted,
        StoreStatus::Completed => RunStatus::Completed,
    }
}
