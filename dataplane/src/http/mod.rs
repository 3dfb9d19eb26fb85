//! HTTP pieces shared by every API: JWT keys and the wire error bodies of the peers we imitate.

pub mod jwt;
pub mod not_built;
