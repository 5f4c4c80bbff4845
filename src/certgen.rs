//! Certificates for the TLS servers: self-signed leaves, a local CA, and CA-signed leaves,
//! made with rcgen, and the no-clobber, atomic writing of their files.

use std::fmt;
use std::fs::{self, File, Permissions};
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::Result;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType, SignatureAlgorithm,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use time::{Duration, OffsetDateTime};

use crate::error::{Kind, Tag as _, fail};

/// How far in the past a new certificate starts being valid, so that a peer whose clock is a
/// little behind ours still accepts it.
pub const CLOCK_SKEW: Duration = Duration::hours(1);

/// Mode of a private key file, whatever the umask: readable by its owner only.
pub const KEY_FILE_MODE: u32 = 0o600;

/// Mode of a certificate file, whatever the umask: certificates are public.
pub const CERT_FILE_MODE: u32 = 0o644;

/// Common name of a CA made without a name.
pub const DEFAULT_CA_NAME: &str = "nicksock local CA";

/// A CA signs leaves directly, never another CA (pathlen 0).
const CA_PATH_LEN: u8 = 0;

/// A subject alternative name, classified from what the user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// A DNS name, possibly a wildcard (`*.example.test`).
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => write!(f, "DNS:{name}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// A name that is neither a DNS name nor an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName(
    /// The name as given.
    pub String,
);

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is neither a DNS name (like host.example or *.example) nor an IP address",
            self.0
        )
    }
}

impl std::error::Error for InvalidName {}

/// Classifies a name as an IP address (IPv6 with or without brackets) or a DNS name; a
/// leading `*.` makes a wildcard name.
pub fn classify(name: &str) -> Result<San, InvalidName> {
    if let Some(ip) = crate::names::parse_ip(name) {
        return Ok(San::Ip(ip));
    }
    let base = name.strip_prefix("*.").unwrap_or(name);
    // A trailing dot is a valid DNS name but never matches a certificate name.
    if base.ends_with('.') || crate::names::host_name_problem(base).is_some() {
        return Err(InvalidName(name.to_string()));
    }
    Ok(San::Dns(name.to_string()))
}

/// What the certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A TLS server's certificate (serverAuth).
    Server,
    /// A TLS client's certificate for mTLS (clientAuth only: a leaked client certificate
    /// cannot impersonate the servers its names might match).
    Client,
    /// A local certificate authority that signs leaves.
    Ca,
}

/// Everything needed to make one certificate.
#[derive(Debug, Clone)]
pub struct Request {
    /// What the certificate is for.
    pub role: Role,
    /// The subject's common name.
    pub common_name: String,
    /// Subject alternative names (none for a CA).
    pub sans: Vec<San>,
    /// Days of validity from now.
    pub days: u32,
    /// The kind of key to generate.
    pub key_type: KeyType,
}

/// A certificate and its new key, ready to write.
#[derive(Debug)]
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The certificate, DER (for fingerprints).
    pub cert_der: CertificateDer<'static>,
    /// The end of validity.
    pub not_after: OffsetDateTime,
}

/// A CA loaded from files, to sign leaves with.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's subject, as `CN=…`.
    pub subject: String,
    /// The end of the CA's validity: leaves signed by it stop verifying then.
    pub not_after: OffsetDateTime,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Human name of a key type, for the summary.
pub fn key_type_name(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::EcdsaP256 => "ECDSA P-256",
        KeyType::EcdsaP384 => "ECDSA P-384",
        KeyType::Ed25519 => "Ed25519",
    }
}

fn algorithm(key_type: KeyType) -> &'static SignatureAlgorithm {
    match key_type {
        KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyType::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

/// Makes a new key and a certificate for it: self-signed, or signed by `ca`.
pub fn issue(req: &Request, ca: Option<&Ca>) -> Result<Issued> {
    let key = KeyPair::generate_for(algorithm(req.key_type))
        .and_then(readable_by_openssl)
        .map_err(|e| anyhow::anyhow!("generating a {} key: {e}", key_type_name(req.key_type)))?;
    let params = params_for(req, OffsetDateTime::now_utc())?;
    let cert = match ca {
        Some(ca) => params.signed_by(&key, &ca.issuer),
        None => params.self_signed(&key),
    }
    .map_err(|e| anyhow::anyhow!("making the certificate: {e}"))?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().clone(),
        not_after: params.not_after,
    })
}

