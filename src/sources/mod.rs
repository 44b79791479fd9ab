//! Where audio comes from: drop folders ([`folder`]) and a live microphone
//! ([`mic`]); [`walk`] is the one directory walker, shared with the batch
//! commands.

pub mod folder;
pub mod mic;
pub mod walk;
