//! Placeholder until the TLS configuration lands from the tls branch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use rustls::pki_types::ServerName;

/// Printed when verification is off.
pub const INSECURE_WARNING: &str =
    "nicksock: warning: --insecure: the server's certificate is not verified";

/// Client-side TLS options.
pub struct ClientOptions {
    /// Roots to trust instead of the web PKI.
    pub cacert: Option<PathBuf>,
    /// Skip verification.
    pub insecure: bool,
    /// Client certificate.
    pub cert: Option<PathBuf>,
    /// Client key.
    pub key: Option<PathBuf>,
    /// ALPN protocols.
    pub alpn: Vec<Vec<u8>>,
}

/// Builds a client configuration.
pub fn client_config(_opts: &ClientOptions) -> Result<Arc<rustls::ClientConfig>> {
    bail!("TLS is not built yet")
}

/// Builds a server configuration.
pub fn server_config(
    _cert: &Path,
    _key: &Path,
    _client_ca: Option<&Path>,
    _alpn: Vec<Vec<u8>>,
) -> Result<Arc<rustls::ServerConfig>> {
    bail!("TLS is not built yet")
}

/// The name to verify.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    Ok(ServerName::try_from(host.to_string())?)
}
