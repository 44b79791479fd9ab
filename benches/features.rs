//! Full 28-feature extraction of one 30 s, 22050 Hz clip (a real GTZAN clip from ../shared),
//! with a reused `Extractor` as `genred features` and the workers use it; and one live
//! window update of the incremental extractor (10 s window, ~3 s hop).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use genred::audio::{load, LoadOptions};
use genred::features::{Extractor, IncrementalExtractor, HOP_LENGTH, SAMPLE_RATE};

const CLIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/gtzan-audio/blues.00000.wav"
);

fn thirty_seconds() -> Vec<f32> {
    let options = LoadOptions {
        max_duration_s: Some(30.0),
        sample_rate: None,
    };
    match load(Path::new(CLIP), options) {
        Ok(clip) => clip.samples,
        Err(e) => panic!("{e} (the benchmark reads ../shared)"),
    }
}

fn full_extraction(c: &mut Criterion) {
    let samples = thirty_seconds();
    let mut extractor = Extractor::new();
    c.bench_function("extract 30 s clip", |b| {
        b.iter(|| extractor.extract(black_box(&samples)))
    });
}

fn live_window_update(c: &mut Criterion) {
    let window = 10 * SAMPLE_RATE as usize;
    let hop = 129 * HOP_LENGTH;
    // An endless stream: the clip played in a loop.
    let mut stream = thirty_seconds().into_iter().cycle();
    let mut next_block = move |len: usize| stream.by_ref().take(len).collect::<Vec<f32>>();
    let mut incremental = IncrementalExtractor::new(window);
    incremental.push(&next_block(window));
    c.bench_function("incremental 10 s window, 3 s hop", |b| {
        b.iter_batched(
            || next_block(hop),
            |block| {
                incremental.push(&block);
                incremental.extract()
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, full_extraction, live_window_update);
criterion_main!(benches);
