//! Issue 8 through the real binary, on the command-line side: `classify` and
//! `features` on hostile folders (symbolic-link loops, FIFOs, sockets,
//! devices, names of any bytes), and the bounds and path checks that
//! `check-config` and `run` apply before anything starts.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    assert_refused, bytes_field, fixture_path, genred, genred_command, output_within, text, Home,
    CLASSICAL, GENRED, MODEL,
};
use genred::audio::{self, LoadOptions};
use genred::features::csv::split_line;

/// Longer than any of these runs takes on 2 busy cores; a hang (a FIFO
/// opened, a loop walked forever) fails the test at this point instead of
/// holding CI.
const HANG_DEADLINE: Duration = Duration::from_secs(120);

/// Seconds of each test clip: enough to be given a genre, short enough to be quick.
const CLIP_S: usize = 6;

/// Runs genred with `args`; kills it and fails if it outlives [`HANG_DEADLINE`].
fn genred_within(args: &[&OsStr]) -> Output {
    output_within(&mut genred_command(args), HANG_DEADLINE)
}

/// The first [`CLIP_S`] seconds of a classical fixture, as a WAV at `path`.
fn write_clip(path: &Path) {
    let source = fixture_path(CLASSICAL[0]);
    let clip = audio::load(&source, LoadOptions::default()).expect("the fixture loads");
    let samples = &clip.samples[..CLIP_S * 22_050];
    audio::wav::write_new_wav(path, 22_050, samples).expect("the clip is written");
}

fn classify(args: &[&OsStr]) -> Output {
    let mut all: Vec<&OsStr> = vec![
        OsStr::new("classify"),
        OsStr::new("--model"),
        OsStr::new(MODEL),
    ];
    all.extend_from_slice(args);
    genred_within(&all)
}

