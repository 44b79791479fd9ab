//! The audio-thread half of the microphone: open a cpal input stream in the
//! device's own configuration and hand mono f32 frames to the worker through a
//! pre-allocated lock-free SPSC ring.
//!
//! Everything the audio callback does is bounded and allocation-free: it
//! downmixes into a stack buffer, pushes into the ring and bumps atomic
//! counters. The error callback only records the first error (PulseAudio can
//! fire it a million times in two seconds after the server dies); the worker
//! notices, logs and drops the stream on its own thread.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use ringbuf::traits::{Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::config::DEFAULT_DEVICE;

/// Seconds of device audio the ring holds: twice the backlog at which the
/// worker skips ahead, so the callback only finds it full (and drops the
/// newest frames) when the worker is stuck, not merely slow.
const RING_SECONDS: usize = 10;

/// Frames the callback downmixes at a time, in a stack buffer.
const DOWNMIX_CHUNK_FRAMES: usize = 1024;

/// Why an input stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("the ALSA audio host is not available: {0}")]
    Host(cpal::Error),
    #[error("cannot list the audio input devices: {0}")]
    Enumerate(cpal::Error),
    #[error("no input device named \"{device}\" (input devices: {available})")]
    NotFound { device: String, available: String },
    #[error("input device \"{device}\": {stage}: {cause}")]
    Device {
        device: String,
        stage: &'static str,
        cause: cpal::Error,
    },
    #[error("input device \"{device}\": sample format {format} is not supported")]
    UnsupportedFormat {
        device: String,
        format: SampleFormat,
    },
}

/// What the audio thread tells the worker, through atomics only.
#[derive(Debug, Default)]
pub struct StreamHealth {
    /// Frames the device has delivered since the stream started.
    delivered_frames: AtomicU64,
    /// Frames lost because the ring was full (the worker fell behind).
    dropped_frames: AtomicU64,
    /// The first error the stream reported; later ones are ignored.
    first_error: OnceLock<cpal::Error>,
}

impl StreamHealth {
    pub fn delivered_frames(&self) -> u64 {
        self.delivered_frames.load(Ordering::Relaxed)
    }

    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames.load(Ordering::Relaxed)
    }

    /// The first error that means the stream is broken, if any.
    pub fn failure(&self) -> Option<&cpal::Error> {
        self.first_error.get()
    }

    /// Records a stream error (from cpal's error callback, or a test input).
    pub(super) fn record_error(&self, error: cpal::Error) {
        // Over- and underruns are glitches, and a rerouted default device keeps
        // streaming: neither calls for reopening the stream.
        if matches!(
            error.kind(),
            cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged
        ) {
            return;
        }
        // `set` on an initialised cell returns at once without locking.
        let _already_recorded = self.first_error.set(error);
    }
}

/// The stream configuration actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: SampleFormat,
}

impl fmt::Display for StreamFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} Hz, {} ch, {}",
            self.sample_rate, self.channels, self.sample_format
        )
    }
}

/// Opens input streams by device name. genred opens the real device ([`CpalInput`]); the
/// microphone's unit tests open a WAV played into the ring, so that the worker's pacing,
/// stall, backlog and reconnect rules are tested on real audio without a sound card.
pub trait AudioInput {
    /// Opens `device` ("default" or a name from `genred devices`) and starts capturing.
    fn open(&mut self, device: &str) -> Result<Capture, CaptureError>;
}

/// The ALSA host through cpal, each device in its default input configuration.
pub struct CpalInput;

impl AudioInput for CpalInput {
    fn open(&mut self, device: &str) -> Result<Capture, CaptureError> {
        quiet_alsa(|| Self::open_device(device))
    }
}

/// Runs `f` with alsa-lib's own messages on this thread caught instead of printed on stderr
/// (probing a machine's PCMs makes alsa-lib print "ALSA lib … cannot find card" lines that
/// are no error of genred's and would land in the journal); they go to the debug log.
fn quiet_alsa<T>(f: impl FnOnce() -> T) -> T {
    // Each call starts a fresh buffer, so what one scope caught is never kept past the next.
    let caught = alsa::Output::local_error_handler().ok();
    let value = f();
    if let Some(caught) = caught {
        let messages = caught.borrow().to_string();
        for line in messages.lines().filter(|line| !line.trim().is_empty()) {
            tracing::debug!("alsa-lib: {line}");
        }
    }
    value
}

impl CpalInput {
    fn open_device(device: &str) -> Result<Capture, CaptureError> {
        let host = cpal::host_from_id(cpal::HostId::Alsa).map_err(CaptureError::Host)?;
        let input = find_input_device(&host, device)?;
        let device_error = |stage: &'static str| {
            move |cause: cpal::Error| CaptureError::Device {
                device: device.to_owned(),
                stage,
                cause,
            }
        };
        let supported = input
            .default_input_config()
            .map_err(device_error("reading its default input configuration"))?;
        let format = StreamFormat {
            sample_rate: supported.sample_rate(),
            channels: supported.channels(),
            sample_format: supported.sample_format(),
        };
        Capture::start(format, |feed| {
            let stream =
                build_stream(&input, supported.config(), format, feed).map_err(|failure| {
                    match failure {
                        BuildFailure::Format(format) => CaptureError::UnsupportedFormat {
                            device: device.to_owned(),
                            format,
                        },
                        BuildFailure::Cpal(source) => {
                            device_error("opening an input stream")(source)
                        }
                    }
                })?;
            stream
                .play()
                .map_err(device_error("starting the input stream"))?;
            Ok(stream)
        })
    }
}

