//! Trust for auth's outbound TLS connections: SMTP (STARTTLS or implicit TLS) and HTTPS to
//! OAuth/OIDC providers (token, userinfo, discovery, JWKS). Both use rustls with the ring
//! provider; certificates are verified against the Mozilla roots (`webpki-roots`, compiled in,
//! so a slim container needs no CA store) plus an optional PEM bundle of private CAs read once
//! at start. There is no switch to skip verification.
//!
//! Errors from these connections are described with their whole cause chain
//! ([`describe`]), so "invalid peer certificate: UnknownIssuer" reaches the log instead of a
//! bare "error sending request".

use std::time::Duration;

use anyhow::Context as _;
use lettre::transport::smtp::client::{Certificate, CertificateStore, TlsParameters};

/// The CA certificates auth trusts besides the Mozilla roots.
#[derive(Debug, Clone, Default)]
pub struct OutboundTrust {
    /// PEM text of the extra CAs, validated at load.
    extra_pem: Option<Vec<u8>>,
}

impl OutboundTrust {
    /// Reads and checks the extra CA bundle (`MADBASE_AUTH_OUTBOUND_CA_FILE`), if any.
    pub fn load(path: Option<&str>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let pem = std::fs::read(path)
            .with_context(|| format!("MADBASE_AUTH_OUTBOUND_CA_FILE: cannot read {path}"))?;
        Self::from_pem(pem).with_context(|| format!("MADBASE_AUTH_OUTBOUND_CA_FILE ({path})"))
    }

    /// Trust from PEM text: one or more `CERTIFICATE` blocks.
    pub fn from_pem(pem: Vec<u8>) -> anyhow::Result<Self> {
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| anyhow::anyhow!("not a PEM certificate bundle: {}", describe(&e)))?;
        if certs.is_empty() {
            anyhow::bail!("no PEM certificates found");
        }
        Ok(Self {
            extra_pem: Some(pem),
        })
    }

    /// The HTTP client for provider endpoints: HTTPS verified as above, plain http allowed
    /// for providers on loopback or behind an in-cluster proxy.
    pub fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent("madbase-auth")
            .use_rustls_tls()
            .tls_built_in_webpki_certs(true);
        if let Some(pem) = &self.extra_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                b = b.add_root_certificate(cert);
            }
        }
        b.build()
            .map_err(|e| anyhow::anyhow!("building the HTTPS client: {}", describe(&e)))
    }

    /// TLS parameters for an SMTP server named `host` (the name its certificate must carry).
    pub fn smtp(&self, host: &str) -> anyhow::Result<TlsParameters> {
        let mut b = TlsParameters::builder(host.to_owned())
            .certificate_store(CertificateStore::WebpkiRoots);
        if let Some(pem) = &self.extra_pem {
            b = b.add_root_certificate(
                Certificate::from_pem(pem)
                    .map_err(|e| anyhow::anyhow!("extra CA bundle: {}", describe(&e)))?,
            );
        }
        b.build_rustls()
            .map_err(|e| anyhow::anyhow!("SMTP TLS setup for {host}: {}", describe(&e)))
    }
}

/// An error with its causes, outermost first, without repeating a cause already contained in
/// the text before it.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = e.source();
    }
    out
}

#[cfg(test)]
pub(crate) mod testing {
    //! A CA made at test time and loopback TLS servers that present a certificate it signed.

    use std::sync::Arc;

    use madbase_pgconn::testing::TestCa;
    use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::{self, pki_types, pki_types::pem::PemObject as _};

    /// A private CA and a server certificate for `localhost` and `127.0.0.1` it signed.
    pub struct TestPki {
        /// The CA certificate, PEM.
        pub ca_pem: String,
        /// TLS acceptor presenting the server certificate.
        pub acceptor: TlsAcceptor,
    }

    impl TestPki {
        /// A fresh CA and server certificate.
        pub fn new() -> Self {
            let ca = TestCa::new("MadBase test CA");
            let (cert, key) = ca.sign(&["localhost", "127.0.0.1"], "localhost");
            let cert = pki_types::CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert");
            let key = pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .expect("server config");
            TestPki {
                ca_pem: ca.pem,
                acceptor: TlsAcceptor::from(Arc::new(config)),
            }
        }

        /// The PEM of another CA that did not sign the server certificate.
        pub fn stranger_ca_pem() -> String {
            TestCa::new("Some other CA").pem
        }
    }

    /// How a test SMTP server secures its connections.
    #[derive(Clone, Copy)]
    pub enum SmtpMode {
        /// STARTTLS after the greeting.
        StartTls,
        /// TLS from the first byte.
        Implicit,
    }

