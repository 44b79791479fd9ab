//! `genred run` end to end: the real binary watching a temporary drop folder,
//! real GTZAN clips from ../shared copied in at test time, the real model,
//! the results file read back, and systemd's notify protocol on a real socket.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;

#[test]
fn every_file_gets_one_record_and_ends_in_exactly_one_place() {
    let home = Home::new();
    home.write_config(
        "[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"drop/sorted\"\nrejected = \"drop/rejected\"\n",
    );
    let drop = home.path("drop");
    // What arrives, and its bytes: (name in the drop folder, fixture or content).
    let mut good: Vec<(&str, Vec<u8>)> = Vec::new();
    fs::write(drop.join("already here.wav"), fixture(CLASSICAL[0])).unwrap();
    good.push(("already here.wav", fixture(CLASSICAL[0])));
    let mut daemon = home.start(&[]);

    let slow_writer = {
        let path = drop.join("slowly written.wav");
        thread::spawn(move || {
            write_slowly(&path, &fixture(CLASSICAL[2]), 8, Duration::from_millis(600))
        })
    };
    good.push(("slowly written.wav", fixture(CLASSICAL[2])));
    let session_writer = {
        let path = drop.join("appended in sessions.wav");
        thread::spawn(move || {
            append_in_sessions(&path, &fixture(CLASSICAL[1]), 6, Duration::from_millis(150))
        })
    };
    good.push(("appended in sessions.wav", fixture(CLASSICAL[1])));

    fs::copy(
        format!("{FIXTURES}/{}", CLASSICAL[1]),
        drop.join("copied.wav"),
    )
    .unwrap();
    good.push(("copied.wav", fixture(CLASSICAL[1])));

    // Same name in a subfolder: sorted next to the other, never over it.
    fs::create_dir(drop.join("sub")).unwrap();
    fs::write(drop.join("sub/copied.wav"), fixture(CLASSICAL[2])).unwrap();
    good.push(("sub/copied.wav", fixture(CLASSICAL[2])));

    fs::write(drop.join("renamed.wav.part"), fixture(CLASSICAL[0])).unwrap();
    fs::rename(drop.join("renamed.wav.part"), drop.join("renamed.wav")).unwrap();
    good.push(("renamed.wav", fixture(CLASSICAL[0])));

    let outside = home.path("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("moved in.wav"), fixture(CLASSICAL[1])).unwrap();
    fs::rename(outside.join("moved in.wav"), drop.join("moved in.wav")).unwrap();
    good.push(("moved in.wav", fixture(CLASSICAL[1])));

    fs::write(drop.join("Ünïcødé — ça va.wav"), fixture(BLUES[0])).unwrap();
    good.push(("Ünïcødé — ça va.wav", fixture(BLUES[0])));

    let mut corrupt = b"RIFF\xff\xff\xff\x7fWAVEfmt ".to_vec();
    corrupt.extend((0..4096u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8));
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("corrupt.wav", corrupt),
        ("not audio.mp3", b"a shopping list, not a song\n".repeat(50)),
        ("empty.flac", Vec::new()),
    ];
    for (name, bytes) in &bad {
        fs::write(drop.join(name), bytes).unwrap();
    }
    // Removed before its turn: skipped quietly, no record.
    fs::write(drop.join("vanishing.wav"), fixture(CLASSICAL[0])).unwrap();
    fs::remove_file(drop.join("vanishing.wav")).unwrap();
    // Never taken, never touched.
    let skipped: Vec<(&str, Vec<u8>)> = vec![
        (".hidden.wav", fixture(CLASSICAL[0])),
        ("still downloading.wav.part", fixture(CLASSICAL[1])),
        ("also downloading.wav.crdownload", fixture(CLASSICAL[1])),
        ("notes.txt", b"liner notes".to_vec()),
    ];
    for (name, bytes) in &skipped {
        fs::write(drop.join(name), bytes).unwrap();
    }
    slow_writer.join().unwrap();
    session_writer.join().unwrap();

    daemon.wait_for_records(good.len() + bad.len());
    daemon.stop();
    let records = home.results();
    let records = by_path(&records);
    assert_eq!(records.len(), good.len() + bad.len(), "{records:#?}");

    let mut expected_files = BTreeSet::new();
    for (name, bytes) in &good {
        let record = records[&drop.join(name)];
        assert_valid_classification(record);
        assert_eq!(
            record["size"].as_u64(),
            Some(bytes.len() as u64),
            "read whole: {record}"
        );
        if CLASSICAL.iter().any(|clip| fixture(clip) == *bytes) {
            assert_eq!(str_field(record, "genre"), "classical", "{record}");
        }
        let moved_to = PathBuf::from(str_field(record, "moved_to"));
        let genre_folder = drop.join("sorted").join(str_field(record, "genre"));
        assert_eq!(moved_to.parent(), Some(genre_folder.as_path()), "{record}");
        assert_eq!(
            &fs::read(&moved_to).unwrap(),
            bytes,
            "{} changed on the way",
            moved_to.display()
        );
        assert!(!drop.join(name).exists(), "{name} was copied, not moved");
        expected_files.insert(moved_to.strip_prefix(&drop).unwrap().to_owned());
    }
    let collided: BTreeSet<_> = ["copied", "sub/copied"]
        .iter()
        .map(|name| str_field(records[&drop.join(format!("{name}.wav"))], "moved_to"))
        .map(|moved| Path::new(moved).file_name().unwrap().to_owned())
        .collect();
    assert_eq!(
        collided,
        ["copied.wav".into(), "copied-1.wav".into()].into(),
        "numbered on collision"
    );

    for (name, bytes) in &bad {
        let record = records[&drop.join(name)];
        assert_eq!(str_field(record, "source"), "file");
        assert!(!str_field(record, "error").is_empty(), "{record}");
        assert!(record.get("genre").is_none(), "{record}");
        let moved_to = PathBuf::from(str_field(record, "moved_to"));
        assert_eq!(moved_to, drop.join("rejected").join(name), "{record}");
        assert_eq!(&fs::read(&moved_to).unwrap(), bytes);
        expected_files.insert(moved_to.strip_prefix(&drop).unwrap().to_owned());
    }
    for (name, bytes) in &skipped {
        assert_eq!(
            &fs::read(drop.join(name)).unwrap(),
            bytes,
            "{name} was touched"
        );
        expected_files.insert(PathBuf::from(name));
    }
    assert_eq!(
        files_under(&drop),
        expected_files,
        "every file in exactly one place, nothing else"
    );
}