/// The audio side's end of a stream's ring: every frame the device delivers goes through
/// [`deliver`](Self::deliver), which counts it, and what a full ring cannot take is counted
/// as dropped. Bounded and allocation-free, so the audio callback may call it.
pub struct RingFeed {
    producer: HeapProd<f32>,
    health: Arc<StreamHealth>,
}

impl RingFeed {
    /// Pushes mono frames into the ring; when it is full the newest are dropped (in an SPSC
    /// ring only the consumer may drop the oldest) and counted.
    pub fn deliver(&mut self, mono: &[f32]) {
        let pushed = self.producer.push_slice(mono);
        self.health
            .delivered_frames
            .fetch_add(mono.len() as u64, Ordering::Relaxed);
        if pushed < mono.len() {
            self.health
                .dropped_frames
                .fetch_add((mono.len() - pushed) as u64, Ordering::Relaxed);
        }
    }

    /// The stream's health, shared with the worker; errors are reported to it.
    pub(super) fn health(&self) -> Arc<StreamHealth> {
        Arc::clone(&self.health)
    }
}

/// A running input stream and the worker's end of its ring.
///
/// Dropping it stops the stream; do that on the worker thread, never from a
/// callback.
pub struct Capture {
    // Field order is drop order: stop the stream before the ring goes away.
    _stream: Box<dyn std::any::Any>,
    pub format: StreamFormat,
    pub frames: HeapCons<f32>,
    pub health: Arc<StreamHealth>,
}

impl Capture {
    /// Makes a ring holding [`RING_SECONDS`] of a stream in `format` and starts the stream
    /// with `start`, which gets the ring's feed; the stream returned is kept running until
    /// the capture is dropped.
    pub fn start<S: 'static>(
        format: StreamFormat,
        start: impl FnOnce(RingFeed) -> Result<S, CaptureError>,
    ) -> Result<Self, CaptureError> {
        let ring_frames = RING_SECONDS * format.sample_rate as usize;
        let (producer, frames) = HeapRb::<f32>::new(ring_frames.max(1)).split();
        let feed = RingFeed {
            producer,
            health: Arc::new(StreamHealth::default()),
        };
        let health = feed.health();
        let stream = start(feed)?;
        Ok(Self {
            _stream: Box::new(stream),
            format,
            frames,
            health,
        })
    }
}

/// The input device the config names: "default", an ALSA PCM id such as
/// `pulse` or `hw:CARD=PCH,DEV=0` (with or without the `alsa:` prefix), or a
/// device description as `genred devices` prints it.
fn find_input_device(host: &cpal::Host, name: &str) -> Result<cpal::Device, CaptureError> {
    if name == DEFAULT_DEVICE {
        if let Some(device) = host.default_input_device() {
            return Ok(device);
        }
    }
    let mut devices: Vec<cpal::Device> = host
        .input_devices()
        .map_err(CaptureError::Enumerate)?
        .collect();
    let matches = |device: &cpal::Device| {
        device
            .id()
            .is_ok_and(|id| id.id() == name || id.to_string() == name)
            || device
                .description()
                .is_ok_and(|description| description.name() == name)
    };
    if let Some(index) = devices.iter().position(matches) {
        return Ok(devices.swap_remove(index));
    }
    let available = devices
        .iter()
        .filter_map(|device| device.id().ok().map(|id| id.id().to_owned()))
        .collect::<Vec<_>>()
        .join(", ");
    Err(CaptureError::NotFound {
        device: name.to_owned(),
        available,
    })
}

enum BuildFailure {
    Format(SampleFormat),
    Cpal(cpal::Error),
}

fn build_stream(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    format: StreamFormat,
    feed: RingFeed,
) -> Result<cpal::Stream, BuildFailure> {
    let build = match format.sample_format {
        SampleFormat::I8 => build_typed_stream::<i8>,
        SampleFormat::I16 => build_typed_stream::<i16>,
        SampleFormat::I32 => build_typed_stream::<i32>,
        SampleFormat::I64 => build_typed_stream::<i64>,
        SampleFormat::U8 => build_typed_stream::<u8>,
        SampleFormat::U16 => build_typed_stream::<u16>,
        SampleFormat::U32 => build_typed_stream::<u32>,
        SampleFormat::U64 => build_typed_stream::<u64>,
        SampleFormat::F32 => build_typed_stream::<f32>,
        SampleFormat::F64 => build_typed_stream::<f64>,
        other => return Err(BuildFailure::Format(other)),
    };
    build(device, config, feed).map_err(BuildFailure::Cpal)
}

