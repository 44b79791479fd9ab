//! The daemon's configuration: typed sections with defaults, validation that
//! names the offending key, and the lookup order of the config file.
//!
//! Lookup: `--config FILE`, else `$GENRED_CONFIG`, else `./config/genred.toml`,
//! else `/etc/genred/genred.toml`, else the built-in defaults. Relative paths
//! inside the file are relative to the daemon's working directory (systemd's
//! `WorkingDirectory=`), like the default drop folder `music`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::record::display_path;
use crate::record::resolve_path;
use crate::sources::mic::MicConfig;
use crate::walk;
use crate::web::WebConfig;
use crate::window::{WindowKeys, WindowSpec};

pub use crate::judge::ModelConfig;
pub use crate::settings::{check_count, check_seconds, InvalidSetting};
pub use crate::sinks::results::ResultsConfig;
pub use crate::sinks::{ActionsConfig, FileAction};
pub use crate::sources::folder::FolderConfig;

/// The environment variable that names the config file when `--config` is absent.
pub const CONFIG_ENV_VAR: &str = "GENRED_CONFIG";
/// The project-local config file, relative to the working directory.
pub const LOCAL_CONFIG_PATH: &str = "config/genred.toml";
/// The system-wide config file.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/genred/genred.toml";

/// The most workers per CPU core, for `workers.count` and the batch commands'
/// `--jobs`. Classifying is CPU-bound, so more threads than cores add no
/// speed, only memory (each worker holds one decoded file, up to
/// `window.max_duration_s` of audio); a few per core leave room for files
/// that wait on a slow disk.
pub const MAX_WORKERS_PER_CORE: usize = 4;

/// Everything `genred run` needs to know.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub model: ModelConfig,
    pub window: WindowSpec,
    pub workers: WorkersConfig,
    pub folder: FolderSection,
    pub results: ResultsConfig,
    pub log: LogConfig,
    pub mic: MicConfig,
    pub web: WebConfig,
}

/// The `[folder]` section as users write it, one table: the drop-folder source's keys
/// (`source`) and what the sink does with its files (`actions`), each its component's own.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FolderSection {
    #[serde(flatten)]
    pub source: FolderConfig,
    #[serde(flatten)]
    pub actions: ActionsConfig,
}

/// Reads each key of the one table into its part. Written out because serde's `flatten`
/// cannot refuse an unknown key; here an unknown key fails on the key itself (its line and
/// column) with the allowed keys listed, as every other section's does.
impl<'de> Deserialize<'de> for FolderSection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Key {
            Enabled,
            Paths,
            Recursive,
            Extensions,
            SettleS,
            Action,
            Target,
            Rejected,
            Unsorted,
        }

        struct SectionVisitor;

        impl<'de> Visitor<'de> for SectionVisitor {
            type Value = FolderSection;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("the [folder] section, a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FolderSection, A::Error> {
                let mut section = FolderSection::default();
                let (source, actions) = (&mut section.source, &mut section.actions);
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Enabled => source.enabled = map.next_value()?,
                        Key::Paths => source.paths = map.next_value()?,
                        Key::Recursive => source.recursive = map.next_value()?,
                        Key::Extensions => source.extensions = map.next_value()?,
                        Key::SettleS => source.settle_s = map.next_value()?,
                        Key::Action => actions.action = map.next_value()?,
                        Key::Target => actions.target = map.next_value()?,
                        Key::Rejected => actions.rejected = map.next_value()?,
                        Key::Unsorted => actions.unsorted = map.next_value()?,
                    }
                }
                Ok(section)
            }
        }

        deserializer.deserialize_map(SectionVisitor)
    }
}

/// The `[workers]` section: the pool that classifies files.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// Files classified at once; 0 means one per CPU core.
    pub count: usize,
}

impl WorkersConfig {
    /// The pool size: the configured count, or one worker per core.
    pub fn resolved_count(&self) -> usize {
        match self.count {
            0 => cpu_cores(),
            count => count,
        }
    }
}

