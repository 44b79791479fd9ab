//! The library's modules form a DAG (`record` ← `model` ← `analysis` ← `sources`/`sinks` ←
//! `config` ← `daemon`): this fails, naming the cycle, when a change makes one module of
//! `src/` use another that already uses it, however indirectly; and, naming the path, when
//! the sources come to depend on the sinks or the sinks on the sources.
//!
//! A module's dependencies are the `crate::<module>` paths written in its files, tests
//! included; `cli/` and `main.rs` (the binary, on top of everything) are left out.

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
