//! The config file parser and validator on any text: a `Config` or an error
//! message, never a panic.
#![no_main]

use genred::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(config) = Config::parse(text) {
        let _ = config.validate();
        // What parsed renders back to TOML that parses again.
        let rendered = config.to_toml();
        assert!(Config::parse(&rendered).is_ok(), "{rendered}");
    }
});
