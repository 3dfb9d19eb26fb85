//! Rows in `auth.audit_log_entries`, shaped as GoTrue writes them, inside the transaction of
//! the action they record.

use deadpool_postgres::GenericClient;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Ctx;
use super::error::AuthResult;

/// Records `action` by `actor` (a user id, or nil for the system/admin).
pub async fn record(
    db: &impl GenericClient,
    ctx: &Ctx,
    actor: Option<Uuid>,
    username: &str,
    action: &str,
    log_type: &str,
    traits: Value,
) -> AuthResult<()> {
    let payload = json!({
        "actor_id": actor.map(|u| u.to_string()).unwrap_or_else(|| Uuid::nil().to_string()),
        "actor_username": username,
        "actor_via_sso": false,
        "action": action,
        "log_type": log_type,
        "traits": traits,
    });
    db.execute(
        "INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
         VALUES ('00000000-0000-0000-0000-000000000000', $1, $2::jsonb::json, now(), $3)",
        &[
            &Uuid::new_v4(),
            &payload,
            &ctx.ip.clone().unwrap_or_default(),
        ],
    )
    .await?;
    Ok(())
}
