//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod check_config;
pub mod classify;
pub mod devices;
pub mod evaluate;
pub mod features;
pub mod run;
