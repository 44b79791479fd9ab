//! The settle rule: when a file seen arriving is complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::debug;

use crate::record::{self, display_path, FileJob};

/// The shortest quiet period of the stable-size rule, whatever `settle_s`:
/// without a close to go by, a file is never taken the instant it is seen
/// (a writer between its open and its first write shows a size of 0).
pub const MIN_STABLE_QUIET: Duration = Duration::from_secs(1);

/// What an event or a scan says about a file's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    /// Found by a scan; `at_rest`: unchanged for the stable-size quiet period.
    Scanned { at_rest: bool },
    /// A new name appeared.
    Created,
    /// Someone opened it (a writer or a reader: inotify does not say).
    Opened,
    /// Its data changed: a writer is at work.
    Written,
    /// A writer closed it, or it was renamed in whole.
    Closed,
    /// Its metadata changed (times, permissions).
    Touched,
    /// It was removed or renamed away.
    Removed,
}

/// How much is known about whether a pending file is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Completion {
    /// Found at rest by a scan: complete.
    AtRest,
    /// No writer seen (found by a scan, or a name that appeared without being
    /// opened, like a hard link): the stable-size rule decides.
    Unwatched,
    /// A writer is at work: only its close can make it complete.
    Writing,
    /// Closed after its last write: complete once quiet for the settle time.
    Closed,
}

#[derive(Debug)]
struct PendingFile {
    completion: Completion,
    /// The identity at the last poll; a change restarts the quiet period.
    observed: Option<record::FileIdentity>,
    quiet_since: Instant,
}

/// Files seen arriving but not yet complete, and the rule that decides when
/// each is. Time and the file system are passed in, so the rule is testable.
#[derive(Debug)]
pub(super) struct SettleTracker {
    /// The quiet period after a close.
    settle: Duration,
    /// The quiet period of the stable-size rule.
    pub(super) stable_quiet: Duration,
    /// Whether closes are reported (else writing files use the stable rule).
    close_events: bool,
    pending: HashMap<PathBuf, PendingFile>,
}

impl SettleTracker {
    pub(super) fn new(settle: Duration, close_events: bool) -> Self {
        Self {
            settle,
            stable_quiet: settle.max(MIN_STABLE_QUIET),
            close_events,
            pending: HashMap::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(super) fn is_pending(&self, path: &Path) -> bool {
        self.pending.contains_key(path)
    }

    pub(super) fn note(&mut self, path: PathBuf, signal: Signal, now: Instant) {
        let completion = match signal {
            Signal::Removed => {
                self.pending.remove(&path);
                return;
            }
            Signal::Scanned { at_rest: true } => Completion::AtRest,
            Signal::Scanned { at_rest: false } | Signal::Created => Completion::Unwatched,
            Signal::Written => Completion::Writing,
            Signal::Closed => Completion::Closed,
            Signal::Opened | Signal::Touched => match self.pending.get(&path) {
                // Only a name that appeared without a writer turns into one
                // when opened; any later open may be a reader's.
                Some(file) if signal == Signal::Opened => {
                    if file.completion != Completion::Unwatched {
                        return;
                    }
                    Completion::Writing
                }
                Some(file) => file.completion,
                None => return,
            },
        };
        let file = self.pending.entry(path).or_insert(PendingFile {
            completion,
            observed: None,
            quiet_since: now,
        });
        file.completion = completion;
        file.quiet_since = now;
    }

    /// Forgets the pending files under `dir` (a drop folder that went away).
    pub(super) fn forget_under(&mut self, dir: &Path) {
        self.pending.retain(|path, _| !path.starts_with(dir));
    }

    /// Takes the files that are complete by `now`; `identity_of` reads a
    /// file's identity (`None`: gone, dropped quietly).
    pub(super) fn take_ready(
        &mut self,
        now: Instant,
        identity_of: impl Fn(&Path) -> Option<record::FileIdentity>,
    ) -> Vec<FileJob> {
        let mut ready = Vec::new();
        self.pending.retain(|path, file| {
            let Some(identity) = identity_of(path) else {
                debug!(path = %display_path(path), "gone before it was complete; skipped");
                return false;
            };
            // Events can be handled late on a busy machine, so what the file
            // system says now counts too: the quiet period starts no earlier
            // than the first sight of the file's current identity.
            if file.observed != Some(identity) {
                file.observed = Some(identity);
                file.quiet_since = file.quiet_since.max(now);
            }
            let quiet_needed = match file.completion {
                Completion::AtRest => Duration::ZERO,
                Completion::Closed => self.settle,
                Completion::Writing if self.close_events => return true,
                Completion::Writing | Completion::Unwatched => self.stable_quiet,
            };
            if now.duration_since(file.quiet_since) < quiet_needed {
                return true;
            }
            ready.push(FileJob {
                path: path.clone(),
                identity,
            });
            false
        });
        ready.sort_by(|a, b| a.path.cmp(&b.path));
        ready
    }
}

/// The identity of the regular file that lives at `path`; `None` for anything
/// else, a symbolic link included (links are never taken).
pub(super) fn own_identity(path: &Path) -> Option<record::FileIdentity> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    metadata
        .is_file()
        .then(|| record::FileIdentity::from_metadata(&metadata))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::time::SystemTime;

    const SETTLE: Duration = Duration::from_secs(2);

    pub(in super::super) fn identity(size: u64) -> record::FileIdentity {
        let time = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(size));
        record::FileIdentity {
            device: 1,
            inode: 2,
            size,
            modified: time,
            changed: time,
        }
    }

