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
pub const ANALYSIS_VERSION: u32 = 1;

/// A loaded model the engine can run.
pub trait Analyzable: ModelInfo {
    /// An engine that feeds this model (shared, hence the `Arc`) its own front end.
    fn analyzer(self: Arc<Self>, settings: EngineSettings) -> Box<dyn Analyzer>;

    /// What a verdict of this model under `windows` is reached with.
    fn provenance(&self, windows: &WindowSpec) -> Provenance {
        let file = self.file();
        Provenance {
            model: file.name.clone(),
            model_sha256: file.sha256.clone(),
            analysis: AnalysisRules {
                version: ANALYSIS_VERSION,
                window_s: windows.length_s,
                hop_s: windows.hop_s,
                max_patches: windows.max_patches,
            },
        }
    }
}
