//! What a trace turns into: a per-kernel summary (count, time, GFLOP/s), the task graph
//! as Graphviz DOT, and a Gantt chart as a standalone SVG (one row per processor, one for
//! transfers).

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};

use super::Trace;

/// Totals for one task name over a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelStats {
    /// The task name (`"gemm"`, `"potrf"`, …).
    pub name: &'static str,
    /// How many tasks ran.
    pub count: usize,
    /// Their summed run time, in nanoseconds.
    pub total_ns: u64,
    /// Their summed declared flops (`TaskOptions::flops`).
    pub flops: f64,
}

impl KernelStats {
    /// Flops per second of run time, in GFLOP/s (0 without declared flops).
    pub fn gflops(&self) -> f64 {
        if self.total_ns == 0 {
            0.0
        } else {
            self.flops / self.total_ns as f64
        }
    }
}

/// Colours for task names, in order of first appearance.
const PALETTE: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac", "#1b9e77", "#7570b3",
];

impl Trace {
    /// The dependencies recorded while tracing, `(predecessor, successor)` task ids.
    pub fn edges(&self) -> &[(u64, u64)] {
        &self.edges
    }

    /// Per task name: count, total time and declared flops, most time first.
    pub fn summary(&self) -> Vec<KernelStats> {
        let mut by_name: BTreeMap<&'static str, KernelStats> = BTreeMap::new();
        for e in &self.events {
            let s = by_name.entry(e.name).or_insert(KernelStats {
                name: e.name,
                count: 0,
                total_ns: 0,
                flops: 0.0,
            });
            s.count += 1;
            s.total_ns += e.end_ns.saturating_sub(e.start_ns);
            s.flops += e.flops;
        }
        let mut all: Vec<_> = by_name.into_values().collect();
        all.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(a.name.cmp(b.name)));
        all
    }

    /// [`Trace::summary`] as a text table.
    pub fn summary_table(&self) -> String {
        let mut out = format!(
            "{:<14} {:>8} {:>12} {:>10}\n",
            "kernel", "count", "time (ms)", "GFLOP/s"
        );
        for s in self.summary() {
            let _ = writeln!(
                out,
                "{:<14} {:>8} {:>12.3} {:>10.1}",
                s.name,
                s.count,
                s.total_ns as f64 / 1e6,
                s.gflops()
            );
        }
        out
    }

    fn colours(&self) -> Vec<(&'static str, &'static str)> {
        let mut seen: Vec<&'static str> = Vec::new();
        for e in &self.events {
            if !seen.contains(&e.name) {
                seen.push(e.name);
            }
        }
        seen.iter()
            .enumerate()
            .map(|(i, n)| (*n, PALETTE[i % PALETTE.len()]))
            .collect()
    }

    /// The task graph in Graphviz DOT: a node per traced task (coloured by name), an edge
    /// per recorded dependency between two traced tasks. `dot -Tsvg graph.dot`.
    pub fn to_dot(&self) -> String {
        let colours = self.colours();
        let colour = |name| {
            colours
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("#cccccc", |(_, c)| c)
        };
        let mut out = String::from(
            "digraph tasks {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"sans\"];\n",
        );
        let tasks = self.events.iter().filter(|e| !e.transfer);
        let ids: HashSet<u64> = tasks.clone().map(|e| e.task).collect();
        let mut events: Vec<_> = tasks.collect();
        events.sort_by_key(|e| e.task);
        for e in events {
            let _ = writeln!(
                out,
                "  t{} [label=\"{}\", fillcolor=\"{}\"];",
                e.task,
                e.name,
                colour(e.name)
            );
        }
        for &(p, s) in &self.edges {
            if ids.contains(&p) && ids.contains(&s) {
                let _ = writeln!(out, "  t{p} -> t{s};");
            }
        }
        out.push_str("}\n");
        out
    }

    /// A Gantt chart as standalone SVG: one row per processor (the CPU workers, then the
    /// devices), a row for transfers between memory spaces and one for threads outside the
    /// pool when there are any; one bar per task or transfer (hover for its name, id,
    /// duration and bytes moved), a time axis in milliseconds and a legend.
    pub fn to_gantt_svg(&self) -> String {
        let (w, row, left, top) = (1200.0, 28.0, 90.0, 30.0);
        let processors = self
            .events
            .iter()
            .filter_map(|e| e.worker)
            .max()
            .map_or(0, |m| m + 1);
        let transfers = self.events.iter().any(|e| e.transfer);
        let transfer_row = processors;
        let other_row = processors + usize::from(transfers);
        // Per rank (a trace merged across MPI ranks has several), the same rows.
        let per_rank = other_row + usize::from(self.events.iter().any(|e| e.worker.is_none() && !e.transfer));
        let ranks = self.events.iter().map(|e| e.rank + 1).max().unwrap_or(1);
        let rows = per_rank * ranks;
        let t0 = self.events.iter().map(|e| e.start_ns).min().unwrap_or(0);
        let t1 = self
            .events
            .iter()
            .map(|e| e.end_ns)
            .max()
            .unwrap_or(t0 + 1)
            .max(t0 + 1);
        let scale = (w - left - 20.0) / (t1 - t0) as f64;
        let colours = self.colours();
        let legend_rows = colours.len().div_ceil(6);
        let h = top + rows as f64 * row + 40.0 + legend_rows as f64 * 20.0;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">"
        );
        let _ = writeln!(out, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
        for r in 0..rows {
            let y = top + r as f64 * row;
            let (rank, r) = (r / per_rank.max(1), r % per_rank.max(1));
            let label = match r {
                r if r < processors && (self.cpus == 0 || r < self.cpus) => format!("worker {r}"),
                r if r < processors => format!("device {}", r - self.cpus),
                r if transfers && r == transfer_row => "transfers".into(),
                _ => "other".into(),
            };
            let label = match ranks {
                1 => label,
                _ => format!("r{rank} {label}"),
            };
            let _ = writeln!(out, "<text x=\"4\" y=\"{:.1}\">{label}</text>", y + row * 0.65);
        }
        for e in &self.events {
            let r = e.rank * per_rank
                + match (e.transfer, e.worker) {
                    (true, _) => transfer_row,
                    (false, w) => w.unwrap_or(other_row),
                };
            let x = left + (e.start_ns - t0) as f64 * scale;
            let width = ((e.end_ns.saturating_sub(e.start_ns)) as f64 * scale).max(0.5);
            let y = top + r as f64 * row + 3.0;
            let fill = colours
                .iter()
                .find(|(n, _)| *n == e.name)
                .map_or("#ccc", |(_, c)| c);
            let _ = writeln!(
                out,
                "<rect x=\"{x:.2}\" y=\"{y:.1}\" width=\"{width:.2}\" height=\"{:.1}\" fill=\"{fill}\"><title>{} #{} {:.3} ms, {} bytes moved</title></rect>",
                row - 6.0,
                e.name,
                e.task,
                (e.end_ns - e.start_ns) as f64 / 1e6,
                e.bytes
            );
        }
        // Time axis: about ten ticks on round millisecond steps.
        let axis_y = top + rows as f64 * row + 4.0;
        let span_ms = (t1 - t0) as f64 / 1e6;
        let step = nice_step(span_ms / 10.0);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"black\"/>",
            w - 20.0
        );
        let mut t = 0.0;
        while t <= span_ms + 1e-9 {
            let x = left + t * 1e6 * scale;
            let _ = writeln!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                axis_y + 4.0,
                axis_y + 16.0,
                Ms(t)
            );
            t += step;
        }
        for (i, (name, colour)) in colours.iter().enumerate() {
            let x = left + (i % 6) as f64 * 170.0;
            let y = axis_y + 30.0 + (i / 6) as f64 * 20.0;
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{name}</text>",
                y - 10.0,
                x + 16.0
            );
        }
        out.push_str("</svg>\n");
        out
    }

    /// Writes [`Trace::to_gantt_svg`] to `path`.
    pub fn write_gantt_svg(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_gantt_svg())
    }

    /// Writes [`Trace::to_dot`] to `path`.
    pub fn write_dot(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_dot())
    }
}

/// 1, 2 or 5 times a power of ten, at least `x`.
fn nice_step(x: f64) -> f64 {
    let x = x.max(1e-6);
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= x)
        .unwrap_or(10.0 * p)
}

/// Milliseconds, printed with as many decimals as they need.
struct Ms(f64);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = (self.0 * 1000.0).round() / 1000.0;
        write!(f, "{v} ms")
    }
}
