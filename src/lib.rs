//! genred: listens to music and says its genre.
//!
//! The modules follow the data's path:
//! sources (folder, microphone) → [`analysis`] (resampler → the model's front end →
//! windows → model; the engine and the contracts a model kind implements) → [`kinds`] (one
//! folder per model kind, and their registry) → [`judge`] (what the models heard, as a
//! file's report) → sinks, wired together by [`daemon`].
//! Files and the microphone go through the same engine; [`record`] is the
//! vocabulary every module shares about what it concluded.

pub mod analysis;
pub mod audio;
pub mod builtin;
pub mod config;
pub mod daemon;
pub mod features;
pub mod judge;
pub mod kinds;
pub mod onnx;
pub mod record;
pub mod settings;
pub mod sinks;
pub mod sources;
#[cfg(test)]
mod test_data;
pub mod walk;
pub mod web;
pub mod window;
