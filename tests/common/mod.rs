//! The harness shared by the integration tests: the real binary's path and a
//! way to run it to its exit under a deadline; files from ../shared (GTZAN
//! clips, the dataset, reference values); feature CSVs read with the library's
//! own reader, the one `genred evaluate` uses. For the tests that drive
//! `genred run`: a temporary home with a config, a drop folder and a results
//! file; the binary started in it with systemd's notify protocol on a real
//! socket; the results file read back. For the microphone: the test microphone
//! (tests/testmic/), a PulseAudio server to play clips into.
//!
//! Each test crate uses only part of it, hence `dead_code` is allowed here.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use genred::features::csv::FeatureTable;
use serde_json::Value;

pub const GENRED: &str = env!("CARGO_BIN_EXE_genred");
/// The data beside the checkout (not ours to redistribute), which CI always has.
pub const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared");
pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/gtzan-audio"
);
pub const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/genre-2.onnx");
/// The test microphone's scripts (tests/testmic/).
pub const TESTMIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testmic");
pub const CLASSICAL: [&str; 3] = [
    "classical.00000.wav",
    "classical.00001.wav",
    "classical.00002.wav",
];
pub const BLUES: [&str; 3] = ["blues.00000.wav", "blues.00001.wav", "blues.00002.wav"];

/// How long the daemon may take to load the model and start watching.
pub const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long a handful of 30 s clips may take on 2 busy cores.
pub const RESULT_DEADLINE: Duration = Duration::from_secs(60);
/// The acceptance bound for a clean stop while busy.
pub const STOP_DEADLINE: Duration = Duration::from_secs(3);
pub const POLL: Duration = Duration::from_millis(50);

/// A file or folder under ../shared; a missing one fails the test, saying so.
pub fn shared(relative: &str) -> PathBuf {
    let path = Path::new(SHARED).join(relative);
    assert!(
        path.exists(),
        "{} is missing: the tests need ../shared beside the project",
        path.display()
    );
    path
}

/// A GTZAN fixture clip's path.
pub fn fixture_path(name: &str) -> PathBuf {
    shared(&format!("fixtures/gtzan-audio/{name}"))
}

/// A GTZAN fixture clip's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A feature CSV (`genred features` output, the dataset's tables) read by the library's
/// reader: columns by name, quoted fields undone.
pub fn feature_table(text: &str) -> FeatureTable {
    FeatureTable::parse(text).unwrap_or_else(|err| panic!("not a feature CSV: {err}\n{text}"))
}

/// Runs `command` to its exit with stdout and stderr captured (read as they come, so a
/// chatty child never blocks on a full pipe); kills it and fails the test if it outlives
/// `deadline`, so a hang fails here instead of holding CI.
pub fn output_within(command: &mut Command, deadline: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        if started.elapsed() > deadline {
            child.kill().expect("killable");
            let _ = child.wait();
            let errors = stderr.join().expect("joined").unwrap_or_default();
            panic!(
                "{command:?} still running after {deadline:?}: {}",
                String::from_utf8_lossy(&errors)
            );
        }
        thread::sleep(POLL);
    };
    Output {
        status,
        stdout: stdout.join().expect("joined").expect("stdout read"),
        stderr: stderr.join().expect("joined").expect("stderr read"),
    }
}

/// Polls `done` every `every` until it holds: true, or false once `within` has passed
/// without it.
pub fn poll_until(within: Duration, every: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(every);
    }
    true
}

/// Waits until `done` holds, looking every millisecond; fails the test, naming `what`, if it
/// does not within `within`.
pub fn wait_until(what: &str, within: Duration, done: impl FnMut() -> bool) {
    assert!(
        poll_until(within, Duration::from_millis(1), done),
        "not within {within:?}: {what}"
    );
}

/// The binary with `args`, `GENRED_CONFIG` unset so that no config of the machine's gets in.
pub fn genred_command<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new(GENRED);
    command.args(args).env_remove("GENRED_CONFIG");
    command
}

/// `genred ARGS` run to its exit in the test's own folder, output captured; a genred
/// killed by a signal fails the test.
pub fn run_genred(args: &[&str]) -> Output {
    let output = genred_command(args)
        .output()
        .expect("the genred binary runs");
    assert!(
        output.status.code().is_some(),
        "genred was killed by a signal: {output:?}"
    );
    output
}

