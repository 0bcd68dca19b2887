//! End-to-end tests of the `hubgate` binary: started as a process on port 0
//! over a fresh data directory, managed with `hubgate admin`, and called by
//! clients nobody here wrote.

mod support;

mod admin_cli;
mod api_docs;
mod at_rest;
mod authorization_code;
mod backup;
mod client_cli;
mod console;
mod deploy;
mod devices;
mod durability;
mod exhaustion;
mod external_clients;
mod faults;
mod first_start;
mod hardening;
mod live_revocation;
mod management;
mod request_logs;
mod scale_out;
mod tls;
mod traces;
mod upgrades;
mod webhooks;
