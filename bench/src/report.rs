//! The comparison's output: a Markdown table of times (median and min–max), a table of ratios
//! against the targets, and a log-scale bar chart (SVG, plotters).

use std::fmt::Write as _;

use plotters::prelude::*;

use super::*;

/// The display name of an implementation.
pub fn label(name: &str) -> &str {
    match name {
        "relata" => "relata",
        "raw" => "raw driver",
        "diesel" => "Diesel",
        "seaorm" => "SeaORM",
        "sqlalchemy" => "SQLAlchemy",
        other => other,
    }
}

/// Median, min and max of one workload over an implementation's runs.
fn stats(runs: &[Run], w: usize) -> (f64, f64, f64) {
    let v: Vec<f64> = runs.iter().map(|r| r.secs[w]).collect();
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    (median(v), min, max)
}

/// Seconds with three significant digits where they matter.
fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0}")
    } else if s >= 10.0 {
        format!("{s:.1}")
    } else if s >= 0.1 {
        format!("{s:.2}")
    } else {
        format!("{s:.3}")
    }
}

/// Both tables, in Markdown. `names[0]` must be relata.
pub fn tables(names: &[&str], runs: &[Vec<Run>]) -> String {
    let mut out = String::new();
    let _ = write!(out, "| workload |");
    for n in names {
        let _ = write!(out, " {} (s) |", label(n));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(names.len()));
    out.push('\n');
    for (w, (wname, _, _)) in WORKLOADS.iter().enumerate() {
        let _ = write!(out, "| {wname} |");
        for r in runs {
            let (m, lo, hi) = stats(r, w);
            if r.len() > 1 {
                let _ = write!(out, " {} ({}–{}) |", secs(m), secs(lo), secs(hi));
            } else {
                let _ = write!(out, " {} |", secs(m));
            }
        }
        out.push('\n');
    }

    // Ratios: relata against the raw driver (lower is better), every ORM against relata (how
    // many times relata's time they take; higher means relata is faster).
    out.push_str("\n| workload |");
    for n in &names[1..] {
        let _ = match *n {
            "raw" => write!(out, " relata ÷ raw driver |"),
            "sqlalchemy" => write!(out, " SQLAlchemy ÷ relata |"),
            _ => write!(out, " {} ÷ relata (goal > 1x) |", label(n)),
        };
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(names.len() - 1));
    out.push('\n');
    for (w, (wname, raw_goal, sqlalchemy_goal)) in WORKLOADS.iter().enumerate() {
        let _ = write!(out, "| {wname} |");
        let relata = stats(&runs[0], w).0;
        for (n, r) in names.iter().zip(runs).skip(1) {
            let other = stats(r, w).0;
            let cell = match *n {
                "raw" => {
                    let r = relata / other;
                    format!("{r:.2}x {} (goal ≤ {raw_goal}x)", mark(r <= *raw_goal))
                }
                "sqlalchemy" => {
                    let r = other / relata;
                    let (goal, met) = if *sqlalchemy_goal > 1.0 {
                        (format!("goal ≥ {sqlalchemy_goal}x"), r >= *sqlalchemy_goal)
                    } else {
                        ("goal > 1x".to_owned(), r > 1.0)
                    };
                    format!("{r:.1}x {} ({goal})", mark(met))
                }
                _ => {
                    let r = other / relata;
                    format!("{r:.2}x {}", mark(r > 1.0))
                }
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

fn mark(met: bool) -> &'static str {
    if met {
        "✓"
    } else {
        "✗"
    }
}

/// A log-scale bar chart of the medians (whiskers: min–max), one group per workload, one bar per
/// implementation, written as SVG to `path`.
pub fn chart(path: &Path, title: &str, names: &[&str], runs: &[Vec<Run>]) -> Res<()> {
    let all: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.iter().flat_map(|run| run.secs))
        .filter(|s| *s > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    // Headroom above the tallest bar for the legend.
    let hi = all.iter().copied().fold(0.0, f64::max) * 12.0;
    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..WORKLOADS.len() as f64, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        // Ticks fall every half unit: the group centres (n + 0.5) carry the workload names.
        .x_labels(2 * WORKLOADS.len() + 1)
        .x_label_formatter(&|x| {
            let centre = (x.fract() - 0.5).abs() < 1e-6;
            match WORKLOADS.get(x.floor() as usize) {
                Some(w) if centre => w.0.to_owned(),
                _ => String::new(),
            }
        })
        .y_desc("seconds (log scale; median, whiskers min–max)")
        .y_label_formatter(&|y| secs(*y))
        .draw()?;
    let n = names.len() as f64;
    let width = 0.8 / n;
    for (j, (name, r)) in names.iter().zip(runs).enumerate() {
        let color = Palette99::pick(j).to_rgba();
        let bars = (0..WORKLOADS.len()).map(move |w| {
            let (m, _, _) = stats(r, w);
            let x0 = w as f64 + 0.1 + j as f64 * width;
            Rectangle::new([(x0, lo), (x0 + width * 0.9, m)], color.filled())
        });
        chart
            .draw_series(bars)?
            .label(label(name))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled()));
        let whiskers = (0..WORKLOADS.len()).map(move |w| {
            let (_, min, max) = stats(r, w);
            let x = w as f64 + 0.1 + j as f64 * width + width * 0.45;
            PathElement::new(vec![(x, min), (x, max)], BLACK.stroke_width(1))
        });
        chart.draw_series(whiskers)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// `REDRAW=log`: the implementations' runs read back from a saved log of a run (its per-run
/// lines, `rep R/N name:  W1 1.234s sum=...  W2 ...`), to draw the chart again without running.
pub fn runs_from_log(log: &str) -> Res<(Vec<&'static str>, Vec<Vec<Run>>)> {
    let mut names: Vec<&'static str> = Vec::new();
    let mut runs: Vec<Vec<Run>> = Vec::new();
    for line in log.lines().filter(|l| l.starts_with("rep ")) {
        let (head, rest) = line.split_once(':').ok_or("a rep line without a colon")?;
        let name = head
            .split_whitespace()
            .last()
            .ok_or("a rep line without a name")?;
        let name: &'static str = ["relata", "raw", "diesel", "seaorm", "sqlalchemy"]
            .into_iter()
            .find(|n| *n == name)
            .ok_or_else(|| format!("unknown implementation {name}"))?;
        let mut run = Run::default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for (w, pair) in fields
            .windows(2)
            .filter(|p| p[0].starts_with('W'))
            .enumerate()
            .take(WORKLOADS.len())
        {
            run.secs[w] = pair[1].trim_end_matches('s').parse()?;
        }
        match names.iter().position(|n| *n == name) {
            Some(i) => runs[i].push(run),
            None => {
                names.push(name);
                runs.push(vec![run]);
            }
        }
    }
    Ok((names, runs))
}
