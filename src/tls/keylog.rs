//! TLS key logging for Wireshark: with `--keylog FILE` (or `SSLKEYLOGFILE=FILE`, as curl,
//! browsers and Go honour it) every TLS client and server of the process appends the NSS
//! key log lines of its sessions (`CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random>
//! <secret>`…, `CLIENT_RANDOM …` for TLS 1.2) to FILE, which Wireshark reads to decrypt a
//! capture. Those secrets decrypt the traffic, so a file it creates is readable by its
//! owner only (0600), and a warning says that secrets are being written.
//!
//! rustls' own `KeyLogFile` reads the variable too, but creates the file with the default
//! permissions and says nothing; this one does both as the issue of key logging demands.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use anyhow::Result;
use rustls::KeyLog;

use crate::error::{Kind, Tag as _};

/// The process's key log, once enabled.
static KEY_LOG: OnceLock<Arc<KeyLogFile>> = OnceLock::new();

/// A key log file, appended to one whole line at a time.
#[derive(Debug)]
pub struct KeyLogFile {
    file: Mutex<File>,
}

impl KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut line =
            String::with_capacity(label.len() + 2 * (client_random.len() + secret.len()) + 3);
        line.push_str(label);
        line.push(' ');
        hex(&mut line, client_random);
        line.push(' ');
        hex(&mut line, secret);
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        // A failed write loses a line of the log, never the connection.
        let _ = file.write_all(line.as_bytes());
    }
}

fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// Opens `path` for the process's TLS key log (created 0600, appended to) and says so on
/// stderr. A file that cannot be opened is an error (exit 10) before any connection.
pub fn enable(path: &Path, from_env: bool) -> Result<()> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .tag(
            Kind::File,
            format!("opening the TLS key log {}", path.display()),
        )?;
    let source = if from_env { " (SSLKEYLOGFILE)" } else { "" };
    eprintln!(
        "nicksock: warning: writing TLS secrets to {}{source}: anyone who can read that file \
         can decrypt these connections",
        path.display()
    );
    let _ = KEY_LOG.set(Arc::new(KeyLogFile {
        file: Mutex::new(file),
    }));
    Ok(())
}

/// The key log to put in every TLS configuration, once enabled.
pub fn current() -> Option<Arc<dyn KeyLog>> {
    KEY_LOG.get().map(|k| Arc::clone(k) as Arc<dyn KeyLog>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn lines_are_nss_key_log_lines_and_a_new_file_is_the_owners_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        let log = KeyLogFile {
            file: Mutex::new(
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(&path)
                    .unwrap(),
            ),
        };
        log.log("CLIENT_RANDOM", &[0xab, 0x01], &[0x00, 0xff, 0x10]);
        log.log("SERVER_TRAFFIC_SECRET_0", &[0x02], &[0x03]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "CLIENT_RANDOM ab01 00ff10\nSERVER_TRAFFIC_SECRET_0 02 03\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
