//! Estimated cost from a pricing table kept as data (`pricing.json`), so updating a
//! price is a data change, not a code change.

use std::sync::OnceLock;

use serde::Deserialize;

use observatory_transcript::Usage;

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

#[derive(Debug, Deserialize)]
struct Entry {
    /// Model ids starting with this prefix use this price; the longest prefix wins.
    prefix: String,
    #[serde(flatten)]
    price: Price,
}

#[derive(Debug, Deserialize)]
struct Table {
    models: Vec<Entry>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The file ships inside the binary; a broken edit to it is caught by the test
        // below, so an empty table is only a last resort.
        serde_json::from_str(include_str!("../pricing.json"))
            .unwrap_or(Table { models: Vec::new() })
    })
}

/// The price for a model id, if the table knows it.
pub fn price_for(model: &str) -> Option<Price> {
    table()
        .models
        .iter()
        .filter(|e| model.starts_with(&e.prefix))
        .max_by_key(|e| e.prefix.len())
        .map(|e| e.price)
}

/// Estimated cost in US dollars; unknown models cost nothing (and say so elsewhere).
pub fn cost(model: Option<&str>, u: &Usage) -> f64 {
    let Some(p) = model.and_then(price_for) else {
        return 0.0;
    };
    (u.input_tokens as f64 * p.input
        + u.output_tokens as f64 * p.output
        + u.cache_creation_input_tokens as f64 * p.cache_write
        + u.cache_read_input_tokens as f64 * p.cache_read)
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_longest_prefix_wins() {
        assert!(table().models.len() >= 10);
        let opus45 = price_for("claude-opus-4-5-20251101").expect("opus 4.5 priced");
        let opus4 = price_for("claude-opus-4-20250514").expect("opus 4 priced");
        assert!(opus45.input < opus4.input);
        assert!(price_for("gpt-4").is_none());
    }

    #[test]
    fn cost_adds_all_four_kinds() {
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cache_creation_input_tokens: 1_000_000,
            cache_read_input_tokens: 1_000_000,
        };
        let p = price_for("claude-sonnet-4-5").expect("priced");
        let c = cost(Some("claude-sonnet-4-5-20250929"), &u);
        assert!((c - (p.input + p.output + p.cache_write + p.cache_read)).abs() < 1e-9);
        assert_eq!(cost(None, &u), 0.0);
    }
}
