//! genred: listens to music and says its genre.
//!
//! The modules follow the data's path:
//! sources (folder, microphone) → [`analysis`] (resampler → the model's
//! [`frontend`] → windows → model) → sinks, wired together by [`daemon`].
//! Files and the microphone go through the same engine; [`record`] is the
//! vocabulary every module shares about what it concluded.

pub mod analysis;
pub mod audio;
pub mod config;
pub mod daemon;
pub mod features;
pub mod frontend;
pub mod model;
pub mod record;
pub mod settings;
pub mod sinks;
pub mod sources;
#[cfg(test)]
mod test_data;
pub mod web;
pub mod window;
