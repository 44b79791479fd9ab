//! The drop-folder source: watch folders, wait until each arriving file is
//! complete, and queue it for the classification workers.
//!
//! # When a file is complete
//!
//! On Linux, inotify reports when a writer closes a file. A file that arrives
//! while genred watches is read only after a close-after-write
//! (`IN_CLOSE_WRITE`) or a rename into the folder (`IN_MOVED_TO`) that came
//! after its last modification, and then only once it has stayed quiet (no
//! event, same size, mtime and inode) for the settle time (`settle_s`). A
//! writer that keeps the file open and pauses, however long, is waited for; a
//! writer that closes and reopens to append within the settle time is seen
//! writing again and waited for again. With `settle_s = 0` a file is read right
//! after its close, never while its writer holds it (so never at size 0 unless
//! it was closed empty).
//!
//! Without a close to wait for, only the stable-size rule can tell: the file's
//! size and mtime must not change for the settle time, and never for less than
//! [`MIN_STABLE_QUIET`]. It applies to files already there at start (taken at
//! once when older than that), to files found again after the watch lost
//! events (queue overflow), to files that appear without being opened (a hard
//! link), and to every file on platforms whose watcher reports no closes. A
//! file written on another machine of a network file system produces no event
//! at all here; it is found at the next start.
//!
//! # Links, odd files and names
//!
//! The symbolic link policy is [`super::walk`]'s, at start-up and at run time
//! alike: a link to a directory is never followed (nor watched through), and
//! a link to a file is left alone, logged once: genred acts only on files that
//! live in its drop folders, never on a file elsewhere that a link points at.
//! FIFOs, sockets and devices are skipped with one line. Any byte string is a
//! valid name: logs show it with [`display_path`].
//!
//! # One genred per folder
//!
//! Each drop folder is locked ([`DropFolders::open`]) with an exclusive
//! `flock` on the folder itself (no lock file to create, clean up or leave
//! stale: the kernel drops the lock when the process ends, however it ends). A
//! second genred on the same folder, whatever its config or state directory,
//! refuses to start. (On NFS, `flock` on a directory may be refused: genred
//! then says so and does not start.)
//!
//! # A folder that goes away
//!
//! A drop folder removed or moved away while watched is logged, and its path
//! is checked again, with a backoff up to [`REAPPEAR_BACKOFF_MAX`], until a
//! folder is there again; that one is locked, watched and scanned.
//!
//! A move away is reported at once (`IN_MOVE_SELF`). A removal is not: the
//! kernel sends `IN_DELETE_SELF` (and `IN_IGNORED`) only once the last open
//! file of the folder is closed, and genred's own lock keeps one open. So,
//! besides the events, every [`ROOT_CHECK_INTERVAL`] genred checks that each
//! watched path is still the folder it locked (same device and inode): a
//! folder removed, moved away or replaced is noticed within that time.
//!
//! The watcher thread never waits for a worker: ready files go into a backlog
//! that feeds the bounded job channel with non-blocking sends, so a burst of
//! hundreds of files is queued, not dropped, and the watch keeps up.

mod config;

pub use config::{FileAction, FolderConfig};

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Config, Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tracing::{debug, error, info, warn};

use super::walk::{self, Entry, FoundFile, Skipped};
use crate::record::{self, display_path, FileJob, RecordedVersion, SeenFiles};

/// Whether the platform's watcher reports that a writer closed a file.
const CLOSE_EVENTS: bool = cfg!(target_os = "linux");

/// The shortest quiet period of the stable-size rule, whatever `settle_s`:
/// without a close to go by, a file is never taken the instant it is seen
/// (a writer between its open and its first write shows a size of 0).
pub const MIN_STABLE_QUIET: Duration = Duration::from_secs(1);

/// How often pending files are re-examined while any are waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often each watched drop folder is checked to still be at its path:
/// the watcher's only wake-up when nothing is pending.
pub const ROOT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The first wait before looking again for a drop folder that went away.
const REAPPEAR_BACKOFF_FIRST: Duration = Duration::from_millis(250);

/// The longest wait between two looks for a drop folder that went away.
pub const REAPPEAR_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The queue depth from which its growth is logged (then at every doubling).
const QUEUE_REPORT_DEPTH: usize = 16;

/// Name endings of files that browsers and download tools are still writing.
const PARTIAL_SUFFIXES: [&str; 3] = [".part", ".crdownload", ".tmp"];

