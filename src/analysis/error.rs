//! Why a file got no genre, said once: what the decoder, the engine and the aggregation
//! can each conclude maps onto one [`AnalysisError`] here, and nowhere else.

use crate::audio::AudioError;
use crate::features::FeatureError;
use crate::onnx::ModelError;

use super::engine::WindowError;
use super::frontend::FrontEndError;

/// A window whose RMS is below this (−60 dBFS) holds no music to judge: it is
/// left out of the file's verdict, and a file made only of such windows is
/// reported as silent rather than given a genre.
pub const SILENCE_RMS: f32 = 1e-3;

/// The least audio a file must hold to be given a genre: under three seconds
/// there are barely a few bars to judge, and the model, trained on 30 s clips,
/// answers confidently about almost nothing.
pub const MIN_DURATION_S: f64 = 3.0;

/// Why a file got no genre; the file's path comes with it, once, as a
/// [`WithPath`](crate::record::WithPath).
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Audio(AudioError),
    #[error(
        "too short: {duration_s:.2} s of audio, at least {MIN_DURATION_S} s are needed to judge a genre"
    )]
    TooShort { duration_s: f64 },
    #[error(transparent)]
    Features(FeatureError),
    #[error("silent: no window is louder than {SILENCE_RMS} RMS (-60 dBFS)")]
    Silent,
    /// Sound is variation: a constant level (a DC offset, even at full scale)
    /// is as empty as silence, though its RMS is high.
    #[error("no sound: the signal holds a constant level of {level:.3} (DC) and nothing else")]
    ConstantLevel { level: f32 },
    #[error(transparent)]
    Model(ModelError),
    /// The engine could not judge a window (its front end or model broke a contract).
    #[error(transparent)]
    Engine(WindowError),
}

impl AnalysisError {
    /// True when the file itself is at fault (not audio, broken, empty, silent,
    /// too short), so it may go to the rejected folder; false when genred
    /// failed on a file that may be fine: the model failed, or the file could
    /// not be read (no permission, an I/O error), which says nothing of its
    /// audio. A file that ends too soon is at fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AnalysisError::Model(_) | AnalysisError::Engine(_) => false,
            AnalysisError::Audio(AudioError::Io { cause }) => {
                cause.kind() == std::io::ErrorKind::UnexpectedEof
            }
            _ => true,
        }
    }
}

impl AnalysisError {
    /// True for a fault of the moment rather than of the file or of genred: out of file
    /// descriptors or memory. The same file is worth trying again a little later.
    pub fn is_transient(&self) -> bool {
        /// ENOMEM, ENFILE, EMFILE (Linux).
        const TRANSIENT_ERRNOS: [i32; 3] = [12, 23, 24];
        matches!(
            self,
            AnalysisError::Audio(AudioError::Io { cause })
                if cause.raw_os_error().is_some_and(|errno| TRANSIENT_ERRNOS.contains(&errno))
        )
    }
}

impl From<WindowError> for AnalysisError {
    /// The engine's reason why a window, and so its file, got no verdict.
    fn from(error: WindowError) -> Self {
        match error {
            WindowError::FrontEnd(FrontEndError::Features(cause)) => AnalysisError::Features(cause),
            WindowError::Model(cause) => AnalysisError::Model(cause),
            cause => AnalysisError::Engine(cause),
        }
    }
}