/// ring writes Ed25519 keys as PKCS#8 v2 (RFC 5958: seed plus public key), which OpenSSL
/// 3.0 refuses to read; the v1 form (RFC 8410) holds the same seed and every tool reads it.
/// Other keys pass through unchanged.
fn readable_by_openssl(key: KeyPair) -> Result<KeyPair, rcgen::Error> {
    /// DER of ring's Ed25519 PKCS#8 v2 up to the 32-byte seed.
    const V2_PREFIX: [u8; 16] = [
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    /// DER of an Ed25519 PKCS#8 v1 up to the seed, which ends it.
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    const SEED_LEN: usize = 32;
    if key.algorithm() != &rcgen::PKCS_ED25519 {
        return Ok(key);
    }
    let seed = key
        .serialized_der()
        .strip_prefix(&V2_PREFIX[..])
        .and_then(|rest| rest.get(..SEED_LEN));
    match seed {
        Some(seed) => KeyPair::try_from([&V1_PREFIX[..], seed].concat()),
        None => Ok(key),
    }
}

/// The certificate's fields; `now` is a parameter so tests can pin it.
fn params_for(req: &Request, now: OffsetDateTime) -> Result<CertificateParams> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, req.common_name.as_str());
    params.distinguished_name = dn;
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + Duration::days(i64::from(req.days));
    match req.role {
        Role::Server | Role::Client => {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![match req.role {
                Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
                _ => ExtendedKeyUsagePurpose::ServerAuth,
            }];
            params.subject_alt_names = req.sans.iter().map(san_type).collect::<Result<_>>()?;
            params.use_authority_key_identifier_extension = true;
        }
        Role::Ca => {
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(CA_PATH_LEN));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
    }
    Ok(params)
}

fn san_type(san: &San) -> Result<SanType> {
    Ok(match san {
        San::Dns(name) => SanType::DnsName(
            name.clone()
                .try_into()
                .map_err(|e| anyhow::anyhow!("DNS name '{name}': {e}"))?,
        ),
        San::Ip(ip) => SanType::IpAddress(*ip),
    })
}

/// Loads a CA certificate and its key (PKCS#8 PEM, as `gen-cert --ca` writes it), checking
/// that the certificate is a CA and that the key is its key.
pub fn load_ca(cert_path: &Path, key_path: &Path) -> Result<Ca> {
    let cert_pem = read(cert_path, "CA certificate")?;
    let key_pem = read(key_path, "CA key")?;
    ca_from_pem(&cert_pem, cert_path, &key_pem, key_path)
}

/// A CA from the contents of its certificate and key files (the paths are for the
/// messages), checked as [`load_ca`] says.
pub fn ca_from_pem(
    cert_pem: &[u8],
    cert_path: &Path,
    key_pem: &[u8],
    key_path: &Path,
) -> Result<Ca> {
    let der = CertificateDer::pem_slice_iter(cert_pem)
        .next()
        .ok_or_else(|| file_error(cert_path, "CA certificate", "no PEM certificate in it"))?
        .map_err(|e| file_error(cert_path, "CA certificate", format!("malformed PEM: {e}")))?;
    let key = ca_key(key_pem, key_path)?;

    let (_, x509) = x509_parser::parse_x509_certificate(&der).map_err(|e| {
        file_error(
            cert_path,
            "CA certificate",
            format!("not an X.509 certificate: {e}"),
        )
    })?;
    let is_ca = matches!(x509.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    if !is_ca {
        return Err(file_error(
            cert_path,
            "CA certificate",
            "not a CA certificate (no CA:TRUE); make one with `nicksock gen-cert --ca`",
        ));
    }
    if x509.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(fail(
            Kind::File,
            format!(
                "the CA key {} does not belong to the CA certificate {}",
                key_path.display(),
                cert_path.display()
            ),
        ));
    }
    let subject = x509.subject().to_string();
    let not_after = x509.validity().not_after.to_datetime();
    let issuer = Issuer::from_ca_cert_der(&der, key).map_err(|e| {
        file_error(
            cert_path,
            "CA certificate",
            format!("cannot sign with it: {e}"),
        )
    })?;
    Ok(Ca {
        issuer,
        subject,
        not_after,
    })
}

