//! The live microphone against a real capture device: a PulseAudio null sink
//! whose monitor is the default source (tests/testmic/), reached by cpal
//! through the ALSA pulse plugin, fed a real GTZAN clip with `paplay`.
//!
//! The audio server is found through process-wide environment variables, so
//! the whole story runs as one test, in order: no server → a clear error;
//! server up → rate, first provisional prediction, the clip's genre, streamed
//! windows equal to batch over the saved window samples; server frozen → the
//! stall is noticed and capture resumes on thaw; server killed → loss logged,
//! idle CPU; server back → capture resumes.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use genred::audio::wav::write_new_wav;
use genred::audio::{load, LoadOptions};
use genred::features::{Features, N_FEATURES, SAMPLE_RATE};
use genred::judge::Judge;
use genred::kinds::features28::Classifier;
use genred::kinds::GenreModel;
use genred::sinks::MicRecord;
use genred::sources::mic::{self, MicConfig, MicError, StartPolicy};
use genred::window::WindowSpec;

use common::{feature_table, output_within, shared, TestMic, GENRED, MODEL};

const CLASSICAL_CLIP: &str = "fixtures/gtzan-audio/classical.00000.wav";
const MUSICNN_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/musicnn-genre-10.onnx");

/// Silence played before the clip: the first ~1 ms through the null sink is not exact.
const LEAD_IN_S: f64 = 0.3;
/// Predictions in the main run: 10 s (provisional) … 30 s, then the first full window.
const PREDICTIONS: usize = 6;
/// Probabilities of the streamed windows and of batch over the saved samples.
const PROBABILITY_TOLERANCE: f32 = 1e-4;

