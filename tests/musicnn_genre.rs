//! `models/musicnn-genre-10.onnx` through the one road a user takes: `genred classify` and
//! the daemon, the real model run by tract on real GTZAN clips. Genre and confidence come
//! from the ten-genre head, and records carry both taggers' tags.

mod common;

use std::fs;
use std::path::Path;

use common::{by_path, fixture, genred, str_field, Home, BLUES, CLASSICAL};
use serde_json::Value;

const MUSICNN_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/musicnn-genre-10.onnx");
/// Tags per musicnn tagger.
const TAGS_PER_VOCABULARY: usize = 50;

/// The tags of a record: both vocabularies, 50 probabilities each, every one in [0, 1].
fn assert_tags(record: &Value) {
    let tags = record["tags"]
        .as_object()
        .unwrap_or_else(|| panic!("no `tags` object in {record}"));
    let vocabularies: Vec<&str> = tags.keys().map(String::as_str).collect();
    assert_eq!(vocabularies, ["msd", "mtt"], "{record}");
    for (vocabulary, scores) in tags {
        let scores = scores.as_object().expect("a vocabulary is an object");
        assert_eq!(scores.len(), TAGS_PER_VOCABULARY, "{vocabulary}");
        for (tag, p) in scores {
            let p = p.as_f64().expect("a tag's score is a number");
            assert!((0.0..=1.0).contains(&p), "{vocabulary} {tag} = {p}");
        }
    }
}

#[test]
fn classify_gives_the_heads_genre_and_the_taggers_tags() {
    let home = Home::new();
    let clips = [CLASSICAL[0], BLUES[0]];
    for clip in clips {
        fs::write(home.path(clip), fixture(clip)).unwrap();
    }
    let args = |json: bool| {
        let mut args = vec!["classify", "--model", MUSICNN_MODEL, "--jobs", "2"];
        if json {
            args.push("--json");
        }
        args.extend(clips);
        args
    };

    let plain = genred(&home, &args(false), &[]);
    assert!(plain.status.success(), "{plain:?}");
    let stdout = String::from_utf8(plain.stdout).unwrap();
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), clips.len(), "{stdout}");
    for (columns, clip) in lines.iter().zip(clips) {
        let [path, genre, confidence, top_tags] = columns.as_slice() else {
            panic!("four columns expected: {columns:?}");
        };
        assert!(path.ends_with(clip), "{path}");
        let true_genre = clip.split('.').next().unwrap();
        assert_eq!(*genre, true_genre, "{stdout}");
        let confidence: f32 = confidence.parse().unwrap();
        assert!(confidence > 0.5, "{clip}: {confidence}");
        let top: Vec<(&str, f32)> = top_tags
            .split(", ")
            .map(|tag| {
                let (label, p) = tag.rsplit_once(' ').expect("`label p`");
                (label, p.parse().expect("a score"))
            })
            .collect();
        assert_eq!(top.len(), 3, "{top_tags}");
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1), "{top_tags}");
    }
    // The clearest of the two: a string ensemble is tagged so.
    assert!(lines[0][3].starts_with("classical "), "{stdout}");

    let json = genred(&home, &args(true), &[]);
    assert!(json.status.success(), "{json:?}");
    let records: Vec<Value> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), clips.len());
    for (record, columns) in records.iter().zip(&lines) {
        assert_eq!(str_field(record, "genre"), columns[1]);
        assert_eq!(str_field(record, "model"), "musicnn-genre-10");
        assert_eq!(record["probabilities"].as_object().unwrap().len(), 10);
        assert_tags(record);
    }
    let classical = &records[0]["tags"];
    assert!(
        classical["mtt"]["classical"].as_f64().unwrap()
            > classical["mtt"]["rock"].as_f64().unwrap(),
        "{classical}"
    );
}

#[test]
fn a_model_without_the_genre_head_is_refused_by_name() {
    let home = Home::new();
    fs::write(home.path("clip.wav"), fixture(CLASSICAL[0])).unwrap();
    let tagger = concat!(env!("CARGO_MANIFEST_DIR"), "/models/musicnn-msd.onnx");
    let output = genred(&home, &["classify", "--model", tagger, "clip.wav"], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("musicnn-msd.onnx"), "{stderr}");
    assert!(stderr.contains("tag_labels_msd"), "{stderr}");
}

#[test]
fn the_daemon_records_a_dropped_clips_tags() {
    let home = Home::new();
    fs::write(
        home.path("genred.toml"),
        format!(
            "[model]\npath = \"{MUSICNN_MODEL}\"\n\n[results]\npath = \"results.jsonl\"\n\n\
             [folder]\npaths = [\"drop\"]\n"
        ),
    )
    .unwrap();
    let mut daemon = home.start(&[]);
    fs::write(home.path("drop").join("dropped.wav"), fixture(CLASSICAL[1])).unwrap();
    daemon.wait_for_records(1);
    daemon.stop();
    let records = home.results();
    let records = by_path(&records);
    let record = records[Path::new(&home.path("drop/dropped.wav"))];
    assert_eq!(str_field(record, "genre"), "classical", "{record}");
    assert_eq!(str_field(record, "model"), "musicnn-genre-10");
    assert_tags(record);
}
