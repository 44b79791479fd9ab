//! The cap on the live view's open connections (`web.max_connections`).
//!
//! Each connection holds a descriptor, so without a cap anyone who can reach
//! the port can take genred to its descriptor limit with idle sockets. Simply
//! refusing connections beyond the cap would let those same idle sockets lock
//! everyone else out, so a new connection instead closes the oldest one that
//! has no request in flight: a socket that never sent its headers, or a
//! kept-alive one between requests. Only when every connection is busy (event
//! streams, which `web.max_clients` keeps below the cap, and responses being
//! written) is the new one refused.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// The open connections, oldest first.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    state: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// The next connection's number: numbers only grow, so the map is in age order.
    next: u64,
    open: BTreeMap<u64, Open>,
}

#[derive(Debug)]
struct Open {
    /// Requests whose response is still being written.
    requests: usize,
    /// Tells the connection's task to close it.
    close: oneshot::Sender<()>,
}

/// One admitted connection; it leaves the count when this is dropped.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    connections: Arc<Connections>,
}

/// A request in flight on a connection: while one is, the connection is not
/// closed for a newcomer.
#[derive(Debug)]
pub struct InFlight {
    slot: Arc<Slot>,
}

impl Connections {
    /// A cap of `max` connections (at least 1: the config validates it).
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            state: Mutex::new(Registry::default()),
        }
    }

    /// Every update is a single insert, remove or count, so a lock poisoned
    /// by a panic elsewhere still guards a whole registry.
    fn state(&self) -> MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a new connection, closing the oldest idle one when the cap is
    /// reached; `None` when every open connection is busy. The receiver
    /// resolves when the connection is to be closed for a newcomer.
    pub fn admit(self: &Arc<Self>) -> Option<(Slot, oneshot::Receiver<()>)> {
        let mut state = self.state();
        if state.open.len() >= self.max {
            let idle = state
                .open
                .iter()
                .find(|(_, open)| open.requests == 0)
                .map(|(id, _)| *id)?;
            if let Some(evicted) = state.open.remove(&idle) {
                // Its task may have ended already; then the slot is free anyway.
                let _ = evicted.close.send(());
            }
        }
        let id = state.next;
        state.next += 1;
        let (close, closed) = oneshot::channel();
        state.open.insert(id, Open { requests: 0, close });
        let slot = Slot {
            id,
            connections: Arc::clone(self),
        };
        Some((slot, closed))
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.state().open.len()
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

impl Slot {
    /// Marks a request in flight until the returned guard is dropped (with
    /// the response's body, once written).
    pub fn request(self: &Arc<Self>) -> InFlight {
        if let Some(open) = self.connections.state().open.get_mut(&self.id) {
            open.requests += 1;
        }
        InFlight {
            slot: Arc::clone(self),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.state().open.remove(&self.id);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let connections = &self.slot.connections;
        if let Some(open) = connections.state().open.get_mut(&self.slot.id) {
            open.requests = open.requests.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newcomer_beyond_the_cap_closes_the_oldest_idle_connection() {
        let connections = Arc::new(Connections::new(2));
        let (first, mut first_closed) = connections.admit().unwrap();
        let (_second, mut second_closed) = connections.admit().unwrap();
        let (_third, _) = connections.admit().unwrap();
        assert_eq!(first_closed.try_recv(), Ok(()), "the oldest goes");
        assert!(second_closed.try_recv().is_err(), "the younger stays");
        assert_eq!(connections.open(), 2);
        // The evicted connection's task ends later; that frees nothing twice.
        drop(first);
        assert_eq!(connections.open(), 2);
    }

    #[test]
    fn a_connection_with_a_request_in_flight_is_not_closed() {
        let connections = Arc::new(Connections::new(2));
        let (streaming, mut streaming_closed) = connections.admit().unwrap();
        let streaming = Arc::new(streaming);
        let stream = streaming.request();
        let (_idle, mut idle_closed) = connections.admit().unwrap();
        let (_newcomer, _) = connections.admit().unwrap();
        assert!(streaming_closed.try_recv().is_err());
        assert_eq!(idle_closed.try_recv(), Ok(()));
        // Once its response is written, it is idle like any other.
        drop(stream);
        let (_last, _) = connections.admit().unwrap();
        assert_eq!(streaming_closed.try_recv(), Ok(()));
    }

    #[test]
    fn when_every_connection_is_busy_the_newcomer_is_refused_until_one_closes() {
        let connections = Arc::new(Connections::new(1));
        let (busy, _) = connections.admit().unwrap();
        let busy = Arc::new(busy);
        let request = busy.request();
        assert!(connections.admit().is_none());
        drop(request);
        drop(busy);
        assert_eq!(connections.open(), 0);
        assert!(connections.admit().is_some());
    }
}
