//! `warren svc status` output: the rows of [`ServiceStatus`] as aligned text columns, the way
//! Habitat's `hab svc status` prints them through `TabWriter` (spec §11.8): each column but the
//! last padded to its widest cell plus two spaces, no trailing spaces, `<none>` for a missing
//! pid or elapsed time.
//!
//! Differences from Habitat, on purpose: the `type` column shows the real topology (Habitat
//! always prints `standalone`), and a `health` column is added at the end. Pure formatting: no
//! I/O, no colour.

use std::fmt::Write;

use crate::types::ServiceStatus;

/// The column headings, in order.
pub const STATUS_HEADINGS: [&str; 8] = [
    "package",
    "type",
    "desired",
    "state",
    "elapsed (s)",
    "pid",
    "group",
    "health",
];

/// What Habitat prints when no service is loaded.
pub const NO_SERVICES: &str = "No services loaded.";

/// Space between columns (TabWriter's default padding).
const PADDING: usize = 2;

/// The status table, one line per row plus the heading line, each ending in `\n`; or
/// [`NO_SERVICES`] and a newline when `rows` is empty.
pub fn format_status_table(rows: &[ServiceStatus]) -> String {
    if rows.is_empty() {
        return format!("{NO_SERVICES}\n");
    }
    let none = || "<none>".to_owned();
    let mut cells: Vec<[String; 8]> = Vec::with_capacity(rows.len() + 1);
    cells.push(STATUS_HEADINGS.map(str::to_owned));
    for r in rows {
        cells.push([
            r.package.clone(),
            r.topology.to_string(),
            r.desired.to_string(),
            r.process.to_string(),
            r.elapsed_secs.map_or_else(none, |e| e.to_string()),
            r.pid.map_or_else(none, |p| p.to_string()),
            r.service_group.clone(),
            r.health.to_string(),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let last = row.len() - 1;
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<width$}", width = widths[i] + PADDING);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::types::{DesiredState, Health, ProcessState, Topology};

    #[test]
    fn empty() {
        assert_eq!(format_status_table(&[]), "No services loaded.\n");
    }

    #[test]
    fn aligned_columns_with_none() {
        let rows = [
            ServiceStatus {
                package: "core/redis/4.0.14/20190319155852".to_owned(),
                service_group: "redis.default".to_owned(),
                topology: Topology::Leader,
                desired: DesiredState::Up,
                process: ProcessState::Up,
                elapsed_secs: Some(123),
                pid: Some(4242),
                health: Health::Ok,
            },
            ServiceStatus {
                package: "warren/hello/0.1.0".to_owned(),
                service_group: "hello.prod@acme".to_owned(),
                topology: Topology::Standalone,
                desired: DesiredState::Down,
                process: ProcessState::Down,
                elapsed_secs: None,
                pid: None,
                health: Health::Unknown,
            },
        ];
        expect![[r#"
            package                           type        desired  state  elapsed (s)  pid     group            health
            core/redis/4.0.14/20190319155852  leader      up       up     123          4242    redis.default    ok
            warren/hello/0.1.0                standalone  down     down   <none>       <none>  hello.prod@acme  unknown
        "#]]
        .assert_eq(&format_status_table(&rows));
        assert!(
            format_status_table(&rows)
                .lines()
                .all(|l| !l.ends_with(' '))
        );
    }
}
