//! `genred run`: the one place that starts, watches and stops the threads.
//!
//! ```text
//!  folder watcher ── jobs (bounded) ──▶ file workers ──┐
//!                                                      ├─ results ──▶ sink
//!  microphone ─────────────────────────────────────────┘
//!  main: signals, systemd notify and watchdog, reload, shutdown
//! ```
//!
//! Shutdown (SIGINT, SIGTERM): the sources stop taking files, the workers
//! finish the file in hand for up to [`SHUTDOWN_GRACE`], the sink records what
//! arrived and syncs the results file, and `run` returns. A file still being
//! classified after the grace gets no record, so the next start classifies it.
//!
//! Reload (SIGHUP): the new config is read and validated first (an invalid one
//! is logged and the running one kept); then everything is shut down as above
//! and started again with it, which covers every key (the results file is read
//! back, so nothing is classified twice). Only the log format is fixed for the
//! life of the process; the caller applies the log level in `reload`.

use std::path::Path;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use sd_notify::NotifyState;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tracing::{debug, error, info, warn};

use crate::config::{Config, ConfigError};
use crate::judge::FileJudge;
use crate::judge::{Judge, JudgeError};
use crate::record::{display_path, resolve_path, FileIdentity, FileJob};
use crate::sinks::results::{self, ResultsError, ResultsFile};
use crate::sinks::{Sink, SinkMessage};
use crate::sources::folder::{DropFolders, FolderError, FolderSettings, FolderWatcher};
use crate::sources::mic::{self, MicError, StartPolicy};
use crate::web::{About, Hub, LiveView, MicAbout, WebError};

/// How long in-flight files may take to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How often the main thread wakes when systemd wants no watchdog pings.
const IDLE_WAKEUP: Duration = Duration::from_secs(3600);

/// Why the daemon could not start or stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    // The wrapped errors say everything in their own message (their cause
    // included), so they are shown, not chained: a chain would repeat the cause.
    #[error("{0}")]
    Model(JudgeError),
    #[error("{0}")]
    Results(ResultsError),
    #[error("{0}")]
    Folder(FolderError),
    #[error("{0}")]
    Mic(MicError),
    #[error("{0}")]
    Web(WebError),
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("cannot start the {role} thread: {cause}")]
    Spawn {
        role: &'static str,
        cause: std::io::Error,
    },
    #[error("the {0} thread stopped unexpectedly")]
    ThreadStopped(&'static str),
    #[error("the {0} thread panicked")]
    ThreadPanicked(&'static str),
}

/// Runs until SIGINT or SIGTERM. `reload` is called on SIGHUP for the new
/// configuration.
pub fn run(
    mut config: Config,
    reload: &mut dyn FnMut() -> Result<Config, ConfigError>,
) -> Result<(), DaemonError> {
    let started = Instant::now();
    let signals = forward_signals()?;
    let watchdog_interval = sd_notify::watchdog_enabled().map(|timeout| timeout / 2);
    let mut services = Services::start(&config, started)?;
    notify_systemd(&[NotifyState::Ready, NotifyState::Status("watching")]);
    loop {
        let wake_every = watchdog_interval.unwrap_or(IDLE_WAKEUP);
        let exits = services.exits.clone();
        crossbeam_channel::select! {
            recv(signals) -> signal => match signal {
                Ok(SIGHUP) => reload_services(&mut services, &mut config, reload, started)?,
                _ => {
                    info!("stopping: finishing the files in hand");
                    notify_systemd(&[NotifyState::Stopping]);
                    services.stop();
                    info!("stopped");
                    return Ok(());
                }
            },
            recv(exits) -> ended => {
                let failure = ended.map_or(DaemonError::ThreadStopped("unknown"), |index| services.failure_of(index));
                notify_systemd(&[NotifyState::Stopping]);
                services.stop();
                return Err(failure);
            },
            default(wake_every) => {
                if watchdog_interval.is_some() {
                    notify_systemd(&[NotifyState::Watchdog]);
                }
            }
        }
    }
}

/// Rereads the configuration; when it is valid, restarts the services with it
/// (or, should they not start, with the running one again).
fn reload_services(
    services: &mut Services,
    config: &mut Config,
    reload: &mut dyn FnMut() -> Result<Config, ConfigError>,
    started: Instant,
) -> Result<(), DaemonError> {
    info!("SIGHUP: rereading the configuration");
    let new_config = match reload() {
        Ok(new_config) => new_config,
        Err(err) => {
            error!("{err}; keeping the running configuration");
            return Ok(());
        }
    };
    notify_reloading();
    services.stop();
    *services = match Services::start(&new_config, started) {
        Ok(started) => {
            *config = new_config;
            started
        }
        Err(err) => {
            error!("{err}; going back to the previous configuration");
            Services::start(config, started)?
        }
    };
    notify_systemd(&[NotifyState::Ready, NotifyState::Status("watching")]);
    Ok(())
}

/// Delivers SIGINT, SIGTERM and SIGHUP on a channel, from a thread of its own.
fn forward_signals() -> Result<Receiver<i32>, DaemonError> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(DaemonError::Signals)?;
    let (sender, receiver) = crossbeam_channel::unbounded();
    thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            for signal in signals.forever() {
                if sender.send(signal).is_err() {
                    break;
                }
            }
        })
        .map_err(|cause| DaemonError::Spawn {
            role: "signals",
            cause,
        })?;
    Ok(receiver)
}

