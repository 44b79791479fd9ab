//! `genred features` and `genred classify` through the real binary, on the real
//! GTZAN fixture clips and the shipped models.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{feature_table, fixture_path, run_genred, FIXTURES, GENRED};
use genred::features::csv::split_line;

const GENRE_2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/genre-2.onnx");

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fixture clip's path, as an argument.
fn fixture(name: &str) -> String {
    fixture_path(name).to_string_lossy().into_owned()
}

/// The published dataset rows of the fixtures, by file stem.
fn published_rows() -> (Vec<String>, HashMap<String, Vec<f64>>) {
    let text = std::fs::read_to_string(fixture("published_features.csv")).expect("readable");
    let header = split_line(text.lines().next().expect("a header"));
    let rows = feature_table(&text)
        .rows
        .into_iter()
        .map(|row| {
            let stem = row.filename.trim_end_matches(".au").to_owned();
            (stem, row.features.0.to_vec())
        })
        .collect();
    (header, rows)
}

#[test]
fn features_prints_the_datasets_header_and_its_published_values() {
    let output = run_genred(&["features", FIXTURES]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let mut lines = text.lines();

    let (published_header, published) = published_rows();
    let header = lines.next().expect("a header line");
    assert_eq!(header, published_header[..29].join(","));
    assert!(header.starts_with("filename,tempo,beats,chroma_stft,rmse,spectral_centroid,"));

    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 6, "one row per fixture clip:\n{text}");
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), 29, "{row}");
        let stem = fields[0].trim_end_matches(".wav");
        let expected = &published[stem];
        // tempo is printed in full precision and beats as an integer, as in the dataset.
        assert_eq!(
            fields[1].parse::<f64>().unwrap(),
            expected[0],
            "{stem} tempo"
        );
        assert_eq!(fields[2], format!("{}", expected[1] as u64), "{stem} beats");
        for (column, (got, want)) in fields[3..].iter().zip(&expected[2..]).enumerate() {
            let got: f64 = got.parse().expect("a number");
            let tolerance = if want.abs() < 1.0 {
                1e-4
            } else {
                1e-4 * want.abs()
            };
            assert!(
                (got - want).abs() <= tolerance,
                "{stem} column {}: got {got}, published {want}",
                published_header[column + 3]
            );
        }
    }
}

#[test]
fn features_output_does_not_depend_on_jobs_and_labels_come_from_folders() {
    let one = run_genred(&["features", "--jobs", "1", "--label-from-dir", FIXTURES]);
    let two = run_genred(&["features", "--jobs", "2", "--label-from-dir", FIXTURES]);
    assert!(one.status.success() && two.status.success());
    assert_eq!(stdout(&one), stdout(&two));
    let text = stdout(&one);
    assert!(text.lines().next().unwrap().ends_with(",mfcc20,label"));
    // Input order is the sorted folder order.
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "blues.00000.wav",
            "blues.00001.wav",
            "blues.00002.wav",
            "classical.00000.wav",
            "classical.00001.wav",
            "classical.00002.wav"
        ]
    );
    assert!(text.lines().skip(1).all(|l| l.ends_with(",gtzan-audio")));
}

