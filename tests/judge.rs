//! The shipped judge (`models/judge-10.json`: musicnn and CED-Tiny fused) through the real
//! binary: GTZAN clips are music and get their genre; speech (espeak-ng), white and pink
//! noise are heard as what they are and get no genre; below `min_confidence` a genre is
//! "unknown" and the daemon's `move` puts the file in the `unsorted` folder, never in a
//! genre folder, while what is not music stays where it is.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::{fixture_path, run_genred, text, Home, BLUES, CLASSICAL};
use genred::audio::wav::write_new_wav;

const JUDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/judge-10.json");

/// `genred classify --json --model JUDGE paths...`, one record per path.
fn classify(paths: &[&Path]) -> Vec<Value> {
    let mut args = vec!["classify", "--json", "--jobs", "2", "--model", JUDGE];
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let output = run_genred(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// 20 s of espeak-ng reading English at 16 kHz into `dir`. espeak-ng is a CI package
/// (`.ci/setup`): without it this test fails, saying so.
fn speech(dir: &Path) -> PathBuf {
    let path = dir.join("speech.wav");
    let words = "genred listens to music and says its genre. This is speech, which is not music, \
                 and it should never be given a genre. The quick brown fox jumps over the lazy \
                 dog, one, two, three, four, five, six, seven, eight, nine, ten.";
    let status = Command::new("espeak-ng")
        .args(["-s", "140", "-w"])
        .arg(&path)
        .arg(words)
        .status()
        .unwrap_or_else(|e| panic!("espeak-ng must be installed (.ci/setup installs it): {e}"));
    assert!(status.success(), "espeak-ng failed: {status}");
    path
}

/// Deterministic noise: xorshift32 white noise, and pink noise by Paul Kellet's economy
/// filter over it, 20 s at 16 kHz, peak about 0.3.
fn noises(dir: &Path) -> [PathBuf; 2] {
    let mut state: u32 = 0x9E37_79B9;
    let mut white = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state as f32 / u32::MAX as f32) * 2.0 - 1.0
    };
    let n = 20 * 16_000;
    let whites: Vec<f32> = (0..n).map(|_| white() * 0.3).collect();
    let (mut b0, mut b1, mut b2) = (0.0_f32, 0.0_f32, 0.0_f32);
    let pinks: Vec<f32> = whites
        .iter()
        .map(|&w| {
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            (b0 + b1 + b2 + w * 0.1848) * 0.25
        })
        .collect();
    let paths = [dir.join("white.wav"), dir.join("pink.wav")];
    write_new_wav(&paths[0], 16_000, &whites).unwrap();
    write_new_wav(&paths[1], 16_000, &pinks).unwrap();
    paths
}

fn str_of<'a>(record: &'a Value, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

#[test]
fn music_gets_a_genre_and_speech_and_noise_get_none() {
    let dir = tempfile::tempdir().unwrap();
    let [white, pink] = noises(dir.path());
    let speech = speech(dir.path());
    let blues = fixture_path(BLUES[0]);
    let classical = fixture_path(CLASSICAL[0]);
    let records = classify(&[&blues, &classical, &speech, &white, &pink]);
    assert_eq!(records.len(), 5, "{records:#?}");
    let recipe: Value = serde_json::from_str(&std::fs::read_to_string(JUDGE).unwrap()).unwrap();
    let min_confidence = recipe["min_confidence"].as_f64().unwrap();

    for (record, genre) in records[..2].iter().zip(["blues", "classical"]) {
        assert_eq!(str_of(record, "content"), Some("music"), "{record:#}");
        assert_eq!(str_of(record, "genre"), Some(genre), "{record:#}");
        let confidence = record["confidence"].as_f64().unwrap_or(0.0);
        assert!(
            confidence >= min_confidence,
            "above min_confidence: {record:#}"
        );
        let probabilities = record["probabilities"].as_object().unwrap();
        assert_eq!(probabilities.len(), 10, "the ten genres: {record:#}");
        assert_eq!(record["model"], "judge-10");
        assert!(record["content_scores"]["music"].as_f64().unwrap_or(0.0) >= 0.25);
    }
    for (record, content) in records[2..].iter().zip(["speech", "noise", "noise"]) {
        assert_eq!(str_of(record, "content"), Some(content), "{record:#}");
        assert!(record["genre"].is_null(), "no genre: {record:#}");
        assert_eq!(record["confidence"], 0.0, "{record:#}");
        assert!(
            record["content_scores"]["music"].as_f64().unwrap_or(1.0) < 0.25,
            "{record:#}"
        );
    }
}

#[test]
fn the_plain_output_names_what_is_not_music() {
    let dir = tempfile::tempdir().unwrap();
    let [white, _] = noises(dir.path());
    let path = white.display().to_string();
    let output = run_genred(&["classify", "--model", JUDGE, &path]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let line = text(&output.stdout);
    let columns: Vec<&str> = line.trim_end().split('\t').collect();
    assert_eq!(columns[..2], [path.as_str(), "noise"], "{line}");
}

#[test]
fn below_min_confidence_music_goes_unsorted_and_what_is_not_music_stays() {
    let home = Home::new();
    let config = format!(
        "[model]\npath = \"{JUDGE}\"\nmin_confidence = 0.999\n\n[results]\npath = \"results.jsonl\"\n\n\
         [folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\nunsorted = \"unsorted\"\n"
    );
    fs::write(home.path("genred.toml"), config).unwrap();
    let mut daemon = home.start(&[]);
    let speech = speech(home.dir.path());
    fs::copy(fixture_path(BLUES[1]), home.path("drop/song.wav")).unwrap();
    fs::rename(&speech, home.path("drop/talk.wav")).unwrap();
    let records = daemon.wait_for_records(2);
    let of = |name: &str| {
        records
            .iter()
            .find(|record| str_of(record, "path").is_some_and(|path| path.ends_with(name)))
            .unwrap_or_else(|| panic!("no record of {name}: {records:#?}"))
    };
    let song = of("song.wav");
    assert_eq!(str_of(song, "genre"), Some("unknown"), "{song:#}");
    assert_eq!(str_of(song, "content"), Some("music"));
    assert_eq!(song["probabilities"].as_object().map(|p| p.len()), Some(10));
    let moved_to = home.path("unsorted/song.wav");
    assert_eq!(str_of(song, "moved_to"), Some(moved_to.to_str().unwrap()));
    let talk = of("talk.wav");
    assert!(talk["genre"].is_null(), "{talk:#}");
    assert_eq!(str_of(talk, "content"), Some("speech"));
    assert!(talk.get("moved_to").is_none(), "{talk:#}");
    daemon.wait_until("the song is in unsorted/", common::RESULT_DEADLINE, || {
        moved_to.is_file()
    });
    assert!(
        home.path("drop/talk.wav").is_file(),
        "speech stays where it is"
    );
    assert!(
        !home.path("sorted").exists(),
        "no genre folder: {:?}",
        home.path("sorted")
    );
    let log = daemon.log();
    assert!(log.contains("not music"), "{log}");
    daemon.stop();
}
