//! The records of the results file, in one place: what the sink writes for a file (a
//! verdict or a failure) and for a microphone window, and the part of a file record the
//! restart index reads back.

use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::record::{
    self, Content, FileReport, MicVerdict, Probabilities, Provenance, StreamVerdict, Tags,
};

use super::actions::{ActionError, Placement, Staged};

/// The `source` of every file record.
pub const FILE_SOURCE: &str = "file";

/// What a published line is, as far as a subscriber (the live view's health report) cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A drop-folder file, classified or failed.
    File,
    /// A microphone prediction; `silence` when the window was too quiet to judge.
    Mic { silence: bool },
}

/// The result record of a classified file.
#[derive(Serialize)]
pub(super) struct FileResultRecord<'a> {
    pub(super) time: String,
    pub(super) source: &'static str,
    #[serde(flatten)]
    pub(super) report: &'a FileReport,
    /// The exact bytes of a path that is not UTF-8 (`path` is then lossy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) path_bytes: Option<String>,
    /// Size and modification time of the version analysed: the restart index.
    pub(super) size: u64,
    pub(super) mtime: Option<String>,
    #[serde(flatten)]
    pub(super) action: ActionRecord,
}

/// The failure record of a file that got no genre.
#[derive(Serialize)]
pub(super) struct FileFailureRecord<'a> {
    pub(super) time: String,
    pub(super) source: &'static str,
    #[serde(serialize_with = "record::serialize_path_lossy")]
    pub(super) path: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) path_bytes: Option<String>,
    pub(super) error: String,
    /// Present for a fault of the file, which is final; absent for a failure
    /// that is not the file's (genred's own, or a file it may not read), so
    /// that a restart tries the file again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) mtime: Option<String>,
    #[serde(flatten)]
    pub(super) action: ActionRecord,
}

/// A file's line in the index beside the results file: what a restart reads of its record
/// ([`IndexedRecord`]), for a verdict (with its provenance) or a fault of the file's own.
#[derive(Serialize)]
pub(super) struct IndexEntry<'a> {
    pub(super) source: &'static str,
    #[serde(serialize_with = "record::serialize_path_lossy")]
    pub(super) path: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) path_bytes: Option<String>,
    pub(super) size: u64,
    pub(super) mtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(super) provenance: Option<&'a Provenance>,
}

/// The `source` of every microphone record.
pub const MIC_SOURCE: &str = "mic";

/// The record of one window of the microphone, as written to the results file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MicRecord {
    /// When the window ended, RFC 3339 (UTC, milliseconds).
    pub time: String,
    /// Always `"mic"`.
    pub source: &'static str,
    /// The configured device name.
    pub device: String,
    /// The most probable genre, or `None` for silence.
    pub genre: Option<String>,
    /// The probability of `genre` (0 for silence).
    pub confidence: f32,
    /// Every label's probability, in the model's label order (empty for
    /// silence); serialized as a JSON object.
    pub probabilities: Probabilities,
    /// For a model with tags (musicnn), each vocabulary's tag scores over the window, as
    /// file records carry them: `{"msd": {"rock": p, ...}, "mtt": {...}}`; left out for a
    /// model without tags and for silence.
    #[serde(skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    /// The arg-max of the mean probabilities over the last `smoothing`
    /// non-silent windows; during silence it still names the last music heard.
    pub smoothed_genre: Option<String>,
    /// Seconds of audio in the window.
    pub window_s: f64,
    /// True until the window holds `window_s` seconds.
    pub provisional: bool,
    /// True when the window's RMS is under `silence_rms`.
    pub silence: bool,
    /// Mono frames at the device rate lost since listening began.
    pub dropped_samples: u64,
    /// What the judge hears now: music, speech, silence, noise (a judge with a content gate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The scores `content` was decided on.
    #[serde(skip_serializing_if = "Probabilities::is_empty")]
    pub content_scores: Probabilities,
}

impl From<&MicVerdict> for MicRecord {
    fn from(heard: &MicVerdict) -> Self {
        let StreamVerdict {
            window,
            provisional,
            smoothed,
        } = &heard.verdict;
        let best = heard.best();
        let judgement = window.judgement.as_ref();
        MicRecord {
            time: record::rfc3339(heard.time),
            source: MIC_SOURCE,
            device: heard.device.clone(),
            genre: best.map(|(genre, _)| genre.to_owned()),
            confidence: best.map_or(0.0, |(_, p)| p),
            probabilities: judgement.map_or_else(
                || Probabilities(Vec::new()),
                |judgement| judgement.probabilities.clone(),
            ),
            tags: Tags(judgement.map_or_else(Vec::new, |judgement| judgement.tags.clone())),
            smoothed_genre: smoothed.best().map(|(genre, _)| genre.to_owned()),
            window_s: window.length_s(),
            provisional: *provisional,
            silence: heard.is_silence(),
            dropped_samples: heard.dropped_samples,
            content: heard.content,
            content_scores: heard.content_scores.clone(),
        }
    }
}

/// Where a file action puts the file, or why it could not; a destination
/// that is not UTF-8 also in exact bytes, like `path`.
#[derive(Debug, Default, Serialize)]
pub(super) struct ActionRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    moved_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moved_to_bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copied_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copied_to_bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_error: Option<String>,
}

impl ActionRecord {
    /// Where `staged` puts the file.
    pub(super) fn placed(staged: &Staged) -> Self {
        let destination = staged.destination();
        let (shown, bytes) = (
            Some(destination.to_string_lossy().into_owned()),
            record::path_bytes(destination),
        );
        match staged.placement() {
            Placement::Move => Self {
                moved_to: shown,
                moved_to_bytes: bytes,
                ..Self::default()
            },
            Placement::Copy => Self {
                copied_to: shown,
                copied_to_bytes: bytes,
                ..Self::default()
            },
        }
    }

    pub(super) fn failed(err: &ActionError) -> Self {
        Self {
            action_error: Some(err.to_string()),
            ..Self::default()
        }
    }
}

/// The part of a record the restart index needs; other fields are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct IndexedRecord {
    pub(super) source: String,
    pub(super) path: Option<PathBuf>,
    /// Standard base64 of the path's bytes, for a name that is not UTF-8.
    pub(super) path_bytes: Option<String>,
    pub(super) size: Option<u64>,
    pub(super) mtime: Option<String>,
    /// Present on a failure record: the file's own fault, whatever the model.
    pub(super) error: Option<String>,
    /// The provenance of a verdict; `None` on a record without one (a failure, or written
    /// before genred recorded provenance).
    #[serde(flatten)]
    pub(super) provenance: Option<Provenance>,
}

impl IndexedRecord {
    /// Whether the record still holds for a restart under `running`: a failure of the
    /// file's own, or a verdict reached with the very same model and rules.
    pub(super) fn holds_under(&self, running: &Provenance) -> bool {
        self.error.is_some() || self.provenance.as_ref() == Some(running)
    }

    /// The exact path: from `path_bytes` when present, else `path`.
    pub(super) fn exact_path(&self) -> Option<PathBuf> {
        let Some(encoded) = &self.path_bytes else {
            return self.path.clone();
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
}
