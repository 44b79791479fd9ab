//! musicnn taggers (`models/musicnn-msd.onnx`, `models/musicnn-mtt.onnx`) run
//! by tract.
//!
//! A tagger takes log-mel patches `[n, 187, 96]` (front end
//! [`FRONT_END`], see `models/training/musicnn/README.md`) and returns, per
//! patch, 50 tag probabilities and three embeddings: `max_pool` and `mean_pool`
//! (753 values each, the temporal max and mean of the mid-end features) and
//! `penultimate` (200). Everything is checked at load, from the graph and its
//! `metadata_props`, so that a wrong file fails there, by name, and never at
//! the first patch.
//!
//! The plan is optimized once for a single patch and patches run one by one
//! (see [`patch_plan`] for why; `benches/musicnn.rs` measures it).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ndarray::{Array2, ArrayView3, Axis, Ix2};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::knobs::KnobScope;

use crate::onnx::{self, ModelError, ModelFault, ModelFile, OnnxModel, Role, LABELS_KEY};

/// The patches' shape (frames, mel bands), the front end's own.
pub use super::mel::{N_MELS, PATCH_FRAMES};

/// The front end whose patches the taggers were trained on: the value of the
/// metadata key `front_end`.
pub const FRONT_END: &str = super::mel::NAME;
/// Tags per tagger.
pub const N_TAGS: usize = 50;
/// Width of `max_pool` and `mean_pool` (561 front-end + 3 × 64 mid-end channels).
pub const POOL_WIDTH: usize = 753;
/// Width of `penultimate`.
pub const PENULTIMATE_WIDTH: usize = 200;

/// What a graph on musicnn patches must take, for errors.
const INPUT: &str = "float32 [batch, 187, 96] log-mel patches";

/// What [`run_patches`] takes, for errors.
const PATCHES: &str = "[n, 187, 96]";

/// The graph's outputs, by ONNX name, in [`TaggerOutputs`]' order, with their
/// width.
const OUTPUTS: [(&str, usize); 4] = [
    ("tags", N_TAGS),
    ("max_pool", POOL_WIDTH),
    ("mean_pool", POOL_WIDTH),
    ("penultimate", PENULTIMATE_WIDTH),
];

/// One row per patch, in the order of the patches given to [`Tagger::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaggerOutputs {
    /// `[n, 50]` sigmoid probability of each label ([`Tagger::labels`] order).
    pub tags: Array2<f32>,
    /// `[n, 753]` temporal max of the mid-end features.
    pub max_pool: Array2<f32>,
    /// `[n, 753]` temporal mean of the mid-end features.
    pub mean_pool: Array2<f32>,
    /// `[n, 200]` the dense layer before the output layer.
    pub penultimate: Array2<f32>,
}

/// A loaded musicnn tagger. Load it once and share it between threads: it is
/// `Send + Sync`, and each [`Tagger::run`] has its own tract state.
#[derive(Debug)]
pub struct Tagger {
    file: ModelFile,
    labels: Vec<String>,
    metadata: BTreeMap<String, String>,
    plan: Arc<TypedSimplePlan>,
}

impl Tagger {
    /// Loads, validates and optimizes the tagger at `path`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let OnnxModel {
            graph,
            file,
            metadata,
        } = OnnxModel::read(path, Role::Tagger)?;
        let checked = validate_metadata(&metadata)
            .and_then(|labels| Ok((labels, patch_plan(graph, &OUTPUTS)?)));
        let (labels, plan) = checked.map_err(|fault| file.error(fault))?;
        Ok(Tagger {
            file,
            labels,
            metadata,
            plan,
        })
    }

    /// The file the tagger was loaded from (`musicnn-msd`), its name and checksum.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The 50 tags, in the order of [`TaggerOutputs::tags`]' columns.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// A `metadata_props` entry of the ONNX file (`source`, `licence`, ...).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// Runs the `[n, 187, 96]` log-mel `patches`, one at a time (see [`run_patches`]).
    pub fn run(&self, patches: ArrayView3<'_, f32>) -> Result<TaggerOutputs, ModelError> {
        let [tags, max_pool, mean_pool, penultimate] =
            run_patches(&self.file, &self.plan, &OUTPUTS, patches)?;
        Ok(TaggerOutputs {
            tags,
            max_pool,
            mean_pool,
            penultimate,
        })
    }
}

