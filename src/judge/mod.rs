//! The judge: what genred concludes about a file from the models that heard it.
//!
//! A judge is either one genre model judging alone (any model file: its most probable label
//! is the genre), or a fused judge (a recipe, `models/judge-10.json`): a genre model with
//! tags and a sound-event model hear the same audio, a content gate says whether it is
//! music at all, and the fusion of both names the genre with a calibrated confidence
//! ([`fused`]). The kinds below each say what their model heard; the judge turns that into
//! the file's report, and the sinks record it.

mod config;
mod fused;
mod recipe;
mod report;

use std::path::Path;
use std::sync::Arc;

use crate::analysis::{self, AnalysisError, Analyzer, EngineSettings, FileAnalyzer};
use crate::builtin;
use crate::kinds::GenreModel;
use crate::onnx;
use crate::record::{
    Content, FileReport, Judgement, Probabilities, Provenance, WindowVerdict, WithPath,
};
use crate::window::WindowSpec;

pub use config::{ModelConfig, DEFAULT_MODEL};
pub use fused::{Conclusion, Fusion};
pub use recipe::{JudgeError, Recipe};

/// What judges files and the microphone. Cheap to clone (the models are shared).
#[derive(Clone, Debug)]
pub struct Judge {
    /// The genre model: alone, or the fused judge's genre model with tags.
    genre: GenreModel,
    fused: Option<Arc<Fused>>,
    /// Overrides the recipe's `min_confidence` (`[model] min_confidence`).
    min_confidence: Option<f32>,
}

/// A fused judge's parts besides its genre model.
#[derive(Debug)]
struct Fused {
    hearing: GenreModel,
    fusion: Fusion,
    /// The recipe's name (its file stem) and the SHA-256 of its bytes.
    name: String,
    sha256: String,
}

