//! What the sink does with a drop folder's files once they have a result: the `action`,
//! `target`, `rejected` and `unsorted` keys, which users write in the `[folder]` section
//! beside the source's own keys (the config reads the two parts from that one table).

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::record::resolve_path;
use crate::settings::InvalidSetting;

use super::actions::{self, Placement};
use super::watched_folders::WatchedFolders;

/// The file-action keys of the `[folder]` section (read by the config's `FolderSection`,
/// with the source's).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ActionsConfig {
    /// What to do with a classified file.
    pub action: FileAction,
    /// Where `move` and `copy` put files, as `<target>/<genre>/<name>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<PathBuf>,
    /// Where files that are not usable audio, or hold no music, are moved; unset leaves them
    /// in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<PathBuf>,
    /// Where `move` and `copy` put music whose genre is "unknown" (judged below
    /// `model.min_confidence`); unset leaves it in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsorted: Option<PathBuf>,
}

/// What happens to a file once it has a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileAction {
    /// Leave it where it is.
    #[default]
    None,
    /// Move it into `<target>/<genre>/`.
    Move,
    /// Copy it into `<target>/<genre>/`, leaving the original.
    Copy,
}

impl ActionsConfig {
    /// Checks the keys against each other; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.action != FileAction::None && self.target.is_none() {
            return Err(InvalidSetting::new(
                "folder.target",
                "is required when folder.action is \"move\" or \"copy\"",
            ));
        }
        for (key, path) in self.named_folders() {
            if path.is_some_and(|path| path.as_os_str().is_empty()) {
                return Err(InvalidSetting::new(
                    key,
                    "must not be empty; leave it out instead",
                ));
            }
        }
        Ok(())
    }

    /// The folders files are placed in, each with its key (`None` where unset).
    pub fn named_folders(&self) -> [(&'static str, Option<&PathBuf>); 3] {
        [
            ("folder.target", self.target.as_ref()),
            ("folder.rejected", self.rejected.as_ref()),
            ("folder.unsorted", self.unsorted.as_ref()),
        ]
    }

    /// The folders files are placed in, which the folder source leaves alone.
    pub fn folders(&self) -> Vec<PathBuf> {
        self.named_folders()
            .into_iter()
            .filter_map(|(_, path)| path.cloned())
            .collect()
    }

    /// The sink's file actions: the folders made absolute, so that records say where files
    /// went whatever the working directory, and never a placement into `drop_folders`.
    pub fn file_actions(&self, drop_folders: &[PathBuf]) -> FileActions {
        let placement = match self.action {
            FileAction::None => None,
            FileAction::Move => Some(Placement::Move),
            FileAction::Copy => Some(Placement::Copy),
        };
        FileActions {
            sort: self.target.as_deref().map(resolve_path).zip(placement),
            rejected: self.rejected.as_deref().map(resolve_path),
            unsorted: self.unsorted.as_deref().map(resolve_path),
            watched: WatchedFolders::new(drop_folders, &self.folders()),
        }
    }
}

/// What happens to files once they have a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileActions {
    /// Where classified files go, as `<folder>/<genre>/`, and how.
    pub sort: Option<(PathBuf, Placement)>,
    /// Where rejected files are moved: files that are not usable audio, or hold no music.
    pub rejected: Option<PathBuf>,
    /// Where music whose genre is [`UNKNOWN_GENRE`](crate::record::UNKNOWN_GENRE) (judged below `min_confidence`) goes, the
    /// way the sort moves or copies; unset leaves it where it is.
    pub unsorted: Option<PathBuf>,
    /// Where no file is ever placed, checked at every placement.
    pub watched: WatchedFolders,
}

impl FileActions {
    /// Removes what a genred killed in the middle of a placement left in the
    /// folders files are placed in: the rejected folder and every genre folder.
    pub fn clean_leftovers(&self) -> Vec<PathBuf> {
        let genre_folders = self
            .sort
            .iter()
            .filter_map(|(target, _)| fs::read_dir(target).ok())
            .flatten()
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .map(|entry| entry.path());
        self.rejected
            .iter()
            .chain(&self.unsorted)
            .cloned()
            .chain(genre_folders)
            .flat_map(|folder| actions::clean_leftovers(&folder))
            .collect()
    }
}
