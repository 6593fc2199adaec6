//! Several nodes on one database (PostgreSQL; DESIGN.md "PostgreSQL").
//!
//! A run belongs to one node at a time, its `owner` in the store: the node that created it,
//! or that claimed it later. Only the owner steps a run, and every checkpoint is conditional on
//! the run's `owner_epoch` (the fencing token), so a node that stalled past its lease and lost
//! the run cannot write it any more. Each node holds a lease `node/<id>` renewed by heartbeats
//! (`lease.rs`); the orphan sweep of every live node hands the runs of a node whose lease
//! expired (or whose process is gone, on the same host) to itself, `FOR UPDATE SKIP LOCKED`, so
//! several sweeping nodes split them. An input for a run another node owns (an event, an inbox
//! answer, a signal, a child's result, an expired deadline) is stored for the owner
//! (`run_inputs`) and wakes it through `LISTEN`/`NOTIFY`; a slow poll is the safety net.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use baton_core::state::StepInput;
use baton_store::{NODE_LEASE_PREFIX, Store};
use tokio::sync::Notify;

use crate::clock::now_ms;
use crate::engine::recovery::retry_transient;
use crate::engine::{Delivery, Engine, EngineError, Inner};

/// How often a node waiting for a run that another node drives looks at the store.
pub(super) const REMOTE_WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Most orphaned runs claimed by one statement of the sweep.
const ORPHAN_BATCH: u32 = 200;

/// Most stored inputs taken by one look at the store.
const INPUT_BATCH: u32 = 1_000;

/// How long a stored input handed to an actor is remembered: while its run has an actor, the
/// input is in that actor's mailbox (or applied) and is not handed over again.
const REMEMBER_HANDED: Duration = Duration::from_secs(60);

/// How a node takes part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's id: the holder of its lease `node/<id>`, which must be held (and renewed)
    /// before the engine starts, e.g. with `lease::join_cluster`.
    pub node_id: String,
    /// How often the node looks for stored inputs it was not notified of (ms): the safety net
    /// under `LISTEN`/`NOTIFY`.
    pub input_poll_ms: u64,
    /// The node leases' time to live (ms). The orphan sweep looks for runs of dead nodes every
    /// third of it. After the database was unreachable, the orphan sweep claims nothing for
    /// this long: every node's lease may have lapsed during the outage, and
    /// the live ones get the time to renew theirs.
    pub lease_ttl_ms: u64,
}

/// A node's cluster state inside the engine.
pub(super) struct ClusterState {
    pub(super) node_id: String,
    orphan_sweep: Duration,
    input_poll: Duration,
    lease_ttl: Duration,
    /// Wakes the input intake (a notification, or runs just adopted).
    wake: Notify,
    /// Stored inputs handed to actors, and when.
    handed: Mutex<HashMap<i64, Instant>>,
    /// The orphan sweep's view of the database: `Err(())` while its calls fail, `Ok(since)`
    /// when they succeed again (`None`: no outage seen).
    reachable: Mutex<Result<Option<Instant>, ()>>,
}

impl ClusterState {
    pub(super) fn new(config: ClusterConfig) -> ClusterState {
        ClusterState {
            node_id: config.node_id,
            orphan_sweep: Duration::from_millis((config.lease_ttl_ms / 3).max(10)),
            input_poll: Duration::from_millis(config.input_poll_ms.max(10)),
            lease_ttl: Duration::from_millis(config.lease_ttl_ms),
            wake: Notify::new(),
            handed: Mutex::new(HashMap::new()),
            reachable: Mutex::new(Ok(None)),
        }
    }

    /// Whether a stored input should go to an actor now: not when it was handed over before
    /// and its run still has an actor (which holds it, in order); again when that actor is
    /// gone without applying it.
    fn take_for_delivery(&self, input_id: i64, run_has_actor: bool) -> bool {
        let mut handed = self.handed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        handed.retain(|_, at| now.duration_since(*at) < REMEMBER_HANDED);
        if handed.contains_key(&input_id) && run_has_actor {
            return false;
        }
        handed.insert(input_id, now);
        true
    }

    /// Records how a sweep's database call went; returns whether claiming is allowed now.
    fn database_answered(&self, answered: bool) -> bool {
        let mut reachable = self.reachable.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *reachable = match (*reachable, answered) {
            (_, false) => Err(()),
            (Err(()), true) => Ok(Some(Instant::now())),
            (Ok(since), true) => Ok(since),
        };
        match *reachable {
            Ok(Some(since)) => since.elapsed() >= self.lease_ttl,
            Ok(None) => true,
            Err(()) => false,
        }
    }
}

impl<S: Store + Clone> Engine<S> {
    /// The cluster state; only called in cluster mode.
    fn cluster(&self) -> Option<&ClusterState> {
        self.inner.cluster.as_ref()
    }

    /// Starts the orphan sweep and the input intake of this node (once).
    pub(super) fn start_cluster_loops(&self) {
        if self.cluster().is_none() {
            return;
        }
        tokio::spawn(sweep_orphans_periodically(Arc::downgrade(&self.inner)));
        tokio::spawn(take_inputs(Arc::downgrade(&self.inner)));
    }