    fn paths(jobs: &[FileJob]) -> Vec<&Path> {
        jobs.iter().map(|job| job.path.as_path()).collect()
    }

    fn tracker() -> SettleTracker {
        SettleTracker::new(SETTLE, true)
    }

    /// A new file as inotify shows it: created, opened by its writer, written.
    fn created_and_written(tracker: &mut SettleTracker, path: &str, at: Instant) {
        for signal in [Signal::Created, Signal::Opened, Signal::Written] {
            tracker.note(path.into(), signal, at);
        }
    }

    #[test]
    fn a_closed_file_is_taken_after_the_settle_time_since_its_close() {
        let start = Instant::now();
        let mut tracker = tracker();
        created_and_written(&mut tracker, "/m/a.wav", start);
        let closed = start + Duration::from_secs(1);
        tracker.note("/m/a.wav".into(), Signal::Closed, closed);
        let stat = |_: &Path| Some(identity(10));
        assert!(tracker.take_ready(closed, stat).is_empty());
        assert!(tracker.take_ready(closed + SETTLE / 2, stat).is_empty());
        let ready = tracker.take_ready(closed + SETTLE, stat);
        assert_eq!(
            ready,
            [FileJob {
                path: "/m/a.wav".into(),
                identity: identity(10)
            }]
        );
        assert!(tracker.is_empty());
    }

    #[test]
    fn a_writer_that_holds_the_file_open_is_waited_for_however_long_it_pauses() {
        let start = Instant::now();
        let mut tracker = tracker();
        created_and_written(&mut tracker, "/m/a.wav", start);
        let stat = |_: &Path| Some(identity(10));
        for minutes in [1, 10, 600] {
            let now = start + Duration::from_secs(60 * minutes);
            assert!(
                tracker.take_ready(now, stat).is_empty(),
                "taken after {minutes} min"
            );
        }
    }

