//! MQTT 3.1.1, the client side, without I/O: the packets ([`codec`]) and one connection's
//! protocol ([`session`]). `serve-gpio --mqtt` drives them from its event loop.

pub mod codec;
pub mod session;
