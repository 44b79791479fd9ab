//! The sink's promises, through the real `genred run` on real folders: a file
//! is acted on only as the version that was analysed and only once its record
//! is written (a full disk holds it in place, then it follows), what a killed
//! placement left is cleaned, an unreadable file stays where it is, and long
//! or non-UTF-8 names are filed, never lost.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// The longest destination name genred gives (NAME_MAX less what its
/// temporary copy's name adds).
const MAX_DESTINATION_NAME: usize = 242;

/// A WAV fixture with its audio repeated `times`: long enough that the
/// daemon holds it open for a while.
fn long_wav(name: &str, times: usize) -> Vec<u8> {
    let clip = fixture(name);
    let data = clip
        .windows(4)
        .position(|window| window == b"data")
        .expect("a WAV fixture has a data chunk");
    let samples = &clip[data + 8..];
    let mut wav = clip[..data + 4].to_vec();
    let length = u32::try_from(samples.len() * times).expect("under 4 GB");
    wav.extend_from_slice(&length.to_le_bytes());
    for _ in 0..times {
        wav.extend_from_slice(samples);
    }
    let riff = u32::try_from(wav.len() - 8).expect("under 4 GB");
    wav[4..8].copy_from_slice(&riff.to_le_bytes());
    wav
}

/// Whether process `pid` has `path` open.
fn holds_open(pid: u32, path: &Path) -> bool {
    let Ok(descriptors) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    descriptors
        .flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

#[test]
fn a_file_overwritten_while_being_classified_is_filed_as_its_new_version() {
    let home = Home::new();
    home.write_config(
        "[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\nrejected = \"rejected\"\n",
    );
    let mut daemon = home.start(&[]);
    let file = home.path("drop/song.wav");
    fs::write(&file, long_wav(BLUES[0], 12)).unwrap();
    // Overwritten in place (same inode) while a worker reads it.
    let pid = daemon.child.id();
    wait_until("the daemon opens the file", RESULT_DEADLINE, || {
        holds_open(pid, &file)
    });
    let new_version = fixture(CLASSICAL[0]);
    fs::write(&file, &new_version).unwrap();

    let records = daemon.wait_for_records(1);
    thread::sleep(Duration::from_millis(500));
    let log = daemon.log();
    daemon.stop();
    let records_now = home.results();
    assert_eq!(
        records_now.len(),
        1,
        "one record, for the new version: {records_now:#?}"
    );
    let record = &records[0];
    assert_valid_classification(record);
    assert_eq!(
        record["size"].as_u64(),
        Some(new_version.len() as u64),
        "{record}"
    );
    assert_eq!(str_field(record, "genre"), "classical", "{record}");
    let moved_to = PathBuf::from(str_field(record, "moved_to"));
    assert_eq!(moved_to, home.path("sorted/classical/song.wav"), "{record}");
    assert_eq!(fs::read(&moved_to).unwrap(), new_version);
    assert!(!file.exists());
    assert!(
        !home.path("rejected").exists(),
        "the torn read rejected nothing"
    );
    assert!(
        log.contains("changed since it was analysed"),
        "the old version's result was refused:\n{log}"
    );
}

#[test]
fn a_file_whose_ctime_alone_changed_while_being_classified_is_classified_once_more() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\n");
    let mut daemon = home.start(&[]);
    let file = home.path("drop/song.wav");
    let audio = long_wav(CLASSICAL[0], 12);
    fs::write(&file, &audio).unwrap();
    let pid = daemon.child.id();
    wait_until("the daemon opens the file", RESULT_DEADLINE, || {
        holds_open(pid, &file)
    });
    // Same content, size and mtime: only the ctime moves.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();

    let records = daemon.wait_for_records(1);
    thread::sleep(Duration::from_millis(500));
    let log = daemon.log();
    daemon.stop();
    assert_eq!(home.results().len(), 1, "{:#?}", home.results());
    assert_eq!(
        str_field(&records[0], "genre"),
        "classical",
        "{}",
        records[0]
    );
    let moved_to = PathBuf::from(str_field(&records[0], "moved_to"));
    assert_eq!(moved_to, home.path("sorted/classical/song.wav"));
    assert_eq!(fs::read(&moved_to).unwrap(), audio);
    assert!(
        log.contains("changed since it was analysed"),
        "the first result was refused, then the file taken again:\n{log}"
    );
}

