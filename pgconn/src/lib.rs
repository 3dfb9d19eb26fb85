//! Connections to a PostgreSQL server MadBase does not run: a database URL read the way libpq
//! reads it, TLS included.
//!
//! [`DbUrl::parse`] takes either of libpq's forms (`postgres://user:pw@host/db?opt=v` or
//! `host=h dbname=db opt=v`) and handles libpq's TLS options itself:
//!
//! - `sslmode`: `disable`, `allow` (treated as `prefer`), `prefer` (the default: TLS when the
//!   server offers it), `require`, `verify-ca`, `verify-full`;
//! - `sslrootcert`: a PEM file of trusted roots, or `system` for the operating system's store
//!   (which then needs, and defaults to, `verify-full`); without it `~/.postgresql/root.crt`
//!   is used when it exists, as libpq does, and then `require` checks the chain too;
//! - `sslcert` and `sslkey`: a client certificate and its key, PEM;
//! - `sslsni=0`: no server name in the handshake;
//! - `sslcrl` (a PEM file) and `sslcrldir` (a directory laid out by `openssl rehash`):
//!   certificate revocation lists, checked wherever the chain is (without them
//!   `~/.postgresql/root.crl` when it exists). As with libpq, every certificate of the chain
//!   then needs its issuer's list, and a list past its next update fails the check; unlike
//!   libpq, a list that is named but unreadable is an error, not silently skipped.
//!
//! As with libpq, an option the string leaves out is taken from its environment variable
//! (`PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, `PGSSLSNI`, `PGSSLCRL`,
//! `PGSSLCRLDIR`), so a deployment can set
//! TLS for a URL it does not write (the operator does, from `spec.database.tls`).
//!
//! The rest, `sslnegotiation=direct` included, is `tokio-postgres`'s to parse. The same
//! [`Tls`] serves `tokio-postgres` connections ([`DbUrl::connect`], pools through
//! [`Tls::tokio_postgres`]) and connections that speak the protocol themselves
//! ([`Tls::negotiate`]). Unix sockets never use TLS, as with libpq. Over TLS, SCRAM
//! authentication binds to the channel (`SCRAM-SHA-256-PLUS`, `tls-server-end-point`) when
//! the server offers it, unless `channel_binding=disable`; `channel_binding=require` refuses a
//! server that does not.

mod options;
mod tls;

#[cfg(feature = "testing")]
pub mod testing;

use std::path::PathBuf;
use std::str::FromStr as _;

pub use tls::{MakeRustls, MaybeTls, RustlsConnect, SslMode, Tls, TlsError};

use tls::Roots;

/// Why a database URL cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UrlError {
    /// It does not parse. The message never repeats the URL, which may hold a password.
    #[error("invalid database URL: {0}")]
    Invalid(String),
    /// Its TLS options cannot be met (a file unreadable, a mode and roots at odds).
    #[error("database URL: {0}")]
    Tls(String),
}

/// TLS material held in memory (e.g. read from Kubernetes objects) rather than in files; each
/// part, with what to call it in errors, stands in for the file the URL or environment would
/// name.
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemoryTls<'a> {
    /// PEM CA certificates trusted for the server (libpq's `sslrootcert`).
    pub roots: Option<(&'a [u8], &'a str)>,
    /// PEM certificate revocation lists (libpq's `sslcrl`).
    pub crls: Option<(&'a [u8], &'a str)>,
}

/// A parsed database URL: the `tokio-postgres` settings and the TLS to use with them.
#[derive(Debug, Clone)]
pub struct DbUrl {
    pg: tokio_postgres::Config,
    tls: Tls,
}

