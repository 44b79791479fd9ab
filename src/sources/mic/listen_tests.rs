//! The microphone's worker rules (pacing, stall watchdog, backlog, dropped frames,
//! reconnecting with backoff) on a real GTZAN clip played into the capture ring by a test
//! input, at ten times real time with the timing scaled to match; and the worker with the
//! musicnn model, which must infer each 3 s patch once. The real device is tests/mic.rs.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cpal::SampleFormat;
use crossbeam_channel::Sender;
use ndarray::{s, Axis};

use super::capture::{AudioInput, Capture, CaptureError, RingFeed, StreamFormat};
use super::predictor::WindowPredictor;
use super::*;
use crate::audio::{self, LoadOptions};
use crate::features::SAMPLE_RATE;
use crate::judge::Judge;
use crate::kinds::musicnn::mel::{self as musicnn_mel, DEFAULT_PATCH_HOP};
use crate::kinds::musicnn::patches::PATCH_SAMPLES;
use crate::kinds::musicnn::MusicnnGenre;
use crate::kinds::GenreModel;
use crate::record::Judgement;
use crate::test_data::{FIXTURES, MODELS};

/// How much faster than real time the test input plays.
const SPEED: u32 = 10;

/// [`Timing::LIVE`] for a device playing [`SPEED`] times faster: wall-clock durations
/// shrink by that factor, the pace a device may keep grows by it; the backlog is audio
/// time and stays.
const FAST: Timing = Timing {
    poll: Duration::from_millis(50 / SPEED as u64),
    pacing_check: Duration::from_millis(500 / SPEED as u64),
    max_pace_ratio: 2.0 * SPEED as f64,
    stall_timeout: Duration::from_millis(2000 / SPEED as u64),
    first_retry_delay: Duration::from_millis(100 / SPEED as u64),
    max_retry_delay: Duration::from_millis(800 / SPEED as u64),
    drop_report_interval: Duration::from_secs(10 / SPEED as u64),
    max_backlog: Timing::LIVE.max_backlog,
};

/// Frames the test input delivers at a time, like an audio callback's period.
const PERIOD_FRAMES: usize = 1024;

/// The first 30 s of a GTZAN clip, mono at `rate`.
fn clip(name: &str, rate: u32) -> Arc<Vec<f32>> {
    let path = Path::new(FIXTURES).join(name);
    let clip = audio::load(
        &path,
        LoadOptions {
            max_duration_s: Some(30.0),
            sample_rate: Some(rate),
        },
    )
    .unwrap_or_else(|e| panic!("{e} (tests need ../shared)"));
    Arc::new(clip.samples)
}

