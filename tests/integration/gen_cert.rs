//! `gen-cert` end to end: the real binary writes the files in a temporary directory, the real
//! `openssl` inspects them, and nicksock's own TLS configs accept them in an in-memory
//! handshake (no network).

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use nicksock::error::exit_code;
use nicksock::tls::{self, ClientOptions};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

const OPENSSL: &str = "openssl";
const DAY_SECS: u64 = 24 * 60 * 60;

/// Runs `nicksock ARGS` in `dir` under `umask 022`, as a user's shell would.
fn nicksock(dir: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .args(crate::util::bin_argv())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running nicksock")
}

/// Runs `nicksock gen-cert ARGS` and insists that it succeeded; returns its stdout.
fn gen_cert(dir: &Path, args: &[&str]) -> String {
    let out = nicksock(dir, &[&["gen-cert"][..], args].concat());
    assert!(
        out.status.success(),
        "gen-cert {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn have_openssl() -> bool {
    match Command::new(OPENSSL).arg("version").output() {
        Ok(out) if out.status.success() => true,
        _ => {
            crate::util::skip("openssl is not installed");
            false
        }
    }
}

/// Runs openssl in `dir` and returns (success, stdout + stderr).
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn x509_text(dir: &Path, cert: &str) -> String {
    let (ok, text) = openssl(dir, &["x509", "-in", cert, "-noout", "-text"]);
    assert!(ok, "{text}");
    text
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn self_signed_server_certificate() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stdout = gen_cert(d, &["localhost", "127.0.0.1", "::1", "--days", "30"]);

    let text = x509_text(d, "cert.pem");
    for want in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
        "CA:FALSE",
        "TLS Web Server Authentication",
        "Digital Signature",
        "Subject: CN = localhost",
        "NIST CURVE: P-256",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    assert!(!text.contains("Client Authentication"), "{text}");

    // Valid now (clock skew allowance included), for 30 days and not for 31.
    let (ok, _) = openssl(d, &["x509", "-in", "cert.pem", "-noout", "-checkend", "0"]);
    assert!(ok, "already expired");
    let in_29_days = (29 * DAY_SECS).to_string();
    let in_31_days = (31 * DAY_SECS).to_string();
    let (ok, _) = openssl(
        d,
        &[
            "x509",
            "-in",
            "cert.pem",
            "-noout",
            "-checkend",
            &in_29_days,
        ],
    );
    assert!(ok, "expires before 29 days");
    let (ok, _) = openssl(
        d,
        &[
            "x509",
            "-in",
            "cert.pem",
            "-noout",
            "-checkend",
            &in_31_days,
        ],
    );
    assert!(!ok, "still valid after 31 days");

    // What a user checks: the certificate trusted as itself, for a TLS server.
    let (ok, text) = openssl(
        d,
        &[
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            "cert.pem",
            "cert.pem",
        ],
    );
    assert!(ok && text.contains("cert.pem: OK"), "{text}");

    assert_eq!(mode(&d.join("cert-key.pem")), 0o600);
    assert_eq!(mode(&d.join("cert.pem")), 0o644);

    // The summary names the files, the SANs, the expiry and openssl's fingerprint.
    let (ok, fp) = openssl(
        d,
        &[
            "x509",
            "-in",
            "cert.pem",
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    );
    assert!(ok, "{fp}");
    let fp = fp.trim().rsplit('=').next().unwrap_or_default().to_string();
    for want in [
        "./cert.pem",
        "./cert-key.pem",
        "DNS:localhost, IP:127.0.0.1, IP:::1",
        "(30 days)",
        fp.as_str(),
    ] {
        assert!(stdout.contains(want), "no {want:?} in:\n{stdout}");
    }
}

#[test]
fn client_certificate_is_for_client_auth() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gen_cert(d, &["--client", "alice.lab.test"]);
    assert!(d.join("client-key.pem").exists());
    let text = x509_text(d, "client.pem");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(!text.contains("TLS Web Server Authentication"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    let (ok, text) = openssl(
        d,
        &[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            "client.pem",
            "client.pem",
        ],
    );
    assert!(ok, "{text}");
}

#[test]
fn ca_and_ca_signed_leaf() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gen_cert(d, &["--ca", "Lab", "CA"]);
    let ca = x509_text(d, "ca.pem");
    for want in [
        "CA:TRUE, pathlen:0",
        "Certificate Sign, CRL Sign",
        "CN = Lab CA",
    ] {
        assert!(ca.contains(want), "no {want:?} in:\n{ca}");
    }
    assert_eq!(mode(&d.join("ca-key.pem")), 0o600);

    let stdout = gen_cert(
        d,
        &[
            "--ca-cert",
            "ca.pem",
            "--ca-key",
            "ca-key.pem",
            "--name",
            "leaf",
            "host.lab.test",
            "10.1.2.3",
        ],
    );
    assert!(stdout.contains("CN=Lab CA"), "{stdout}");
    let leaf = x509_text(d, "leaf.pem");
    assert!(leaf.contains("Issuer: CN = Lab CA"), "{leaf}");
    assert!(leaf.contains("CA:FALSE"), "{leaf}");
    let ski = |text: &str| {
        let at = text.find("Subject Key Identifier").expect("SKI");
        text[at..]
            .lines()
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let aki_at = leaf.find("Authority Key Identifier").expect("AKI");
    assert!(
        leaf[aki_at..].contains(&ski(&ca)),
        "AKI is not the CA's SKI"
    );

    let (ok, text) = openssl(
        d,
        &[
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            "ca.pem",
            "leaf.pem",
        ],
    );
    assert!(ok && text.contains("leaf.pem: OK"), "{text}");
}

#[test]
fn key_types_on_request() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gen_cert(d, &["--key-type", "ecdsa-p384", "--name", "p384", "a.test"]);
    gen_cert(d, &["--key-type", "ed25519", "--name", "ed", "a.test"]);
    assert!(x509_text(d, "p384.pem").contains("NIST CURVE: P-384"));
    assert!(x509_text(d, "ed.pem").contains("Public Key Algorithm: ED25519"));
    let (ok, text) = openssl(d, &["pkey", "-in", "ed-key.pem", "-noout", "-text"]);
    assert!(ok && text.contains("ED25519 Private-Key"), "{text}");

    // An Ed25519 CA signs a P-384 leaf.
    gen_cert(d, &["--ca", "--key-type", "ed25519", "--name", "edca"]);
    gen_cert(
        d,
        &[
            "--ca-cert",
            "edca.pem",
            "--ca-key",
            "edca-key.pem",
            "--key-type",
            "ecdsa-p384",
            "--name",
            "signed",
            "a.test",
        ],
    );
    let (ok, text) = openssl(d, &["verify", "-CAfile", "edca.pem", "signed.pem"]);
    assert!(ok, "{text}");
}

#[test]
fn existing_files_are_never_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gen_cert(d, &["localhost"]);
    let cert = fs::read(d.join("cert.pem")).unwrap();
    let key = fs::read(d.join("cert-key.pem")).unwrap();

    // Only the key exists: still nothing is written.
    fs::remove_file(d.join("cert.pem")).unwrap();
    let out = nicksock(d, &["gen-cert", "localhost"]);
    assert_eq!(out.status.code(), Some(10));
    assert!(!d.join("cert.pem").exists());
    fs::write(d.join("cert.pem"), &cert).unwrap();

    let out = nicksock(d, &["gen-cert", "localhost"]);
    assert_eq!(out.status.code(), Some(10));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("refusing to overwrite") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(fs::read(d.join("cert.pem")).unwrap(), cert);
    assert_eq!(fs::read(d.join("cert-key.pem")).unwrap(), key);

    gen_cert(d, &["--force", "localhost"]);
    assert_ne!(fs::read(d.join("cert.pem")).unwrap(), cert);
    assert_ne!(fs::read(d.join("cert-key.pem")).unwrap(), key);
    assert_eq!(mode(&d.join("cert-key.pem")), 0o600);
    let entries = fs::read_dir(d).unwrap().count();
    assert_eq!(entries, 2, "temporary files left in {}", d.display());
}

#[test]
fn file_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gen_cert(d, &["--ca"]);

    let out = nicksock(
        d,
        &[
            "gen-cert",
            "--ca-cert",
            "ca.pem",
            "--ca-key",
            "missing-key.pem",
            "a.test",
        ],
    );
    assert_eq!(out.status.code(), Some(10));
    assert!(stderr(&out).contains("missing-key.pem"), "{}", stderr(&out));

    let out = nicksock(d, &["gen-cert", "--out", "no/such/dir", "a.test"]);
    assert_eq!(out.status.code(), Some(10));
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));

    let out = nicksock(d, &["gen-cert", "not a host"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'not a host'"), "{}", stderr(&out));
    assert!(!d.join("cert.pem").exists());
}

// ---- nicksock's own TLS configs accept what gen-cert wrote --------------------------------

/// Files made by gen-cert for the handshake tests.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let signed = ["--ca-cert", "ca.pem", "--ca-key", "ca-key.pem"];
        gen_cert(d, &["--ca"]);
        gen_cert(d, &[&["localhost", "127.0.0.1"][..], &signed].concat());
        gen_cert(
            d,
            &[&["--client", "--name", "alice", "alice"][..], &signed].concat(),
        );
        gen_cert(d, &["--ca", "--name", "other-ca", "Other CA"]);
        gen_cert(
            d,
            &[
                "--client",
                "--name",
                "mallory",
                "--ca-cert",
                "other-ca.pem",
                "--ca-key",
                "other-ca-key.pem",
                "mallory",
            ],
        );
        gen_cert(d, &["--name", "self", "localhost"]);
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server(&self, client_ca: Option<&str>) -> Arc<ServerConfig> {
        let ca = client_ca.map(|c| self.path(c));
        tls::server_config(
            &self.path("cert.pem"),
            &self.path("cert-key.pem"),
            ca.as_deref(),
            Vec::new(),
        )
        .expect("server config")
    }

    fn client(&self, cacert: &str, identity: Option<&str>) -> Arc<ClientConfig> {
        tls::client_config(&ClientOptions {
            cacert: Some(self.path(cacert)),
            cert: identity.map(|i| self.path(&format!("{i}.pem"))),
            key: identity.map(|i| self.path(&format!("{i}-key.pem"))),
            ..ClientOptions::default()
        })
        .expect("client config")
    }
}