#[test]
fn a_burst_of_a_hundred_files_is_queued_not_dropped() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\n");
    let mut daemon = home.start(&[]);
    let drop = home.path("drop");
    let clips: Vec<Vec<u8>> = CLASSICAL.iter().map(|clip| fixture(clip)).collect();
    let names: Vec<String> = (0..100).map(|n| format!("burst {n:03}.wav")).collect();
    for (n, name) in names.iter().enumerate() {
        fs::write(drop.join(name), &clips[n % clips.len()]).unwrap();
    }
    daemon.wait_for_records(names.len());
    let log = daemon.log();
    daemon.stop();
    let records = home.results();
    let records = by_path(&records);
    assert_eq!(records.len(), names.len());
    for name in &names {
        let record = records[&drop.join(name)];
        assert_valid_classification(record);
        assert_eq!(str_field(record, "genre"), "classical", "{record}");
        assert!(
            drop.join(name).is_file(),
            "action none leaves {name} in place"
        );
    }
    assert!(
        log.contains("files waiting for a worker"),
        "the queue depth is logged:\n{log}"
    );
}

#[test]
fn a_restart_classifies_only_new_and_changed_files() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\n");
    let drop = home.path("drop");
    fs::write(drop.join("unchanged.wav"), fixture(CLASSICAL[0])).unwrap();
    fs::write(drop.join("rewritten.wav"), fixture(CLASSICAL[1])).unwrap();
    let mut daemon = home.start(&[]);
    daemon.wait_for_records(2);
    daemon.stop();

    // Rewritten while genred was down (different length, so a different size).
    fs::write(
        drop.join("rewritten.wav"),
        &fixture(BLUES[1])[..fixture(BLUES[1]).len() - 1000],
    )
    .unwrap();
    fs::write(drop.join("new.wav"), fixture(CLASSICAL[2])).unwrap();
    let mut daemon = home.start(&[]);
    daemon.wait_for_records(4);
    // Rewritten while genred runs.
    fs::write(drop.join("new.wav"), fixture(CLASSICAL[0])).unwrap();
    daemon.wait_for_records(5);
    daemon.stop();

    let records = home.results();
    let count = |name: &str| {
        records
            .iter()
            .filter(|r| str_field(r, "path") == drop.join(name).to_str().unwrap())
            .count()
    };
    assert_eq!(count("unchanged.wav"), 1, "{records:#?}");
    assert_eq!(count("rewritten.wav"), 2, "{records:#?}");
    assert_eq!(count("new.wav"), 2, "{records:#?}");
    assert_eq!(records.len(), 5, "{records:#?}");
}

