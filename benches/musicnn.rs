//! CPU per 3 s patch of a musicnn tagger run by tract on one thread, on the
//! real patches of a GTZAN clip (`../shared/reference/musicnn/values`).
//!
//! Each figure is the measuring thread's CPU time (not wall time: the machine
//! is shared, and other load only adds wall time) divided by the batch size,
//! so "time" in criterion's report reads as CPU per patch. Two plans are
//! compared: genred's [`Tagger`] (a plan for one patch, patches run one by one,
//! tract's direct spatial convolution off) and the plan tract makes unaided
//! (symbolic batch, default kernels, a batch per run), to show what genred's
//! choices buy. `benches/musicnn_vs_ort.sh` runs this beside onnxruntime.
//!
//! `MUSICNN_MODEL=path.onnx` benches another file (default `models/musicnn-msd.onnx`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use genred::kinds::musicnn::tagger::{Tagger, N_MELS, PATCH_FRAMES};
use ndarray::{s, Array2, Array3};
use tract_onnx::prelude::*;

const DEFAULT_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/musicnn-msd.onnx");
const LOGMEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/musicnn/values/blues.00000.logmel.npy"
);
/// One patch (the microphone's unit) and the patches of a 30 s window.
const BATCH_SIZES: [usize; 2] = [1, 10];

fn model_path() -> PathBuf {
    std::env::var_os("MUSICNN_MODEL").map_or_else(|| PathBuf::from(DEFAULT_MODEL), PathBuf::from)
}

/// The first `n` non-overlapping patches of the clip's log-mel.
fn patches(n: usize) -> Array3<f32> {
    let logmel: Array2<f32> = ndarray_npy::read_npy(LOGMEL)
        .unwrap_or_else(|err| panic!("{LOGMEL}: {err} (benches need ../shared)"));
    logmel
        .slice(s![..n * PATCH_FRAMES, ..])
        .to_owned()
        .into_shape_with_order((n, PATCH_FRAMES, N_MELS))
        .unwrap_or_else(|err| panic!("{LOGMEL}: fewer than {n} patches: {err}"))
}

/// CPU time the calling thread has used so far.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for clock_gettime to write.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Thread CPU per patch of `iterations` runs of `run` on a batch of `batch` patches.
fn cpu_per_patch(iterations: u64, batch: usize, mut run: impl FnMut()) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iterations {
        run();
    }
    (thread_cpu_time() - start) / batch as u32
}

/// The plan tract makes unaided: a symbolic batch size (any number of patches per run)
/// and tract's default kernel choices.
fn default_plan(path: &Path) -> Arc<TypedSimplePlan> {
    tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|model| {
            let batch = TDim::from(model.sym("batch"));
            model.with_input_fact(
                0,
                f32::fact([batch, PATCH_FRAMES.into(), N_MELS.into()]).into(),
            )
        })
        .and_then(|model| model.into_optimized())
        .and_then(|model| model.into_runnable())
        .unwrap_or_else(|err| panic!("{}: {err:#}", path.display()))
}

fn musicnn(c: &mut Criterion) {
    let path = model_path();
    let tagger = Tagger::load(&path).unwrap_or_else(|err| panic!("{err}"));
    let default_plan = default_plan(&path);
    let mut group = c.benchmark_group(format!("{} CPU per patch", tagger.file().name));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for batch in BATCH_SIZES {
        let input = patches(batch);
        group.bench_with_input(BenchmarkId::new("tagger", batch), &input, |b, input| {
            b.iter_custom(|iterations| {
                cpu_per_patch(iterations, batch, || {
                    black_box(
                        tagger
                            .run(black_box(input.view()))
                            .unwrap_or_else(|err| panic!("{err}")),
                    );
                })
            })
        });
        let tensor = Tensor::from(input.clone());
        group.bench_with_input(
            BenchmarkId::new("tract defaults", batch),
            &tensor,
            |b, tensor| {
                b.iter_custom(|iterations| {
                    cpu_per_patch(iterations, batch, || {
                        black_box(
                            default_plan
                                .run(tvec!(tensor.clone().into_tvalue()))
                                .unwrap_or_else(|err| panic!("{err:#}")),
                        );
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, musicnn);
criterion_main!(benches);