/// Output that must be UTF-8, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// A temporary home for one daemon: its config, drop folder and results.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        assert!(Path::new(MODEL).is_file(), "{MODEL} is missing");
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("drop")).unwrap();
        Self { dir }
    }

    /// The canonical path, as the daemon reports paths.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().canonicalize().unwrap().join(relative)
    }

    pub fn write_config(&self, body: &str) {
        let config =
            format!("[model]\npath = \"{MODEL}\"\n\n[results]\npath = \"results.jsonl\"\n\n{body}");
        fs::write(self.path("genred.toml"), config).unwrap();
    }

    pub fn results(&self) -> Vec<Value> {
        read_results(&self.path("results.jsonl"))
    }

    pub fn start(&self, extra_env: &[(&str, &str)]) -> Daemon {
        self.start_with_flags(&[], extra_env)
    }

    /// `genred run --config genred.toml FLAGS`, e.g. `--web`.
    pub fn start_with_flags(&self, flags: &[&str], extra_env: &[(&str, &str)]) -> Daemon {
        let socket_path = self.path("notify.sock");
        let _ = fs::remove_file(&socket_path);
        let notifications = SystemdListener::bind(&socket_path);
        let log_path = self.path("genred.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let child = Command::new(GENRED)
            .args(["run", "--config", "genred.toml"])
            .args(flags)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("GENRED_CONFIG")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("NOTIFY_SOCKET", &socket_path)
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut daemon = Daemon {
            child,
            notifications,
            states_seen: 0,
            log_path,
            results_path: self.path("results.jsonl"),
        };
        daemon.expect_notify("READY=1", START_DEADLINE);
        daemon
    }
}

/// Every line of the results file, which must all be whole JSON objects (blank lines, which
/// genred skips too, aside).
pub fn read_results(path: &Path) -> Vec<Value> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the last record is cut short:\n{text}"
    );
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
        })
        .collect()
}

/// A running `genred run`.
pub struct Daemon {
    pub child: Child,
    pub notifications: SystemdListener,
    /// How many notify states earlier waits have consumed.
    pub states_seen: usize,
    pub log_path: PathBuf,
    pub results_path: PathBuf,
}

impl Daemon {
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits until `done` holds; fails the test, naming `what` and showing the daemon's log,
    /// if it does not within `within`.
    pub fn wait_until(&self, what: &str, within: Duration, done: impl FnMut() -> bool) {
        assert!(
            poll_until(within, POLL, done),
            "{what}: not within {within:?}; log:\n{}",
            self.log()
        );
    }

