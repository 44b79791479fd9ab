//! `genred run`: the daemon, with the config file and the flags that override it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use genred::config::{LoadedConfig, LogConfig, LogFormat, Overrides};
use tracing::{info, warn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Run the daemon: watch the drop folders (and the microphone) and classify
/// everything that arrives.
///
/// Every result is appended to the results file (JSON Lines) and logged.
/// SIGINT or SIGTERM stop it cleanly; SIGHUP rereads the config file.
/// Under systemd it reports readiness and pings the watchdog.
///
/// Example: genred run --watch ~/Downloads/music --results ~/genres.jsonl
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config file [default: $GENRED_CONFIG, else ./config/genred.toml, else
    /// /etc/genred/genred.toml, else built-in defaults].
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Drop folder to watch, instead of the config's (repeatable).
    #[arg(long, value_name = "DIR")]
    watch: Vec<PathBuf>,

    /// Results file (JSON Lines).
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,

    /// ONNX genre model.
    #[arg(long, short, value_name = "FILE")]
    model: Option<PathBuf>,

    /// Also classify the live microphone.
    #[arg(long, overrides_with = "no_mic")]
    mic: bool,

    /// Do not listen to the microphone, whatever the config says.
    #[arg(long, overrides_with = "mic")]
    no_mic: bool,

    /// Log line format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,

    /// Serve the live view (the [web] section's address, 127.0.0.1:8750 by default).
    #[arg(long)]
    web: bool,
}

impl Args {
    fn overrides(&self) -> Overrides {
        Overrides {
            watch: self.watch.clone(),
            results: self.results.clone(),
            model: self.model.clone(),
            mic: match (self.mic, self.no_mic) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            log_format: self.log_format,
            web: self.web,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let overrides = args.overrides();
    let loaded = LoadedConfig::load(args.config.as_deref(), &overrides)?;
    let log_filter = init_logging(&loaded.config.log)?;
    info!(
        version = env!("CARGO_PKG_VERSION"),
        "genred starting with the configuration from {}", loaded.origin
    );
    let log_format = loaded.config.log.format;
    let mut reload = || {
        let reloaded = LoadedConfig::load(args.config.as_deref(), &overrides)?;
        info!("configuration reread from {}", reloaded.origin);
        if reloaded.config.log.format != log_format {
            warn!("log.format changes at the next start; the log level is applied now");
        }
        if let Err(err) = log_filter.reload(env_filter(&reloaded.config.log)) {
            warn!("cannot apply the new log level: {err}");
        }
        Ok(reloaded.config)
    };
    genred::daemon::run(loaded.config, &mut reload)?;
    Ok(ExitCode::SUCCESS)
}

/// Logs go to standard error (journald under systemd), human or JSON, with a
/// level that SIGHUP can change.
fn init_logging(log: &LogConfig) -> anyhow::Result<reload::Handle<EnvFilter, Registry>> {
    let (filter, handle) = reload::Layer::new(env_filter(log));
    let registry = tracing_subscriber::registry().with(filter);
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match log.format {
        LogFormat::Human => registry.with(lines).try_init(),
        LogFormat::Json => registry.with(lines.json()).try_init(),
    }
    .context("cannot set up logging")?;
    Ok(handle)
}

/// The libraries' own chatter, silenced: symphonia logs a probe failure on every non-audio
/// file at ERROR, while genred's record already says what and where; tract warns at every
/// start that CED-Tiny's ONNX opset (19) is newer than those it is tested against, while
/// genred checks that model against onnxruntime's outputs (`tests/ced_model.rs`).
const QUIET_LIBRARIES: &str = "symphonia=off,tract_onnx=error";

/// `RUST_LOG` when set, else the configured level (validated with the config),
/// with the libraries' internal chatter off unless asked for.
fn env_filter(log: &LogConfig) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{QUIET_LIBRARIES},{}", log.level)))
}