/// Checks, optimizes and plans a graph on musicnn patches whose outputs are exactly
/// `outputs`, found by their ONNX names, each float `[batch, width]`.
///
/// The plan is for one patch: with a concrete shape tract gathers each convolution's
/// input as the matrix product reads it (lazy im2col) instead of materialising a
/// 12 MB im2col matrix per convolution, which made a patch take about 1.6 times as
/// long under a symbolic batch; running patches one by one also keeps the peak
/// memory at one patch's intermediate tensors (ten at once peaked at 890 MB of RSS).
/// tract's direct spatial convolution, which it would pick for the front end's rows
/// of 187 frames, is turned off for this model: it took about three times as long
/// as the matrix product here (measured on this model, AVX-512 machine).
pub(super) fn patch_plan(
    mut graph: InferenceModel,
    outputs: &[(&'static str, usize)],
) -> Result<Arc<TypedSimplePlan>, ModelFault> {
    onnx::check_float_input(&graph, INPUT, &[None, Some(PATCH_FRAMES), Some(N_MELS)])?;
    onnx::select_outputs(&mut graph, outputs)?;
    let patch = f32::fact([1, PATCH_FRAMES, N_MELS]);
    let knobs = KnobScope::new([(DIRECT_SPATIAL_KNOB, "true")]).map_err(ModelFault::unrunnable)?;
    let typed = graph
        .with_input_fact(0, patch.into())
        .and_then(|graph| knobs.enter(|| graph.into_optimized()))
        .map_err(ModelFault::unrunnable)?;
    onnx::check_outputs(&typed, outputs)?;
    typed.into_runnable().map_err(ModelFault::unrunnable)
}

/// The tract knob that keeps the direct spatial convolution out of a plan (see
/// [`patch_plan`]).
const DIRECT_SPATIAL_KNOB: &str = "TRACT_DISABLE_DIRECT_SPATIAL";

/// Runs the `[n, 187, 96]` log-mel `patches` through `plan` (made by [`patch_plan`] for
/// `outputs`, `N` of them), one patch per run: one `[n, width]` array per output, in that
/// order. No patch gives empty arrays without running the graph.
pub(super) fn run_patches<const N: usize>(
    file: &ModelFile,
    plan: &Arc<TypedSimplePlan>,
    outputs: &[(&'static str, usize); N],
    patches: ArrayView3<'_, f32>,
) -> Result<[Array2<f32>; N], ModelError> {
    let (n, frames, bands) = patches.dim();
    if frames != PATCH_FRAMES || bands != N_MELS {
        return Err(file.error(ModelFault::BadUnits {
            expected: PATCHES,
            shape: patches.shape().to_vec(),
        }));
    }
    let failed = |err: TractError| file.inference_failed(err);
    let mut rows: [Array2<f32>; N] = outputs.map(|(_, width)| Array2::zeros((n, width)));
    for (i, patch) in patches.outer_iter().enumerate() {
        let input = Tensor::from(patch.insert_axis(Axis(0)).to_owned());
        let values = plan.run(tvec!(input.into_tvalue())).map_err(failed)?;
        if values.len() != N {
            return Err(failed(TractError::msg(format!(
                "the plan returned {} outputs, expected {N}",
                values.len()
            ))));
        }
        for (value, output) in values.into_iter().zip(rows.iter_mut()) {
            let row = value
                .into_tensor()
                .into_plain_array::<f32>()
                .and_then(|array| Ok(array.into_dimensionality::<Ix2>()?))
                .map_err(failed)?;
            output.row_mut(i).assign(&row.row(0));
        }
    }
    Ok(rows)
}

/// Checks the metadata a tagger needs (50 distinct `labels`, the musicnn
/// `front_end`) and returns the labels.
fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<Vec<String>, ModelFault> {
    let labels = onnx::labels(metadata, LABELS_KEY, Some(N_TAGS))?;
    onnx::check_front_end(metadata, FRONT_END, false)?;
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(labels: &[String], front_end: Option<&str>) -> BTreeMap<String, String> {
        let mut metadata =
            BTreeMap::from([("labels".to_owned(), serde_json::to_string(labels).unwrap())]);
        if let Some(front_end) = front_end {
            metadata.insert(onnx::FRONT_END_KEY.to_owned(), front_end.to_owned());
        }
        metadata
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("tag{i}")).collect()
    }

    #[test]
    fn metadata_needs_fifty_labels_and_the_musicnn_front_end() {
        let validate = |metadata: &BTreeMap<String, String>| {
            validate_metadata(metadata).map_err(|fault| ModelError {
                role: Role::Tagger,
                path: "t.onnx".into(),
                fault,
            })
        };
        let ok = validate(&metadata(&labels(N_TAGS), Some(FRONT_END))).unwrap();
        assert_eq!(ok, labels(N_TAGS));

        let err = validate(&metadata(&labels(49), Some(FRONT_END))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tagger t.onnx: metadata `labels` lists 49 labels, expected 50"
        );
        let err = validate(&metadata(&labels(N_TAGS), None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tagger t.onnx: metadata `front_end` is missing, expected \"musicnn-mel-16k-96\""
        );
        let err = validate(&metadata(&labels(N_TAGS), Some("librosa-0.6.1-28"))).unwrap_err();
        assert!(err.to_string().contains("is \"librosa-0.6.1-28\""), "{err}");

        let mut twice = labels(N_TAGS);
        twice[7] = twice[3].clone();
        let err = validate(&metadata(&twice, Some(FRONT_END))).unwrap_err();
        assert!(err.to_string().contains("\"tag3\" twice"), "{err}");
    }
}
