//! The plots of `warren local bench`, drawn from its report (the JSON it writes) into PNGs
//! with `plotters`' bitmap backend: failure detection latency vs ring size, config-apply
//! coverage over time, and gossip bytes per member per second vs ring size, each with the
//! simulator (`warren-sim`) beside the real processes where its report has the number.
//!
//! Text needs a TrueType font, read at run time (`--font`, else DejaVu Sans where Debian and
//! Fedora put it) and registered with plotters' `ab_glyph` renderer: no fontconfig, no system
//! library. Without a font the plots are not drawn and the report says so; the JSON is
//! complete either way. The simulator's field names are read defensively (several spellings,
//! then any key with the right words), since its report may change.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use serde_json::Value;

/// Where a TrueType sans-serif font usually is.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
];

const SIZE: (u32, u32) = (900, 560);
/// One colour per ring size or series, in order.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// Draws every plot into `out`; the files written.
pub(crate) fn draw(report: &Value, out: &Path, font: Option<&Path>) -> Result<Vec<PathBuf>> {
    load_font(font)?;
    let files = vec![
        detection(report, &out.join("detection-vs-n.png"))?,
        coverage(report, &out.join("config-coverage.png"))?,
        traffic(report, &out.join("bytes-per-member-vs-n.png"))?,
    ];
    Ok(files)
}

fn load_font(font: Option<&Path>) -> Result<()> {
    let path = match font {
        Some(p) => p.to_path_buf(),
        None => FONTS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                anyhow!(
                    "no TrueType font found ({}); give one with --font (e.g. apt-get install fonts-dejavu-core)",
                    FONTS.join(", ")
                )
            })?,
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    // plotters keeps registered fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("{} is not a TrueType font", path.display()))
}

/// `v[key]` for the first of `keys` present, else the first key holding every word of
/// `words` (the simulator's names may change).
pub(crate) fn pick(v: &Value, keys: &[&str], words: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| v[*k].as_f64()).or_else(|| {
        v.as_object()?.iter().find_map(|(k, x)| {
            words
                .iter()
                .all(|w| k.contains(w))
                .then(|| x.as_f64())
                .flatten()
        })
    })
}

