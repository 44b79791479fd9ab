//! `genred devices`: the audio input devices and what each supports, so a
//! user can pick the `[mic] device` value.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Context;
use genred::sources::mic::{list_input_devices, DeviceSupport, InputDeviceInfo};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let devices = list_input_devices().context("cannot list the audio input devices")?;
    if devices.is_empty() {
        anyhow::bail!(
            "no audio input devices: no ALSA card and no PulseAudio server; set PULSE_SERVER"
        );
    }
    println!("Input devices (* = default; use the name as [mic] device):");
    for device in &devices {
        println!("{}", describe(device));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(device: &InputDeviceInfo) -> String {
    let marker = if device.is_default { '*' } else { ' ' };
    let support = match &device.support {
        Ok(support) => describe_support(support),
        Err(reason) => format!("unavailable: {reason}"),
    };
    let description = match device.description.as_str() {
        "" => String::new(),
        text => format!(" ({text})"),
    };
    format!("{marker} {}{description}\n    {support}", device.id)
}

fn describe_support(support: &DeviceSupport) -> String {
    let formats: Vec<&str> = support.formats.iter().map(String::as_str).collect();
    format!(
        "rates {}–{} Hz; formats {}; channels {}",
        support.min_rate,
        support.max_rate,
        formats.join(" "),
        describe_counts(&support.channel_counts)
    )
}

/// "1–64" rather than 64 numbers when a device takes any channel count in a range.
fn describe_counts(counts: &BTreeSet<u16>) -> String {
    match (counts.first(), counts.last()) {
        (Some(&first), Some(&last))
            if counts.len() > 2 && usize::from(last - first) + 1 == counts.len() =>
        {
            format!("{first}–{last}")
        }
        _ => counts
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    }
}
