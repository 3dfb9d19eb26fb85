//! The MadBase operator: reconciles `MadBaseProject` resources into per-project data planes
//! (keys, database, bucket, Deployment, Service, Ingress/HTTPRoute) and serves the control-plane
//! API. `main.rs` only wires these modules to a real cluster.

pub mod api;
pub mod apply;
pub mod auth_settings;
pub mod bucket;
pub mod cnpg;
pub mod controller;
pub mod database;
pub mod dataplane;
pub mod dereference;
pub mod finalizer;
pub mod keys;
pub mod leader;
pub mod metrics;
pub mod operator_config;
pub mod postgres;
pub mod reconcile;
pub mod status;
pub mod validate;