#[test]
fn a_restart_with_another_model_classifies_every_file_again() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\n");
    let drop = home.path("drop");
    fs::write(drop.join("a.wav"), fixture(CLASSICAL[0])).unwrap();
    fs::write(drop.join("b.wav"), fixture(BLUES[0])).unwrap();
    let mut daemon = home.start(&[]);
    daemon.wait_for_records(2);
    daemon.stop();

    let other_model = concat!(env!("CARGO_MANIFEST_DIR"), "/models/genre-10.onnx");
    let mut daemon = home.start_with_flags(&["--model", other_model], &[]);
    daemon.wait_for_records(4);
    daemon.stop();
    // The same model again: only a new file is classified.
    let mut daemon = home.start_with_flags(&["--model", other_model], &[]);
    fs::write(drop.join("c.wav"), fixture(CLASSICAL[1])).unwrap();
    daemon.wait_for_records(5);
    daemon.stop();

    let records = home.results();
    let models: Vec<(String, &str)> = records
        .iter()
        .map(|r| {
            let name = Path::new(str_field(r, "path")).file_name().unwrap();
            (name.to_string_lossy().into_owned(), str_field(r, "model"))
        })
        .collect();
    let expected = [
        ("a.wav", "genre-2"),
        ("b.wav", "genre-2"),
        ("a.wav", "genre-10"),
        ("b.wav", "genre-10"),
        ("c.wav", "genre-10"),
    ];
    let mut sorted = models.clone();
    sorted[..2].sort();
    sorted[2..4].sort();
    let expected: Vec<(String, &str)> = expected.iter().map(|&(n, m)| (n.to_owned(), m)).collect();
    assert_eq!(sorted, expected, "{records:#?}");
    for record in &records {
        let sha256 = str_field(record, "model_sha256");
        assert!(
            sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()),
            "{record}"
        );
        assert_eq!(
            record["analysis"]["version"],
            genred::analysis::ANALYSIS_VERSION,
            "{record}"
        );
        assert_eq!(record["analysis"]["max_patches"], 10, "{record}");
    }
    let log = fs::read_to_string(home.path("genred.log")).unwrap();
    assert!(
        log.contains("2 files were last classified by another model or analysis"),
        "{log}"
    );
}

#[test]
fn sigterm_while_busy_stops_within_3_s_and_nothing_is_lost() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\n");
    let drop = home.path("drop");
    let names: Vec<String> = (0..40).map(|n| format!("busy {n:02}.wav")).collect();
    let mut daemon = home.start(&[]);
    for (n, name) in names.iter().enumerate() {
        fs::write(drop.join(name), fixture(CLASSICAL[n % 3])).unwrap();
    }
    daemon.wait_for_records(1);
    let log_path = daemon.log_path.clone();
    let notifications = Arc::clone(&daemon.notifications.states);
    let (status, took) = daemon.terminate();
    let log = fs::read_to_string(log_path).unwrap();
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(took < STOP_DEADLINE, "took {took:?}; log:\n{log}");
    // Sent before the exit; the listener reads it within a poll or two.
    let stopping_reported = (0..20).any(|_| {
        let found = notifications
            .lock()
            .unwrap()
            .iter()
            .any(|state| state == "STOPPING=1");
        thread::sleep(if found { Duration::ZERO } else { POLL });
        found
    });
    assert!(stopping_reported, "no STOPPING=1; log:\n{log}");
    let first_run = home.results();
    by_path(&first_run);
    assert!(
        first_run.len() < names.len(),
        "not busy enough to test a stop mid-way"
    );

    // The files without a record are classified at the next start, the others not again.
    let mut daemon = home.start(&[]);
    daemon.wait_for_records(names.len());
    daemon.stop();
    let records = home.results();
    assert_eq!(by_path(&records).len(), names.len());
}