impl DbUrl {
    /// Parses `text` and reads the certificate files it names; options it leaves out come
    /// from the process environment.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        Self::parse_with_env(text, &|name| std::env::var(name).ok())
    }

    /// [`DbUrl::parse`] with `env` for the environment.
    pub fn parse_with_env(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UrlError> {
        Self::parse_inner(text, env, &InMemoryTls::default())
    }

    /// [`DbUrl::parse_with_env`] where the trusted roots, unless the URL or `env` name their
    /// own, are the PEM certificates in `roots_pem` (a CA bundle held in memory, called
    /// `label` in errors) rather than libpq's default file.
    pub fn parse_with_roots(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        roots_pem: &[u8],
        label: &str,
    ) -> Result<Self, UrlError> {
        let memory = InMemoryTls {
            roots: Some((roots_pem, label)),
            crls: None,
        };
        Self::parse_inner(text, env, &memory)
    }

    /// [`DbUrl::parse_with_env`] with the trusted roots and revocation lists held in memory
    /// ([`InMemoryTls`]), each used where the URL and `env` name no file of their own.
    pub fn parse_with_memory(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        memory: &InMemoryTls<'_>,
    ) -> Result<Self, UrlError> {
        Self::parse_inner(text, env, memory)
    }

    fn parse_inner(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        memory: &InMemoryTls<'_>,
    ) -> Result<Self, UrlError> {
        let roots_pem = memory.roots;
        let (rest, mut ours) = options::split(text)?;
        for (option, variable) in options::OURS.iter().zip(options::ENV) {
            if !ours.iter().any(|(name, _)| name == option)
                && let Some(value) = env(variable).filter(|v| !v.is_empty())
            {
                ours.push((*option, value));
            }
        }
        let mut pg = tokio_postgres::Config::from_str(&rest)
            .map_err(|e| UrlError::Invalid(e.to_string()))?;
        let (mut mode, mut rootcert, mut cert, mut key, mut sni) = (None, None, None, None, true);
        let (mut crl, mut crl_dir) = (None, None);
        for (name, value) in ours {
            match name {
                "sslmode" => mode = Some(tls::parse_mode(&value)?),
                "sslrootcert" => rootcert = Some(value),
                "sslcert" => cert = Some(value),
                "sslkey" => key = Some(value),
                "sslcrl" => crl = Some(value).filter(|v| !v.is_empty()),
                "sslcrldir" => crl_dir = Some(value).filter(|v| !v.is_empty()),
                _ => {
                    sni = match value.as_str() {
                        "1" => true,
                        "0" => false,
                        _ => {
                            return Err(UrlError::Invalid("sslsni must be 0 or 1".into()));
                        }
                    }
                }
            }
        }
        let roots = match rootcert {
            Some(r) if r == "system" => Roots::System,
            Some(path) => Roots::File(path),
            None => match roots_pem {
                Some((pem, label)) => Roots::Pem(pem.into(), label.to_owned()),
                None => default_root_file().map_or(Roots::None, Roots::File),
            },
        };
        let mode = mode.unwrap_or(match roots {
            // libpq: `system` makes `verify-full` the default.
            Roots::System => SslMode::VerifyFull,
            _ => SslMode::Prefer,
        });
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(UrlError::Tls(
                    "sslcert and sslkey go together: name both or neither".into(),
                ));
            }
        };
        let direct = pg.get_ssl_negotiation() == tokio_postgres::config::SslNegotiation::Direct;
        if direct && !mode.requires_tls() {
            return Err(UrlError::Invalid(
                "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full".into(),
            ));
        }
        // libpq ignores sslmode on Unix sockets; tokio-postgres would ask for TLS there, and
        // fail under `require`.
        let only_unix = pg
            .get_hosts()
            .iter()
            .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
        pg.ssl_mode(match only_unix && !pg.get_hosts().is_empty() {
            true => tokio_postgres::config::SslMode::Disable,
            false => tls::for_tokio_postgres(mode),
        });
        // The lists in memory stand in for an `sslcrl` file, beside an `sslcrldir` as a file
        // would be; libpq's default file only when neither is named.
        let crls = match (crl, crl_dir, memory.crls) {
            (None, None, None) => default_crl_file()
                .map(|f| tls::load_crls(Some(&f), None))
                .transpose()?
                .unwrap_or_default(),
            (None, dir, Some((pem, label))) => {
                let mut crls = tls::parse_crls(pem, label)?;
                crls.extend(tls::load_crls(None, dir.as_deref())?);
                crls
            }
            (file, dir, _) => tls::load_crls(file.as_deref(), dir.as_deref())?,
        };
        let tls = Tls::build(mode, roots, client, sni, direct, crls)?;
        Ok(Self { pg, tls })
    }

    /// The settings for `tokio-postgres`.
    pub fn pg(&self) -> &tokio_postgres::Config {
        &self.pg
    }

    /// The settings for `tokio-postgres`, to adjust (timeouts, application name).
    pub fn pg_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.pg
    }

    /// The TLS to use.
    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    /// Connects with `tokio-postgres`; the caller drives the returned connection.
    pub async fn connect(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, MaybeTls<tokio_postgres::Socket>>,
        ),
        tokio_postgres::Error,
    > {
        self.pg.connect(self.tls.tokio_postgres()).await
    }
}

/// A `tokio-postgres` error with its causes: its own text leaves out why a connection failed
/// ("error performing TLS handshake", but not which certificate was refused and why).
pub fn error_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// libpq's default root certificate file, when it exists.
fn default_root_file() -> Option<String> {
    default_file("root.crt")
}

/// libpq's default revocation list, `~/.postgresql/root.crl`, if there is one.
fn default_crl_file() -> Option<String> {
    default_file("root.crl")
}

