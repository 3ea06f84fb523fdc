//! Bar charts drawn on the server as SVG: horizontal bars per category,
//! grouped or stacked by series, and progress bars with a goal mark. This
//! module only computes the shapes (rectangles, lines, texts, in a fixed
//! 720-wide coordinate space); the template `web/chart.html` writes them as
//! SVG elements with presentation attributes (`x`, `width`, `fill`), which
//! the strict content security policy allows (it forbids `style`).
//!
//! Guarantees: every shape has finite, non-negative coordinates inside the
//! drawing whatever the values (negative, zero, huge or mixed); every bar
//! carries a text alternative (its category, series and value) shown as its
//! `<title>`, and the whole drawing a label; texts are plain strings the
//! template escapes; a drawing has at most [`MAX_CATEGORIES`] categories
//! (the table below it has every row).

/// Most categories drawn.
pub const MAX_CATEGORIES: usize = 60;

/// Width of the drawing.
pub const WIDTH: u32 = 720;

/// Where bars start (category labels to the left).
const LEFT: u32 = 190;

/// Width of the longest bar (values written to its right).
const SPAN: u32 = 400;

/// Space above the first row.
const TOP: u32 = 8;

/// Fill colours of series, in order (at least 3:1 against white).
pub const PALETTE: &[&str] = &[
    "#0b5cad", "#b35c00", "#1e6b34", "#7a3e9d", "#a4161a", "#00607a", "#5c5c00", "#4a5360",
];

/// A rectangle, with its text alternative.
#[derive(Debug, Clone, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Fill colour.
    pub fill: &'static str,
    /// What it shows, for people and screen readers.
    pub title: String,
}

/// A line (a goal mark).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Horizontal position.
    pub x: u32,
    /// Top.
    pub y1: u32,
    /// Bottom.
    pub y2: u32,
    /// What it marks.
    pub title: String,
}

/// A text.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// Anchor point, horizontal.
    pub x: u32,
    /// Baseline.
    pub y: u32,
    /// `start` or `end`.
    pub anchor: &'static str,
    /// The words.
    pub text: String,
}

/// One entry of the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// Its colour.
    pub fill: &'static str,
    /// Its series.
    pub name: String,
}

/// A drawing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// What it shows, in one sentence (the drawing's accessible name).
    pub label: String,
    /// Its height.
    pub height: u32,
    /// The bars.
    pub rects: Vec<Rect>,
    /// The marks.
    pub lines: Vec<Line>,
    /// The texts.
    pub texts: Vec<Text>,
    /// The legend.
    pub legend: Vec<Key>,
    /// Categories not drawn.
    pub hidden: usize,
}

/// One value of a series in a category.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Index of its series.
    pub series: usize,
    /// The amount (drawn at most at its series' largest).
    pub amount: f64,
    /// The amount for people.
    pub text: String,
}

/// One category (a row of bars).
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// Its name.
    pub name: String,
    /// Its values.
    pub values: Vec<Value>,
}

/// How series share a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One bar per series, each series on its own scale (amounts in
    /// different currencies are never compared).
    GroupedOwnScale,
    /// One bar per series, one scale.
    Grouped,
    /// Series stacked in one bar, one scale.
    Stacked,
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v.max(0.0) } else { 0.0 }
}

/// Pixels of `amount` out of `max` on a bar of [`SPAN`].
fn length(amount: f64, max: f64) -> u32 {
    if max <= 0.0 {
        return 0;
    }
    let share = (finite(amount) / max).clamp(0.0, 1.0);
    (share * f64::from(SPAN)).round() as u32
}

fn fill(series: usize) -> &'static str {
    PALETTE[series % PALETTE.len()]
}

/// A bar chart of `categories` over `series`.
pub fn bars(label: &str, series: &[String], categories: &[Category], layout: Layout) -> Chart {
    let shown = &categories[..categories.len().min(MAX_CATEGORIES)];
    let mut chart = Chart {
        label: label.to_owned(),
        hidden: categories.len() - shown.len(),
        legend: series
            .iter()
            .enumerate()
            .map(|(i, s)| Key {
                fill: fill(i),
                name: s.clone(),
            })
            .collect(),
        ..Chart::default()
    };
    let max_of = |only: Option<usize>| -> f64 {
        shown
            .iter()
            .map(|c| {
                let vals = c
                    .values
                    .iter()
                    .filter(|v| only.is_none_or(|s| v.series == s));
                match layout {
                    Layout::Stacked => vals.map(|v| finite(v.amount)).sum(),
                    _ => vals.map(|v| finite(v.amount)).fold(0.0, f64::max),
                }
            })
            .fold(0.0, f64::max)
    };
    let shared = max_of(None);
    let bar_h = 16;
    let mut y = TOP;
    for c in shown {
        let rows = match layout {
            Layout::Stacked => 1,
            _ => c.values.len().max(1) as u32,
        };
        let row_h = rows * (bar_h + 2) + 10;
        chart.texts.push(Text {
            x: LEFT - 8,
            y: y + row_h / 2 + 4,
            anchor: "end",
            text: super::form::truncate(&c.name, 28).to_owned(),
        });
        let mut x = LEFT;
        let mut written = Vec::new();
        for (i, v) in c.values.iter().enumerate() {
            let max = match layout {
                Layout::GroupedOwnScale => max_of(Some(v.series)),
                _ => shared,
            };
            let w = length(v.amount, max);
            let series = series.get(v.series).map(String::as_str).unwrap_or("");
            let (bx, by) = match layout {
                Layout::Stacked => (x.min(LEFT + SPAN), y + 5),
                _ => (LEFT, y + 5 + i as u32 * (bar_h + 2)),
            };
            let w = w.min(LEFT + SPAN - bx);
            chart.rects.push(Rect {
                x: bx,
                y: by,
                width: w,
                height: bar_h,
                fill: fill(v.series),
                title: format!("{}, {series}: {}", c.name, v.text),
            });
            match layout {
                Layout::Stacked => {
                    x += w;
                    written.push(format!("{} {series}", v.text));
                }
                _ => chart.texts.push(Text {
                    x: bx + w + 6,
                    y: by + bar_h - 4,
                    anchor: "start",
                    text: v.text.clone(),
                }),
            }
        }
        if layout == Layout::Stacked {
            chart.texts.push(Text {
                x: x + 6,
                y: y + 5 + bar_h - 4,
                anchor: "start",
                text: written.join(", "),
            });
        }
        y += row_h;
    }
    chart.height = y + TOP;
    chart
}

