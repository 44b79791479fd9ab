//! The one directory walker: the drop folder's start-up scan and the batch
//! commands (`genred classify DIR`, `genred features DIR`) find files with it.
//!
//! # Symbolic links
//!
//! One policy everywhere: **a symbolic link to a directory is never
//! followed**, at start-up, at run time and in the batch commands. A drop
//! folder is the files that live in it; following links could reach a folder
//! that belongs to someone else (and the daemon moves files), or loop forever
//! (`ln -s . loop`, `ln -s .. up`). A link to a directory is reported as
//! [`Skipped::DirectoryLink`].
//!
//! A symbolic link to a regular file is reported as a [`FoundFile`] with
//! `link` set, and each caller decides: the batch commands, which change
//! nothing, read what it points at; the daemon, which moves and copies, leaves
//! it alone (see `sources::folder`).
//!
//! The root itself is taken as given even when it is a link: the user named it.
//!
//! # Loops and odd files
//!
//! Without links a loop can still arise through bind mounts, so every
//! directory entered is remembered by (device, inode) and never entered twice.
//! Entries that are neither directories nor regular files (FIFOs, sockets,
//! devices) are reported as [`Skipped::NotRegular`]: opening a FIFO would
//! block forever. Nothing here follows a path twice or holds more than one
//! directory listing per level, so memory stays bounded by the tree's depth
//! and widest folder.

use std::collections::HashSet;
use std::fs::{FileType, Metadata};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::record::display_path;

/// A regular file found by the walk.
#[derive(Debug)]
pub struct FoundFile {
    pub path: PathBuf,
    /// The file's own metadata (what a link points at, for a link).
    pub metadata: Metadata,
    /// Found through a symbolic link to a regular file.
    pub link: bool,
}

/// Something the walk did not take, with why: one line each for the log.
#[derive(Debug, thiserror::Error)]
pub enum Skipped {
    #[error("{}: skipped: a {kind}, not a regular file", display_path(path))]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{}: skipped: a symbolic link to a directory (never followed)",
        display_path(path)
    )]
    DirectoryLink { path: PathBuf },
    #[error(
        "{}: skipped: a symbolic link to nothing readable: {cause}",
        display_path(path)
    )]
    BrokenLink {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{}: skipped: already walked through another path (a loop)",
        display_path(path)
    )]
    Loop { path: PathBuf },
    #[error("{}: cannot list the folder: {cause}", display_path(path))]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl Skipped {
    /// The path that was skipped.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotRegular { path, .. }
            | Self::DirectoryLink { path }
            | Self::BrokenLink { path, .. }
            | Self::Loop { path }
            | Self::Unreadable { path, .. } => path,
        }
    }
}

/// A depth-first walk in name order (each folder's entries sorted by name,
/// a subfolder walked where it sorts), yielding every regular file and every
/// entry skipped. Built by [`walk`].
pub struct Walk<F> {
    /// Per open level, its remaining entries in reverse name order.
    stack: Vec<Vec<PathBuf>>,
    /// The (device, inode) of every directory entered.
    visited: HashSet<(u64, u64)>,
    recursive: bool,
    enter: F,
}

/// Walks `root` (a folder), into its subfolders when `recursive` and for
/// each subfolder `enter` accepts (it sees the subfolder's path).
pub fn walk<F: FnMut(&Path) -> bool>(root: &Path, recursive: bool, enter: F) -> Walk<F> {
    Walk {
        stack: vec![vec![root.to_owned()]],
        visited: HashSet::new(),
        recursive,
        enter,
    }
}

/// What one path is, as the walk (and the daemon, for a name that appears
/// at run time) sees it.
#[derive(Debug)]
pub enum Entry {
    File(FoundFile),
    Dir {
        path: PathBuf,
        metadata: Metadata,
        /// Reached through a symbolic link.
        link: bool,
    },
    Skipped(Skipped),
}

