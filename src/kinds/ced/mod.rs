//! The CED kind (`front_end` `waveform-16k-10s`): CED-Tiny, an AudioSet tagger
//! (`models/ced-tiny.onnx`, converted by `models/training/ced/`), on 10 s waveform units at
//! fixed stream positions ([`frontend`]). It takes `[1, 160000]` (10 s of 16 kHz mono audio)
//! and gives `probabilities` `[1, 527]`, one sigmoid score per AudioSet class, in the order of
//! the `labels` metadata. The graph and its metadata are checked at load, so a wrong file
//! fails there, by name, and never at the first unit.
//!
//! On its own it is a "genre" model whose genres are the 527 classes: a file's verdict is
//! the class with the highest mean score over its units (for music, `Music`), each class's
//! mean score in its probabilities. The scores are independent sigmoids (multi-label): they
//! do not sum to one.

pub mod frontend;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::analysis::{
    Analyzable, Analyzer, Engine, EngineSettings, ModelInfo, UnitModel, UnitOutput,
};
use crate::onnx::{self, ModelError, ModelFault, ModelFile, OnnxModel, Role, LABELS_KEY};

pub use frontend::{WaveformUnits, NAME, SAMPLE_RATE, WINDOW_SAMPLES};

/// AudioSet's classes: the width of `probabilities` and the number of `labels`.
pub const N_CLASSES: usize = 527;

/// The output's ONNX name.
const OUTPUT: &str = "probabilities";

/// What the graph must take, for errors.
const INPUT: &str = "float32 [1, 160000], 10 s of 16 kHz mono waveform";

/// What [`CedTagger::run_window`] and [`UnitModel::infer`] take, for errors.
const UNITS: &str = "waveforms of 160000 samples";

/// Metadata the converted file carries that must agree with the front end where present.
const SAMPLE_RATE_KEY: &str = "sample_rate";
const WINDOW_SAMPLES_KEY: &str = "window_samples";

/// A loaded CED tagger. Load it once and share it between threads: it is `Send + Sync`, and
/// each run has its own tract state.
#[derive(Debug)]
pub struct CedTagger {
    file: ModelFile,
    labels: Vec<String>,
    plan: Arc<TypedSimplePlan>,
}

impl CedTagger {
    /// Loads, validates and optimizes the model at `path`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Self::from_onnx(OnnxModel::read(path, Role::Model)?)
    }

    /// Checks and optimizes a model read as ONNX: the `waveform-16k-10s` front end (and its
    /// `sample_rate` and `window_samples` where declared), 527 distinct `labels`, one float
    /// `[1, 160000]` input and the output `probabilities` `[1, 527]`.
    pub fn from_onnx(model: OnnxModel) -> Result<Self, ModelError> {
        let OnnxModel {
            graph,
            file,
            metadata,
        } = model;
        let checked = validate_metadata(&metadata).and_then(|labels| Ok((labels, plan(graph)?)));
        let (labels, plan) = checked.map_err(|fault| file.error(fault))?;
        Ok(CedTagger { file, labels, plan })
    }

    /// The file the model was loaded from (`ced-tiny`), its name and checksum.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The 527 AudioSet classes, in the order of the scores.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The 527 class scores of one 10 s window: exactly [`WINDOW_SAMPLES`] samples at
    /// [`SAMPLE_RATE`] Hz, mono, ±1 full scale ([`frontend::padded`] makes a shorter
    /// stretch one, zero-padded at its tail).
    pub fn run_window(&self, samples: &[f32]) -> Result<Vec<f32>, ModelError> {
        if samples.len() != WINDOW_SAMPLES {
            return Err(self.file.error(ModelFault::BadUnits {
                expected: UNITS,
                shape: vec![samples.len()],
            }));
        }
        let failed = |err: TractError| self.file.inference_failed(err);
        let input = Tensor::from_shape(&[1, WINDOW_SAMPLES], samples).map_err(failed)?;
        let values = self.plan.run(tvec!(input.into_tvalue())).map_err(failed)?;
        let [value] = values.as_slice() else {
            return Err(failed(TractError::msg(format!(
                "the plan returned {} outputs, expected 1",
                values.len()
            ))));
        };
        let scores: Vec<f32> = value
            .to_plain_array_view::<f32>()
            .map_err(failed)?
            .iter()
            .copied()
            .collect();
        if scores.len() != N_CLASSES {
            return Err(failed(TractError::msg(format!(
                "the plan returned {} scores, expected {N_CLASSES}",
                scores.len()
            ))));
        }
        Ok(scores)
    }
}

/// Loads a CED tagger read as ONNX, for the registry.
pub fn load(model: OnnxModel) -> Result<Arc<dyn Analyzable>, ModelError> {
    Ok(Arc::new(CedTagger::from_onnx(model)?))
}

impl ModelInfo for CedTagger {
    fn file(&self) -> &ModelFile {
        CedTagger::file(self)
    }

    fn labels(&self) -> &[String] {
        CedTagger::labels(self)
    }
}

impl Analyzable for CedTagger {
    fn analyzer(self: Arc<Self>, settings: EngineSettings) -> Box<dyn Analyzer> {
        Box::new(Engine::new(
            WaveformUnits::new(),
            self as Arc<dyn UnitModel<Vec<f32>>>,
            settings,
        ))
    }
}

/// 10 s waveforms, one run each: the 527 class scores as the "genre" probabilities, no tags.
impl UnitModel<Vec<f32>> for CedTagger {
    fn infer(&self, units: &[Vec<f32>]) -> Result<Vec<UnitOutput>, ModelError> {
        units
            .iter()
            .map(|unit| {
                Ok(UnitOutput {
                    genre: self.run_window(unit)?,
                    tags: Vec::new(),
                })
            })
            .collect()
    }
}

/// Checks the metadata (the front end, its rate and width where declared, 527 distinct
/// labels) and returns the labels.
fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<Vec<String>, ModelFault> {
    onnx::check_front_end(metadata, NAME, false)?;
    for (key, expected) in [
        (SAMPLE_RATE_KEY, SAMPLE_RATE.to_string()),
        (WINDOW_SAMPLES_KEY, WINDOW_SAMPLES.to_string()),
    ] {
        match metadata.get(key) {
            Some(declared) if declared.trim() != expected => {
                return Err(ModelFault::BadMetadata {
                    key,
                    reason: format!("is {declared:?}, expected {expected} for front end {NAME:?}"),
                })
            }
            _ => {}
        }
    }
    onnx::labels(metadata, LABELS_KEY, Some(N_CLASSES))
}

/// Checks the input, selects `probabilities` and plans the graph once for one 10 s window.
fn plan(mut graph: InferenceModel) -> Result<Arc<TypedSimplePlan>, ModelFault> {
    onnx::check_float_input(&graph, INPUT, &[Some(1), Some(WINDOW_SAMPLES)])?;
    let outputs = [(OUTPUT, N_CLASSES)];
    onnx::select_outputs(&mut graph, &outputs)?;
    let typed = graph
        .with_input_fact(0, f32::fact([1, WINDOW_SAMPLES]).into())
        .and_then(|graph| graph.into_optimized())
        .map_err(ModelFault::unrunnable)?;
    onnx::check_outputs(&typed, &outputs)?;
    typed.into_runnable().map_err(ModelFault::unrunnable)
}

#[cfg(test)]
mod tests;
