//! Front ends: what a model sees of the audio.
//!
//! A model names the front end it was trained on in its ONNX metadata (`front_end`), and
//! genred must feed it exactly that input: the 28 dataset features of the seed's models
//! ([`features28`], over [`crate::features`]), or the mel patches of the musicnn taggers
//! ([`mel_patches`], over [`musicnn_mel`]).
//!
//! A front end turns mono samples at its own rate into per-frame values, computing each
//! frame once, and turns the frames under a window into model inputs ("units"). Each model
//! names its front end in its ONNX metadata (`front_end`); [`FrontEndKind`] is that name,
//! checked when the model is loaded, so a model genred cannot feed is refused up front.
//!
//! Units are named by the stretch of stream they cover ([`Span`]): the same span always
//! holds the same unit, so the engine infers it once and keeps its output for every window
//! that contains it.

pub mod features28;
pub mod mel_patches;
pub mod musicnn_mel;

use std::fmt;

pub use features28::Features28;
pub use mel_patches::MelPatches;

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

/// The front ends genred has, by the name models give in their `front_end` metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEndKind {
    /// The 28 features of the GTZAN "musicfeatures" dataset, librosa 0.6.1 semantics.
    Features28,
    /// musicnn's log-mel patches: 16 kHz, 96 bands, 187 frames.
    MusicnnMel,
}

impl FrontEndKind {
    /// Every front end genred has.
    pub const ALL: [FrontEndKind; 2] = [FrontEndKind::Features28, FrontEndKind::MusicnnMel];

    /// The `front_end` of a model that declares none: the 28-feature models genred shipped
    /// before the key existed.
    pub const UNDECLARED: FrontEndKind = FrontEndKind::Features28;

    /// The name in a model's metadata.
    pub fn name(self) -> &'static str {
        match self {
            FrontEndKind::Features28 => features28::NAME,
            FrontEndKind::MusicnnMel => musicnn_mel::NAME,
        }
    }

    /// The front end a model's `front_end` metadata names (`None`: not declared).
    pub fn from_metadata(value: Option<&str>) -> Result<Self, UnknownFrontEnd> {
        let Some(value) = value else {
            return Ok(Self::UNDECLARED);
        };
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == value)
            .ok_or_else(|| UnknownFrontEnd(value.to_owned()))
    }
}

impl fmt::Display for FrontEndKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `front_end` genred does not have; the model loader adds the model's path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a front end genred has ({known})", known = known_names())]
pub struct UnknownFrontEnd(pub String);

fn known_names() -> String {
    FrontEndKind::ALL.map(FrontEndKind::name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_without_front_end_metadata_gets_the_28_features() {
        assert_eq!(
            FrontEndKind::from_metadata(None),
            Ok(FrontEndKind::Features28)
        );
        assert_eq!(
            FrontEndKind::from_metadata(Some("librosa-0.6.1-28")),
            Ok(FrontEndKind::Features28)
        );
        assert_eq!(
            FrontEndKind::from_metadata(Some("musicnn-mel-16k-96")),
            Ok(FrontEndKind::MusicnnMel)
        );
    }

    #[test]
    fn an_unknown_front_end_is_named_with_the_known_ones() {
        let error = FrontEndKind::from_metadata(Some("mfcc-13")).map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err(
                r#""mfcc-13" is not a front end genred has (librosa-0.6.1-28, musicnn-mel-16k-96)"#
                    .to_owned()
            )
        );
    }
}
