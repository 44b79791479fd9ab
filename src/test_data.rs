//! Where the unit tests find their data, written once for every module's tests: the GTZAN
//! fixture clips beside the checkout (`../shared`, which CI always has; the integration
//! tests' `tests/common` names the same folder) and the shipped models.

/// The GTZAN fixture clips.
pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/gtzan-audio"
);

/// The shipped models.
pub const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