#[test]
fn a_rotated_results_file_does_not_make_the_daemon_classify_or_copy_again() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"copy\"\ntarget = \"sorted\"\n");
    let mut daemon = home.start(&[]);
    fs::write(home.path("drop/song.wav"), fixture(CLASSICAL[0])).unwrap();
    daemon.wait_for_records(1);

    // logrotate's recipe: move the file away, then SIGHUP; and a truncation in place.
    fs::rename(home.path("results.jsonl"), home.path("results.jsonl.1")).unwrap();
    daemon.signal("HUP");
    daemon.expect_notify("READY=1", RESULT_DEADLINE);
    fs::write(home.path("drop/second.wav"), fixture(CLASSICAL[1])).unwrap();
    let records = daemon.wait_for_records(1);
    fs::write(home.path("results.jsonl"), b"").unwrap();
    daemon.signal("HUP");
    daemon.expect_notify("READY=1", RESULT_DEADLINE);
    // Time for a file classified again to show.
    thread::sleep(Duration::from_secs(4));
    let log = daemon.log();
    daemon.stop();
    assert_eq!(
        str_field(&records[0], "path"),
        home.path("drop/second.wav").to_str().unwrap(),
        "only the new file after the rotation: {records:#?}"
    );
    assert!(home.results().is_empty(), "{:#?}", home.results());
    assert_eq!(
        files_under(&home.path("sorted")),
        ["classical/second.wav".into(), "classical/song.wav".into()].into(),
        "no duplicate copies"
    );
    assert!(log.contains("known_files=2"), "{log}");
    // Log lines people read: the confidence to three digits, the copy's destination.
    let confidence = log
        .split("confidence=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default();
    assert!(
        confidence.len() == 5 && confidence.parse::<f64>().is_ok(),
        "{confidence}: {log}"
    );
    let copied = format!(
        "copied path={} to={}",
        home.path("drop/song.wav").display(),
        home.path("sorted/classical/song.wav").display()
    );
    assert!(log.contains(&copied), "{log}");
}

/// Sets the soft limit on open files of the running process `pid` (util-linux's prlimit).
fn limit_open_files(pid: u32, soft: usize) {
    let set = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={soft}:"))
        .output()
        .unwrap_or_else(|err| panic!("cannot run prlimit(1) (util-linux): {err}"));
    assert!(
        set.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&set.stderr)
    );
}

#[test]
fn a_file_met_with_no_free_descriptor_is_tried_again_not_left_over() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\n");
    let mut daemon = home.start(&[]);
    let pid = daemon.child.id();
    // A limit at its lowest free descriptor number: every descriptor it may have is in
    // use, so the next open fails with EMFILE.
    let open: std::collections::BTreeSet<usize> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| fd.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let lowest_free = (0..).find(|fd| !open.contains(fd)).unwrap_or_default();
    limit_open_files(pid, lowest_free);
    let file = home.path("drop/song.wav");
    fs::write(&file, fixture(CLASSICAL[0])).unwrap();
    wait_until("the open fails", RESULT_DEADLINE, || {
        daemon.log().contains("Too many open files")
    });
    thread::sleep(Duration::from_secs(3));
    assert!(home.results().is_empty(), "{:#?}", home.results());
    assert_eq!(
        fs::read(&file).unwrap(),
        fixture(CLASSICAL[0]),
        "left in place"
    );

    limit_open_files(pid, 4096);
    let records = daemon.wait_for_records(1);
    let log = daemon.log();
    daemon.stop();
    assert_eq!(
        str_field(&records[0], "genre"),
        "classical",
        "{}",
        records[0]
    );
    assert_eq!(
        PathBuf::from(str_field(&records[0], "moved_to")),
        home.path("sorted/classical/song.wav")
    );
    assert!(log.contains("tried again once it has settled"), "{log}");
}

