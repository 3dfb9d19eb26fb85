//! JWT keys of one project: minting the `anon`/`service_role` API keys the way Supabase issues
//! them, signing user access tokens, and verifying bearer tokens: HS256 with the project
//! secret (legacy) and the asymmetric keys of `MADBASE_AUTH_JWT_KEYS` (ES256 and RS256, each
//! signing with a private key and verifying with a public one), published as a JWKS.
//!
//! Rotation: the signing key is chosen by algorithm (`MADBASE_AUTH_JWT_SIGNING_ALG`), then by
//! `key_ops` containing `sign`, then as the first private key; every listed key verifies, so a
//! rotated-out key stays listed until the tokens it signed have expired. API keys stay HS256,
//! as Supabase's legacy keys.
//!
//! Verification returns the claims or a [`JwtError`]; each API renders that error in its own
//! wire format (PostgREST `PGRST301`, GoTrue `bad_jwt`, …).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use madbase_config::{JwtSigningAlg, Secret};
use madbase_rest::Claims;
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

/// [`JwtError::Malformed`]'s reason for a token that does not decode.
pub const NOT_WELL_FORMED: &str = "token is not a well-formed JWT";
/// [`JwtError::Malformed`]'s reason for an algorithm no configured key signs with.
pub const UNSUPPORTED_ALGORITHM: &str = "wrong or unsupported algorithm";
/// [`JwtError::Malformed`]'s reason for a signed payload that is not a JSON object.
pub const NOT_AN_OBJECT: &str = "claims are not a JSON object";

/// Whether the token's header says `"alg": "none"` (an unsecured JWT).
pub fn is_unsecured(token: &str) -> bool {
    use base64::Engine as _;
    token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h.trim_end_matches('='))
                .ok()
        })
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .is_some_and(|h| {
            h["alg"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case("none"))
        })
}

/// Verifies and mints tokens for one project.
#[derive(Clone)]
pub struct JwtKeys {
    secret: Secret,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    asymmetric: Vec<AsymmetricKey>,
    signer: Option<usize>,
}

/// One asymmetric key from the configured JWK set.
#[derive(Clone)]
struct AsymmetricKey {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    /// `key_ops` contains `sign`.
    marked_sign: bool,
    public_jwk: Value,
}

