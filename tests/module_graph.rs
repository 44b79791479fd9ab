//! The library's modules form a DAG (`record` ← `onnx` ← `analysis` ← `kinds` ←
//! `sources`/`sinks` ← `config` ← `daemon`), and so do its files: this fails, naming the
//! cycle, when a change makes one module (or one file) of `src/` use another that already
//! uses it, however indirectly; naming the path, when the sources come to depend on the sinks
//! or the sinks on the sources; and naming the file, when a model kind's code is outside its
//! folder under `src/kinds/` or code outside `kinds/` reaches past the registry into a kind.
//!
//! A module's dependencies are the `crate::<module>` paths written in its files, tests
//! included; a file's are the files those paths (and `super::`, `self::` and child-module
//! paths) lead to. `cli/` and `main.rs` (the binary, on top of everything) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Modules that must depend on no other module of genred's.
const LEAVES: [&str; 2] = ["record", "settings"];

/// Modules that must not depend on each other, directly or through others: the sources
/// and the sinks meet only in the vocabulary below them (`record`) and in the daemon above,
/// which wires one to the other.
const APART: [(&str, &str); 1] = [("sources", "sinks")];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_modules_of_src_form_a_dag() {
    let graph = module_graph();
    assert!(graph.len() > 10, "too few modules found: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("src/ has an import cycle: {}", cycle.join(" -> "));
    }
    for leaf in LEAVES {
        let uses = graph.get(leaf).cloned().unwrap_or_default();
        assert!(uses.is_empty(), "{leaf} must be a leaf, but uses {uses:?}");
    }
}

#[test]
fn the_sources_and_the_sinks_do_not_depend_on_each_other() {
    let graph = module_graph();
    for (one, other) in APART {
        for (from, to) in [(one, other), (other, one)] {
            assert!(graph.contains_key(from), "no module {from} in {graph:?}");
            if let Some(path) = find_path(&graph, from, to) {
                panic!(
                    "{from} must not depend on {to}, but does: {}",
                    path.join(" -> ")
                );
            }
        }
    }
}

fn edge(graph: &mut Graph, from: &str, to: &str) {
    graph
        .entry(from.to_owned())
        .or_default()
        .insert(to.to_owned());
}

