//! (being written)
pub mod mic;
