//! Passwords: the strength policy (GoTrue's `weak_password` reasons) and hashing.
//!
//! New hashes are Argon2id with OWASP's first recommended configuration: m = 19 MiB
//! (19 456 KiB), t = 2, p = 1 — about 20–40 ms per hash on one core of a current server.
//! Hashes imported from Supabase are bcrypt (`$2a$`/`$2b$`/`$2y$`, cost 10); they verify as
//! they are and the caller re-hashes with Argon2id after the next successful sign-in
//! ([`Verified::needs_rehash`]). Hashing runs on the blocking pool, never on the async runtime.
//! Comparisons are constant-time inside both libraries.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::error::{AuthError, AuthResult};

/// GoTrue's (and bcrypt's) maximum password length in bytes.
pub const MAX_PASSWORD_LENGTH: usize = 72;

/// Argon2id memory cost, KiB (OWASP: 19 MiB).
pub const ARGON2_M_KIB: u32 = 19_456;
/// Argon2id iterations (OWASP: 2).
pub const ARGON2_T: u32 = 2;
/// Argon2id lanes (OWASP: 1).
pub const ARGON2_P: u32 = 1;

/// The password rules of a project.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Character sets each of which the password must use.
    pub required_characters: Vec<String>,
}

/// Why a password is weak, as GoTrue words it: the message and the reasons.
pub fn weakness(policy: &PasswordPolicy, password: &str) -> Option<(String, Vec<&'static str>)> {
    let mut messages = Vec::new();
    let mut reasons = Vec::new();
    if password.chars().count() < policy.min_length {
        reasons.push("length");
        messages.push(format!(
            "Password should be at least {} characters.",
            policy.min_length
        ));
    }
    let missing = policy
        .required_characters
        .iter()
        .any(|set| !set.is_empty() && !password.chars().any(|c| set.contains(c)));
    if missing {
        reasons.push("characters");
        messages.push(format!(
            "Password should contain at least one character of each: {}.",
            policy.required_characters.join(", ")
        ));
    }
    (!reasons.is_empty()).then(|| (messages.join(" "), reasons))
}

/// Checks a new password: too long is `validation_failed`, weak is `weak_password`.
pub fn check_strength(policy: &PasswordPolicy, password: &str) -> AuthResult<()> {
    if password.len() > MAX_PASSWORD_LENGTH {
        return Err(AuthError::validation(format!(
            "Password cannot be longer than {MAX_PASSWORD_LENGTH} characters"
        )));
    }
    match weakness(policy, password) {
        Some((message, reasons)) => Err(AuthError::weak_password(message, reasons)),
        None => Ok(()),
    }
}

fn argon2() -> Argon2<'static> {
    // The constants are within Argon2's bounds, so building the parameters cannot fail.
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes synchronously (for the blocking pool and tests).
pub fn hash_blocking(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub ok: bool,
    /// The hash is not Argon2id with the current parameters (bcrypt from Supabase, or older
    /// parameters): store a new hash now that the password is known.
    pub needs_rehash: bool,
}

/// A real Argon2id hash checked when there is no user, so that unknown and known accounts take
/// the same time to refuse.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Ma9DRz0Nj6bO+RRnX5Ht1i8LY8qHRZ5Md0K+Dg8dBvA";

/// Verifies synchronously.
pub fn verify_blocking(password: &str, stored: Option<&str>) -> Verified {
    let no = Verified {
        ok: false,
        needs_rehash: false,
    };
    let Some(stored) = stored.filter(|s| !s.is_empty()) else {
        if let Ok(decoy) = PasswordHash::new(DECOY_HASH) {
            let _ = argon2().verify_password(password.as_bytes(), &decoy);
        }
        return no;
    };
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        let ok = bcrypt::verify(password, stored).unwrap_or(false);
        return Verified {
            ok,
            needs_rehash: ok,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return no;
    };
    let ok = match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => {
            // Verify with the parameters recorded in the hash itself.
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        }
        _ => false,
    };
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == ARGON2_M_KIB && p.t_cost() == ARGON2_T && p.p_cost() == ARGON2_P
        });
    Verified {
        ok,
        needs_rehash: ok && !current,
    }
}

/// Hashes a new password on the blocking pool.
pub async fn hash(password: &str) -> AuthResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(AuthError::internal)?
        .map_err(AuthError::internal)
}

/// Verifies a password on the blocking pool.
pub async fn verify(password: &str, stored: Option<String>) -> AuthResult<Verified> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || verify_blocking(&password, stored.as_deref()))
        .await
        .map_err(AuthError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: usize, sets: &[&str]) -> PasswordPolicy {
        PasswordPolicy {
            min_length: min,
            required_characters: sets.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn policy_reasons_and_messages_match_gotrue() {
        let p = policy(8, &["abc", "ABC", "123"]);
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("aB1aaaaa", Some(&[])),
            ("aB1", Some(&["length"])),
            ("abcdefgh", Some(&["characters"])),
            ("ab", Some(&["length", "characters"])),
        ];
        for (pw, want) in cases {
            let got = weakness(&p, pw).map(|(_, r)| r).unwrap_or_default();
            assert_eq!(got, want.unwrap_or(&[]).to_vec(), "{pw}");
        }
        let (msg, _) = weakness(&policy(6, &[]), "abc").expect("weak");
        assert_eq!(msg, "Password should be at least 6 characters.");
        let (msg, _) = weakness(&policy(6, &["ab", "CD"]), "xxxxxxx").expect("weak");
        assert_eq!(
            msg,
            "Password should contain at least one character of each: ab, CD."
        );
    }

    #[test]
    fn too_long_is_a_validation_error() {
        let e = check_strength(&policy(6, &[]), &"x".repeat(73)).expect_err("long");
        assert_eq!(e.code, "validation_failed");
        let e = check_strength(&policy(6, &[]), "x").expect_err("short");
        assert_eq!(e.code, "weak_password");
    }

    #[test]
    fn argon2id_round_trip_with_owasp_parameters() {
        let h = hash_blocking("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify_blocking("correct horse", Some(&h)),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!verify_blocking("wrong", Some(&h)).ok);
    }

    #[test]
    fn bcrypt_from_supabase_verifies_and_asks_for_an_upgrade() {
        let h = bcrypt::hash("hunter22", 4).expect("bcrypt");
        assert_eq!(
            verify_blocking("hunter22", Some(&h)),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert_eq!(
            verify_blocking("hunter23", Some(&h)),
            Verified {
                ok: false,
                needs_rehash: false
            }
        );
    }

    #[test]
    fn weaker_argon2_parameters_are_upgraded() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).expect("params"),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let h = weak
            .hash_password(b"pw123456", &salt)
            .expect("hash")
            .to_string();
        assert_eq!(
            verify_blocking("pw123456", Some(&h)),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
    }

    #[test]
    fn missing_or_garbage_hashes_never_verify() {
        assert!(!verify_blocking("x", None).ok);
        assert!(!verify_blocking("x", Some("")).ok);
        assert!(!verify_blocking("x", Some("plaintext")).ok);
    }
}