/// What each side of a failed handshake saw.
#[derive(Debug)]
struct Failed {
    client: Option<rustls::Error>,
    server: Option<rustls::Error>,
}

impl Failed {
    fn client_reason(&self) -> String {
        self.client.as_ref().map(tls::explain).unwrap_or_default()
    }
    fn server_reason(&self) -> String {
        self.server.as_ref().map(tls::explain).unwrap_or_default()
    }
}

/// Moves every pending TLS byte from one side to the other; returns the receiver's error.
fn shuttle(
    from: &mut rustls::Connection,
    to: &mut rustls::Connection,
) -> Result<(), rustls::Error> {
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).expect("write_tls to a Vec");
    }
    let mut rest = &wire[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read_tls from a slice");
        to.process_new_packets()?;
    }
    Ok(())
}

/// Runs a full handshake in memory and sends one message each way (in TLS 1.3 a server
/// rejects a client certificate only after the client thinks the handshake is done).
fn handshake(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    name: &str,
) -> Result<(), Box<Failed>> {
    const ROUNDS: usize = 10;
    let server_name = tls::server_name(name).expect("server name");
    let mut c = rustls::Connection::from(ClientConnection::new(client, server_name).unwrap());
    let mut s = rustls::Connection::from(ServerConnection::new(server).unwrap());
    c.writer().write_all(b"ping").unwrap();
    s.writer().write_all(b"pong").unwrap();
    for _ in 0..ROUNDS {
        if let Err(server_err) = shuttle(&mut c, &mut s) {
            let client = shuttle(&mut s, &mut c).err();
            return Err(Box::new(Failed {
                client,
                server: Some(server_err),
            }));
        }
        if let Err(client_err) = shuttle(&mut s, &mut c) {
            let server = shuttle(&mut c, &mut s).err();
            return Err(Box::new(Failed {
                client: Some(client_err),
                server,
            }));
        }
        if received(&mut s, b"ping") && received(&mut c, b"pong") {
            return Ok(());
        }
    }
    panic!("handshake did not finish in {ROUNDS} rounds");
}

