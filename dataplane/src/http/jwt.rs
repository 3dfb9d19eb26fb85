//! JWT keys of one project: minting the `anon`/`service_role` API keys the way Supabase issues
//! them, and verifying bearer tokens (HS256 with the project secret).
//!
//! Verification returns the claims or a [`JwtError`]; each API renders that error in its own
//! wire format (PostgREST `PGRST301`, GoTrue `bad_jwt`, …).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use madbase_config::Secret;
use serde_json::{Value, json};

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts, bad JSON, or an unsupported algorithm.
    #[error("invalid JWT: {0}")]
    Malformed(String),
    /// The signature does not match the project's key.
    #[error("JWT signature is invalid")]
    BadSignature,
    /// `exp` is in the past.
    #[error("JWT expired")]
    Expired,
}

/// Verifies and mints tokens for one project.
#[derive(Clone)]
pub struct JwtKeys {
    secret: Secret,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}

/// Ten years, the lifetime Supabase gives its API keys.
const API_KEY_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;

impl JwtKeys {
    /// Keys from the project's HS256 secret.
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        validation.leeway = 30;
        Self {
            secret: secret.clone(),
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// The secret, for `madbase dev`'s banner and the operator's keys Secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Signs `claims` with the project key.
    pub fn sign(&self, claims: &Value) -> String {
        // Encoding a JSON value with an HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_default()
    }

    /// An API key for `role` (`anon` or `service_role`), shaped like a hosted Supabase key.
    pub fn mint_api_key(&self, role: &str, project_ref: &str, issued_at: i64) -> String {
        self.sign(&json!({
            "iss": "supabase",
            "ref": project_ref,
            "role": role,
            "iat": issued_at,
            "exp": issued_at + API_KEY_LIFETIME_SECS,
        }))
    }

    /// Verifies the signature and expiry and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Value, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        match jsonwebtoken::decode::<Value>(token, &self.decoding, &self.validation) {
            Ok(data) if data.claims.is_object() => Ok(data.claims),
            Ok(_) => Err(JwtError::Malformed("claims are not a JSON object".into())),
            Err(e) => Err(match e.kind() {
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::InvalidAlgorithm => {
                    JwtError::Malformed("wrong or unsupported algorithm".into())
                }
                _ => JwtError::Malformed("token is not a well-formed JWT".into()),
            }),
        }
    }
}

/// A fresh random HS256 secret: 40 URL-safe characters (240 bits).
pub fn generate_secret() -> Secret {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    Secret::new(
        (0..40)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect::<String>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Secret::new(
            "super-secret-jwt-token-with-at-least-32-characters-long",
        ))
    }

    #[test]
    fn minted_keys_verify_with_supabase_claims() {
        let k = keys();
        let token = k.mint_api_key("anon", "default", 1_700_000_000);
        let claims = k.verify(&token).expect("valid");
        assert_eq!(claims["role"], "anon");
        assert_eq!(claims["iss"], "supabase");
        assert_eq!(claims["ref"], "default");
        assert_eq!(claims["exp"], 1_700_000_000 + API_KEY_LIFETIME_SECS);
    }

    #[test]
    fn supabase_demo_key_verifies() {
        // The well-known local-development anon key, signed with the demo secret.
        let demo = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
        assert_eq!(keys().verify(demo).expect("demo key")["role"], "anon");
    }

    #[test]
    fn refusals_are_classified() {
        let k = keys();
        let other = JwtKeys::new(&Secret::new("another-secret-another-secret-another-secret"));
        let token = other.mint_api_key("anon", "x", 1_700_000_000);
        assert_eq!(k.verify(&token), Err(JwtError::BadSignature));
        let expired = k.sign(&json!({"role": "anon", "exp": 1_000}));
        assert_eq!(k.verify(&expired), Err(JwtError::Expired));
        assert!(matches!(k.verify("not-a-jwt"), Err(JwtError::Malformed(_))));
        assert!(matches!(k.verify(""), Err(JwtError::Malformed(_))));
        let none_alg = "eyJhbGciOiJub25lIn0.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.";
        assert!(k.verify(none_alg).is_err());
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let a = generate_secret();
        let b = generate_secret();
        assert_eq!(a.expose().len(), 40);
        assert_ne!(a, b);
    }
}
