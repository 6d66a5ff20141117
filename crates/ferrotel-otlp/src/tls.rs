//! rustls configuration (ring provider) for servers and clients.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::TransportError;

/// Server TLS; setting `client_ca_file` requires client certificates signed by it (mTLS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsServerSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
    /// "1.2" (default) or "1.3".
    pub min_version: Option<String>,
}

/// Client TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// gRPC: plaintext for an endpoint without scheme (an `http://` endpoint is always
    /// plaintext, an `https://` one always TLS).
    pub insecure: bool,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    /// CA to verify the server against; the system roots when unset.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (mTLS); both or neither.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Verify the server certificate for this name (and send it as SNI) instead of the host.
    pub server_name_override: Option<String>,
    /// "1.2" (default) or "1.3".
    pub min_version: Option<String>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn versions(
    min: Option<&str>,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion], TransportError> {
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min.map(str::trim) {
        None | Some("") | Some("1.2") => Ok(&BOTH),
        Some("1.3") => Ok(&TLS13_ONLY),
        // rustls implements neither 1.0 nor 1.1: refuse rather than silently raise the floor.
        Some(v) => Err(TransportError::Tls(format!(
            "unsupported min_version {v:?} (supported: \"1.2\", \"1.3\")"
        ))),
    }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            TransportError::Tls(format!("reading certificates {}: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(TransportError::Tls(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TransportError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| TransportError::Tls(format!("reading private key {}: {e}", path.display())))
}

fn load_roots(path: &Path) -> Result<RootCertStore, TransportError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(path)? {
        roots
            .add(c)
            .map_err(|e| TransportError::Tls(format!("CA certificate {}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// A server config; ALPN offers `alpn` (h2 for gRPC, h2 + http/1.1 for HTTP).
pub fn server_config(
    s: &TlsServerSettings,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TransportError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(s.min_version.as_deref())?)
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    let builder = match &s.client_ca_file {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(load_roots(ca)?), provider)
                    .build()
                    .map_err(|e| TransportError::Tls(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(load_certs(&s.cert_file)?, load_key(&s.key_file)?)
        .map_err(|e| TransportError::Tls(format!("server certificate/key: {e}")))?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// A client config per [`ClientTls`]; ALPN is set by the caller.
pub(crate) fn client_config(t: &ClientTls) -> Result<ClientConfig, TransportError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(t.min_version.as_deref())?)
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    let builder = if t.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        let roots = match &t.ca_file {
            Some(ca) => load_roots(ca)?,
            None => {
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                roots
            }
        };
        builder.with_root_certificates(roots)
    };
    match (&t.cert_file, &t.key_file) {
        (Some(c), Some(k)) => builder
            .with_client_auth_cert(load_certs(c)?, load_key(k)?)
            .map_err(|e| TransportError::Tls(format!("client certificate/key: {e}"))),
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(TransportError::Tls(
            "cert_file and key_file must be set together".into(),
        )),
    }
}

/// `insecure_skip_verify`: accepts any server certificate (signatures are still checked so the
/// handshake itself is sound).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
