//! Typed identifiers of the store's records, in the style of Restate's `identifiers.rs`: a
//! workspace name and an owner epoch are not interchangeable with other strings and integers.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The tenant a record belongs to; every tenant-data method of the store takes one.
///
/// Stored as text (`workspace` column). [`WorkspaceId::DEFAULT`] is the workspace of a server
/// without authentication.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkspaceId(Cow<'static, str>);

impl WorkspaceId {
    /// The workspace `default`.
    pub const DEFAULT: WorkspaceId = WorkspaceId(Cow::Borrowed("default"));

    /// A workspace by name (any text; the API decides which names it accepts).
    pub fn new(name: impl Into<String>) -> WorkspaceId {
        WorkspaceId(Cow::Owned(name.into()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for WorkspaceId {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<WorkspaceId, Self::Err> {
        Ok(WorkspaceId::new(name))
    }
}

impl From<&str> for WorkspaceId {
    fn from(name: &str) -> WorkspaceId {
        WorkspaceId::new(name)
    }
}

impl From<String> for WorkspaceId {
    fn from(name: String) -> WorkspaceId {
        WorkspaceId::new(name)
    }
}

impl AsRef<str> for WorkspaceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for WorkspaceId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for WorkspaceId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for WorkspaceId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A run's fencing token: 0 at creation ([`OwnerEpoch::INITIAL`]), +1 each time the run changes
/// owner. A checkpoint written under an epoch other than the stored one is refused
/// ([`crate::ConflictKind::Fenced`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OwnerEpoch(pub i64);

impl OwnerEpoch {
    /// The epoch of a run that never changed owner.
    pub const INITIAL: OwnerEpoch = OwnerEpoch(0);

    /// The epoch after one more change of owner.
    pub fn next(self) -> OwnerEpoch {
        OwnerEpoch(self.0 + 1)
    }
}

impl fmt::Display for OwnerEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
