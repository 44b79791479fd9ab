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
//! valid name: logs show it with [`display_path`](crate::record::display_path).
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
mod filter;
mod lock;
mod queue;
mod settle;
mod watcher;

pub use config::FolderConfig;
pub use lock::{DropFolders, FolderError};
pub use settle::MIN_STABLE_QUIET;
pub use watcher::{FolderSettings, FolderWatcher, REAPPEAR_BACKOFF_MAX, ROOT_CHECK_INTERVAL};