#[test]
fn a_dependency_through_others_is_found_and_named() {
    let mut graph = Graph::new();
    edge(&mut graph, "a", "b");
    edge(&mut graph, "b", "c");
    edge(&mut graph, "d", "c");
    assert_eq!(find_path(&graph, "c", "a"), None);
    assert_eq!(find_path(&graph, "a", "d"), None);
    assert_eq!(
        find_path(&graph, "a", "c"),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
}

#[test]
fn a_cycle_is_found_and_named() {
    let mut graph = Graph::new();
    edge(&mut graph, "a", "b");
    edge(&mut graph, "b", "c");
    assert_eq!(find_cycle(&graph), None);
    edge(&mut graph, "c", "a");
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn the_files_of_src_form_a_dag() {
    let graph = file_graph();
    assert!(graph.len() > 40, "too few files found: {graph:?}");
    assert!(
        graph["analysis/mod.rs"].contains("analysis/engine.rs"),
        "a re-export is an edge: {:?}",
        graph["analysis/mod.rs"]
    );
    assert!(
        graph["analysis/engine.rs"].contains("analysis/schedule.rs"),
        "a super:: path is an edge: {:?}",
        graph["analysis/engine.rs"]
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("src/ has a cycle between files: {}", cycle.join(" -> "));
    }
}

#[test]
fn each_model_kind_is_one_folder_reached_only_through_the_registry() {
    let kinds = kind_names();
    assert!(
        kinds.contains(&"musicnn".to_owned()) && kinds.contains(&"features28".to_owned()),
        "{kinds:?}"
    );
    let mut files = Vec::new();
    collect_rust_files(Path::new(SRC), &mut files);
    for file in files {
        let relative = relative_path(&file);
        if relative.starts_with("cli/") || relative == "main.rs" {
            continue;
        }
        for kind in &kinds {
            let home = format!("kinds/{kind}/");
            if relative.starts_with(&home) {
                continue;
            }
            assert!(
                !relative.contains(kind.as_str()),
                "{relative} is named for the model kind {kind}: its place is src/{home}"
            );
            if relative.starts_with("kinds/") || is_test_file(&relative) {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{relative}: {e}"));
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            assert!(
                !code.contains(&format!("kinds::{kind}")),
                "{relative} reaches into the model kind {kind}: outside src/kinds/ only the \
                 registry (crate::kinds) is used"
            );
        }
    }
}

/// A room of a readable size: no file of `src/` holds more than this many lines before its
/// tests.
const MAX_LINES_BEFORE_TESTS: usize = 700;

#[test]
fn no_file_holds_more_than_700_lines_before_its_tests() {
    let mut files = Vec::new();
    collect_rust_files(Path::new(SRC), &mut files);
    for file in files {
        let relative = relative_path(&file);
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{relative}: {e}"));
        let lines = text
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .count();
        assert!(
            lines <= MAX_LINES_BEFORE_TESTS,
            "{relative} holds {lines} lines before its tests (at most {MAX_LINES_BEFORE_TESTS}): \
             split it along its seams"
        );
    }
}

/// The model kinds: the folders under `src/kinds/`.
fn kind_names() -> Vec<String> {
    let dir = Path::new(SRC).join("kinds");
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

fn is_test_file(relative: &str) -> bool {
    relative.ends_with("/tests.rs") || relative.ends_with("_tests.rs") || relative == "test_data.rs"
}

/// `src/a/b.rs` → `a/b.rs`.
fn relative_path(file: &Path) -> String {
    file.strip_prefix(SRC)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

/// The module path of a file: `a/b.rs` and `a/b/mod.rs` → `[a, b]`; `lib.rs` → `[]`.
fn module_of(relative: &str) -> Vec<String> {
    let mut segments: Vec<String> = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if segments
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        segments.pop();
    }
    segments
}

/// The file holding module `segments`, if there is one.
fn file_of(segments: &[String]) -> Option<String> {
    if segments.is_empty() {
        return Some("lib.rs".to_owned());
    }
    let joined = segments.join("/");
    [format!("{joined}.rs"), format!("{joined}/mod.rs")]
        .into_iter()
        .find(|candidate| Path::new(SRC).join(candidate).is_file())
}

/// The deepest file along the module path `segments`.
fn deepest_file(segments: &[String]) -> Option<String> {
    (1..=segments.len())
        .rev()
        .find_map(|len| file_of(&segments[..len]))
}

/// The lower-case path segments that start `text` (`engine::Analyzer` → `[engine]`), and
/// for a group (`{a::X, b}`) those of each item.
fn leading_paths(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut items = Vec::new();
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        items.push(&group[start..i]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&group[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return items
                .into_iter()
                .flat_map(|item| leading_paths(item.trim()))
                .map(|tail| segments.iter().cloned().chain(tail).collect())
                .collect();
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
            .collect();
        if name.is_empty() || name == "self" {
            break;
        }
        rest = &rest[name.len()..];
        segments.push(name);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    vec![segments]
}

/// File (relative to `src/`) → the files its paths lead to.
fn file_graph() -> Graph {
    let mut graph = Graph::new();
    let mut files = Vec::new();
    collect_rust_files(Path::new(SRC), &mut files);
    for file in files {
        let relative = relative_path(&file);
        if relative.starts_with("cli/") || relative == "main.rs" || relative == "lib.rs" {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{relative}: {e}"));
        let module = module_of(&relative);
        // An inline `mod tests { ... }` is one module deeper than its file: its `super::`
        // is the file's own module.
        let inline_at = text.match_indices("mod tests {").find_map(|(at, _)| {
            let line_start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
            let visibility = &text[line_start..at];
            (visibility.is_empty() || visibility.starts_with("pub")).then_some(line_start)
        });
        let (body, inline_tests) = match inline_at {
            Some(at) => text.split_at(at),
            None => (text.as_str(), ""),
        };
        let children: BTreeSet<String> = body
            .lines()
            .filter_map(|line| {
                let line = line
                    .trim_start_matches("pub ")
                    .trim_start_matches("pub(crate) ");
                let name = line.strip_prefix("mod ")?.strip_suffix(';')?;
                Some(name.to_owned())
            })
            .collect();
        let mut targets = BTreeSet::new();
        for (part, depth_offset) in [(body, 0), (inline_tests, 1)] {
            for (at, _) in part.match_indices("crate::") {
                targets.extend(leading_paths(&part[at + "crate::".len()..]));
            }
            for (at, _) in part.match_indices("super::") {
                if part[..at].ends_with("super::") {
                    continue;
                }
                let mut rest = &part[at..];
                let mut up = 0;
                while let Some(after) = rest.strip_prefix("super::") {
                    up += 1;
                    rest = after;
                }
                let up = up - depth_offset;
                let base = &module[..module.len().saturating_sub(up)];
                for tail in leading_paths(rest) {
                    targets.insert(base.iter().cloned().chain(tail).collect());
                }
            }
            for line in part.lines() {
                let line = line.trim_start().trim_start_matches("pub ");
                let Some(path) = line.strip_prefix("use ") else {
                    continue;
                };
                let path = path.strip_prefix("self::").unwrap_or(path);
                for tail in leading_paths(path) {
                    if tail.first().is_some_and(|first| children.contains(first)) {
                        targets.insert(module.iter().cloned().chain(tail).collect());
                    }
                }
            }
        }
        let uses = graph.entry(relative.clone()).or_default();
        for target in targets {
            if let Some(target) = deepest_file(&target) {
                if target != relative && target != "lib.rs" {
                    uses.insert(target);
                }
            }
        }
    }
    graph
}

/// Top-level module → the top-level modules its files name as `crate::<module>`.
fn module_graph() -> Graph {
    let mut graph = Graph::new();
    let mut files = Vec::new();
    collect_rust_files(Path::new(SRC), &mut files);
    for file in files {
        let relative = file.strip_prefix(SRC).unwrap_or(&file);
        let Some(first) = relative.components().next() else {
            continue;
        };
        let first = first.as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if ["cli", "main", "lib"].contains(&module.as_str()) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let uses = graph.entry(module.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let name: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !name.is_empty() && name != module {
                uses.insert(name);
            }
        }
    }
    graph
}

fn collect_rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// A path of dependencies from `from` to `to` (`from -> ... -> to`), if there is one.
fn find_path(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        to: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> bool {
        path.push(node.to_owned());
        if node == to {
            return true;
        }
        if done.insert(node.to_owned()) {
            for next in graph.get(node).into_iter().flatten() {
                if visit(next, to, graph, path, done) {
                    return true;
                }
            }
        }
        path.pop();
        false
    }
    let mut path = Vec::new();
    visit(from, to, graph, &mut path, &mut BTreeSet::new()).then_some(path)
}

/// A cycle in `graph` as the path that closes it (`a -> b -> a`), if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|on_path| on_path == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
