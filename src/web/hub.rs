//! The hand-off between the sink and the live view: every record line the
//! sink has appended, kept in a bounded ring of recent records and offered to
//! each connected event stream through a bounded channel of its own.
//!
//! Publishing never waits: the lock is held only to push into the ring and
//! to `try_send` to each client, and a client whose channel is full (it stopped
//! reading, or reads slower than records come) is dropped, so no client can
//! make genred buffer without limit or hold up the sink behind it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::info;

use crate::sinks::{RecordKind, RecordSubscriber};

/// Records a client may have in flight before it counts as stalled. A client
/// that reads keeps up with the few records a second genred writes at most;
/// this many is minutes of microphone records, and at ~4 KB for the largest
/// records (a tagger's file record) at most ~256 KB per client.
pub const CLIENT_BUFFER: usize = 64;

/// The last microphone record the sink wrote, for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicSeen {
    pub at: Instant,
    pub silence: bool,
}

/// Why a new event stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    #[error("{max_clients} live views are already connected (web.max_clients)")]
    Full { max_clients: usize },
    #[error("genred is stopping")]
    Closed,
}

/// Recent records and the connected event streams.
#[derive(Debug)]
pub struct Hub {
    max_clients: usize,
    recent_capacity: usize,
    state: Mutex<HubState>,
}

#[derive(Debug, Default)]
struct HubState {
    /// The latest records, oldest first, at most `recent_capacity`.
    recent: VecDeque<Arc<str>>,
    clients: Vec<mpsc::Sender<Arc<str>>>,
    /// Records published since the hub was made.
    published: u64,
    last_mic: Option<MicSeen>,
    /// Set at shutdown: no new streams, the open ones ended.
    closed: bool,
}

/// A snapshot for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HubStatus {
    pub clients: usize,
    pub published: u64,
    pub last_mic: Option<MicSeen>,
}

impl Hub {
    /// A hub for at most `max_clients` streams that keeps the last
    /// `recent_capacity` records (both at least 1: the config validates them).
    pub fn new(max_clients: usize, recent_capacity: usize) -> Self {
        Self {
            max_clients,
            recent_capacity: recent_capacity.max(1),
            state: Mutex::new(HubState::default()),
        }
    }

    /// A panic elsewhere while the lock was held leaves the state whole
    /// (every update is a single push or retain), so a poisoned lock is used as is.
    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a record line, exactly as appended to the results file, to the
    /// ring and to every client; drops the clients that cannot take it now.
    pub fn publish(&self, kind: RecordKind, line: Arc<str>) {
        let mut state = self.state();
        if let RecordKind::Mic { silence } = kind {
            state.last_mic = Some(MicSeen {
                at: Instant::now(),
                silence,
            });
        }
        state.published += 1;
        if state.recent.len() == self.recent_capacity {
            state.recent.pop_front();
        }
        state.recent.push_back(Arc::clone(&line));
        let mut stalled = 0;
        state
            .clients
            .retain(|client| match client.try_send(Arc::clone(&line)) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    stalled += 1;
                    false
                }
                // It disconnected: its slot is freed quietly.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        drop(state);
        if stalled > 0 {
            info!(
                clients = stalled,
                "live view: dropped event streams that stopped reading ({CLIENT_BUFFER} records behind)"
            );
        }
    }

    /// Fills the ring with records written before this start (`lines`, oldest first), so
    /// that a page opened after a restart shows the history; nothing is sent to clients and
    /// nothing counts as heard now.
    pub fn remember(&self, lines: impl IntoIterator<Item = Arc<str>>) {
        let mut state = self.state();
        for line in lines {
            if state.recent.len() == self.recent_capacity {
                state.recent.pop_front();
            }
            state.recent.push_back(line);
        }
    }

    /// Opens an event stream: the receiver gets every record published from
    /// now on, until the client falls [`CLIENT_BUFFER`] records behind.
    pub fn subscribe(&self) -> Result<mpsc::Receiver<Arc<str>>, SubscribeError> {
        let mut state = self.state();
        if state.closed {
            return Err(SubscribeError::Closed);
        }
        state.clients.retain(|client| !client.is_closed());
        if state.clients.len() >= self.max_clients {
            return Err(SubscribeError::Full {
                max_clients: self.max_clients,
            });
        }
        let (sender, receiver) = mpsc::channel(CLIENT_BUFFER);
        state.clients.push(sender);
        Ok(receiver)
    }

