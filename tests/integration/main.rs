//! Integration tests: the real binary, real sockets on loopback, real peers (OpenBSD nc,
//! socat, openssl, curl) where installed; a test whose peer is missing prints SKIP.

mod access;
mod binary;
mod browser;
mod chat;
mod exec;
mod gen_cert;
mod generated;
mod gpio_events;
mod groups;
mod http_get;
mod keep_open;
mod lookup;
mod mqtt;
mod proxies;
mod proxy;
mod proxy_server;
mod relay;
mod scan;
mod serve_gpio;
mod sigterm;
// The character device, and so hardware PWM, is Linux's.
#[cfg(target_os = "linux")]
mod serve_gpio_hwpwm;
mod sockets;
mod tls;
mod transfer;
mod unix;
mod util;
mod vm_gpio;