#[test]
fn live_microphone_end_to_end() {
    let logs = LogCapture::install();
    let state = tempfile::tempdir().expect("temp dir");
    let classifier = Arc::new(Classifier::load(Path::new(MODEL)).expect("model loads"));

    // The server's address is set once, before any audio client runs, and
    // never rewritten while the microphone thread reads it.
    let server_dir = state.path().join("pulse");
    for (name, value) in TestMic::environment(&server_dir) {
        std::env::set_var(name, value);
    }

    // No audio server yet: one clear error, promptly, with FailFast.
    let (_keep_open, shutdown) = crossbeam_channel::bounded::<()>(0);
    let started = Instant::now();
    let outcome = mic::run(
        &MicConfig::default(),
        Judge::of(GenreModel::from(Arc::clone(&classifier))),
        &shutdown,
        StartPolicy::FailFast,
        &mut |_| panic!("no prediction without a device"),
    );
    let error = outcome.expect_err("no audio server must be an error");
    assert!(matches!(error, MicError::NoInput { .. }), "{error:?}");
    let message = error.to_string();
    for expected in [
        "no audio input",
        "\"default\"",
        "PULSE_SERVER",
        "genred devices",
    ] {
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // What batch classification says of the classical clip.
    let clip = shared(CLASSICAL_CLIP);
    let expected_genre = batch_genre(&classifier, &clip);
    assert_eq!(
        expected_genre, "classical",
        "the model's own reading of the clip"
    );
    let feed = state.path().join("feed.wav");
    write_padded_wav(&clip, &feed);

    let debug_dir = state.path().join("windows");
    let config = MicConfig {
        enabled: true,
        debug_wav_dir: Some(debug_dir.clone()),
        ..MicConfig::default()
    };
    let (stop, shutdown) = crossbeam_channel::bounded::<()>(0);
    let (predictions_tx, predictions) = crossbeam_channel::unbounded();
    let worker = {
        let model = Judge::of(GenreModel::from(Arc::clone(&classifier)));
        thread::spawn(move || {
            mic::run(
                &config,
                model,
                &shutdown,
                StartPolicy::Retry,
                &mut |heard| {
                    let _ = predictions_tx.send((Instant::now(), MicRecord::from(&heard)));
                },
            )
        })
    };
    // With Retry, the missing server is logged once and retried until it comes.
    logs.wait_for(
        "no audio input: input device \"default\"",
        started,
        Duration::from_secs(5),
    );
    let server_started = Instant::now();
    let server = TestMic::start(&server_dir);
    let listening = logs.wait_for(
        "mic: listening on input device \"default\"",
        server_started,
        Duration::from_secs(8),
    );
    let mut player = server.play(&feed);

    let received: Vec<(Instant, MicRecord)> = (0..PREDICTIONS)
        .map(|n| {
            predictions
                .recv_timeout(Duration::from_secs(15))
                .unwrap_or_else(|error| panic!("prediction {n}: {error}"))
        })
        .collect();
    let (first_at, first) = &received[0];
    let since_listening = first_at.duration_since(listening).as_secs_f64();
    assert!(first.provisional, "{first:?}");
    assert!(
        (first.window_s - 10.0).abs() < 0.05,
        "first window {} s",
        first.window_s
    );
    assert!(
        (9.0..11.5).contains(&since_listening),
        "first prediction {since_listening:.2} s after listening began"
    );
    // Samples arrive at the device rate: audio seconds per wall-clock second.
    let (last_at, last) = &received[PREDICTIONS - 1];
    let (before_last_at, before_last) = &received[PREDICTIONS - 2];
    let audio_s = before_last.window_s - first.window_s;
    let wall_s = before_last_at.duration_since(*first_at).as_secs_f64();
    eprintln!("first prediction {since_listening:.2} s after listening began; {audio_s:.2} s of audio in {wall_s:.2} s");
    assert!(
        (audio_s / wall_s - 1.0).abs() < 0.05,
        "{audio_s:.2} s of audio arrived in {wall_s:.2} s"
    );
    assert!(
        !last.provisional && (last.window_s - 30.0).abs() < 0.05,
        "{last:?}"
    );
    assert!(last_at > before_last_at);
    for (_, prediction) in &received {
        assert!(!prediction.silence, "the clip is playing: {prediction:?}");
        assert!(prediction.genre.is_some());
        assert_eq!(prediction.dropped_samples, 0);
        assert_eq!(prediction.source, "mic");
    }
    assert_eq!(
        last.smoothed_genre.as_deref(),
        Some(expected_genre.as_str())
    );
    let json: serde_json::Value = serde_json::to_value(last).expect("serializes");
    let labels: Vec<&str> = json["probabilities"]
        .as_object()
        .expect("probabilities is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(labels.len(), classifier.labels().len());
    assert_eq!(json["genre"], serde_json::json!(last.genre));

    // Streaming equals batch: each prediction against batch over its saved window.
    let mut saved: Vec<PathBuf> = fs::read_dir(&debug_dir)
        .expect("debug dir lists")
        .map(|entry| entry.expect("entry").path())
        .collect();
    saved.sort();
    assert_eq!(
        saved.len(),
        PREDICTIONS,
        "one WAV per prediction: {saved:?}"
    );
    // Batch is `genred features` over the saved WAVs, as anyone would check it.
    let batch_rows = genred_features(&saved);
    assert_eq!(batch_rows.len(), saved.len());
    for (((_, prediction), wav), batch_features) in received.iter().zip(&saved).zip(batch_rows) {
        let window = load(wav, LoadOptions::default()).expect("debug WAV loads");
        assert_eq!(window.source_rate, SAMPLE_RATE);
        let window_s = window.samples.len() as f64 / f64::from(SAMPLE_RATE);
        assert!(
            (window_s - prediction.window_s).abs() < 1e-9,
            "{}",
            wav.display()
        );
        let batch = classifier
            .predict(&Features(batch_features))
            .expect("batch prediction");
        for ((label, streamed), batch) in prediction.probabilities.0.iter().zip(&batch) {
            assert!(
                (streamed - batch).abs() < PROBABILITY_TOLERANCE,
                "{}: {label} streamed {streamed} vs batch {batch}",
                wav.display()
            );
        }
    }
    let _ = player.wait();

    // The server freezes: no callbacks come, the stall watchdog notices; it thaws: back.
    let frozen = Instant::now();
    server.signal("STOP");
    let stalled = logs.wait_for("(stalled)", frozen, Duration::from_secs(5));
    server.signal("CONT");
    let thawed = Instant::now();
    let back = logs.wait_for("is back", thawed, Duration::from_secs(5));
    eprintln!(
        "stall logged after {:?}; back {:?} after the server thawed",
        stalled.duration_since(frozen),
        back.duration_since(thawed)
    );
    assert!(stalled.duration_since(frozen) < Duration::from_secs(3));

    // The server dies: the loss is logged promptly and waiting costs no CPU.
    let killed = Instant::now();
    server.stop();
    let lost = logs.wait_for(
        "mic: lost input device \"default\"",
        killed,
        Duration::from_secs(5),
    );
    assert!(
        lost.duration_since(killed) < Duration::from_secs(3),
        "loss logged after {:?}",
        lost.duration_since(killed)
    );
    let cpu_before = process_cpu_seconds();
    let measured_from = Instant::now();
    thread::sleep(Duration::from_secs(3));
    let cpu_share = (process_cpu_seconds() - cpu_before) / measured_from.elapsed().as_secs_f64();
    eprintln!(
        "{:.2}% of a core while the device is gone",
        cpu_share * 100.0
    );
    assert!(
        cpu_share < 0.10,
        "{:.1}% of a core while the device is gone",
        cpu_share * 100.0
    );

    // The server returns: capture resumes within 5 s.
    let restarted = Instant::now();
    let restarted_server = TestMic::start(&server_dir);
    let back = logs.wait_for(
        "mic: input device \"default\" is back",
        restarted,
        Duration::from_secs(10),
    );
    eprintln!(
        "loss logged after {:?}; back {:?} after the server returned",
        lost.duration_since(killed),
        back.duration_since(restarted)
    );
    assert!(
        back.duration_since(restarted) < Duration::from_secs(5),
        "back after {:?}",
        back.duration_since(restarted)
    );

    drop(stop);
    let result = worker.join().expect("mic thread does not panic");
    assert!(result.is_ok(), "{result:?}");
    assert_no_more_errors(&predictions);

    listen_with_musicnn(&logs, &restarted_server, &feed);
    listen_with_the_judge(&logs, &restarted_server, state.path());
}

/// The shipped judge, which hears content as well as genre.
const JUDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/judge-10.json");
/// The feed of the judge's run: this much music, then speech, then silence.
const GATE_MUSIC_S: f64 = 20.0;
const GATE_SILENCE_S: f64 = 15.0;
/// Playback and capture latency, and a block's worth of processing, at most.
const GATE_SLACK_S: f64 = 2.0;

/// 20 s of a blues clip, then espeak-ng speech, then 15 s of digital silence, as a mono WAV
/// at 22050 Hz in `dir`; with where the music and the speech end, in seconds.
fn write_music_speech_silence(dir: &Path) -> (PathBuf, f64, f64) {
    let music = load(
        &shared("fixtures/gtzan-audio/blues.00000.wav"),
        LoadOptions::default(),
    )
    .expect("clip loads");
    let spoken = dir.join("spoken.wav");
    let words = "This is speech, not music. A record must say so within one hop, and name no \
                 genre. The quick brown fox jumps over the lazy dog. One, two, three, four, five.";
    let status = Command::new("espeak-ng")
        .args(["-s", "140", "-w"])
        .arg(&spoken)
        .arg(words)
        .status()
        .expect("espeak-ng must be installed (.ci/setup installs it)");
    assert!(status.success(), "espeak-ng: {status}");
    let speech = load(&spoken, LoadOptions::default()).expect("speech loads");
    let rate = f64::from(SAMPLE_RATE);
    let music_samples = (GATE_MUSIC_S * rate) as usize;
    let samples: Vec<f32> = music.samples[..music_samples]
        .iter()
        .chain(&speech.samples)
        .copied()
        .chain(std::iter::repeat_n(0.0, (GATE_SILENCE_S * rate) as usize))
        .collect();
    let feed = dir.join("music-speech-silence.wav");
    write_new_wav(&feed, SAMPLE_RATE, &samples).expect("feed WAV written");
    let speech_end = GATE_MUSIC_S + speech.samples.len() as f64 / rate;
    (feed, GATE_MUSIC_S, speech_end)
}

/// The judge through the test microphone: music, then speech, then silence. While the
/// music plays the records name a genre; from one hop after it stops none does, and the
/// records say speech, then silence.
fn listen_with_the_judge(logs: &LogCapture, server: &TestMic, dir: &Path) {
    let (feed, music_end, speech_end) = write_music_speech_silence(dir);
    let judge = Judge::load(Path::new(JUDGE)).expect("the judge loads");
    let config = MicConfig {
        enabled: true,
        ..MicConfig::default()
    };
    let hop = config.hop_s;
    let (stop, shutdown) = crossbeam_channel::bounded::<()>(0);
    let (records_tx, records) = crossbeam_channel::unbounded();
    let started = Instant::now();
    let worker = thread::spawn(move || {
        mic::run(
            &config,
            judge,
            &shutdown,
            StartPolicy::FailFast,
            &mut |heard| {
                let _ = records_tx.send((Instant::now(), MicRecord::from(&heard)));
            },
        )
    });
    logs.wait_for(
        "mic: listening on input device \"default\"",
        started,
        Duration::from_secs(8),
    );
    let played = Instant::now();
    let player = server.play(&feed);
    let until = played + Duration::from_secs_f64(speech_end + GATE_SILENCE_S);
    let mut received = Vec::new();
    while Instant::now() < until {
        match records.recv_timeout(Duration::from_millis(200)) {
            Ok((at, record)) => received.push((at.duration_since(played).as_secs_f64(), record)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(player);
    drop(stop);
    let result = worker.join().expect("mic thread does not panic");
    assert!(result.is_ok(), "{result:?}");

    let seen: Vec<String> = received
        .iter()
        .map(|(t, r)| {
            format!(
                "{t:.1} s: {:?} {:?} silence={}",
                r.content, r.genre, r.silence
            )
        })
        .collect();
    eprintln!("the judge on the microphone:\n{}", seen.join("\n"));
    let content = |record: &MicRecord| {
        serde_json::to_value(record).expect("serializes")["content"]
            .as_str()
            .map(str::to_owned)
    };
    assert!(
        received.iter().any(|(t, r)| *t < music_end
            && r.genre.is_some()
            && content(r).as_deref() == Some("music")),
        "a genre while the music plays: {seen:#?}"
    );
    // Each window judged as a file is (the genre model's reading fused with what CED heard
    // over the window, calibrated): by the end of the music, the clip's genre as `classify`
    // names it.
    let last_music = received
        .iter()
        .rev()
        .find(|(t, r)| *t < music_end && r.genre.is_some());
    assert_eq!(
        last_music.and_then(|(_, r)| r.smoothed_genre.as_deref()),
        Some("blues"),
        "{seen:#?}"
    );
    let after_music = music_end + hop + GATE_SLACK_S;
    for (t, record) in received.iter().filter(|(t, _)| *t > after_music) {
        assert!(
            record.genre.is_none() && record.smoothed_genre.is_none(),
            "no genre {t:.1} s after playing began, more than one hop after the music \
             stopped at {music_end} s: {seen:#?}"
        );
    }
    assert!(
        received.iter().any(|(t, r)| *t > music_end + GATE_SLACK_S
            && *t <= speech_end + GATE_SLACK_S
            && content(r).as_deref() == Some("speech")),
        "speech heard as speech: {seen:#?}"
    );
    assert!(
        received
            .iter()
            .any(|(t, r)| *t > speech_end + hop + GATE_SLACK_S
                && content(r).as_deref() == Some("silence")),
        "silence heard as silence: {seen:#?}"
    );
}

/// Predictions of the musicnn run: windows of 10 s (provisional), then every 5.008 s.
const MUSICNN_PREDICTIONS: usize = 3;

/// The musicnn model through the same device, for about 20 s of the clip: its front end
/// at 16 kHz from the device's 48 kHz, the first provisional prediction after 10 s, then
/// one every hop, each record with the taggers' tags as a file record has them. (That
/// each 3 s patch is inferred once and a window is the mean of its patches is the unit
/// test `with_musicnn_each_patch_is_inferred_once…` in src/sources/mic/.)
fn listen_with_musicnn(logs: &LogCapture, server: &TestMic, feed: &Path) {
    let model = Judge::load(Path::new(MUSICNN_MODEL)).expect("the musicnn model loads");
    let labels = model.labels().to_vec();
    let config = MicConfig {
        enabled: true,
        ..MicConfig::default()
    };
    let (stop, shutdown) = crossbeam_channel::bounded::<()>(0);
    let (predictions_tx, predictions) = crossbeam_channel::unbounded();
    let started = Instant::now();
    let worker = thread::spawn(move || {
        mic::run(
            &config,
            model,
            &shutdown,
            StartPolicy::FailFast,
            &mut |heard| {
                let _ = predictions_tx.send((Instant::now(), MicRecord::from(&heard)));
            },
        )
    });
    let listening = logs.wait_for(
        "mic: listening on input device \"default\"",
        started,
        Duration::from_secs(8),
    );
    let player = server.play(feed);
    let received: Vec<(Instant, MicRecord)> = (0..MUSICNN_PREDICTIONS)
        .map(|n| {
            predictions
                .recv_timeout(Duration::from_secs(15))
                .unwrap_or_else(|error| panic!("musicnn prediction {n}: {error}"))
        })
        .collect();
    drop(player);
    drop(stop);
    let result = worker.join().expect("mic thread does not panic");
    assert!(result.is_ok(), "{result:?}");

    let since_listening = received[0].0.duration_since(listening).as_secs_f64();
    eprintln!("musicnn: first prediction {since_listening:.2} s after listening began");
    assert!(
        (9.0..11.5).contains(&since_listening),
        "first musicnn prediction {since_listening:.2} s after listening began"
    );
    let windows: Vec<f64> = received.iter().map(|(_, p)| p.window_s).collect();
    for (window_s, expected) in windows.iter().zip([10.0, 15.008, 20.016]) {
        assert!((window_s - expected).abs() < 0.01, "windows {windows:?}");
    }
    for (_, prediction) in &received {
        assert!(prediction.provisional, "{prediction:?}");
        assert!(!prediction.silence, "the clip is playing: {prediction:?}");
        assert_eq!(prediction.dropped_samples, 0);
        let json = serde_json::to_value(prediction).expect("serializes");
        let genres: Vec<&String> = json["probabilities"]
            .as_object()
            .expect("probabilities is an object")
            .keys()
            .collect();
        assert_eq!(genres.len(), labels.len(), "{json}");
        for vocabulary in ["msd", "mtt"] {
            let tags = json["tags"][vocabulary].as_object();
            assert_eq!(tags.map(|tags| tags.len()), Some(50), "{json}");
        }
    }
}

#[test]
fn genred_run_without_an_audio_server_fails_with_one_clear_line() {
    let state = tempfile::tempdir().expect("temp dir");
    let config = write_mic_only_config(state.path(), "default");
    let output = output_within(
        Command::new(GENRED)
            .args(["run", "--config"])
            .arg(&config)
            .env(
                "PULSE_SERVER",
                format!("unix:{}/absent/native", state.path().display()),
            )
            .env("PULSE_COOKIE", state.path().join("cookie")),
        Duration::from_secs(20),
    );
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error_line = stderr
        .lines()
        .find(|line| line.contains("no audio input"))
        .unwrap_or_else(|| panic!("no clear error line in {stderr}"));
    for expected in ["\"default\"", "PULSE_SERVER", "genred devices"] {
        assert!(
            error_line.contains(expected),
            "{error_line:?} lacks {expected:?}"
        );
    }
}

#[test]
fn an_unpaced_device_is_refused() {
    let state = tempfile::tempdir().expect("temp dir");
    let config = write_mic_only_config(state.path(), "null");
    let output = output_within(
        Command::new(GENRED).args(["run", "--config"]).arg(&config),
        Duration::from_secs(20),
    );
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .any(|line| line.contains("\"null\"") && line.contains("no clock")),
        "{stderr}"
    );
    let results = fs::read_to_string(state.path().join("results.jsonl")).unwrap_or_default();
    assert!(
        !results.contains("\"source\":\"mic\""),
        "no prediction from zeros: {results}"
    );
}

#[test]
fn genred_devices_lists_the_test_microphone_as_default() {
    let state = tempfile::tempdir().expect("temp dir");
    let server = TestMic::start(state.path());
    let output = output_within(
        Command::new(GENRED).arg("devices").envs(server.env_refs()),
        Duration::from_secs(20),
    );
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ALSA lib"),
        "alsa-lib's own messages are caught, not printed: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let default_entry = lines
        .find(|line| line.starts_with("* "))
        .unwrap_or_else(|| panic!("no default marked: {stdout}"));
    assert!(default_entry.starts_with("* default"), "{stdout}");
    let support = lines.next().expect("support line").trim();
    assert!(support.starts_with("rates "), "{stdout}");
    assert!(
        support.contains("48000") || support.contains("–"),
        "{support}"
    );
    assert!(
        support.contains("f32") && support.contains("channels "),
        "{support}"
    );
    assert!(
        !stdout
            .lines()
            .any(|line| line.trim_start().starts_with("null")),
        "ALSA's null device, silence by design, is not offered: {stdout}"
    );
}

/// A config with the microphone as the only source.
fn write_mic_only_config(dir: &Path, device: &str) -> PathBuf {
    let path = dir.join("genred.toml");
    let text = format!(
        "[model]\npath = {model:?}\n[folder]\nenabled = false\n[results]\npath = {results:?}\n\
         [mic]\nenabled = true\ndevice = {device:?}\n",
        model = MODEL,
        results = dir.join("results.jsonl").display().to_string(),
    );
    fs::write(&path, text).expect("config written");
    path
}

/// The feature rows `genred features` prints for `files`, in order.
fn genred_features(files: &[PathBuf]) -> Vec<[f64; N_FEATURES]> {
    let output = output_within(
        Command::new(GENRED).arg("features").args(files),
        Duration::from_secs(120),
    );
    assert!(output.status.success(), "{output:?}");
    let csv = String::from_utf8(output.stdout).expect("UTF-8 CSV");
    feature_table(&csv)
        .rows
        .into_iter()
        .map(|row| row.features.0)
        .collect()
}

/// Anything left in the channel after shutdown must still be a well-formed prediction.
fn assert_no_more_errors(predictions: &Receiver<(Instant, MicRecord)>) {
    loop {
        match predictions.recv_timeout(Duration::ZERO) {
            Ok((_, prediction)) => assert_eq!(prediction.source, "mic"),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The genre `genred classify` gives the clip (the same pipeline, in process).
fn batch_genre(classifier: &Arc<Classifier>, clip: &Path) -> String {
    Judge::of(GenreModel::from(Arc::clone(classifier)))
        .file_judge(WindowSpec::default())
        .classify(clip)
        .expect("the clip classifies")
        .genre
        .expect("a single model always names a genre")
}

/// Writes `clip` preceded by [`LEAD_IN_S`] of silence as a mono WAV at 22050 Hz.
fn write_padded_wav(clip: &Path, out: &Path) {
    let audio = load(clip, LoadOptions::default()).expect("clip loads");
    let lead_in = (LEAD_IN_S * f64::from(SAMPLE_RATE)) as usize;
    let samples: Vec<f32> = std::iter::repeat_n(0.0, lead_in)
        .chain(audio.samples.iter().copied())
        .collect();
    write_new_wav(out, SAMPLE_RATE, &samples).expect("feed WAV written");
}

/// User + system CPU time of this process so far, from /proc/self/stat.
fn process_cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')').expect("comm field") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let ticks_per_second = clock_ticks_per_second();
    ticks as f64 / ticks_per_second
}

fn clock_ticks_per_second() -> f64 {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK is a number")
}

/// Collects the log lines with the moment each was written.
#[derive(Clone, Default)]
struct LogCapture {
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl LogCapture {
    fn install() -> Self {
        let capture = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(capture.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        capture
    }

    /// When a line containing `needle` was first logged after `since`, waiting up to `timeout`.
    fn wait_for(&self, needle: &str, since: Instant, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((at, _)) = self
                .lines
                .lock()
                .expect("log lock")
                .iter()
                .find(|(at, line)| *at >= since && line.contains(needle))
            {
                return *at;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} in {timeout:?}: {:?}",
                self.lines.lock().expect("log lock")
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(bytes).into_owned();
        eprint!("{line}");
        self.lines
            .lock()
            .expect("log lock")
            .push((Instant::now(), line));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
