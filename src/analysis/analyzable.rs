//! A model as the sources see it: something that builds an engine for its own front end
//! and says what its verdicts are reached with. The kind registry (the `kinds` module)
//! implements it, so the analysis knows no kind.

use std::sync::Arc;

use crate::record::{AnalysisRules, Provenance};
use crate::window::WindowSpec;

use super::engine::{Analyzer, EngineSettings};
use super::unit::ModelInfo;

/// genred's analysis version, recorded with every verdict ([`AnalysisRules::version`]).
/// Raise it with any change to windowing, aggregation or a front end that can change a
/// verdict: a restart then classifies every file again instead of keeping stale results.
/// 2: a file of unknown length is judged on a strided sample of its units (not all of
/// them), and a CED stream's trailing piece of 5 s or more is judged, padded.
pub const ANALYSIS_VERSION: u32 = 2;

/// A loaded model the engine can run.
pub trait Analyzable: ModelInfo {
    /// An engine that feeds this model (shared, hence the `Arc`) its own front end.
    fn analyzer(self: Arc<Self>, settings: EngineSettings) -> Box<dyn Analyzer>;

    /// What a verdict of this model under `windows` is reached with.
    fn provenance(&self, windows: &WindowSpec) -> Provenance {
        let file = self.file();
        provenance(&file.name, &file.sha256, windows)
    }
}

/// What a verdict of the model (or judge) named `model`, whose file has SHA-256 `sha256`, is
/// reached with under `windows` and this analysis version.
pub fn provenance(model: &str, sha256: &str, windows: &WindowSpec) -> Provenance {
    Provenance {
        model: model.to_owned(),
        model_sha256: sha256.to_owned(),
        analysis: AnalysisRules {
            version: ANALYSIS_VERSION,
            window_s: windows.length_s,
            hop_s: windows.hop_s,
            max_patches: windows.max_patches,
        },
    }
}
