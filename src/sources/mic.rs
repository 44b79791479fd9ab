//! Live microphone source: capture (cpal → lock-free ring), a rolling window at
//! the rate the model's front end wants (16 kHz for musicnn's mel patches, 22050 Hz
//! for the 28 features), and a judged window every hop, handed on as a
//! [`MicVerdict`] (the sink makes the record of it).
//!
//! Threads: the cpal audio callback only converts to mono f32 and pushes into a
//! pre-allocated SPSC ring (no allocation, lock, logging or syscall there); the
//! caller's thread, inside [`run`], drains the ring, resamples from the device's
//! rate to the front end's, computes the front end's frames (mel patches or
//! features) incrementally and runs the model.

mod capture;
mod config;
#[cfg(test)]
mod listen_tests;
mod predictor;

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use ringbuf::traits::{Consumer, Observer};

pub use capture::{list_input_devices, CaptureError, DeviceSupport, InputDeviceInfo};
pub use config::{MicConfig, DEFAULT_DEVICE, MAX_SMOOTHING};

use crate::audio::resample::ResampleError;
use crate::judge::Judge;
use crate::record::MicVerdict;
use crate::settings::InvalidSetting;
use capture::{AudioInput, Capture, CpalInput};
use predictor::WindowPredictor;

/// What to do when the device cannot be opened at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPolicy {
    /// The microphone is the only source: an unavailable device is an error.
    FailFast,
    /// Another source keeps the daemon busy: retry with backoff until it works.
    Retry,
}

/// Why the microphone could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MicError {
    /// The configuration is invalid.
    #[error("invalid [mic] config: {0}")]
    Config(InvalidSetting),
    /// The device could not be opened at start.
    #[error(
        "no audio input: {cause} — is there an ALSA card or a PulseAudio server? \
         Set PULSE_SERVER or pick a device with `genred devices`"
    )]
    NoInput { cause: CaptureError },
    /// The device opened but failed before delivering usable audio.
    #[error(
        "no audio input: device \"{device}\" {problem}; \
         pick a working device with `genred devices`"
    )]
    Unusable { device: String, problem: String },
    /// The device's sample rate cannot be converted to the front end's.
    #[error("input device \"{device}\": {cause}")]
    Resample {
        device: String,
        cause: ResampleError,
    },
}

/// How the worker paces itself and judges a stream's health: [`Timing::LIVE`] for a real
/// device; the unit tests shrink it to play a WAV through the same rules in a fraction of
/// the time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Timing {
    /// How often the worker wakes to drain the ring and check the stream.
    poll: Duration,
    /// How long after opening the worker compares the delivered frames with the
    /// wall clock before it trusts the device.
    pacing_check: Duration,
    /// A device delivering more than this many times its nominal rate has no
    /// clock (ALSA `null` gives millions of zeros a second).
    max_pace_ratio: f64,
    /// No audio for this long means the stream has stalled.
    stall_timeout: Duration,
    /// The first and the longest wait between attempts to reopen the device.
    first_retry_delay: Duration,
    max_retry_delay: Duration,
    /// Dropped audio is reported at most this often.
    drop_report_interval: Duration,
    /// When the worker is this much audio behind the device (it was starved of CPU), it
    /// skips the oldest audio to catch up, so predictions stay about the present.
    max_backlog: Duration,
}

impl Timing {
    const LIVE: Timing = Timing {
        poll: Duration::from_millis(50),
        pacing_check: Duration::from_millis(500),
        max_pace_ratio: 2.0,
        stall_timeout: Duration::from_secs(2),
        first_retry_delay: Duration::from_millis(100),
        max_retry_delay: Duration::from_secs(5),
        drop_report_interval: Duration::from_secs(10),
        max_backlog: Duration::from_secs(5),
    };
}

/// Frames the worker moves out of the ring at a time.
const DRAIN_BLOCK_FRAMES: usize = 8192;

/// Listens to the configured device and sends a judged window to `emit` every
/// hop, until `shutdown` is disconnected (or receives a message).
///
/// A device that fails or stalls is logged once, dropped here (never from the
/// audio callback) and reopened with backoff, 100 ms doubling to 5 s; its
/// return is logged too. At start, `policy` decides whether a device that
/// cannot be used is an error ([`StartPolicy::FailFast`]) or retried.
/// Predictions are neither logged nor recorded here: the daemon's sink does that.
pub fn run(
    config: &MicConfig,
    model: Judge,
    shutdown: &Receiver<()>,
    policy: StartPolicy,
    emit: &mut dyn FnMut(MicVerdict),
) -> Result<(), MicError> {
    let listener = Listener {
        config,
        model: &model,
        timing: Timing::LIVE,
        policy,
    };
    listener.run(&mut CpalInput, shutdown, emit)
}

