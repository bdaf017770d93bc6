//! Integration tests of flowforge-git: one binary, one module per concept.

mod cache_freshness;
mod cache_random_edits;
mod cache_single_flight;
mod cache_support;
mod cache_watch_events;
mod refs_snapshot;
mod status_basic;
mod status_copies;
mod status_differential;
mod status_faults;
mod status_git_program;
mod status_ignore_rules;
mod status_parallel_walk;
mod status_renames;
mod status_repository_classes;
mod status_repository_shapes;
mod status_stale_index;
mod status_support;
mod sync_developers;
