//! TLS to PostgreSQL over rustls, with libpq's `sslmode` semantics: `prefer` and `require`
//! encrypt without checking who answers (unless a root certificate is given, which makes
//! `require` check the chain, as libpq does), `verify-ca` checks the chain, `verify-full` the
//! chain and the host name.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::UrlError;

pub use madbase_config::DbSslMode as SslMode;

/// `mode` parsed, or why not.
pub(crate) fn parse_mode(text: &str) -> Result<SslMode, UrlError> {
    SslMode::parse(text).ok_or_else(|| {
        UrlError::Invalid(format!(
            "sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not \"{text}\""
        ))
    })
}

/// The mode `tokio-postgres` is given: it negotiates, this crate checks certificates.
pub(crate) fn for_tokio_postgres(mode: SslMode) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode as T;
    match mode {
        SslMode::Disable => T::Disable,
        SslMode::Allow | SslMode::Prefer => T::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => T::Require,
    }
}

/// Where trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// None given, and libpq's default file (`~/.postgresql/root.crt`) is absent.
    None,
    /// A PEM file.
    File(String),
    /// PEM certificates held in memory, and what to call them in errors.
    Pem(Arc<[u8]>, String),
    /// `sslrootcert=system`: the operating system's store.
    System,
}

/// How a connection's TLS is set up: the mode and, unless it is `disable`, the rustls
/// configuration (read once, when the URL is parsed).
#[derive(Clone)]
pub struct Tls {
    mode: SslMode,
    config: Option<Arc<ClientConfig>>,
    direct: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("mode", &self.mode)
            .field("direct", &self.direct)
            .finish_non_exhaustive()
    }
}

/// The revocation lists of libpq's `sslcrl` (a PEM file) and `sslcrldir` (a directory laid
/// out by `openssl rehash`: the lists are its `<hash>.r<n>` files). A file or directory that
/// is named but cannot be read, or holds no list, is an error: libpq would go on without
/// checking revocation, which hides the mistake.
pub(crate) fn load_crls(
    file: Option<&str>,
    dir: Option<&str>,
) -> Result<Vec<CertificateRevocationListDer<'static>>, UrlError> {
    let read = |path: &str, option: &str| {
        CertificateRevocationListDer::pem_file_iter(path)
            .and_then(|crls| crls.collect::<Result<Vec<_>, _>>())
            .map_err(|e| UrlError::Tls(format!("{option} {path}: {e}")))
    };
    let mut out = Vec::new();
    if let Some(path) = file {
        let crls = read(path, "sslcrl")?;
        if crls.is_empty() {
            return Err(UrlError::Tls(format!(
                "sslcrl {path}: no PEM certificate revocation list in it"
            )));
        }
        out.extend(crls);
    }
    if let Some(dir) = dir {
        let entries =
            std::fs::read_dir(dir).map_err(|e| UrlError::Tls(format!("sslcrldir {dir}: {e}")))?;
        let mut paths: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_rehashed_crl)
            })
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(UrlError::Tls(format!(
                "sslcrldir {dir}: no revocation list in it (files named <hash>.r<n>, as `openssl rehash` makes them)"
            )));
        }
        for path in paths {
            out.extend(read(&path.display().to_string(), "sslcrldir")?);
        }
    }
    Ok(out)
}

/// Revocation lists from PEM held in memory, called `label` in errors; none is an error, as
/// for a named file.
pub(crate) fn parse_crls(
    pem: &[u8],
    label: &str,
) -> Result<Vec<CertificateRevocationListDer<'static>>, UrlError> {
    let crls = CertificateRevocationListDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UrlError::Tls(format!("{label}: {e}")))?;
    if crls.is_empty() {
        return Err(UrlError::Tls(format!(
            "{label}: no PEM certificate revocation list in it"
        )));
    }
    Ok(crls)
}

