//! Integration tests of flowforge-session: one binary, one module per concept.

mod claim_shards;
mod gc;
mod gc_processes;
mod other_crates_files;
mod processes;
mod sessions;
mod time;
mod v2_shapes;
mod view_mark;
mod views;