/// Tells systemd; outside systemd (no `NOTIFY_SOCKET`) this does nothing.
fn notify_systemd(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        debug!("systemd notify: {err}");
    }
}

fn notify_reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify_systemd(&[NotifyState::Reloading, now]),
        Err(_) => notify_systemd(&[NotifyState::Reloading]),
    }
}

/// Sends the thread's index when it ends, however it ends (a panic included).
struct ExitNotice {
    index: usize,
    exits: Sender<usize>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let _ = self.exits.send(self.index);
    }
}

const WATCHER: &str = "folder watcher";
const WORKER: &str = "file worker";
const MICROPHONE: &str = "microphone";
const SINK: &str = "sink";
const WEB: &str = "live view";

/// A running thread and what it is for.
struct ServiceThread {
    role: &'static str,
    handle: JoinHandle<Result<(), DaemonError>>,
}

/// The threads of one configuration, from start to stop.
struct Services {
    /// Dropped to tell the sources and workers to stop.
    shutdown: Option<Sender<()>>,
    /// Dropped to tell the sink to record what has arrived and end.
    sink_stop: Option<Sender<()>>,
    /// The index of every thread that ended.
    exits: Receiver<usize>,
    exit_sender: Sender<usize>,
    /// Every thread by index; `None` once joined.
    threads: Vec<Option<ServiceThread>>,
    /// The sink's index: it stops last.
    sink: usize,
}

