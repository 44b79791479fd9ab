//! The `[folder]` section: which folders the drop-folder source watches, how it waits for
//! a file to be complete, and what happens to a file once it has a result.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::{check_seconds, InvalidSetting};

/// The settle times accepted: an hour of waiting for a file to stop changing
/// means something else is wrong.
const SETTLE_RANGE_S: std::ops::RangeInclusive<f64> = 0.0..=3600.0;

/// The `[folder]` section: the drop-folder source and what happens to its files.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FolderConfig {
    /// Watch the folders at all.
    pub enabled: bool,
    /// The drop folders; missing ones are created at start.
    pub paths: Vec<PathBuf>,
    /// Also watch the folders' subfolders.
    pub recursive: bool,
    /// File name extensions to classify (case-insensitive, without the dot);
    /// an empty list means every file.
    pub extensions: Vec<String>,
    /// Seconds a file's size and modification time must stay unchanged before
    /// it is read, when the platform does not report that its writer closed it.
    pub settle_s: f64,
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

impl Default for FolderConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            paths: vec![PathBuf::from("music")],
            recursive: true,
            extensions: crate::audio::AUDIO_EXTENSIONS
                .iter()
                .map(|extension| (*extension).to_owned())
                .collect(),
            settle_s: 2.0,
            action: FileAction::None,
            target: None,
            rejected: None,
            unsorted: None,
        }
    }
}

impl FolderConfig {
    /// Checks every key of the section against its limits; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_seconds("folder.settle_s", self.settle_s, SETTLE_RANGE_S)?;
        if self.enabled && self.paths.is_empty() {
            return Err(InvalidSetting::new(
                "folder.paths",
                "must name at least one folder while folder.enabled is true",
            ));
        }
        if let Some(bad) = self
            .extensions
            .iter()
            .find(|extension| extension.is_empty() || extension.contains(['.', '/']))
        {
            return Err(InvalidSetting::new(
                "folder.extensions",
                format!("entries are bare extensions such as \"wav\", got \"{bad}\""),
            ));
        }
        if self.action != FileAction::None && self.target.is_none() {
            return Err(InvalidSetting::new(
                "folder.target",
                "is required when folder.action is \"move\" or \"copy\"",
            ));
        }
        let empty_path =
            |path: &Option<PathBuf>| path.as_ref().is_some_and(|p| p.as_os_str().is_empty());
        if empty_path(&self.target) {
            return Err(InvalidSetting::new(
                "folder.target",
                "must not be empty; leave it out instead",
            ));
        }
        for (key, path) in [
            ("folder.rejected", &self.rejected),
            ("folder.unsorted", &self.unsorted),
        ] {
            if empty_path(path) {
                return Err(InvalidSetting::new(
                    key,
                    "must not be empty; leave it out instead",
                ));
            }
        }
        Ok(())
    }

    /// The settle time as a duration (validated finite, from 0 to an hour).
    pub fn settle(&self) -> Duration {
        Duration::from_secs_f64(self.settle_s)
    }
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