/// What the folder source takes and what it leaves alone.
#[derive(Debug, Clone)]
pub struct FolderSettings {
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
    #[error(
        "{}: cannot create or open the drop folder: {cause}",
        display_path(path)
    )]
    Folder {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{}: another genred is already watching this drop folder (it is locked); stop that one first",
        display_path(path)
    )]
    Locked { path: PathBuf },
    #[error("{}: cannot lock the drop folder: {cause}", display_path(path))]
    Lock {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: cannot watch the drop folder: {cause}", display_path(path))]
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

/// A drop folder, resolved, and the lock that keeps other genreds out of it
/// for as long as this value lives.
#[derive(Debug)]
struct LockedFolder {
    path: PathBuf,
    /// The (device, inode) of the folder locked.
    id: (u64, u64),
    _lock: File,
}

impl LockedFolder {
    /// Locks the folder at the resolved `path`, which must exist.
    fn lock(path: PathBuf) -> Result<Self, FolderError> {
        let directory = File::open(&path).map_err(|cause| FolderError::Folder {
            path: path.clone(),
            cause,
        })?;
        let metadata = directory.metadata().map_err(|cause| FolderError::Folder {
            path: path.clone(),
            cause,
        })?;
        match directory.try_lock() {
            Ok(()) => Ok(Self {
                path,
                id: (metadata.dev(), metadata.ino()),
                _lock: directory,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(FolderError::Locked { path }),
            Err(std::fs::TryLockError::Error(cause)) => Err(FolderError::Lock { path, cause }),
        }
    }

    /// Whether the folder locked is still the one at its path: false once it
    /// was removed, moved away or replaced. (The lock keeps the folder's
    /// inode alive, so no other folder can get its number meanwhile.)
    fn is_in_place(&self) -> bool {
        std::fs::symlink_metadata(&self.path)
            .is_ok_and(|metadata| (metadata.dev(), metadata.ino()) == self.id)
    }
}

/// The drop folders, created when missing, resolved, and each locked against
/// a second genred. Opened before anything else touches their files.
#[derive(Debug)]
pub struct DropFolders {
    folders: Vec<LockedFolder>,
}

impl DropFolders {
    /// Creates, resolves and locks every folder of `roots` (a folder listed
    /// twice is taken once).
    pub fn open(roots: &[PathBuf]) -> Result<Self, FolderError> {
        let mut folders: Vec<LockedFolder> = Vec::with_capacity(roots.len());
        for root in roots {
            let folder_error = |cause| FolderError::Folder {
                path: root.clone(),
                cause,
            };
            std::fs::create_dir_all(root).map_err(folder_error)?;
            let path = root.canonicalize().map_err(folder_error)?;
            if !folders.iter().any(|folder| folder.path == path) {
                folders.push(LockedFolder::lock(path)?);
            }
        }
        Ok(Self { folders })
    }

    /// The folders, resolved.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.folders
            .iter()
            .map(|folder| folder.path.clone())
            .collect()
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
    /// an excluded folder. Any byte string is a name: the checks compare the
    /// name's text where it has some.
    fn accepts_file(&self, path: &Path) -> bool {
        let Some(name) = path.file_name() else {
            return false;
        };
        let lower = name.to_string_lossy().to_lowercase();
        if PARTIAL_SUFFIXES
            .iter()
            .any(|suffix| lower.ends_with(suffix))
        {
            return false;
        }
        let extension_accepted = self.extensions.is_empty()
            || Path::new(name)
                .extension()
                .and_then(OsStr::to_str)
                .is_some_and(|extension| {
                    let extension = extension.to_lowercase();
                    self.extensions.contains(&extension)
                });
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
            .any(|component| component.as_os_str().as_encoded_bytes().starts_with(b"."));
        !hidden && !self.excluded_dirs.iter().any(|dir| path.starts_with(dir))
    }

    /// Whether a skipped entry is one that would have been taken, so that its
    /// skip is worth a log line.
    fn would_take(&self, skipped: &Skipped) -> bool {
        match skipped {
            Skipped::DirectoryLink { path } | Skipped::Loop { path } => self.accepts_dir(path),
            Skipped::Unreadable { .. } => true,
            Skipped::NotRegular { path, .. } | Skipped::BrokenLink { path, .. } => {
                self.accepts_file(path)
            }
        }
    }
}

/// What an event or a scan says about a file's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
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
struct SettleTracker {
    /// The quiet period after a close.
    settle: Duration,
    /// The quiet period of the stable-size rule.
    stable_quiet: Duration,
    /// Whether closes are reported (else writing files use the stable rule).
    close_events: bool,
    pending: HashMap<PathBuf, PendingFile>,
}

impl SettleTracker {
    fn new(settle: Duration, close_events: bool) -> Self {
        Self {
            settle,
            stable_quiet: settle.max(MIN_STABLE_QUIET),
            close_events,
            pending: HashMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn is_pending(&self, path: &Path) -> bool {
        self.pending.contains_key(path)
    }

    fn note(&mut self, path: PathBuf, signal: Signal, now: Instant) {
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
    fn forget_under(&mut self, dir: &Path) {
        self.pending.retain(|path, _| !path.starts_with(dir));
    }

    /// Takes the files that are complete by `now`; `identity_of` reads a
    /// file's identity (`None`: gone, dropped quietly).
    fn take_ready(
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
fn own_identity(path: &Path) -> Option<record::FileIdentity> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    metadata
        .is_file()
        .then(|| record::FileIdentity::from_metadata(&metadata))
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

/// A drop folder and whether it is there.
#[derive(Debug)]
enum Root {
    Watched(LockedFolder),
    /// Removed or moved away; looked for again at `next_look`.
    Gone {
        path: PathBuf,
        next_look: Instant,
        backoff: Duration,
    },
}

impl Root {
    fn path(&self) -> &Path {
        match self {
            Self::Watched(folder) => &folder.path,
            Self::Gone { path, .. } => path,
        }
    }
}

/// The running watch over the drop folders.
pub struct FolderWatcher {
    watcher: RecommendedWatcher,
    events: Receiver<notify::Result<Event>>,
    roots: Vec<Root>,
    mode: RecursiveMode,
    filter: FileFilter,
    tracker: SettleTracker,
    seen: SeenFiles,
    queue: JobQueue,
}

impl FolderWatcher {
    /// Starts watching the (locked) drop folders; from here on no arrival is
    /// missed. `seen` holds the files that already have a result.
    pub fn start(
        folders: DropFolders,
        settings: FolderSettings,
        seen: SeenFiles,
        jobs: Sender<FileJob>,
    ) -> Result<Self, FolderError> {
        let (event_sender, events) = crossbeam_channel::unbounded();
        let handler = move |event| {
            // The receiver is gone only while shutting down.
            let _ = event_sender.send(event);
        };
        // Never watch through a link: that is how a loop or someone else's
        // folder would get in.
        let mut watcher =
            RecommendedWatcher::new(handler, Config::default().with_follow_symlinks(false))
                .map_err(|cause| FolderError::Watch {
                    path: folders.paths().first().cloned().unwrap_or_default(),
                    cause,
                })?;
        let mode = if settings.recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        for folder in &folders.folders {
            watcher
                .watch(&folder.path, mode)
                .map_err(|cause| FolderError::Watch {
                    path: folder.path.clone(),
                    cause,
                })?;
        }
        let filter = FileFilter {
            roots: folders.paths(),
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
            watcher,
            events,
            roots: folders.folders.into_iter().map(Root::Watched).collect(),
            mode,
            filter,
            tracker: SettleTracker::new(settings.settle, CLOSE_EVENTS),
            seen,
            queue: JobQueue {
                jobs,
                backlog: VecDeque::new(),
                reported_depth: 0,
            },
        })
    }

    /// The watched folders, resolved.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.roots
            .iter()
            .map(|root| root.path().to_owned())
            .collect()
    }

    /// Takes the files already present, then every arrival, until `shutdown`
    /// is disconnected. Dropping the watcher closes the job channel and
    /// unlocks the folders.
    pub fn run(mut self, shutdown: &Receiver<()>) {
        self.scan_roots(false);
        let mut next_poll = Instant::now();
        let mut next_root_check = next_poll + ROOT_CHECK_INTERVAL;
        loop {
            let now = Instant::now();
            if now >= next_root_check {
                self.check_roots(now);
                next_root_check = now + ROOT_CHECK_INTERVAL;
            }
            if now >= next_poll {
                self.dispatch_ready(now);
                self.look_for_gone_roots(now);
                next_poll = now + POLL_INTERVAL;
            }
            let busy = !self.tracker.is_empty() || !self.queue.is_empty();
            let wake = self
                .roots
                .iter()
                .filter_map(|root| match root {
                    Root::Gone { next_look, .. } => Some(*next_look),
                    Root::Watched(_) => None,
                })
                .chain(busy.then_some(next_poll))
                .fold(next_root_check, Instant::min);
            let timeout = wake.saturating_duration_since(now);
            crossbeam_channel::select! {
                recv(shutdown) -> _ => return,
                recv(self.events) -> event => match event {
                    Ok(Ok(event)) => self.handle(event),
                    Ok(Err(err)) => warn!("drop-folder watch: {err}"),
                    Err(_) => return,
                },
                default(timeout) => next_poll = Instant::now(),
            }
        }
    }

    fn dispatch_ready(&mut self, now: Instant) {
        for job in self.tracker.take_ready(now, own_identity) {
            let recorded = RecordedVersion::from(&job.identity);
            if self.seen.get(&job.path) == Some(&recorded) {
                debug!(path = %display_path(&job.path), "already has a result; skipped");
                continue;
            }
            self.seen.insert(job.path.clone(), recorded);
            self.queue.push(job);
        }
        self.queue.feed();
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        if event.need_rescan() {
            warn!("the watch lost events (queue overflow); rescanning the drop folders");
            self.scan_roots(true);
            return;
        }
        let signal = match event.kind {
            EventKind::Create(CreateKind::Folder) => {
                event.paths.iter().for_each(|dir| self.scan_new_dir(dir));
                return;
            }
            EventKind::Create(_) => Signal::Created,
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Other) => {
                Signal::Written
            }
            EventKind::Modify(ModifyKind::Metadata(_)) => Signal::Touched,
            EventKind::Access(AccessKind::Open(_)) => Signal::Opened,
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Signal::Closed,
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                Signal::Removed
            }
            // `From` and `To` are reported on their own as well.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => return,
            // Renamed in (`To`), or a rename the platform could not pair:
            // what is there now tells.
            EventKind::Modify(ModifyKind::Name(_)) => Signal::Closed,
            EventKind::Access(_) | EventKind::Any | EventKind::Other => return,
        };
        for path in event.paths {
            if signal == Signal::Removed && self.is_watched_root(&path) {
                // An event handled late may tell of a folder since replaced
                // by the one watched now: what is at the path decides.
                if !self.root_in_place(&path) {
                    self.root_gone(&path, now);
                }
            } else if matches!(signal, Signal::Created | Signal::Closed) {
                self.arrived(path, signal, now);
            } else if signal == Signal::Removed || self.filter.accepts_file(&path) {
                self.tracker.note(path, signal, now);
            }
        }
    }

    fn is_watched_root(&self, path: &Path) -> bool {
        self.roots
            .iter()
            .any(|root| matches!(root, Root::Watched(folder) if folder.path == path))
    }

    /// Whether the watched root at `path` is still the folder it locked.
    fn root_in_place(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| {
            matches!(root, Root::Watched(folder) if folder.path == path && folder.is_in_place())
        })
    }

    /// Notices the watched roots that are no longer at their paths (a removal
    /// sends no event while genred's lock holds the folder open).
    fn check_roots(&mut self, now: Instant) {
        let gone: Vec<PathBuf> = self
            .roots
            .iter()
            .filter_map(|root| match root {
                Root::Watched(folder) if !folder.is_in_place() => Some(folder.path.clone()),
                _ => None,
            })
            .collect();
        for path in gone {
            self.root_gone(&path, now);
        }
    }

    /// A name appeared (created or renamed in): what it is decides.
    fn arrived(&mut self, path: PathBuf, signal: Signal, now: Instant) {
        match walk::examine(path) {
            None => {}
            Some(Entry::Dir {
                path, link: false, ..
            }) => self.scan_new_dir(&path),
            Some(Entry::Dir {
                path, link: true, ..
            }) => {
                self.skipped(&Skipped::DirectoryLink { path });
            }
            Some(Entry::File(file)) if file.link => self.link_left_alone(&file),
            Some(Entry::File(file)) if self.filter.accepts_file(&file.path) => {
                self.tracker.note(file.path, signal, now);
            }
            Some(Entry::File(_)) => {}
            Some(Entry::Skipped(skipped)) => self.skipped(&skipped),
        }
    }

    fn link_left_alone(&self, file: &FoundFile) {
        if self.filter.accepts_file(&file.path) {
            info!(
                path = %display_path(&file.path),
                "a symbolic link: left alone (genred takes only files that live in the drop folder)"
            );
        }
    }

    fn skipped(&self, skipped: &Skipped) {
        if !self.filter.would_take(skipped) {
            return;
        }
        match skipped {
            Skipped::Unreadable { .. } => warn!("{skipped}"),
            _ => info!("{skipped}"),
        }
    }

    /// A drop folder was removed or moved away: stop watching it and start
    /// looking for it to come back.
    fn root_gone(&mut self, path: &Path, now: Instant) {
        let Some(root) = self.roots.iter_mut().find(|root| root.path() == path) else {
            return;
        };
        warn!(
            folder = %display_path(path),
            "the drop folder was removed or moved away; watching for it to come back"
        );
        // The watch may be gone with the folder already.
        let _ = self.watcher.unwatch(path);
        self.tracker.forget_under(path);
        *root = Root::Gone {
            path: path.to_owned(),
            next_look: now + REAPPEAR_BACKOFF_FIRST,
            backoff: REAPPEAR_BACKOFF_FIRST,
        };
    }

    /// Looks for the drop folders that went away; one that is back is locked,
    /// watched and scanned.
    fn look_for_gone_roots(&mut self, now: Instant) {
        let mut back = Vec::new();
        for root in &mut self.roots {
            let Root::Gone {
                path,
                next_look,
                backoff,
            } = root
            else {
                continue;
            };
            if now < *next_look {
                continue;
            }
            if !std::fs::symlink_metadata(&*path).is_ok_and(|metadata| metadata.is_dir()) {
                *backoff = (*backoff * 2).min(REAPPEAR_BACKOFF_MAX);
                *next_look = now + *backoff;
                continue;
            }
            let reopened = LockedFolder::lock(path.clone()).and_then(|folder| {
                self.watcher
                    .watch(&folder.path, self.mode)
                    .map_err(|cause| FolderError::Watch {
                        path: folder.path.clone(),
                        cause,
                    })?;
                Ok(folder)
            });
            match reopened {
                Ok(folder) => {
                    info!(folder = %display_path(&folder.path), "the drop folder is back; watching it again");
                    back.push(folder.path.clone());
                    *root = Root::Watched(folder);
                }
                Err(err) => {
                    error!("{err}; looking again later");
                    *backoff = REAPPEAR_BACKOFF_MAX;
                    *next_look = now + *backoff;
                }
            }
        }
        for path in back {
            self.scan(&path, false);
        }
    }

    /// A folder created or moved into a recursive watch: its files arrived with it.
    fn scan_new_dir(&mut self, dir: &Path) {
        if self.mode == RecursiveMode::Recursive && self.filter.accepts_dir(dir) {
            self.scan(dir, false);
        }
    }

    /// Scans every watched root; `lost_events`: after an overflow, when what
    /// the scan sees replaces what the events said.
    fn scan_roots(&mut self, lost_events: bool) {
        let watched: Vec<PathBuf> = self
            .roots
            .iter()
            .filter_map(|root| match root {
                Root::Watched(folder) => Some(folder.path.clone()),
                Root::Gone { .. } => None,
            })
            .collect();
        for root in watched {
            self.scan(&root, lost_events);
        }
    }

    /// Notes every acceptable file under `dir`; no writer has been seen for
    /// them, so the stable-size rule decides. A file the events already tell
    /// about keeps their word unless events were lost.
    fn scan(&mut self, dir: &Path, lost_events: bool) {
        let now = Instant::now();
        let recursive = self.mode == RecursiveMode::Recursive;
        let filter = self.filter.clone();
        for item in walk::walk(dir, recursive, |dir| filter.accepts_dir(dir)) {
            match item {
                Ok(file) if file.link => self.link_left_alone(&file),
                Ok(file) => {
                    if !self.filter.accepts_file(&file.path)
                        || (!lost_events && self.tracker.is_pending(&file.path))
                    {
                        continue;
                    }
                    let at_rest = file
                        .metadata
                        .modified()
                        .ok()
                        .and_then(|modified| modified.elapsed().ok())
                        .is_some_and(|age| age >= self.tracker.stable_quiet);
                    self.tracker
                        .note(file.path, Signal::Scanned { at_rest }, now);
                }
                Err(skipped) => self.skipped(&skipped),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::os::unix::ffi::OsStrExt;
    use std::time::SystemTime;

    const SETTLE: Duration = Duration::from_secs(2);

    fn identity(size: u64) -> record::FileIdentity {
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
        let not_utf8 = Path::new(OsStr::from_bytes(b"/music/caf\xe9 \xff.WAV"));
        assert!(filter().accepts_file(not_utf8));
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