    /// Serves SMTP on loopback for one connection; the message data arrives on the channel
    /// (nothing when the client gave up, e.g. on an untrusted certificate).
    pub async fn smtp_server(
        pki: &TestPki,
        mode: SmtpMode,
    ) -> (u16, tokio::sync::oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = pki.acceptor.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let data = match mode {
                SmtpMode::Implicit => {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if tls.write_all(b"220 localhost ESMTP\r\n").await.is_err() {
                        return;
                    }
                    dialog(tls).await
                }
                SmtpMode::StartTls => {
                    if tcp.write_all(b"220 localhost ESMTP\r\n").await.is_err() {
                        return;
                    }
                    let mut reader = BufReader::new(&mut tcp);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let verb = line.trim().to_ascii_uppercase();
                        let reply: &[u8] = if verb.starts_with("EHLO") {
                            b"250-localhost\r\n250 STARTTLS\r\n"
                        } else if verb == "STARTTLS" {
                            b"220 ready for TLS\r\n"
                        } else {
                            b"530 must issue STARTTLS first\r\n"
                        };
                        if reader.get_mut().write_all(reply).await.is_err() {
                            return;
                        }
                        if verb == "STARTTLS" {
                            break;
                        }
                    }
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    dialog(tls).await
                }
            };
            if let Some(data) = data {
                let _ = tx.send(data);
            }
        });
        (port, rx)
    }

    /// The SMTP conversation after TLS is up; returns the message data.
    async fn dialog(stream: impl AsyncRead + AsyncWrite + Unpin) -> Option<String> {
        let mut s = BufReader::new(stream);
        let mut data = None;
        loop {
            let mut line = String::new();
            if s.read_line(&mut line).await.ok()? == 0 {
                return data;
            }
            let verb = line.trim().to_ascii_uppercase();
            let reply: &[u8] = if verb.starts_with("EHLO") {
                b"250-localhost\r\n250 8BITMIME\r\n"
            } else if verb == "DATA" {
                s.get_mut().write_all(b"354 go ahead\r\n").await.ok()?;
                let mut body = String::new();
                loop {
                    let mut l = String::new();
                    if s.read_line(&mut l).await.ok()? == 0 {
                        return None;
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    body.push_str(&l);
                }
                data = Some(body);
                b"250 queued\r\n"
            } else if verb == "QUIT" {
                s.get_mut().write_all(b"221 bye\r\n").await.ok()?;
                return data;
            } else {
                b"250 ok\r\n"
            };
            s.get_mut().write_all(reply).await.ok()?;
        }
    }

    /// Serves one HTTPS request on loopback, answering `body` as JSON.
    pub async fn https_json_server(pki: &TestPki, body: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = pki.acceptor.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut s = BufReader::new(tls);
                loop {
                    let mut line = String::new();
                    if s.read_line(&mut line).await.unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.get_mut().write_all(resp.as_bytes()).await;
                let _ = s.get_mut().shutdown().await;
            }
        });
        port
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{TestPki, https_json_server};
    use super::*;

    #[test]
    fn bundles_without_certificates_are_refused() {
        let err = OutboundTrust::from_pem(b"hello".to_vec()).expect_err("no certs");
        assert!(err.to_string().contains("no PEM certificates"), "{err}");
        let err = OutboundTrust::load(Some("/nonexistent/ca.pem")).expect_err("missing");
        assert!(
            format!("{err:#}").contains("MADBASE_AUTH_OUTBOUND_CA_FILE: cannot read"),
            "{err:#}"
        );
        assert!(OutboundTrust::load(None).is_ok());
    }

    #[tokio::test]
    async fn https_verifies_against_the_extra_ca_and_refuses_a_stranger() {
        let pki = TestPki::new();
        let port = https_json_server(&pki, r#"{"ok":true}"#).await;
        let url = format!("https://127.0.0.1:{port}/.well-known/openid-configuration");

        let trusted = OutboundTrust::from_pem(pki.ca_pem.clone().into_bytes())
            .expect("ca")
            .http_client()
            .expect("client");
        let body = crate::auth::oauth::get_json(&trusted, &url, None)
            .await
            .expect("trusted CA connects");
        assert_eq!(body["ok"], true);

        for client in [
            OutboundTrust::default().http_client().expect("client"),
            OutboundTrust::from_pem(TestPki::stranger_ca_pem().into_bytes())
                .expect("ca")
                .http_client()
                .expect("client"),
        ] {
            let err = crate::auth::oauth::get_json(&client, &url, None)
                .await
                .expect_err("untrusted certificate");
            assert_eq!(err.status.as_u16(), 502);
            assert_eq!(err.code, "provider_error");
            assert!(
                err.message.contains("invalid peer certificate")
                    && err.message.contains("UnknownIssuer"),
                "{}",
                err.message
            );
        }
    }
}
