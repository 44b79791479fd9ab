//! Features of a sliding window over a stream (placeholder, being written).
