//! The crash-loop quarantine's counter: attempts at stepping a run from one state version after
//! taking it up from a process that died.

use baton_store::Store;

use crate::fixtures::{checkpoint, new_run};

backend_tests!(resumed_steps_count_per_state_version);

async fn resumed_steps_count_per_state_version(store: &impl Store) {
    store.create_run(new_run("r1", 1)).await.unwrap();
    assert_eq!(store.count_resumed_step("r1", 1).await.unwrap(), Some(1));
    assert_eq!(store.count_resumed_step("r1", 1).await.unwrap(), Some(2));
    // Another version: not the run's.
    assert_eq!(store.count_resumed_step("r1", 7).await.unwrap(), None);
    assert_eq!(store.count_resumed_step("nope", 1).await.unwrap(), None);

    // A committed step moves the run on: the count starts over.
    assert_eq!(store.commit(checkpoint("r1", 1)).await.unwrap(), 2);
    assert_eq!(store.count_resumed_step("r1", 2).await.unwrap(), Some(1));
    assert_eq!(store.count_resumed_step("r1", 1).await.unwrap(), None);
    assert_eq!(store.count_resumed_step("r1", 2).await.unwrap(), Some(2));
    assert_eq!(store.load_run("r1").await.unwrap().unwrap().state_version, 2);
}
