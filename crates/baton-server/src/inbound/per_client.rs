//! Counts the open connections of each client address, so that one address cannot take every
//! connection the server can hold.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open connections per client address. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionCounts {
    /// Invariant: no entry holds 0 (an address's entry goes with its last connection).
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    counts: ConnectionCounts,
    client: IpAddr,
}

impl ConnectionCounts {
    /// A place for a connection from `client`, or `None` when it has `limit` open already.
    pub(crate) fn admit(&self, client: IpAddr, limit: usize) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(client).or_insert(0);
        if *count >= limit {
            if *count == 0 {
                open.remove(&client);
            }
            return None;
        }
        *count += 1;
        Some(ConnectionSlot { counts: self.clone(), client })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_limit_and_slots_free_their_place() {
        let counts = ConnectionCounts::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let first = counts.admit(a, 2).unwrap();
        let _second = counts.admit(a, 2).unwrap();
        assert!(counts.admit(a, 2).is_none());
        let _other = counts.admit(b, 2).unwrap();
        drop(first);
        let _third = counts.admit(a, 2).unwrap();
        assert!(counts.admit(a, 0).is_none());
    }
}
