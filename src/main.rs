//! The `genred` command line.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// genred listens to music and says its genre.
///
/// It classifies audio files (WAV, AIFF, CAF, FLAC, MP3, AAC, M4A, Ogg Vorbis,
/// Opus, AU) with ONNX models (by default a judge, built in: musicnn's tags and
/// CED-Tiny's AudioSet classes fused and calibrated, which also says when it
/// hears speech, silence or noise; the seed's models on the 28 librosa features
/// of the GTZAN "musicfeatures" dataset stay available), either once
/// (`classify`) or continuously as a daemon (`run`) that watches drop folders
/// and listens to a microphone.
#[derive(Debug, Parser)]
#[command(name = "genred", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: watch the drop folders (and the microphone) and classify everything.
    Run(cli::run::Args),
    /// Classify audio files or folders once and print one line per file.
    Classify(cli::classify::Args),
    /// Print the 28 dataset features of audio files as CSV.
    Features(cli::features::Args),
    /// Measure a model's accuracy on a labelled feature CSV.
    Evaluate(cli::evaluate::Args),
    /// Print the musicnn taggers' per-patch outputs of audio files as JSON Lines (for training a head).
    Embed(cli::embed::Args),
    /// List the audio input devices and what they support.
    Devices(cli::devices::Args),
    /// Validate a config file and print the effective configuration.
    CheckConfig(cli::check_config::Args),
    /// Read the results file: records filtered by genre, source, time, path or confidence,
    /// as TSV, JSON Lines or an M3U playlist.
    Results(cli::results::Args),
    /// List the models: built in, and found in ./models (or the folders given).
    Models(cli::models::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(cli::shell::CompletionsArgs),
    /// Print the man page (roff).
    Man(cli::shell::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Classify(args) => cli::classify::run(args),
        Command::Features(args) => cli::features::run(args),
        Command::Evaluate(args) => cli::evaluate::run(args),
        Command::Embed(args) => cli::embed::run(args),
        Command::Devices(args) => cli::devices::run(args),
        Command::CheckConfig(args) => cli::check_config::run(args),
        Command::Results(args) => cli::results::run(args),
        Command::Models(args) => cli::models::run(args),
        Command::Completions(args) => cli::shell::completions(args, Cli::command()),
        Command::Man(args) => cli::shell::man(args, Cli::command()),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("genred: error: {}", cli::one_line(&err));
            ExitCode::from(2)
        }
    }
}
