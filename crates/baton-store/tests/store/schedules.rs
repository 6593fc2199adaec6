//! Schedules: idempotent creation, listing by due time, compare-and-set claims (one winner per
//! due time, also between two PostgreSQL nodes).

use std::sync::Arc;

use baton_store::{ScheduleClaim, ScheduleRecord, Store};
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::TempPg;

backend_tests!(schedules_are_created_once_and_listed_by_due_time, a_due_time_is_claimed_once);

fn schedule(name: &str, kind: &str, next_due_at: Option<i64>) -> ScheduleRecord {
    ScheduleRecord {
        workspace: "w".into(),
        namespace: "ns".into(),
        name: name.into(),
        version: "1.0.0".into(),
        kind: kind.into(),
        spec: json!({ kind: "PT1S" }),
        next_due_at,
        last_fired_at: None,
        last_run_id: None,
        created_at: 1,
    }
}

fn claim(name: &str, expected: Option<i64>, next: Option<i64>, fired: Option<(i64, &str)>) -> ScheduleClaim {
    ScheduleClaim {
        workspace: "w".into(),
        namespace: "ns".into(),
        name: name.into(),
        version: "1.0.0".into(),
        expected_due_at: expected,
        next_due_at: next,
        fired: fired.map(|(at, run)| (at, run.to_owned())),
    }
}

async fn schedules_are_created_once_and_listed_by_due_time(store: &impl Store) {
    assert!(store.put_schedule(schedule("b", "every", Some(200))).await.unwrap());
    assert!(store.put_schedule(schedule("a", "cron", Some(300))).await.unwrap());
    assert!(store.put_schedule(schedule("c", "on", None)).await.unwrap());
    // Deploying again keeps the stored state.
    assert!(!store.put_schedule(schedule("b", "every", Some(999))).await.unwrap());
    let all = store.schedules(None).await.unwrap();
    let names: Vec<_> = all.iter().map(|s| (s.name.as_str(), s.next_due_at)).collect();
    assert_eq!(names, [("b", Some(200)), ("a", Some(300)), ("c", None)]);
    assert_eq!(all[0].spec, json!({ "every": "PT1S" }));
    let on = store.schedules(Some("on")).await.unwrap();
    assert_eq!(on, [schedule("c", "on", None)]);
}

async fn a_due_time_is_claimed_once(store: &impl Store) {
    store.put_schedule(schedule("a", "every", Some(100))).await.unwrap();
    assert!(store.claim_schedule(claim("a", Some(100), Some(200), Some((100, "r1")))).await.unwrap());
    assert!(!store.claim_schedule(claim("a", Some(100), Some(200), Some((100, "r1")))).await.unwrap());
    let [stored] = &store.schedules(None).await.unwrap()[..] else { panic!("one schedule") };
    assert_eq!(
        (stored.next_due_at, stored.last_fired_at, stored.last_run_id.as_deref()),
        (Some(200), Some(100), Some("r1"))
    );
    // An `after` schedule parks (no due time) until its run ends, then re-arms once.
    assert!(store.claim_schedule(claim("a", Some(200), None, Some((200, "r2")))).await.unwrap());
    assert!(store.claim_schedule(claim("a", None, Some(500), None)).await.unwrap());
    assert!(!store.claim_schedule(claim("a", None, Some(600), None)).await.unwrap());
    let [stored] = &store.schedules(None).await.unwrap()[..] else { panic!("one schedule") };
    assert_eq!(
        (stored.next_due_at, stored.last_fired_at, stored.last_run_id.as_deref()),
        (Some(500), Some(200), Some("r2"))
    );
    assert!(!store.claim_schedule(claim("unknown", Some(100), Some(200), None)).await.unwrap());
}

/// Two nodes claim every due time of one schedule at the same moment: each due time is won by
/// exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_claim_each_due_time_once() {
    let db = TempPg::open().await;
    let nodes = [db.store.clone(), db.another_node().await];
    nodes[0].put_schedule(schedule("a", "every", Some(0))).await.unwrap();
    let rounds = 40;
    let mut wins = [0; 2];
    for due in 0..rounds {
        let barrier = Arc::new(Barrier::new(nodes.len()));
        let mut tasks = JoinSet::new();
        for (idx, node) in nodes.iter().enumerate() {
            let (node, barrier) = (node.clone(), Arc::clone(&barrier));
            tasks.spawn(async move {
                let run = format!("n{idx}-{due}");
                barrier.wait().await;
                (idx, node.claim_schedule(claim("a", Some(due), Some(due + 1), Some((due, &run)))).await.unwrap())
            });
        }
        let mut winners = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (idx, won) = joined.unwrap();
            if won {
                winners.push(idx);
            }
        }
        assert_eq!(winners.len(), 1, "due {due}: winners {winners:?}");
        wins[winners[0]] += 1;
    }
    assert_eq!(wins[0] + wins[1], rounds);
    let [stored] = &nodes[1].schedules(None).await.unwrap()[..] else { panic!("one schedule") };
    assert_eq!(stored.next_due_at, Some(rounds));
    db.close().await;
}