/// Fewest bits an RSA key may have.
const RSA_MIN_BITS: usize = 2048;

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
            asymmetric: Vec::new(),
            signer: None,
        }
    }

    /// Adds the asymmetric keys of a JWK set (a JSON array of JWKs, or `{"keys": [...]}`).
    pub fn with_jwks(mut self, jwks: Option<&Secret>) -> Result<Self, String> {
        let Some(jwks) = jwks else { return Ok(self) };
        let parsed: Value = serde_json::from_str(jwks.expose())
            .map_err(|e| format!("MADBASE_AUTH_JWT_KEYS is not JSON: {e}"))?;
        let list = match &parsed {
            Value::Array(a) => a.clone(),
            Value::Object(o) => o
                .get("keys")
                .and_then(Value::as_array)
                .cloned()
                .ok_or("MADBASE_AUTH_JWT_KEYS must be a JWK array or {\"keys\": [...]}")?,
            _ => return Err("MADBASE_AUTH_JWT_KEYS must be a JWK array".into()),
        };
        for (i, jwk) in list.iter().enumerate() {
            let key = parse_jwk(jwk).map_err(|e| format!("MADBASE_AUTH_JWT_KEYS key {i}: {e}"))?;
            if self.asymmetric.iter().any(|k| k.kid == key.kid) {
                return Err(format!(
                    "MADBASE_AUTH_JWT_KEYS key {i}: `kid` {} is used twice",
                    key.kid
                ));
            }
            self.asymmetric.push(key);
        }
        self.signer = self.pick_signer(None);
        Ok(self)
    }

    /// The private key that signs among those of algorithm `alg` (any, when `None`): the one
    /// marked `sign`, else the first.
    fn pick_signer(&self, alg: Option<Algorithm>) -> Option<usize> {
        let usable = |k: &AsymmetricKey| k.encoding.is_some() && alg.is_none_or(|a| a == k.alg);
        self.asymmetric
            .iter()
            .position(|k| usable(k) && k.marked_sign)
            .or_else(|| self.asymmetric.iter().position(usable))
    }

    /// Chooses the signing algorithm (`MADBASE_AUTH_JWT_SIGNING_ALG`): HS256 signs with the
    /// secret even when asymmetric keys are listed; ES256/RS256 need a private key of that type.
    pub fn with_signing_alg(mut self, alg: Option<JwtSigningAlg>) -> Result<Self, String> {
        let wanted = match alg {
            None => return Ok(self),
            Some(JwtSigningAlg::Hs256) => {
                self.signer = None;
                return Ok(self);
            }
            Some(JwtSigningAlg::Es256) => Algorithm::ES256,
            Some(JwtSigningAlg::Rs256) => Algorithm::RS256,
        };
        self.signer = Some(self.pick_signer(Some(wanted)).ok_or_else(|| {
            format!(
                "MADBASE_AUTH_JWT_SIGNING_ALG is {wanted:?} but MADBASE_AUTH_JWT_KEYS has no {} private key",
                if wanted == Algorithm::RS256 { "RSA" } else { "EC P-256" }
            )
        })?);
        Ok(self)
    }

    /// The algorithm and `kid` user access tokens are signed with (`HS256` has no `kid`).
    pub fn signing_key(&self) -> (Algorithm, Option<&str>) {
        match self.signer.and_then(|i| self.asymmetric.get(i)) {
            Some(k) => (k.alg, Some(k.kid.as_str())),
            None => (Algorithm::HS256, None),
        }
    }

    /// Signs a user access token: with the asymmetric signing key when one is configured
    /// (header `kid`), else HS256 with the project secret.
    pub fn sign_user_token(&self, claims: &Value) -> String {
        if let Some(key) = self.signer.and_then(|i| self.asymmetric.get(i))
            && let Some(enc) = &key.encoding
        {
            let mut header = Header::new(key.alg);
            header.kid = Some(key.kid.clone());
            // The key was checked when it was loaded; signing a JSON value cannot fail.
            return jsonwebtoken::encode(&header, claims, enc).unwrap_or_default();
        }
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap_or_default()
    }

    /// The public keys, as `GET /auth/v1/.well-known/jwks.json` publishes them.
    pub fn public_jwks(&self) -> Value {
        json!({"keys": self.asymmetric.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>()})
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

    /// Verifies the signature and expiry and returns the claims: HS256 with the secret, or
    /// ES256/RS256 with the configured key named by `kid` (any key of that algorithm when the
    /// token has no `kid`).
    pub fn verify(&self, token: &str) -> Result<Value, JwtError> {
        self.decode(token, true)
    }

    /// Verifies the signature only, for callers that check the claims by rules of their own
    /// (the data API checks them as PostgREST does).
    pub fn verify_signature(&self, token: &str) -> Result<Value, JwtError> {
        self.decode(token, false)
    }

    fn decode(&self, token: &str, check_exp: bool) -> Result<Value, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| JwtError::Malformed(NOT_WELL_FORMED.into()))?;
        let (decoding, validation) = if header.alg == Algorithm::HS256 {
            (&self.decoding, self.validation.clone())
        } else {
            let mut candidates = self
                .asymmetric
                .iter()
                .filter(|k| k.alg == header.alg)
                .filter(|k| header.kid.as_ref().is_none_or(|kid| *kid == k.kid));
            let Some(key) = candidates.next() else {
                return Err(JwtError::Malformed(UNSUPPORTED_ALGORITHM.into()));
            };
            let mut v = self.validation.clone();
            v.algorithms = vec![key.alg];
            (&key.decoding, v)
        };
        let mut validation = validation;
        validation.validate_exp = check_exp;
        match jsonwebtoken::decode::<Value>(token, decoding, &validation) {
            Ok(data) if data.claims.is_object() => Ok(data.claims),
            Ok(_) => Err(JwtError::Malformed(NOT_AN_OBJECT.into())),
            Err(e) => Err(match e.kind() {
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::InvalidAlgorithm => JwtError::Malformed(UNSUPPORTED_ALGORITHM.into()),
                // The signature checked out; its claims did not parse as an object.
                ErrorKind::Json(_) => JwtError::Malformed(NOT_AN_OBJECT.into()),
                _ => JwtError::Malformed(NOT_WELL_FORMED.into()),
            }),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(v: Option<&Value>, name: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let s = v
        .and_then(Value::as_str)
        .ok_or(format!("missing `{name}`"))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| format!("`{name}` is not base64url"))
}

