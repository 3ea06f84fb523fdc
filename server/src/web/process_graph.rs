//! A process model drawn on the server as SVG, with how many instances
//! stand at each step. The importer keeps no diagram coordinates (BPMN
//! diagrams are ignored, `docs/PROCESSES.md`), so steps are laid out left
//! to right: a step's column is its distance in steps from the first one,
//! steps of one column are stacked in model order. This module only
//! computes the shapes; the template `web/process_graph.html` writes them
//! as SVG elements with presentation attributes (no `style`, which the
//! content security policy forbids).
//!
//! Guarantees: every coordinate is finite and inside the drawing; a model
//! of more than [`MAX_STEPS`] steps is not drawn (`None`), so a drawing has
//! at most that many boxes and `4 × MAX_STEPS` arrows; names are cut to
//! [`MAX_NAME`] characters in the box (whole in its `<title>`); texts are
//! plain strings the template escapes.

use std::collections::{BTreeMap, HashMap, VecDeque};

use fieldwork_core::process::model::{self, Model, StepFile, StepKind};

/// Most steps drawn.
pub const MAX_STEPS: usize = 120;

/// Most characters of a step name written in its box.
pub const MAX_NAME: usize = 20;

/// Width of a column.
const COL: u32 = 190;

/// Height of a row.
const ROW: u32 = 80;

/// Size of a box.
const BOX_W: u32 = 150;
const BOX_H: u32 = 56;

/// Space around the drawing.
const MARGIN: u32 = 16;

/// Space below the rows for arrows that go back (loops).
const BACK: u32 = 24;

/// A step's box.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// The step id.
    pub id: String,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Corner radius (round for ends, square for gateways).
    pub rx: u32,
    /// Fill colour (highlighted where instances stand).
    pub fill: &'static str,
    /// Outline colour.
    pub stroke: &'static str,
    /// Centre, for the texts.
    pub cx: u32,
    /// Baseline of the name.
    pub name_y: u32,
    /// Baseline of the count.
    pub count_y: u32,
    /// The name, cut to [`MAX_NAME`] characters.
    pub name: String,
    /// `N here`.
    pub count_text: String,
    /// Instances at this step now.
    pub count: usize,
    /// Name, kind and count, for people and screen readers.
    pub title: String,
}

/// An arrow from one step to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    /// `x,y` points of the polyline.
    pub points: String,
    /// From where to where.
    pub title: String,
}

/// A drawn model.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// A name unique on the page (for the arrow head's id).
    pub id: String,
    /// What it shows.
    pub label: String,
    /// Width of the drawing.
    pub width: u32,
    /// Height of the drawing.
    pub height: u32,
    /// The steps.
    pub nodes: Vec<NodeBox>,
    /// The arrows between them.
    pub arrows: Vec<Arrow>,
}

/// For each step (by position), the steps it leads to (core's
/// [`model::successors`]), each once, in the order written.
fn links(model: &Model, steps: &[StepFile], pos: &HashMap<&str, usize>) -> Vec<Vec<usize>> {
    steps
        .iter()
        .map(|s| {
            let mut out: Vec<usize> = Vec::new();
            for n in model.step(&s.id).map(model::successors).unwrap_or_default() {
                if let Some(&j) = pos.get(n.as_str())
                    && !out.contains(&j)
                {
                    out.push(j);
                }
            }
            out
        })
        .collect()
}

/// The name of `s` cut to [`MAX_NAME`] characters.
fn short(name: &str) -> String {
    if name.chars().count() <= MAX_NAME {
        return name.to_owned();
    }
    let cut: String = name.chars().take(MAX_NAME - 1).collect();
    format!("{cut}…")
}

