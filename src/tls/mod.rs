//! Everything rustls: the client and server configurations built from the command line, and
//! the TLS stream the Transport wraps around a socket. All rustls calls live in this module
//! (rustls 0.24 changes the API; one module to port).

pub mod config;
pub mod keylog;
pub mod stream;

pub use config::{
    ClientOptions, INSECURE_WARNING, client_config, explain, server_config, server_name,
};
pub use stream::{Lower, TlsError, TlsStream};
