//! rustls client and server configurations built from the command line's files and flags,
//! with every file problem reported once, naming the file (exit 10), before any socket opens.

use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError,
    ExtendedKeyPurpose, InconsistentKeys, InvalidMessage, RootCertStore, ServerConfig,
    SignatureScheme,
};
use x509_parser::extensions::GeneralName;

use crate::error::{Kind, Tag as _, fail};

/// What a client says on stderr when `--insecure` turns certificate verification off.
pub const INSECURE_WARNING: &str = "nicksock: warning: --insecure: the server's certificate is \
not verified; anyone on the path can read and change this connection";

/// The PEM label of a password-protected PKCS#8 key, which rustls cannot use.
const ENCRYPTED_KEY_LABEL: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

/// What a TLS client needs from the command line.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// PEM roots that replace the built-in web PKI roots (`--cacert`).
    pub cacert: Option<PathBuf>,
    /// Accept any server certificate (`--insecure`); handshake signatures are still checked.
    pub insecure: bool,
    /// Client certificate chain for mTLS (`--cert`); needs `key`.
    pub cert: Option<PathBuf>,
    /// Private key of the client certificate (`--key`); needs `cert`.
    pub key: Option<PathBuf>,
    /// ALPN protocols to offer, most preferred first (empty: offer none).
    pub alpn: Vec<Vec<u8>>,
}

/// The one crypto provider nicksock uses, chosen explicitly: with two providers compiled in,
/// rustls' implicit choice panics.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the configuration of a TLS client: web PKI roots, or `--cacert`'s roots instead,
/// or no verification with `--insecure`; a client certificate when `cert` and `key` are set.
pub fn client_config(opts: &ClientOptions) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?;
    let webpki = if opts.insecure {
        None
    } else {
        let roots = match &opts.cacert {
            Some(path) => roots_from_file(path)?,
            None => RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        };
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .context("setting up TLS")?;
        Some(verifier)
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ServerVerifier { webpki, provider }));
    let mut config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let identity = load_identity(cert, key)?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity)))
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("a client certificate needs both --cert and --key")
        }
    };
    config.alpn_protocols = opts.alpn.clone();
    if let Some(log) = super::keylog::current() {
        config.key_log = log;
    }
    Ok(Arc::new(config))
}

/// Builds the configuration of a TLS server from a PEM certificate chain and its key. With
/// `client_ca`, every client must present a certificate signed by one of those roots (mTLS).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    alpn: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>> {
    let provider = provider();
    let identity = load_identity(cert, key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?;
    let builder = match client_ca {
        Some(path) => {
            let roots = roots_from_file(path)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .tag(
                    Kind::File,
                    format!("reading CA certificates {}", path.display()),
                )?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(identity)));
    config.alpn_protocols = alpn;
    if let Some(log) = super::keylog::current() {
        config.key_log = log;
    }
    Ok(Arc::new(config))
}

/// The name a client verifies the server's certificate against and sends as SNI. An IP
/// literal (`127.0.0.1`, `::1`, `[::1]`, `fe80::1%eth0`) becomes an IP name: no SNI is sent
/// and the certificate needs an IP SAN.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    let unbracketed = crate::names::unbracket(host);
    if let Some(ip) = crate::names::parse_ip(host) {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    if let Some((addr, _zone)) = unbracketed.split_once('%')
        && let Ok(ip) = addr.parse::<Ipv6Addr>()
    {
        return Ok(ServerName::IpAddress(IpAddr::V6(ip).into()));
    }
    if unbracketed.len() != host.len() {
        return Err(fail(
            Kind::Tls,
            format!("invalid server name '{host}': brackets hold an IPv6 address"),
        ));
    }
    ServerName::try_from(host.to_string()).map_err(|_| {
        fail(
            Kind::Tls,
            format!("invalid server name '{host}': not a DNS name or an IP address"),
        )
    })
}

