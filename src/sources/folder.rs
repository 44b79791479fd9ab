//! The drop-folder source: watch folders, wait until each arriving file is
//! complete, and queue it for the classification workers.
//!
//! A file is taken once its writer is done. Where the platform reports that a
//! writer closed the file (inotify's close-after-write) or a file was renamed
//! in whole, a short quiet period suffices, checked on the file itself (its
//! size and mtime), not only by the absence of events. Otherwise, and for a
//! file written again after a close (a writer appending in sessions), its size
//! and modification time must stay unchanged for the settle time. Files
//! already present at start are taken at once when they have not changed for
//! the settle time.
//!
//! The watcher thread never waits for a worker: ready files go into a backlog
//! that feeds the bounded job channel with non-blocking sends, so a burst of
//! hundreds of files is queued, not dropped, and the watch keeps up.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tracing::{debug, info, warn};

/// After a writer closes a file (or a file is renamed in), how long it must
/// stay unchanged before it is read: long enough for a tool that reopens the
/// file right away (`cp -p` setting times, an appending writer) to show itself.
const CLOSE_GRACE: Duration = Duration::from_millis(300);

/// How often pending files are re-examined while any are waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long the watcher sleeps when nothing is pending: events wake it anyway,
/// so this only bounds the idle wake-ups.
const IDLE_WAKEUP: Duration = Duration::from_secs(3600);

/// The queue depth from which its growth is logged (then at every doubling).
const QUEUE_REPORT_DEPTH: usize = 16;

/// Name endings of files that browsers and download tools are still writing.
const PARTIAL_SUFFIXES: [&str; 3] = [".part", ".crdownload", ".tmp"];

/// What identifies one version of a file: a rewrite changes its size or
/// modification time, and then it is classified again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl FileIdentity {
    /// The identity of the regular file at `path`, or `None` if there is none.
    pub fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        metadata.is_file().then(|| Self {
            size: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }
}

/// A complete file for the workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    pub path: PathBuf,
    /// The file as it was when it was found complete.
    pub identity: FileIdentity,
}

/// The files that already have a result, by path: read from the results file
/// at start, so a restart does not classify unchanged files again.
pub type SeenFiles = HashMap<PathBuf, FileIdentity>;

/// What the folder source watches and what it leaves alone.
#[derive(Debug, Clone)]
pub struct FolderSettings {
    /// The drop folders; created when missing.
    pub roots: Vec<PathBuf>,
    pub recursive: bool,
    /// Lower-case extensions to take; empty takes every file.
    pub extensions: Vec<String>,
    pub settle: Duration,
    /// Folders inside the roots that are never taken from (action targets).
    pub excluded_dirs: Vec<PathBuf>,
    /// Files that are never taken (the results file).
    pub excluded_files: Vec<PathBuf>,
}

/// The folder source could not start.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{}: cannot create or open the drop folder: {cause}", path.display())]
    Folder {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: cannot watch the drop folder: {cause}", path.display())]
    Watch { path: PathBuf, cause: notify::Error },
}

/// The path made absolute, with its existing part's symbolic links resolved,
/// so that it compares equal to the paths the watcher reports.
pub fn resolve_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return missing
                .iter()
                .rev()
                .fold(canonical, |path, name| path.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Which paths under the roots are files to classify.
#[derive(Debug, Clone)]
struct FileFilter {
    roots: Vec<PathBuf>,
    extensions: Vec<String>,
    excluded_dirs: Vec<PathBuf>,
    excluded_files: Vec<PathBuf>,
}

impl FileFilter {
    /// True for a file to classify: inside a root, not hidden, not a partial
    /// download, with an accepted extension, not the results file, and not in
    /// an excluded folder.
    fn accepts_file(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(OsStr::to_str) else {
            return false;
        };
        let lower = name.to_lowercase();
        if PARTIAL_SUFFIXES
            .iter()
            .any(|suffix| lower.ends_with(suffix))
        {
            return false;
        }
        let extension_accepted = self.extensions.is_empty()
            || Path::new(&lower)
                .extension()
                .and_then(OsStr::to_str)
                .is_some_and(|extension| self.extensions.iter().any(|e| e == extension));
        extension_accepted
            && !self.excluded_files.iter().any(|file| file == path)
            && self.accepts_dir(path)
    }

    /// True for a path inside a root with no hidden component below the root
    /// and outside the excluded folders.
    fn accepts_dir(&self, path: &Path) -> bool {
        let Some(relative) = self
            .roots
            .iter()
            .find_map(|root| path.strip_prefix(root).ok())
        else {
            return false;
        };
        let hidden = relative
            .components()
            .any(|component| component.as_os_str().to_string_lossy().starts_with('.'));
        !hidden && !self.excluded_dirs.iter().any(|dir| path.starts_with(dir))
    }
}

/// What an event says about a file's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// Found by a scan, unchanged for the settle time: complete.
    AtRest,
    /// Created or written, writer still open as far as we know.
    Written,
    /// The writer closed it, or it was renamed in whole.
    Closed,
    /// Its metadata changed (times, permissions).
    Touched,
    /// It was removed or renamed away.
    Removed,
}