    /// The last `n` records (fewer when fewer were kept), oldest first.
    pub fn recent(&self, n: usize) -> Vec<Arc<str>> {
        let state = self.state();
        let skip = state.recent.len().saturating_sub(n);
        state.recent.iter().skip(skip).cloned().collect()
    }

    pub fn status(&self) -> HubStatus {
        let mut state = self.state();
        state.clients.retain(|client| !client.is_closed());
        HubStatus {
            clients: state.clients.len(),
            published: state.published,
            last_mic: state.last_mic,
        }
    }

    /// Ends every open stream (their channels close once drained) and
    /// refuses new ones: the web server is stopping.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.clients.clear();
    }
}

impl RecordSubscriber for Hub {
    fn record_written(&self, kind: RecordKind, line: Arc<str>) {
        self.publish(kind, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(n: usize) -> Arc<str> {
        Arc::from(format!("{{\"n\":{n}}}"))
    }

    #[test]
    fn the_ring_keeps_the_latest_records_oldest_first() {
        let hub = Hub::new(8, 3);
        for n in 0..5 {
            hub.publish(RecordKind::File, line(n));
        }
        let texts: Vec<String> = hub.recent(10).iter().map(|l| l.to_string()).collect();
        assert_eq!(texts, [r#"{"n":2}"#, r#"{"n":3}"#, r#"{"n":4}"#]);
        assert_eq!(hub.recent(1).len(), 1);
        assert_eq!(&*hub.recent(1)[0], r#"{"n":4}"#);
        assert_eq!(hub.status().published, 5);
    }

    #[test]
    fn a_client_gets_the_very_lines_published_in_order() {
        let hub = Hub::new(8, 16);
        let mut client = hub.subscribe().unwrap();
        let published = line(7);
        hub.publish(RecordKind::File, Arc::clone(&published));
        hub.publish(RecordKind::File, line(8));
        let first = client.try_recv().unwrap();
        assert!(Arc::ptr_eq(&first, &published), "shared, not copied");
        assert_eq!(&*client.try_recv().unwrap(), r#"{"n":8}"#);
    }

    #[test]
    fn a_client_that_stops_reading_is_dropped_without_holding_up_publishing() {
        let hub = Hub::new(8, 16);
        let mut reader = hub.subscribe().unwrap();
        let mut stalled = hub.subscribe().unwrap();
        let started = Instant::now();
        for n in 0..CLIENT_BUFFER * 4 {
            hub.publish(RecordKind::File, line(n));
            assert_eq!(reader.try_recv().unwrap(), line(n));
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "publishing waited: {:?}",
            started.elapsed()
        );
        assert_eq!(hub.status().clients, 1, "the stalled client is gone");
        // It keeps what it had been sent, then its stream ends.
        let mut kept = 0;
        while stalled.try_recv().is_ok() {
            kept += 1;
        }
        assert_eq!(kept, CLIENT_BUFFER);
        assert_eq!(
            stalled.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        );
    }

    #[test]
    fn streams_beyond_max_clients_are_refused_until_one_leaves() {
        let hub = Hub::new(2, 16);
        let first = hub.subscribe().unwrap();
        let _second = hub.subscribe().unwrap();
        assert_eq!(
            hub.subscribe().unwrap_err(),
            SubscribeError::Full { max_clients: 2 }
        );
        drop(first);
        assert!(hub.subscribe().is_ok(), "a closed stream frees its slot");
    }

    #[test]
    fn closing_ends_every_stream_and_refuses_new_ones() {
        let hub = Hub::new(2, 16);
        let mut client = hub.subscribe().unwrap();
        hub.close();
        assert_eq!(
            client.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        );
        assert_eq!(hub.subscribe().unwrap_err(), SubscribeError::Closed);
        // The sink outlives the server; what it publishes is still kept.
        hub.publish(RecordKind::File, line(1));
        assert_eq!(hub.recent(5).len(), 1);
    }

    #[test]
    fn the_last_microphone_record_is_remembered_with_its_silence() {
        let hub = Hub::new(2, 16);
        assert_eq!(hub.status().last_mic, None);
        hub.publish(RecordKind::Mic { silence: true }, line(1));
        hub.publish(RecordKind::File, line(2));
        let seen = hub.status().last_mic.unwrap();
        assert!(seen.silence);
    }
}