fn default_file(name: &str) -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let path = PathBuf::from(home).join(".postgresql").join(name);
    path.is_file().then(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_map_to_what_tokio_postgres_negotiates() {
        use tokio_postgres::config::SslMode as T;
        for (text, expected) in [
            ("postgres://u@h/db?sslmode=disable", T::Disable),
            ("postgres://u@h/db?sslmode=allow", T::Prefer),
            ("postgres://u@h/db", T::Prefer),
            ("postgres://u@h/db?sslmode=require", T::Require),
            ("host=h user=u sslmode=require", T::Require),
            // Unix sockets never use TLS, whatever sslmode says.
            (
                "host=/run/postgresql user=u sslmode=verify-full sslrootcert=system",
                T::Disable,
            ),
            (
                "postgres://u@%2Frun%2Fpostgresql/db?sslmode=require",
                T::Disable,
            ),
        ] {
            let url = DbUrl::parse(text).expect(text);
            assert_eq!(url.pg().get_ssl_mode(), expected, "{text}");
        }
    }

    #[test]
    fn bad_tls_options_are_refused_with_a_reason() {
        let cases = [
            ("postgres://u@h/db?sslmode=verify", "sslmode must be"),
            (
                "postgres://u@h/db?sslmode=require&sslrootcert=system",
                "needs sslmode=verify-full",
            ),
            (
                "postgres://u@h/db?sslrootcert=/no/such/ca.pem",
                "sslrootcert /no/such/ca.pem",
            ),
            ("postgres://u@h/db?sslcert=/a.pem", "go together"),
            ("postgres://u@h/db?sslsni=yes", "sslsni must be"),
            (
                "postgres://u@h/db?sslmode=prefer&sslnegotiation=direct",
                "sslnegotiation=direct",
            ),
            ("postgres://u@h/db?nonsense=1", "invalid database URL"),
            (
                "postgres://u:secret-pw@h:notaport/db",
                "invalid database URL",
            ),
        ];
        for (text, needle) in cases {
            let err = DbUrl::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(!err.contains("secret-pw"), "{text}: {err}");
        }
        // Without roots, verification has nothing to check against (unless libpq's default
        // file exists, which a test cannot count on either way).
        if default_root_file().is_none() {
            let err = DbUrl::parse("postgres://u@h/db?sslmode=verify-full").expect_err("no roots");
            assert!(err.to_string().contains("needs trusted roots"), "{err}");
        }
    }

    #[test]
    fn options_left_out_come_from_libpq_environment_variables() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("require".to_owned()),
            "PGSSLSNI" => Some("0".to_owned()),
            "PGSSLROOTCERT" => Some("/no/such/root.pem".to_owned()),
            _ => None,
        };
        // The environment fills in...
        let err = DbUrl::parse_with_env("postgres://u@h/db", &env).expect_err("root file");
        assert!(err.to_string().contains("/no/such/root.pem"), "{err}");
        // ...but what the URL says wins.
        let url = DbUrl::parse_with_env(
            "postgres://u@h/db?sslmode=disable&sslrootcert=/also/missing.pem",
            &env,
        )
        .expect("disable reads no file");
        assert_eq!(url.tls().mode(), SslMode::Disable);
        let bad = |name: &str| (name == "PGSSLMODE").then(|| "sometimes".to_owned());
        let err = DbUrl::parse_with_env("host=h user=u", &bad).expect_err("bad mode");
        assert!(err.to_string().contains("\"sometimes\""), "{err}");
    }

    #[test]
    fn mangled_urls_are_errors_never_panics() {
        // A seeded walk over edits of valid strings: every result is Ok or a UrlError.
        let seeds = [
            "postgres://u:p@h:5432/db?sslmode=require&sslrootcert=/x.pem&application_name=a",
            "host=h port=5432 user=u sslmode='verify-ca' sslrootcert='/a b.pem'",
        ];
        let pieces = [
            "?",
            "&",
            "=",
            "'",
            "\\",
            "%",
            "%ZZ",
            "%00",
            " ",
            "sslmode",
            "sslkey",
            "sslsni=",
            "system",
            "verify-full",
            "://",
            "@",
            ":",
            "/",
            "\u{1F600}",
            "",
        ];
        let mut state: u64 = 0x5eed;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let env = |_: &str| None;
        for _ in 0..20_000 {
            let mut text: String = seeds[next(seeds.len())].to_owned();
            for _ in 0..1 + next(4) {
                let chars: Vec<char> = text.chars().collect();
                let at = next(chars.len() + 1);
                let cut = (at + next(4)).min(chars.len());
                let mut out: String = chars[..at].iter().collect();
                out.push_str(pieces[next(pieces.len())]);
                out.extend(&chars[cut..]);
                text = out;
            }
            let _ = DbUrl::parse_with_env(&text, &env);
        }
    }

    #[test]
    fn system_roots_default_to_verify_full() {
        // An empty store (a bare container) is an error of its own; both say what they mean.
        match DbUrl::parse("postgres://u@h/db?sslrootcert=system") {
            Ok(url) => assert_eq!(url.tls().mode(), SslMode::VerifyFull),
            Err(e) => assert!(e.to_string().contains("CA store"), "{e}"),
        }
    }
}
