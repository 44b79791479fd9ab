//! Where audio comes from: drop folders ([`folder`]) and a live microphone
//! ([`mic`]). Both folders and the batch commands find files with the one directory
//! walker, [`crate::walk`].

pub mod folder;
pub mod mic;
