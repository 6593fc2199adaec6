//! Schedules: idempotent creation, listing by due time, compare-and-set claims (one winner per
//! due time, also between two PostgreSQL nodes); `schedule.on.all` matches: one event per slot,
//! an event once per version, arrival order, deletion of what a fire used (one winner between
//! two PostgreSQL nodes).

use std::sync::Arc;

use baton_store::{ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord, ScheduleStore, Store};
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::TempPg;

backend_tests!(
    schedules_are_created_once_and_listed_by_due_time,
    a_due_time_is_claimed_once,
    a_slot_and_an_event_are_recorded_once,
    used_matches_are_deleted_by_group,
);

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

fn key(version: &str) -> ScheduleKey {
    ScheduleKey { workspace: "w".into(), namespace: "ns".into(), name: "a".into(), version: version.into() }
}

fn found(version: &str, group: &str, filter: i64, id: &str, received_at: i64) -> ScheduleMatch {
    ScheduleMatch {
        schedule: key(version),
        group_key: group.into(),
        filter_index: filter,
        event_key: json!(["/src", id]).to_string(),
        event: json!({ "id": id, "source": "/src", "data": { "n": received_at } }),
        received_at,
    }
}

async fn a_slot_and_an_event_are_recorded_once(store: &impl Store) {
    assert!(store.put_schedule_match(found("1.0.0", "g1", 1, "e1", 10)).await.unwrap());
    // The same event again, into its slot or into another one: recorded once.
    assert!(!store.put_schedule_match(found("1.0.0", "g1", 1, "e1", 11)).await.unwrap());
    assert!(!store.put_schedule_match(found("1.0.0", "g1", 0, "e1", 11)).await.unwrap());
    // Another event for a taken slot is not recorded; the other slot and other groups are free.
    assert!(!store.put_schedule_match(found("1.0.0", "g1", 1, "e2", 12)).await.unwrap());
    assert!(store.put_schedule_match(found("1.0.0", "g2", 1, "e2", 12)).await.unwrap());
    assert!(store.put_schedule_match(found("1.0.0", "g1", 0, "e3", 13)).await.unwrap());
    // Another version keeps its own matches, also of the same event.
    assert!(store.put_schedule_match(found("2.0.0", "g1", 1, "e1", 14)).await.unwrap());

    let g1 = store.schedule_matches(&key("1.0.0"), Some("g1")).await.unwrap();
    assert_eq!(g1, [found("1.0.0", "g1", 1, "e1", 10), found("1.0.0", "g1", 0, "e3", 13)], "arrival order");
    let all = store.schedule_matches(&key("1.0.0"), None).await.unwrap();
    let keys: Vec<_> = all.iter().map(|m| (m.group_key.as_str(), m.filter_index, m.received_at)).collect();
    assert_eq!(keys, [("g1", 1, 10), ("g1", 0, 13), ("g2", 1, 12)]);
    assert_eq!(store.schedule_matches(&key("2.0.0"), None).await.unwrap().len(), 1);
    assert!(store.schedule_matches(&key("3.0.0"), None).await.unwrap().is_empty());
}

async fn used_matches_are_deleted_by_group(store: &impl Store) {
    for (group, filter, id) in [("g1", 0, "e1"), ("g1", 1, "e2"), ("g2", 0, "e3")] {
        assert!(store.put_schedule_match(found("1.0.0", group, filter, id, 1)).await.unwrap());
    }
    let used = [json!(["/src", "e1"]).to_string(), json!(["/src", "e2"]).to_string()];
    // Only the listed events of the named group go.
    assert_eq!(store.delete_schedule_matches(&key("1.0.0"), "g2", &used).await.unwrap(), 0);
    assert_eq!(store.delete_schedule_matches(&key("1.0.0"), "g1", &used).await.unwrap(), 2);
    assert_eq!(store.delete_schedule_matches(&key("1.0.0"), "g1", &used).await.unwrap(), 0);
    let left = store.schedule_matches(&key("1.0.0"), None).await.unwrap();
    assert_eq!(left, [found("1.0.0", "g2", 0, "e3", 1)]);
    // The freed slots take new events; a used event may be recorded again.
    assert!(store.put_schedule_match(found("1.0.0", "g1", 0, "e1", 2)).await.unwrap());
}

/// Two nodes record the two events of one group at the same moment, then each reads the group
/// and deletes what it saw complete, round after round: the node that read last sees the group
/// complete, and when both do, exactly one of them deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_complete_a_group_once() {
    let db = TempPg::open().await;
    let nodes = [db.store.clone(), db.another_node().await];
    for round in 0..30 {
        let group = format!("g{round}");
        let barrier = Arc::new(Barrier::new(nodes.len()));
        let mut tasks = JoinSet::new();
        for (idx, node) in nodes.iter().enumerate() {
            let (node, barrier, group) = (node.clone(), Arc::clone(&barrier), group.clone());
            tasks.spawn(async move {
                let id = format!("e{round}-{idx}");
                barrier.wait().await;
                assert!(node.put_schedule_match(found("1.0.0", &group, idx as i64, &id, round)).await.unwrap());
                let seen = node.schedule_matches(&key("1.0.0"), Some(&group)).await.unwrap();
                let keys: Vec<String> = seen.iter().map(|m| m.event_key.clone()).collect();
                barrier.wait().await;
                let deleted = if keys.len() == 2 {
                    node.delete_schedule_matches(&key("1.0.0"), &group, &keys).await.unwrap()
                } else {
                    0
                };
                (keys.len(), deleted)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            results.push(joined.unwrap());
        }
        assert!(results.iter().any(|(seen, _)| *seen == 2), "round {round}: nobody saw it complete: {results:?}");
        let deleted: Vec<u64> = results.iter().map(|(_, deleted)| *deleted).collect();
        assert_eq!(deleted.iter().sum::<u64>(), 2, "round {round}: {results:?}");
        assert!(deleted.contains(&2), "round {round}: one node deletes the group: {results:?}");
        assert!(nodes[0].schedule_matches(&key("1.0.0"), Some(&group)).await.unwrap().is_empty());
    }
    nodes[1].close().await;
    db.close().await;
}
