//! The drop folder against hostile writers and hostile trees (issue 8, the
//! folder source's cases): the real `genred run` on a real temporary folder,
//! with writers scripted here, symbolic links, FIFOs and odd names.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// How long to keep watching for a record that must not come.
const NO_MORE_RECORDS: Duration = Duration::from_millis(1500);

/// The records once `count` are there and no more come for a while.
fn exactly_records(daemon: &mut Daemon, count: usize) -> Vec<serde_json::Value> {
    daemon.wait_for_records(count);
    thread::sleep(NO_MORE_RECORDS);
    let records = read_results(&daemon.results_path);
    assert_eq!(records.len(), count, "{records:#?}\nlog:\n{}", daemon.log());
    records
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The CPU time (user + system) the process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports in USER_HZ, 100 on every architecture genred targets.
    Duration::from_millis(ticks * 10)
}

fn resident_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").parse().ok())
        .unwrap()
}

#[test]
fn a_writer_that_holds_the_file_open_and_pauses_is_waited_for() {
    let home = Home::new();
    home.write_config(
        "[folder]\npaths = [\"drop\"]\nsettle_s = 0.3\naction = \"move\"\ntarget = \"sorted\"\nrejected = \"rejected\"\n",
    );
    let mut daemon = home.start(&[]);
    let bytes = fixture(CLASSICAL[0]);
    let path = home.path("drop/paused.wav");
    let mut file = fs::File::create(&path).unwrap();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    file.write_all(first).unwrap();
    // Ten times the settle time with the file open and half written.
    thread::sleep(Duration::from_secs(3));
    assert!(
        home.results().is_empty(),
        "read while its writer held it: {:#?}",
        home.results()
    );
    assert!(path.is_file(), "acted on while its writer held it");
    file.write_all(rest).unwrap();
    drop(file);
    let closed = Instant::now();
    daemon.wait_for_records(1);
    eprintln!("record {:?} after the close", closed.elapsed());
    let records = exactly_records(&mut daemon, 1);
    daemon.stop();
    let record = &records[0];
    assert_valid_classification(record);
    assert_eq!(
        record["size"].as_u64(),
        Some(bytes.len() as u64),
        "{record}"
    );
    let moved_to = PathBuf::from(str_field(record, "moved_to"));
    assert_eq!(fs::read(&moved_to).unwrap(), bytes, "moved whole");
    assert!(!home.path("rejected").exists(), "nothing rejected");
}

#[test]
fn with_settle_zero_a_file_is_never_read_at_size_zero() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\nsettle_s = 0.0\n");
    let mut daemon = home.start(&[]);
    let bytes = fixture(CLASSICAL[1]);
    let path = home.path("drop/created then written.wav");
    let mut file = fs::File::create(&path).unwrap();
    thread::sleep(Duration::from_millis(1500));
    file.write_all(&bytes).unwrap();
    drop(file);
    let records = exactly_records(&mut daemon, 1);
    daemon.stop();
    assert_valid_classification(&records[0]);
    assert_eq!(records[0]["size"].as_u64(), Some(bytes.len() as u64));
}

