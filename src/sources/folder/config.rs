//! The drop-folder source's keys of the `[folder]` section: which folders it watches and how
//! it waits for a file to be complete. (What happens to a file once it has a result, the
//! section's other keys, is the sink's: `sinks::ActionsConfig`.)

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::settings::{check_seconds, InvalidSetting};

/// The settle times accepted: an hour of waiting for a file to stop changing
/// means something else is wrong.
const SETTLE_RANGE_S: std::ops::RangeInclusive<f64> = 0.0..=3600.0;

/// The drop-folder source's keys of the `[folder]` section (read by the config's
/// `FolderSection`, with the sink's).
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        Ok(())
    }

    /// The settle time as a duration (validated finite, from 0 to an hour).
    pub fn settle(&self) -> Duration {
        Duration::from_secs_f64(self.settle_s)
    }
}
