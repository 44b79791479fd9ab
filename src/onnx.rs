//! The one ONNX loading layer, for every model kind: reads a file, says which file it was
//! (name, SHA-256), reads the `metadata_props` a self-describing model carries (`labels`,
//! `front_end`, ...) and checks what every kind checks alike (distinct labels, the declared
//! front end, outputs by name and width). What a kind checks beyond that, and how it plans
//! and runs its graph, is in its own folder under `kinds/`.
//!
//! Every failure is one [`ModelError`]: the model's role and file, said once, and a
//! path-free [`ModelFault`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::builtin;

/// The prefix tract gives the ONNX `metadata_props` among a model's properties.
const METADATA_PREFIX: &str = "onnx.metadata_props.";
/// The metadata key holding the output labels (JSON list of strings).
pub const LABELS_KEY: &str = "labels";
/// The metadata key naming the front end the model takes its input from.
pub const FRONT_END_KEY: &str = "front_end";

/// What a model is to genred, named in its errors: the genre model that judges, or a tagger
/// run on its own (`genred embed`, the conversion checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Model,
    Tagger,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Model => "model",
            Role::Tagger => "tagger",
        })
    }
}

/// The ONNX file a model was loaded from: where it is, the name records give it, and the
/// SHA-256 of its bytes, so that a record says exactly which model judged (a retrained model
/// keeps its name but not its checksum) and a restart knows which results are stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    pub path: PathBuf,
    /// The file stem: `genre-2` for `models/genre-2.onnx`.
    pub name: String,
    /// Lower-case hex.
    pub sha256: String,
    /// What the file was loaded as.
    pub role: Role,
}

impl ModelFile {
    fn of(path: &Path, role: Role, bytes: &[u8]) -> Self {
        ModelFile {
            path: path.to_owned(),
            name: model_name(path),
            sha256: sha256_hex(bytes),
            role,
        }
    }

    /// `fault`, said of this file.
    pub fn error(&self, fault: ModelFault) -> ModelError {
        ModelError {
            role: self.role,
            path: self.path.clone(),
            fault,
        }
    }

    /// A tract failure while running this file's plan.
    pub fn inference_failed(&self, error: TractError) -> ModelError {
        self.error(ModelFault::Inference {
            reason: format!("{error:#}"),
        })
    }
}

/// Why a model could not be loaded or run: `<role> <path>: <fault>`.
#[derive(Debug)]
pub struct ModelError {
    pub role: Role,
    pub path: PathBuf,
    pub fault: ModelFault,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.role, self.path.display(), self.fault)
    }
}

impl std::error::Error for ModelError {
    /// The fault's own cause: the fault itself is already in the message.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.fault)
    }
}

/// What is wrong with a model, without its file (which [`ModelError`] adds once).
#[derive(Debug, thiserror::Error)]
pub enum ModelFault {
    /// The file could not be opened or read.
    #[error("cannot read the file: {cause}")]
    Unreadable { cause: std::io::Error },
    /// The file is empty, truncated or not ONNX.
    #[error("not a usable ONNX model: {reason}")]
    NotOnnx { reason: String },
    /// The graph does not take the one input its kind feeds (`expected` says which).
    #[error("input must be {expected}, {reason}")]
    BadInput {
        expected: &'static str,
        reason: String,
    },
    /// An output is missing or has the wrong shape.
    #[error("output {reason}")]
    BadOutput { reason: String },
    /// A metadata entry is missing or malformed.
    #[error("metadata `{key}` {reason}")]
    BadMetadata { key: &'static str, reason: String },
    /// A label list is well formed but does not have one label per output.
    #[error("metadata `{key}` lists {labels} labels, expected {expected}")]
    LabelCount {
        key: &'static str,
        labels: usize,
        expected: usize,
    },
    /// The model expects other features than genred computes.
    #[error(
        "metadata `feature_names` is not genred's 28 features in the dataset's order (first difference at position {position}: model `{model}`, genred `{genred}`)"
    )]
    FeatureMismatch {
        position: usize,
        model: String,
        genred: String,
    },
    /// tract cannot build a plan for the graph (an unsupported operator, shapes that do not
    /// fit together).
    #[error("tract cannot run it: {reason}")]
    Unrunnable { reason: String },
    /// The units handed to the model do not have the shape it takes.
    #[error("units must be {expected}, got {shape:?}")]
    BadUnits {
        expected: &'static str,
        shape: Vec<usize>,
    },
    /// tract failed while running the plan.
    #[error("inference failed: {reason}")]
    Inference { reason: String },
}

impl ModelFault {
    /// tract could not plan the graph.
    pub fn unrunnable(error: TractError) -> Self {
        ModelFault::Unrunnable {
            reason: format!("{error:#}"),
        }
    }
}

/// An ONNX file as read, not yet checked by its kind.
pub struct OnnxModel {
    pub graph: InferenceModel,
    pub file: ModelFile,
    /// The `metadata_props` entries, without tract's prefix.
    pub metadata: BTreeMap<String, String>,
}