/// What `path` is, links resolved one step; `None` if nothing is there.
pub fn examine(path: PathBuf) -> Option<Entry> {
    let own = match std::fs::symlink_metadata(&path) {
        Ok(own) => own,
        Err(cause) if cause.kind() == std::io::ErrorKind::NotFound => return None,
        Err(cause) => return Some(Entry::Skipped(Skipped::Unreadable { path, cause })),
    };
    let link = own.file_type().is_symlink();
    let metadata = if link {
        match std::fs::metadata(&path) {
            Ok(target) => target,
            Err(cause) => return Some(Entry::Skipped(Skipped::BrokenLink { path, cause })),
        }
    } else {
        own
    };
    let file_type = metadata.file_type();
    Some(if file_type.is_dir() {
        Entry::Dir {
            path,
            metadata,
            link,
        }
    } else if file_type.is_file() {
        Entry::File(FoundFile {
            path,
            metadata,
            link,
        })
    } else {
        Entry::Skipped(Skipped::NotRegular {
            path,
            kind: kind_of(file_type),
        })
    })
}

impl<F: FnMut(&Path) -> bool> Walk<F> {
    /// Lists the directory `path` (whose metadata is `metadata`) as a new level.
    fn open(&mut self, path: PathBuf, metadata: &Metadata) -> Result<(), Skipped> {
        if !self.visited.insert((metadata.dev(), metadata.ino())) {
            return Err(Skipped::Loop { path });
        }
        let listing = std::fs::read_dir(&path).and_then(|entries| {
            entries
                .map(|entry| entry.map(|entry| entry.path()))
                .collect::<Result<Vec<_>, _>>()
        });
        let mut listing = listing.map_err(|cause| Skipped::Unreadable { path, cause })?;
        listing.sort_by(|a, b| b.file_name().cmp(&a.file_name()));
        self.stack.push(listing);
        Ok(())
    }

    /// What one entry gives: a file to yield, a folder to enter, or a skip.
    fn visit(&mut self, path: PathBuf, is_root: bool) -> Option<Result<FoundFile, Skipped>> {
        let Some(entry) = examine(path.clone()) else {
            // Removed since it was listed: nothing to report; a missing root is.
            return is_root.then(|| {
                Err(Skipped::Unreadable {
                    path,
                    cause: std::io::ErrorKind::NotFound.into(),
                })
            });
        };
        match entry {
            Entry::File(file) => Some(Ok(file)),
            Entry::Skipped(skipped) => Some(Err(skipped)),
            Entry::Dir {
                path, link: true, ..
            } if !is_root => Some(Err(Skipped::DirectoryLink { path })),
            Entry::Dir { path, metadata, .. } => {
                if is_root || (self.recursive && (self.enter)(&path)) {
                    self.open(path, &metadata).err().map(Err)
                } else {
                    None
                }
            }
        }
    }
}

impl<F: FnMut(&Path) -> bool> Iterator for Walk<F> {
    type Item = Result<FoundFile, Skipped>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let is_root = self.visited.is_empty() && self.stack.len() == 1;
            let level = self.stack.last_mut()?;
            let Some(path) = level.pop() else {
                self.stack.pop();
                continue;
            };
            if let Some(item) = self.visit(path, is_root) {
                return Some(item);
            }
        }
    }
}

