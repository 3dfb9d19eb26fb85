//! For tests of TLS to PostgreSQL: a private CA made at test time and a scratch server that
//! presents a certificate it signed for `localhost` only, refuses plain TCP, admits the role
//! `certuser` by client certificate alone and `scramuser` by SCRAM password.

use std::path::{Path, PathBuf};

use madbase_pg::{EmbeddedPostgres, PgError, ScratchTls};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
    date_time_ymd,
};

/// The role the server admits by client certificate (`cert` authentication).
pub const CERT_USER: &str = "certuser";
/// The role the server admits by password (`scram-sha-256`), and its password.
pub const SCRAM_USER: (&str, &str) = ("scramuser", "scram-pw");

/// A private CA made at test time.
pub struct TestCa {
    /// Its certificate, PEM.
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
    /// The serial number of the next certificate it signs.
    next_serial: std::sync::atomic::AtomicU64,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA cert");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
            next_serial: 1.into(),
        }
    }

    /// A certificate for `names` (host names or IP addresses) with common name `cn`, and its
    /// key, both PEM. Serial numbers count from 1 in signing order.
    pub fn sign(&self, names: &[&str], cn: &str) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let serial = self
            .next_serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params.serial_number = Some(SerialNumber::from(serial));
        let cert = params.signed_by(&key, &self.issuer).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    /// A revocation list, PEM, revoking the certificates with these serial numbers, and
    /// current (its next update in 2100) or `expired` (its next update in 2021).
    pub fn crl(&self, revoked: &[u64], expired: bool) -> String {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2020, 1, 1),
            next_update: date_time_ymd(if expired { 2021 } else { 2100 }, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: date_time_ymd(2020, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.issuer)
            .and_then(|crl| crl.pem())
            .expect("CRL")
    }
}

/// A running server that demands TLS, and the files a client needs.
pub struct TlsServer {
    /// The server.
    pub pg: EmbeddedPostgres,
    dir: PathBuf,
}

impl TlsServer {
    /// Starts the server. Plain TCP is refused (`hostnossl … reject`); the Unix socket is
    /// trusted, for set-up.
    pub async fn start() -> Result<Self, PgError> {
        let ca = TestCa::new("MadBase test CA");
        // Only `localhost`: a client that checks names must refuse `127.0.0.1`.
        let (cert_pem, key_pem) = ca.sign(&["localhost"], "localhost");
        let hba = format!(
            "local all all trust\n\
             hostnossl all all all reject\n\
             hostssl all {CERT_USER} all cert\n\
             hostssl all {} all scram-sha-256\n\
             hostssl all all all trust\n",
            SCRAM_USER.0
        );
        let pg = EmbeddedPostgres::start_scratch_tls(
            &[],
            &ScratchTls {
                cert_pem,
                key_pem,
                client_ca_pem: Some(ca.pem.clone()),
                hba,
            },
        )
        .await?;
        let dir = std::env::temp_dir().join(format!(
            "madbase-pgconn-tls-{}-{}",
            std::process::id(),
            pg.port()
        ));
        std::fs::create_dir_all(&dir).map_err(|source| PgError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
        let other = TestCa::new("Somebody else's CA");
        let (client_cert, client_key) = ca.sign(&[], CERT_USER);
        let (stranger_cert, stranger_key) = other.sign(&[], CERT_USER);
        // The server's certificate is the CA's first (serial 1).
        let revoked = ca.crl(&[1], false);
        let clean = ca.crl(&[99], false);
        let expired = ca.crl(&[99], true);
        let others = other.crl(&[], false);
        std::fs::create_dir_all(dir.join("crl-dir")).map_err(|source| PgError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
        let files = [
            ("revoked.crl", revoked.as_str()),
            ("clean.crl", clean.as_str()),
            ("expired.crl", expired.as_str()),
            ("other-ca.crl", others.as_str()),
            ("crl-dir/5d30f3c5.r0", revoked.as_str()),
            ("crl-dir/README", "not a revocation list"),
            ("ca.pem", ca.pem.as_str()),
            ("other-ca.pem", other.pem.as_str()),
            ("client.crt", client_cert.as_str()),
            ("client.key", client_key.as_str()),
            ("stranger.crt", stranger_cert.as_str()),
            ("stranger.key", stranger_key.as_str()),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            let written = std::fs::write(&path, text).and_then(|()| {
                // Keys readable by their owner only, as libpq demands.
                let mode = if name.ends_with(".key") { 0o600 } else { 0o644 };
                std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            });
            written.map_err(|source| PgError::Io {
                context: format!("writing {}", path.display()),
                source,
            })?;
        }
        let server = Self { pg, dir };
        server.create_roles().await?;
        Ok(server)
    }

    async fn create_roles(&self) -> Result<(), PgError> {
        let fail = |detail: String| PgError::Step {
            step: "creating the TLS test roles",
            detail,
        };
        let options = format!("sslmode=verify-full&sslrootcert={}", self.file("ca.pem"));
        let url = crate::DbUrl::parse(&self.url("postgres", "localhost", "postgres", &options))
            .map_err(|e| fail(e.to_string()))?;
        let (client, connection) = url
            .connect()
            .await
            .map_err(|e| fail(crate::error_text(&e)))?;
        tokio::spawn(connection);
        let (user, password) = SCRAM_USER;
        client
            .batch_execute(&format!(
                "SET password_encryption = 'scram-sha-256'; \
                 CREATE ROLE {CERT_USER} LOGIN; CREATE ROLE {user} LOGIN PASSWORD '{password}'"
            ))
            .await
            .map_err(|e| fail(crate::error_text(&e)))
    }

    /// A file written for clients: `ca.pem` (the server's CA), `other-ca.pem` (a CA that
    /// signed nothing of the server's), `client.crt`/`client.key` (`certuser`, signed by the
    /// server's CA), `stranger.crt`/`stranger.key` (`certuser`, signed by the other CA); the
    /// server CA's revocation lists `revoked.crl` (the server's certificate revoked),
    /// `clean.crl` (another one revoked), `expired.crl` (past its next update), the other
    /// CA's `other-ca.crl`, and `crl-dir` holding `revoked.crl` as `openssl rehash` names it.
    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A URL for `database` as `user` at `host` (`localhost` or `127.0.0.1`), with `options`
    /// appended to the query.
    pub fn url(&self, user: &str, host: &str, database: &str, options: &str) -> String {
        format!(
            "postgres://{user}@{host}:{}/{database}?{options}",
            self.pg.port()
        )
    }

    /// The directory of the client files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
