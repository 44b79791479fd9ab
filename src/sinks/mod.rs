//! Where results go: the results file, the log, and file actions.
//!
//! One sink thread owns all three, so records are whole lines in the order
//! results arrive, and a file is moved only after its result is known.
//!
//! No file is acted on without its record: a placement is staged (the
//! destination claimed, a copy made), the record naming the destination is
//! appended, and only then is the file moved or the copy put in place. When
//! the record cannot be written (a full disk, an I/O error), the file stays
//! where it is and the results wait, in order, while the write is retried with
//! a growing delay; the failure is logged once and the recovery once.
//!
//! A result is recorded only for the version of the file that was analysed:
//! a file rewritten, replaced or removed meanwhile gets no record and is not
//! acted on (the folder source takes its new version on its own).

pub mod actions;
mod config;
mod records;
pub mod results;
mod watched_folders;

pub use config::{ActionsConfig, FileAction, FileActions};
pub use records::{MicRecord, RecordKind, MIC_SOURCE};
pub use watched_folders::WatchedFolders;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use tracing::{debug, error, info, warn};

use crate::analysis::AnalysisError;
use crate::record::{
    self, display_path, Content, FileJob, FileReport, MicVerdict, WithPath, UNKNOWN_GENRE,
};
use actions::{check_unchanged, genre_folder, ActionError, Placement, Staged};
use records::{ActionRecord, FileFailureRecord, FileResultRecord, IndexEntry, FILE_SOURCE};
use results::{format_mtime, ResultsError, ResultsFile};

/// The first delay before writing the results file again after a failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The longest delay between two attempts: a freed disk is noticed within it.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// How long the sink sleeps when no result waits: messages wake it anyway.
const IDLE_WAKEUP: Duration = Duration::from_secs(3600);

/// A result for the sink. A file's report is much larger than a microphone window's, but
/// results pass a few a second, moved whole through a channel: boxing would only add an
/// allocation per file.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum SinkMessage {
    /// A drop-folder file, classified or not.
    File {
        job: FileJob,
        outcome: Result<FileReport, WithPath<AnalysisError>>,
    },
    /// A judged window of the microphone.
    Mic(MicVerdict),
}

/// Where a result's file goes once its record is written.
#[derive(Debug, Clone)]
struct Destination {
    folder: PathBuf,
    placement: Placement,
}

/// A result on its way into the results file.
#[derive(Debug)]
struct Pending {
    message: SinkMessage,
    destination: Option<Destination>,
}

/// What became of a result given to the results file.
enum Written {
    /// Recorded; the staged action is to be committed.
    Recorded(Option<Staged>),
    /// For a file that is no longer there: nothing recorded or done.
    Stale,
    /// Nothing recorded or done now: a version that changed while it was analysed, or met a
    /// passing fault, goes back to the folder source to be looked at again.
    Revisit,
}

/// When the results file is next tried while records wait for it.
#[derive(Debug)]
struct Retry {
    at: Instant,
    delay: Duration,
}

/// What learns of each record right after it is appended (the live view): the sink knows
/// it only by this.
pub trait RecordSubscriber: Send + Sync + std::fmt::Debug {
    /// `line` (one JSON record, without its newline) was appended to the results file.
    fn record_written(&self, kind: RecordKind, line: Arc<str>);
}

/// The owner of the results file and the file actions.
#[derive(Debug)]
pub struct Sink {
    results: ResultsFile,
    actions: FileActions,
    /// Results not yet recorded, oldest first.
    waiting: VecDeque<Pending>,
    /// Set while the results file fails.
    retry: Option<Retry>,
    /// Who learns of each record as it is written (the live view, when `[web]` is on).
    subscriber: Option<Arc<dyn RecordSubscriber>>,
    /// Where versions of files that got no record go back to, to be looked at again (the
    /// folder source): one that changed while it was analysed, or met a passing fault.
    revisits: Option<Sender<FileJob>>,
    /// The microphone's last window was silence: silence is logged when it starts and ends,
    /// not every hop.
    mic_silent: bool,
}

impl Sink {
    pub fn new(results: ResultsFile, actions: FileActions) -> Self {
        Self {
            results,
            actions,
            waiting: VecDeque::new(),
            retry: None,
            subscriber: None,
            revisits: None,
            mic_silent: false,
        }
    }