fn sizes(report: &Value) -> Vec<&Value> {
    report["sizes"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn sim_sizes(report: &Value) -> Vec<&Value> {
    report["sim"]["sizes"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Points (x = ring size, y) for one field of each size.
fn series(items: &[&Value], y: impl Fn(&Value) -> Option<f64>) -> Vec<(f64, f64)> {
    items
        .iter()
        .filter_map(|s| Some((s["n"].as_f64()?, y(s)?)))
        .collect()
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing: {e}")
}

/// A named series of points; `true` for real processes (thick, dotted), `false` for the
/// simulator (thin).
type Line = (String, Vec<(f64, f64)>, bool);

/// Draws named line series (solid with dots for real processes, thin for the simulator).
fn line_chart(
    file: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[Line],
) -> Result<PathBuf> {
    let xmax = lines
        .iter()
        .flat_map(|(_, p, _)| p.iter().map(|q| q.0))
        .fold(1.0, f64::max);
    let ymax = lines
        .iter()
        .flat_map(|(_, p, _)| p.iter().map(|q| q.1))
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.15;
    let root = BitMapBackend::new(file, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..xmax * 1.05, 0.0..ymax)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (k, (name, points, real)) in lines.iter().enumerate() {
        let color = PALETTE.get(k % PALETTE.len()).copied().unwrap_or(BLACK);
        let width = if *real { 3 } else { 1 };
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(width),
            ))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
            });
        // Dots mark measured points while they can still be told apart.
        if *real && points.len() <= 30 {
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(file.to_path_buf())
}

fn detection(report: &Value, file: &Path) -> Result<PathBuf> {
    let real = sizes(report);
    let sim: Vec<&Value> = sim_sizes(report);
    let crash = |s: &Value| s["crash"].clone();
    let mut lines = Vec::new();
    for q in ["p50", "p99", "max"] {
        lines.push((
            format!("real processes {q}"),
            series(&real, |s| s["detection_s"][q].as_f64()),
            true,
        ));
    }
    for (q, key) in [("p50", "detect_p50_s"), ("p99", "detect_p99_s")] {
        let pts = series(&sim, |s| pick(&crash(s), &[key], &["detect", q]));
        if !pts.is_empty() {
            lines.push((format!("simulator {q}"), pts, false));
        }
    }
    line_chart(
        file,
        "SIGKILL -> Confirmed at every other member",
        "ring size (members)",
        "seconds",
        &lines,
    )
}

fn traffic(report: &Value, file: &Path) -> Result<PathBuf> {
    let real = sizes(report);
    let sim = sim_sizes(report);
    let mut lines = vec![(
        "real processes, idle (mean of members)".to_owned(),
        series(&real, |s| s["idle"]["sent_bytes_per_s"]["mean"].as_f64()),
        true,
    )];
    for scenario in ["crash", "rumor"] {
        let pts = series(&sim, |s| {
            pick(
                &s[scenario],
                &["bytes_per_member_per_s"],
                &["bytes", "member"],
            )
        });
        if !pts.is_empty() {
            lines.push((format!("simulator, {scenario} scenario"), pts, false));
        }
    }
    line_chart(
        file,
        "Gossip bytes sent per member per second",
        "ring size (members)",
        "bytes / member / s",
        &lines,
    )
}

/// The fraction of (member, trial) pairs re-rendered by each time: every trial's sorted
/// per-member times pooled.
fn pooled_cdf(curves: &Value) -> Vec<(f64, f64)> {
    let mut all: Vec<f64> = curves
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    all.sort_by(f64::total_cmp);
    let total = all.len() as f64;
    let mut pts = vec![(0.0, 0.0)];
    for (k, t) in all.iter().enumerate() {
        pts.push((*t, (k + 1) as f64 / total));
    }
    pts
}

fn coverage(report: &Value, file: &Path) -> Result<PathBuf> {
    let real = sizes(report);
    let sim = sim_sizes(report);
    let mut lines = Vec::new();
    for s in &real {
        let n = s["n"].as_u64().unwrap_or(0);
        lines.push((
            format!("real, {n} members: config apply -> rendered"),
            pooled_cdf(&s["config_apply_coverage_s"]),
            true,
        ));
    }
    for s in &sim {
        let n = s["n"].as_u64().unwrap_or(0);
        let r = &s["rumor"];
        let pts: Vec<(f64, f64)> = [("p50", 0.5), ("p99", 0.99), ("max", 1.0)]
            .iter()
            .filter_map(|(q, f)| {
                Some((
                    pick(r, &[&format!("coverage_{q}_s")], &["coverage", q])?,
                    *f,
                ))
            })
            .collect();
        if !pts.is_empty() {
            let mut pts = pts;
            pts.insert(0, (0.0, 0.0));
            lines.push((format!("simulator, {n} members: rumor heard"), pts, false));
        }
    }
    line_chart(
        file,
        "Rumor coverage: fraction of members over time",
        "seconds after the apply",
        "fraction of members",
        &lines,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn simulator_fields_are_found_under_other_names_too() {
        let v = json!({"detect_p50_s": 3.0, "detection_latency_p99": 4.0});
        assert_eq!(pick(&v, &["detect_p50_s"], &["detect", "p50"]), Some(3.0));
        assert_eq!(pick(&v, &["detect_p99_s"], &["detect", "p99"]), Some(4.0));
        assert_eq!(pick(&v, &["x"], &["bytes"]), None);
    }

    #[test]
    fn coverage_pools_every_trial() {
        let pts = pooled_cdf(&json!([[0.1, 0.2], [0.3, 0.4]]));
        assert_eq!(pts.first(), Some(&(0.0, 0.0)));
        assert_eq!(pts.last(), Some(&(0.4, 1.0)));
        assert_eq!(pts.len(), 5);
    }
}
