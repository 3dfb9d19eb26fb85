//! Names derived from a project: Kubernetes objects, the default bucket, the default PostgreSQL
//! database and role. Pure functions, shared by the operator and the control-plane API so that
//! both agree on every name without asking the cluster.
//!
//! Project names are DNS-1035 labels of at most [`MAX_PROJECT_NAME`] characters so that every
//! derived Kubernetes name (`<name>-storage`, 48 characters) and label value stays under the
//! 63-character limits; bucket and database names that would exceed 63 characters are shortened
//! with a stable hash suffix.

/// Longest accepted project name (Stackable caps cluster names at 40 for the same reason).
pub const MAX_PROJECT_NAME: usize = 40;

/// Longest S3 bucket name and PostgreSQL identifier (63 bytes).
pub const MAX_EXTERNAL_NAME: usize = 63;

/// Why a project name is rejected, or `None` when it is valid.
pub fn project_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("name must not be empty".into());
    }
    if name.len() > MAX_PROJECT_NAME {
        return Some(format!(
            "name must be at most {MAX_PROJECT_NAME} characters (got {})",
            name.len()
        ));
    }
    let bytes = name.as_bytes();
    if !bytes[0].is_ascii_lowercase() {
        return Some("name must start with a lower-case letter".into());
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return Some("name may contain only lower-case letters, digits and '-'".into());
    }
    if name.ends_with('-') {
        return Some("name must end with a letter or digit".into());
    }
    None
}

/// Why a bucket name is rejected (S3 rules, without dots so virtual-host addressing and TLS work),
/// or `None` when it is valid.
pub fn bucket_name_problem(bucket: &str) -> Option<String> {
    if !(3..=MAX_EXTERNAL_NAME).contains(&bucket.len()) {
        return Some(format!(
            "bucket must be 3 to {MAX_EXTERNAL_NAME} characters (got {})",
            bucket.len()
        ));
    }
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = bucket
        .bytes()
        .next()
        .zip(bucket.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if !ok_chars || !ok_ends {
        return Some(
            "bucket may contain only lower-case letters, digits and '-', and must start and end with a letter or digit"
                .into(),
        );
    }
    None
}

/// Why a PostgreSQL database or role name is rejected, or `None` when it is valid. MadBase only
/// creates names that never need quoting: lower-case letters, digits and `_`, starting with a
/// letter, and never a reserved prefix.
pub fn pg_identifier_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_EXTERNAL_NAME {
        return Some(format!(
            "must be 1 to {MAX_EXTERNAL_NAME} characters (got {})",
            name.len()
        ));
    }
    if !name.as_bytes()[0].is_ascii_lowercase()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Some(
            "must start with a lower-case letter and contain only lower-case letters, digits and '_'"
                .into(),
        );
    }
    if name.starts_with("pg_")
        || matches!(
            name,
            "postgres" | "template0" | "template1" | "streaming_replica"
        )
    {
        return Some(format!("`{name}` is reserved by PostgreSQL"));
    }
    None
}

/// Roles of the Supabase layout that every project on a PostgreSQL cluster shares (the data
/// plane's first migration creates them): never the name of one project's own role.
pub const LAYOUT_ROLES: [&str; 9] = [
    "anon",
    "authenticated",
    "service_role",
    "authenticator",
    "supabase_admin",
    "supabase_auth_admin",
    "supabase_storage_admin",
    "supabase_realtime_admin",
    "dashboard_user",
];

/// Prefix of the data API's per-project login roles ([`api_role_name`]).
pub const API_ROLE_PREFIX: &str = "api_";

/// Why `name` cannot be a project's database and owner role on a cluster other projects share:
/// [`pg_identifier_problem`], a role of the Supabase layout, or the prefix of the data API's
/// login roles.
pub fn project_role_problem(name: &str) -> Option<String> {
    if let Some(p) = pg_identifier_problem(name) {
        return Some(p);
    }
    if LAYOUT_ROLES.contains(&name) {
        return Some(format!(
            "`{name}` is a role every project on the cluster shares"
        ));
    }
    if name.starts_with(API_ROLE_PREFIX) {
        return Some(format!(
            "must not start with `{API_ROLE_PREFIX}`, which names the data API's login roles"
        ));
    }
    None
}

/// The login role of a project's data API next to its owner role `role`: `api_<role>`,
/// shortened with a hash when longer than 63 characters. It may only switch to the API roles,
/// as Supabase's `authenticator`; owner roles never start with `api_` ([`project_role_problem`]).
pub fn api_role_name(role: &str) -> String {
    fit(format!("{API_ROLE_PREFIX}{role}"), '_')
}

