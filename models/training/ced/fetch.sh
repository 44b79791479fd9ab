# Sourced by convert.sh: gets the crates soundevents 0.5.0 (CED-Tiny's ONNX file) and
# soundevents-dataset 0.4.0 (the AudioSet class names) by name with cargo, through a throwaway
# project in a temporary folder (cargo fetch: the registry's own checksums are checked on download,
# the .crate files land in cargo's cache, $CARGO_HOME/registry/cache). Sets $soundevents_crate and
# $dataset_crate; convert.py refuses a .crate whose sha256 is not the pinned one.
# cargo fetch also downloads the two crates' dependencies (ort and others, about 120 MB on an empty cache).
fetch_dir="$(mktemp -d)"
trap 'rm -rf "$fetch_dir"' EXIT
mkdir "$fetch_dir/src"
: > "$fetch_dir/src/lib.rs"
cat > "$fetch_dir/Cargo.toml" <<'TOML'
[package]
name = "ced-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
soundevents = "=0.5.0"
soundevents-dataset = "=0.4.0"
TOML
cargo fetch --quiet --manifest-path "$fetch_dir/Cargo.toml" --target "$(rustc -vV | sed -n 's/^host: //p')"
cache="${CARGO_HOME:-$HOME/.cargo}/registry/cache"
soundevents_crate="$(ls "$cache"/*/soundevents-0.5.0.crate | head -n 1)"
dataset_crate="$(ls "$cache"/*/soundevents-dataset-0.4.0.crate | head -n 1)"
