//! The database lease: one Baton process drives the runs of a database at a time.
//!
//! A process takes the lease `engine` before it resumes runs, renews it every third of its
//! time to live, and gives it up on shutdown. A second process on the same database is refused
//! while the lease is valid. A holder that died (`kill -9`) is taken over at once when it ran on
//! this host and its process is gone; otherwise its lease expires after [`LEASE_TTL_MS`]. A
//! process that finds its lease taken over (it was paused past its lease) must stop at once:
//! the future of [`HeldLease::lost`] completes then. The lease's epoch is the fencing token the multi-node
//! work builds on.

use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use baton_store::{LeaseRequest, Store, StoreError};

use crate::clock::now_ms;

/// Name of the lease that owns a database's runs.
pub const ENGINE_LEASE: &str = "engine";

/// How long a lease lasts without renewal (ms).
pub const LEASE_TTL_MS: i64 = 15_000;

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "another Baton process ({holder}) holds this database for {remaining_ms} ms more: stop it, or wait until its lease expires"
    )]
    Held { holder: String, remaining_ms: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A lease this process holds, renewed in the background.
pub struct HeldLease {
    /// The lease's name: [`ENGINE_LEASE`], or `node/<holder>` for a node of a cluster.
    pub name: String,
    pub holder: String,
    pub epoch: i64,
    lost: watch::Receiver<bool>,
    heartbeat: JoinHandle<()>,
}

impl HeldLease {
    /// A future that completes when another process took the lease over: stop writing at once.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut lost = self.lost.clone();
        async move {
            let _ = lost.wait_for(|lost| *lost).await;
        }
    }

    /// Stops renewing and gives the lease up.
    pub async fn release<S: Store>(self, store: &S) {
        self.heartbeat.abort();
        if let Err(err) = store.release_lease(&self.name, &self.holder).await {
            tracing::warn!(error = %err, "cannot release the database lease");
        }
    }
}

/// Takes the database lease for this process and keeps it renewed.
///
/// Errors: [`LeaseError::Held`] when another live process holds it.
pub async fn acquire<S: Store + Clone>(store: &S) -> Result<HeldLease, LeaseError> {
    let holder = new_holder();
    let now = now_ms();
    let request = LeaseRequest {
        name: ENGINE_LEASE.into(),
        holder: holder.clone(),
        now,
        expires_at: now + LEASE_TTL_MS,
        take_over_from: None,
    };
    let lease = match store.acquire_lease(request.clone()).await {
        Ok(lease) => lease,
        Err(StoreError::Conflict(_)) => match store.lease(ENGINE_LEASE).await? {
            Some(current) if holder_is_dead(&current.holder) => {
                tracing::info!(previous = %current.holder, "taking over the lease of a process that is gone");
                store.acquire_lease(LeaseRequest { take_over_from: Some(current.holder), ..request }).await?
            }
            Some(current) => {
                return Err(LeaseError::Held { holder: current.holder, remaining_ms: current.expires_at - now });
            }
            None => store.acquire_lease(request).await?,
        },
        Err(err) => return Err(err.into()),
    };
    Ok(hold(store, ENGINE_LEASE.into(), holder, lease.epoch, LEASE_TTL_MS))
}

/// Joins the nodes sharing a database: takes this node's lease `node/<holder>` (the holder is
/// new, `host/pid/uuid`, so it is always granted) for `ttl_ms` and keeps it renewed every third
/// of that. The holder is the node id of [`crate::engine::ClusterConfig`]; other nodes adopt
/// this node's runs once the lease expired (or at once when its process is gone, same host).
pub async fn join_cluster<S: Store + Clone>(store: &S, ttl_ms: i64) -> Result<HeldLease, LeaseError> {
    let holder = new_holder();
    let name = format!("{}{holder}", baton_store::NODE_LEASE_PREFIX);
    let now = now_ms();
    let request = LeaseRequest {
        name: name.clone(),
        holder: holder.clone(),
        now,
        expires_at: now + ttl_ms,
        take_over_from: None,
    };
    let lease = store.acquire_lease(request).await?;
    Ok(hold(store, name, holder, lease.epoch, ttl_ms))
}

/// A holder name unique to this process: `host/pid/uuid`.
fn new_holder() -> String {
    format!("{}/{}/{}", hostname(), std::process::id(), uuid::Uuid::new_v4().simple())
}

/// Starts renewing a granted lease.
fn hold<S: Store + Clone>(store: &S, name: String, holder: String, epoch: i64, ttl_ms: i64) -> HeldLease {
    let (lost_sender, lost) = watch::channel(false);
    let heartbeat = tokio::spawn(renew(store.clone(), name.clone(), holder.clone(), epoch, ttl_ms, lost_sender));
    HeldLease { name, holder, epoch, lost, heartbeat }
}

/// Renews the lease every third of its time to live; reports when it was lost.
async fn renew<S: Store>(store: S, name: String, holder: String, epoch: i64, ttl_ms: i64, lost: watch::Sender<bool>) {
    let mut ticks = tokio::time::interval(Duration::from_millis((ttl_ms / 3).max(1) as u64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match store.renew_lease(&name, &holder, epoch, now_ms() + ttl_ms).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                tracing::error!(lease = %name, holder = %holder, "the lease was taken over by another process");
                let _ = lost.send(true);
                return;
            }
            // The database may be back before the lease expires; keep trying.
            Err(err) => tracing::warn!(error = %err, "cannot renew the database lease"),
        }
    }
}

/// This host's name (Linux), or `unknown`, with the PID namespace when there is one
/// (`vm~pid:[4026531836]`): two containers sharing a host name but not their process ids must
/// not judge each other's processes.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    match std::fs::read_link("/proc/self/ns/pid") {
        Ok(namespace) => format!("{name}~{}", namespace.display()),
        Err(_) => name,
    }
}

/// Whether a holder `host/pid/…` ran on this host in a process that no longer exists (or is a
/// zombie). Without `/proc` nothing is known to be dead: the lease must expire.
pub(crate) fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.splitn(3, '/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next().and_then(|pid| pid.parse::<u32>().ok())) else {
        return false;
    };
    if host != hostname() || pid == std::process::id() || !Path::new("/proc/self").exists() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `pid (comm) S …`.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_gone_process_on_this_host_is_dead() {
        let me = format!("{}/{}/x", hostname(), std::process::id());
        assert!(!holder_is_dead(&me), "this process is alive");
        assert!(!holder_is_dead("some-other-host/1/x"), "another host is never known dead");
        assert!(!holder_is_dead("garbage"));
        // PID 1 exists on Linux; a PID far above pid_max does not.
        assert!(!holder_is_dead(&format!("{}/1/x", hostname())));
        assert!(holder_is_dead(&format!("{}/4294967294/x", hostname())));
    }
}
