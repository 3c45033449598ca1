//! Refreshes driven by the platform's events, at most one per key per interval.
//!
//! A first index of a year of transcripts logs thousands of changes to files named
//! like an open one (every project has a `main.py`), and each used to cost a request
//! to the platform: enough to run into its rate limit, and the user was told so.
//! The first event of a burst refreshes at once (a live edit shows as fast as
//! before); the rest of the burst is one refresh when the interval ends.

use std::hash::Hash;
use std::time::{Duration, Instant};

use dashmap::{DashMap, DashSet};

/// Least time between two event-driven refreshes of one document or file.
pub(crate) const EVERY: Duration = Duration::from_millis(250);

pub(crate) struct Throttle<K: Eq + Hash> {
    last: DashMap<K, Instant>,
    due: DashSet<K>,
}

impl<K: Eq + Hash + Clone> Default for Throttle<K> {
    fn default() -> Self {
        Self {
            last: DashMap::new(),
            due: DashSet::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    /// An event asks to refresh `key`: how long to wait before doing so, or `None`
    /// when a refresh is due already (it covers this event too).
    pub(crate) fn wait(&self, key: &K) -> Option<Duration> {
        if !self.due.insert(key.clone()) {
            return None;
        }
        Some(
            self.last
                .get(key)
                .map_or(Duration::ZERO, |at| EVERY.saturating_sub(at.elapsed())),
        )
    }

    /// The refresh of `key` starts: later events ask for another.
    pub(crate) fn start(&self, key: &K) {
        self.due.remove(key);
        self.last.insert(key.clone(), Instant::now());
    }

    /// `key` is gone (a closed document).
    pub(crate) fn forget(&self, key: &K) {
        self.due.remove(key);
        self.last.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_one_refresh_now_and_one_at_the_end_of_the_interval() {
        let t = Throttle::default();
        assert_eq!(
            t.wait(&"a"),
            Some(Duration::ZERO),
            "the first refreshes at once"
        );
        assert_eq!(t.wait(&"a"), None, "covered by the one due");
        assert_eq!(t.wait(&"b"), Some(Duration::ZERO), "keys are apart");
        t.start(&"a");
        let later = t
            .wait(&"a")
            .expect("another is due after the first started");
        assert!(later > Duration::ZERO && later <= EVERY, "{later:?}");
        assert_eq!(t.wait(&"a"), None);
        t.forget(&"a");
        assert_eq!(t.wait(&"a"), Some(Duration::ZERO));
    }
}