/// A tmpfs mounted for the life of a test. Mounting needs root (CAP_SYS_ADMIN), as CI
/// runs the tests: where it is refused the test fails, saying so, rather than passing
/// untested.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Self {
        fs::create_dir_all(path).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .unwrap_or_else(|err| panic!("cannot run mount(8) (util-linux's mount): {err}"));
        assert!(
            mounted.status.success(),
            "cannot mount a tmpfs at {} ({}: {}): this test needs root (CAP_SYS_ADMIN), as CI runs it",
            path.display(),
            mounted.status,
            String::from_utf8_lossy(&mounted.stderr).trim()
        );
        Self {
            path: path.to_owned(),
        }
    }

    /// Fills it up with one file, whose path is returned.
    fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut file = fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match file.write_all(&block) {
                Ok(()) => {}
                Err(err) if err.raw_os_error() == Some(28) => return filler,
                Err(err) => panic!("{}: {err}", filler.display()),
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn with_the_results_disk_full_files_stay_until_their_record_is_written() {
    let home = Home::new();
    let disk = Tmpfs::mount(&home.path("results-disk"), "256k");
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\n");
    let config = fs::read_to_string(home.path("genred.toml"))
        .unwrap()
        .replace("\"results.jsonl\"", "\"results-disk/results.jsonl\"");
    fs::write(home.path("genred.toml"), config).unwrap();
    // A blank first line that leaves 96 bytes of its tmpfs page free: the record's append
    // writes those and then fails, and must not leave them as a line of their own.
    fs::write(
        disk.path.join("results.jsonl"),
        format!("{}\n", " ".repeat(3999)),
    )
    .unwrap();
    let mut daemon = home.start(&[]);
    let filler = disk.fill();
    let file = home.path("drop/song.wav");
    fs::write(&file, fixture(CLASSICAL[0])).unwrap();

    let failure = "cannot append to the results file";
    wait_until("the append fails", RESULT_DEADLINE, || {
        daemon.log().contains(failure)
    });
    // Retried (after 1 s, then 2 s more) while the disk stays full.
    thread::sleep(Duration::from_millis(3500));
    assert_eq!(
        fs::read(&file).unwrap(),
        fixture(CLASSICAL[0]),
        "left in place"
    );
    assert!(
        !home.path("sorted").exists() || files_under(&home.path("sorted")).is_empty(),
        "nothing placed: {:?}",
        files_under(&home.path("sorted"))
    );
    assert_eq!(
        daemon.log().matches(failure).count(),
        1,
        "logged once:\n{}",
        daemon.log()
    );

    fs::remove_file(filler).unwrap();
    daemon.results_path = disk.path.join("results.jsonl");
    let records = daemon.wait_for_records(1);
    let log = daemon.log();
    daemon.stop();
    assert_eq!(records.len(), 1, "{records:#?}");
    let moved_to = PathBuf::from(str_field(&records[0], "moved_to"));
    assert_eq!(moved_to, home.path("sorted/classical/song.wav"));
    assert_eq!(fs::read(&moved_to).unwrap(), fixture(CLASSICAL[0]));
    assert!(!file.exists());
    assert!(log.contains("takes records again"), "{log}");
    // read_results fails on any line that is not a whole record: a torn fragment.
    assert_eq!(read_results(&disk.path.join("results.jsonl")).len(), 1);
}

#[test]
fn a_move_to_another_file_system_keeps_the_files_mtime_and_mode() {
    let home = Home::new();
    let other = Tmpfs::mount(&home.path("other-disk"), "64m");
    home.write_config(&format!(
        "[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"{}\"\n",
        other.path.join("sorted").display()
    ));
    // Written outside the drop folder with its date and mode set, then moved in whole.
    let staging = home.path("song.wav");
    fs::write(&staging, fixture(CLASSICAL[0])).unwrap();
    let year_2020 = std::time::UNIX_EPOCH + Duration::from_secs(1_577_880_000);
    fs::File::options()
        .write(true)
        .open(&staging)
        .unwrap()
        .set_times(fs::FileTimes::new().set_modified(year_2020))
        .unwrap();
    fs::set_permissions(&staging, fs::Permissions::from_mode(0o640)).unwrap();
    fs::rename(&staging, home.path("drop/song.wav")).unwrap();

    let mut daemon = home.start(&[]);
    let records = daemon.wait_for_records(1);
    daemon.stop();
    let moved_to = PathBuf::from(str_field(&records[0], "moved_to"));
    assert!(moved_to.starts_with(&other.path), "{moved_to:?}");
    let metadata = fs::metadata(&moved_to).unwrap();
    assert_eq!(metadata.modified().unwrap(), year_2020, "mtime kept");
    assert_eq!(metadata.permissions().mode() & 0o7777, 0o640, "mode kept");
    assert_eq!(fs::read(&moved_to).unwrap(), fixture(CLASSICAL[0]));
}

#[test]
fn a_target_replaced_by_a_link_into_the_drop_folder_is_refused_at_the_next_move() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\n");
    let mut daemon = home.start(&[]);
    fs::write(home.path("drop/first.wav"), fixture(CLASSICAL[0])).unwrap();
    let first = daemon.wait_for_records(1);
    assert_eq!(
        PathBuf::from(str_field(&first[0], "moved_to")),
        home.path("sorted/classical/first.wav")
    );

    // At runtime the target becomes a link to the drop folder.
    fs::rename(home.path("sorted"), home.path("sorted-before")).unwrap();
    std::os::unix::fs::symlink(home.path("drop"), home.path("sorted")).unwrap();
    let second = home.path("drop/second.wav");
    fs::write(&second, fixture(CLASSICAL[1])).unwrap();
    let records = daemon.wait_for_records(2);
    // Time for a loop to show itself, were the file placed where it is found again.
    thread::sleep(Duration::from_secs(3));
    let log = daemon.log();
    let records_now = read_results(&daemon.results_path);
    daemon.stop();
    assert_eq!(
        records_now.len(),
        2,
        "one record each, no loop: {records_now:#?}"
    );
    let refused = str_field(&records[1], "action_error");
    assert!(
        refused.contains("inside the drop folder") && refused.contains("second.wav"),
        "{}",
        records[1]
    );
    assert!(log.contains("inside the drop folder"), "{log}");
    assert_eq!(
        fs::read(&second).unwrap(),
        fixture(CLASSICAL[1]),
        "left in place"
    );
    assert!(
        !home.path("drop/classical").exists(),
        "nothing placed in the drop folder"
    );
}

