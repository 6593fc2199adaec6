//! Timers: set, move, clear, due order.

use baton_store::{Store, TimerRecord};

use crate::fixtures::{WS, checkpoint, new_run};

backend_tests!(timers_set_clear_and_come_due_in_order, last_set_of_one_timer_in_a_checkpoint_wins);

fn timer(run_id: &str, timer_id: &str, due_at: i64) -> TimerRecord {
    TimerRecord { run_id: run_id.into(), workspace: WS, timer_id: timer_id.into(), due_at }
}

async fn timers_set_clear_and_come_due_in_order(store: &impl Store) {
    store.create_run(new_run("a", 1)).await.unwrap();
    store.create_run(new_run("b", 2)).await.unwrap();
    let mut step = checkpoint("a", 1);
    step.timers_set = vec![("t1".into(), 300), ("t2".into(), 100)];
    store.commit(step).await.unwrap();
    let mut step = checkpoint("b", 1);
    step.timers_set = vec![("t1".into(), 200), ("t9".into(), 200)];
    store.commit(step).await.unwrap();

    assert_eq!(store.due_timers(99, 10).await.unwrap(), []);
    assert_eq!(
        store.due_timers(250, 10).await.unwrap(),
        [timer("a", "t2", 100), timer("b", "t1", 200), timer("b", "t9", 200)]
    );
    assert_eq!(store.due_timers(250, 1).await.unwrap(), [timer("a", "t2", 100)]);

    // Move t1 earlier, clear t2 and an unknown id; clear + set of the same id keeps the set.
    let mut step = checkpoint("a", 2);
    step.timers_set = vec![("t1".into(), 50), ("t3".into(), 400)];
    step.timers_cleared = vec!["t2".into(), "unknown".into(), "t3".into()];
    store.commit(step).await.unwrap();
    assert_eq!(store.timers_of_run("a").await.unwrap(), [timer("a", "t1", 50), timer("a", "t3", 400)]);
    assert_eq!(
        store.due_timers(1_000, 10).await.unwrap(),
        [timer("a", "t1", 50), timer("b", "t1", 200), timer("b", "t9", 200), timer("a", "t3", 400),]
    );
    assert!(store.timers_of_run("nope").await.unwrap().is_empty());
}

async fn last_set_of_one_timer_in_a_checkpoint_wins(store: &impl Store) {
    store.create_run(new_run("a", 1)).await.unwrap();
    let mut step = checkpoint("a", 1);
    step.timers_set = vec![("t1".into(), 300), ("t2".into(), 5), ("t1".into(), 100)];
    step.timers_cleared = vec!["t1".into()];
    store.commit(step).await.unwrap();
    assert_eq!(store.timers_of_run("a").await.unwrap(), [timer("a", "t2", 5), timer("a", "t1", 100)]);
}