/// Says in plain words why a TLS handshake failed, for the one-line error message.
pub fn explain(err: &TlsError) -> String {
    match err {
        TlsError::InvalidCertificate(cert_err) => explain_certificate(cert_err),
        TlsError::AlertReceived(alert) => explain_alert(*alert),
        TlsError::NoCertificatesPresented => {
            "the peer presented no certificate, and one is required".into()
        }
        TlsError::PeerIncompatible(why) => {
            format!("no TLS version, cipher suite or key exchange in common ({why:?})")
        }
        TlsError::NoApplicationProtocol => "no ALPN protocol in common".into(),
        TlsError::InvalidMessage(InvalidMessage::InvalidContentType) => {
            "the peer does not speak TLS (a plain-text service?)".into()
        }
        TlsError::InvalidMessage(why) => format!("the peer sent a malformed TLS message ({why:?})"),
        TlsError::PeerMisbehaved(why) => format!("the peer broke the TLS protocol ({why:?})"),
        TlsError::DecryptError => "decryption failed: the data was corrupted or forged".into(),
        TlsError::General(why) => why.clone(),
        other => other.to_string(),
    }
}

fn explain_certificate(err: &CertificateError) -> String {
    match err {
        CertificateError::UnknownIssuer => "certificate is not trusted (unknown issuer)".into(),
        CertificateError::NotValidForName => "certificate is not valid for that name".into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let expected = name_to_string(expected);
            if presented.is_empty() {
                format!("certificate is not valid for {expected} (it names no host)")
            } else {
                format!(
                    "certificate is not valid for {expected} (it is for {})",
                    presented.join(", ")
                )
            }
        }
        CertificateError::Expired => "certificate expired".into(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("certificate expired on {}", utc_date(*not_after))
        }
        CertificateError::NotValidYet => "certificate is not valid yet (check the clock)".into(),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "certificate is not valid before {} (check the clock)",
            utc_date(*not_before)
        ),
        CertificateError::Revoked => "certificate was revoked".into(),
        CertificateError::BadSignature => "certificate signature is invalid".into(),
        CertificateError::InvalidPurpose => {
            "certificate is not for this use (extended key usage)".into()
        }
        CertificateError::InvalidPurposeContext { required, .. } => format!(
            "certificate is not for {} (extended key usage)",
            purpose_name(required)
        ),
        CertificateError::BadEncoding => "certificate is malformed".into(),
        // webpki reports a CA:TRUE certificate used as a leaf only through an opaque error.
        CertificateError::Other(other)
            if matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) =>
        {
            "certificate is a CA certificate (CA:TRUE) used as a server or client \
             certificate; use a leaf signed by the CA"
                .into()
        }
        other => format!("certificate rejected: {other}"),
    }
}

fn explain_alert(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::CertificateRequired => "the server requires a client certificate".into(),
        AlertDescription::UnknownCA => {
            "the peer does not trust our certificate (unknown CA alert)".into()
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown => {
            format!("the peer rejected our certificate ({alert:?} alert)")
        }
        AlertDescription::CertificateExpired => {
            "the peer says our certificate expired (CertificateExpired alert)".into()
        }
        AlertDescription::HandshakeFailure => {
            "the peer found no parameters in common (HandshakeFailure alert)".into()
        }
        AlertDescription::ProtocolVersion => {
            "no TLS version in common (ProtocolVersion alert)".into()
        }
        AlertDescription::UnrecognisedName => {
            "the server does not serve that name (UnrecognisedName alert)".into()
        }
        AlertDescription::NoApplicationProtocol => {
            "no ALPN protocol in common (NoApplicationProtocol alert)".into()
        }
        other => format!("the peer sent a fatal {other:?} alert"),
    }
}

fn name_to_string(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_string(),
        ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// The host names and IP addresses a certificate is for, from its subjectAltName, in its
/// order (other kinds of names, a URI or an e-mail address, name no host).
fn host_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let ip = |bytes: &[u8]| {
        <[u8; 4]>::try_from(bytes)
            .map(IpAddr::from)
            .or_else(|_| <[u8; 16]>::try_from(bytes).map(IpAddr::from))
            .ok()
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_string()),
            GeneralName::IPAddress(bytes) => ip(bytes).map(|ip| ip.to_string()),
            _ => None,
        })
        .collect()
}

fn purpose_name(purpose: &ExtendedKeyPurpose) -> String {
    match purpose {
        ExtendedKeyPurpose::ServerAuth => "server authentication".into(),
        ExtendedKeyPurpose::ClientAuth => "client authentication".into(),
        other => format!("{other:?}"),
    }
}

