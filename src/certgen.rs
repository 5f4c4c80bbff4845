//! Certificates for the TLS servers: self-signed leaves, a local CA, and CA-signed leaves.