/// RFC 7638's thumbprint of a public EC or RSA key: a `kid` for a key given without one.
fn thumbprint(jwk: &Value) -> Option<String> {
    use sha2::Digest as _;
    let text = |k: &str| jwk.get(k).and_then(Value::as_str);
    // The required members in lexicographic order, without whitespace.
    let canonical = match text("kty")? {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            json!(text("crv")?),
            json!(text("x")?),
            json!(text("y")?)
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            json!(text("e")?),
            json!(text("n")?)
        ),
        _ => return None,
    };
    Some(b64(&sha2::Sha256::digest(canonical.as_bytes())))
}

fn parse_jwk(jwk: &Value) -> Result<AsymmetricKey, String> {
    // A key without `kid` (as PostgREST takes them) is named by its thumbprint; tokens without
    // a `kid` are tried against every key of their algorithm anyway.
    let kid = match jwk.get("kid") {
        Some(Value::String(kid)) => kid.clone(),
        None => thumbprint(jwk).ok_or("missing `kid`")?,
        Some(_) => return Err("`kid` must be a string".into()),
    };
    let marked_sign = jwk
        .get("key_ops")
        .and_then(Value::as_array)
        .is_some_and(|ops| ops.iter().any(|o| o == "sign"));
    match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err("only EC keys on P-256 (ES256) are supported".into());
            }
            let x = unb64(jwk.get("x"), "x")?;
            let y = unb64(jwk.get("y"), "y")?;
            let encoding = match jwk.get("d") {
                None => None,
                Some(d) => {
                    use p256::pkcs8::EncodePrivateKey as _;
                    let d = unb64(Some(d), "d")?;
                    let sk =
                        p256::SecretKey::from_slice(&d).map_err(|_| "`d` is not a P-256 key")?;
                    let der = sk.to_pkcs8_der().map_err(|e| e.to_string())?;
                    Some(EncodingKey::from_ec_der(der.as_bytes()))
                }
            };
            let decoding = DecodingKey::from_ec_components(&b64(&x), &b64(&y))
                .map_err(|e| format!("bad EC public key: {e}"))?;
            Ok(AsymmetricKey {
                public_jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y),
                                   "kid": kid, "alg": "ES256", "use": "sig", "key_ops": ["verify"]}),
                kid,
                alg: Algorithm::ES256,
                decoding,
                encoding,
                marked_sign,
            })
        }
        Some("RSA") => {
            if jwk
                .get("alg")
                .and_then(Value::as_str)
                .is_some_and(|a| a != "RS256")
            {
                return Err("RSA keys must be for RS256".into());
            }
            let n = unb64(jwk.get("n"), "n")?;
            let e = unb64(jwk.get("e"), "e")?;
            let n = strip_leading_zeros(&n);
            if n.len() * 8 < RSA_MIN_BITS {
                return Err(format!("RSA keys need at least {RSA_MIN_BITS} bits"));
            }
            let encoding = match jwk.get("d") {
                None => None,
                Some(d) => Some(rsa_signing_key(jwk, n, &e, &unb64(Some(d), "d")?)?),
            };
            Ok(AsymmetricKey {
                public_jwk: json!({"kty": "RSA", "n": b64(n), "e": b64(&e),
                                   "kid": kid, "alg": "RS256", "use": "sig", "key_ops": ["verify"]}),
                kid,
                alg: Algorithm::RS256,
                decoding: DecodingKey::from_rsa_raw_components(n, &e),
                encoding,
                marked_sign,
            })
        }
        _ => Err("`kty` must be EC or RSA".into()),
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The signing key of an RSA private JWK: `n`, `e`, `d` and, when present, the primes `p` and
/// `q` (otherwise recovered); the key is checked for consistency before use.
fn rsa_signing_key(jwk: &Value, n: &[u8], e: &[u8], d: &[u8]) -> Result<EncodingKey, String> {
    use rsa::BigUint;
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    let primes = match (jwk.get("p"), jwk.get("q")) {
        (Some(p), Some(q)) => vec![
            BigUint::from_bytes_be(&unb64(Some(p), "p")?),
            BigUint::from_bytes_be(&unb64(Some(q), "q")?),
        ],
        _ => Vec::new(),
    };
    let key = rsa::RsaPrivateKey::from_components(
        BigUint::from_bytes_be(n),
        BigUint::from_bytes_be(e),
        BigUint::from_bytes_be(d),
        primes,
    )
    .map_err(|e| format!("not a consistent RSA private key: {e}"))?;
    let der = key
        .to_pkcs1_der()
        .map_err(|e| format!("encoding the RSA key: {e}"))?;
    Ok(EncodingKey::from_rsa_der(der.as_bytes()))
}