    /// One orphan sweep: expires the leases of nodes whose process is gone (same host), then
    /// claims orphaned runs in batches and adopts each. Returns how many runs it adopted.
    pub async fn sweep_orphans(&self) -> Result<usize, EngineError> {
        let Some(cluster) = self.cluster() else { return Ok(0) };
        let store = &self.inner.store;
        let now = now_ms();
        let leases = store.leases_with_prefix(NODE_LEASE_PREFIX).await;
        if !cluster.database_answered(leases.is_ok()) {
            leases?;
            tracing::debug!("the database was unreachable a moment ago: claiming nothing until the leases are renewed");
            return Ok(0);
        }
        for (name, lease) in leases? {
            if lease.holder != cluster.node_id && lease.expires_at > now && crate::lease::holder_is_dead(&lease.holder)
            {
                tracing::info!(node = %lease.holder, "a node's process is gone: expiring its lease");
                store.release_lease(&name, &lease.holder).await?;
            }
        }
        let mut adopted = 0;
        loop {
            let claimed = store.claim_orphan_runs(&cluster.node_id, now_ms(), ORPHAN_BATCH).await?;
            if claimed.is_empty() {
                break;
            }
            adopted += claimed.len();
            for run in claimed {
                if let Err(err) = self.adopt(&run.id).await {
                    tracing::error!(run_id = %run.id, workspace = %run.workspace, error = %err, "cannot adopt a claimed run");
                }
            }
        }
        if adopted > 0 {
            tracing::info!(runs = adopted, "adopted orphaned runs");
            cluster.wake.notify_one();
        }
        Ok(adopted)
    }

    /// Takes up a run this node just claimed: its timers join the node's timer service, and it
    /// is started (pending) or gets an actor, which re-issues what it has in flight.
    pub(super) async fn adopt(&self, run_id: &str) -> Result<(), EngineError> {
        self.resumed_from_crash(run_id);
        self.adopt_timers(run_id).await?;
        let Some(record) = self.inner.store.load_run(run_id).await? else { return Ok(()) };
        if record.status == baton_store::RunStatus::Pending {
            return self.start(run_id).await;
        }
        self.resume_started(record).await
    }

    /// A run another node owns: its inputs go to the store for the owner.
    pub(super) async fn forward(&self, run_id: &str, input: &StepInput) -> Result<(), EngineError> {
        let document = serde_json::to_value(input)
            .map_err(|err| EngineError::CorruptRun { run_id: run_id.into(), message: err.to_string() })?;
        let store = &self.inner.store;
        let owner =
            retry_transient("pass an input on", || store.put_run_input(run_id, document.clone(), now_ms())).await?;
        tracing::debug!(run_id, owner = ?owner, "input passed on to the run's owner");
        Ok(())
    }

    /// Hands the stored inputs of this node's runs to their actors.
    async fn take_stored_inputs(&self) -> Result<(), EngineError> {
        let Some(cluster) = self.cluster() else { return Ok(()) };
        for stored in self.inner.store.inputs_for_node(&cluster.node_id, INPUT_BATCH).await? {
            if !cluster.take_for_delivery(stored.id, self.has_actor(&stored.run_id)) {
                continue;
            }
            match serde_json::from_value::<StepInput>(stored.input) {
                Ok(input) => self.hand_over(&stored.run_id, Delivery { input, stored_id: Some(stored.id) }),
                Err(err) => tracing::error!(run_id = %stored.run_id, error = %err, "unreadable stored input"),
            }
        }
        Ok(())
    }

    /// Called after a run was claimed outside the sweep (an actor found its owner dead).
    pub(super) fn wake_input_intake(&self) {
        if let Some(cluster) = self.cluster() {
            cluster.wake.notify_one();
        }
    }
}

/// Runs the orphan sweep every `orphan_sweep` until the engine is dropped.
async fn sweep_orphans_periodically<S: Store + Clone>(inner: Weak<Inner<S>>) {
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let engine = Engine { inner: strong };
        let Some(interval) = engine.cluster().map(|cluster| cluster.orphan_sweep) else { return };
        drop(engine);
        tokio::time::sleep(interval).await;
        let Some(strong) = inner.upgrade() else { return };
        let engine = Engine { inner: strong };
        if let Err(err) = engine.sweep_orphans().await {
            tracing::warn!(error = %err, "orphan sweep failed");
        }
    }
}

/// Takes the inputs other nodes store for this node's runs: at each notification, after runs
/// were adopted, and every `input_poll` in case a notification was lost.
async fn take_inputs<S: Store + Clone>(inner: Weak<Inner<S>>) {
    let mut notifications = None;
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let engine = Engine { inner: strong };
        let Some(cluster) = engine.cluster() else { return };
        if notifications.is_none() {
            match engine.inner.store.input_notifications(&cluster.node_id).await {
                Ok(receiver) => notifications = receiver,
                Err(err) => tracing::warn!(error = %err, "cannot listen for inputs; polling"),
            }
        }
        let woken = async {
            match notifications.as_mut() {
                Some(receiver) => receiver.recv().await.is_some(),
                None => std::future::pending().await,
            }
        };
        let listening = tokio::select! {
            alive = woken => {
                // One look at the store serves every notification received so far.
                if let Some(receiver) = notifications.as_mut() {
                    while receiver.try_recv().is_ok() {}
                }
                alive
            }
            () = cluster.wake.notified() => true,
            () = tokio::time::sleep(cluster.input_poll) => true,
        };
        if !listening {
            notifications = None;
        }
        if let Err(err) = engine.take_stored_inputs().await {
            tracing::warn!(error = %err, "cannot read stored inputs");
        }
    }
}
