//! `gen-cert`: write a private key and a certificate for the TLS servers and clients (a
//! self-signed leaf, a local CA, or a leaf signed by that CA), and say what was written.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::certgen::{self, OutputFile, Request, Role};
use crate::cli::{GenCertArgs, usage_error};
use crate::error::{Kind, Tag as _, fail};

/// Base name of a server certificate's files.
const SERVER_BASE_NAME: &str = "cert";
/// Base name of a client certificate's files.
const CLIENT_BASE_NAME: &str = "client";
/// Base name of a CA's files.
const CA_BASE_NAME: &str = "ca";
/// What follows the base name in a key file's name.
const KEY_SUFFIX: &str = "-key.pem";
/// What follows the base name in a certificate file's name.
const CERT_SUFFIX: &str = ".pem";

/// `gen-cert` after validation: what to make and where to put it.
#[derive(Debug)]
struct Config {
    request: Request,
    ca: Option<(PathBuf, PathBuf)>,
    out: PathBuf,
    cert_path: PathBuf,
    key_path: PathBuf,
    force: bool,
}

/// Runs `gen-cert`. A name that is neither a DNS name nor an IP address, or a `--name` that
/// is not a plain file name, is a usage error (exit 2, clap's message); file problems exit 10.
pub fn run(args: GenCertArgs, verbose: u8) -> Result<()> {
    let config = Config::from_args(args)?;
    check_out_dir(&config.out)?;
    let ca = match &config.ca {
        Some((cert, key)) => Some(certgen::load_ca(cert, key)?),
        None => None,
    };
    if verbose > 0 {
        eprintln!(
            "generating a {} key",
            certgen::key_type_name(config.request.key_type)
        );
    }
    let issued = certgen::issue(&config.request, ca.as_ref())?;
    certgen::write_files(
        &[
            OutputFile {
                path: &config.key_path,
                contents: issued.key_pem.as_bytes(),
                mode: certgen::KEY_FILE_MODE,
            },
            OutputFile {
                path: &config.cert_path,
                contents: issued.cert_pem.as_bytes(),
                mode: certgen::CERT_FILE_MODE,
            },
        ],
        config.force,
    )?;

    let req = &config.request;
    println!("certificate: {}", config.cert_path.display());
    println!(
        "private key: {} ({}, mode {:04o})",
        config.key_path.display(),
        certgen::key_type_name(req.key_type),
        certgen::KEY_FILE_MODE
    );
    println!("subject:     CN={}", req.common_name);
    if req.role != Role::Ca {
        let names: Vec<String> = req.sans.iter().map(ToString::to_string).collect();
        println!("names:       {}", names.join(", "));
    }
    match (&ca, &config.ca) {
        (Some(ca), Some((ca_cert, _))) => {
            println!("issuer:      {} ({})", ca.subject, ca_cert.display());
        }
        _ => println!("issuer:      self-signed"),
    }
    println!(
        "expires:     {} ({} days)",
        certgen::utc_date(issued.not_after),
        req.days
    );
    println!(
        "SHA-256:     {}",
        certgen::sha256_fingerprint(&issued.cert_der)
    );
    if let Some(ca) = &ca
        && ca.not_after < issued.not_after
    {
        eprintln!(
            "nicksock: warning: the CA expires on {}, before this certificate; it stops \
             verifying then",
            certgen::utc_date(ca.not_after)
        );
    }
    Ok(())
}

impl Config {
    fn from_args(args: GenCertArgs) -> Result<Self, clap::Error> {
        let role = if args.ca {
            Role::Ca
        } else if args.client {
            Role::Client
        } else {
            Role::Server
        };
        let (common_name, sans) = if role == Role::Ca {
            // A CA's name is a label for people ("Lab CA"), not a host name.
            let name = args.names.join(" ");
            let name = if name.trim().is_empty() {
                certgen::DEFAULT_CA_NAME.to_string()
            } else {
                name
            };
            (name, Vec::new())
        } else {
            let sans = args
                .names
                .iter()
                .map(|n| certgen::classify(n).map_err(|e| usage_error("gen-cert", e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let first = args
                .names
                .first()
                .ok_or_else(|| usage_error("gen-cert", "give at least one NAME or IP"))?;
            (first.clone(), sans)
        };
        let base = match args.name {
            Some(name) => {
                check_base_name(&name)?;
                name
            }
            None => match role {
                Role::Server => SERVER_BASE_NAME,
                Role::Client => CLIENT_BASE_NAME,
                Role::Ca => CA_BASE_NAME,
            }
            .to_string(),
        };
        Ok(Config {
            request: Request {
                role,
                common_name,
                sans,
                days: args.days,
                key_type: args.key_type.into(),
            },
            ca: args.ca_cert.zip(args.ca_key),
            cert_path: args.out.join(format!("{base}{CERT_SUFFIX}")),
            key_path: args.out.join(format!("{base}{KEY_SUFFIX}")),
            out: args.out,
            force: args.force,
        })
    }
}

/// `--name` is a base name inside `--out`, never a path.
fn check_base_name(name: &str) -> Result<(), clap::Error> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(usage_error(
            "gen-cert",
            format!(
                "invalid --name '{name}': give a file name without '/' (the directory is --out)"
            ),
        ));
    }
    Ok(())
}

fn check_out_dir(out: &Path) -> Result<()> {
    match std::fs::metadata(out) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(fail(
            Kind::File,
            format!("output directory {}: not a directory", out.display()),
        )),
        Err(e) => Err(e).tag(Kind::File, format!("output directory {}", out.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser as _;
    use clap::error::ErrorKind;

    fn config(args: &[&str]) -> Result<Config, clap::Error> {
        let cli = Cli::try_parse_from(["nicksock", "gen-cert"].iter().chain(args))?;
        match cli.command {
            crate::cli::Command::GenCert(args) => Config::from_args(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn file_names_follow_the_role_and_name() {
        let c = config(&["localhost"]).unwrap();
        assert_eq!(c.cert_path, Path::new("./cert.pem"));
        assert_eq!(c.key_path, Path::new("./cert-key.pem"));
        let c = config(&["--client", "alice.test", "--out", "/tmp"]).unwrap();
        assert_eq!(c.cert_path, Path::new("/tmp/client.pem"));
        let c = config(&["--ca"]).unwrap();
        assert_eq!(c.key_path, Path::new("./ca-key.pem"));
        assert_eq!(c.request.common_name, certgen::DEFAULT_CA_NAME);
        let c = config(&["--ca", "Lab", "CA"]).unwrap();
        assert_eq!(c.request.common_name, "Lab CA");
        let c = config(&["--name", "web", "a.test"]).unwrap();
        assert_eq!(c.key_path, Path::new("./web-key.pem"));
    }

    #[test]
    fn bad_names_are_usage_errors() {
        for args in [&["bad name"][..], &["--name", "../x", "a.test"]] {
            let err = config(args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidValue);
            assert_eq!(err.exit_code(), 2);
        }
    }
}
