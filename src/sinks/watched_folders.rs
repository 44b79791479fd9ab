//! The drop folders a placement must never land in.
//!
//! The folder source leaves the action folders alone, as they resolved at start. If one of
//! them is later replaced by a link into a drop folder (or a genre folder by a link to it),
//! a file placed there would be found again, classified again and placed again, without
//! end. So every placement resolves its destination folder afresh and refuses one inside a
//! drop folder, unless it lies inside an action folder the source leaves alone.

use std::path::{Path, PathBuf};

use crate::record::resolve_path;

/// The drop folders and the action folders inside them, all resolved at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchedFolders {
    watched: Vec<PathBuf>,
    left_alone: Vec<PathBuf>,
}

impl WatchedFolders {
    /// The `drop_folders` watched, and the `action_folders` the folder source leaves alone.
    pub fn new(drop_folders: &[PathBuf], action_folders: &[PathBuf]) -> Self {
        let resolved = |paths: &[PathBuf]| paths.iter().map(|path| resolve_path(path)).collect();
        Self {
            watched: resolved(drop_folders),
            left_alone: resolved(action_folders),
        }
    }

    /// The drop folder that `folder`, resolved now, lies in, where the folder source would
    /// find a file placed there; `None` when a placement there is safe.
    pub fn watching(&self, folder: &Path) -> Option<(&Path, PathBuf)> {
        let resolved = resolve_path(folder);
        if self
            .left_alone
            .iter()
            .any(|alone| resolved.starts_with(alone))
        {
            return None;
        }
        let drop = self
            .watched
            .iter()
            .find(|drop| resolved.starts_with(drop))?;
        Some((drop, resolved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_leading_into_a_drop_folder_is_caught_and_its_left_alone_folders_are_not(
    ) -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let drop = dir.path().join("drop");
        let inside = drop.join("sorted");
        let outside = dir.path().join("target");
        std::fs::create_dir_all(&inside)?;
        std::fs::create_dir_all(&outside)?;
        let folders = WatchedFolders::new(
            std::slice::from_ref(&drop),
            &[inside.clone(), outside.clone()],
        );
        assert_eq!(folders.watching(&outside.join("rock")), None);
        assert_eq!(folders.watching(&inside.join("rock")), None);
        assert!(folders.watching(&drop.join("rock")).is_some());

        // The target replaced by a link to the drop folder at runtime.
        std::fs::remove_dir(&outside)?;
        std::os::unix::fs::symlink(&drop, &outside)?;
        let (found, resolved) = folders
            .watching(&outside.join("rock"))
            .ok_or(std::io::Error::other("not caught"))?;
        assert_eq!(found, resolve_path(&drop));
        assert_eq!(resolved, resolve_path(&drop).join("rock"));
        Ok(())
    }
}