/// A time as `2026-01-31 12:00:00 UTC`.
fn utc_date(t: UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => crate::dates::utc_date(t),
        Err(_) => format!("{secs} seconds after 1970"),
    }
}

/// Reads a file for the TLS setup, naming it (and what it should hold) when it cannot.
fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).tag(Kind::File, format!("reading {what} {}", path.display()))
}

/// Reads every certificate of a PEM file; a file with none is an error.
fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    parse_certs(&read_file(path, what)?, path, what)
}

/// Every certificate in `pem`, the contents of the file at `path` (for the messages).
pub fn parse_certs(pem: &[u8], path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .tag(
            Kind::File,
            format!("reading {what} {}: malformed PEM", path.display()),
        )?;
    if certs.is_empty() {
        return Err(fail(
            Kind::File,
            format!(
                "reading {what} {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    parse_key(&read_file(path, KEY_WHAT)?, path)
}

/// What [`read_key`] reads, for its messages.
const KEY_WHAT: &str = "private key";

/// The first private key in `pem`, the contents of the file at `path` (for the messages).
pub fn parse_key(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>> {
    const WHAT: &str = KEY_WHAT;
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        let why = match e {
            pem::Error::NoItemsFound if contains(pem, ENCRYPTED_KEY_LABEL) => {
                "the key is encrypted; decrypt it with `openssl pkey -in KEY -out PLAIN`".into()
            }
            pem::Error::NoItemsFound => "no PEM private key in it (-----BEGIN PRIVATE KEY-----, \
                 RSA PRIVATE KEY or EC PRIVATE KEY)"
                .to_string(),
            other => format!("malformed PEM: {other}"),
        };
        fail(
            Kind::File,
            format!("reading {WHAT} {}: {why}", path.display()),
        )
    })
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Loads a certificate chain and its key, and checks that the key belongs to the first
/// certificate: a mismatch would otherwise surface only as a failed handshake.
fn load_identity(cert: &Path, key: &Path) -> Result<CertifiedKey> {
    let chain = read_certs(cert, "certificate")?;
    let key_der = read_key(key)?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| {
            fail(
                Kind::File,
                format!(
                    "reading private key {}: not a usable RSA, ECDSA or Ed25519 key ({e})",
                    key.display()
                ),
            )
        })?;
    let identity = CertifiedKey::new(chain, signing_key);
    match identity.keys_match() {
        Ok(()) | Err(TlsError::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(identity),
        Err(TlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Err(fail(
            Kind::File,
            format!(
                "the private key {} does not belong to the certificate {}",
                key.display(),
                cert.display()
            ),
        )),
        Err(e) => Err(fail(
            Kind::File,
            format!("reading certificate {}: {}", cert.display(), explain(&e)),
        )),
    }
}

/// The trust roots of a PEM bundle (`--cacert`), replacing the built-in ones.
fn roots_from_file(path: &Path) -> Result<RootCertStore> {
    const WHAT: &str = "CA certificates";
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(read_certs(path, WHAT)?);
    if added == 0 {
        return Err(fail(
            Kind::File,
            format!(
                "reading {WHAT} {}: no usable CA certificate in it",
                path.display()
            ),
        ));
    }
    Ok(roots)
}

/// How a client checks the server's certificate: as webpki does, except that a certificate
/// not valid for the name is reported with the names it is for, read from the certificate
/// itself (webpki hands them over only as debug text, `DnsName("a.test")`); or, with
/// `--insecure` (no webpki verifier), not at all. Either way the handshake signatures are
/// checked, so the server must hold the key of the certificate it sent.
#[derive(Debug)]
struct ServerVerifier {
    /// None with `--insecure`: any certificate for any name.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                TlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
                    expected,
                    ..
                }) => TlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
                    expected,
                    presented: host_names(end_entity),
                }),
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::OtherError;
    use rustls::pki_types::DnsName;

    fn cert_err(e: CertificateError) -> String {
        explain(&TlsError::InvalidCertificate(e))
    }

    #[test]
    fn certificate_failures_are_explained() {
        assert_eq!(
            cert_err(CertificateError::UnknownIssuer),
            "certificate is not trusted (unknown issuer)"
        );
        let mismatch = cert_err(CertificateError::NotValidForNameContext {
            expected: ServerName::DnsName(DnsName::try_from("other.test").unwrap()),
            presented: vec!["localhost".into(), "::1".into()],
        });
        assert_eq!(
            mismatch,
            "certificate is not valid for other.test (it is for localhost, ::1)"
        );
        let ip = cert_err(CertificateError::NotValidForNameContext {
            expected: ServerName::IpAddress(IpAddr::from([10, 0, 0, 1]).into()),
            presented: vec![],
        });
        assert!(ip.contains("not valid for 10.0.0.1"), "{ip}");
        assert_eq!(cert_err(CertificateError::Expired), "certificate expired");
        let expired = cert_err(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
        });
        assert_eq!(expired, "certificate expired on 2023-11-14 22:13:20 UTC");
        assert!(cert_err(CertificateError::NotValidYet).contains("not valid yet"));
        let purpose = cert_err(CertificateError::InvalidPurposeContext {
            required: ExtendedKeyPurpose::ClientAuth,
            presented: vec![ExtendedKeyPurpose::ServerAuth],
        });
        assert!(purpose.contains("client authentication"), "{purpose}");
        let ca_leaf = cert_err(CertificateError::Other(OtherError(Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        ))));
        assert!(ca_leaf.contains("CA:TRUE"), "{ca_leaf}");
    }

    #[test]
    fn a_name_mismatch_lists_the_hosts_the_certificate_names() {
        let mut params =
            rcgen::CertificateParams::new(["a.test".into(), "10.0.0.1".into(), "::1".into()])
                .unwrap();
        let uri = rcgen::SanType::URI("spiffe://a.test/x".try_into().unwrap());
        params.subject_alt_names.push(uri);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        let verifier = ServerVerifier {
            webpki: Some(webpki),
            provider: provider(),
        };
        let verify = |name: &str| {
            verifier.verify_server_cert(
                cert.der(),
                &[],
                &server_name(name).unwrap(),
                &[],
                UnixTime::now(),
            )
        };
        assert!(verify("a.test").is_ok());
        let err = verify("other.test").unwrap_err();
        assert_eq!(
            explain(&err),
            "certificate is not valid for other.test (it is for a.test, 10.0.0.1, ::1)"
        );
    }

    #[test]
    fn alerts_and_protocol_failures_are_explained() {
        let alert = |a| explain(&TlsError::AlertReceived(a));
        assert_eq!(
            alert(AlertDescription::CertificateRequired),
            "the server requires a client certificate"
        );
        assert!(alert(AlertDescription::UnknownCA).contains("does not trust our certificate"));
        assert!(alert(AlertDescription::BadCertificate).contains("rejected our certificate"));
        assert!(alert(AlertDescription::ProtocolVersion).contains("no TLS version in common"));
        assert!(alert(AlertDescription::AccessDenied).contains("AccessDenied"));
        assert!(
            explain(&TlsError::NoCertificatesPresented).contains("no certificate"),
            "client without a certificate"
        );
        assert!(
            explain(&TlsError::InvalidMessage(
                InvalidMessage::InvalidContentType
            ))
            .contains("does not speak TLS")
        );
    }

    #[test]
    fn ip_literals_become_ip_server_names() {
        let is_ip = |h: &str| matches!(server_name(h), Ok(ServerName::IpAddress(_)));
        assert!(is_ip("127.0.0.1"));
        assert!(is_ip("::1"));
        assert!(is_ip("[::1]"));
        assert!(is_ip("fe80::1%eth0"));
        assert!(matches!(
            server_name("example.com"),
            Ok(ServerName::DnsName(_))
        ));
        for bad in ["[example.com]", "bad name", ""] {
            let err = server_name(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), Kind::Tls.code(), "{bad:?}");
        }
    }

    #[test]
    fn insecure_client_config_still_builds_without_roots() {
        let config = client_config(&ClientOptions {
            insecure: true,
            alpn: vec![b"http/1.1".to_vec()],
            ..ClientOptions::default()
        })
        .unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(client_config(&ClientOptions::default()).is_ok());
        let half = ClientOptions {
            cert: Some(PathBuf::from("c.pem")),
            ..ClientOptions::default()
        };
        assert!(client_config(&half).is_err());
    }
}