/// What a file that is neither a folder nor a regular file is, for the log.
fn kind_of(file_type: FileType) -> &'static str {
    if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::os::unix::net::UnixListener;

    fn names(root: &Path, items: &[Result<FoundFile, Skipped>]) -> (Vec<String>, Vec<String>) {
        let relative = |path: &Path| {
            path.strip_prefix(root)
                .unwrap_or(path)
                .to_string_lossy()
                .into_owned()
        };
        let mut found = Vec::new();
        let mut skipped = Vec::new();
        for item in items {
            match item {
                Ok(file) => found.push(relative(&file.path)),
                Err(skip) => skipped.push(relative(skip.path())),
            }
        }
        (found, skipped)
    }

    #[test]
    fn files_come_in_name_order_with_subfolders_where_they_sort() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/inner"))?;
        for name in ["c.wav", "a.wav", "b/x.wav", "b/inner/y.wav"] {
            std::fs::write(root.join(name), b"x")?;
        }
        let items: Vec<_> = walk(root, true, |_| true).collect();
        let (found, skipped) = names(root, &items);
        assert_eq!(found, ["a.wav", "b/inner/y.wav", "b/x.wav", "c.wav"]);
        assert!(skipped.is_empty(), "{skipped:?}");

        let flat: Vec<_> = walk(root, false, |_| true).collect();
        assert_eq!(names(root, &flat).0, ["a.wav", "c.wav"]);
        let refused: Vec<_> = walk(root, true, |dir| !dir.ends_with("inner")).collect();
        assert_eq!(names(root, &refused).0, ["a.wav", "b/x.wav", "c.wav"]);
        Ok(())
    }

    #[test]
    fn symlink_loops_end_and_linked_folders_are_never_entered() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("drop");
        let elsewhere = dir.path().join("someone else");
        std::fs::create_dir_all(root.join("sub"))?;
        std::fs::create_dir(&elsewhere)?;
        std::fs::write(root.join("sub/song.wav"), b"x")?;
        std::fs::write(elsewhere.join("theirs.wav"), b"x")?;
        symlink(".", root.join("loop"))?;
        symlink("..", root.join("sub/up"))?;
        symlink(&elsewhere, root.join("theirs"))?;
        symlink(elsewhere.join("theirs.wav"), root.join("linked.wav"))?;
        symlink("nowhere.wav", root.join("dangling.wav"))?;

        let items: Vec<_> = walk(&root, true, |_| true).collect();
        let (found, skipped) = names(&root, &items);
        assert_eq!(found, ["linked.wav", "sub/song.wav"]);
        assert_eq!(skipped, ["dangling.wav", "loop", "sub/up", "theirs"]);
        let linked = items
            .iter()
            .flatten()
            .map(|file| file.link)
            .collect::<Vec<_>>();
        assert_eq!(linked, [true, false]);
        // In name order: dangling.wav, linked.wav, loop, sub/song.wav,
        // sub/up, theirs. The loops are refused as links, before any loop
        // detection is needed.
        let kinds: Vec<&str> = items
            .iter()
            .filter_map(|item| match item {
                Ok(_) => None,
                Err(Skipped::BrokenLink { .. }) => Some("broken link"),
                Err(Skipped::DirectoryLink { .. }) => Some("directory link"),
                Err(other) => panic!("unexpected skip: {other}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "broken link",
                "directory link",
                "directory link",
                "directory link"
            ]
        );
        Ok(())
    }

    #[test]
    fn fifos_and_sockets_are_skipped_with_what_they_are() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("pipe.wav"))
            .status()?;
        assert!(status.success(), "mkfifo failed");
        let _socket = UnixListener::bind(root.join("socket.wav"))?;
        std::fs::write(root.join("song.wav"), b"x")?;

        let lines: Vec<String> = walk(root, true, |_| true)
            .filter_map(Result::err)
            .map(|skip| skip.to_string())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].ends_with("pipe.wav: skipped: a FIFO, not a regular file"),
            "{lines:?}"
        );
        assert!(
            lines[1].ends_with("socket.wav: skipped: a socket, not a regular file"),
            "{lines:?}"
        );
        Ok(())
    }

    #[test]
    fn a_missing_root_is_reported() {
        let items: Vec<_> = walk(Path::new("/nonexistent/genred-walk"), true, |_| true).collect();
        assert!(
            matches!(items[..], [Err(Skipped::Unreadable { .. })]),
            "{items:?}"
        );
    }
}