fn received(conn: &mut rustls::Connection, want: &[u8]) -> bool {
    let mut got = vec![0; want.len()];
    match conn.reader().read_exact(&mut got) {
        Ok(()) => got == want,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("reading plaintext: {e}"),
    }
}

#[test]
fn generated_certificates_work_with_nicksock_tls() {
    let pki = Pki::new();
    handshake(pki.client("ca.pem", None), pki.server(None), "localhost").expect("by name");
    handshake(pki.client("ca.pem", None), pki.server(None), "127.0.0.1").expect("by IP");
    let self_signed = tls::server_config(
        &pki.path("self.pem"),
        &pki.path("self-key.pem"),
        None,
        Vec::new(),
    )
    .unwrap();
    handshake(pki.client("self.pem", None), self_signed, "localhost").expect("self-signed");
    handshake(
        pki.client("ca.pem", Some("alice")),
        pki.server(Some("ca.pem")),
        "localhost",
    )
    .expect("mTLS");
}

#[test]
fn handshake_failures_are_explained() {
    let pki = Pki::new();

    let failed = handshake(pki.client("ca.pem", None), pki.server(None), "other.test").unwrap_err();
    let why = failed.client_reason();
    assert!(
        why.contains("not valid for other.test (it is for localhost, 127.0.0.1)"),
        "{why}"
    );

    let failed = handshake(
        pki.client("other-ca.pem", None),
        pki.server(None),
        "localhost",
    )
    .unwrap_err();
    let why = failed.client_reason();
    assert!(why.contains("unknown issuer"), "{why}");
    assert!(
        failed
            .server_reason()
            .contains("does not trust our certificate")
    );

    let insecure = tls::client_config(&ClientOptions {
        insecure: true,
        ..ClientOptions::default()
    })
    .unwrap();
    handshake(insecure, pki.server(None), "other.test").expect("--insecure accepts anything");

    let failed = handshake(
        pki.client("ca.pem", None),
        pki.server(Some("ca.pem")),
        "localhost",
    )
    .unwrap_err();
    let why = failed.client_reason();
    assert!(why.contains("requires a client certificate"), "{why}");
    assert!(
        failed.server_reason().contains("no certificate"),
        "{failed:?}"
    );

    let failed = handshake(
        pki.client("ca.pem", Some("mallory")),
        pki.server(Some("ca.pem")),
        "localhost",
    )
    .unwrap_err();
    assert!(
        failed.server_reason().contains("unknown issuer"),
        "{failed:?}"
    );
    let why = failed.client_reason();
    assert!(why.contains("does not trust our certificate"), "{why}");

    // A server certificate is not a client certificate (no clientAuth usage).
    let failed = handshake(
        pki.client("ca.pem", Some("cert")),
        pki.server(Some("ca.pem")),
        "localhost",
    )
    .unwrap_err();
    assert!(
        failed.server_reason().contains("client authentication"),
        "{failed:?}"
    );
}

