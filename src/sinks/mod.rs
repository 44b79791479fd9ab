//! Where results go: the results file, the log, and file actions.
//!
//! One sink thread owns all three, so records are whole lines in the order
//! results arrive, and a file is moved only after its result is known.

pub mod actions;
pub mod results;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crossbeam_channel::Receiver;
use serde::Serialize;
use tracing::{error, info, warn};

use crate::config::{FileAction, FolderConfig};
use crate::pipeline::{AnalysisError, FileReport};
use crate::sources::folder::{resolve_path, FileJob};
use crate::sources::mic::MicPrediction;
use actions::{genre_folder, place, Placement};
use results::{format_mtime, ResultsFile};

/// A result for the sink.
#[derive(Debug)]
pub enum SinkMessage {
    /// A drop-folder file, classified or not.
    File {
        job: FileJob,
        outcome: Result<FileReport, AnalysisError>,
    },
    /// A microphone prediction.
    Mic(MicPrediction),
}

/// What happens to files once they have a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileActions {
    /// Where classified files go, as `<folder>/<genre>/`, and how.
    pub sort: Option<(PathBuf, Placement)>,
    /// Where rejected files are moved.
    pub rejected: Option<PathBuf>,
}

impl FileActions {
    pub fn from_config(folder: &FolderConfig) -> Self {
        let placement = match folder.action {
            FileAction::None => None,
            FileAction::Move => Some(Placement::Move),
            FileAction::Copy => Some(Placement::Copy),
        };
        // Absolute, so records say where files went whatever the working directory.
        Self {
            sort: folder.target.as_deref().map(resolve_path).zip(placement),
            rejected: folder.rejected.as_deref().map(resolve_path),
        }
    }
}

/// The result record of a classified file.
#[derive(Serialize)]
struct FileResultRecord<'a> {
    time: String,
    source: &'static str,
    #[serde(flatten)]
    report: &'a FileReport,
    /// Size and modification time when it was taken: the restart index.
    size: u64,
    mtime: Option<String>,
    #[serde(flatten)]
    action: ActionRecord,
}

/// The failure record of a file that got no genre.
#[derive(Serialize)]
struct FileFailureRecord<'a> {
    time: String,
    source: &'static str,
    path: &'a Path,
    error: String,
    /// Present for a fault of the file, which is final; absent for an internal
    /// failure, so that a restart tries the file again.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtime: Option<String>,
    #[serde(flatten)]
    action: ActionRecord,
}

/// Where a file action put the file, or why it could not.
#[derive(Debug, Default, Serialize)]
struct ActionRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    moved_to: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copied_to: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_error: Option<String>,
}

impl ActionRecord {
    fn perform(file: &Path, folder: &Path, placement: Placement) -> Self {
        match place(file, folder, placement) {
            Ok(destination) => match placement {
                Placement::Move => Self {
                    moved_to: Some(destination),
                    ..Self::default()
                },
                Placement::Copy => Self {
                    copied_to: Some(destination),
                    ..Self::default()
                },
            },
            Err(err) => {
                warn!("{err}; the file stays where it is");
                Self {
                    action_error: Some(err.to_string()),
                    ..Self::default()
                }
            }
        }
    }
}

/// The owner of the results file and the file actions.
#[derive(Debug)]
pub struct Sink {
    results: ResultsFile,
    actions: FileActions,
}

impl Sink {
    pub fn new(results: ResultsFile, actions: FileActions) -> Self {
        Self { results, actions }
    }

    /// Records messages until every sender is gone, or until `stop` is
    /// disconnected; then records what has already arrived and syncs the file.
    pub fn run(mut self, messages: &Receiver<SinkMessage>, stop: &Receiver<()>) {
        loop {
            crossbeam_channel::select! {
                recv(messages) -> message => match message {
                    Ok(message) => self.record(message),
                    Err(_) => break,
                },
                recv(stop) -> _ => {
                    while let Ok(message) = messages.try_recv() {
                        self.record(message);
                    }
                    break;
                }
            }
        }
        if let Err(err) = self.results.sync() {
            error!("{err}");
        }
    }

    /// Performs the file action, appends the record and logs it.
    pub fn record(&mut self, message: SinkMessage) {
        let appended = match message {
            SinkMessage::File {
                job,
                outcome: Ok(report),
            } => self.record_result(&job, &report),
            SinkMessage::File {
                job,
                outcome: Err(failure),
            } => self.record_failure(&job, &failure),
            SinkMessage::Mic(prediction) => {
                info!(
                    device = %prediction.device,
                    genre = prediction.genre.as_deref().unwrap_or("-"),
                    confidence = prediction.confidence,
                    silence = prediction.silence,
                    "microphone"
                );
                self.results.append(&prediction)
            }
        };
        if let Err(err) = appended {
            error!("{err}");
        }
    }

    fn record_result(
        &mut self,
        job: &FileJob,
        report: &FileReport,
    ) -> Result<(), results::ResultsError> {
        info!(
            path = %job.path.display(),
            genre = %report.genre,
            confidence = report.confidence,
            windows = report.windows.len(),
            "classified"
        );
        let action = match &self.actions.sort {
            Some((target, placement)) => ActionRecord::perform(
                &job.path,
                &target.join(genre_folder(&report.genre)),
                *placement,
            ),
            None => ActionRecord::default(),
        };
        self.results.append(&FileResultRecord {
            time: now_rfc3339(),
            source: "file",
            report,
            size: job.identity.size,
            mtime: format_mtime(job.identity.modified),
            action,
        })
    }

    fn record_failure(
        &mut self,
        job: &FileJob,
        failure: &AnalysisError,
    ) -> Result<(), results::ResultsError> {
        let bad_input = failure.is_bad_input();
        warn!(path = %job.path.display(), "not classified: {failure}");
        let action = match (&self.actions.rejected, bad_input) {
            (Some(rejected), true) => ActionRecord::perform(&job.path, rejected, Placement::Move),
            _ => ActionRecord::default(),
        };
        self.results.append(&FileFailureRecord {
            time: now_rfc3339(),
            source: "file",
            path: &job.path,
            error: failure.to_string(),
            size: bad_input.then_some(job.identity.size),
            mtime: format_mtime(job.identity.modified).filter(|_| bad_input),
            action,
        })
    }
}

/// The current time as a record's `time`: RFC 3339, UTC, milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
