//! genred: listens to music and says its genre.
//!
//! The modules follow the data's path:
//! sources (folder, microphone) → window → features → model → sinks,
//! wired together by [`daemon`]. [`pipeline`] is the same path for one file,
//! shared by `genred classify` and the drop-folder workers.

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
pub mod window;
