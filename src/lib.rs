//! genred: listens to music and says its genre.
//!
//! The modules follow the data's path:
//! sources (folder, microphone) → [`analysis`] (resampler → the model's
//! [`frontend`] → windows → model) → sinks, wired together by [`daemon`].
//! Files and the microphone go through the same engine; [`pipeline`] is its
//! file side, shared by `genred classify` and the drop-folder workers.

pub mod analysis;
pub mod audio;
pub mod config;
pub mod daemon;
pub mod features;
pub mod frontend;
pub mod model;
pub mod pipeline;
pub mod record;
pub mod sinks;
pub mod sources;
pub mod web;
pub mod window;
