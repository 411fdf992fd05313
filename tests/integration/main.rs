//! Integration tests: one binary, one harness (`support`), one file per capability.

mod approvals;
mod cli;
mod commands;
mod support;