fn ca_key(pem: &[u8], path: &Path) -> Result<KeyPair> {
    const WHAT: &str = "CA key";
    let pem = std::str::from_utf8(pem).map_err(|_| file_error(path, WHAT, "not a PEM file"))?;
    KeyPair::from_pem(pem).map_err(|e| {
        let why = if pem.contains("-----BEGIN EC PRIVATE KEY-----")
            || pem.contains("-----BEGIN RSA PRIVATE KEY-----")
        {
            "not PKCS#8; convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8`"
                .to_string()
        } else {
            format!("not a usable PKCS#8 private key ({e})")
        };
        file_error(path, WHAT, why)
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| file_error(path, what, e))
}

fn file_error(path: &Path, what: &str, why: impl fmt::Display) -> anyhow::Error {
    fail(
        Kind::File,
        format!("reading {what} {}: {why}", path.display()),
    )
}

/// The SHA-256 fingerprint of a DER certificate, as `openssl x509 -fingerprint -sha256`
/// prints it: upper-case hex pairs joined by colons.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub use crate::dates::utc_date;

/// The kind of key to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    /// ECDSA with the P-256 curve.
    #[default]
    EcdsaP256,
    /// ECDSA with the P-384 curve.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

/// One file to write.
#[derive(Debug, Clone, Copy)]
pub struct OutputFile<'a> {
    /// Where it goes.
    pub path: &'a Path,
    /// What it holds.
    pub contents: &'a [u8],
    /// Its permission bits, set exactly whatever the umask.
    pub mode: u32,
}

