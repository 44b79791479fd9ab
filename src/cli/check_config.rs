//! `genred check-config`: validate a config file and print the effective configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use genred::config::{LoadedConfig, Overrides};
use genred::judge::Judge;

/// Validate a config file and print the effective configuration as TOML.
///
/// Without FILE, checks the file `genred run` would use: $GENRED_CONFIG, else
/// ./config/genred.toml, else /etc/genred/genred.toml, else the built-in
/// defaults. The first line says which one it was. The model the config names is loaded
/// too, as `genred run` would load it: a config whose model cannot be loaded is refused.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file to check.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = LoadedConfig::load(args.file.as_deref(), &Overrides::default())?;
    Judge::from_config(&loaded.config.model)?;
    println!("# genred configuration from {}", loaded.origin);
    print!("{}", loaded.config.to_toml());
    Ok(ExitCode::SUCCESS)
}