/// The CPU cores this process may use (1 if that cannot be told).
pub fn cpu_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Checks a number of workers (`key` is `workers.count` or `--jobs`): at
/// most [`MAX_WORKERS_PER_CORE`] per core of this machine.
pub fn check_workers(key: &'static str, count: usize) -> Result<(), InvalidSetting> {
    let cores = cpu_cores();
    let most = MAX_WORKERS_PER_CORE * cores;
    if count <= most {
        return Ok(());
    }
    Err(InvalidSetting::new(
        key,
        format!(
            "must be at most {most} ({MAX_WORKERS_PER_CORE} per CPU core, {cores} here), got {count}"
        ),
    ))
}

/// The `[log]` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Line format on standard error.
    pub format: LogFormat,
    /// A `tracing` filter: a level (`error`, `warn`, `info`, `debug`, `trace`)
    /// or directives such as `info,genred::sources=debug`. `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".to_owned(),
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per event, for journald or a log shipper.
    Json,
}

/// The command-line flags of `genred run` that override the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Replaces `folder.paths` when not empty.
    pub watch: Vec<PathBuf>,
    pub results: Option<PathBuf>,
    pub model: Option<PathBuf>,
    /// `--mic` / `--no-mic`.
    pub mic: Option<bool>,
    /// `--web`: serve the live view.
    pub web: bool,
    pub log_format: Option<LogFormat>,
}

/// Where the effective configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// `--config FILE` or `check-config FILE`.
    Argument(PathBuf),
    /// `$GENRED_CONFIG`.
    Environment(PathBuf),
    /// `./config/genred.toml`.
    Local(PathBuf),
    /// `/etc/genred/genred.toml`.
    System(PathBuf),
    /// No file was found.
    BuiltIn,
}

impl ConfigOrigin {
    /// The file read, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Argument(path)
            | Self::Environment(path)
            | Self::Local(path)
            | Self::System(path) => Some(path),
            Self::BuiltIn => None,
        }
    }
}

impl fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Argument(path) => write!(f, "{} (given on the command line)", path.display()),
            Self::Environment(path) => write!(f, "{} (from ${CONFIG_ENV_VAR})", path.display()),
            Self::Local(path) => write!(f, "{} (in the working directory)", path.display()),
            Self::System(path) => write!(f, "{} (system-wide)", path.display()),
            Self::BuiltIn => f.write_str("built-in defaults (no config file found)"),
        }
    }
}

/// A configuration that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the config file: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{origin}: {setting}")]
    Invalid {
        origin: String,
        setting: InvalidSetting,
    },
}

/// A validated configuration and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    pub config: Config,
    pub origin: ConfigOrigin,
}

impl LoadedConfig {
    /// Finds, reads and validates the config, then applies `overrides` and
    /// checks the paths against the file system.
    ///
    /// `explicit` is `--config FILE`; it, like `$GENRED_CONFIG`, must exist.
    pub fn load(explicit: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let origin = locate(explicit);
        let mut config = match origin.path() {
            Some(path) => Config::read(path)?,
            None => Config::default(),
        };
        config.apply(overrides);
        config
            .validate()
            .and_then(|()| config.check_paths())
            .map_err(|setting| ConfigError::Invalid {
                origin: origin.to_string(),
                setting,
            })?;
        Ok(Self { config, origin })
    }
}

/// True for a level name, or for directives (which name a target with `=`
/// or list several with `,`) that `tracing` accepts. A lone word that is not a
/// level would be taken as a target name and silence everything: rejected.
fn is_log_filter(text: &str) -> bool {
    if text.contains(['=', ',']) {
        tracing_subscriber::EnvFilter::try_new(text).is_ok()
    } else {
        text.parse::<tracing_subscriber::filter::LevelFilter>()
            .is_ok()
    }
}

/// The config file to read, by the lookup order.
fn locate(explicit: Option<&Path>) -> ConfigOrigin {
    if let Some(path) = explicit {
        return ConfigOrigin::Argument(path.to_owned());
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV_VAR).filter(|value| !value.is_empty()) {
        return ConfigOrigin::Environment(PathBuf::from(path));
    }
    let local = PathBuf::from(LOCAL_CONFIG_PATH);
    if local.is_file() {
        return ConfigOrigin::Local(local);
    }
    let system = PathBuf::from(SYSTEM_CONFIG_PATH);
    if system.is_file() {
        return ConfigOrigin::System(system);
    }
    ConfigOrigin::BuiltIn
}

