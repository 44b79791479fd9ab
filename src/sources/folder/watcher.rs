//! The watcher thread: the drop folders' events, the settle rule's ready files handed to
//! the job queue, and the folders that go away and come back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Config, Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tracing::{debug, error, info, warn};

use super::filter::FileFilter;
use super::lock::{DropFolders, FolderError, LockedFolder};
use super::queue::JobQueue;
use super::settle::{own_identity, SettleTracker, Signal};
use crate::record::resolve_path;
use crate::record::{display_path, FileJob, RecordedVersion, SeenFiles};
use crate::walk::{self, Entry, FoundFile, Skipped};

/// Whether the platform's watcher reports that a writer closed a file.
const CLOSE_EVENTS: bool = cfg!(target_os = "linux");

/// How often pending files are re-examined while any are waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often each watched drop folder is checked to still be at its path:
/// the watcher's only wake-up when nothing is pending.
pub const ROOT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The first wait before looking again for a drop folder that went away.
const REAPPEAR_BACKOFF_FIRST: Duration = Duration::from_millis(250);

/// The longest wait between two looks for a drop folder that went away.
pub const REAPPEAR_BACKOFF_MAX: Duration = Duration::from_secs(5);

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
    /// Versions the sink recorded nothing for, to be looked at again.
    revisits: Receiver<FileJob>,
}

impl FolderWatcher {
    /// Starts watching the (locked) drop folders; from here on no arrival is
    /// missed. `seen` holds the files that already have a result; `revisits` brings back
    /// versions handed to `jobs` that got none.
    pub fn start(
        folders: DropFolders,
        settings: FolderSettings,
        seen: SeenFiles,
        jobs: Sender<FileJob>,
        revisits: Receiver<FileJob>,
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
            queue: JobQueue::new(jobs),
            revisits,
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
                recv(self.revisits) -> job => match job {
                    Ok(job) => self.revisit(job),
                    // The sink has stopped: nothing more comes back.
                    Err(_) => self.revisits = crossbeam_channel::never(),
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

    /// A version that got no record is no longer seen, and the file is taken again once it
    /// has settled: as it is then, so a version that changed only in its ctime is classified.
    /// It is noted as just closed (a settle period, then taken), so that a reader opening it
    /// meanwhile is not mistaken for a writer.
    fn revisit(&mut self, job: FileJob) {
        if self.seen.get(&job.path) == Some(&RecordedVersion::from(&job.identity)) {
            self.seen.remove(&job.path);
        }
        debug!(path = %display_path(&job.path), "got no record; looked at again");
        self.tracker.note(job.path, Signal::Closed, Instant::now());
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
