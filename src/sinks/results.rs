//! The results file: JSON Lines, one record per line, appended whole and
//! flushed per record, so a crash leaves it valid up to the last complete line.
//!
//! At start it is read back into the index of files that already have a
//! result ([`SeenFiles`]): a file record carries the file's `size` and `mtime`
//! for exactly that, and its exact path (`path_bytes` when the name is not
//! UTF-8). A verdict counts only if it was reached by the running model and
//! analysis rules ([`Provenance`]): a file whose last verdict came from another
//! model (or the same name with other bytes) is classified again. A file's own
//! fault (broken, silent, too short) stays recorded whatever the model.
//! genred only ever appends to it, whole lines: an append cut short (a full
//! disk) is rolled back. Beside it, an index of the same file records keeps
//! what a restart needs when the results file is rotated ([`ResultsFile`]).
//! Where it is, is the `[results]` section ([`ResultsConfig`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::record::{display_path, Provenance, RecordedVersion, SeenFiles};

use super::records::{IndexedRecord, FILE_SOURCE};
use crate::settings::InvalidSetting;

/// The `[results]` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResultsConfig {
    /// The JSON Lines file every result and failure is appended to.
    pub path: PathBuf,
}

impl Default for ResultsConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("results.jsonl"),
        }
    }
}

impl ResultsConfig {
    /// Checks what serde cannot, without looking at the file system; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.path.as_os_str().is_empty() {
            return Err(InvalidSetting::new("results.path", "must name a file"));
        }
        Ok(())
    }
}

/// The results file could not be opened, read or appended to, or a record
/// could not be put into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{}: cannot open the results file: {cause}", display_path(path))]
    Open { path: PathBuf, cause: io::Error },
    #[error("{}: cannot append to the results file: {cause}", display_path(path))]
    Append { path: PathBuf, cause: io::Error },
    #[error("{}: a record cannot be written as JSON: {cause}", display_path(path))]
    Encode {
        path: PathBuf,
        cause: serde_json::Error,
    },
}

/// The open results file, and beside it the index of what has been done.
///
/// The index (`.<name>.index` in the results file's folder) holds one short line per file
/// record with what a restart needs of it (path, size, mtime, provenance or the file's
/// fault). The results file may be rotated or truncated (logrotate); the index is not
/// touched by that, so what was classified is not classified (or copied) again. At open
/// both are read, the index first: records the two share decide the same way twice.
#[derive(Debug)]
pub struct ResultsFile {
    results: JsonLines,
    index: JsonLines,
}

impl ResultsFile {
    /// Opens (or creates) the results file and its index for appending, with the files
    /// that already have results under the `running` provenance.
    pub fn open(path: &Path, running: &Provenance) -> Result<(Self, SeenFiles), ResultsError> {
        let mut seen = Seen::default();
        let index = JsonLines::open(&index_path(path), |file, path| {
            seen.read(file, path, running)
        })?;
        let results = JsonLines::open(path, |file, path| seen.read(file, path, running))?;
        seen.log_stale(path, running);
        Ok((Self { results, index }, seen.files))
    }

    /// Appends one record as one line with a single write, and returns the
    /// record's JSON as written (without the newline), for the live view.
    /// A failed append leaves no part of the line ([`JsonLines::append_line`]).
    pub fn append(&mut self, record: &impl Serialize) -> Result<Arc<str>, ResultsError> {
        self.results.append(record)
    }

    /// Appends a file's record, then its `entry` in the index (where a restart looks). The
    /// record is what counts: an index that fails is logged, and costs only a second
    /// classification of the file should the results file be rotated.
    pub fn append_file(
        &mut self,
        record: &impl Serialize,
        entry: Option<&impl Serialize>,
    ) -> Result<Arc<str>, ResultsError> {
        let line = self.results.append(record)?;
        if let Some(Err(err)) = entry.map(|entry| self.index.append(entry)) {
            warn!("{err}; the record itself is written");
        }
        Ok(line)
    }