    /// Hands the versions of files that got no record back to `revisits` (see
    /// [`Sink::revisits`]).
    pub fn with_revisits(self, revisits: Sender<FileJob>) -> Self {
        Self {
            revisits: Some(revisits),
            ..self
        }
    }

    /// Also hands every record, right after it is appended, to `subscriber`.
    pub fn with_subscriber(self, subscriber: Arc<dyn RecordSubscriber>) -> Self {
        Self {
            subscriber: Some(subscriber),
            ..self
        }
    }

    /// Removes the leftovers of an interrupted placement, then records
    /// messages until every sender is gone, or until `stop` is disconnected;
    /// then records what has already arrived and syncs the file.
    pub fn run(mut self, messages: &Receiver<SinkMessage>, stop: &Receiver<()>) {
        self.actions.clean_leftovers();
        loop {
            let now = Instant::now();
            let timeout = self
                .retry
                .as_ref()
                .map_or(IDLE_WAKEUP, |retry| retry.at.saturating_duration_since(now));
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
                default(timeout) => self.flush(),
            }
        }
        self.flush();
        if !self.waiting.is_empty() {
            error!(
                results = self.waiting.len(),
                "stopping with results the results file never took; their files stay where they are and are classified at the next start"
            );
        }
        if let Err(err) = self.results.sync() {
            error!("{err}");
        }
    }

    /// Logs the result, then records it and performs its file action, or, while
    /// the results file fails, queues it behind the results already waiting.
    pub fn record(&mut self, message: SinkMessage) {
        let destination = self.log_and_plan(&message);
        self.waiting.push_back(Pending {
            message,
            destination,
        });
        if self.retry.is_none() {
            self.flush();
        }
    }

    /// Records the waiting results in order, until one cannot be written.
    fn flush(&mut self) {
        while let Some(pending) = self.waiting.pop_front() {
            match self.write(&pending) {
                Ok(Written::Recorded(staged)) => staged.into_iter().for_each(commit),
                Ok(Written::Stale) => {}
                Ok(Written::Revisit) => self.revisit(&pending.message),
                Err(err @ ResultsError::Encode { .. }) => {
                    error!("{err}; the result is dropped, its file left where it is");
                }
                Err(err) => {
                    self.waiting.push_front(pending);
                    self.retry_later(&err);
                    return;
                }
            }
        }
        if self.retry.take().is_some() {
            info!("the results file takes records again; the waiting results are recorded");
        }
    }

    /// Hands the file of a result that got no record back to the folder source.
    fn revisit(&self, message: &SinkMessage) {
        if let (Some(revisits), SinkMessage::File { job, .. }) = (&self.revisits, message) {
            // The folder source is gone only while shutting down; the next start looks again.
            let _ = revisits.send(job.clone());
        }
    }

    /// Schedules the next attempt; logs the failure only the first time.
    fn retry_later(&mut self, err: &ResultsError) {
        let delay = match &self.retry {
            None => {
                error!(
                    "{err}; files stay where they are until their results are recorded, retrying from {} s to every {} s",
                    FIRST_RETRY.as_secs(),
                    MAX_RETRY.as_secs()
                );
                FIRST_RETRY
            }
            Some(retry) => {
                debug!("{err}; {} results waiting", self.waiting.len());
                (retry.delay * 2).min(MAX_RETRY)
            }
        };
        self.retry = Some(Retry {
            at: Instant::now() + delay,
            delay,
        });
    }

    /// The log line of a result, once, and where its file is to go.
    fn log_and_plan(&mut self, message: &SinkMessage) -> Option<Destination> {
        match message {
            SinkMessage::File {
                job,
                outcome: Ok(report),
            } => {
                let path = display_path(&job.path);
                let Some(genre) = &report.genre else {
                    let content = report.content.unwrap_or(Content::Unknown).name();
                    info!(%path, content, "not music");
                    return self.actions.rejected.as_ref().map(|rejected| Destination {
                        folder: rejected.clone(),
                        placement: Placement::Move,
                    });
                };
                info!(
                    %path,
                    genre = %genre,
                    confidence = %Rounded(report.confidence),
                    windows = report.windows.len(),
                    "classified"
                );
                let (target, placement) = self.actions.sort.as_ref()?;
                let folder = if genre == UNKNOWN_GENRE {
                    self.actions.unsorted.clone()?
                } else {
                    target.join(genre_folder(genre))
                };
                Some(Destination {
                    folder,
                    placement: *placement,
                })
            }
            SinkMessage::File {
                job,
                outcome: Err(failure),
            } => {
                let path = display_path(&job.path);
                if failure.error.is_transient() {
                    warn!(%path, "not classified yet: {failure}; tried again once it has settled");
                    return None;
                }
                if !failure.error.is_bad_input() {
                    warn!(%path, "not classified: {failure}; left where it is, tried again at the next start");
                    return None;
                }
                warn!(%path, "not classified: {failure}");
                self.actions.rejected.as_ref().map(|rejected| Destination {
                    folder: rejected.clone(),
                    placement: Placement::Move,
                })
            }
            SinkMessage::Mic(heard) => {
                let was_silent = std::mem::replace(&mut self.mic_silent, heard.is_silence());
                if let Some(change) = silence_change(was_silent, heard.is_silence()) {
                    info!(device = %heard.device, "{change}");
                }
                if heard.is_silence() {
                    return None;
                }
                let best = heard.best();
                info!(
                    device = %heard.device,
                    content = heard.content.map_or("-", Content::name),
                    genre = best.map_or("-", |(genre, _)| genre),
                    confidence = %Rounded(best.map_or(0.0, |(_, p)| p)),
                    "microphone"
                );
                None
            }
        }
    }

    /// Stages the file action, checks that the file is still the version
    /// analysed, and appends the record. Should the append fail, the staged
    /// action is undone as it is dropped, and staged afresh at the next try.
    fn write(&mut self, pending: &Pending) -> Result<Written, ResultsError> {
        let (job, outcome) = match &pending.message {
            SinkMessage::Mic(heard) => {
                let record = MicRecord::from(heard);
                let kind = RecordKind::Mic {
                    silence: record.silence,
                };
                return self.results.append(&record).map(|line| {
                    self.publish(kind, line);
                    Written::Recorded(None)
                });
            }
            SinkMessage::File {
                outcome: Err(failure),
                ..
            } if failure.error.is_transient() => {
                return Ok(Written::Revisit);
            }
            SinkMessage::File { job, outcome } => (job, outcome),
        };
        let staged = pending
            .destination
            .as_ref()
            .map(|to| {
                Staged::prepare(
                    &job.path,
                    &job.identity,
                    &to.folder,
                    to.placement,
                    &self.actions.watched,
                )
            })
            .transpose();
        let (staged, action) = match staged {
            Ok(Some(staged)) => {
                if let Err(err) = staged.check_unchanged() {
                    return Ok(stale(&err));
                }
                let action = ActionRecord::placed(&staged);
                (Some(staged), action)
            }
            Err(err) if err.is_stale() => return Ok(stale(&err)),
            unstaged => {
                if let Err(err) = check_unchanged(&job.path, &job.identity) {
                    return Ok(stale(&err));
                }
                let action = unstaged.err().map_or_else(ActionRecord::default, |err| {
                    warn!("{err}; the file stays where it is");
                    ActionRecord::failed(&err)
                });
                (None, action)
            }
        };
        let (time, path_bytes) = (record::now_rfc3339(), record::path_bytes(&job.path));
        let mtime = format_mtime(job.identity.modified);
        let entry = |error: Option<String>, provenance| IndexEntry {
            source: FILE_SOURCE,
            path: &job.path,
            path_bytes: path_bytes.clone(),
            size: job.identity.size,
            mtime: mtime.clone(),
            error,
            provenance,
        };
        let appended = match outcome {
            Ok(report) => self.results.append_file(
                &FileResultRecord {
                    time,
                    source: FILE_SOURCE,
                    report,
                    path_bytes: path_bytes.clone(),
                    size: job.identity.size,
                    mtime: mtime.clone(),
                    action,
                },
                Some(&entry(None, Some(&report.provenance))),
            ),
            Err(failure) => {
                // Only a fault of the file's own is final; anything else is tried again.
                let final_failure = failure.error.is_bad_input();
                let error = failure.to_string();
                self.results.append_file(
                    &FileFailureRecord {
                        time,
                        source: FILE_SOURCE,
                        path: &job.path,
                        path_bytes: path_bytes.clone(),
                        error: error.clone(),
                        size: final_failure.then_some(job.identity.size),
                        mtime: mtime.clone().filter(|_| final_failure),
                        action,
                    },
                    final_failure.then(|| entry(Some(error), None)).as_ref(),
                )
            }
        };
        appended.map(|line| {
            self.publish(RecordKind::File, line);
            Written::Recorded(staged)
        })
    }

    /// Hands a record, right after it is appended, to the subscriber if there is one.
    fn publish(&self, kind: RecordKind, line: Arc<str>) {
        if let Some(subscriber) = &self.subscriber {
            subscriber.record_written(kind, line);
        }
    }
}

