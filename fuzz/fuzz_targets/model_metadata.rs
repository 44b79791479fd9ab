//! A model's metadata validation (`labels`, `feature_names`) without a graph:
//! any values give labels or a `ModelFault`, never a panic.
#![no_main]

use std::collections::BTreeMap;

use genred::kinds::features28;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // The input is `labels` JSON, then optionally a NUL and `feature_names` JSON.
    let mut parts = text.splitn(2, '\0');
    let mut metadata = BTreeMap::new();
    if let Some(labels) = parts.next() {
        metadata.insert("labels".to_owned(), labels.to_owned());
    }
    if let Some(feature_names) = parts.next() {
        metadata.insert("feature_names".to_owned(), feature_names.to_owned());
    }
    if let Ok(labels) = features28::validate_metadata(&metadata) {
        assert!(!labels.is_empty());
        for (i, label) in labels.iter().enumerate() {
            assert!(!labels[..i].contains(label), "{label} twice");
        }
    }
});
