//! Where audio comes from: drop folders ([`folder`]) and a live microphone ([`mic`]).

pub mod folder;
pub mod mic;
