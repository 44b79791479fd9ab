//! The optional live view: a small read-only web page that shows, as they are
//! written, the records of the results file (the microphone's genres over the
//! last minutes, the drop folder's latest files), with Server-Sent Events and
//! a health report.
//!
//! The sink hands every appended line to a [`Hub`]; the [`LiveView`] serves it
//! from a thread of its own with its own tokio runtime, so nothing the web
//! side does (a slow browser, a flood of requests) reaches the sink or the
//! audio path. Off by default, and on the loopback interface unless
//! `web.listen` says otherwise.

mod config;
mod connections;
mod hosts;
mod hub;
mod server;

pub use config::{
    WebConfig, DEFAULT_PORT, MAX_ALLOWED_HOSTS, MAX_CLIENTS, MAX_CONNECTIONS, MAX_HEADER_TIMEOUT_S,
    MAX_RECENT,
};
pub use hub::Hub;
pub use server::{About, LiveView, MicAbout, WebError};