    /// A results file that writes to `file` as it is, without reading it or keeping an
    /// index: for tests that need a file whose writes fail (`/dev/full`).
    #[cfg(test)]
    pub(crate) fn writing_to(path: &Path, file: File) -> Self {
        let lines = |file| JsonLines {
            path: path.to_owned(),
            file,
            torn: false,
        };
        let index = file.try_clone().unwrap_or_else(|err| panic!("{err}"));
        Self {
            results: lines(file),
            index: lines(index),
        }
    }

    /// Makes everything appended durable (at shutdown).
    pub fn sync(&self) -> Result<(), ResultsError> {
        self.index.sync().and(self.results.sync())
    }
}

/// How far back from its end the results file is read for [`recent_records`]: enough for
/// the live view's history, without reading a year of microphone records.
const RECENT_TAIL_BYTES: u64 = 8 << 20;

/// The last `n` whole records of the results file at `path`, oldest first (none when there
/// is no file yet).
pub fn recent_records(path: &Path, n: usize) -> io::Result<Vec<Arc<str>>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let start = file
        .seek(SeekFrom::End(0))?
        .saturating_sub(RECENT_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let mut lines: Vec<&[u8]> = tail.split(|&byte| byte == b'\n').collect();
    if start > 0 && !lines.is_empty() {
        // The first piece may begin inside a line.
        lines.remove(0);
    }
    let mut recent: Vec<Arc<str>> = lines
        .into_iter()
        .rev()
        .filter(|line| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line).is_ok()
        })
        .filter_map(|line| std::str::from_utf8(line).ok().map(Arc::from))
        .take(n)
        .collect();
    recent.reverse();
    Ok(recent)
}

/// The index beside the results file at `results`: `.<name>.index`, hidden, so that a
/// rotation pattern on the results file's name leaves it alone.
pub fn index_path(results: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(results.file_name().unwrap_or(results.as_os_str()));
    name.push(".index");
    results.with_file_name(name)
}

/// A JSON Lines file genred appends to.
#[derive(Debug)]
struct JsonLines {
    path: PathBuf,
    file: File,
    /// An append failed and could not be rolled back: the file may end inside a line.
    torn: bool,
}

impl JsonLines {
    /// Opens (or creates) the file at `path` for appending, after `read` has read it.
    fn open(
        path: &Path,
        read: impl FnOnce(&File, &Path) -> io::Result<()>,
    ) -> Result<Self, ResultsError> {
        let error = |cause| ResultsError::Open {
            path: path.to_owned(),
            cause,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(parent).map_err(error)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(error)?;
        read(&file, path).map_err(error)?;
        if ends_inside_a_line(&mut file).map_err(error)? {
            // A crash cut the last record short: start ours on a fresh line.
            file.write_all(b"\n").map_err(error)?;
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            torn: false,
        })
    }

    fn append(&mut self, record: &impl Serialize) -> Result<Arc<str>, ResultsError> {
        let json = serde_json::to_string(record).map_err(|cause| ResultsError::Encode {
            path: self.path.clone(),
            cause,
        })?;
        let mut line = Vec::with_capacity(json.len() + 2);
        line.extend_from_slice(json.as_bytes());
        line.push(b'\n');
        self.append_line(&mut line)
            .map(|()| Arc::from(json))
            .map_err(|cause| ResultsError::Append {
                path: self.path.clone(),
                cause,
            })
    }

    /// Appends `line` whole or not at all: a write cut short (a full disk) is rolled back to
    /// where the line began. Only if even that fails does the file end inside a line, and the
    /// next line then starts on a fresh one.
    fn append_line(&mut self, line: &mut Vec<u8>) -> io::Result<()> {
        if self.torn && ends_inside_a_line(&mut self.file)? {
            line.insert(0, b'\n');
        }
        let start = self.file.seek(SeekFrom::End(0))?;
        let written = self.file.write_all(line).and_then(|()| self.file.flush());
        if written.is_err() && self.file.set_len(start).is_ok() {
            self.torn = false;
            return written;
        }
        self.torn = written.is_err();
        written
    }

