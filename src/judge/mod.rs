//! The judge: what genred concludes about a file from the models that heard it.
//!
//! A judge is one genre model judging alone (any model file: its most probable label is the
//! genre). The kinds below it each say what their model heard; the judge turns that into
//! the file's report, and the sinks record it.

mod report;

use std::path::{Path, PathBuf};

use crate::analysis::{AnalysisError, Analyzer, EngineSettings, FileAnalyzer};
use crate::kinds::GenreModel;
use crate::onnx::{ModelError, ModelFile};
use crate::record::{FileReport, Provenance, WithPath};
use crate::window::WindowSpec;

/// What judges files and the microphone. Cheap to clone (the models are shared).
#[derive(Clone, Debug)]
pub struct Judge {
    genre: GenreModel,
}

impl Judge {
    /// The judge the `[model]` section's `path` names: a genre model file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Ok(Judge {
            genre: GenreModel::load(path)?,
        })
    }

    /// The judge of one model already loaded.
    pub fn of(genre: GenreModel) -> Self {
        Judge { genre }
    }

    /// The genre model's file, its name in records and its checksum.
    pub fn file(&self) -> &ModelFile {
        self.genre.file()
    }

    /// Where the judge was loaded from.
    pub fn path(&self) -> &PathBuf {
        &self.genre.file().path
    }

    /// The genres it tells apart.
    pub fn labels(&self) -> &[String] {
        self.genre.labels()
    }

    /// What a verdict of this judge under `windows` is reached with.
    pub fn provenance(&self, windows: &WindowSpec) -> Provenance {
        self.genre.provenance(windows)
    }

    /// An engine for a live stream: the genre model on its own front end.
    pub fn analyzer(&self, settings: EngineSettings) -> Box<dyn Analyzer> {
        self.genre.analyzer(settings)
    }

    /// Judges files one at a time under `windows` (one per worker thread).
    pub fn file_judge(&self, windows: WindowSpec) -> FileJudge {
        FileJudge {
            analyzer: FileAnalyzer::new(&[self.genre.shared()], windows),
            provenance: self.provenance(&windows),
        }
    }
}

/// Judges files, one at a time; each worker thread owns one.
pub struct FileJudge {
    analyzer: FileAnalyzer,
    /// Recorded with every report.
    provenance: Provenance,
}

impl FileJudge {
    /// The report of the file at `path`, or why it got none.
    pub fn classify(&mut self, path: &Path) -> Result<FileReport, WithPath<AnalysisError>> {
        let [verdict] = one_per_model(self.analyzer.analyze(path)?);
        Ok(report::single_model(path, verdict, self.provenance.clone()))
    }
}

/// The verdicts of an analyzer of `N` models, one per model in their order (its contract).
fn one_per_model<T, const N: usize>(verdicts: Vec<T>) -> [T; N] {
    match verdicts.try_into() {
        Ok(verdicts) => verdicts,
        Err(verdicts) => unreachable!("{} verdicts for {N} models", verdicts.len()),
    }
}