impl Config {
    /// Reads and parses a config file (not yet validated).
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text. The error is one line: `line L, column C: what is
    /// wrong and what is allowed (in `the offending line`)`.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|err| {
            let message = err.message().trim_end().replace('\n', " ");
            let Some(span) = err.span() else {
                return message;
            };
            let before = text.get(..span.start).unwrap_or(text);
            let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
            let line_number = before.matches('\n').count() + 1;
            let column = before[line_start..].chars().count() + 1;
            let line = text[line_start..].lines().next().unwrap_or_default().trim();
            format!("line {line_number}, column {column}: {message} (in `{line}`)")
        })
    }

    /// The configuration as TOML, as `check-config` prints it.
    pub fn to_toml(&self) -> String {
        // Every field is a plain string, number, bool, list or table, which TOML can hold.
        toml::to_string(self).unwrap_or_else(|err| format!("# cannot render as TOML: {err}\n"))
    }

    /// Applies the command-line flags.
    pub fn apply(&mut self, overrides: &Overrides) {
        if !overrides.watch.is_empty() {
            self.folder.source.paths.clone_from(&overrides.watch);
            self.folder.source.enabled = true;
        }
        if let Some(results) = &overrides.results {
            self.results.path.clone_from(results);
        }
        if let Some(model) = &overrides.model {
            self.model.path.clone_from(model);
        }
        if let Some(mic) = overrides.mic {
            self.mic.enabled = mic;
        }
        if let Some(format) = overrides.log_format {
            self.log.format = format;
        }
        if overrides.web {
            self.web.enabled = true;
        }
    }

    /// Checks what serde cannot, without looking at the file system: every
    /// number within its limits, every required key present. The error names
    /// the key and says what is allowed.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.window.validate(WindowKeys::CONFIG)?;
        self.mic.validate()?;
        self.web.validate()?;
        check_workers("workers.count", self.workers.count)?;
        self.folder.source.validate()?;
        self.folder.actions.validate()?;
        self.model.validate()?;
        self.results.validate()?;
        if !is_log_filter(&self.log.level) {
            return Err(InvalidSetting::new(
                "log.level",
                format!(
                    "must be off, error, warn, info, debug, trace or tracing directives such as \
                     \"info,genred::sources=debug\", got \"{}\"",
                    self.log.level
                ),
            ));
        }
        if !self.folder.source.enabled && !self.mic.enabled {
            return Err(InvalidSetting::new(
                "folder.enabled",
                "nothing to do: enable the folder source or the microphone (mic.enabled)",
            ));
        }
        Ok(())
    }

    /// Checks the paths against the file system, as they are now: the results
    /// file, when it exists, is a regular file (not `/dev/full` or a folder);
    /// the drop, target and rejected folders that exist are folders; and the
    /// target and rejected folders are neither a drop folder nor above one
    /// (the folders genred fills are never watched, so that would leave the
    /// drop folder unwatched). Inside a drop folder they are fine: that
    /// subfolder is not watched. Paths are compared resolved (absolute, links
    /// followed), so `./music`, `music/` and a link to it are the same folder.
    pub fn check_paths(&self) -> Result<(), InvalidSetting> {
        check_kind("results.path", &self.results.path, Kind::File)?;
        let folder = &self.folder.source;
        if !folder.enabled {
            return Ok(());
        }
        for drop in &folder.paths {
            check_kind("folder.paths", drop, Kind::Folder)?;
        }
        for (key, path) in self.folder.actions.named_folders() {
            let Some(path) = path else { continue };
            check_kind(key, path, Kind::Folder)?;
            let resolved = resolve_path(path);
            for drop in &folder.paths {
                let drop_resolved = resolve_path(drop);
                if drop_resolved.starts_with(&resolved) {
                    let relation = if drop_resolved == resolved {
                        "is"
                    } else {
                        "contains"
                    };
                    return Err(InvalidSetting::new(
                        key,
                        format!(
                            "{} {relation} the drop folder {} (folder.paths): the folders genred \
                             fills are not watched, so no file dropped there would be seen; \
                             choose a folder outside the drop folder, or inside it",
                            display_path(path),
                            display_path(drop)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What a configured path must be when it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Folder,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::File => "regular file",
            Kind::Folder => "folder",
        }
    }
}

/// Checks that `path`, if something is there (links followed), is a `want`.
/// A missing path is fine: folders are created at start, the results file
/// with the first record; what cannot be read is left to those steps to report.
fn check_kind(key: &'static str, path: &Path, want: Kind) -> Result<(), InvalidSetting> {
    let mismatch = |found: &str| {
        InvalidSetting::new(
            key,
            format!("{} is a {found}, not a {}", display_path(path), want.name()),
        )
    };
    let found = match walk::examine(path.to_owned()) {
        Some(walk::Entry::File(_)) => Kind::File,
        Some(walk::Entry::Dir { .. }) => Kind::Folder,
        Some(walk::Entry::Skipped(walk::Skipped::NotRegular { kind, .. })) => {
            return Err(mismatch(kind))
        }
        Some(walk::Entry::Skipped(_)) | None => return Ok(()),
    };
    if found == want {
        Ok(())
    } else {
        Err(mismatch(found.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_shipped_config_file_parses_to_the_defaults() {
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/genred.toml");
        let text = std::fs::read_to_string(shipped).unwrap();
        assert_eq!(Config::parse(&text).unwrap(), Config::default());
    }

    #[test]
    fn the_printed_config_reads_back_the_same() {
        let mut config = Config::default();
        config.folder.actions.action = FileAction::Move;
        config.folder.actions.target = Some(PathBuf::from("sorted"));
        let printed = config.to_toml();
        assert_eq!(Config::parse(&printed).unwrap(), config);
    }

    #[test]
    fn an_unknown_key_is_rejected_by_name() {
        let err = Config::parse("[folder]\nsettle = 3\n").unwrap_err();
        assert!(err.starts_with("line 2, column 1: "), "{err}");
        assert!(err.contains("`settle = 3`") && !err.contains('\n'), "{err}");
        assert!(
            err.contains("settle_s"),
            "the allowed keys are listed: {err}"
        );
    }

    #[test]
    fn a_bad_action_lists_the_allowed_ones() {
        let err = Config::parse("[folder]\naction = \"delete\"\n").unwrap_err();
        assert!(
            err.contains("delete") && err.contains("move") && err.contains("copy"),
            "{err}"
        );
    }

    #[test]
    fn validation_names_the_key() {
        let cases: [(&str, &str); 6] = [
            ("[folder]\nsettle_s = -1.0\n", "folder.settle_s"),
            ("[folder]\naction = \"move\"\n", "folder.target"),
            ("[folder]\nextensions = [\".wav\"]\n", "folder.extensions"),
            ("[log]\nlevel = \"loud\"\n", "log.level"),
            ("[window]\nlength_s = 30.0\nhop_s = 0.0\n", "window.hop_s"),
            ("[window]\nmax_duration_s = 0.0\n", "window.max_duration_s"),
        ];
        for (text, key) in cases {
            let config = Config::parse(text).unwrap();
            let invalid = config.validate().unwrap_err();
            assert_eq!(invalid.key, key, "{text} → {invalid}");
        }
    }

    #[test]
    fn overrides_replace_the_file_values() {
        let mut config = Config::default();
        config.apply(&Overrides {
            watch: vec![PathBuf::from("/a"), PathBuf::from("/b")],
            results: Some(PathBuf::from("/r.jsonl")),
            model: Some(PathBuf::from("/m.onnx")),
            mic: Some(true),
            log_format: Some(LogFormat::Json),
            web: true,
        });
        assert_eq!(
            config.folder.source.paths,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(config.results.path, PathBuf::from("/r.jsonl"));
        assert_eq!(config.model.path, PathBuf::from("/m.onnx"));
        assert!(config.mic.enabled);
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(config.web.enabled);
    }

    #[test]
    fn an_explicit_file_that_is_missing_is_an_error_naming_it() {
        let err = LoadedConfig::load(
            Some(Path::new("/nonexistent/genred.toml")),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/genred.toml: "),
            "{err}"
        );
    }
}
