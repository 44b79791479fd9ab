//! Where results go: the results file, the log, and file actions.

pub mod actions;
pub mod results;
