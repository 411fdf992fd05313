//! Integration tests: one binary, one harness (`support`), one file per capability.

mod approval_lifecycle;
mod approval_policy;
mod approvals;
mod authorization;
mod cli;
mod commands;
mod deploy;
mod fault_matrix;
mod faults;
mod going_live;
mod health;
mod history;
mod hostile;
mod memory;
mod processes;
mod redshift_alerts;
mod secrets;
mod shared_state;
mod socket_mode;
mod sockets;
mod support;