#[test]
fn leftovers_of_a_killed_copy_are_cleaned_and_the_file_gets_its_own_name() {
    let home = Home::new();
    // Across file systems, so the move is a copy; /dev/shm is a tmpfs.
    let other = tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap());
    let target = other.path().canonicalize().unwrap().join("sorted");
    home.write_config(&format!(
        "[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"{}\"\n",
        target.display()
    ));
    // Exactly what a genred killed mid-copy leaves: the empty claim and a
    // partial hidden copy; beside them, a user's own empty file.
    let genre = target.join("classical");
    fs::create_dir_all(&genre).unwrap();
    fs::write(genre.join("song.wav"), b"").unwrap();
    fs::write(
        genre.join(".song.wav.genred-copy"),
        &fixture(CLASSICAL[0])[..100_000],
    )
    .unwrap();
    fs::write(genre.join("empty.wav"), b"").unwrap();
    fs::write(home.path("drop/song.wav"), fixture(CLASSICAL[0])).unwrap();

    let mut daemon = home.start(&[]);
    let records = daemon.wait_for_records(1);
    daemon.stop();
    assert_eq!(
        str_field(&records[0], "genre"),
        "classical",
        "{}",
        records[0]
    );
    let moved_to = PathBuf::from(str_field(&records[0], "moved_to"));
    assert_eq!(moved_to, genre.join("song.wav"), "not song-1.wav");
    assert_eq!(fs::read(&moved_to).unwrap(), fixture(CLASSICAL[0]));
    assert_eq!(
        files_under(&target),
        ["classical/empty.wav".into(), "classical/song.wav".into()].into(),
        "no leftovers, the user's empty file kept"
    );
}