/// A fresh ES256 private JWK with `kid`, for `MADBASE_AUTH_JWT_KEYS`.
pub fn generate_es256_jwk(kid: &str) -> Value {
    let mut bytes = [0u8; 32];
    let sk = loop {
        rand::fill(&mut bytes);
        if let Ok(k) = p256::SecretKey::from_slice(&bytes) {
            break k;
        }
    };
    let point =
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&sk.public_key(), false);
    json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "key_ops": ["sign", "verify"],
        "d": b64(&sk.to_bytes()),
        "x": b64(point.x().map(|x| &x[..]).unwrap_or_default()),
        "y": b64(point.y().map(|y| &y[..]).unwrap_or_default()),
    })
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

/// Tokens whose signature has been verified, with their claims: verifying again would give
/// the same answer, and costs far more than a lookup (an ES256 signature most of all). Used by
/// the gateway for the API keys, which arrive with nearly every request, and by the data API
/// for bearer tokens (PostgREST's JWT cache). Only tokens that verified are stored, so junk
/// cannot fill it; an entry is trusted until the token's own `exp` (with the verifier's
/// leeway); the keys are fixed for the life of the process. When full, expired entries go
/// first; if that is not enough, the eighth that would expire soonest (tokens without `exp`
/// last), so a flood of new tokens churns a slice of the cache, never all of it.
pub struct TokenCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, Cached>>,
    capacity: usize,
}

/// A verified token's claims and when the cache stops trusting them (seconds since the epoch,
/// infinite for a token without `exp`).
struct Cached {
    until: f64,
    claims: std::sync::Arc<Claims>,
}

