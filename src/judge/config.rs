//! The `[model]` section: the judge genred runs, and the confidence below which it names no
//! genre.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::settings::InvalidSetting;

/// The shipped default judge, relative to genred's folder: musicnn (genre head and tags) and
/// CED-Tiny (content and AudioSet genres) fused and calibrated (`models/training/judge/`).
pub const DEFAULT_MODEL: &str = "models/judge-10.json";

/// The `[model]` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// A fused judge's recipe (`.json`), or one ONNX genre model judging alone; labels come
    /// from the files' own metadata.
    pub path: PathBuf,
    /// Music judged with a lower confidence gets the genre "unknown"; unset, the judge's own
    /// (`min_confidence` in its recipe; a model judging alone names every genre).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f32>,
}

impl ModelConfig {
    /// Checks the section; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.path.as_os_str().is_empty() {
            return Err(InvalidSetting::new(
                "model.path",
                "must name a judge recipe or an ONNX model file",
            ));
        }
        if let Some(min) = self.min_confidence {
            if !(0.0..=1.0).contains(&min) {
                return Err(InvalidSetting::new(
                    "model.min_confidence",
                    format!("must be from 0 to 1, got {min}"),
                ));
            }
        }
        Ok(())
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_MODEL),
            min_confidence: None,
        }
    }
}
