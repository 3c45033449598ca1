//! Reading the JSON answers the tests check (blame runs, symbol changes), the same
//! way from the CLI, the REST API and the language server.

#![allow(dead_code)]

use serde_json::Value;

/// `(start_line, end_line, tool)` of each run of a blame answer's `runs`.
pub fn spans(runs: &Value) -> Vec<(u64, u64, &str)> {
    runs.as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["start_line"].as_u64().unwrap_or(0),
                r["end_line"].as_u64().unwrap_or(0),
                r["tool"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

/// The `tool` of each row, in order.
pub fn tools(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["tool"].as_str())
        .collect()
}
