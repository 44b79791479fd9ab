//! Each drop folder locked against a second genred, and the errors of opening and watching
//! the folders.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::record::display_path;

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

/// A drop folder, resolved, and the lock that keeps other genreds out of it
/// for as long as this value lives.
#[derive(Debug)]
pub(super) struct LockedFolder {
    pub(super) path: PathBuf,
    /// The (device, inode) of the folder locked.
    pub(super) id: (u64, u64),
    _lock: File,
}

impl LockedFolder {
    /// Locks the folder at the resolved `path`, which must exist.
    pub(super) fn lock(path: PathBuf) -> Result<Self, FolderError> {
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
    pub(super) fn is_in_place(&self) -> bool {
        std::fs::symlink_metadata(&self.path)
            .is_ok_and(|metadata| (metadata.dev(), metadata.ino()) == self.id)
    }
}

/// The drop folders, created when missing, resolved, and each locked against
/// a second genred. Opened before anything else touches their files.
#[derive(Debug)]
pub struct DropFolders {
    pub(super) folders: Vec<LockedFolder>,
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