#[test]
fn a_writer_appending_in_sessions_gets_one_record_for_the_whole_file() {
    let home = Home::new();
    home.write_config(
        "[folder]\npaths = [\"drop\"]\nsettle_s = 1.5\naction = \"move\"\ntarget = \"sorted\"\n",
    );
    let mut daemon = home.start(&[]);
    let ten_chunks = fixture(CLASSICAL[0]);
    let one_gap = fixture(CLASSICAL[2]);
    let writers = [
        {
            let (path, bytes) = (home.path("drop/ten chunks.wav"), ten_chunks.clone());
            thread::spawn(move || append_in_sessions(&path, &bytes, 10, Duration::from_millis(500)))
        },
        {
            let (path, bytes) = (home.path("drop/one gap.wav"), one_gap.clone());
            thread::spawn(move || append_in_sessions(&path, &bytes, 2, Duration::from_secs(1)))
        },
    ];
    for writer in writers {
        writer.join().unwrap();
    }
    let records = exactly_records(&mut daemon, 2);
    daemon.stop();
    let records = by_path(&records);
    let mut sorted = BTreeSet::new();
    for (name, bytes) in [("ten chunks.wav", &ten_chunks), ("one gap.wav", &one_gap)] {
        let record = records[&home.path("drop").join(name)];
        assert_valid_classification(record);
        assert_eq!(
            record["size"].as_u64(),
            Some(bytes.len() as u64),
            "{record}"
        );
        let moved_to = PathBuf::from(str_field(record, "moved_to"));
        assert_eq!(&fs::read(&moved_to).unwrap(), bytes);
        sorted.insert(
            moved_to
                .strip_prefix(home.path("sorted"))
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        files_under(&home.path("sorted")),
        sorted,
        "no pieces (x-1.wav)"
    );
}

/// Runs genred to its exit (killing it past `within`) and returns its output.
fn run_to_exit(home: &Home, args: &[&str], within: Duration) -> std::process::Output {
    let mut child = Command::new(GENRED)
        .args(args)
        .current_dir(home.path(""))
        .env_remove("GENRED_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {within:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        thread::sleep(POLL);
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_second_genred_on_the_same_folder_is_refused_and_the_first_keeps_going() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\n");
    let mut daemon = home.start(&[]);
    // Another config, results file and working directory: the folder is the same.
    let other = Home::new();
    other.write_config(&format!(
        "[folder]\npaths = [\"{}\", \"drop\"]\naction = \"copy\"\ntarget = \"sorted\"\n",
        home.path("drop").display()
    ));
    let refused = run_to_exit(&other, &["run", "--config", "genred.toml"], START_DEADLINE);
    assert_refused(
        &refused,
        "another genred is already watching this drop folder",
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(home.path("drop").to_str().unwrap()),
        "the folder is named"
    );
    assert!(
        !other.path("results.jsonl").exists(),
        "the refused one touched nothing"
    );

    fs::write(home.path("drop/after.wav"), fixture(CLASSICAL[0])).unwrap();
    let records = exactly_records(&mut daemon, 1);
    // A reload lets go of the lock and takes it again.
    daemon.signal("HUP");
    daemon.expect_notify("READY=1", START_DEADLINE);
    let refused = run_to_exit(&other, &["run", "--config", "genred.toml"], START_DEADLINE);
    assert_refused(
        &refused,
        "another genred is already watching this drop folder",
    );
    daemon.stop();
    assert_eq!(
        str_field(&records[0], "path"),
        home.path("drop/after.wav").to_str().unwrap()
    );
    assert!(!other.path("sorted").exists());
}

#[test]
fn symlink_loops_and_links_out_of_the_folder_neither_spin_nor_move_anyone_elses_files() {
    let home = Home::new();
    home.write_config(
        "[folder]\npaths = [\"drop\"]\nsettle_s = 0.3\naction = \"move\"\ntarget = \"sorted\"\nrejected = \"rejected\"\n",
    );
    let drop = home.path("drop");
    let theirs = home.path("someone else");
    fs::create_dir_all(drop.join("sub")).unwrap();
    fs::create_dir(&theirs).unwrap();
    fs::write(theirs.join("theirs.wav"), fixture(CLASSICAL[1])).unwrap();
    fs::write(theirs.join("linked.wav"), fixture(CLASSICAL[2])).unwrap();
    fs::write(drop.join("sub/mine.wav"), fixture(CLASSICAL[0])).unwrap();
    symlink(".", drop.join("loop")).unwrap();
    symlink("..", drop.join("sub/up")).unwrap();
    symlink(&theirs, drop.join("theirs")).unwrap();
    symlink(theirs.join("linked.wav"), drop.join("linked.wav")).unwrap();
    mkfifo(&drop.join("pipe.wav"));
    let mut daemon = home.start(&[]);
    daemon.wait_for_records(1);

    // The same at run time.
    symlink("..", drop.join("sub/up again")).unwrap();
    symlink(&theirs, drop.join("theirs again")).unwrap();
    symlink(theirs.join("linked.wav"), drop.join("linked again.wav")).unwrap();
    mkfifo(&drop.join("pipe again.wav"));
    fs::write(drop.join("sub/mine too.wav"), fixture(CLASSICAL[1])).unwrap();
    let records = exactly_records(&mut daemon, 2);

    let pid = daemon.child.id();
    let (cpu_before, rss_before) = (cpu_time(pid), resident_kib(pid));
    thread::sleep(Duration::from_secs(1));
    let (cpu_idle, rss_after) = (cpu_time(pid) - cpu_before, resident_kib(pid));
    let log = daemon.log();
    daemon.stop();
    eprintln!("idle among loops: {cpu_idle:?} CPU in 1 s, RSS {rss_before} -> {rss_after} KiB");
    assert!(
        cpu_idle < Duration::from_millis(200),
        "spins: {cpu_idle:?} CPU in 1 s"
    );
    assert!(
        rss_after < rss_before + 4096,
        "grows: {rss_before} -> {rss_after} KiB"
    );

    let records = by_path(&records);
    let taken: BTreeSet<&Path> = records.keys().map(PathBuf::as_path).collect();
    let expected: BTreeSet<PathBuf> =
        [drop.join("sub/mine.wav"), drop.join("sub/mine too.wav")].into();
    assert_eq!(
        taken,
        expected.iter().map(PathBuf::as_path).collect(),
        "{log}"
    );
    for name in ["theirs.wav", "linked.wav"] {
        assert!(
            theirs.join(name).is_file(),
            "{name} was taken from someone else's folder"
        );
    }
    for link in [
        "linked.wav",
        "linked again.wav",
        "loop",
        "sub/up",
        "theirs",
        "theirs again",
    ] {
        let metadata = fs::symlink_metadata(drop.join(link)).unwrap();
        assert!(metadata.file_type().is_symlink(), "{link} was touched");
    }
    for line in [
        "sub/up again: skipped: a symbolic link to a directory (never followed)",
        "drop/theirs: skipped: a symbolic link to a directory (never followed)",
        "pipe.wav: skipped: a FIFO, not a regular file",
        "pipe again.wav: skipped: a FIFO, not a regular file",
        "a symbolic link: left alone",
    ] {
        assert!(log.contains(line), "no `{line}` in the log:\n{log}");
    }
}

#[test]
fn a_drop_folder_removed_or_moved_away_is_watched_again_when_it_comes_back() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\nsettle_s = 0.3\n");
    let drop = home.path("drop");
    let mut daemon = home.start(&[]);
    let wait_for_log = |daemon: &Daemon, needle: &str, count: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while daemon.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "no `{needle}` ×{count}:\n{}",
                daemon.log()
            );
            thread::sleep(POLL);
        }
    };

    fs::remove_dir_all(&drop).unwrap();
    wait_for_log(&daemon, "the drop folder was removed or moved away", 1);
    // Back after a while: the backoff has grown, the folder is still found.
    thread::sleep(Duration::from_secs(2));
    fs::create_dir(&drop).unwrap();
    fs::write(drop.join("in the new folder.wav"), fixture(CLASSICAL[0])).unwrap();
    wait_for_log(&daemon, "the drop folder is back", 1);
    fs::write(drop.join("after it came back.wav"), fixture(CLASSICAL[1])).unwrap();
    daemon.wait_for_records(2);

    fs::rename(&drop, home.path("old drop")).unwrap();
    wait_for_log(&daemon, "the drop folder was removed or moved away", 2);
    // What lands in the folder moved away is not genred's any more.
    fs::write(home.path("old drop/not watched.wav"), fixture(CLASSICAL[2])).unwrap();
    fs::create_dir(&drop).unwrap();
    wait_for_log(&daemon, "the drop folder is back", 2);
    fs::write(drop.join("in the third folder.wav"), fixture(CLASSICAL[2])).unwrap();
    let records = exactly_records(&mut daemon, 3);
    daemon.stop();
    let records = by_path(&records);
    for name in [
        "in the new folder.wav",
        "after it came back.wav",
        "in the third folder.wav",
    ] {
        assert_valid_classification(records[&drop.join(name)]);
    }
}

#[test]
fn a_file_whose_name_is_not_utf8_is_classified_and_recorded_with_its_exact_bytes() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\nsettle_s = 0.3\n");
    let drop = home.path("drop");
    let name = OsStr::from_bytes(b"caf\xe9 \xff.wav");
    fs::write(drop.join(name), fixture(CLASSICAL[0])).unwrap();
    let mut daemon = home.start(&[]);
    fs::write(
        drop.join(OsStr::from_bytes(b"\xfe at run time.wav")),
        fixture(CLASSICAL[1]),
    )
    .unwrap();
    let records = exactly_records(&mut daemon, 2);
    daemon.stop();
    let mut recorded: Vec<Vec<u8>> = records
        .iter()
        .map(|record| {
            assert_valid_classification(record);
            bytes_field(record, "path_bytes")
        })
        .collect();
    recorded.sort();
    let mut expected: Vec<Vec<u8>> = [&b"caf\xe9 \xff.wav"[..], b"\xfe at run time.wav"]
        .iter()
        .map(|name| {
            drop.join(OsStr::from_bytes(name))
                .as_os_str()
                .as_bytes()
                .to_vec()
        })
        .collect();
    expected.sort();
    assert_eq!(recorded, expected);
}