#[test]
fn a_failing_file_is_reported_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let not_audio = dir.path().join("notes with spaces.wav");
    std::fs::write(&not_audio, "these are not samples").unwrap();
    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, b"").unwrap();
    let good = fixture("classical.00000.wav");

    let output = run_genred(&[
        "features",
        not_audio.to_str().unwrap(),
        &good,
        empty.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failure makes the exit status 1"
    );
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 2, "header + the good file:\n{text}");
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("classical.00000.wav,"));
    let errors = stderr(&output);
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), 2, "one line per failed file:\n{errors}");
    assert!(lines[0].contains("notes with spaces.wav"), "{errors}");
    assert!(lines[1].contains("empty.flac"), "{errors}");
    assert!(!errors.contains("panicked"), "{errors}");
    // Nothing was changed.
    assert_eq!(std::fs::read(&not_audio).unwrap(), b"these are not samples");
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let output = run_genred(&["features", "/no/such/folder"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("/no/such/folder"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn classify_says_classical_for_the_classical_clips() {
    let output = run_genred(&["classify", "--model", GENRE_2, FIXTURES]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let verdicts: HashMap<PathBuf, (String, f64)> = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "path, genre, confidence: {line}");
            let confidence: f64 = fields[2].parse().expect("a number");
            assert!((0.0..=1.0).contains(&confidence), "{line}");
            (PathBuf::from(fields[0]), (fields[1].to_owned(), confidence))
        })
        .collect();
    assert_eq!(verdicts.len(), 6, "{text}");
    for n in 0..3 {
        let path = Path::new(FIXTURES).join(format!("classical.0000{n}.wav"));
        assert_eq!(verdicts[&path].0, "classical", "{}", path.display());
    }
}

#[test]
fn classify_json_carries_probabilities_and_windows() {
    let output = run_genred(&[
        "classify",
        "--json",
        "--model",
        GENRE_2,
        &fixture("classical.00001.wav"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let record: serde_json::Value =
        serde_json::from_str(stdout(&output).trim()).expect("one JSON object");
    assert_eq!(record["genre"], "classical");
    assert_eq!(record["model"], "genre-2");
    let probabilities = record["probabilities"].as_object().expect("an object");
    assert_eq!(probabilities.len(), 2);
    let total: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!(
        (total - 1.0).abs() < 1e-4,
        "probabilities sum to 1: {total}"
    );
    assert_eq!(record["confidence"], probabilities["classical"]);
    let duration = record["duration_s"].as_f64().unwrap();
    assert!(
        (duration - 661_794.0 / 22_050.0).abs() < 1e-6,
        "the whole file: {duration}"
    );
    // 30.01 s: one window; the 0.01 s tail is not worth a second one.
    let windows = record["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(windows[0]["start_s"], 0.0);
    assert!(record["timings"]["features_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn classify_rejects_a_missing_or_broken_model_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.onnx");
    std::fs::write(&broken, b"\x08\x07garbage").unwrap();
    for model in [dir.path().join("missing.onnx"), broken] {
        let output = run_genred(&["classify", "--model", model.to_str().unwrap(), FIXTURES]);
        assert_eq!(output.status.code(), Some(2));
        let errors = stderr(&output);
        assert_eq!(errors.lines().count(), 1, "{errors}");
        assert!(errors.contains(model.to_str().unwrap()), "{errors}");
    }
}

#[test]
fn a_long_song_is_heard_in_rolling_windows() {
    use genred::audio::{self, LoadOptions};
    let clip = audio::load(
        Path::new(&fixture("classical.00002.wav")),
        LoadOptions::default(),
    )
    .expect("the fixture loads");
    // 70 s: the clip twice, then its first 10 s.
    let ten_s = 10 * 22_050;
    let song: Vec<f32> = [&clip.samples[..], &clip.samples[..], &clip.samples[..ten_s]].concat();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a long sonată.wav");
    audio::wav::write_new_wav(&path, 22_050, &song).unwrap();

    let output = run_genred(&[
        "classify",
        "--json",
        "--model",
        GENRE_2,
        path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let record: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(record["path"], path.to_str().unwrap());
    assert_eq!(record["genre"], "classical");
    let duration = record["duration_s"].as_f64().unwrap();
    assert!(
        (duration - song.len() as f64 / 22_050.0).abs() < 1e-6,
        "{duration}"
    );
    let starts: Vec<f64> = record["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["start_s"].as_f64().unwrap())
        .collect();
    let last = (song.len() - 30 * 22_050) as f64 / 22_050.0;
    // 15 s rounded to whole STFT hops, so that windows share their frames: 646 hops of 512
    // samples, 15.0001 s.
    let hop = 646 * 512;
    assert_eq!(
        starts,
        [
            0.0,
            hop as f64 / 22_050.0,
            (2 * hop) as f64 / 22_050.0,
            last
        ],
        "hops of 15.0001 s, the last aligned to the end"
    );

    let output = run_genred(&[
        "classify",
        "--json",
        "--hop",
        "30",
        "--model",
        GENRE_2,
        path.to_str().unwrap(),
    ]);
    let record: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(
        record["windows"].as_array().unwrap().len(),
        3,
        "0, 30 and the tail"
    );
}

#[test]
fn a_lone_binary_classifies_from_any_directory_with_its_built_in_judge() {
    // The binary copied alone, run from `/` with no config: no models/ folder anywhere near.
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("genred");
    std::fs::copy(GENRED, &lone).unwrap();
    let output = Command::new(&lone)
        .current_dir("/")
        .env_remove("GENRED_CONFIG")
        .args(["classify", "--json"])
        .arg(fixture_path("blues.00000.wav"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let record: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(record["model"], "judge-10", "{record}");
    assert_eq!(record["genre"], "blues", "{record}");
    assert_eq!(record["content"], "music", "{record}");
}

#[test]
fn completions_load_in_bash_and_the_man_page_names_every_command() {
    let bash = run_genred(&["completions", "bash"]);
    assert!(bash.status.success(), "{}", stderr(&bash));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("genred.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    // Sourced by a real bash, the completion is registered for `genred` and completes
    // the subcommands.
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; complete -p genred; COMP_WORDS=(genred re); COMP_CWORD=1; \
             _genred genred re genred; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let out = stdout(&loaded);
    assert!(loaded.status.success(), "{}", stderr(&loaded));
    assert!(
        out.contains("complete ") && out.contains("-F _genred genred"),
        "{out}"
    );
    assert!(out.lines().any(|line| line == "results"), "{out}");
    for shell in ["zsh", "fish"] {
        let generated = run_genred(&["completions", shell]);
        assert!(generated.status.success(), "{}", stderr(&generated));
        assert!(stdout(&generated).contains("check-config"), "{shell}");
    }
    let man = run_genred(&["man"]);
    let page = stdout(&man);
    assert!(
        man.status.success() && page.contains(".TH genred 1"),
        "{page}"
    );
    for command in [
        "run",
        "classify",
        "results",
        "check\\-config",
        "completions",
    ] {
        assert!(page.contains(command), "{command} in the man page");
    }
}

#[test]
fn models_lists_the_built_in_judge_anywhere_and_the_files_found_here() {
    // Away from the checkout: the built-in judge and its two models.
    let dir = tempfile::tempdir().unwrap();
    let away = Command::new(GENRED)
        .current_dir(dir.path())
        .arg("models")
        .output()
        .unwrap();
    assert!(away.status.success(), "{}", stderr(&away));
    let listed = stdout(&away);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .map(|line| line.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 3, "{listed}");
    let judge = rows
        .iter()
        .find(|row| row[1] == "judge-10")
        .expect("the judge");
    assert_eq!(judge[0], "built in (models/judge-10.json)");
    assert!(
        judge[4].starts_with("10 labels: blues; classical"),
        "{listed}"
    );
    let ced = rows
        .iter()
        .find(|row| row[1] == "ced-tiny")
        .expect("CED-Tiny");
    assert_eq!(ced[2], "waveform-16k-10s");
    assert!(ced[4].starts_with("527 labels: "), "{listed}");

    // A folder given: its model files, a file that is no model said so.
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/models/genre-2.onnx"),
        dir.path().join("pop-or-classical.onnx"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.json"), "{}").unwrap();
    let found = run_genred(&["models", dir.path().to_str().unwrap()]);
    let listed = stdout(&found);
    assert!(
        listed.lines().any(|line| line.contains(
            "pop-or-classical\tlibrosa-0.6.1-28\tbaa79be5ea5d\t2 labels: classical; pop"
        )),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|line| line.contains("notes.json\t-\tnot a model: ")),
        "{listed}"
    );
}
