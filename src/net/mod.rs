//! The event loop and the sockets on it.