/// What [`run`] listens with, so that the unit tests can give it another input and timing.
struct Listener<'a> {
    config: &'a MicConfig,
    model: &'a Judge,
    timing: Timing,
    policy: StartPolicy,
}

impl Listener<'_> {
    /// [`run`] on `input`.
    fn run(
        &self,
        input: &mut dyn AudioInput,
        shutdown: &Receiver<()>,
        emit: &mut dyn FnMut(MicVerdict),
    ) -> Result<(), MicError> {
        let (config, timing, policy) = (self.config, self.timing, self.policy);
        config.validate().map_err(MicError::Config)?;
        let mut retry_delay = timing.first_retry_delay;
        let mut has_listened = false;
        let mut outage_logged = false;
        let mut dropped_before = 0;
        loop {
            let outcome = match input.open(&config.device) {
                Ok(capture) => {
                    let predictor =
                        WindowPredictor::new(config, self.model, capture.format.sample_rate)
                            .map_err(|cause| MicError::Resample {
                                device: config.device.clone(),
                                cause,
                            })?;
                    let mut session = Session {
                        capture,
                        predictor,
                        timing,
                        device: &config.device,
                        dropped_before,
                        skipped: 0,
                    };
                    let outcome = session.listen(shutdown, emit, has_listened);
                    if let Outcome::Lost(reason) = &outcome {
                        // Logged before the stream is dropped: dropping it can
                        // block until a frozen audio server answers.
                        tracing::warn!(
                            "mic: lost input device \"{}\": {reason}; reconnecting",
                            config.device
                        );
                    }
                    dropped_before = session.dropped_frames();
                    outcome
                }
                Err(cause) => Outcome::Failed(MicError::NoInput { cause }),
            };
            match outcome {
                Outcome::Shutdown => return Ok(()),
                Outcome::Lost(_) => {
                    has_listened = true;
                    outage_logged = true;
                    retry_delay = timing.first_retry_delay;
                }
                Outcome::Failed(error) => {
                    if !has_listened && policy == StartPolicy::FailFast {
                        return Err(error);
                    }
                    if !outage_logged {
                        tracing::warn!("mic: {error}; retrying");
                        outage_logged = true;
                    }
                }
            }
            if wait_or_shutdown(shutdown, retry_delay) {
                return Ok(());
            }
            retry_delay = (retry_delay * 2).min(timing.max_retry_delay);
        }
    }
}

/// How one opened stream ended.
enum Outcome {
    Shutdown,
    /// It delivered audio, then failed or stalled.
    Lost(String),
    /// It never delivered usable audio.
    Failed(MicError),
}

/// Sleeps for `delay` unless shutdown comes first; true on shutdown.
fn wait_or_shutdown(shutdown: &Receiver<()>, delay: Duration) -> bool {
    !matches!(shutdown.recv_timeout(delay), Err(RecvTimeoutError::Timeout))
}

/// One opened stream and the window it feeds.
struct Session<'a> {
    capture: Capture,
    predictor: WindowPredictor,
    timing: Timing,
    device: &'a str,
    /// Frames dropped by earlier streams of this run.
    dropped_before: u64,
    /// Frames of this stream the worker skipped to catch up.
    skipped: u64,
}