    /// Waits for the notify state `state` (e.g. `READY=1`) after the ones
    /// earlier waits consumed.
    pub fn expect_notify(&mut self, state: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let states = self.notifications.states();
            if let Some(found) = states[self.states_seen..].iter().position(|s| s == state) {
                self.states_seen += found + 1;
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "genred exited ({status}) before {state}; its log:\n{}",
                    self.log()
                );
            }
            thread::sleep(POLL);
        }
        panic!(
            "no {state} from genred within {within:?}; its log:\n{}",
            self.log()
        );
    }

    /// Waits until the results file holds `count` records and returns them.
    pub fn wait_for_records(&mut self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + RESULT_DEADLINE;
        loop {
            let records = read_results(&self.results_path);
            if records.len() >= count {
                return records;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "genred exited ({status}) with {} of {count} records; log:\n{}",
                    records.len(),
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} records after {RESULT_DEADLINE:?}: {records:#?}\nlog:\n{}",
                records.len(),
                self.log()
            );
            thread::sleep(POLL);
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Sends SIGTERM and waits for the exit; returns its status and how long it took.
    pub fn terminate(mut self) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            assert!(
                sent.elapsed() < STOP_DEADLINE * 3,
                "genred still running {:?} after SIGTERM; log:\n{}",
                sent.elapsed(),
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then the acceptance bounds: exit 0 within 3 s.
    pub fn stop(self) {
        let log_path = self.log_path.clone();
        let (status, took) = self.terminate();
        let log = fs::read_to_string(log_path).unwrap_or_default();
        assert!(
            status.success(),
            "exit status {status} after SIGTERM; log:\n{log}"
        );
        assert!(took < STOP_DEADLINE, "took {took:?} to stop; log:\n{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Plays systemd's part of the notify protocol: a socket read continuously,
/// as systemd does (an unread socket fills up and blocks the sender), and
/// every state received, in order.
pub struct SystemdListener {
    pub states: Arc<Mutex<Vec<String>>>,
    pub done: Arc<AtomicBool>,
}

impl SystemdListener {
    pub fn bind(path: &Path) -> Self {
        let socket = UnixDatagram::bind(path).unwrap();
        socket.set_read_timeout(Some(POLL)).unwrap();
        let states = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let (received, stop) = (Arc::clone(&states), Arc::clone(&done));
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(length) = socket.recv(&mut buffer) {
                    let message = String::from_utf8_lossy(&buffer[..length]).into_owned();
                    received
                        .lock()
                        .unwrap()
                        .extend(message.lines().map(str::to_owned));
                }
            }
        });
        Self { states, done }
    }

    pub fn states(&self) -> Vec<String> {
        self.states.lock().unwrap().clone()
    }
}

impl Drop for SystemdListener {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

pub fn str_field<'a>(record: &'a Value, key: &str) -> &'a str {
    record[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {record}"))
}

/// The bytes of a record's base64 field (`path_bytes`, `moved_to_bytes`: the exact name of
/// a path that is not UTF-8).
pub fn bytes_field(record: &Value, key: &str) -> Vec<u8> {
    let text = str_field(record, key);
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|err| panic!("{key} is not base64 ({err}): {record}"))
}

/// Records by path; panics when a path has more than one.
pub fn by_path(records: &[Value]) -> BTreeMap<PathBuf, &Value> {
    let mut map = BTreeMap::new();
    for record in records {
        let path = PathBuf::from(str_field(record, "path"));
        if let Some(earlier) = map.insert(path.clone(), record) {
            panic!("two records for {}:\n{earlier}\n{record}", path.display());
        }
    }
    map
}

/// Every file under `dir`, relative to it.
pub fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.insert(path.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    files
}

pub fn assert_valid_classification(record: &Value) {
    let labels = ["classical", "pop"];
    let genre = str_field(record, "genre");
    assert!(labels.contains(&genre), "{record}");
    let confidence = record["confidence"].as_f64().unwrap();
    let probabilities = record["probabilities"].as_object().unwrap();
    let total: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!(
        (total - 1.0).abs() < 1e-3,
        "probabilities sum to {total}: {record}"
    );
    assert_eq!(
        probabilities[genre].as_f64().unwrap(),
        confidence,
        "{record}"
    );
    assert_eq!(str_field(record, "source"), "file");
    assert_eq!(str_field(record, "model"), "genre-2");
    assert!(
        !record["windows"].as_array().unwrap().is_empty(),
        "{record}"
    );
    let duration = record["duration_s"].as_f64().unwrap();
    assert!(
        (duration - 30.0).abs() < 0.1,
        "a whole GTZAN clip is 30 s, got {duration}: {record}"
    );
    for timing in ["decode_ms", "features_ms", "inference_ms"] {
        assert!(
            record["timings"][timing].as_f64().is_some(),
            "no {timing}: {record}"
        );
    }
    humantime::parse_rfc3339(str_field(record, "time")).unwrap();
}

/// Writes `bytes` to `path` in `pieces` writes, `pause` apart, through one open handle.
pub fn write_slowly(path: &Path, bytes: &[u8], pieces: usize, pause: Duration) {
    let mut file = fs::File::create(path).unwrap();
    for piece in bytes.chunks(bytes.len().div_ceil(pieces)) {
        file.write_all(piece).unwrap();
        file.flush().unwrap();
        thread::sleep(pause);
    }
}

/// Writes `bytes` to `path` in `pieces` sessions, `pause` apart, each one
/// opening the file for appending and closing it again. (A pause longer than
/// the daemon's settle time would make a piece look like the end.)
pub fn append_in_sessions(path: &Path, bytes: &[u8], pieces: usize, pause: Duration) {
    for piece in bytes.chunks(bytes.len().div_ceil(pieces)) {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(piece).unwrap();
        drop(file);
        thread::sleep(pause);
    }
}

/// `genred ARGS` run to its exit in `home`, with `env` added, output captured.
pub fn genred(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Output {
    genred_command(args)
        .current_dir(home.path(""))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A refusal: exit status 2 and one error line that mentions `needle`.
pub fn assert_refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("genred: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].contains(needle), "{needle}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The project's copy of the test microphone harness: a PulseAudio server in
/// its own state folder, whose default source is the monitor of the null sink
/// `testmic`. Its environment goes to the daemon, to `paplay`, or (tests/mic.rs)
/// to the test's own process, whose cpal reaches it through the ALSA pulse plugin.
/// Stopped on drop.
pub struct TestMic {
    dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl TestMic {
    pub fn start(dir: &Path) -> Self {
        fs::create_dir_all(dir).expect("state dir");
        let env_file = dir.join("env");
        let status = Command::new("bash")
            .arg("-c")
            .arg(r#"source "$1/start-testmic.sh" "$2" && printf '%s\n' "$XDG_RUNTIME_DIR" "$PULSE_SERVER" "$PULSE_COOKIE" > "$3""#)
            .args(["start-testmic", TESTMIC])
            .arg(dir)
            .arg(&env_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("bash runs");
        assert!(
            status.success(),
            "start-testmic.sh failed (is pulseaudio installed?)"
        );
        let exported = fs::read_to_string(&env_file).expect("harness env");
        let env = Self::environment(dir);
        let expected: Vec<&str> = env.iter().map(|(_, value)| value.as_str()).collect();
        assert_eq!(exported.lines().collect::<Vec<_>>(), expected);
        Self {
            dir: dir.to_owned(),
            env,
        }
    }

    /// What start-testmic.sh exports for a server in `dir`: known before it starts.
    pub fn environment(dir: &Path) -> Vec<(String, String)> {
        let dir = dir.display();
        vec![
            ("XDG_RUNTIME_DIR".to_owned(), format!("{dir}/run")),
            (
                "PULSE_SERVER".to_owned(),
                format!("unix:{dir}/run/pulse/native"),
            ),
            ("PULSE_COOKIE".to_owned(), format!("{dir}/cookie")),
        ]
    }

    /// The environment as `Command::envs` takes it.
    pub fn env_refs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }

    /// Plays `wav` into the sink; the player is stopped when dropped.
    pub fn play(&self, wav: &Path) -> Player {
        let child = Command::new("paplay")
            .args(["-d", "testmic"])
            .arg(wav)
            .envs(self.env_refs())
            .spawn()
            .expect("paplay runs");
        Player(child)
    }

    /// Sends `signal` (STOP, CONT) to the PulseAudio server.
    pub fn signal(&self, signal: &str) {
        let pid_file = self.dir.join("run/pulse/pid");
        let pid = fs::read_to_string(&pid_file).expect("pulseaudio pid file");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.trim())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    pub fn stop(&self) {
        let status = Command::new(Path::new(TESTMIC).join("stop-testmic.sh"))
            .arg(&self.dir)
            .status()
            .expect("stop-testmic.sh runs");
        assert!(status.success());
    }
}

impl Drop for TestMic {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(TESTMIC).join("stop-testmic.sh"))
            .arg(&self.dir)
            .status();
    }
}

/// `paplay` playing into the test microphone; killed when dropped.
pub struct Player(Child);

impl Player {
    /// Waits for the file to have played to its end.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.0.wait()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `genred classify --json --model MODEL PATH` under GNU time: its output, and its peak RSS
/// in KiB.
pub fn classify_measured(model: &str, path: &Path) -> (Output, u64) {
    let report = path.with_extension("rss");
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .args([GENRED, "classify", "--json", "--model", model])
        .arg(path)
        .env_remove("GENRED_CONFIG")
        .output()
        .expect("GNU time runs (the `time` package: see .ci/setup)");
    let peak = fs::read_to_string(&report)
        .unwrap()
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from GNU time for {}", path.display()));
    (output, peak)
}

/// The one `genred: ...` error line a failed file gets on stderr (exit status 1).
pub fn file_error(output: &Output) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}\nstderr: {stderr}",
        text(&output.stdout)
    );
    assert!(
        output.stdout.is_empty(),
        "no verdict: {}",
        text(&output.stdout)
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("genred: "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {stderr}");
    lines[0].to_owned()
}