    #[test]
    fn with_settle_zero_a_file_is_taken_at_its_close_and_not_before() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(Duration::ZERO, true);
        tracker.note("/m/a.wav".into(), Signal::Created, start);
        tracker.note("/m/a.wav".into(), Signal::Opened, start);
        let empty = |_: &Path| Some(identity(0));
        assert!(tracker.take_ready(start + SETTLE, empty).is_empty());
        tracker.note("/m/a.wav".into(), Signal::Written, start + SETTLE);
        tracker.note("/m/a.wav".into(), Signal::Closed, start + SETTLE);
        let ready = tracker.take_ready(start + SETTLE, |_: &Path| Some(identity(10)));
        assert_eq!(ready[0].identity, identity(10));
    }

    #[test]
    fn a_file_appended_in_sessions_is_taken_once_after_its_last_close() {
        let start = Instant::now();
        let mut tracker = tracker();
        let stat = |_: &Path| Some(identity(10));
        // Ten sessions of open, append, close, half a settle time apart.
        let mut last_close = start;
        for session in 0..10 {
            let at = start + SETTLE / 2 * session;
            for signal in [Signal::Opened, Signal::Written, Signal::Closed] {
                tracker.note("/m/a.wav".into(), signal, at);
            }
            assert!(tracker.take_ready(at, stat).is_empty(), "session {session}");
            last_close = at;
        }
        assert!(tracker.take_ready(last_close + SETTLE / 2, stat).is_empty());
        assert_eq!(
            paths(&tracker.take_ready(last_close + SETTLE, stat)),
            [Path::new("/m/a.wav")]
        );
    }

    #[test]
    fn a_close_handled_late_still_needs_the_quiet_on_the_file_as_it_is_now() {
        let start = Instant::now();
        let mut tracker = tracker();
        tracker.note("/m/a.wav".into(), Signal::Closed, start);
        // First looked at long after the close event (a busy watcher), then
        // again after: the file changed meanwhile, so its quiet starts again.
        let late = start + SETTLE * 2;
        assert!(tracker
            .take_ready(late, |_: &Path| Some(identity(10)))
            .is_empty());
        assert!(tracker
            .take_ready(late + SETTLE / 2, |_: &Path| Some(identity(20)))
            .is_empty());
        assert!(tracker
            .take_ready(late + SETTLE, |_: &Path| Some(identity(20)))
            .is_empty());
        let ready = tracker.take_ready(late + SETTLE * 2, |_: &Path| Some(identity(20)));
        assert_eq!(ready[0].identity, identity(20));
    }

    #[test]
    fn a_reader_opening_a_closed_file_does_not_make_it_wait_for_another_close() {
        let start = Instant::now();
        let mut tracker = tracker();
        created_and_written(&mut tracker, "/m/a.wav", start);
        tracker.note("/m/a.wav".into(), Signal::Closed, start);
        tracker.note("/m/a.wav".into(), Signal::Opened, start);
        let stat = |_: &Path| Some(identity(10));
        // Looked at right after the events, as the watcher does at each poll
        // (the quiet runs from the first sight of the file as it is).
        assert!(tracker.take_ready(start, stat).is_empty());
        assert_eq!(tracker.take_ready(start + SETTLE, stat).len(), 1);
    }

    #[test]
    fn without_a_writer_the_size_must_hold_still_for_the_settle_time() {
        let start = Instant::now();
        let mut tracker = tracker();
        // A hard link: the name appears, nobody opens it.
        tracker.note("/m/linked.wav".into(), Signal::Created, start);
        tracker.note(
            "/m/found.wav".into(),
            Signal::Scanned { at_rest: false },
            start,
        );
        let size = RefCell::new(0);
        let stat = |_: &Path| Some(identity(*size.borrow()));
        // Both grow every second for ten seconds without any event.
        for second in 1..=10 {
            *size.borrow_mut() += 100;
            let now = start + Duration::from_secs(second);
            assert!(
                tracker.take_ready(now, stat).is_empty(),
                "taken while growing at {second} s"
            );
        }
        assert!(tracker
            .take_ready(start + Duration::from_secs(11), stat)
            .is_empty());
        let ready = tracker.take_ready(start + Duration::from_secs(12), stat);
        assert_eq!(
            paths(&ready),
            [Path::new("/m/found.wav"), Path::new("/m/linked.wav")]
        );
        assert_eq!(ready[0].identity, identity(1000));
    }

    #[test]
    fn the_stable_rule_never_takes_a_file_the_instant_it_is_seen() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(Duration::ZERO, true);
        tracker.note("/m/a.wav".into(), Signal::Scanned { at_rest: false }, start);
        let stat = |_: &Path| Some(identity(0));
        assert!(tracker.take_ready(start, stat).is_empty());
        assert!(tracker
            .take_ready(start + MIN_STABLE_QUIET / 2, stat)
            .is_empty());
        assert_eq!(tracker.take_ready(start + MIN_STABLE_QUIET, stat).len(), 1);
    }

    #[test]
    fn without_close_events_a_written_file_follows_the_stable_rule() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE, false);
        created_and_written(&mut tracker, "/m/a.wav", start);
        let stat = |_: &Path| Some(identity(10));
        // Looked at right after the events, as the watcher does at each poll
        // (the quiet runs from the first sight of the file as it is).
        assert!(tracker.take_ready(start, stat).is_empty());
        assert!(tracker.take_ready(start + SETTLE / 2, stat).is_empty());
        assert_eq!(tracker.take_ready(start + SETTLE, stat).len(), 1);
    }

    #[test]
    fn a_file_at_rest_is_taken_at_once_and_a_removed_one_quietly_dropped() {
        let now = Instant::now();
        let mut tracker = tracker();
        tracker.note("/m/old.wav".into(), Signal::Scanned { at_rest: true }, now);
        tracker.note("/m/gone.wav".into(), Signal::Written, now);
        tracker.note("/m/renamed-away.wav".into(), Signal::Closed, now);
        tracker.note("/m/renamed-away.wav".into(), Signal::Removed, now);
        tracker.note("/m/never-seen.wav".into(), Signal::Touched, now);
        let stat = |path: &Path| (path == Path::new("/m/old.wav")).then(|| identity(1));
        assert_eq!(
            paths(&tracker.take_ready(now, stat)),
            [Path::new("/m/old.wav")]
        );
        assert!(tracker.is_empty());
    }
}
