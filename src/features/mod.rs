//! The 28 features of the GTZAN "musicfeatures" dataset, with librosa 0.6.1 semantics.

/// Number of features per clip.
pub const N_FEATURES: usize = 28;

/// The dataset's column names, in its order (the `genred features` CSV header after `filename`).
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "tempo",
    "beats",
    "chroma_stft",
    "rmse",
    "spectral_centroid",
    "spectral_bandwidth",
    "rolloff",
    "zero_crossing_rate",
    "mfcc1",
    "mfcc2",
    "mfcc3",
    "mfcc4",
    "mfcc5",
    "mfcc6",
    "mfcc7",
    "mfcc8",
    "mfcc9",
    "mfcc10",
    "mfcc11",
    "mfcc12",
    "mfcc13",
    "mfcc14",
    "mfcc15",
    "mfcc16",
    "mfcc17",
    "mfcc18",
    "mfcc19",
    "mfcc20",
];
