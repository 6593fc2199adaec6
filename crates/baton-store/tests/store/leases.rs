//! Named leases: one holder at a time, taken over when expired or when its holder is dead, lost
//! leases cannot be renewed.

use baton_store::{LeaseRequest, Store, StoreError};

backend_tests!(one_holder_at_a_time_until_expiry, a_dead_holder_is_taken_over_and_cannot_renew);

fn request(holder: &str, now: i64, expires_at: i64) -> LeaseRequest {
    LeaseRequest { name: "engine".into(), holder: holder.into(), now, expires_at, take_over_from: None }
}

async fn one_holder_at_a_time_until_expiry(store: &impl Store) {
    assert_eq!(store.lease("engine").await.unwrap(), None);
    let first = store.acquire_lease(request("a", 0, 100)).await.unwrap();
    assert_eq!((first.holder.as_str(), first.epoch, first.expires_at), ("a", 1, 100));
    // The holder renews by acquiring again: same epoch.
    assert_eq!(store.acquire_lease(request("a", 50, 150)).await.unwrap().epoch, 1);
    let refused = store.acquire_lease(request("b", 149, 300)).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let second = store.acquire_lease(request("b", 150, 300)).await.unwrap();
    assert_eq!((second.holder.as_str(), second.epoch), ("b", 2));
    store.renew_lease("engine", "b", 2, 400).await.unwrap();
    assert_eq!(store.lease("engine").await.unwrap().unwrap().expires_at, 400);
    store.release_lease("engine", "b").await.unwrap();
    assert_eq!(store.acquire_lease(request("c", 200, 500)).await.unwrap().epoch, 3);
}

async fn a_dead_holder_is_taken_over_and_cannot_renew(store: &impl Store) {
    store.acquire_lease(request("dead", 0, 10_000)).await.unwrap();
    let refused = store.acquire_lease(request("new", 10, 20_000)).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let taken = LeaseRequest { take_over_from: Some("dead".into()), ..request("new", 10, 20_000) };
    assert_eq!(store.acquire_lease(taken).await.unwrap().epoch, 2);
    // The old holder comes back (it was only paused): it lost the lease and must stop.
    let lost = store.renew_lease("engine", "dead", 1, 30_000).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
    // Releasing a lease one does not hold changes nothing.
    store.release_lease("engine", "dead").await.unwrap();
    assert_eq!(store.lease("engine").await.unwrap().unwrap().holder, "new");
}
