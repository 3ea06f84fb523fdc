//! Modules form a tree: inside each crate, sibling modules must not depend
//! on each other in a circle (issue 20).
//!
//! The check reads the sources (no compiler plug-in): every `crate::…` and
//! `super::…` path outside comments and `#[cfg(test)]` code is resolved to
//! the deepest module it names. A reference between two modules neither of
//! which contains the other is lifted to the two children of their closest
//! common ancestor (`store/quarantine.rs` → `store/remote.rs` is an edge
//! between the siblings `quarantine` and `remote`; `process/tasks.rs` →
//! `store.rs` is an edge between `process` and `store`). Sibling edges that
//! go round in a circle are a cycle.
//!
//! When the check was written five such cycles existed; issue 20 broke them
//! (shared wire types moved to `core::wire`, the device's shared state to
//! `sdk::state`, the server's sync into one state machine). The test fails
//! on any cycle: move what both sides share into a lower module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates checked, by source directory.
const CRATES: &[(&str, &str)] = &[
    ("fieldwork-core", "core/src"),
    ("fieldwork-sdk", "sdk/src"),
    ("fieldwork-server", "server/src"),
    ("fieldwork-cli", "cli/src"),
    ("fieldwork-ffi", "bindings/src"),
    ("fieldwork-tests", "tests/src"),
    ("fieldwork-bench", "bench/src"),
];

#[test]
fn sibling_modules_do_not_depend_on_each_other_in_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = BTreeSet::new();
    for (name, dir) in CRATES {
        for cycle in cycles(&root.join(dir)) {
            found.insert(format!("{name}: {}", cycle.join(" ↔ ")));
        }
    }
    assert!(
        found.is_empty(),
        "module cycles (move what both sides share into a lower module): {found:#?}"
    );
}

#[test]
fn the_check_sees_a_cycle_it_is_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").expect("write");
    std::fs::write(
        src.join("a.rs"),
        "use crate::b::Thing;\n// use crate::c::Ignored; (a comment)\n",
    )
    .expect("write");
    std::fs::create_dir(src.join("b")).expect("mkdir");
    std::fs::write(src.join("b.rs"), "mod inner;\n").expect("write");
    std::fs::write(
        src.join("b/inner.rs"),
        "use crate::{c::{self, Other}, ids::X};\n",
    )
    .expect("write");
    std::fs::write(
        src.join("c.rs"),
        "pub fn f() -> crate::a::Y { todo!() }\n#[cfg(test)]\nmod tests { use crate::b::Z; }\n",
    )
    .expect("write");
    assert_eq!(cycles(src), vec![vec!["a", "b", "c"]]);
    // Without the edge c → a there is no cycle (the comment and the test
    // module do not count).
    std::fs::write(src.join("c.rs"), "pub fn f() {}\n").expect("write");
    assert!(cycles(src).is_empty());
}

/// Every cycle among sibling modules under `src`, each as its members'
/// paths (`store/remote`), sorted.
fn cycles(src: &Path) -> Vec<Vec<String>> {
    let files = modules(src);
    let known: BTreeSet<Vec<String>> = files.keys().cloned().collect();
    // parent module → (child → children it depends on)
    let mut graph: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        for path in references(&code_only(&text), module) {
            let Some(target) = deepest_module(&path, &known) else {
                continue;
            };
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.len() || common == target.len() {
                continue; // one contains the other
            }
            graph
                .entry(module[..common].to_vec())
                .or_default()
                .entry(module[common].clone())
                .or_default()
                .insert(target[common].clone());
        }
    }
    let mut out = Vec::new();
    for (parent, edges) in graph {
        for scc in strongly_connected(&edges) {
            out.push(
                scc.into_iter()
                    .map(|m| [parent.clone(), vec![m]].concat().join("/"))
                    .collect(),
            );
        }
    }
    out.sort();
    out
}

/// Module path → file, for every `.rs` file under `src` except crate roots
/// and test files.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tests") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let is_root = parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main");
            if is_root || parts.last().is_some_and(|p| p == "tests") {
                continue;
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The source without comments and without what follows the first
/// `#[cfg(test)]` (test modules sit at the end of a file).
fn code_only(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| match l.find(" // ") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::…` and `super::…` path in `code`, as absolute module paths
/// (groups `{a, b::c}` expanded).
fn references(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for (anchor, base) in [("crate::", Vec::new()), ("super::", parent(module))] {
        let mut from = 0;
        while let Some(i) = code[from..].find(anchor) {
            let at = from + i;
            from = at + anchor.len();
            let preceded_by_ident = at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if preceded_by_ident {
                continue;
            }
            let mut base = base.clone();
            let mut rest = &code[from..];
            // `super::super::…`
            while anchor == "super::" && rest.starts_with("super::") {
                base = parent(&base);
                rest = &rest["super::".len()..];
            }
            for path in paths(rest) {
                out.push([base.clone(), path].concat());
            }
        }
    }
    out
}

/// The paths at the start of `text` (`a::b::C`, or a group `{a, b::{c, d}}`).
fn paths(text: &str) -> Vec<Vec<String>> {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
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
        return items.into_iter().flat_map(paths).collect();
    }
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        segments.push(rest[..end].to_owned());
        rest = &rest[end..];
        if let Some(next) = rest.strip_prefix("::") {
            if next.starts_with('{') {
                return paths(next)
                    .into_iter()
                    .map(|p| [segments.clone(), p].concat())
                    .collect();
            }
            rest = next;
        } else {
            break;
        }
    }
    match segments.as_slice() {
        [] => Vec::new(),
        // `a::{self, B}`: the prefix itself.
        [only] if only == "self" => vec![Vec::new()],
        _ => vec![segments],
    }
}

fn parent(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// The deepest module `path` names (`store::Summary` → `store`).
fn deepest_module(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains(p))
}

/// Tarjan's strongly connected components of size > 1, each sorted.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(next) = s.edges.get(v) {
            for w in next {
                if !s.index.contains_key(w.as_str()) {
                    visit(s, w);
                    let lw = s.low[w.as_str()];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w.as_str()) {
                    let iw = s.index[w.as_str()];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                s.out.push(scc);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}