impl Services {
    /// Locks the drop folders, loads the model, opens the results file, starts
    /// the watch and the threads. Everything that can fail for a bad config
    /// fails before any thread starts, and a second genred on the same folders
    /// fails before it touches any file. `started` is when the daemon started,
    /// for the live view's uptime.
    fn start(config: &Config, started: Instant) -> Result<Self, DaemonError> {
        let folder = &config.folder.source;
        let drop_folders = if folder.enabled {
            Some(DropFolders::open(&folder.paths).map_err(DaemonError::Folder)?)
        } else {
            None
        };
        let model = Judge::from_config(&config.model).map_err(DaemonError::Model)?;
        info!(model = %display_path(&config.model.path), labels = ?model.labels(), "model loaded");
        let results_path = resolve_path(&config.results.path);
        // Results of another model or analysis do not hold: those files are classified again.
        let running = model.provenance(&config.window);
        let (results, seen) =
            ResultsFile::open(&results_path, &running).map_err(DaemonError::Results)?;
        info!(results = %display_path(&results_path), known_files = seen.len(), "results file open");
        let live_view = if config.web.enabled {
            let hub = Arc::new(Hub::new(config.web.max_clients, config.web.recent));
            match results::recent_records(&results_path, config.web.recent) {
                Ok(history) => hub.remember(history),
                Err(err) => warn!(
                    "{}: cannot read the recent records for the live view: {err}",
                    display_path(&results_path)
                ),
            }
            let about = live_view_about(config, &model, started);
            let view =
                LiveView::bind(&config.web, Arc::clone(&hub), about).map_err(DaemonError::Web)?;
            Some((hub, view))
        } else {
            None
        };

        let (shutdown, shutdown_signal) = crossbeam_channel::bounded::<()>(0);
        let (sink_stop, sink_stop_signal) = crossbeam_channel::bounded::<()>(0);
        let (messages, sink_messages) = crossbeam_channel::unbounded();
        let (exit_sender, exits) = crossbeam_channel::unbounded();
        let mut services = Self {
            shutdown: Some(shutdown),
            sink_stop: Some(sink_stop),
            exits,
            exit_sender,
            threads: Vec::new(),
            sink: 0,
        };

        let mut sink = Sink::new(results, config.folder.actions.file_actions(&folder.paths));
        if let Some(drop_folders) = drop_folders {
            let workers = config.workers.resolved_count();
            let (jobs, worker_jobs) = crossbeam_channel::bounded(workers);
            let (revisits, revisited) = crossbeam_channel::unbounded();
            sink = sink.with_revisits(revisits);
            let settings = folder_settings(config, &results_path);
            let watcher = FolderWatcher::start(drop_folders, settings, seen, jobs, revisited)
                .map_err(DaemonError::Folder)?;
            let folders: Vec<_> = watcher
                .roots()
                .iter()
                .map(|root| display_path(root).into_owned())
                .collect();
            info!(folders = %folders.join(", "), workers, "watching");
            let shutdown = shutdown_signal.clone();
            services.spawn(WATCHER, move || {
                watcher.run(&shutdown);
                Ok(())
            })?;
            for _ in 0..workers {
                let mut analyzer = model.file_judge(config.window);
                let (jobs, results, shutdown) = (
                    worker_jobs.clone(),
                    messages.clone(),
                    shutdown_signal.clone(),
                );
                services.spawn(WORKER, move || {
                    classify_files(&mut analyzer, &jobs, &results, &shutdown);
                    Ok(())
                })?;
            }
        }
        if config.mic.enabled {
            let policy = if folder.enabled {
                StartPolicy::Retry
            } else {
                StartPolicy::FailFast
            };
            let (mic_config, model, results, shutdown) = (
                config.mic.clone(),
                model.clone(),
                messages.clone(),
                shutdown_signal.clone(),
            );
            info!(device = %mic_config.device, "listening to the microphone");
            services.spawn(MICROPHONE, move || {
                let mut emit = |heard| {
                    let _ = results.send(SinkMessage::Mic(heard));
                };
                mic::run(&mic_config, model, &shutdown, policy, &mut emit).map_err(DaemonError::Mic)
            })?;
        }
        drop(messages);
        if let Some((hub, view)) = live_view {
            sink = sink.with_subscriber(hub);
            let shutdown = shutdown_signal.clone();
            services.spawn(WEB, move || view.run(shutdown).map_err(DaemonError::Web))?;
        }
        services.sink = services.spawn(SINK, move || {
            sink.run(&sink_messages, &sink_stop_signal);
            Ok(())
        })?;
        Ok(services)
    }

    /// Starts a named thread that reports its end on `exits`; returns its index.
    fn spawn(
        &mut self,
        role: &'static str,
        body: impl FnOnce() -> Result<(), DaemonError> + Send + 'static,
    ) -> Result<usize, DaemonError> {
        let index = self.threads.len();
        let exits = self.exit_sender.clone();
        let handle = thread::Builder::new()
            .name(role.to_owned())
            .spawn(move || {
                let _notice = ExitNotice { index, exits };
                body()
            })
            .map_err(|cause| DaemonError::Spawn { role, cause })?;
        self.threads.push(Some(ServiceThread { role, handle }));
        Ok(index)
    }