/// How much is known about whether a pending file is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Completion {
    AtRest,
    Closed,
    /// Only its stability over the settle time can tell.
    Unsettled,
}

#[derive(Debug)]
struct PendingFile {
    completion: Completion,
    /// Written again after a close: its writer works in sessions (appending
    /// piece by piece), so a close no longer means complete and only the
    /// settle time can tell.
    reopened: bool,
    /// The identity at the last poll; a change restarts the quiet period.
    observed: Option<FileIdentity>,
    quiet_since: Instant,
}

/// Files seen arriving but not yet complete, and the rule that decides when
/// each is. Time and the file system are passed in, so the rule is testable.
#[derive(Debug)]
struct SettleTracker {
    settle: Duration,
    close_grace: Duration,
    pending: HashMap<PathBuf, PendingFile>,
}

impl SettleTracker {
    fn new(settle: Duration) -> Self {
        Self {
            settle,
            close_grace: CLOSE_GRACE.min(settle),
            pending: HashMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn note(&mut self, path: PathBuf, signal: Signal, now: Instant) {
        if signal == Signal::Removed {
            self.pending.remove(&path);
            return;
        }
        let file = self.pending.entry(path).or_insert(PendingFile {
            completion: Completion::Unsettled,
            reopened: false,
            observed: None,
            quiet_since: now,
        });
        file.quiet_since = now;
        file.reopened |= signal == Signal::Written && file.completion == Completion::Closed;
        file.completion = match signal {
            Signal::AtRest => Completion::AtRest,
            Signal::Closed if !file.reopened => Completion::Closed,
            Signal::Closed | Signal::Written => Completion::Unsettled,
            Signal::Touched | Signal::Removed => file.completion,
        };
    }

    /// Takes the files that are complete by `now`; `identity_of` reads a
    /// file's identity (`None`: gone, dropped quietly).
    fn take_ready(
        &mut self,
        now: Instant,
        identity_of: impl Fn(&Path) -> Option<FileIdentity>,
    ) -> Vec<FileJob> {
        let mut ready = Vec::new();
        self.pending.retain(|path, file| {
            let Some(identity) = identity_of(path) else {
                debug!(path = %path.display(), "gone before it was complete; skipped");
                return false;
            };
            // Events can be handled late on a busy machine, so what the file
            // system says now counts too: the quiet period starts no earlier
            // than the first sight of the file's current size and mtime.
            if file.observed != Some(identity) {
                file.observed = Some(identity);
                file.quiet_since = file.quiet_since.max(now);
            }
            let quiet_needed = match file.completion {
                Completion::AtRest => Duration::ZERO,
                Completion::Closed => self.close_grace,
                Completion::Unsettled => self.settle,
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

/// Ready files waiting for a worker: a backlog in front of the bounded job
/// channel, fed without ever blocking the watcher.
#[derive(Debug)]
struct JobQueue {
    jobs: Sender<FileJob>,
    backlog: VecDeque<FileJob>,
    reported_depth: usize,
}

impl JobQueue {
    fn push(&mut self, job: FileJob) {
        self.backlog.push_back(job);
    }

    fn is_empty(&self) -> bool {
        self.backlog.is_empty()
    }

    /// Moves what fits into the job channel and logs the depth as it grows.
    fn feed(&mut self) {
        while let Some(job) = self.backlog.pop_front() {
            match self.jobs.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(job)) => {
                    self.backlog.push_front(job);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.backlog.clear();
                    break;
                }
            }
        }
        let depth = self.backlog.len() + self.jobs.len();
        if depth >= QUEUE_REPORT_DEPTH && depth >= 2 * self.reported_depth {
            info!(depth, "files waiting for a worker");
            self.reported_depth = depth;
        } else if depth == 0 && self.reported_depth > 0 {
            info!("all waiting files handed to workers");
            self.reported_depth = 0;
        }
    }
}

/// The running watch over the drop folders.
pub struct FolderWatcher {
    /// Kept alive for its watches; events arrive on `events`.
    _watcher: RecommendedWatcher,
    events: Receiver<notify::Result<Event>>,
    roots: Vec<PathBuf>,
    recursive: bool,
    filter: FileFilter,
    tracker: SettleTracker,
    seen: SeenFiles,
    queue: JobQueue,
}

impl FolderWatcher {
    /// Creates missing drop folders and starts watching them; from here on
    /// no arrival is missed. `seen` holds the files that already have a result.
    pub fn start(
        settings: FolderSettings,
        seen: SeenFiles,
        jobs: Sender<FileJob>,
    ) -> Result<Self, FolderError> {
        let mut roots = Vec::with_capacity(settings.roots.len());
        for root in &settings.roots {
            let folder_error = |cause| FolderError::Folder {
                path: root.clone(),
                cause,
            };
            std::fs::create_dir_all(root).map_err(folder_error)?;
            roots.push(root.canonicalize().map_err(folder_error)?);
        }
        let (event_sender, events) = crossbeam_channel::unbounded();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only while shutting down.
            let _ = event_sender.send(event);
        })
        .map_err(|cause| FolderError::Watch {
            path: settings.roots.first().cloned().unwrap_or_default(),
            cause,
        })?;
        let mode = if settings.recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        for root in &roots {
            watcher
                .watch(root, mode)
                .map_err(|cause| FolderError::Watch {
                    path: root.clone(),
                    cause,
                })?;
        }
        let filter = FileFilter {
            roots: roots.clone(),
            extensions: settings
                .extensions
                .iter()
                .map(|e| e.to_lowercase())
                .collect(),
            excluded_dirs: settings
                .excluded_dirs
                .iter()
                .map(|p| resolve_path(p))
                .collect(),
            excluded_files: settings
                .excluded_files
                .iter()
                .map(|p| resolve_path(p))
                .collect(),
        };
        Ok(Self {
            _watcher: watcher,
            events,
            roots,
            recursive: settings.recursive,
            filter,
            tracker: SettleTracker::new(settings.settle),
            seen,
            queue: JobQueue {
                jobs,
                backlog: VecDeque::new(),
                reported_depth: 0,
            },
        })
    }

    /// The watched folders, resolved.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Takes the files already present, then every arrival, until `shutdown`
    /// is disconnected. Dropping the watcher closes the job channel.
    pub fn run(mut self, shutdown: &Receiver<()>) {
        self.scan_roots();
        let mut next_poll = Instant::now();
        loop {
            let now = Instant::now();
            if now >= next_poll {
                self.dispatch_ready(now);
                next_poll = now + POLL_INTERVAL;
            }
            let busy = !self.tracker.is_empty() || !self.queue.is_empty();
            let timeout = if busy {
                next_poll.saturating_duration_since(now)
            } else {
                IDLE_WAKEUP
            };
            crossbeam_channel::select! {
                recv(shutdown) -> _ => return,
                recv(self.events) -> event => match event {
                    Ok(Ok(event)) => self.handle(event),
                    Ok(Err(err)) => warn!("drop-folder watch: {err}"),
                    Err(_) => return,
                },
                default(timeout) => {}
            }
        }
    }

    fn dispatch_ready(&mut self, now: Instant) {
        for job in self.tracker.take_ready(now, FileIdentity::of) {
            if self.seen.get(&job.path) == Some(&job.identity) {
                debug!(path = %job.path.display(), "already has a result; skipped");
                continue;
            }
            self.seen.insert(job.path.clone(), job.identity);
            self.queue.push(job);
        }
        self.queue.feed();
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        if event.need_rescan() {
            warn!("the watch lost events (queue overflow); rescanning the drop folders");
            self.scan_roots();
            return;
        }
        let signal = match event.kind {
            EventKind::Create(CreateKind::Folder) => {
                event.paths.iter().for_each(|dir| self.scan_new_dir(dir));
                return;
            }
            EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Other) => {
                Signal::Written
            }
            EventKind::Modify(ModifyKind::Metadata(_)) => Signal::Touched,
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Signal::Closed,
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                Signal::Removed
            }
            // `From` and `To` are reported on their own as well.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => return,
            // A rename the platform could not pair: what is there now tells.
            EventKind::Modify(ModifyKind::Name(_)) => Signal::Closed,
            EventKind::Access(_) | EventKind::Any | EventKind::Other => return,
        };
        for path in event.paths {
            if signal == Signal::Closed && path.is_dir() {
                self.scan_new_dir(&path);
            } else if signal == Signal::Removed || self.filter.accepts_file(&path) {
                self.tracker.note(path, signal, now);
            }
        }
    }

    /// A folder created or moved into a recursive watch: its files arrived with it.
    fn scan_new_dir(&mut self, dir: &Path) {
        if self.recursive && self.filter.accepts_dir(dir) {
            self.scan(dir.to_owned());
        }
    }

    fn scan_roots(&mut self) {
        for root in self.roots.clone() {
            self.scan(root);
        }
    }

    /// Notes every acceptable file under `dir`; one at rest for the settle
    /// time is complete, a younger one must settle first.
    fn scan(&mut self, dir: PathBuf) {
        let now = Instant::now();
        let mut folders = vec![dir];
        while let Some(folder) = folders.pop() {
            let entries = match std::fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(err) => {
                    warn!(folder = %folder.display(), "cannot list the folder: {err}");
                    continue;
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(metadata) = std::fs::metadata(&path) else {
                    continue;
                };
                if metadata.is_dir() {
                    if self.recursive && self.filter.accepts_dir(&path) {
                        folders.push(path);
                    }
                } else if metadata.is_file() && self.filter.accepts_file(&path) {
                    let at_rest = metadata
                        .modified()
                        .ok()
                        .and_then(|modified| modified.elapsed().ok())
                        .is_some_and(|age| age >= self.tracker.settle);
                    let signal = if at_rest {
                        Signal::AtRest
                    } else {
                        Signal::Written
                    };
                    self.tracker.note(path, signal, now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const SETTLE: Duration = Duration::from_secs(2);

    fn identity(size: u64) -> FileIdentity {
        FileIdentity {
            size,
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(size)),
        }
    }

    fn paths(jobs: &[FileJob]) -> Vec<&Path> {
        jobs.iter().map(|job| job.path.as_path()).collect()
    }

    #[test]
    fn a_closed_file_is_taken_after_the_short_grace() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE);
        tracker.note("/m/a.wav".into(), Signal::Written, start);
        tracker.note("/m/a.wav".into(), Signal::Closed, start);
        let stat = |_: &Path| Some(identity(10));
        assert!(tracker.take_ready(start, stat).is_empty());
        let ready = tracker.take_ready(start + CLOSE_GRACE, stat);
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
    fn a_file_without_a_close_waits_for_the_settle_time() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE);
        tracker.note("/m/a.wav".into(), Signal::Written, start);
        let stat = |_: &Path| Some(identity(10));
        assert!(tracker.take_ready(start, stat).is_empty());
        assert!(tracker.take_ready(start + SETTLE / 2, stat).is_empty());
        assert_eq!(
            paths(&tracker.take_ready(start + SETTLE, stat)),
            [Path::new("/m/a.wav")]
        );
    }

    #[test]
    fn a_growing_file_is_never_taken_while_it_grows() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE);
        tracker.note("/m/a.wav".into(), Signal::Written, start);
        let size = RefCell::new(0);
        let stat = |_: &Path| Some(identity(*size.borrow()));
        // It grows every second for ten seconds without any event (no inotify).
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
        assert_eq!(ready[0].identity, identity(1000));
    }