/// `5d30f3c5.r0`: how `openssl rehash` names a revocation list.
fn is_rehashed_crl(name: &str) -> bool {
    name.split_once(".r").is_some_and(|(hash, n)| {
        hash.len() == 8
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

impl Tls {
    /// No TLS.
    fn disabled() -> Self {
        Self {
            mode: SslMode::Disable,
            config: None,
            direct: false,
        }
    }

    /// Builds the configuration for `mode`; reads the root and client certificate files.
    /// `crls` apply wherever the server's chain is checked: as libpq, every certificate of the
    /// chain then needs its issuer's list, and a list past its next update is refused.
    pub(crate) fn build(
        mode: SslMode,
        roots: Roots,
        client: Option<(String, String)>,
        sni: bool,
        direct: bool,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<Self, UrlError> {
        if mode == SslMode::Disable {
            return Ok(Self::disabled());
        }
        let provider = provider();
        let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
            (SslMode::VerifyCa | SslMode::VerifyFull, Roots::None) => {
                return Err(UrlError::Tls(format!(
                    "sslmode={} needs trusted roots: name a PEM file with sslrootcert, or use sslrootcert=system",
                    mode.as_str()
                )));
            }
            (SslMode::Allow | SslMode::Prefer | SslMode::Require, Roots::None) => {
                Arc::new(Lenient {
                    provider: provider.clone(),
                    chain: None,
                })
            }
            (mode, Roots::System) if mode != SslMode::VerifyFull => {
                return Err(UrlError::Tls(
                    "sslrootcert=system needs sslmode=verify-full (a public CA signs certificates for anyone's host names)".into(),
                ));
            }
            (mode, roots) => {
                let store = Arc::new(load_roots(&roots)?);
                let mut webpki =
                    WebPkiServerVerifier::builder_with_provider(store, provider.clone());
                if !crls.is_empty() {
                    webpki = webpki.with_crls(crls).enforce_revocation_expiration();
                }
                let webpki = webpki
                    .build()
                    .map_err(|e| UrlError::Tls(format!("sslrootcert: {e}")))?;
                match mode {
                    SslMode::VerifyFull => webpki,
                    // libpq: with a root certificate, `require` checks the chain too.
                    _ => Arc::new(Lenient {
                        provider: provider.clone(),
                        chain: Some(webpki),
                    }),
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| UrlError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(&cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| UrlError::Tls(format!("sslcert {cert}: {e}")))?;
                if chain.is_empty() {
                    return Err(UrlError::Tls(format!(
                        "sslcert {cert}: no PEM certificate in it"
                    )));
                }
                check_key_access(&key)?;
                let key = PrivateKeyDer::from_pem_file(&key)
                    .map_err(|e| UrlError::Tls(format!("sslkey {key}: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| UrlError::Tls(format!("sslcert/sslkey: {e}")))?
            }
        };
        // What libpq 17 sends, and what a server taking direct TLS requires.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        config.enable_sni = sni;
        Ok(Self {
            mode,
            config: Some(Arc::new(config)),
            direct,
        })
    }

    /// The mode.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// Starts TLS on `stream`, a new TCP connection to `host`, as libpq does: asks with an
    /// `SSLRequest` (or, with `sslnegotiation=direct`, starts the handshake at once); a server
    /// that declines is refused when the mode requires TLS and used in plain otherwise.
    /// Unix sockets never use TLS; do not call this for them.
    pub async fn negotiate<S>(&self, mut stream: S, host: &str) -> Result<MaybeTls<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let Some(config) = &self.config else {
            return Ok(MaybeTls::Plain(stream));
        };
        if !self.direct {
            // Length 8, then the request code 1234.5679.
            stream
                .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
                .await?;
            let mut answer = [0u8];
            stream.read_exact(&mut answer).await?;
            match answer[0] {
                b'S' => {}
                b'N' if self.mode.requires_tls() => return Err(TlsError::NotOffered(self.mode)),
                b'N' => return Ok(MaybeTls::Plain(stream)),
                other => {
                    return Err(TlsError::Io(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("unexpected answer {other:#04x} to the TLS request"),
                    )));
                }
            }
        }
        let name = server_name(host)?;
        let tls = TlsConnector::from(config.clone())
            .connect(name, stream)
            .await?;
        Ok(MaybeTls::Tls(Box::new(tls)))
    }

    /// For `tokio-postgres`: `make_tls_connect` of this is what `connect` is given.
    pub fn tokio_postgres(&self) -> MakeRustls {
        MakeRustls {
            config: self.config.clone(),
        }
    }
}

/// libpq's rule for a client key: nobody else may read it. Owned by the user, at most `0600`;
/// owned by root, at most `0640` (a key root provides to a group).
fn check_key_access(path: &str) -> Result<(), UrlError> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).map_err(|e| UrlError::Tls(format!("sslkey {path}: {e}")))?;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if meta.mode() & 0o777 & !allowed != 0 {
        return Err(UrlError::Tls(format!(
            "sslkey {path} has group or world access; permissions should be u=rw (0600) or less"
        )));
    }
    Ok(())
}

fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::BadHostName(host.to_owned()))
}

fn load_roots(roots: &Roots) -> Result<RootCertStore, UrlError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::None => {}
        Roots::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| UrlError::Tls(format!("sslrootcert {path}: {e}")))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(UrlError::Tls(format!(
                    "sslrootcert {path}: no usable PEM certificate in it"
                )));
            }
        }
        Roots::Pem(pem, label) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| UrlError::Tls(format!("{label}: {e}")))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(UrlError::Tls(format!(
                    "{label}: no usable PEM certificate in it"
                )));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(UrlError::Tls(
                    "sslrootcert=system: the operating system's CA store is empty or unreadable"
                        .into(),
                ));
            }
        }
    }
    Ok(store)
}

/// Why TLS could not be started on a connection.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The server answered no to TLS, and the mode requires it.
    #[error("the server does not offer TLS, and sslmode={} requires it", .0.as_str())]
    NotOffered(SslMode),
    /// TLS needs a host name or IP address to check and to send.
    #[error("\"{0}\" is not a host name or IP address TLS can use")]
    BadHostName(String),
    /// The socket or the handshake failed (a certificate refused, for one).
    #[error("TLS: {0}")]
    Io(#[from] io::Error),
}

