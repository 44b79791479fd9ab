//! What the microphone source hands the sink: one window of the live stream as the engine
//! judged it, with what only the source knows (which device, when, how much audio was lost).

use std::time::SystemTime;

use super::judgement::StreamVerdict;
use super::verdict::{Content, Probabilities};

/// One judged window of the microphone; the sink turns it into the `mic` record.
#[derive(Clone, Debug, PartialEq)]
pub struct MicVerdict {
    /// When the window ended.
    pub time: SystemTime,
    /// The configured device name.
    pub device: String,
    pub verdict: StreamVerdict,
    /// Mono frames at the device rate lost since listening began: dropped by the audio
    /// callback on a full ring or skipped by a worker more than its backlog behind.
    pub dropped_samples: u64,
    /// What the judge hears now (its latest hop), when it hears content; only music is
    /// given a genre.
    pub content: Option<Content>,
    /// The scores `content` was decided on: music, speech, silence, noise.
    pub content_scores: Probabilities,
}

impl MicVerdict {
    /// The window's most probable genre and its probability; `None` for silence and for
    /// what is not music.
    pub fn best(&self) -> Option<(&str, f32)> {
        if self
            .content
            .is_some_and(|content| content != Content::Music)
        {
            return None;
        }
        self.verdict.window.judgement.as_ref()?.best()
    }

    /// Whether the window was too quiet to be judged.
    pub fn is_silence(&self) -> bool {
        self.verdict.window.judgement.is_none()
    }
}