fn stale(err: &ActionError) -> Written {
    info!("{err}");
    match err {
        // A version seen again only by its ctime (a chmod, a tag editor restoring the mtime)
        // looks like the one analysed to the folder source, which would not take it again.
        ActionError::Changed { .. } => Written::Revisit,
        _ => Written::Stale,
    }
}

/// Performs a staged action once its record is written.
fn commit(staged: Staged) {
    let destination = staged.destination().to_owned();
    let (file, placement) = (staged.file().to_owned(), staged.placement());
    let path = display_path(&file);
    match staged.commit() {
        Ok(placed) => match placement {
            Placement::Move => info!(%path, to = %display_path(&placed), "moved"),
            Placement::Copy => info!(%path, to = %display_path(&placed), "copied"),
        },
        Err(err) => error!(
            "{err}; its record says {} but the file stays where it is",
            display_path(&destination)
        ),
    }
}

/// What a microphone window's silence changes in the log: a line when silence starts and
/// one when it ends, none for the hops in between.
fn silence_change(was_silent: bool, silent: bool) -> Option<&'static str> {
    match (was_silent, silent) {
        (false, true) => Some("microphone: silence"),
        (true, false) => Some("microphone: sound again"),
        _ => None,
    }
}

/// A probability in a log line: three digits, as people read it.
struct Rounded(f32);

