//! `genred results` on a results file the real daemon wrote: filters, TSV, JSON Lines, an
//! M3U playlist of where the files are now, and logrotate's rotations.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::*;

fn results(home: &Home, args: &[&str]) -> String {
    let output = genred(
        home,
        &[&["results", "--results", "results.jsonl"], args].concat(),
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

#[test]
fn the_results_are_filtered_and_printed_as_tsv_json_or_a_playlist() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\naction = \"move\"\ntarget = \"sorted\"\n");
    let mut daemon = home.start(&[]);
    fs::write(home.path("drop/calm.wav"), fixture(CLASSICAL[0])).unwrap();
    fs::write(home.path("drop/loud.wav"), fixture(BLUES[0])).unwrap();
    fs::write(home.path("drop/broken.wav"), b"RIFF not really").unwrap();
    let records = daemon.wait_for_records(3);
    daemon.stop();
    let genre_of = |name: &str| {
        records
            .iter()
            .find(|r| str_field(r, "path").ends_with(name))
            .map(|r| r["genre"].as_str().unwrap_or("-").to_owned())
            .unwrap_or_default()
    };
    assert_eq!(genre_of("calm.wav"), "classical");
    let loud = genre_of("loud.wav");

    // TSV: every record, one row each, the broken file with its error.
    let all = results(&home, &[]);
    assert_eq!(all.lines().count(), 3, "{all}");
    assert!(
        all.lines()
            .any(|row| row.contains("broken.wav") && row.contains("error: ")),
        "{all}"
    );
    let row: Vec<&str> = all
        .lines()
        .find(|row| row.contains("calm.wav"))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(
        row[1..4],
        [
            "file",
            home.path("drop/calm.wav").to_str().unwrap(),
            "classical"
        ]
    );
    assert_eq!(row[4].len(), 5, "confidence to 3 digits: {row:?}");

    // Filters: genre, path pattern, confidence, time.
    assert_eq!(results(&home, &["--genre", "classical"]).lines().count(), 1);
    assert_eq!(
        results(&home, &["--genre", "classical", "--genre", &loud])
            .lines()
            .count(),
        2
    );
    assert_eq!(results(&home, &["--path", "*/calm.*"]).lines().count(), 1);
    assert_eq!(
        results(&home, &["--min-confidence", "0.5"]).lines().count(),
        2
    );
    assert_eq!(
        results(&home, &["--since", "2999-01-01"]).lines().count(),
        0
    );
    assert_eq!(
        results(&home, &["--until", "2999-01-01", "--source", "file"])
            .lines()
            .count(),
        3
    );
    assert_eq!(results(&home, &["--source", "mic"]).lines().count(), 0);

    // JSON Lines: the records as written.
    let json = results(&home, &["--json", "--genre", "classical"]);
    let record: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(record["genre"], "classical");

    // M3U: where the classified files are now (moved), not the broken one.
    let playlist = results(&home, &["--m3u"]);
    let lines: Vec<&str> = playlist.lines().collect();
    assert_eq!(lines[0], "#EXTM3U");
    assert_eq!(lines.len(), 3, "{playlist}");
    let calm = home.path("sorted/classical/calm.wav");
    assert!(lines.contains(&calm.to_str().unwrap()), "{playlist}");
    assert!(
        lines[1..].iter().all(|line| Path::new(line).exists()),
        "{playlist}"
    );

    // Rotations: logrotate moved the file away and compressed an older one.
    let text_now = fs::read(home.path("results.jsonl")).unwrap();
    fs::rename(home.path("results.jsonl"), home.path("results.jsonl.1")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        fs::File::create(home.path("results.jsonl.2.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&text_now).unwrap();
    gz.finish().unwrap();
    fs::write(home.path("results.jsonl"), b"").unwrap();
    assert_eq!(results(&home, &[]).lines().count(), 0);
    assert_eq!(results(&home, &["--rotated"]).lines().count(), 6);
}

#[test]
fn a_bad_filter_is_refused_with_one_clear_line() {
    let home = Home::new();
    fs::write(home.path("results.jsonl"), b"").unwrap();
    let output = genred(
        &home,
        &[
            "results",
            "--results",
            "results.jsonl",
            "--since",
            "yesterday",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("RFC 3339"),
        "{}",
        text(&output.stderr)
    );
    let missing = genred(&home, &["results", "--results", "nothing.jsonl"], &[]);
    assert_refused(&missing, "nothing.jsonl: cannot open");
}
