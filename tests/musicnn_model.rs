//! The shipped musicnn taggers run by tract against musicnn's own TensorFlow
//! outputs (`../shared/reference/musicnn/values`, not ours to redistribute,
//! which CI always has: a missing file fails the test), and the load-time
//! checks that keep a wrong file from running.

use std::path::{Path, PathBuf};

use genred::kinds::musicnn::tagger::{Tagger, TaggerOutputs, N_MELS, PATCH_FRAMES};
use genred::onnx::ModelFault;
use ndarray::{s, Array2, Array3, ArrayView2, Axis};
use ndarray_npy::read_npy;

const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/musicnn/values"
);

/// The conversion check's tolerances (`models/training/musicnn/convert.py`):
/// tags absolute; embeddings relative to the reference array's largest
/// magnitude (`max_pool` reaches 114, where float32 summation order alone
/// moves the last digits).
const TAGS_TOLERANCE: f32 = 1e-5;
const EMBEDDING_RELATIVE_TOLERANCE: f32 = 1e-5;

/// Each shipped tagger and the name its reference values carry.
const TAGGERS: [(&str, &str); 2] = [
    ("musicnn-msd.onnx", "MSD_musicnn"),
    ("musicnn-mtt.onnx", "MTT_musicnn"),
];

fn model(file: &str) -> PathBuf {
    Path::new(MODELS).join(file)
}

fn npy(path: &Path) -> Array2<f32> {
    read_npy(path).unwrap_or_else(|e| panic!("{}: {e} (tests need ../shared)", path.display()))
}

/// The non-overlapping 187-frame patches of a log-mel, a trailing partial
/// patch dropped (musicnn's own rule).
fn patches(logmel: ArrayView2<f32>) -> Array3<f32> {
    let n = logmel.nrows() / PATCH_FRAMES;
    logmel
        .slice(s![..n * PATCH_FRAMES, ..])
        .to_owned()
        .into_shape_with_order((n, PATCH_FRAMES, N_MELS))
        .unwrap()
}

/// The clips with reference outputs (those with at least one patch), by stem.
fn reference_clips() -> Vec<String> {
    let entries = std::fs::read_dir(REFERENCE)
        .unwrap_or_else(|e| panic!("{REFERENCE}: {e} (tests need ../shared)"));
    let mut clips: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| {
            name.strip_suffix(".MSD_musicnn.tags.npy")
                .map(str::to_owned)
        })
        .collect();
    clips.sort();
    clips
}

/// Largest |got - want| over the array, and that relative to want's largest magnitude.
fn errors(got: &Array2<f32>, want: &Array2<f32>) -> (f32, f32) {
    assert_eq!(got.shape(), want.shape());
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f32::max);
    let scale = want.iter().map(|w| w.abs()).fold(0.0, f32::max);
    (worst, worst / scale)
}

#[test]
fn tract_matches_musicnn_on_the_reference_log_mel() {
    let clips = reference_clips();
    assert!(clips.len() >= 10, "only {} reference clips", clips.len());
    for (file, reference_name) in TAGGERS {
        let tagger = Tagger::load(&model(file)).unwrap();
        let mut worst = [0.0_f32; 4];
        for clip in &clips {
            let logmel = npy(&Path::new(REFERENCE).join(format!("{clip}.logmel.npy")));
            let got = tagger.run(patches(logmel.view()).view()).unwrap();
            let TaggerOutputs {
                tags,
                max_pool,
                mean_pool,
                penultimate,
            } = &got;
            let outputs = [
                ("tags", tags),
                ("max_pool", max_pool),
                ("mean_pool", mean_pool),
                ("penultimate", penultimate),
            ];
            for (i, (output, array)) in outputs.into_iter().enumerate() {
                let want = npy(
                    &Path::new(REFERENCE).join(format!("{clip}.{reference_name}.{output}.npy"))
                );
                let (absolute, relative) = errors(array, &want);
                let (error, tolerance) = if output == "tags" {
                    (absolute, TAGS_TOLERANCE)
                } else {
                    (relative, EMBEDDING_RELATIVE_TOLERANCE)
                };
                assert!(
                    error <= tolerance,
                    "{file} {clip} {output}: error {error:e} over {tolerance:e}"
                );
                worst[i] = worst[i].max(error);
            }
        }
        println!(
            "{file}: {} clips, worst tags {:.1e} abs, max_pool {:.1e}, mean_pool {:.1e}, penultimate {:.1e} rel",
            clips.len(),
            worst[0],
            worst[1],
            worst[2],
            worst[3]
        );
    }
}

#[test]
fn a_patch_gives_the_same_outputs_alone_and_in_a_batch() {
    let tagger = Tagger::load(&model("musicnn-msd.onnx")).unwrap();
    let logmel = npy(&Path::new(REFERENCE).join("blues.00000.logmel.npy"));
    let batch = patches(logmel.view());
    let together = tagger.run(batch.view()).unwrap();
    for (i, patch) in batch.axis_iter(Axis(0)).enumerate().step_by(4) {
        let alone = tagger.run(patch.insert_axis(Axis(0))).unwrap();
        let (error, _) = errors(&alone.tags, &together.tags.slice(s![i..=i, ..]).to_owned());
        assert!(
            error <= TAGS_TOLERANCE,
            "patch {i}: tags differ by {error:e}"
        );
        let (_, relative) = errors(
            &alone.max_pool,
            &together.max_pool.slice(s![i..=i, ..]).to_owned(),
        );
        assert!(
            relative <= EMBEDDING_RELATIVE_TOLERANCE,
            "patch {i}: max_pool differs by {relative:e}"
        );
    }
    assert_eq!(tagger.labels().len(), 50);
    assert_eq!(tagger.labels()[0], "rock");
}

#[test]
fn no_patch_gives_empty_outputs_and_a_wrong_shape_is_refused() {
    let tagger = Tagger::load(&model("musicnn-mtt.onnx")).unwrap();
    let none = tagger
        .run(Array3::zeros((0, PATCH_FRAMES, N_MELS)).view())
        .unwrap();
    assert_eq!(none.tags.dim(), (0, 50));
    assert_eq!(none.max_pool.dim(), (0, 753));
    assert_eq!(none.penultimate.dim(), (0, 200));

    let err = tagger
        .run(Array3::zeros((2, PATCH_FRAMES - 1, N_MELS)).view())
        .unwrap_err();
    assert!(matches!(err.fault, ModelFault::BadUnits { .. }), "{err}");
    assert!(err.to_string().contains("musicnn-mtt.onnx"), "{err}");
    assert!(err.to_string().contains("got [2, 186, 96]"), "{err}");
}

#[test]
fn a_file_that_is_not_a_tagger_is_refused_at_load_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let err = Tagger::load(&empty).unwrap_err();
    assert!(matches!(err.fault, ModelFault::NotOnnx { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("empty.onnx: not a usable ONNX model"),
        "{err}"
    );

    let err = Tagger::load(&dir.path().join("missing.onnx")).unwrap_err();
    assert!(matches!(err.fault, ModelFault::Unreadable { .. }), "{err}");

    // The 28-feature genre model: two labels and no musicnn front end.
    let err = Tagger::load(&model("genre-2.onnx")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "tagger {}: metadata `labels` lists 2 labels, expected 50",
            model("genre-2.onnx").display()
        )
    );
}
