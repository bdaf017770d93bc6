//! Integration tests of flowforge-index: one binary, one module per concept.

mod common;
mod index;
mod naive;
mod refresh_matches_scan;
mod report;
mod snapshot;
mod time_segments;
mod view_vouch;
mod watch_signal;