fn build_typed_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut feed: RingFeed,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let error_health = feed.health();
    device.build_input_stream::<T, _, _>(
        config,
        move |interleaved: &[T], _: &cpal::InputCallbackInfo| {
            let mut mono = [0.0f32; DOWNMIX_CHUNK_FRAMES];
            for block in interleaved.chunks(DOWNMIX_CHUNK_FRAMES * channels) {
                let frames = downmix(block, channels, &mut mono);
                feed.deliver(&mono[..frames]);
            }
        },
        move |error| error_health.record_error(error),
        None,
    )
}

/// Averages each interleaved frame of `block` into `mono` (librosa's
/// `to_mono`), returning the number of frames written. Trailing samples that
/// do not fill a frame are ignored.
fn downmix<T>(block: &[T], channels: usize, mono: &mut [f32]) -> usize
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let scale = 1.0 / channels as f32;
    let mut written = 0;
    for (out, frame) in mono.iter_mut().zip(block.chunks_exact(channels)) {
        *out = frame
            .iter()
            .map(|&sample| sample.to_sample::<f32>())
            .sum::<f32>()
            * scale;
        written += 1;
    }
    written
}

/// One input device and what it supports, for `genred devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDeviceInfo {
    /// The name to put in `[mic] device`.
    pub id: String,
    pub description: String,
    pub is_default: bool,
    /// Supported configurations, or why they could not be read.
    pub support: Result<DeviceSupport, String>,
}

/// The union of a device's supported input configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSupport {
    pub min_rate: u32,
    pub max_rate: u32,
    pub formats: BTreeSet<String>,
    pub channel_counts: BTreeSet<u16>,
}

/// ALSA's `null` PCM: it takes audio and gives back silence, so it is never worth listening
/// to and is not offered.
const DISCARD_DEVICE: &str = "null";

/// Lists the ALSA input devices ("default" first, `null` left out) and what each supports.
pub fn list_input_devices() -> Result<Vec<InputDeviceInfo>, CaptureError> {
    quiet_alsa(list_devices)
}

fn list_devices() -> Result<Vec<InputDeviceInfo>, CaptureError> {
    let host = cpal::host_from_id(cpal::HostId::Alsa).map_err(CaptureError::Host)?;
    let default = host.default_input_device();
    let mut devices: Vec<cpal::Device> = default.iter().cloned().collect();
    devices.extend(
        host.input_devices()
            .map_err(CaptureError::Enumerate)?
            .filter(|device| Some(device) != default.as_ref())
            .filter(|device| !device.id().is_ok_and(|id| id.id() == DISCARD_DEVICE)),
    );
    Ok(devices
        .iter()
        .map(|device| InputDeviceInfo {
            id: device.id().map_or_else(
                |error| format!("<unknown id: {error}>"),
                |id| id.id().to_owned(),
            ),
            description: device.description().map_or_else(
                |_| String::new(),
                |description| description.name().to_owned(),
            ),
            is_default: Some(device) == default.as_ref(),
            support: device_support(device),
        })
        .collect())
}

fn device_support(device: &cpal::Device) -> Result<DeviceSupport, String> {
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map_err(|error| error.to_string())?
        .collect();
    if ranges.is_empty() {
        return Err("no supported input configuration".to_owned());
    }
    Ok(DeviceSupport {
        min_rate: ranges
            .iter()
            .map(|r| r.min_sample_rate())
            .min()
            .unwrap_or(0),
        max_rate: ranges
            .iter()
            .map(|r| r.max_sample_rate())
            .max()
            .unwrap_or(0),
        formats: ranges
            .iter()
            .map(|r| r.sample_format().to_string())
            .collect(),
        channel_counts: ranges.iter().map(|r| r.channels()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_interleaved_channels_and_scales_integers() {
        let stereo_i16 = [i16::MAX, 0, -16384, -16384, 8192];
        let mut mono = [9.0f32; 4];
        let frames = downmix(&stereo_i16, 2, &mut mono);
        assert_eq!(frames, 2, "a trailing half frame is not a frame");
        assert!((mono[0] - 0.5).abs() < 1e-4, "got {}", mono[0]);
        assert_eq!(mono[1], -0.5);
        assert_eq!(mono[2], 9.0, "only whole frames are written");
    }

    #[test]
    fn downmix_maps_unsigned_silence_to_zero() {
        let mut mono = [1.0f32; 3];
        assert_eq!(downmix(&[32768u16, 32768, 32768], 1, &mut mono), 3);
        assert_eq!(mono, [0.0; 3]);
    }

    #[test]
    fn stream_errors_are_recorded_once_and_glitches_ignored() {
        let health = StreamHealth::default();
        health.record_error(cpal::Error::new(cpal::ErrorKind::Xrun));
        assert!(health.failure().is_none(), "an overrun is not a failure");
        health.record_error(cpal::Error::new(cpal::ErrorKind::BackendError));
        health.record_error(cpal::Error::new(cpal::ErrorKind::DeviceNotAvailable));
        let failure = health.failure().map(cpal::Error::kind);
        assert_eq!(failure, Some(cpal::ErrorKind::BackendError));
    }
}