/// Stable 32-bit FNV-1a hash as 8 hex digits: a short, deterministic suffix for shortened names
/// (not a security measure).
fn short_hash(text: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// `full` if it fits in 63 characters, otherwise its first characters, `sep` and a hash of `full`.
fn fit(full: String, sep: char) -> String {
    if full.len() <= MAX_EXTERNAL_NAME {
        return full;
    }
    let hash = short_hash(&full);
    let keep = MAX_EXTERNAL_NAME - hash.len() - 1;
    let head = full[..keep].trim_end_matches(['-', '_']);
    format!("{head}{sep}{hash}")
}

/// Default bucket: `mb-<namespace>-<name>`, shortened with a hash when longer than 63 characters.
pub fn default_bucket(namespace: &str, name: &str) -> String {
    fit(format!("mb-{namespace}-{name}"), '-')
}

/// Default database (and role) name for `shared` and `cnpg` modes: `mb_<namespace>_<name>` with
/// dashes turned into underscores, shortened with a hash when longer than 63 characters.
pub fn default_database_name(namespace: &str, name: &str) -> String {
    fit(format!("mb_{namespace}_{name}").replace('-', "_"), '_')
}

/// Name of the Deployment, Service, Ingress, HTTPRoute and PodDisruptionBudget of a project.
pub fn workload_name(project: &str) -> String {
    project.to_owned()
}

/// Name of the Secret holding `jwt-secret`, `anon-key` and `service-role-key`.
pub fn keys_secret_name(project: &str) -> String {
    format!("{project}-keys")
}

/// Name of the Secret holding the data plane's database URL (`shared` and `cnpg` modes).
pub fn database_secret_name(project: &str) -> String {
    format!("{project}-db")
}

/// Name of the Secret holding the data plane's S3 credentials when they come from the operator.
pub fn storage_secret_name(project: &str) -> String {
    format!("{project}-storage")
}

/// Name of the ConfigMap holding the data plane's non-secret settings.
pub fn config_map_name(project: &str) -> String {
    format!("{project}-config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_dns_1035_and_the_length_cap() {
        assert_eq!(project_name_problem("shop"), None);
        assert_eq!(project_name_problem("a"), None);
        assert_eq!(project_name_problem(&"a".repeat(40)), None);
        assert!(project_name_problem(&"a".repeat(41)).is_some());
        assert!(project_name_problem("").is_some());
        assert!(project_name_problem("1shop").is_some());
        assert!(project_name_problem("Shop").is_some());
        assert!(project_name_problem("shop-").is_some());
        assert!(project_name_problem("sh_op").is_some());
        assert!(project_name_problem("sh.op").is_some());
    }

    #[test]
    fn default_names_fit_even_for_the_longest_inputs() {
        let ns = "n".repeat(63);
        let name = "p".repeat(40);
        let bucket = default_bucket(&ns, &name);
        assert_eq!(bucket.len(), 63, "{bucket}");
        assert_eq!(bucket_name_problem(&bucket), None);
        assert_eq!(bucket, default_bucket(&ns, &name), "stable");
        assert_ne!(bucket, default_bucket(&ns, "q".repeat(40).as_str()));
        let db = default_database_name(&ns, &name);
        assert_eq!(db.len(), 63, "{db}");
        assert_eq!(pg_identifier_problem(&db), None);
    }

    #[test]
    fn short_inputs_are_not_hashed() {
        assert_eq!(default_bucket("acme", "shop"), "mb-acme-shop");
        assert_eq!(
            default_database_name("mb-acme", "my-shop"),
            "mb_mb_acme_my_shop"
        );
        // Exactly 63 characters is kept as is.
        let name = "p".repeat(63 - "mb-acme-".len());
        assert_eq!(default_bucket("acme", &name).len(), 63);
        assert!(default_bucket("acme", &name).ends_with("ppp"));
    }

    #[test]
    fn shortening_never_leaves_a_trailing_separator_before_the_hash() {
        // The cut lands right after a dash.
        let ns = format!("{}-{}", "a".repeat(53), "b".repeat(9));
        let bucket = default_bucket(&ns, "shop");
        assert!(!bucket.contains("--"), "{bucket}");
        assert_eq!(bucket_name_problem(&bucket), None);
    }

    #[test]
    fn bucket_and_identifier_rules() {
        assert!(bucket_name_problem("ab").is_some());
        assert!(bucket_name_problem("-abc").is_some());
        assert!(bucket_name_problem("abc-").is_some());
        assert!(bucket_name_problem("a.bc").is_some());
        assert!(bucket_name_problem("ABC").is_some());
        assert_eq!(bucket_name_problem("abc"), None);
        assert!(pg_identifier_problem("postgres").is_some());
        assert!(pg_identifier_problem("pg_shop").is_some());
        assert!(pg_identifier_problem("Shop").is_some());
        assert!(pg_identifier_problem("shop-db").is_some());
        assert!(pg_identifier_problem(&"s".repeat(64)).is_some());
        assert_eq!(pg_identifier_problem("shop_db"), None);
    }

    #[test]
    fn project_roles_keep_clear_of_shared_and_api_roles() {
        assert_eq!(project_role_problem("mb_team_shop"), None);
        for shared in LAYOUT_ROLES {
            let p = project_role_problem(shared).expect("refused");
            assert!(p.contains("every project"), "{p}");
        }
        assert!(project_role_problem("api_shop").is_some());
        assert!(project_role_problem("postgres").is_some());
        assert_eq!(api_role_name("mb_team_shop"), "api_mb_team_shop");
        let long = default_database_name(&"n".repeat(40), &"p".repeat(40));
        let api = api_role_name(&long);
        assert_eq!(api.len(), MAX_EXTERNAL_NAME);
        assert!(api.starts_with(API_ROLE_PREFIX));
        assert_eq!(pg_identifier_problem(&api), None);
        assert_ne!(api_role_name(&long), api_role_name(&format!("{long}x")));
    }
}
