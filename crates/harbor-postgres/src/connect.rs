//! Connecting: rustls for TLS (ring provider), retries with backoff for transient failures.

use std::sync::Arc;
use std::time::Duration;

use harbor_core::destination::DestinationError;
use postgres::Client;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{PgConfig, SslMode};
use crate::error::pg_err;

/// `sslmode=require`: encrypt, but accept any certificate (libpq semantics).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS connector of a destination: rustls for TCP hosts. A Unix socket directory (a host that
/// starts with `/`) never carries TLS ([`PgConfig`] turns it off there, as libpq does), but the
/// driver still builds a connector for every host, with an empty name for a socket, which is no
/// server name: it gets a placeholder name instead of failing the connection.
#[derive(Clone)]
pub struct Tls(MakeRustlsConnect);

impl<S> MakeTlsConnect<S> for Tls
where
    MakeRustlsConnect: MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        let name = if domain.is_empty() || domain.starts_with('/') {
            "localhost"
        } else {
            domain
        };
        MakeTlsConnect::<S>::make_tls_connect(&mut self.0, name)
    }
}

/// The TLS connector for a mode.
pub fn tls(mode: SslMode) -> Result<Tls, DestinationError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DestinationError::new(format!("cannot set up TLS: {e}")))?;
    let config = if mode == SslMode::VerifyFull {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    };
    Ok(Tls(MakeRustlsConnect::new(config)))
}

/// Backoff before retry `attempt` (0-based): 0.5 s, 1 s, 2 s, 4 s, then 8 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(4))
}

/// Connects, retrying transient failures (refused, reset, server starting) with backoff.
pub fn connect(cfg: &PgConfig, tls: &Tls) -> Result<Client, DestinationError> {
    let driver = cfg.driver();
    let mut attempt = 0;
    loop {
        match driver.connect(tls.clone()) {
            Ok(c) => return Ok(c),
            Err(e) => {
                let err = pg_err("cannot connect to postgres", &cfg.describe(), e);
                attempt += 1;
                if !err.transient || attempt >= cfg.connect_attempts.max(1) {
                    return Err(err);
                }
                tracing::warn!(attempt, error = %err.message, "Connection to postgres failed, retrying");
                std::thread::sleep(backoff(attempt - 1));
            }
        }
    }
}

/// Connects to `url` as the destination does (URL options such as `schema`, `sslmode` and
/// `pooler`, TLS, retries), for crates that run their own statements on the destination's
/// database (the operations store).
pub fn open_client(url: &str) -> Result<(Client, PgConfig), DestinationError> {
    let cfg = PgConfig::parse(url)?;
    let tls = tls(cfg.sslmode)?;
    let client = connect(&cfg, &tls)?;
    Ok((client, cfg))
}