fn model(file: &str) -> Judge {
    Judge::load(&Path::new(MODELS).join(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// What the test device does when it is opened.
enum Opening {
    /// No such device.
    Missing,
    /// Plays `audio` at [`SPEED`] times real time, then does what `then` says.
    Plays {
        audio: Arc<Vec<f32>>,
        then: AfterPlaying,
    },
    /// Hands over all of `audio` at once, as a device without a clock does.
    Floods(Arc<Vec<f32>>),
}

#[derive(Clone, Copy)]
enum AfterPlaying {
    /// The stream stays open and delivers nothing (a frozen audio server).
    Stalls,
    /// The stream reports an error (the server went away).
    Fails,
}

/// A device that plays prepared audio into the capture ring, one [`Opening`] per open
/// (missing once they run out), at `rate` Hz.
struct PlayedInput {
    rate: u32,
    openings: VecDeque<Opening>,
    /// When each open was attempted.
    attempts: Vec<Instant>,
}

impl PlayedInput {
    fn new(rate: u32, openings: impl IntoIterator<Item = Opening>) -> Self {
        Self {
            rate,
            openings: openings.into_iter().collect(),
            attempts: Vec::new(),
        }
    }
}

impl AudioInput for PlayedInput {
    fn open(&mut self, device: &str) -> Result<Capture, CaptureError> {
        self.attempts.push(Instant::now());
        let format = StreamFormat {
            sample_rate: self.rate,
            channels: 1,
            sample_format: SampleFormat::F32,
        };
        match self.openings.pop_front().unwrap_or(Opening::Missing) {
            Opening::Missing => Err(CaptureError::NotFound {
                device: device.to_owned(),
                available: String::new(),
            }),
            Opening::Floods(audio) => Capture::start(format, |mut feed| {
                feed.deliver(&audio);
                Ok(feed)
            }),
            Opening::Plays { audio, then } => Capture::start(format, |feed| {
                Ok(Player::start(feed, audio, self.rate, then))
            }),
        }
    }
}

/// The audio thread of a [`PlayedInput`] stream; stopped when the capture drops it.
struct Player {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Player {
    fn start(mut feed: RingFeed, audio: Arc<Vec<f32>>, rate: u32, then: AfterPlaying) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let frames_per_second = f64::from(rate * SPEED);
        let thread = thread::spawn(move || {
            let started = Instant::now();
            let mut delivered = 0;
            while delivered < audio.len() && !stopped.load(Ordering::Relaxed) {
                let due = (started.elapsed().as_secs_f64() * frames_per_second) as usize;
                let end = due.min(audio.len());
                if end > delivered {
                    for period in audio[delivered..end].chunks(PERIOD_FRAMES) {
                        feed.deliver(period);
                    }
                    delivered = end;
                }
                thread::sleep(Duration::from_millis(2));
            }
            if let AfterPlaying::Fails = then {
                feed.health()
                    .record_error(cpal::Error::new(cpal::ErrorKind::DeviceNotAvailable));
            }
            while !stopped.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(2));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Log lines, kept in order while a test runs on its thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|lines| lines.clone()).unwrap_or_default()
    }

    fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }
}

impl io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(String::from_utf8_lossy(bytes).into_owned());
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// What one [`listen`] gave.
struct Listened {
    result: Result<(), MicError>,
    /// Each prediction and when it came.
    predictions: Vec<(Instant, MicVerdict)>,
    logs: Logs,
    started: Instant,
}

/// Runs the worker on `input` with the [`FAST`] timing until `wanted` predictions came
/// (or it returns by itself); `on_prediction` runs as each one arrives.
fn listen(
    input: &mut PlayedInput,
    model: &Judge,
    config: &MicConfig,
    policy: StartPolicy,
    wanted: usize,
    mut on_prediction: impl FnMut(&MicVerdict),
) -> Listened {
    let listener = Listener {
        config,
        model,
        timing: FAST,
        policy,
    };
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let (stop, shutdown) = crossbeam_channel::bounded::<()>(0);
    let mut stop: Option<Sender<()>> = Some(stop);
    let mut predictions = Vec::new();
    let started = Instant::now();
    let result = tracing::subscriber::with_default(subscriber, || {
        listener.run(input, &shutdown, &mut |prediction| {
            on_prediction(&prediction);
            predictions.push((Instant::now(), prediction));
            if predictions.len() >= wanted {
                // Disconnecting is the shutdown signal.
                stop.take();
            }
        })
    });
    Listened {
        result,
        predictions,
        logs,
        started,
    }
}

fn windows(predictions: &[(Instant, MicVerdict)]) -> Vec<(f64, bool)> {
    predictions
        .iter()
        .map(|(_, p)| ((window_s(p) * 100.0).round() / 100.0, p.verdict.provisional))
        .collect()
}

fn window_s(heard: &MicVerdict) -> f64 {
    heard.verdict.window.length_s()
}

/// What the model said of a window of music.
fn judgement(heard: &MicVerdict) -> &Judgement {
    heard
        .verdict
        .window
        .judgement
        .as_ref()
        .unwrap_or_else(|| panic!("the clip is playing, yet silence: {heard:?}"))
}

/// The windows of the default config over a 30 s clip: the first, provisional, after
/// 10 s, then every 5 s hop (215 STFT hops of 512 at 22050 Hz: 4.9923 s), to 0.01 s.
const CLIP_WINDOWS: [(f64, bool); 5] = [
    (10.0, true),
    (14.99, true),
    (19.98, true),
    (24.98, true),
    (29.97, true),
];

#[test]
fn a_clip_played_into_the_ring_is_judged_every_hop_as_if_fed_directly() {
    let audio = clip("classical.00000.wav", SAMPLE_RATE);
    let model = model("genre-2.onnx");
    let config = MicConfig::default();
    let mut input = PlayedInput::new(
        SAMPLE_RATE,
        [Opening::Plays {
            audio: Arc::clone(&audio),
            then: AfterPlaying::Stalls,
        }],
    );
    let listened = listen(
        &mut input,
        &model,
        &config,
        StartPolicy::FailFast,
        CLIP_WINDOWS.len(),
        |_| {},
    );
    assert!(listened.result.is_ok(), "{:?}", listened.result);
    assert_eq!(windows(&listened.predictions), CLIP_WINDOWS);
    assert_eq!(listened.logs.count("mic: listening on input device"), 1);

    // The first prediction comes once 10 s of audio have been played.
    let (first_at, _) = &listened.predictions[0];
    let first_after = first_at.duration_since(listened.started).as_secs_f64() * f64::from(SPEED);
    assert!(
        (10.0..12.0).contains(&first_after),
        "first prediction after {first_after:.2} s of audio"
    );

    // The ring and the pacing change nothing: the same as the predictor fed the clip.
    let mut direct = Vec::new();
    let mut predictor =
        WindowPredictor::new(&config, &model, SAMPLE_RATE).unwrap_or_else(|e| panic!("{e}"));
    predictor.feed(&audio, 0, &mut |p| direct.push(p));
    assert_eq!(direct.len(), CLIP_WINDOWS.len());
    for ((_, played), direct) in listened.predictions.iter().zip(&direct) {
        assert_eq!(played.dropped_samples, 0, "{played:?}");
        assert_eq!(played.best().map(|(genre, _)| genre), Some("classical"));
        assert_eq!(
            judgement(played).probabilities,
            judgement(direct).probabilities
        );
        assert_eq!(played.verdict.smoothed, direct.verdict.smoothed);
        assert!(judgement(played).tags.is_empty(), "genre-2 has no tags");
    }
}

#[test]
fn a_device_without_a_clock_or_without_audio_is_refused() {
    let audio = clip("blues.00000.wav", SAMPLE_RATE);
    let model = model("genre-2.onnx");
    let config = MicConfig::default();
    let mut flooding = PlayedInput::new(SAMPLE_RATE, [Opening::Floods(Arc::clone(&audio))]);
    let listened = listen(
        &mut flooding,
        &model,
        &config,
        StartPolicy::FailFast,
        1,
        |_| {},
    );
    let error = listened.result.expect_err("no clock");
    assert!(
        matches!(error, MicError::Unusable { .. }) && error.to_string().contains("no clock"),
        "{error}"
    );
    assert!(listened.predictions.is_empty());

    let mut silent = PlayedInput::new(
        SAMPLE_RATE,
        [Opening::Plays {
            audio: Arc::new(Vec::new()),
            then: AfterPlaying::Stalls,
        }],
    );
    let listened = listen(
        &mut silent,
        &model,
        &config,
        StartPolicy::FailFast,
        1,
        |_| {},
    );
    let error = listened.result.expect_err("no audio");
    assert!(
        error.to_string().contains("delivered no audio in 0.2 s"),
        "{error}"
    );
}

#[test]
fn a_missing_device_fails_fast_or_is_retried_with_doubling_waits() {
    let model = model("genre-2.onnx");
    let config = MicConfig::default();
    let mut missing = PlayedInput::new(SAMPLE_RATE, [Opening::Missing]);
    let listened = listen(
        &mut missing,
        &model,
        &config,
        StartPolicy::FailFast,
        1,
        |_| {},
    );
    assert!(
        matches!(listened.result, Err(MicError::NoInput { .. })),
        "{:?}",
        listened.result
    );
    assert_eq!(missing.attempts.len(), 1);

    let audio = clip("blues.00000.wav", SAMPLE_RATE);
    let missing_five_times = (0..5).map(|_| Opening::Missing);
    let mut late = PlayedInput::new(
        SAMPLE_RATE,
        missing_five_times.chain([Opening::Plays {
            audio,
            then: AfterPlaying::Stalls,
        }]),
    );
    let listened = listen(&mut late, &model, &config, StartPolicy::Retry, 1, |_| {});
    assert!(listened.result.is_ok(), "{:?}", listened.result);
    assert_eq!(listened.predictions.len(), 1);
    assert_eq!(late.attempts.len(), 6);
    // 10, 20, 40 ms, then capped at 80 ms.
    let expected_ms = [10, 20, 40, 80, 80];
    for (gap, expected) in late.attempts.windows(2).zip(expected_ms) {
        let waited = gap[1].duration_since(gap[0]);
        let expected = Duration::from_millis(expected);
        assert!(
            waited >= expected && waited < expected + Duration::from_millis(150),
            "waited {waited:?}, expected {expected:?}"
        );
    }
    assert_eq!(
        listened.logs.count("retrying"),
        1,
        "an outage is logged once: {:?}",
        listened.logs.lines()
    );
}

#[test]
fn a_stalled_or_failed_stream_is_reopened_and_its_losses_carried_on() {
    let audio = clip("classical.00000.wav", SAMPLE_RATE);
    let model = model("genre-2.onnx");
    let config = MicConfig::default();
    let first_seconds = |seconds: usize| Arc::new(audio[..seconds * SAMPLE_RATE as usize].to_vec());
    let mut input = PlayedInput::new(
        SAMPLE_RATE,
        [
            Opening::Plays {
                audio: first_seconds(12),
                then: AfterPlaying::Stalls,
            },
            Opening::Plays {
                audio: first_seconds(11),
                then: AfterPlaying::Fails,
            },
            Opening::Plays {
                audio: Arc::clone(&audio),
                then: AfterPlaying::Stalls,
            },
        ],
    );
    let listened = listen(
        &mut input,
        &model,
        &config,
        StartPolicy::FailFast,
        3,
        |_| {},
    );
    assert!(listened.result.is_ok(), "{:?}", listened.result);
    // Each stream is a new window: provisional after 10 s again.
    assert_eq!(
        windows(&listened.predictions),
        [(10.0, true), (10.0, true), (10.0, true)]
    );
    assert_eq!(input.attempts.len(), 3);
    let logs = &listened.logs;
    assert_eq!(logs.count("no audio for 0.2 s (stalled); reconnecting"), 1);
    assert_eq!(logs.count("stream error:"), 1, "{:?}", logs.lines());
    assert_eq!(logs.count("is back"), 2);
    assert!(listened
        .predictions
        .iter()
        .all(|(_, p)| p.dropped_samples == 0));
}

#[test]
fn a_worker_far_behind_skips_the_backlog_and_counts_it_as_dropped() {
    let audio = clip("blues.00000.wav", SAMPLE_RATE);
    let model = model("genre-2.onnx");
    let config = MicConfig::default();
    let mut input = PlayedInput::new(
        SAMPLE_RATE,
        [Opening::Plays {
            audio,
            then: AfterPlaying::Stalls,
        }],
    );
    // The first prediction's consumer blocks for 8 s of audio: more than the 5 s backlog.
    let mut blocked = false;
    let listened = listen(
        &mut input,
        &model,
        &config,
        StartPolicy::FailFast,
        2,
        |_| {
            if !blocked {
                blocked = true;
                thread::sleep(Duration::from_millis(8000 / u64::from(SPEED)));
            }
        },
    );
    assert!(listened.result.is_ok(), "{:?}", listened.result);
    let [(_, first), (_, second)] = &listened.predictions[..] else {
        panic!("{} predictions", listened.predictions.len())
    };
    assert_eq!(first.dropped_samples, 0);
    let dropped_s = second.dropped_samples as f64 / f64::from(SAMPLE_RATE);
    assert!(
        (5.0..10.0).contains(&dropped_s),
        "{dropped_s:.2} s skipped to catch up"
    );
    // The skipped audio is not in the window: it still ends a hop after the first.
    assert!(window_s(second) > window_s(first), "{second:?}");
}

#[test]
fn a_full_ring_drops_the_newest_frames_and_counts_them() {
    // At 1 Hz the ring holds RING_SECONDS frames.
    let format = StreamFormat {
        sample_rate: 1,
        channels: 1,
        sample_format: SampleFormat::F32,
    };
    let mut capture = Capture::start(format, |mut feed| {
        let frames: Vec<f32> = (0..15).map(|n| n as f32).collect();
        feed.deliver(&frames);
        Ok(feed)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(capture.health.delivered_frames(), 15);
    assert_eq!(capture.health.dropped_frames(), 5);
    let mut kept = [0.0; 15];
    let count = ringbuf::traits::Consumer::pop_slice(&mut capture.frames, &mut kept);
    let expected: Vec<f32> = (0..10).map(|n| n as f32).collect();
    assert_eq!(kept[..count], expected[..], "the oldest are kept");
}

/// The first provisional window at 10 s, then 5 s hops (313 mel hops of 256 at 16 kHz,
/// 5.008 s): three windows in 21 s of audio.
const MUSICNN_AUDIO_S: usize = 21;

/// Outputs of the streamed windows and of the model run on the clip's patches at once.
const MUSICNN_TOLERANCE: f32 = 1e-5;

#[test]
fn with_musicnn_each_patch_is_inferred_once_and_a_window_is_the_mean_of_its_patches() {
    let rate = musicnn_mel::SAMPLE_RATE;
    let audio = clip("blues.00000.wav", rate);
    let audio = &audio[..MUSICNN_AUDIO_S * rate as usize];
    let path = Path::new(MODELS).join("musicnn-genre-10.onnx");
    let musicnn = Arc::new(MusicnnGenre::load(&path).unwrap_or_else(|e| panic!("{e}")));
    let model = Judge::of(GenreModel::from(Arc::clone(&musicnn)));
    let mut predictor =
        WindowPredictor::new(&MicConfig::default(), &model, rate).unwrap_or_else(|e| panic!("{e}"));
    // Blocks of a capture period: a window ends in one block at most.
    let mut predictions = Vec::new();
    let mut inferred_by_window = Vec::new();
    for block in audio.chunks(PERIOD_FRAMES) {
        let before = predictions.len();
        predictor.feed(block, 0, &mut |p| predictions.push(p));
        if predictions.len() > before {
            inferred_by_window.push(predictor.units_inferred());
        }
    }
    let lengths: Vec<(f64, bool)> = predictions
        .iter()
        .map(|p| {
            (
                (window_s(p) * 1000.0).round() / 1000.0,
                p.verdict.provisional,
            )
        })
        .collect();
    assert_eq!(lengths, [(10.0, true), (15.008, true), (20.016, true)]);

    // Every window starts at 0 and holds the patches that end inside it: 3, 5 and 6 of the
    // 2.992 s patches. Each is inferred once: 6 in all, not 3 + 5 + 6.
    let patches_in: Vec<usize> = predictions
        .iter()
        .map(|p| (window_s(p) * f64::from(rate)).round() as usize / PATCH_SAMPLES as usize)
        .collect();
    assert_eq!(patches_in, [3, 5, 6]);
    assert_eq!(inferred_by_window, [3, 5, 6]);

    // Each window's verdict is the mean of musicnn's outputs on its patches, cut from the
    // log-mel of the whole stream as musicnn cuts a clip.
    let log_mel = musicnn_mel::log_mel(audio);
    let patches =
        musicnn_mel::patches(log_mel.view(), DEFAULT_PATCH_HOP).unwrap_or_else(|e| panic!("{e}"));
    let outputs = musicnn
        .run(patches.slice(s![..6, .., ..]))
        .unwrap_or_else(|e| panic!("{e}"));
    let close = |what: &str, streamed: &[(String, f32)], rows: ndarray::ArrayView2<'_, f32>| {
        let mean = rows
            .mean_axis(Axis(0))
            .unwrap_or_else(|| panic!("{what}: no rows"));
        assert_eq!(streamed.len(), mean.len(), "{what}");
        for ((label, got), want) in streamed.iter().zip(&mean) {
            assert!(
                (got - want).abs() < MUSICNN_TOLERANCE,
                "{what} {label}: streamed {got} vs mean of patches {want}"
            );
        }
    };
    for (prediction, &n) in predictions.iter().zip(&patches_in) {
        let what = format!("{} s window", window_s(prediction));
        let judgement = judgement(prediction);
        close(
            &what,
            &judgement.probabilities.0,
            outputs.genre.slice(s![..n, ..]),
        );
        let vocabularies: Vec<&str> = judgement
            .tags
            .iter()
            .map(|tags| tags.vocabulary.as_str())
            .collect();
        assert_eq!(vocabularies, ["msd", "mtt"], "{what}");
        for (tags, rows) in judgement.tags.iter().zip(&outputs.tags) {
            close(&what, &tags.scores.0, rows.slice(s![..n, ..]));
        }
    }

    // Each vocabulary scores its 50 tags, which the sink records as a file record does
    // (`sinks::tests::a_mic_record_carries_the_tags_as_a_file_record_does`).
    for tags in &judgement(&predictions[2]).tags {
        assert_eq!(tags.scores.0.len(), 50, "{}", tags.vocabulary);
    }
}