impl std::fmt::Display for Rounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::AudioError;
    use crate::record::{
        FileIdentity, Judgement, Probabilities, StreamVerdict, TagScores, Tags, Timings,
        WindowVerdict,
    };
    use base64::Engine as _;
    use serde_json::Value;
    use std::ffi::OsStr;
    use std::fs;
    use std::fs::File;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A drop folder, a target folder and a results file in a temporary folder.
    struct Scene {
        dir: tempfile::TempDir,
    }

    impl Scene {
        fn new() -> io::Result<Self> {
            let dir = tempfile::tempdir()?;
            fs::create_dir(dir.path().join("drop"))?;
            Ok(Self { dir })
        }

        fn path(&self, relative: &str) -> PathBuf {
            self.dir.path().join(relative)
        }

        fn actions(&self, placement: Placement) -> FileActions {
            FileActions {
                sort: Some((self.path("sorted"), placement)),
                rejected: Some(self.path("rejected")),
                unsorted: Some(self.path("unsorted")),
                watched: WatchedFolders::new(&[self.path("drop")], &[]),
            }
        }

        fn sink(&self, placement: Placement) -> Result<Sink, ResultsError> {
            let (results, _) = ResultsFile::open(
                &self.path("results.jsonl"),
                &results::tests::provenance("genre-2"),
            )?;
            Ok(Sink::new(results, self.actions(placement)))
        }

        fn records(&self) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
            let text = fs::read_to_string(self.path("results.jsonl"))?;
            Ok(text
                .lines()
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()?)
        }

        /// Writes a file in the drop folder and returns its job.
        fn drop_file(
            &self,
            name: &OsStr,
            bytes: &[u8],
        ) -> Result<FileJob, Box<dyn std::error::Error>> {
            let path = self.path("drop").join(name);
            fs::write(&path, bytes)?;
            let identity = FileIdentity::of(&path).ok_or("no file")?;
            Ok(FileJob { path, identity })
        }
    }

    fn report(job: &FileJob, genre: &str) -> FileReport {
        FileReport {
            path: job.path.clone(),
            genre: Some(genre.to_owned()),
            confidence: 0.9,
            probabilities: Probabilities::new(&[genre.to_owned()], &[0.9]),
            content: None,
            content_scores: Probabilities::default(),
            styles: Probabilities::default(),
            tags: Tags::default(),
            windows: Vec::new(),
            duration_s: 30.0,
            provenance: results::tests::provenance("genre-2"),
            timings: Timings::default(),
        }
    }

    fn classified(job: &FileJob, genre: &str) -> SinkMessage {
        SinkMessage::File {
            job: job.clone(),
            outcome: Ok(report(job, genre)),
        }
    }

    fn decode(encoded: &Value) -> Vec<u8> {
        encoded
            .as_str()
            .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .unwrap_or_default()
    }

    #[test]
    fn no_file_is_moved_while_its_record_cannot_be_written_and_all_follow_once_it_can() -> TestResult
    {
        let scene = Scene::new()?;
        let full = File::options().append(true).open("/dev/full")?;
        let mut sink = Sink::new(
            ResultsFile::writing_to(Path::new("/dev/full"), full),
            scene.actions(Placement::Move),
        );
        let first = scene.drop_file(OsStr::new("first.wav"), b"one")?;
        let second = scene.drop_file(OsStr::new("second.wav"), b"two")?;
        sink.record(classified(&first, "classical"));
        sink.record(classified(&second, "pop"));
        assert_eq!(sink.waiting.len(), 2);
        assert!(sink.retry.is_some());
        assert_eq!(fs::read(&first.path)?, b"one");
        assert_eq!(fs::read(&second.path)?, b"two");
        assert!(
            !scene.path("sorted").exists()
                || fs::read_dir(scene.path("sorted/classical"))?.count() == 0,
            "nothing of genred's is left in the target while the results wait"
        );
        // The disk has room again.
        sink.results = ResultsFile::open(
            &scene.path("results.jsonl"),
            &results::tests::provenance("genre-2"),
        )?
        .0;
        sink.flush();
        assert!(sink.waiting.is_empty() && sink.retry.is_none());
        let records = scene.records()?;
        let moved: Vec<&str> = records
            .iter()
            .filter_map(|r| r["moved_to"].as_str())
            .collect();
        assert_eq!(
            moved,
            [
                scene.path("sorted/classical/first.wav").to_string_lossy(),
                scene.path("sorted/pop/second.wav").to_string_lossy()
            ],
            "in the order they came"
        );
        assert_eq!(fs::read(scene.path("sorted/classical/first.wav"))?, b"one");
        assert!(!first.path.exists() && !second.path.exists());
        Ok(())
    }

    /// A subscriber that keeps what it is handed.
    #[derive(Debug, Default)]
    struct Lines(std::sync::Mutex<VecDeque<Arc<str>>>);

    impl RecordSubscriber for Lines {
        fn record_written(&self, _: RecordKind, line: Arc<str>) {
            if let Ok(mut lines) = self.0.lock() {
                lines.push_back(line);
            }
        }
    }

    impl Lines {
        fn try_recv(&self) -> Result<Arc<str>, &'static str> {
            let mut lines = self.0.lock().map_err(|_| "poisoned")?;
            lines.pop_front().ok_or("no line")
        }
    }

    #[test]
    fn the_subscriber_gets_each_line_as_appended_and_nothing_unrecorded() -> TestResult {
        let scene = Scene::new()?;
        let events = Arc::new(Lines::default());
        let mut sink = scene
            .sink(Placement::Move)?
            .with_subscriber(Arc::clone(&events) as Arc<dyn RecordSubscriber>);
        let job = scene.drop_file(OsStr::new("song.wav"), b"RIFF")?;
        let stale = scene.drop_file(OsStr::new("stale.wav"), b"old")?;
        fs::remove_file(&stale.path)?;
        sink.record(classified(&stale, "pop"));
        sink.record(classified(&job, "classical"));
        let written = fs::read_to_string(scene.path("results.jsonl"))?;
        assert_eq!(written.lines().count(), 1, "{written}");
        assert_eq!(&*events.try_recv()?, written.trim_end());
        assert!(
            events.try_recv().is_err(),
            "the stale file was not published"
        );
        Ok(())
    }

    #[test]
    fn a_file_rewritten_after_its_analysis_gets_no_record_and_stays() -> TestResult {
        let scene = Scene::new()?;
        for placement in [Placement::Move, Placement::Copy] {
            let mut sink = scene.sink(placement)?;
            let job = scene.drop_file(OsStr::new("song.wav"), b"old version")?;
            std::thread::sleep(Duration::from_millis(10));
            fs::write(&job.path, b"new version, longer")?;
            sink.record(classified(&job, "classical"));
            assert!(sink.waiting.is_empty());
            assert_eq!(fs::read(&job.path)?, b"new version, longer");
            assert!(!scene.path("sorted/classical/song.wav").exists());
        }
        assert!(scene.records()?.is_empty(), "no record of the old version");
        Ok(())
    }

    #[test]
    fn an_unreadable_file_is_left_in_place_and_tried_again_at_the_next_start() -> TestResult {
        let scene = Scene::new()?;
        let mut sink = scene.sink(Placement::Move)?;
        let job = scene.drop_file(OsStr::new("locked.wav"), b"RIFF")?;
        let failure = AudioError::Io {
            cause: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        sink.record(SinkMessage::File {
            job: job.clone(),
            outcome: Err(WithPath::new(&job.path, AnalysisError::Audio(failure))),
        });
        assert_eq!(fs::read(&job.path)?, b"RIFF", "not rejected");
        assert!(!scene.path("rejected").exists());
        let records = scene.records()?;
        assert_eq!(records.len(), 1);
        assert!(records[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("ermission denied")));
        assert!(
            records[0].get("size").is_none(),
            "not final: {}",
            records[0]
        );
        assert!(records[0].get("moved_to").is_none());
        Ok(())
    }

    #[test]
    fn names_that_are_not_utf8_are_recorded_exactly() -> TestResult {
        let scene = Scene::new()?;
        let mut sink = scene.sink(Placement::Move)?;
        let name = OsStr::from_bytes(b"caf\xe9\n.wav");
        let job = scene.drop_file(name, b"audio")?;
        sink.record(classified(&job, "classical"));
        let bad = scene.drop_file(OsStr::from_bytes(b"bad\xff.wav"), b"noise")?;
        sink.record(SinkMessage::File {
            job: bad.clone(),
            outcome: Err(WithPath::new(
                &bad.path,
                AnalysisError::Audio(AudioError::UnsupportedFormat),
            )),
        });
        let records = scene.records()?;
        assert_eq!(records.len(), 2);
        assert_eq!(
            decode(&records[0]["path_bytes"]),
            job.path.as_os_str().as_bytes()
        );
        let moved = scene.path("sorted/classical").join(name);
        assert_eq!(
            decode(&records[0]["moved_to_bytes"]),
            moved.as_os_str().as_bytes()
        );
        assert_eq!(fs::read(&moved)?, b"audio");
        assert_eq!(
            decode(&records[1]["path_bytes"]),
            bad.path.as_os_str().as_bytes()
        );
        let rejected = scene
            .path("rejected")
            .join(OsStr::from_bytes(b"bad\xff.wav"));
        assert_eq!(
            decode(&records[1]["moved_to_bytes"]),
            rejected.as_os_str().as_bytes()
        );
        assert!(rejected.is_file());
        // And the restart index finds them under their exact names.
        let (_, seen) = ResultsFile::open(
            &scene.path("results.jsonl"),
            &results::tests::provenance("genre-2"),
        )?;
        assert!(seen.contains_key(&job.path) && seen.contains_key(&bad.path));
        Ok(())
    }

    #[test]
    fn a_300_character_label_is_sorted_into_a_shortened_folder() -> TestResult {
        let scene = Scene::new()?;
        let mut sink = scene.sink(Placement::Move)?;
        let label = "progressive ".repeat(25);
        let job = scene.drop_file(OsStr::new("song.wav"), b"audio")?;
        sink.record(classified(&job, &label));
        let records = scene.records()?;
        let moved = PathBuf::from(records[0]["moved_to"].as_str().ok_or("not moved")?);
        assert_eq!(fs::read(&moved)?, b"audio");
        let folder = moved
            .parent()
            .and_then(Path::file_name)
            .ok_or("no folder")?;
        assert!(folder.len() <= 255 && label.starts_with(folder.to_str().unwrap_or("?")));
        Ok(())
    }

    /// A judged microphone window of 30 s, ended at 2026-01-01T00:00:00Z, with `tags`.
    fn heard(tags: Vec<TagScores>) -> MicVerdict {
        let labels = ["pop".to_owned(), "classical".to_owned()];
        MicVerdict {
            time: std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            device: "default".to_owned(),
            verdict: StreamVerdict {
                window: WindowVerdict {
                    start: 0,
                    end: 30 * 22050,
                    sample_rate: 22050,
                    judgement: Some(Judgement {
                        probabilities: Probabilities::new(&labels, &[0.75, 0.25]),
                        tags,
                    }),
                },
                provisional: false,
                smoothed: Probabilities::new(&labels, &[0.5, 0.5]),
            },
            dropped_samples: 3,
            content: None,
            content_scores: Probabilities::default(),
        }
    }

    #[test]
    fn a_mic_record_has_its_fields_in_order_and_probabilities_as_an_object_in_model_order(
    ) -> TestResult {
        let json = serde_json::to_string(&MicRecord::from(&heard(Vec::new())))?;
        assert_eq!(
            json,
            r#"{"time":"2026-01-01T00:00:00.000Z","source":"mic","device":"default","genre":"pop","confidence":0.75,"probabilities":{"pop":0.75,"classical":0.25},"smoothed_genre":"pop","window_s":30.0,"provisional":false,"silence":false,"dropped_samples":3}"#
        );
        let mut silent = heard(Vec::new());
        silent.verdict.window.judgement = None;
        let json = serde_json::to_value(MicRecord::from(&silent))?;
        assert_eq!(json["genre"], Value::Null);
        assert_eq!(json["confidence"], 0.0);
        assert_eq!(json["probabilities"], serde_json::json!({}));
        assert_eq!(json["silence"], true);
        assert_eq!(json["smoothed_genre"], "pop", "the last music heard");
        Ok(())
    }

    #[test]
    fn a_mic_record_carries_the_tags_as_a_file_record_does() -> TestResult {
        let scores = |names: [&str; 2]| Probabilities::new(&names.map(str::to_owned), &[0.5, 0.25]);
        let tags = vec![
            TagScores {
                vocabulary: "msd".to_owned(),
                scores: scores(["rock", "pop"]),
            },
            TagScores {
                vocabulary: "mtt".to_owned(),
                scores: scores(["guitar", "rock"]),
            },
        ];
        let json = serde_json::to_value(MicRecord::from(&heard(tags)))?;
        assert_eq!(
            json["tags"],
            serde_json::json!({"msd": {"rock": 0.5, "pop": 0.25}, "mtt": {"guitar": 0.5, "rock": 0.25}})
        );
        Ok(())
    }

    #[test]
    fn leftovers_in_the_rejected_and_genre_folders_are_cleaned() -> TestResult {
        let scene = Scene::new()?;
        for folder in ["sorted/blues", "rejected"] {
            let folder = scene.path(folder);
            fs::create_dir_all(&folder)?;
            fs::write(folder.join("x.wav"), b"")?;
            fs::write(folder.join(".x.wav.genred-copy"), b"partial")?;
            fs::write(folder.join("user's empty.wav"), b"")?;
        }
        let mut removed = scene.actions(Placement::Copy).clean_leftovers();
        removed.sort();
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert!(scene.path("sorted/blues/user's empty.wav").is_file());
        assert!(!scene.path("rejected/x.wav").exists());
        Ok(())
    }

    #[test]
    fn silence_is_logged_when_it_starts_and_when_it_ends_not_every_hop() {
        let hops = [false, true, true, true, false, false, true];
        let mut was_silent = false;
        let lines: Vec<&str> = hops
            .iter()
            .filter_map(|&silent| {
                silence_change(std::mem::replace(&mut was_silent, silent), silent)
            })
            .collect();
        assert_eq!(
            lines,
            [
                "microphone: silence",
                "microphone: sound again",
                "microphone: silence"
            ]
        );
    }
}
