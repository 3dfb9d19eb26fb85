//! Assembling and running the data plane: configuration to project context, the gateway in
//! front of the API routers, `serve` (one project from the environment) and `dev` (the
//! embedded default).

pub mod app;
pub mod dev;
pub mod gateway;
pub mod logging;
pub mod project;
pub mod serve;
pub mod shutdown;