impl Session<'_> {
    fn dropped_frames(&self) -> u64 {
        self.dropped_before + self.skipped + self.capture.health.dropped_frames()
    }

    /// Checks the device's pacing, then drains, predicts and watches the
    /// stream's health until it fails or shutdown.
    fn listen(
        &mut self,
        shutdown: &Receiver<()>,
        emit: &mut dyn FnMut(MicVerdict),
        reconnecting: bool,
    ) -> Outcome {
        let timing = self.timing;
        let opened = Instant::now();
        if wait_or_shutdown(shutdown, timing.pacing_check) {
            return Outcome::Shutdown;
        }
        if let Err(problem) = self.check_stream_start(opened.elapsed()) {
            return Outcome::Failed(MicError::Unusable {
                device: self.device.to_owned(),
                problem,
            });
        }
        let format = self.capture.format;
        if reconnecting {
            tracing::info!("mic: input device \"{}\" is back ({format})", self.device);
        } else {
            tracing::info!(
                "mic: listening on input device \"{}\" ({format})",
                self.device
            );
        }
        let mut block = vec![0.0f32; DRAIN_BLOCK_FRAMES];
        let mut last_delivered = self.capture.health.delivered_frames();
        let mut last_audio = Instant::now();
        let mut reported_drops = self.dropped_frames();
        let mut last_drop_report = Instant::now();
        loop {
            self.drain(&mut block, emit);
            if let Some(error) = self.capture.health.failure() {
                return Outcome::Lost(format!("stream error: {error}"));
            }
            let delivered = self.capture.health.delivered_frames();
            if delivered != last_delivered {
                last_delivered = delivered;
                last_audio = Instant::now();
            } else if last_audio.elapsed() >= timing.stall_timeout {
                let timeout_s = timing.stall_timeout.as_secs_f64();
                if delivered == 0 {
                    return Outcome::Failed(MicError::Unusable {
                        device: self.device.to_owned(),
                        problem: format!("delivered no audio in {timeout_s} s"),
                    });
                }
                return Outcome::Lost(format!("no audio for {timeout_s} s (stalled)"));
            }
            let dropped = self.dropped_frames();
            if dropped > reported_drops && last_drop_report.elapsed() >= timing.drop_report_interval
            {
                tracing::warn!(
                    "mic: dropped {} frames of audio from \"{}\" (the worker fell behind; {dropped} in all)",
                    dropped - reported_drops,
                    self.device
                );
                reported_drops = dropped;
                last_drop_report = Instant::now();
            }
            if wait_or_shutdown(shutdown, timing.poll) {
                return Outcome::Shutdown;
            }
        }
    }

    /// After the first moments of a stream: it must have delivered audio,
    /// not failed, and not faster than its clock allows.
    fn check_stream_start(&self, elapsed: Duration) -> Result<(), String> {
        let health = &self.capture.health;
        if let Some(error) = health.failure() {
            return Err(format!("failed as it started: {error}"));
        }
        let delivered = health.delivered_frames();
        let nominal_rate = f64::from(self.capture.format.sample_rate);
        let delivered_rate = delivered as f64 / elapsed.as_secs_f64();
        if delivered_rate > nominal_rate * self.timing.max_pace_ratio {
            return Err(format!(
                "delivers {delivered_rate:.0} frames/s against a clock of {nominal_rate} Hz: \
                 it has no clock (like ALSA `null`) and is refused"
            ));
        }
        Ok(())
    }

    /// Moves everything in the ring through the predictor. Whenever the worker has
    /// fallen more than [`Timing::max_backlog`] behind (starved of CPU, or held up by a
    /// slow consumer of its predictions), the whole backlog, the oldest audio, is skipped,
    /// so predictions catch up with the present. (The audio callback cannot drop the
    /// oldest itself: in an SPSC ring only the consumer may; when the ring is full it drops
    /// the newest.)
    fn drain(&mut self, block: &mut [f32], emit: &mut dyn FnMut(MicVerdict)) {
        let max_backlog = (self.timing.max_backlog.as_secs_f64()
            * f64::from(self.capture.format.sample_rate)) as usize;
        loop {
            let backlog = self.capture.frames.occupied_len();
            if backlog > max_backlog {
                self.skipped += self.capture.frames.skip(backlog) as u64;
            }
            let frames = self.capture.frames.pop_slice(block);
            if frames == 0 {
                return;
            }
            let dropped = self.dropped_frames();
            self.predictor.feed(&block[..frames], dropped, emit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(MicConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_invalid_value_is_named_by_its_key() {
        let cases = [
            (
                MicConfig {
                    hop_s: 0.0,
                    ..MicConfig::default()
                },
                "mic.hop_s",
            ),
            (
                MicConfig {
                    hop_s: 31.0,
                    ..MicConfig::default()
                },
                "mic.hop_s",
            ),
            (
                MicConfig {
                    window_s: f64::NAN,
                    ..MicConfig::default()
                },
                "mic.window_s",
            ),
            (
                MicConfig {
                    min_window_s: 40.0,
                    ..MicConfig::default()
                },
                "mic.min_window_s",
            ),
            (
                MicConfig {
                    smoothing: 0,
                    ..MicConfig::default()
                },
                "mic.smoothing",
            ),
            (
                MicConfig {
                    silence_rms: -1.0,
                    ..MicConfig::default()
                },
                "mic.silence_rms",
            ),
            (
                MicConfig {
                    device: " ".to_owned(),
                    ..MicConfig::default()
                },
                "mic.device",
            ),
        ];
        for (config, key) in cases {
            let error = config.validate().expect_err(key);
            assert_eq!(error.key, key, "{error}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = toml::from_str::<MicConfig>("hop = 5.0").expect_err("typo");
        assert!(error.to_string().contains("hop"), "{error}");
    }
}