    /// Waits for a thread that has ended or is ending, and returns how.
    fn join(&mut self, index: usize) -> Result<(), DaemonError> {
        let Some(ServiceThread { role, handle }) =
            self.threads.get_mut(index).and_then(Option::take)
        else {
            return Ok(());
        };
        handle
            .join()
            .unwrap_or(Err(DaemonError::ThreadPanicked(role)))
    }

    /// Why a thread ended while it should have been running.
    fn failure_of(&mut self, index: usize) -> DaemonError {
        let role = self
            .threads
            .get(index)
            .and_then(Option::as_ref)
            .map_or("unknown", |thread| thread.role);
        self.join(index)
            .err()
            .unwrap_or(DaemonError::ThreadStopped(role))
    }

    /// Stops the sources, lets in-flight files finish within the grace, then
    /// lets the sink record what arrived and sync.
    fn stop(&mut self) {
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        let mut running: Vec<usize> = (0..self.threads.len())
            .filter(|&index| index != self.sink && self.threads[index].is_some())
            .collect();
        drop(self.shutdown.take());
        while !running.is_empty() {
            let Ok(ended) = self.exits.recv_deadline(deadline) else {
                break;
            };
            if let Some(position) = running.iter().position(|&index| index == ended) {
                running.swap_remove(position);
                self.report(ended);
            }
        }
        if !running.is_empty() {
            warn!(
                threads = running.len(),
                "still busy after {} s; their files get no record now and are classified at the next start",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        drop(self.sink_stop.take());
        self.report(self.sink);
        // Threads past the grace are left to finish on their own; their sends fail.
        self.threads.clear();
    }

    fn report(&mut self, index: usize) {
        if let Err(err) = self.join(index) {
            error!("{err}");
        }
    }
}

/// What the live view's health report says of this configuration.
fn live_view_about(config: &Config, model: &Judge, started: Instant) -> About {
    let folders = if config.folder.source.enabled {
        config
            .folder
            .source
            .paths
            .iter()
            .map(|path| display_path(&resolve_path(path)).into_owned())
            .collect()
    } else {
        Vec::new()
    };
    About {
        daemon_started: started,
        model_name: model.name().to_owned(),
        model_path: display_path(&config.model.path).into_owned(),
        labels: model.labels().to_vec(),
        folders,
        mic: config.mic.enabled.then(|| MicAbout {
            device: config.mic.device.clone(),
            hop_s: config.mic.hop_s,
            first_after_s: config.mic.min_window_s,
        }),
    }
}

/// The folder source's settings: what the config says, plus the paths it
/// must leave alone (the results file, the action folders).
fn folder_settings(config: &Config, results_path: &Path) -> FolderSettings {
    let folder = &config.folder.source;
    FolderSettings {
        recursive: folder.recursive,
        extensions: folder.extensions.clone(),
        settle: folder.settle(),
        excluded_dirs: config.folder.actions.folders(),
        excluded_files: vec![results_path.to_owned()],
    }
}

/// A file worker: classifies jobs until the watcher is gone or shutdown starts.
fn classify_files(
    analyzer: &mut FileJudge,
    jobs: &Receiver<FileJob>,
    results: &Sender<SinkMessage>,
    shutdown: &Receiver<()>,
) {
    for job in jobs {
        if matches!(shutdown.try_recv(), Err(TryRecvError::Disconnected)) {
            break;
        }
        match FileIdentity::of(&job.path) {
            None => {
                debug!(path = %display_path(&job.path), "removed before its turn; skipped");
                continue;
            }
            Some(identity) if identity != job.identity => {
                debug!(path = %display_path(&job.path), "changed since it was queued; its new version comes on its own");
                continue;
            }
            Some(_) => {}
        }
        let outcome = analyzer.classify(&job.path);
        if results.send(SinkMessage::File { job, outcome }).is_err() {
            break;
        }
    }
}