#[test]
fn bad_certificate_and_key_files_exit_10_naming_them() {
    let pki = Pki::new();
    let server = |cert: &str, key: &str| {
        tls::server_config(&pki.path(cert), &pki.path(key), None, Vec::new())
            .expect_err("config must fail")
    };
    let err = server("missing.pem", "cert-key.pem");
    assert_eq!(exit_code(&err), 10);
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let err = server("cert-key.pem", "cert-key.pem");
    assert_eq!(exit_code(&err), 10);
    assert!(err.to_string().contains("no PEM certificate"), "{err}");

    let err = server("cert.pem", "cert.pem");
    assert_eq!(exit_code(&err), 10);
    assert!(err.to_string().contains("no PEM private key"), "{err}");

    fs::write(
        pki.path("garbage-key.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = server("cert.pem", "garbage-key.pem");
    assert_eq!(exit_code(&err), 10);
    assert!(err.to_string().contains("garbage-key.pem"), "{err}");

    let err = server("cert.pem", "alice-key.pem");
    assert_eq!(exit_code(&err), 10);
    let msg = err.to_string();
    assert!(
        msg.contains("alice-key.pem") && msg.contains("cert.pem"),
        "{msg}"
    );
    assert!(msg.contains("does not belong"), "{msg}");

    let err = tls::client_config(&ClientOptions {
        cacert: Some(pki.path("cert-key.pem")),
        ..ClientOptions::default()
    })
    .unwrap_err();
    assert_eq!(exit_code(&err), 10);
    assert!(err.to_string().contains("cert-key.pem"), "{err}");
}

#[test]
fn openssl_keys_in_every_pem_encoding_load() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let leaf = [
        "-subj",
        "/CN=localhost",
        "-days",
        "1",
        "-addext",
        "subjectAltName=DNS:localhost",
    ];
    let not_ca = ["-addext", "basicConstraints=critical,CA:FALSE"];
    let run = |args: &[&str]| {
        let (ok, text) = openssl(d, args);
        assert!(ok, "openssl {args:?}: {text}");
    };
    // SEC1 ("EC PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY").
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ec-key.pem",
    ]);
    run(&[
        &["req", "-x509", "-key", "ec-key.pem", "-out", "ec.pem"][..],
        &leaf,
        &not_ca,
    ]
    .concat());
    run(&["genrsa", "-traditional", "-out", "rsa-key.pem", "2048"]);
    run(&[
        &["req", "-x509", "-key", "rsa-key.pem", "-out", "rsa.pem"][..],
        &leaf,
        &not_ca,
    ]
    .concat());
    // openssl's default self-signed certificate is CA:TRUE, which webpki refuses as a leaf.
    run(&[
        &["req", "-x509", "-key", "ec-key.pem", "-out", "ca-leaf.pem"][..],
        &leaf,
    ]
    .concat());

    for (cert, key, label) in [
        ("ec.pem", "ec-key.pem", "EC PRIVATE KEY"),
        ("rsa.pem", "rsa-key.pem", "RSA PRIVATE KEY"),
    ] {
        assert!(fs::read_to_string(d.join(key)).unwrap().contains(label));
        let server = tls::server_config(&d.join(cert), &d.join(key), None, Vec::new())
            .unwrap_or_else(|e| panic!("{key}: {e:#}"));
        let client = tls::client_config(&ClientOptions {
            cacert: Some(d.join(cert)),
            ..ClientOptions::default()
        })
        .unwrap();
        handshake(client, server, "localhost").unwrap_or_else(|e| panic!("{cert}: {e:?}"));
    }

    let server = tls::server_config(
        &d.join("ca-leaf.pem"),
        &d.join("ec-key.pem"),
        None,
        Vec::new(),
    )
    .unwrap();
    let client = tls::client_config(&ClientOptions {
        cacert: Some(d.join("ca-leaf.pem")),
        ..ClientOptions::default()
    })
    .unwrap();
    let failed = handshake(client, server, "localhost").unwrap_err();
    assert!(failed.client_reason().contains("CA:TRUE"), "{failed:?}");
}