/// Writes every file atomically (a temporary file in the same directory, fsync, then a link
/// or rename into place). Without `force`, an existing target makes it write nothing at all,
/// and a file that appears meanwhile is never replaced.
pub fn write_files(files: &[OutputFile<'_>], force: bool) -> Result<()> {
    if !force {
        let existing: Vec<String> = files
            .iter()
            .filter(|f| f.path.symlink_metadata().is_ok())
            .map(|f| f.path.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(fail(
                Kind::File,
                format!(
                    "refusing to overwrite {} (use --force to replace)",
                    existing.join(" and ")
                ),
            ));
        }
    }
    let mut written: Vec<&Path> = Vec::new();
    for file in files {
        if let Err(e) = write_atomically(file, force) {
            if !force {
                // Leave no half-made pair behind: remove what this run created.
                for path in written {
                    let _ = fs::remove_file(path);
                }
            }
            return Err(e).tag(Kind::File, format!("writing {}", file.path.display()));
        }
        written.push(file.path);
    }
    Ok(())
}

fn write_atomically(file: &OutputFile<'_>, force: bool) -> io::Result<()> {
    let mut temp = crate::atomic::beside(file.path, file.mode)?;
    // The umask may have cleared bits of the mode: set it exactly (a key stays 0600).
    temp.as_file()
        .set_permissions(Permissions::from_mode(file.mode))?;
    temp.write_all(file.contents)?;
    temp.as_file().sync_all()?;
    crate::atomic::put_in_place(temp, file.path, force)?;
    let dir = match file.path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn request(role: Role, names: &[&str]) -> Request {
        Request {
            role,
            common_name: names.first().copied().unwrap_or(DEFAULT_CA_NAME).into(),
            sans: names.iter().map(|n| classify(n).unwrap()).collect(),
            days: 30,
            key_type: KeyType::EcdsaP256,
        }
    }

    #[test]
    fn names_are_classified_into_dns_and_ip() {
        assert_eq!(classify("localhost"), Ok(San::Dns("localhost".into())));
        assert_eq!(classify("*.lab.test"), Ok(San::Dns("*.lab.test".into())));
        assert_eq!(
            classify("127.0.0.1"),
            Ok(San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)))
        );
        assert_eq!(
            classify("::1"),
            Ok(San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)))
        );
        assert_eq!(
            classify("[::1]"),
            Ok(San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)))
        );
        for bad in [
            "",
            "bad name",
            "999.1.1.1",
            "host.",
            "-x.test",
            "a..b",
            "é.test",
            "[host]",
            "*",
        ] {
            assert!(classify(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            classify("bad name")
                .unwrap_err()
                .to_string()
                .contains("'bad name'")
        );
    }

    #[test]
    fn leaf_is_not_a_ca_and_has_its_usage() {
        let now = OffsetDateTime::now_utc();
        let server = params_for(&request(Role::Server, &["a.test", "10.0.0.1"]), now).unwrap();
        assert_eq!(server.is_ca, IsCa::ExplicitNoCa);
        assert_eq!(
            server.extended_key_usages,
            [ExtendedKeyUsagePurpose::ServerAuth]
        );
        assert_eq!(server.subject_alt_names.len(), 2);
        assert!(
            server.not_before < now && server.not_before >= now - CLOCK_SKEW - Duration::SECOND
        );
        assert_eq!((server.not_after - server.not_before).whole_days(), 30);

        let client = params_for(&request(Role::Client, &["alice.test"]), now).unwrap();
        assert_eq!(
            client.extended_key_usages,
            [ExtendedKeyUsagePurpose::ClientAuth]
        );

        let ca = params_for(&request(Role::Ca, &[]), now).unwrap();
        assert_eq!(ca.is_ca, IsCa::Ca(BasicConstraints::Constrained(0)));
        assert!(ca.key_usages.contains(&KeyUsagePurpose::KeyCertSign));
        assert!(ca.subject_alt_names.is_empty());
    }

    #[test]
    fn ed25519_keys_are_written_as_pkcs8_v1() {
        let mut req = request(Role::Server, &["a.test"]);
        req.key_type = KeyType::Ed25519;
        let issued = issue(&req, None).unwrap();
        let der =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap();
        // SEQUENCE of 46 bytes, version 0.
        assert_eq!(&der.secret_der()[..5], &[0x30, 0x2e, 0x02, 0x01, 0x00]);
    }

    #[test]
    fn fingerprint_is_colon_separated_upper_hex() {
        let fp = sha256_fingerprint(b"");
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert!(fp.starts_with("E3:B0:C4:42"));
    }

    #[test]
    fn refusal_writes_nothing_and_force_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        let b = dir.path().join("b.pem");
        fs::write(&b, "old").unwrap();
        let files = [
            OutputFile {
                path: &a,
                contents: b"new a",
                mode: CERT_FILE_MODE,
            },
            OutputFile {
                path: &b,
                contents: b"new b",
                mode: KEY_FILE_MODE,
            },
        ];
        let err = write_files(&files, false).unwrap_err();
        assert!(err.to_string().contains("b.pem"), "{err}");
        assert!(!a.exists());
        assert_eq!(fs::read(&b).unwrap(), b"old");

        write_files(&files, true).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"new b");
        let mode = fs::metadata(&b).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, KEY_FILE_MODE);
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "temporary files left behind");
    }

    #[test]
    fn ca_signs_a_leaf_and_rejects_a_foreign_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = issue(&request(Role::Ca, &[]), None).unwrap();
        let ca_cert = dir.path().join("ca.pem");
        let ca_key = dir.path().join("ca-key.pem");
        fs::write(&ca_cert, &ca.cert_pem).unwrap();
        fs::write(&ca_key, &ca.key_pem).unwrap();
        let loaded = load_ca(&ca_cert, &ca_key).unwrap();
        assert_eq!(loaded.subject, format!("CN={DEFAULT_CA_NAME}"));
        issue(&request(Role::Server, &["a.test"]), Some(&loaded)).unwrap();

        let other = issue(&request(Role::Ca, &[]), None).unwrap();
        fs::write(&ca_key, &other.key_pem).unwrap();
        let err = load_ca(&ca_cert, &ca_key).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");

        let leaf = issue(&request(Role::Server, &["a.test"]), None).unwrap();
        fs::write(&ca_cert, &leaf.cert_pem).unwrap();
        fs::write(&ca_key, &leaf.key_pem).unwrap();
        let err = load_ca(&ca_cert, &ca_key).unwrap_err();
        assert!(err.to_string().contains("not a CA"), "{err}");
    }
}