impl OnnxModel {
    /// Reads and parses the ONNX file at `path`, to be loaded as `role`.
    pub fn read(path: &Path, role: Role) -> Result<Self, ModelError> {
        let error = |fault| ModelError {
            role,
            path: path.to_owned(),
            fault,
        };
        let bytes = builtin::read(path).map_err(|cause| error(ModelFault::Unreadable { cause }))?;
        let not_onnx = |reason: String| error(ModelFault::NotOnnx { reason });
        if bytes.is_empty() {
            return Err(not_onnx("the file is empty".to_owned()));
        }
        let graph = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(|err| not_onnx(format!("{err:#}")))?;
        Ok(OnnxModel {
            metadata: metadata_of(&graph),
            file: ModelFile::of(path, role, &bytes),
            graph,
        })
    }

    /// The `front_end` the model declares, if any.
    pub fn front_end(&self) -> Option<&str> {
        self.metadata.get(FRONT_END_KEY).map(String::as_str)
    }
}

/// `models/genre-2.onnx` → `genre-2`.
fn model_name(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The ONNX `metadata_props` entries, without tract's property prefix.
fn metadata_of(model: &InferenceModel) -> BTreeMap<String, String> {
    model
        .properties
        .iter()
        .filter_map(|(key, value)| {
            let key = key.strip_prefix(METADATA_PREFIX)?;
            let value = value.try_as_plain_ram().ok()?.to_scalar::<String>().ok()?;
            Some((key.to_owned(), value.clone()))
        })
        .collect()
}

/// Parses a metadata entry holding a JSON list of strings (`None`: no such entry).
pub fn string_list(
    metadata: &BTreeMap<String, String>,
    key: &'static str,
) -> Result<Option<Vec<String>>, ModelFault> {
    let Some(json) = metadata.get(key) else {
        return Ok(None);
    };
    serde_json::from_str(json)
        .map(Some)
        .map_err(|err| ModelFault::BadMetadata {
            key,
            reason: format!("is not a JSON list of strings: {err}"),
        })
}

/// The required, non-empty list of distinct labels under `key`: two outputs with one name
/// would make the verdict depend on which of them happens to win. `count`, when given, is
/// the number of labels the model's output needs.
pub fn labels(
    metadata: &BTreeMap<String, String>,
    key: &'static str,
    count: Option<usize>,
) -> Result<Vec<String>, ModelFault> {
    let bad = |reason: String| ModelFault::BadMetadata { key, reason };
    let Some(labels) = string_list(metadata, key)? else {
        return Err(bad("is missing".to_owned()));
    };
    if labels.is_empty() {
        return Err(bad("is empty".to_owned()));
    }
    let duplicate = labels
        .iter()
        .enumerate()
        .find_map(|(i, label)| labels[..i].contains(label).then_some((i, label)));
    if let Some((position, label)) = duplicate {
        return Err(bad(format!(
            "lists {label:?} twice (again at position {position}): each output needs its own label"
        )));
    }
    match count {
        Some(expected) if labels.len() != expected => Err(ModelFault::LabelCount {
            key,
            labels: labels.len(),
            expected,
        }),
        _ => Ok(labels),
    }
}

/// The model's `front_end` is `expected`; a model that declares none passes only if
/// `undeclared_ok` (the 28-feature models predate the key).
pub fn check_front_end(
    metadata: &BTreeMap<String, String>,
    expected: &str,
    undeclared_ok: bool,
) -> Result<(), ModelFault> {
    let reason = match metadata.get(FRONT_END_KEY) {
        Some(declared) if declared == expected => return Ok(()),
        None if undeclared_ok => return Ok(()),
        Some(declared) => format!("is {declared:?}"),
        None => "is missing".to_owned(),
    };
    Err(ModelFault::BadMetadata {
        key: FRONT_END_KEY,
        reason: format!("{reason}, expected {expected:?}"),
    })
}

/// The declared shape of the model's one input (`None` where the file leaves a dimension
/// open) and its element type where declared; `expected` describes the input for the error.
pub fn declared_input(
    model: &InferenceModel,
    expected: &'static str,
) -> Result<(Option<DatumType>, Vec<Option<TDim>>), ModelFault> {
    let bad_input = |reason: String| ModelFault::BadInput { expected, reason };
    if model.inputs.len() != 1 {
        return Err(bad_input(format!(
            "the model has {} inputs",
            model.inputs.len()
        )));
    }
    let fact = model
        .input_fact(0)
        .map_err(|err| bad_input(format!("{err:#}")))?;
    let shape = fact.shape.dims().map(|dim| dim.concretize()).collect();
    Ok((fact.datum_type.concretize(), shape))
}

/// One float32 input whose declared shape, where the file declares it, is `dims` (`None`: any
/// size); `expected` describes the input for the error.
pub fn check_float_input(
    model: &InferenceModel,
    expected: &'static str,
    dims: &[Option<usize>],
) -> Result<(), ModelFault> {
    let (datum, declared) = declared_input(model, expected)?;
    let bad_input = |reason: String| ModelFault::BadInput { expected, reason };
    if let Some(datum) = datum {
        if datum != f32::datum_type() {
            return Err(bad_input(format!("the model takes {datum:?}")));
        }
    }
    let fits = |dim: &Option<TDim>, want: &Option<usize>| match (dim, want) {
        (Some(dim), Some(size)) => *dim == (*size).into(),
        _ => true,
    };
    if declared.len() == dims.len() && declared.iter().zip(dims).all(|(d, w)| fits(d, w)) {
        return Ok(());
    }
    Err(bad_input(format!(
        "the model declares [{}]",
        declared
            .iter()
            .map(|dim| dim.as_ref().map_or("?".to_owned(), TDim::to_string))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The SHA-256 of `bytes`, lower-case hex: how records name a model file's content.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Makes the graph's outputs exactly `outputs`, in that order, found by their ONNX names
/// among the declared outputs.
pub fn select_outputs(
    model: &mut InferenceModel,
    outputs: &[(&'static str, usize)],
) -> Result<(), ModelFault> {
    let mut selected = Vec::with_capacity(outputs.len());
    for &(name, _) in outputs {
        let outlet = model
            .find_outlet_label(name)
            .filter(|outlet| model.outputs.contains(outlet))
            .ok_or_else(|| ModelFault::BadOutput {
                reason: format!("`{name}` is not among the model's outputs"),
            })?;
        selected.push(outlet);
    }
    model
        .select_output_outlets(&selected)
        .map_err(ModelFault::unrunnable)?;
    Ok(())
}

/// Each planned output is float `[batch, width]`, `batch` the input's first dimension.
pub fn check_outputs(
    model: &TypedModel,
    outputs: &[(&'static str, usize)],
) -> Result<(), ModelFault> {
    let batch = model
        .input_fact(0)
        .ok()
        .and_then(|fact| fact.shape.iter().next().cloned());
    for (ix, &(name, width)) in outputs.iter().enumerate() {
        let bad = |reason: String| ModelFault::BadOutput {
            reason: format!("`{name}` {reason}"),
        };
        let fact = model
            .output_fact(ix)
            .map_err(|err| bad(format!("{err:#}")))?;
        if fact.datum_type != f32::datum_type() {
            return Err(bad(format!("is {:?}, expected float32", fact.datum_type)));
        }
        let dims: Vec<&TDim> = fact.shape.iter().collect();
        match dims.as_slice() {
            [rows, columns] if Some(*rows) == batch.as_ref() && **columns == width.into() => {}
            _ => {
                return Err(bad(format!(
                    "is {:?}, expected [batch, {width}]",
                    fact.shape
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_with(key: &str, value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(key.to_owned(), value.to_owned())])
    }

    #[test]
    fn labels_must_be_a_non_empty_json_list() {
        let metadata = metadata_with(LABELS_KEY, r#"["pop","classical"]"#);
        assert_eq!(
            labels(&metadata, LABELS_KEY, None).unwrap(),
            ["pop", "classical"]
        );
        for bad in [r#"[]"#, r#""pop""#, "not json"] {
            let err = labels(&metadata_with(LABELS_KEY, bad), LABELS_KEY, None).unwrap_err();
            assert!(
                matches!(
                    err,
                    ModelFault::BadMetadata {
                        key: LABELS_KEY,
                        ..
                    }
                ),
                "{err}"
            );
        }
        let err = labels(&BTreeMap::new(), LABELS_KEY, None).unwrap_err();
        assert!(err.to_string().contains("`labels` is missing"), "{err}");
    }

    #[test]
    fn a_label_listed_twice_is_refused() {
        let metadata = metadata_with(LABELS_KEY, r#"["pop","rock","pop"]"#);
        let err = labels(&metadata, LABELS_KEY, None).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"`labels` lists "pop" twice (again at position 2)"#),
            "{err}"
        );
    }

    #[test]
    fn a_label_count_is_checked_where_the_output_fixes_it() {
        let metadata = metadata_with(LABELS_KEY, r#"["a","b"]"#);
        let err = labels(&metadata, LABELS_KEY, Some(3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metadata `labels` lists 2 labels, expected 3"
        );
    }

    #[test]
    fn an_error_names_the_role_and_the_file_once() {
        let file = ModelFile::of(Path::new("models/t.onnx"), Role::Tagger, b"x");
        let err = file.error(ModelFault::BadMetadata {
            key: FRONT_END_KEY,
            reason: "is missing".to_owned(),
        });
        assert_eq!(
            err.to_string(),
            "tagger models/t.onnx: metadata `front_end` is missing"
        );
        assert_eq!(file.name, "t");
    }

    #[test]
    fn the_front_end_must_be_the_expected_one() {
        let musicnn = "musicnn-mel-16k-96";
        assert!(check_front_end(&metadata_with(FRONT_END_KEY, musicnn), musicnn, false).is_ok());
        assert!(check_front_end(&BTreeMap::new(), "librosa-0.6.1-28", true).is_ok());
        let err = check_front_end(&BTreeMap::new(), musicnn, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metadata `front_end` is missing, expected \"musicnn-mel-16k-96\""
        );
        let err = check_front_end(
            &metadata_with(FRONT_END_KEY, "librosa-0.6.1-28"),
            musicnn,
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("is \"librosa-0.6.1-28\""), "{err}");
    }
}