    #[test]
    fn a_close_handled_late_still_needs_the_grace_on_the_file_as_it_is_now() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE);
        tracker.note("/m/a.wav".into(), Signal::Closed, start);
        // First looked at long after the close event (a busy watcher), then
        // again right after: the file's current state has not been quiet yet.
        let late = start + SETTLE;
        assert!(tracker
            .take_ready(late, |_: &Path| Some(identity(10)))
            .is_empty());
        assert!(tracker
            .take_ready(late + CLOSE_GRACE / 2, |_: &Path| Some(identity(20)))
            .is_empty());
        let ready = tracker.take_ready(late + CLOSE_GRACE * 2, |_: &Path| Some(identity(20)));
        assert_eq!(ready[0].identity, identity(20));
    }

    #[test]
    fn writing_again_after_a_close_restarts_the_wait() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE);
        tracker.note("/m/a.wav".into(), Signal::Closed, start);
        tracker.note("/m/a.wav".into(), Signal::Written, start + CLOSE_GRACE / 2);
        let stat = |_: &Path| Some(identity(10));
        assert!(tracker.take_ready(start + CLOSE_GRACE * 2, stat).is_empty());
    }

    #[test]
    fn a_file_appended_in_sessions_waits_for_the_settle_time_after_its_last_close() {
        let start = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE);
        let path = PathBuf::from("/m/a.wav");
        let stat = |_: &Path| Some(identity(10));
        // Open, append, close; again one second later.
        tracker.note(path.clone(), Signal::Written, start);
        tracker.note(path.clone(), Signal::Closed, start);
        let second_session = start + Duration::from_secs(1);
        tracker.note(path.clone(), Signal::Written, second_session);
        tracker.note(path.clone(), Signal::Closed, second_session);
        assert!(tracker.take_ready(second_session, stat).is_empty());
        assert!(tracker
            .take_ready(second_session + CLOSE_GRACE, stat)
            .is_empty());
        assert_eq!(
            paths(&tracker.take_ready(second_session + SETTLE, stat)),
            [path.as_path()]
        );
    }

    #[test]
    fn a_file_at_rest_is_taken_at_once_and_a_removed_one_quietly_dropped() {
        let now = Instant::now();
        let mut tracker = SettleTracker::new(SETTLE);
        tracker.note("/m/old.wav".into(), Signal::AtRest, now);
        tracker.note("/m/gone.wav".into(), Signal::Written, now);
        tracker.note("/m/renamed-away.wav".into(), Signal::Closed, now);
        tracker.note("/m/renamed-away.wav".into(), Signal::Removed, now);
        let stat = |path: &Path| (path == Path::new("/m/old.wav")).then(|| identity(1));
        assert_eq!(
            paths(&tracker.take_ready(now, stat)),
            [Path::new("/m/old.wav")]
        );
        assert!(tracker.is_empty());
    }

    fn filter() -> FileFilter {
        FileFilter {
            roots: vec!["/music".into()],
            extensions: vec!["wav".into(), "mp3".into()],
            excluded_dirs: vec!["/music/sorted".into()],
            excluded_files: vec!["/music/results.jsonl".into()],
        }
    }

    #[test]
    fn the_filter_takes_audio_inside_the_roots() {
        for path in [
            "/music/a.wav",
            "/music/sub/B.MP3",
            "/music/Été à la plage.wav",
        ] {
            assert!(filter().accepts_file(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn the_filter_skips_hidden_partial_foreign_and_excluded_paths() {
        for path in [
            "/music/.a.wav",
            "/music/.cache/a.wav",
            "/music/a.wav.part",
            "/music/a.wav.crdownload",
            "/music/a.wav.TMP",
            "/music/cover.jpg",
            "/music/noextension",
            "/music/sorted/blues/a.wav",
            "/music/results.jsonl",
            "/elsewhere/a.wav",
        ] {
            assert!(!filter().accepts_file(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn an_empty_extension_list_takes_every_file() {
        let filter = FileFilter {
            extensions: Vec::new(),
            ..filter()
        };
        assert!(filter.accepts_file(Path::new("/music/notes.txt")));
    }

    #[test]
    fn resolving_keeps_the_missing_tail_of_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not/yet/here.jsonl");
        let resolved = resolve_path(&missing);
        assert_eq!(
            resolved,
            dir.path()
                .canonicalize()
                .unwrap()
                .join("not/yet/here.jsonl")
        );
    }

    #[test]
    fn the_queue_keeps_what_the_channel_cannot_take() {
        let (jobs, workers) = crossbeam_channel::bounded(2);
        let mut queue = JobQueue {
            jobs,
            backlog: VecDeque::new(),
            reported_depth: 0,
        };
        for n in 0..100 {
            queue.push(FileJob {
                path: format!("/music/{n}.wav").into(),
                identity: identity(n),
            });
        }
        queue.feed();
        assert_eq!(workers.len(), 2);
        let mut received = Vec::new();
        while received.len() < 100 {
            received.extend(workers.try_iter());
            queue.feed();
        }
        let expected: Vec<PathBuf> = (0..100).map(|n| format!("/music/{n}.wav").into()).collect();
        let received: Vec<PathBuf> = received.into_iter().map(|job| job.path).collect();
        assert_eq!(received, expected);
    }
}