#[test]
fn sighup_rereads_the_config_and_the_watchdog_is_pinged() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\n");
    let mut daemon = home.start(&[("WATCHDOG_USEC", "300000")]);
    daemon.expect_notify("WATCHDOG=1", Duration::from_secs(2));
    fs::write(home.path("drop/first.wav"), fixture(CLASSICAL[0])).unwrap();
    daemon.wait_for_records(1);

    fs::create_dir(home.path("second")).unwrap();
    home.write_config("[folder]\npaths = [\"drop\", \"second\"]\n");
    daemon.signal("HUP");
    daemon.expect_notify("RELOADING=1", START_DEADLINE);
    daemon.expect_notify("READY=1", START_DEADLINE);
    fs::write(home.path("second/second.wav"), fixture(CLASSICAL[1])).unwrap();
    daemon.wait_for_records(2);

    // A broken config is refused and the running one kept.
    home.write_config("[folder]\npaths = [\"drop\"]\nsettle_s = -1.0\n");
    daemon.signal("HUP");
    fs::write(home.path("second/third.wav"), fixture(CLASSICAL[2])).unwrap();
    daemon.wait_for_records(3);
    let log = daemon.log();
    daemon.stop();
    assert!(
        log.contains("folder.settle_s") && log.contains("keeping the running configuration"),
        "{log}"
    );
    let records = home.results();
    let records = by_path(&records);
    assert_eq!(records.len(), 3, "{records:#?}");
    assert!(records.contains_key(&home.path("second/second.wav")));
    assert!(records.contains_key(&home.path("second/third.wav")));
}

#[test]
fn bad_configs_are_refused_with_one_line_naming_the_key() {
    let home = Home::new();
    let cases = [
        ("[folder]\nsettle = 2\n", "`settle = 2`"),
        ("[folder]\nsettle_s = -1.0\n", "folder.settle_s"),
        ("[folder]\naction = \"move\"\n", "folder.target"),
        ("[folder]\naction = \"delete\"\n", "`move`"),
        ("[log]\nlevel = \"loud\"\n", "log.level"),
    ];
    for (body, needle) in cases {
        home.write_config(body);
        assert_refused(
            &genred(&home, &["check-config", "genred.toml"], &[]),
            needle,
        );
        assert_refused(
            &genred(&home, &["run", "--config", "genred.toml"], &[]),
            needle,
        );
    }
    home.write_config("");
    let missing_model = genred(
        &home,
        &["run", "--config", "genred.toml", "--model", "nowhere.onnx"],
        &[],
    );
    assert_refused(&missing_model, "nowhere.onnx");
    assert_refused(
        &genred(&home, &["run", "--config", "absent.toml"], &[]),
        "absent.toml",
    );
}

#[test]
fn check_config_prints_the_effective_config_and_where_it_came_from() {
    let home = Home::new();
    home.write_config("[folder]\naction = \"copy\"\ntarget = \"sorted\"\n");
    for (args, env, origin) in [
        (
            &["check-config", "genred.toml"][..],
            &[][..],
            "genred.toml (given on the command line)",
        ),
        (
            &["check-config"][..],
            &[("GENRED_CONFIG", "genred.toml")][..],
            "genred.toml (from $GENRED_CONFIG)",
        ),
    ] {
        let output = genred(&home, args, env);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            stdout.lines().next(),
            Some(format!("# genred configuration from {origin}").as_str())
        );
        let effective: toml::Table = toml::from_str(&stdout).unwrap();
        assert_eq!(effective["folder"]["action"].as_str(), Some("copy"));
        assert_eq!(effective["folder"]["target"].as_str(), Some("sorted"));
        assert_eq!(
            effective["folder"]["settle_s"].as_float(),
            Some(2.0),
            "defaults filled in"
        );
        assert_eq!(effective["model"]["path"].as_str(), Some(MODEL));
    }
}