/// Draws `model` with `here` (step id → instances standing there);
/// `index` makes its ids unique on the page. `None` when the model has
/// more than [`MAX_STEPS`] steps or none.
pub fn draw(model: &Model, here: &BTreeMap<String, usize>, index: usize) -> Option<Graph> {
    let steps = &model.file.steps;
    if steps.is_empty() || steps.len() > MAX_STEPS {
        return None;
    }
    let pos: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let links = links(model, steps, &pos);
    // Columns: distance from the first step (breadth first).
    let mut column: Vec<Option<u32>> = vec![None; steps.len()];
    let first = pos.get(model.start.as_str()).copied().unwrap_or(0);
    column[first] = Some(0);
    let mut queue = VecDeque::from([first]);
    while let Some(i) = queue.pop_front() {
        let c = column[i].unwrap_or(0);
        for &j in &links[i] {
            if column[j].is_none() {
                column[j] = Some(c + 1);
                queue.push_back(j);
            }
        }
    }
    // Unreachable steps (a checked model has none) go after the others.
    let last = column.iter().flatten().max().copied().unwrap_or(0);
    let column: Vec<u32> = column.into_iter().map(|c| c.unwrap_or(last + 1)).collect();
    let mut rows: BTreeMap<u32, u32> = BTreeMap::new();
    let mut place = Vec::with_capacity(steps.len());
    for c in &column {
        let r = rows.entry(*c).or_insert(0);
        place.push((*c, *r));
        *r += 1;
    }
    let cols = column.iter().max().copied().unwrap_or(0) + 1;
    let most_rows = rows.values().max().copied().unwrap_or(1);
    let bottom = MARGIN + most_rows * ROW;
    let xy = |i: usize| {
        let (c, r) = place[i];
        (MARGIN + c * COL, MARGIN + r * ROW)
    };
    let nodes = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (x, y) = xy(i);
            let name = model
                .step(&s.id)
                .map_or_else(|| s.id.clone(), |c| c.name.clone());
            let count = here.get(&s.id).copied().unwrap_or(0);
            let kind = kind_name(s.kind);
            NodeBox {
                id: s.id.clone(),
                x,
                y,
                width: BOX_W,
                height: BOX_H,
                rx: match s.kind {
                    StepKind::End => BOX_H / 2,
                    StepKind::Gateway => 0,
                    _ => 8,
                },
                fill: if count > 0 { "#dbe9f7" } else { "#ffffff" },
                stroke: if count > 0 { "#0b5cad" } else { "#4a5360" },
                cx: x + BOX_W / 2,
                name_y: y + 24,
                count_y: y + 44,
                name: short(&name),
                count_text: format!("{count} here"),
                count,
                title: format!("{name} ({kind}): {count} instances here"),
            }
        })
        .collect::<Vec<_>>();
    let mut arrows = Vec::new();
    for (i, to) in links.iter().enumerate() {
        for &j in to {
            let ((x1, y1), (x2, y2)) = (xy(i), xy(j));
            let points = if x2 > x1 {
                // Forward: out of the right side, into the left side.
                let (sy, ty) = (y1 + BOX_H / 2, y2 + BOX_H / 2);
                let mid = x1 + BOX_W + (COL - BOX_W) / 2;
                format!("{},{sy} {mid},{sy} {mid},{ty} {x2},{ty}", x1 + BOX_W)
            } else {
                // Back or within a column: below the rows.
                let (sx, tx) = (x1 + BOX_W / 2, x2 + BOX_W / 3);
                let low = bottom + BACK / 2;
                format!(
                    "{sx},{} {sx},{low} {tx},{low} {tx},{}",
                    y1 + BOX_H,
                    y2 + BOX_H
                )
            };
            arrows.push(Arrow {
                points,
                title: format!("{} → {}", nodes[i].name, nodes[j].name),
            });
        }
    }
    Some(Graph {
        id: format!("g{index}"),
        label: format!(
            "{} (version {}): steps and instances at each",
            model.file.name, model.version
        ),
        width: MARGIN * 2 + (cols - 1) * COL + BOX_W,
        height: bottom + BACK,
        nodes,
        arrows,
    })
}

/// A step kind as written in models.
fn kind_name(k: StepKind) -> &'static str {
    match k {
        StepKind::Task => "task",
        StepKind::Activity => "activity",
        StepKind::Timer => "timer",
        StepKind::Gateway => "gateway",
        StepKind::Set => "set",
        StepKind::End => "end",
        StepKind::Wait => "wait",
        StepKind::Notify => "notify",
        StepKind::Create => "create",
        StepKind::Parallel => "parallel",
        StepKind::Inclusive => "inclusive",
        StepKind::Call => "call",
        StepKind::Start => "start",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"
key = "k"
name = "Qualify"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "check"
name = "A very long name for the first check step"
kind = "task"
assignee = "owner"
subject = "Check"
next = "choose"

[[steps]]
id = "choose"
kind = "gateway"
branches = [{ condition = 'deal.stage == "won"', next = "done" }]
default = "check"

[[steps]]
id = "done"
kind = "end"
"#;

    #[test]
    fn steps_are_laid_out_left_to_right_with_their_counts() {
        let model = Model::from_toml(MODEL).expect("model");
        let here = BTreeMap::from([("choose".to_owned(), 3)]);
        let g = draw(&model, &here, 2).expect("drawn");
        assert_eq!(g.id, "g2");
        assert_eq!(g.nodes.len(), 3);
        let x: Vec<u32> = g.nodes.iter().map(|n| n.x).collect();
        assert!(x[0] < x[1] && x[1] < x[2], "{x:?}");
        assert_eq!(g.nodes[1].count_text, "3 here");
        assert_eq!(g.nodes[0].count, 0);
        assert!(g.nodes[0].name.chars().count() <= MAX_NAME);
        assert!(g.nodes[0].title.contains("first check step"));
        // check→choose, choose→done, choose→check (back, below the rows).
        assert_eq!(g.arrows.len(), 3);
        for n in &g.nodes {
            assert!(n.x + n.width <= g.width && n.y + n.height <= g.height);
        }
        for a in &g.arrows {
            for p in a.points.split(' ') {
                let (px, py) = p.split_once(',').expect("x,y");
                assert!(px.parse::<u32>().expect("x") <= g.width);
                assert!(py.parse::<u32>().expect("y") <= g.height);
            }
        }
    }
}