    fn sync(&self) -> Result<(), ResultsError> {
        self.file.sync_data().map_err(|cause| ResultsError::Append {
            path: self.path.clone(),
            cause,
        })
    }
}

/// The modification time as a record stores it: RFC 3339 with nanoseconds, so
/// that it compares exactly after a restart. `None` before 1970.
pub fn format_mtime(modified: Option<SystemTime>) -> Option<String> {
    modified
        .filter(|time| time.duration_since(SystemTime::UNIX_EPOCH).is_ok())
        .map(|time| humantime::format_rfc3339_nanos(time).to_string())
}

/// The files whose latest record holds under `running` (see [`IndexedRecord::holds_under`]),
/// read from the index and the results file in turn.
#[derive(Default)]
struct Seen {
    files: SeenFiles,
    /// Files whose latest record was reached by another model or analysis.
    stale: std::collections::HashSet<PathBuf>,
}

impl Seen {
    fn read(&mut self, file: &File, path: &Path, running: &Provenance) -> io::Result<()> {
        // Split as bytes: a line cut short by a crash may end inside a character.
        for (number, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line?;
            if line.trim_ascii().is_empty() {
                continue;
            }
            let record: IndexedRecord = match serde_json::from_slice(&line) {
                Ok(record) => record,
                Err(err) => {
                    warn!(
                        "{}:{}: not a results record, ignored: {err}",
                        display_path(path),
                        number + 1
                    );
                    continue;
                }
            };
            let (Some(file_path), Some(size)) = (record.exact_path(), record.size) else {
                continue;
            };
            if record.source != FILE_SOURCE {
                continue;
            }
            // The latest record of a path decides.
            if !record.holds_under(running) {
                self.files.remove(&file_path);
                self.stale.insert(file_path);
                continue;
            }
            self.stale.remove(&file_path);
            let modified = record
                .mtime
                .as_deref()
                .and_then(|text| humantime::parse_rfc3339(text).ok());
            self.files
                .insert(file_path, RecordedVersion { size, modified });
        }
        Ok(())
    }

    fn log_stale(&self, path: &Path, running: &Provenance) {
        if !self.stale.is_empty() {
            info!(
                "{}: {} files were last classified by another model or analysis; they are \
                 classified again with {} ({}) when found",
                display_path(path),
                self.stale.len(),
                running.model,
                &running.model_sha256[..running.model_sha256.len().min(12)]
            );
        }
    }
}