/// One progress bar: `actual` towards `goal`.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What is measured.
    pub name: String,
    /// Where it is.
    pub actual: f64,
    /// Where it should get.
    pub goal: f64,
    /// Both for people (`7 of 10 (70%)`).
    pub text: String,
}

/// Progress bars, each with its goal marked by a line.
pub fn progress(label: &str, rows: &[Progress]) -> Chart {
    let shown = &rows[..rows.len().min(MAX_CATEGORIES)];
    let mut chart = Chart {
        label: label.to_owned(),
        hidden: rows.len() - shown.len(),
        legend: vec![
            Key {
                fill: fill(0),
                name: "achieved".into(),
            },
            Key {
                fill: "#1b1f24",
                name: "goal (line)".into(),
            },
        ],
        ..Chart::default()
    };
    let mut y = TOP;
    for r in shown {
        // The bar spans the larger of goal and actual, so both fit.
        let max = finite(r.goal).max(finite(r.actual));
        let w = length(r.actual, max);
        let goal_x = LEFT + length(r.goal, max);
        chart.texts.push(Text {
            x: LEFT - 8,
            y: y + 18,
            anchor: "end",
            text: super::form::truncate(&r.name, 28).to_owned(),
        });
        chart.rects.push(Rect {
            x: LEFT,
            y: y + 5,
            width: SPAN,
            height: 18,
            fill: "#e3e7ed",
            title: format!("{}: goal", r.name),
        });
        chart.rects.push(Rect {
            x: LEFT,
            y: y + 5,
            width: w,
            height: 18,
            fill: fill(0),
            title: format!("{}: {}", r.name, r.text),
        });
        chart.lines.push(Line {
            x: goal_x,
            y1: y + 1,
            y2: y + 27,
            title: format!("{}: goal", r.name),
        });
        chart.texts.push(Text {
            x: LEFT + SPAN + 8,
            y: y + 18,
            anchor: "start",
            text: r.text.clone(),
        });
        y += 32;
    }
    chart.height = y + TOP;
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(series: usize, amount: f64) -> Value {
        Value {
            series,
            amount,
            text: amount.to_string(),
        }
    }

    fn inside(c: &Chart) {
        for r in &c.rects {
            assert!(
                r.x + r.width <= WIDTH && r.y + r.height <= c.height,
                "{r:?}"
            );
        }
        for l in &c.lines {
            assert!(l.x <= WIDTH && l.y2 <= c.height, "{l:?}");
        }
    }

    #[test]
    fn each_currency_is_drawn_on_its_own_scale() {
        let series = vec!["EUR".to_owned(), "HUF".to_owned()];
        let cats = vec![
            Category {
                name: "proposal".into(),
                values: vec![v(0, 100.0), v(1, 3_000_000.0)],
            },
            Category {
                name: "won".into(),
                values: vec![v(0, 50.0)],
            },
        ];
        let c = bars("pipeline", &series, &cats, Layout::GroupedOwnScale);
        inside(&c);
        let widths: Vec<u32> = c.rects.iter().map(|r| r.width).collect();
        assert_eq!(widths, vec![SPAN, SPAN, SPAN / 2]);
        assert!(c.rects[1].title.contains("HUF"));
    }

    #[test]
    fn stacked_bars_add_up_and_hostile_values_stay_inside() {
        let series = vec!["done".to_owned(), "planned".to_owned()];
        let cats = vec![
            Category {
                name: "2026-W49".into(),
                values: vec![v(0, 3.0), v(1, 1.0)],
            },
            Category {
                name: "<b>".into(),
                values: vec![v(0, f64::NAN), v(1, -5.0), v(0, f64::INFINITY)],
            },
        ];
        let c = bars("x", &series, &cats, Layout::Stacked);
        inside(&c);
        assert_eq!(c.rects[0].width + c.rects[1].width, SPAN);
        assert_eq!(c.rects[1].x, LEFT + c.rects[0].width);
        let p = progress(
            "targets",
            &[
                Progress {
                    name: "Visits".into(),
                    actual: 5.0,
                    goal: 10.0,
                    text: "5 of 10".into(),
                },
                Progress {
                    name: "Over".into(),
                    actual: 20.0,
                    goal: 10.0,
                    text: "20 of 10".into(),
                },
                Progress {
                    name: "Zero".into(),
                    actual: -1.0,
                    goal: 0.0,
                    text: "".into(),
                },
            ],
        );
        inside(&p);
        assert_eq!(p.lines[0].x, LEFT + SPAN, "the goal at the end");
        assert_eq!(p.rects[1].width, SPAN / 2);
        assert_eq!(p.lines[1].x, LEFT + SPAN / 2, "a goal passed");
        let many: Vec<Category> = (0..MAX_CATEGORIES + 5)
            .map(|i| Category {
                name: i.to_string(),
                values: vec![v(0, 1.0)],
            })
            .collect();
        assert_eq!(bars("m", &series, &many, Layout::Grouped).hidden, 5);
    }
}
