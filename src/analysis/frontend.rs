//! The front-end contract: what a model sees of the audio.
//!
//! A model names the front end it was trained on in its ONNX metadata (`front_end`), and
//! genred must feed it exactly that input; each model kind (the `kinds` module) brings its own
//! front end, and the registry picks the kind by that name when the model is loaded.
//!
//! A front end turns mono samples at its own rate into per-frame values, computing each
//! frame once, and turns the frames under a window into model inputs ("units").
//!
//! Units are named by the stretch of stream they cover ([`Span`]): the same span always
//! holds the same unit, so the engine infers it once and keeps its output for every window
//! that contains it.

/// A stretch of a stream, `start..end`, in samples at a front end's rate from the stream's
/// first sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    /// The samples in the span.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the span holds no sample.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// One window as a front end sees it: where it lies in the stream, and its samples.
#[derive(Clone, Copy, Debug)]
pub struct WindowAudio<'a> {
    pub span: Span,
    /// The window's samples, `span.len()` of them.
    pub samples: &'a [f32],
}

/// Why a front end could not make a unit.
#[derive(Debug, thiserror::Error)]
pub enum FrontEndError {
    #[error(transparent)]
    Features(#[from] crate::features::FeatureError),
    /// A unit asked for before its frames were computed or after they were let go: the
    /// engine's contract with its front end was broken.
    #[error("mel frames {first}..{end} are not at hand")]
    FramesUnavailable { first: u64, end: u64 },
}

/// A front end: samples at [`FrontEnd::sample_rate`] in, model inputs out.
///
/// `Send`, so that an engine can move to the worker thread that owns it.
pub trait FrontEnd: Send {
    /// One model input.
    type Unit;

    /// The rate the front end's samples are at; the engine resamples to it.
    fn sample_rate(&self) -> u32;

    /// Samples between consecutive frames. Windows start a whole number of hops apart, so
    /// that consecutive windows share their frames.
    fn hop_length(&self) -> usize;

    /// A new stream begins at position 0: everything kept from the last one goes (the FFT
    /// plans and filterbanks stay, which is why front ends are reused).
    fn start_stream(&mut self);

    /// Takes the stream's next samples, in order, before any window ending with them is
    /// judged. Front ends that compute frames as the stream goes do it here; those that
    /// work from each window's samples ignore it.
    fn push(&mut self, _samples: &[f32]) {}

    /// The stream has ended: frames that reach past its last sample can be completed.
    fn finish(&mut self) {}

    /// No window from stream position `position` on is before: what only earlier units
    /// needed may go.
    fn forget_before(&mut self, _position: u64) {}

    /// The units `window` is judged on, in stream order; its verdict is their mean.
    fn units(&self, window: Span) -> Vec<Span>;

    /// Whether a long stream may be judged on an even sample of its units
    /// (`EngineSettings::max_units`): true for short patches that each say something of the
    /// whole (musicnn's 3 s); false where a unit is a whole window (the 28 features), which
    /// is judged every time.
    fn samples_units(&self) -> bool {
        false
    }

    /// The model input of `unit`, one of `units(window.span)`.
    fn unit(&mut self, unit: Span, window: &WindowAudio<'_>) -> Result<Self::Unit, FrontEndError>;

    /// Frames analysed since creation; a frame shared by several windows counts once.
    fn frames_computed(&self) -> u64;
}
