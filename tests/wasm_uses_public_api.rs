//! The JS binding (`src/wasm/`) is a client of the core like any other: it
//! names only what the crate root makes public, as automerge-wasm and
//! loro-wasm use only their cores' public APIs. (The binding compiles only
//! for wasm32, inside the crate, where the compiler would let it reach
//! crate-private items: this test is what keeps it from doing so.)

use std::collections::BTreeSet;
use std::fs;

/// Every name the crate root re-exports (`pub use module::{A, B};`).
fn public_names() -> BTreeSet<String> {
    let lib = fs::read_to_string("src/lib.rs").unwrap();
    let mut names = BTreeSet::new();
    for item in lib.split("pub use ").skip(1) {
        let item = item.split(';').next().unwrap();
        let list = match item.find('{') {
            Some(open) => &item[open + 1..item.rfind('}').unwrap()],
            None => item.rsplit("::").next().unwrap(),
        };
        // `Phase as AnalysisPhase` exports the alias; `judge::{self as
        // canary, ...}` the module as `canary`.
        let alias = |n: &str| n.rsplit(" as ").next().unwrap_or(n).trim().to_owned();
        names.extend(list.split(',').map(alias).filter(|n| !n.is_empty() && n != "self"));
    }
    names
}

/// The paths after `crate::` in `source`, each as its list of names: a
/// path into a module (`crate::entity::Entity`) is one name with `::`.
fn crate_paths(source: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap()];
            paths.extend(list.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()));
        } else {
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            paths.push(rest[..end].trim_end_matches(':').to_owned());
        }
    }
    paths
}

#[test]
fn the_binding_names_only_what_the_crate_root_makes_public() {
    let public = public_names();
    assert!(public.contains("Engine") && public.contains("Answer"), "{public:?}");
    let mut checked = 0;
    for entry in fs::read_dir("src/wasm").unwrap() {
        let path = entry.unwrap().path();
        let source = fs::read_to_string(&path).unwrap();
        for name in crate_paths(&source) {
            assert!(public.contains(&name), "{} uses crate::{name}, which the crate root does not export", path.display());
            checked += 1;
        }
        assert!(!source.contains("super::super"), "{} reaches around the crate root", path.display());
    }
    assert!(checked > 10, "only {checked} paths found: is the scan still reading the binding?");
}

#[test]
fn the_scan_catches_a_path_into_a_module() {
    assert_eq!(crate_paths("use crate::entity::{Entity, Row};"), vec!["entity"]);
    assert_eq!(crate_paths("use crate::{Engine, Error};\nBox<dyn crate::TargetController>"), vec!["Engine", "Error", "TargetController"]);
    assert!(!public_names().contains("entity"));
}
