//! The Slack emulator over the wire: raw HTTP calls for every Web API answer chatops relies
//! on (`web_api`, `files`, `history`), and a tokio-tungstenite client for the Socket Mode side:
//! hello, envelopes, acks, disconnect (`socket_mode`). Complements the Python SDK check in
//! `slack_python_sdk.rs`.

mod files;
mod history;
mod socket_mode;
mod support;
mod ui;
mod web_api;