/// The verifier's leeway on `exp`, in seconds (see [`JwtKeys::new`]).
const EXP_LEEWAY_SECS: f64 = 30.0;

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            entries: Default::default(),
            capacity,
        }
    }

    /// Until when `claims` may be trusted: `None` when their `exp` is not a number (the
    /// claim checks refuse such a token; it is not worth keeping).
    fn trusted_until(claims: &Claims) -> Option<f64> {
        match claims.value().get("exp") {
            None => Some(f64::INFINITY),
            Some(exp) => exp.as_f64().map(|exp| exp + EXP_LEEWAY_SECS),
        }
    }

    fn now() -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    /// The claims of `token` if it verified before and has not expired.
    pub fn get(&self, token: &str) -> Option<std::sync::Arc<Claims>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let cached = entries.get(token)?;
        (Self::now() <= cached.until).then(|| cached.claims.clone())
    }

    /// Remembers a token that verified.
    pub fn put(&self, token: &str, claims: &std::sync::Arc<Claims>) {
        if self.capacity == 0 {
            return;
        }
        let Some(until) = Self::trusted_until(claims) else {
            return;
        };
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(token) {
            let now = Self::now();
            entries.retain(|_, c| now <= c.until);
            if entries.len() >= self.capacity {
                Self::evict_soonest(&mut entries, (self.capacity / 8).max(1));
            }
        }
        entries.insert(
            token.to_owned(),
            Cached {
                until,
                claims: claims.clone(),
            },
        );
    }

    /// Drops the `n` entries that would expire soonest.
    fn evict_soonest(entries: &mut std::collections::HashMap<String, Cached>, n: usize) {
        let mut soonest: Vec<(f64, &String)> = entries.iter().map(|(k, c)| (c.until, k)).collect();
        let n = n.min(soonest.len());
        if n == 0 {
            return;
        }
        soonest.select_nth_unstable_by(n - 1, |a, b| a.0.total_cmp(&b.0));
        let gone: Vec<String> = soonest[..n].iter().map(|(_, k)| (*k).clone()).collect();
        for k in gone {
            entries.remove(&k);
        }
    }

    /// How many tokens it holds.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
    fn es256_keys_sign_verify_publish_and_rotate() {
        let old = generate_es256_jwk("old");
        let mut new = generate_es256_jwk("new");
        let jwks = |list: Value| Secret::new(list.to_string());
        let before = keys()
            .with_jwks(Some(&jwks(json!([old.clone()]))))
            .expect("jwks");
        let old_token = before.sign_user_token(&json!({"sub": "u", "role": "authenticated"}));
        let header = jsonwebtoken::decode_header(&old_token).expect("header");
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("old"));
        // Rotation: the new key signs, the old one stays listed for verification only.
        let mut old_verify_only = old.clone();
        old_verify_only["key_ops"] = json!(["verify"]);
        new["key_ops"] = json!(["sign", "verify"]);
        let after = keys()
            .with_jwks(Some(&jwks(json!([old_verify_only, new]))))
            .expect("jwks");
        assert_eq!(
            after.verify(&old_token).expect("old still valid")["sub"],
            "u"
        );
        let new_token = after.sign_user_token(&json!({"sub": "v"}));
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .expect("h")
                .kid
                .as_deref(),
            Some("new")
        );
        assert_eq!(after.verify(&new_token).expect("new")["sub"], "v");
        // HS256 API keys keep verifying next to the asymmetric keys.
        assert_eq!(
            after
                .verify(&after.mint_api_key("anon", "x", 1_700_000_000))
                .expect("hs")["role"],
            "anon"
        );
        let published = after.public_jwks();
        assert_eq!(published["keys"].as_array().map(Vec::len), Some(2));
        assert!(
            published["keys"][0].get("d").is_none(),
            "private part leaked"
        );
        // A token signed by a key not listed is refused.
        let stranger = keys()
            .with_jwks(Some(&jwks(json!([generate_es256_jwk("new")]))))
            .expect("jwks");
        assert!(
            after
                .verify(&stranger.sign_user_token(&json!({"sub": "x"})))
                .is_err()
        );
    }

    /// A fresh RS256 private JWK (2048 bits), with or without its primes.
    fn rs256_jwk(kid: &str, with_primes: bool) -> Value {
        use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa key");
        let mut jwk = json!({
            "kty": "RSA", "kid": kid, "alg": "RS256",
            "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
            "d": b64(&key.d().to_bytes_be()),
        });
        if with_primes {
            jwk["p"] = json!(b64(&key.primes()[0].to_bytes_be()));
            jwk["q"] = json!(b64(&key.primes()[1].to_bytes_be()));
        }
        jwk
    }

    #[test]
    fn rs256_keys_sign_verify_publish_and_are_chosen_by_setting() {
        let rsa = rs256_jwk("rs-1", true);
        let es = generate_es256_jwk("es-1");
        let set = Secret::new(json!([es.clone(), rsa.clone()]).to_string());
        // Unset: the first private key (here EC) signs.
        let by_order = keys().with_jwks(Some(&set)).expect("jwks");
        assert_eq!(by_order.signing_key(), (Algorithm::ES256, Some("es-1")));
        let rs = keys()
            .with_jwks(Some(&set))
            .and_then(|k| k.with_signing_alg(Some(JwtSigningAlg::Rs256)))
            .expect("rs256 chosen");
        assert_eq!(rs.signing_key(), (Algorithm::RS256, Some("rs-1")));
        let token = rs.sign_user_token(&json!({"sub": "u", "exp": 4_000_000_000_u64}));
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::RS256, Some("rs-1"))
        );
        assert_eq!(rs.verify(&token).expect("verifies")["sub"], "u");
        // Rotation: ES256 signs now; the RS256 token stays valid while its key is listed.
        let es_now = keys()
            .with_jwks(Some(&set))
            .and_then(|k| k.with_signing_alg(Some(JwtSigningAlg::Es256)))
            .expect("es256 chosen");
        assert_eq!(
            es_now.verify(&token).expect("old RS256 still valid")["sub"],
            "u"
        );
        let without_rsa = keys()
            .with_jwks(Some(&Secret::new(json!([es]).to_string())))
            .expect("jwks");
        assert!(
            without_rsa.verify(&token).is_err(),
            "a dropped key no longer verifies"
        );
        // Tampered payloads fail the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(br#"{"sub":"admin","exp":4000000000}"#);
        parts[1] = &forged;
        assert_eq!(rs.verify(&parts.join(".")), Err(JwtError::BadSignature));
        // HS256 can be forced; the published set never carries private parts.
        let hs = rs
            .clone()
            .with_signing_alg(Some(JwtSigningAlg::Hs256))
            .expect("hs");
        assert_eq!(hs.signing_key(), (Algorithm::HS256, None));
        let published = rs.public_jwks().to_string();
        for private in ["\"d\"", "\"p\"", "\"q\""] {
            assert!(!published.contains(private), "{published}");
        }
        // Primes are optional: they are recovered from n, e and d.
        let no_primes = keys()
            .with_jwks(Some(&Secret::new(
                json!([rs256_jwk("rs-2", false)]).to_string(),
            )))
            .expect("jwks");
        let t = no_primes.sign_user_token(&json!({"sub": "v"}));
        assert_eq!(no_primes.verify(&t).expect("verifies")["sub"], "v");
    }

    #[test]
    fn signing_algorithm_without_a_matching_key_is_a_start_up_error() {
        let only_es = Secret::new(json!([generate_es256_jwk("es")]).to_string());
        let err = keys()
            .with_jwks(Some(&only_es))
            .and_then(|k| k.with_signing_alg(Some(JwtSigningAlg::Rs256)))
            .map(|_| ())
            .expect_err("no RSA key");
        assert!(err.contains("no RSA private key"), "{err}");
        let mut public_only = rs256_jwk("pub", true);
        for k in ["d", "p", "q"] {
            public_only.as_object_mut().expect("object").remove(k);
        }
        let err = keys()
            .with_jwks(Some(&Secret::new(json!([public_only]).to_string())))
            .and_then(|k| k.with_signing_alg(Some(JwtSigningAlg::Rs256)))
            .map(|_| ())
            .expect_err("public RSA keys cannot sign");
        assert!(err.contains("no RSA private key"), "{err}");
    }

    #[test]
    fn a_key_without_kid_is_named_by_its_thumbprint_and_verifies() {
        // RFC 7638, section 3.1.
        let rfc = json!({"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            thumbprint(&rfc).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        // Keys given without `kid` (as PostgREST takes them): the signer's private key and the
        // verifier's public one get the same name, so the verifier finds the signer's key.
        let mut private = generate_es256_jwk("unused");
        private.as_object_mut().expect("jwk").remove("kid");
        let signer = keys()
            .with_jwks(Some(&Secret::new(json!([private.clone()]).to_string())))
            .expect("a private key without kid");
        let token = signer.sign_user_token(&json!({"sub": "u", "role": "authenticated"}));
        let kid = jsonwebtoken::decode_header(&token).expect("header").kid;
        assert_eq!(kid, thumbprint(&private));
        let mut public = private;
        for k in ["d", "key_ops"] {
            public.as_object_mut().expect("jwk").remove(k);
        }
        let verifier = keys()
            .with_jwks(Some(&Secret::new(json!([public]).to_string())))
            .expect("a public key without kid");
        assert_eq!(verifier.verify(&token).expect("verified")["sub"], "u");
    }

    #[test]
    fn bad_jwks_are_clear_errors() {
        for bad in [
            "nope",
            "[{}]",
            r#"[{"kid":"a","kty":"EC","crv":"P-384","x":"AA","y":"AA"}]"#,
            r#"[{"kid":"small","kty":"RSA","n":"AQAB","e":"AQAB"}]"#,
        ] {
            assert!(keys().with_jwks(Some(&Secret::new(bad))).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let a = generate_secret();
        let b = generate_secret();
        assert_eq!(a.expose().len(), 40);
        assert_ne!(a, b);
    }
    #[test]
    fn cached_tokens_expire_with_their_token_and_stay_bounded() {
        let cache = TokenCache::new(64);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        cache.put(
            "forever",
            &std::sync::Arc::new(Claims::new(json!({"role": "anon"}))),
        );
        cache.put(
            "valid",
            &std::sync::Arc::new(Claims::new(json!({"role": "anon", "exp": now + 3600}))),
        );
        cache.put(
            "in-leeway",
            &std::sync::Arc::new(Claims::new(json!({"role": "anon", "exp": now - 10}))),
        );
        cache.put(
            "expired",
            &std::sync::Arc::new(Claims::new(json!({"role": "anon", "exp": now - 120}))),
        );
        cache.put(
            "odd-exp",
            &std::sync::Arc::new(Claims::new(json!({"role": "anon", "exp": "soon"}))),
        );
        assert!(cache.get("forever").is_some());
        assert!(cache.get("valid").is_some());
        assert!(cache.get("in-leeway").is_some());
        assert!(cache.get("expired").is_none());
        assert!(cache.get("odd-exp").is_none());
        assert!(cache.get("never-seen").is_none());
        for i in 0..(64 + 1) {
            cache.put(
                &format!("k{i}"),
                &std::sync::Arc::new(Claims::new(json!({"role": "anon"}))),
            );
        }
        assert!(cache.len() <= 64, "bounded");
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first_then_the_soonest_to_expire() {
        let now = TokenCache::now() as i64;
        let cache = TokenCache::new(3);
        let claims = |exp: i64| std::sync::Arc::new(Claims::new(json!({"exp": exp})));
        cache.put("old", &claims(now - 120));
        cache.put("a", &claims(now + 600));
        cache.put("b", &claims(now + 600));
        cache.put("c", &claims(now + 600));
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.len(), 3);
        // Nothing expired: the one closest to its expiry makes room, the others stay.
        let full = TokenCache::new(16);
        for i in 0..16 {
            full.put(&format!("t{i}"), &claims(now + 1000 + i));
        }
        full.put(
            "key",
            &std::sync::Arc::new(Claims::new(json!({"role": "anon"}))),
        );
        full.put("new", &claims(now + 5000));
        assert!(
            full.get("t0").is_none() && full.get("t1").is_none(),
            "soonest gone"
        );
        assert!(full.get("t2").is_some() && full.get("t15").is_some());
        assert!(full.get("key").is_some() && full.get("new").is_some());
        assert_eq!(full.len(), 16);
        // Tokens without `exp` all tie: still only a slice goes.
        let keys = TokenCache::new(8);
        for i in 0..9 {
            keys.put(
                &format!("k{i}"),
                &std::sync::Arc::new(Claims::new(json!({}))),
            );
        }
        assert_eq!(keys.len(), 8);
        assert!(keys.get("k8").is_some());
        // Putting a token it holds again makes no room.
        keys.put("k8", &std::sync::Arc::new(Claims::new(json!({}))));
        assert_eq!(keys.len(), 8);
        let off = TokenCache::new(0);
        off.put("a", &claims(now + 600));
        assert!(off.get("a").is_none());
    }
}
