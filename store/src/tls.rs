//! TLS clients, as the host makes them for a driver's network and for the
//! database servers: rustls on the `ring` provider, verifying the server's
//! chain and name against a CA file or, without one, the public web roots.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// A client verifying against the certificates of `ca_file` (PEM), or the
/// public web roots. The error says what is wrong with the file, without
/// naming it: the caller names the setting it came from.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read it: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("not PEM certificates: {e}"))?;
            if certs.is_empty() {
                return Err("it holds no certificate (expected PEM `BEGIN CERTIFICATE` blocks)".into());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("a certificate in it is not a usable CA: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
