//! HTTP pieces shared by every API: JWT keys and the wire error bodies of the peers we imitate.

pub mod jwt;
pub mod not_built;
pub mod target;

/// Whether `path` is `prefix` itself or lies under it (`/rest/v1`, `/rest/v1/…`, not
/// `/rest/v10`).
pub fn path_is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