#[test]
fn classify_and_features_take_each_file_once_through_symlink_loops() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("sub")).unwrap();
    write_clip(&root.join("sub/song.wav"));
    symlink(".", root.join("loop")).unwrap();
    symlink("..", root.join("sub/up")).unwrap();
    let root_arg = root.as_os_str();

    let output = classify(&[root_arg]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the song once, not once per loop: {stdout}");
    assert!(
        lines[0].starts_with(&format!("{}\t", root.join("sub/song.wav").display())),
        "{stdout}"
    );
    for link in ["loop", "sub/up"] {
        let line = format!(
            "genred: {}: skipped: a symbolic link to a directory",
            root.join(link).display()
        );
        assert_eq!(stderr.matches(&line).count(), 1, "{line}: {stderr}");
    }

    let output = genred_within(&[OsStr::new("features"), root_arg]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = text(&output.stdout);
    assert_eq!(csv.lines().count(), 2, "header and one row: {csv}");
    assert!(
        csv.lines().nth(1).unwrap().starts_with("song.wav,"),
        "{csv}"
    );
}

#[test]
fn fifos_sockets_and_devices_in_a_folder_are_skipped_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_clip(&root.join("song.wav"));
    let status = Command::new("mkfifo")
        .arg(root.join("pipe.wav"))
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo failed");
    let _socket = UnixListener::bind(root.join("socket.wav")).unwrap();
    // A device node needs privileges to make; a link to one is the same to a reader.
    symlink("/dev/zero", root.join("zero.wav")).unwrap();
    let expected = [
        ("pipe.wav", "FIFO"),
        ("socket.wav", "socket"),
        ("zero.wav", "character device"),
    ];

    for command in ["classify", "features"] {
        let output = if command == "classify" {
            classify(&[root.as_os_str()])
        } else {
            genred_within(&[OsStr::new(command), root.as_os_str()])
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{command}: {stderr}");
        for (name, kind) in expected {
            let line = format!(
                "genred: {}: skipped: a {kind}, not a regular file",
                root.join(name).display()
            );
            assert_eq!(
                stderr.matches(&line).count(),
                1,
                "{command}: {line}: {stderr}"
            );
        }
        assert_eq!(
            stderr.lines().count(),
            3,
            "{command}: nothing else: {stderr}"
        );
        let stdout = text(&output.stdout);
        let rows = stdout.lines().count() - usize::from(command == "features");
        assert_eq!(rows, 1, "{command}: the song is still done: {stdout}");
    }

    // Named on the command line, a FIFO is an error, not a wait.
    let output = genred_within(&[OsStr::new("features"), root.join("pipe.wav").as_os_str()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("a FIFO, not a regular file"),
        "{output:?}"
    );
}

#[test]
fn classify_json_gives_every_byte_name_a_complete_line_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let latin1 = OsStr::from_bytes(b"caf\xe9.wav");
    let names = [
        OsStr::new("a.wav"),
        latin1,
        OsStr::new("b\nc.wav"),
        OsStr::new("d.wav"),
    ];
    for name in names {
        write_clip(&root.join(name));
    }

    let output = classify(&[OsStr::new("--json"), root.as_os_str()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = text(&output.stdout);
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a complete JSON object per line"))
        .collect();
    assert_eq!(records.len(), names.len(), "{stdout}");
    let mut sorted = names.map(|name| root.join(name));
    sorted.sort();
    for (record, path) in records.iter().zip(&sorted) {
        assert_eq!(record["path"], path.to_string_lossy().as_ref(), "{record}");
        assert!(record["genre"].is_string(), "{record}");
        let exact = record
            .get("path_bytes")
            .map(|_| bytes_field(record, "path_bytes"));
        let utf8 = path.to_str().is_some();
        assert_eq!(
            exact.as_deref(),
            (!utf8).then_some(path.as_os_str().as_bytes()),
            "path_bytes only, and exactly, for the name that is not UTF-8: {record}"
        );
    }
}

#[test]
fn plain_classify_and_features_keep_one_row_per_file_whatever_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in [
        OsStr::new("new\nline.wav"),
        OsStr::from_bytes(b"\xff\tx.wav"),
        OsStr::new("plain.wav"),
    ] {
        write_clip(&root.join(name));
    }

    let output = classify(&[root.as_os_str()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = text(&output.stdout);
    let paths: Vec<&str> = stdout
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "path, genre, confidence: {line:?}");
            fields[0]
        })
        .collect();
    let root_text = root.to_str().expect("a UTF-8 temp dir");
    assert_eq!(
        paths,
        [
            format!("{root_text}/new\\nline.wav"),
            format!("{root_text}/plain.wav"),
            format!("{root_text}/\\xff\\tx.wav"),
        ]
    );

    let output = genred_within(&[OsStr::new("features"), root.as_os_str()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = text(&output.stdout);
    let names: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|row| {
            let fields = split_line(row);
            assert_eq!(fields.len(), 29, "{row:?}");
            fields[0].clone()
        })
        .collect();
    assert_eq!(
        names,
        ["new\\nline.wav", "plain.wav", "\\xff\\tx.wav"],
        "{csv}"
    );
}

#[test]
fn every_number_is_bounded_and_refused_with_its_key() {
    let home = Home::new();
    let cases = [
        ("[workers]\ncount = 100000\n", "workers.count"),
        ("[window]\nhop_s = 0.0001\n", "window.hop_s"),
        ("[window]\nlength_s = 100000.0\n", "window.length_s"),
        ("[window]\nmax_duration_s = 1e12\n", "window.max_duration_s"),
        ("[window]\nmax_duration_s = 0.0\n", "window.max_duration_s"),
        ("[folder]\nsettle_s = 1e9\n", "folder.settle_s"),
        ("[mic]\nhop_s = 1e-300\n", "mic.hop_s"),
        ("[mic]\nwindow_s = 1e9\n", "mic.window_s"),
        ("[mic]\nmin_window_s = 0.001\n", "mic.min_window_s"),
        ("[mic]\nsmoothing = 1000000\n", "mic.smoothing"),
        ("[mic]\nsilence_rms = 5.0\n", "mic.silence_rms"),
    ];
    for (body, key) in cases {
        home.write_config(body);
        assert_refused(
            &genred(&home, &["check-config", "genred.toml"], &[]),
            &format!("{key}: must be"),
        );
    }
    // The daemon refuses before it spawns anything.
    home.write_config("[workers]\ncount = 100000\n");
    let started = Instant::now();
    assert_refused(
        &genred(&home, &["run", "--config", "genred.toml"], &[]),
        "workers.count: must be at most",
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The limits themselves are accepted.
    home.write_config(
        "[window]\nlength_s = 600.0\nhop_s = 0.023219954648526078\nmax_duration_s = 86400.0\n\
         [mic]\nwindow_s = 1.0\nhop_s = 1.0\nmin_window_s = 1.0\nsmoothing = 1000\nsilence_rms = 1.0\n",
    );
    let output = genred(&home, &["check-config", "genred.toml"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The model is loaded as `run` would load it: one it cannot load is refused.
    fs::write(
        home.path("genred.toml"),
        "[model]\npath = \"no-such-model.onnx\"\n",
    )
    .unwrap();
    assert_refused(
        &genred(&home, &["check-config", "genred.toml"], &[]),
        "no-such-model.onnx: cannot read the file",
    );
}

#[test]
fn classify_and_features_flags_are_bounded_by_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    write_clip(&song);
    let song = song.as_os_str();
    let cases: [(&[&str], &str); 6] = [
        (&["--hop", "1e-300"], "--hop: must be at least one STFT hop"),
        (&["--hop", "31"], "--hop: must be at least one STFT hop"),
        (&["--window", "0"], "--window: must be"),
        (&["--max-duration", "0"], "--max-duration: must be"),
        (&["--jobs", "60000"], "--jobs: must be at most"),
        (&["--window", "1e9"], "--window: must be"),
    ];
    for (flags, needle) in cases {
        let mut args: Vec<&OsStr> = flags.iter().map(OsStr::new).collect();
        args.push(song);
        assert_refused(&classify(&args), needle);
    }
    let features = genred_within(&[
        OsStr::new("features"),
        OsStr::new("--jobs"),
        OsStr::new("60000"),
        song,
    ]);
    assert_refused(&features, "--jobs: must be at most");
}

/// A config naming `[results] path` itself (the harness's own names results.jsonl).
fn write_config_with_results(home: &Home, results: &Path, body: &str) {
    let config = format!(
        "[model]\npath = \"{MODEL}\"\n\n[results]\npath = \"{}\"\n\n{body}",
        results.display()
    );
    fs::write(home.path("genred.toml"), config).unwrap();
}

#[test]
fn a_results_path_that_is_not_a_regular_file_is_refused() {
    let home = Home::new();
    fs::create_dir(home.path("a folder")).unwrap();
    for (results, kind) in [
        (PathBuf::from("/dev/full"), "a character device"),
        (home.path("a folder"), "a folder"),
    ] {
        write_config_with_results(&home, &results, "");
        let needle = format!(
            "results.path: {} is {kind}, not a regular file",
            results.display()
        );
        assert_refused(
            &genred(&home, &["check-config", "genred.toml"], &[]),
            &needle,
        );
        assert_refused(
            &genred(&home, &["run", "--config", "genred.toml"], &[]),
            &needle,
        );
    }
    home.write_config("");
    let results = "--results=/dev/full";
    assert_refused(
        &genred(&home, &["run", "--config", "genred.toml", results], &[]),
        "results.path: /dev/full is a character device",
    );
}

#[test]
fn a_target_or_rejected_folder_at_or_above_a_drop_folder_is_refused() {
    let home = Home::new();
    fs::create_dir_all(home.path("music/incoming")).unwrap();
    symlink(home.path("music/incoming"), home.path("link to incoming")).unwrap();
    let drop = "[folder]\npaths = [\"./music/incoming\"]\naction = \"move\"\n";
    let cases = [
        (
            "target = \"music\"",
            "folder.target: music contains the drop folder",
        ),
        (
            "target = \"music/incoming/\"",
            "folder.target: music/incoming/ is the drop folder",
        ),
        (
            "target = \"sorted\"\nrejected = \"link to incoming\"",
            "folder.rejected: link to incoming is the drop folder",
        ),
        (
            "target = \"sorted\"\nrejected = \"..\"",
            "folder.rejected: .. contains the drop folder",
        ),
    ];
    for (keys, needle) in cases {
        home.write_config(&format!("{drop}{keys}\n"));
        assert_refused(
            &genred(&home, &["check-config", "genred.toml"], &[]),
            needle,
        );
        assert_refused(
            &genred(&home, &["run", "--config", "genred.toml"], &[]),
            needle,
        );
    }
    // Inside the drop folder, or beside it, is fine (and not watched).
    home.write_config(&format!(
        "{drop}target = \"music/incoming/sorted\"\nrejected = \"music/rejected\"\n"
    ));
    let output = genred(&home, &["check-config", "genred.toml"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn drop_target_and_rejected_paths_that_are_regular_files_are_refused() {
    let home = Home::new();
    fs::write(home.path("a file"), b"not a folder").unwrap();
    let cases = [
        (
            "paths = [\"drop\", \"a file\"]",
            "folder.paths: a file is a regular file, not a folder",
        ),
        (
            "action = \"copy\"\ntarget = \"a file\"",
            "folder.target: a file is a regular file, not a folder",
        ),
        (
            "rejected = \"a file\"",
            "folder.rejected: a file is a regular file, not a folder",
        ),
    ];
    for (keys, needle) in cases {
        home.write_config(&format!("[folder]\n{keys}\n"));
        assert_refused(
            &genred(&home, &["check-config", "genred.toml"], &[]),
            needle,
        );
    }
    assert_eq!(fs::read(home.path("a file")).unwrap(), b"not a folder");
}

/// Clips before a file that cannot be decoded: a command that went on past a closed
/// stdout would reach that file and say so on stderr.
const CLIPS_BEFORE_THE_BROKEN_FILE: usize = 8;

#[test]
fn a_closed_stdout_stops_features_and_classify_early_and_they_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for n in 0..CLIPS_BEFORE_THE_BROKEN_FILE {
        write_clip(&root.join(format!("{n:02}.wav")));
    }
    fs::write(root.join("zz-broken.wav"), b"not audio").unwrap();

    for command in ["features", "classify"] {
        let mut genred = Command::new(GENRED)
            .args([command, "--jobs", "1"])
            .args(if command == "classify" {
                vec!["--model", MODEL]
            } else {
                vec![]
            })
            .arg(root)
            .env_remove("GENRED_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the genred binary runs");
        // `genred … | head -1`: the pipe's only reader is head, which exits after a line.
        let head = Command::new("head")
            .arg("-1")
            .stdin(Stdio::from(genred.stdout.take().expect("piped")))
            .stdout(Stdio::piped())
            .spawn()
            .expect("head runs");
        let first_line = text(&head.wait_with_output().expect("head exits").stdout);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = genred.try_wait().expect("waitable") {
                break status;
            }
            if started.elapsed() > HANG_DEADLINE {
                let _ = genred.kill();
                panic!("{command}: still running {HANG_DEADLINE:?} after its stdout closed");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let mut errors = String::new();
        if let Some(mut stderr) = genred.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut errors).expect("stderr read");
        }
        let expected_start = if command == "features" {
            "filename,tempo,beats,".to_owned()
        } else {
            format!("{}\t", root.join("00.wav").display())
        };
        assert!(
            first_line.starts_with(&expected_start),
            "{command}: {first_line:?}"
        );
        assert!(status.success(), "{command}: {status}: {errors}");
        assert_eq!(
            errors, "",
            "{command}: stopped quietly, before the broken file"
        );
    }
}