#[test]
fn a_255_byte_name_is_filed_under_a_shortened_name_with_its_extension() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\n");
    let name = format!("{}.wav", "é".repeat(125) + "x");
    assert_eq!(name.len(), 255);
    fs::create_dir(home.path("drop/sub")).unwrap();
    for folder in ["drop", "drop/sub"] {
        fs::write(home.path(folder).join(&name), fixture(CLASSICAL[1])).unwrap();
    }
    let mut daemon = home.start(&[]);
    let records = daemon.wait_for_records(2);
    daemon.stop();
    let mut placed = Vec::new();
    for record in &records {
        let moved_to = PathBuf::from(str_field(record, "moved_to"));
        let placed_name = moved_to.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(placed_name.len() <= MAX_DESTINATION_NAME, "{placed_name}");
        assert!(
            placed_name.ends_with(".wav") && placed_name.starts_with("éé"),
            "{placed_name}"
        );
        assert_eq!(fs::read(&moved_to).unwrap(), fixture(CLASSICAL[1]));
        placed.push(placed_name);
    }
    placed.sort();
    assert_ne!(placed[0], placed[1], "one numbered: {placed:?}");
    assert!(!home.path("drop").join(&name).exists());
    assert!(!home.path("drop/sub").join(&name).exists());
}

#[test]
fn names_that_are_not_utf8_are_filed_and_recorded_byte_for_byte() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\n");
    let name = OsStr::from_bytes(b"caf\xe9 \xff.wav");
    let file = home.path("drop").join(name);
    fs::write(&file, fixture(CLASSICAL[2])).unwrap();
    let mut daemon = home.start(&[]);
    let records = daemon.wait_for_records(1);
    daemon.stop();
    let record = &records[0];
    assert_eq!(
        bytes_field(record, "path_bytes"),
        file.as_os_str().as_bytes(),
        "{record}"
    );
    let moved_to = home.path("sorted/classical").join(name);
    assert_eq!(
        bytes_field(record, "moved_to_bytes"),
        moved_to.as_os_str().as_bytes()
    );
    assert_eq!(fs::read(&moved_to).unwrap(), fixture(CLASSICAL[2]));
    assert!(!file.exists());
}

/// `genred run` as the user nobody, for whom a mode-000 file is unreadable
/// (root reads anything): needs root and util-linux's `setpriv`, as CI has;
/// without them the test fails, saying so, rather than passing untested.
fn start_as_nobody(home: &Home) -> Child {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|path| Path::new(path).is_file())
        .expect("no setpriv (util-linux) to run genred as another user: install util-linux");
    for folder in ["", "drop"] {
        fs::set_permissions(home.path(folder), fs::Permissions::from_mode(0o777)).unwrap();
    }
    let log = fs::File::create(home.path("genred.log")).unwrap();
    let child = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args([GENRED, "run", "--config", "genred.toml"])
        .current_dir(home.path(""))
        .env_remove("RUST_LOG")
        .env_remove("GENRED_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    child
}

#[test]
fn an_unreadable_file_is_left_in_place_and_logged_not_rejected() {
    let home = Home::new();
    home.write_config(
        "[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\nrejected = \"rejected\"\n",
    );
    let locked = home.path("drop/locked.wav");
    fs::write(&locked, fixture(CLASSICAL[0])).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    fs::write(home.path("drop/open.wav"), fixture(CLASSICAL[1])).unwrap();
    let mut child = start_as_nobody(&home);
    let results = home.path("results.jsonl");
    let log = || fs::read_to_string(home.path("genred.log")).unwrap_or_default();
    let deadline = Instant::now() + START_DEADLINE + RESULT_DEADLINE;
    while read_results(&results).len() < 2 {
        assert!(Instant::now() < deadline, "no records; log:\n{}", log());
        assert!(
            child.try_wait().unwrap().is_none(),
            "genred exited; log:\n{}",
            log()
        );
        thread::sleep(POLL);
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}; log:\n{}", log());

    let records = read_results(&results);
    let records = by_path(&records);
    let record = records[&locked];
    assert!(
        str_field(record, "error").contains("ermission denied"),
        "{record}"
    );
    assert!(
        record.get("size").is_none(),
        "tried again at the next start: {record}"
    );
    assert!(record.get("moved_to").is_none(), "{record}");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        fs::read(&locked).unwrap(),
        fixture(CLASSICAL[0]),
        "left in place"
    );
    assert!(!home.path("rejected").exists(), "nothing rejected");
    assert!(log().contains("left where it is"), "{}", log());
    let open = records[&home.path("drop/open.wav")];
    assert_eq!(
        PathBuf::from(str_field(open, "moved_to")),
        home.path("sorted/classical/open.wav")
    );
}
