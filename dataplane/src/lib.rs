//! MadBase's data plane: one process serving a project's Supabase-compatible APIs over its
//! PostgreSQL. `server` assembles the gateway and the API routers; each API owns its module.

pub mod auth;
pub mod http;
pub mod metrics;
pub mod migrations;
pub mod realtime;
pub mod rest;
pub mod server;
pub mod storage;