impl Judge {
    /// The judge the `[model]` section's `path` names: a fused judge's recipe (`.json`) or a
    /// genre model file judging alone.
    pub fn load(path: &Path) -> Result<Self, JudgeError> {
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            return Self::load_fused(path);
        }
        Ok(Judge::of(GenreModel::load(path)?))
    }

    /// The judge `[model]` configures: [`Judge::load`] with its `min_confidence`, if set.
    pub fn from_config(config: &ModelConfig) -> Result<Self, JudgeError> {
        let mut judge = Self::load(&config.path)?;
        judge.min_confidence = config.min_confidence;
        Ok(judge)
    }

    /// The judge of one model already loaded.
    pub fn of(genre: GenreModel) -> Self {
        Judge {
            genre,
            fused: None,
            min_confidence: None,
        }
    }

    fn load_fused(path: &Path) -> Result<Self, JudgeError> {
        let bytes = builtin::read(path).map_err(|cause| JudgeError::Unreadable {
            path: path.to_owned(),
            cause,
        })?;
        let recipe = Recipe::parse(path, &bytes)?;
        let folder = path.parent().unwrap_or(Path::new("."));
        let load = |role: &'static str, model: &recipe::ModelRef| {
            let loaded = GenreModel::load(&folder.join(&model.file))?;
            if loaded.file().sha256 != model.sha256 {
                return Err(JudgeError::NotItsModel {
                    path: path.to_owned(),
                    role,
                    model: loaded.file().path.clone(),
                    found: loaded.file().sha256.clone(),
                    expected: model.sha256.clone(),
                });
            }
            Ok(loaded)
        };
        let genre = load("genre", &recipe.models.genre)?;
        let hearing = load("sound-event", &recipe.models.hearing)?;
        let fusion = Fusion::new(
            recipe,
            genre.labels(),
            genre.tag_vocabularies(),
            hearing.labels(),
        )
        .map_err(|reason| JudgeError::Malformed {
            path: path.to_owned(),
            reason,
        })?;
        let name = path.file_stem().map_or_else(
            || "judge".to_owned(),
            |stem| stem.to_string_lossy().into_owned(),
        );
        let sha256 = onnx::sha256_hex(&bytes);
        Ok(Judge {
            genre,
            min_confidence: None,
            fused: Some(Arc::new(Fused {
                hearing,
                fusion,
                name,
                sha256,
            })),
        })
    }

    /// The name records give the judge: the recipe's or the model's file stem.
    pub fn name(&self) -> &str {
        match &self.fused {
            Some(fused) => &fused.name,
            None => &self.genre.file().name,
        }
    }

    /// The genres it tells apart.
    pub fn labels(&self) -> &[String] {
        self.genre.labels()
    }

    /// What a verdict of this judge under `windows` is reached with: for a fused judge, the
    /// recipe by name and SHA-256 (which names its models' SHA-256s in turn).
    pub fn provenance(&self, windows: &WindowSpec) -> Provenance {
        match &self.fused {
            None => self.genre.provenance(windows),
            Some(fused) => analysis::provenance(&fused.name, &fused.sha256, windows),
        }
    }

    /// An engine for a live stream: the genre model on its own front end.
    pub fn analyzer(&self, settings: EngineSettings) -> Box<dyn Analyzer> {
        self.genre.analyzer(settings)
    }

    /// An engine for a live stream that hears what it holds (a fused judge's sound-event
    /// model), `None` for a model judging alone.
    pub fn hearing_analyzer(&self, settings: EngineSettings) -> Option<Box<dyn Analyzer>> {
        Some(self.fused.as_ref()?.hearing.analyzer(settings))
    }

    /// What a window of the hearing engine holds: a window too quiet to be judged is silence.
    pub fn hear(&self, window: &WindowVerdict) -> Option<(Content, Probabilities)> {
        let fused = self.fused.as_ref()?;
        Some(match &window.judgement {
            Some(judgement) => fused.fusion.hear(&judgement.probabilities),
            None => (Content::Silence, Probabilities::default()),
        })
    }

    /// A live window's genre judgement fused with what the sound-event model heard over the
    /// same stretch (`heard`: its scores, in its label order): the calibrated genre
    /// probabilities a file would get. `None` for a model judging alone.
    pub fn fuse(&self, genre: &Judgement, heard: &Probabilities) -> Option<Probabilities> {
        Some(self.fused.as_ref()?.fusion.probabilities(genre, heard))
    }

    /// Judges files one at a time under `windows` (one per worker thread).
    pub fn file_judge(&self, windows: WindowSpec) -> FileJudge {
        let mut models = vec![self.genre.shared()];
        models.extend(self.fused.iter().map(|fused| fused.hearing.shared()));
        FileJudge {
            analyzer: FileAnalyzer::new(&models, windows),
            provenance: self.provenance(&windows),
            fused: self.fused.clone(),
            min_confidence: self.min_confidence,
        }
    }
}

/// Judges files, one at a time; each worker thread owns one.
pub struct FileJudge {
    analyzer: FileAnalyzer,
    /// Recorded with every report.
    provenance: Provenance,
    fused: Option<Arc<Fused>>,
    min_confidence: Option<f32>,
}

impl FileJudge {
    /// The report of the file at `path`, or why it got none.
    pub fn classify(&mut self, path: &Path) -> Result<FileReport, WithPath<AnalysisError>> {
        let verdicts = self.analyzer.analyze(path)?;
        let Some(fused) = &self.fused else {
            let [verdict] = one_per_model(verdicts);
            return Ok(report::single_model(path, verdict, self.provenance.clone()));
        };
        let [genre, hearing] = one_per_model(verdicts);
        let conclusion = fused.fusion.conclude(
            &genre.judgement,
            &hearing.judgement.probabilities,
            self.min_confidence,
        );
        let conclude = |genre: &Judgement, hearing: &Probabilities| {
            fused.fusion.conclude(genre, hearing, self.min_confidence)
        };
        Ok(report::fused(
            path,
            genre,
            &hearing,
            conclusion,
            conclude,
            self.provenance.clone(),
        ))
    }
}

/// The verdicts of an analyzer of `N` models, one per model in their order (its contract).
fn one_per_model<T, const N: usize>(verdicts: Vec<T>) -> [T; N] {
    match verdicts.try_into() {
        Ok(verdicts) => verdicts,
        Err(verdicts) => unreachable!("{} verdicts for {N} models", verdicts.len()),
    }
}