/// The checks short of `verify-full`: none of the certificate (`prefer`, `require`), or its
/// chain but not the name in it (`verify-ca`, and `require` given roots). The handshake's
/// signature is always checked: the server must hold the certificate's key.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the name last, once the chain is verified.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A connection that may or may not have started TLS.
#[derive(Debug)]
pub enum MaybeTls<S> {
    /// No TLS.
    Plain(S),
    /// TLS over `S`.
    Tls(Box<tokio_rustls::client::TlsStream<S>>),
}

impl<S> MaybeTls<S> {
    /// Whether TLS is in use.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The `tls-server-end-point` channel binding data for `SCRAM-SHA-256-PLUS`, when TLS is
    /// in use and the server's certificate allows it.
    pub fn channel_binding(&self) -> Option<Vec<u8>> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(s) => server_end_point(s.get_ref().1),
        }
    }
}

/// RFC 5929's `tls-server-end-point`: the hash of the server's certificate, with the hash
/// function of the certificate's signature (SHA-256 for MD5 and SHA-1). None for a signature
/// without a hash of its own (Ed25519, RSA-PSS), as PostgreSQL offers no binding for those.
fn server_end_point(conn: &rustls::ClientConnection) -> Option<Vec<u8>> {
    let cert = conn.peer_certificates()?.first()?;
    let hash = match signature_oid(cert.as_ref())? {
        // md5WithRSAEncryption, sha1WithRSAEncryption, sha256WithRSAEncryption
        [
            0x2a,
            0x86,
            0x48,
            0x86,
            0xf7,
            0x0d,
            0x01,
            0x01,
            0x04 | 0x05 | 0x0b,
        ] => &::ring::digest::SHA256,
        // sha384WithRSAEncryption
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c] => &::ring::digest::SHA384,
        // sha512WithRSAEncryption
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d] => &::ring::digest::SHA512,
        // ecdsa-with-SHA1, ecdsa-with-SHA256
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02] => &::ring::digest::SHA256,
        // ecdsa-with-SHA384
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03] => &::ring::digest::SHA384,
        // ecdsa-with-SHA512
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04] => &::ring::digest::SHA512,
        _ => return None,
    };
    Some(
        ::ring::digest::digest(hash, cert.as_ref())
            .as_ref()
            .to_vec(),
    )
}

/// The OID (its content bytes) of a DER certificate's `signatureAlgorithm`: the second
/// element of the outer `SEQUENCE`, after `tbsCertificate`.
fn signature_oid(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, certificate, _) = der(cert)? else {
        return None;
    };
    let (0x30, _, after_tbs) = der(certificate)? else {
        return None;
    };
    let (0x30, algorithm, _) = der(after_tbs)? else {
        return None;
    };
    match der(algorithm)? {
        (0x06, oid, _) => Some(oid),
        _ => None,
    }
}

/// One DER element at the start of `data`: its tag, its content, and what follows it.
fn der(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (usize::from(n), rest),
        n => {
            let count = usize::from(n & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[count..])
        }
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// TLS for `tokio-postgres` connections ([`tokio_postgres::Config::connect`], pools).
#[derive(Clone)]
pub struct MakeRustls {
    config: Option<Arc<ClientConfig>>,
}

impl<S> tokio_postgres::tls::MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = MaybeTls<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        // Unix sockets have no name; the server declines TLS on them, so this is not used.
        Ok(RustlsConnect {
            config: self.config.clone(),
            name: server_name(domain).ok(),
            domain: domain.to_owned(),
        })
    }
}

/// One connection's TLS set-up for `tokio-postgres`.
pub struct RustlsConnect {
    config: Option<Arc<ClientConfig>>,
    name: Option<ServerName<'static>>,
    domain: String,
}

impl<S> tokio_postgres::tls::TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = MaybeTls<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<MaybeTls<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let config = self.config.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "sslmode=disable: no TLS")
            })?;
            let name = self.name.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    TlsError::BadHostName(self.domain),
                )
            })?;
            let tls = TlsConnector::from(config).connect(name, stream).await?;
            Ok(MaybeTls::Tls(Box::new(tls)))
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for MaybeTls<S> {
    fn channel_binding(&self) -> tokio_postgres::tls::ChannelBinding {
        match MaybeTls::channel_binding(self) {
            Some(hash) => tokio_postgres::tls::ChannelBinding::tls_server_end_point(hash),
            None => tokio_postgres::tls::ChannelBinding::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_algorithm_is_found_and_garbage_is_refused() {
        // SEQUENCE { SEQUENCE {} (tbs), SEQUENCE { OID ecdsa-with-SHA256 }, BIT STRING }
        let cert = [
            0x30, 0x10, 0x30, 0x00, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
            0x03, 0x02, 0x03, 0x00,
        ];
        assert_eq!(
            signature_oid(&cert),
            Some(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02][..])
        );
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x82, 0xff],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x05, 0x30, 0x00],
            &cert[..10],
            &[0x31, 0x00],
        ] {
            assert_eq!(signature_oid(bad), None, "{bad:?}");
        }
    }
}