fn ends_inside_a_line(file: &mut File) -> io::Result<bool> {
    let length = file.seek(SeekFrom::End(0))?;
    if length == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::AnalysisRules;
    use std::os::unix::ffi::OsStringExt;
    use std::time::Duration;

    #[derive(Serialize)]
    struct Record<'a> {
        source: &'a str,
        path: &'a str,
        size: Option<u64>,
        mtime: Option<String>,
        #[serde(flatten)]
        provenance: Option<Provenance>,
    }

    /// The provenance of a verdict of the model called `model`, under the default windows.
    pub(crate) fn provenance(model: &str) -> Provenance {
        Provenance {
            model: model.to_owned(),
            model_sha256: format!("{:064x}", model.len()),
            analysis: AnalysisRules {
                version: 1,
                window_s: 30.0,
                hop_s: 15.0,
                max_patches: 10,
            },
        }
    }

    fn modified(seconds: u64, nanos: u32) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos))
    }

    #[test]
    fn the_section_defaults_to_a_valid_file_and_refuses_an_empty_path_by_its_key() {
        assert_eq!(ResultsConfig::default().validate(), Ok(()));
        let empty = ResultsConfig {
            path: PathBuf::new(),
        };
        let error = empty.validate().expect_err("an empty path");
        assert_eq!(error.key, "results.path", "{error}");
        let typo = toml::from_str::<ResultsConfig>("file = \"r.jsonl\"").expect_err("typo");
        assert!(typo.to_string().contains("file"), "{typo}");
    }

    #[test]
    fn records_read_back_into_the_restart_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let (mut results, seen) = ResultsFile::open(&path, &provenance("genre-2")).unwrap();
        assert!(seen.is_empty());
        let time = modified(1_700_000_000, 123_456_789);
        results
            .append(&Record {
                source: "file",
                path: "/m/a.wav",
                size: Some(7),
                mtime: format_mtime(time),
                provenance: Some(provenance("genre-2")),
            })
            .unwrap();
        // Without size (an internal failure, to be retried) or from the mic: not indexed.
        results
            .append(&Record {
                source: "file",
                path: "/m/b.wav",
                size: None,
                mtime: None,
                provenance: Some(provenance("genre-2")),
            })
            .unwrap();
        results
            .append(&Record {
                source: "mic",
                path: "default",
                size: Some(1),
                mtime: None,
                provenance: None,
            })
            .unwrap();
        drop(results);
        let (_, seen) = ResultsFile::open(&path, &provenance("genre-2")).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[Path::new("/m/a.wav")],
            RecordedVersion {
                size: 7,
                modified: time
            }
        );
    }

    #[test]
    fn a_line_cut_short_by_a_crash_does_not_swallow_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        fs::write(&path, "{\"source\":\"file\",\"pa").unwrap();
        let (mut results, seen) = ResultsFile::open(&path, &provenance("genre-2")).unwrap();
        assert!(seen.is_empty());
        results
            .append(&Record {
                source: "file",
                path: "/m/a.wav",
                size: Some(1),
                mtime: None,
                provenance: None,
            })
            .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let last = text.lines().last().unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(last).is_ok(),
            "{text}"
        );
        assert!(
            text.starts_with("{\"source\":\"file\",\"pa\n"),
            "the old bytes are kept: {text}"
        );
    }

    #[test]
    fn mtimes_before_1970_are_left_out() {
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(format_mtime(Some(before)), None);
    }

    #[test]
    fn a_name_that_is_not_utf8_is_indexed_under_its_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let line = "{\"source\":\"file\",\"path\":\"/m/caf\u{fffd}.wav\",\"path_bytes\":\"L20vY2Fm6S53YXY=\",\"size\":3,\"error\":\"broken\"}\n";
        fs::write(&path, line).unwrap();
        let (_, seen) = ResultsFile::open(&path, &provenance("genre-2")).unwrap();
        let exact = PathBuf::from(std::ffi::OsString::from_vec(b"/m/caf\xe9.wav".to_vec()));
        assert_eq!(seen.keys().collect::<Vec<_>>(), [&exact]);
    }

    #[test]
    fn a_line_cut_inside_a_character_does_not_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let mut text =
            b"{\"source\":\"file\",\"path\":\"/m/a.wav\",\"size\":1,\"error\":\"broken\"}\n"
                .to_vec();
        text.extend_from_slice(&"{\"path\":\"/m/é".as_bytes()[..14]);
        fs::write(&path, text).unwrap();
        let (_, seen) = ResultsFile::open(&path, &provenance("genre-2")).unwrap();
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn the_index_keeps_what_was_done_when_the_results_file_is_rotated_or_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let running = provenance("genre-2");
        let (mut results, _) = ResultsFile::open(&path, &running).unwrap();
        let record = |path, size| Record {
            source: "file",
            path,
            size: Some(size),
            mtime: None,
            provenance: Some(running.clone()),
        };
        results
            .append_file(&record("/m/a.wav", 1), Some(&record("/m/a.wav", 1)))
            .unwrap();
        // Recorded, but no index entry (a failure that is not the file's own).
        results
            .append_file(&record("/m/b.wav", 2), None::<&Record>)
            .unwrap();
        drop(results);
        fs::rename(&path, dir.path().join("results.jsonl.1")).unwrap();
        let (_, seen) = ResultsFile::open(&path, &running).unwrap();
        assert_eq!(seen.keys().collect::<Vec<_>>(), [Path::new("/m/a.wav")]);
        fs::write(&path, b"").unwrap();
        let (_, seen) = ResultsFile::open(&path, &running).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(index_path(&path), dir.path().join(".results.jsonl.index"));
    }

    #[test]
    fn the_recent_records_are_the_last_whole_ones_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        assert!(recent_records(&path, 5).unwrap().is_empty(), "no file yet");
        fs::write(
            &path,
            "{\"n\":1}\n{\"n\":2}\nnot json\n\n{\"n\":3}\n{\"n\":4",
        )
        .unwrap();
        let recent = recent_records(&path, 2).unwrap();
        assert_eq!(recent, [Arc::from("{\"n\":2}"), Arc::from("{\"n\":3}")]);
        assert_eq!(recent_records(&path, 10).unwrap().len(), 3);
    }

    #[test]
    fn after_a_failed_append_the_next_record_starts_on_a_fresh_line() {
        let full = File::options().append(true).open("/dev/full").unwrap();
        let mut results = ResultsFile::writing_to(Path::new("/dev/full"), full);
        let record = Record {
            source: "file",
            path: "/m/a.wav",
            size: Some(1),
            mtime: None,
            provenance: None,
        };
        let failed = results.append(&record);
        assert!(
            matches!(failed, Err(ResultsError::Append { .. })),
            "{failed:?}"
        );
        // A real file where a failed append left part of a line.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let (mut results, _) = ResultsFile::open(&path, &provenance("genre-2")).unwrap();
        results.results.file.write_all(b"{\"source\":\"fi").unwrap();
        results.results.torn = true;
        results.append(&record).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some("{\"source\":\"file\",\"path\":\"/m/a.wav\",\"size\":1,\"mtime\":null}")
        );
    }

    #[test]
    fn a_verdict_of_another_model_or_analysis_does_not_hold_and_a_files_fault_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let running = provenance("musicnn-genre-10");
        let retrained = Provenance {
            model_sha256: "f".repeat(64),
            ..running.clone()
        };
        let other_hop = Provenance {
            analysis: AnalysisRules {
                hop_s: 10.0,
                ..running.analysis
            },
            ..running.clone()
        };
        let verdict = |path, provenance: &Provenance| {
            let mut record = serde_json::json!({"source": "file", "path": path, "size": 1});
            let fields = serde_json::to_value(provenance).unwrap();
            record
                .as_object_mut()
                .unwrap()
                .extend(fields.as_object().unwrap().clone());
            record.to_string()
        };
        let lines = [
            verdict("/m/current.wav", &running),
            verdict("/m/other-model.wav", &provenance("genre-2")),
            verdict("/m/retrained.wav", &retrained),
            verdict("/m/other-hop.wav", &other_hop),
            // Before provenance was recorded.
            r#"{"source":"file","path":"/m/old.wav","size":1,"model":"genre-2"}"#.to_owned(),
            r#"{"source":"file","path":"/m/broken.wav","size":1,"error":"not audio"}"#.to_owned(),
            // The latest record of a path decides, either way.
            verdict("/m/back.wav", &running),
            verdict("/m/back.wav", &provenance("genre-2")),
            verdict("/m/again.wav", &provenance("genre-2")),
            verdict("/m/again.wav", &running),
        ];
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        let (_, seen) = ResultsFile::open(&path, &running).unwrap();
        let mut held: Vec<_> = seen.keys().map(|p| p.to_str().unwrap()).collect();
        held.sort_unstable();
        assert_eq!(held, ["/m/again.wav", "/m/broken.wav", "/m/current.wav"]);
    }
}
