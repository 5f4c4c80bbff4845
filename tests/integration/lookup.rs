//! Host names resolve as the system resolves them: through /etc/nsswitch.conf, where
//! `pi.local` (mdns4_minimal) and the like come from. The glibc builds get this from
//! getaddrinfo; the static musl build (the ARMv6 armhf package) asks `getent ahosts`
//! when nsswitch.conf names a service musl lacks (src/net/lookup.rs).
//!
//! The test runs nicksock in a mount namespace of its own (`unshare -m`, as root) whose
//! nsswitch.conf says `hosts: myhostname` (systemd's module, which answers every
//! `*.localhost` name with the loopback addresses), whose /etc/hosts is empty, and whose
//! resolv.conf names 127.0.0.1 as the DNS server (nothing listens there): only the
//! name-service switch can answer, and no query leaves the machine.

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;

use crate::util::*;

/// Where Debian installs systemd's nss-myhostname (libnss-myhostname).
fn have_myhostname() -> bool {
    let found = ["/lib", "/usr/lib"].iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().join("libnss_myhostname.so.2").is_file())
        })
    });
    if !found {
        skip("libnss-myhostname is not installed");
    }
    found
}

#[test]
fn a_name_only_the_name_service_switch_knows_resolves() {
    if !have("unshare") || !have_myhostname() {
        return;
    }
    if !rustix::process::geteuid().is_root() {
        skip("a mount namespace needs root");
        return;
    }
    let dir = tempdir();
    write_file(dir.path(), "nsswitch.conf", b"hosts: myhostname\n");
    write_file(dir.path(), "hosts", b"");
    write_file(dir.path(), "resolv.conf", b"nameserver 127.0.0.1\n");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port().to_string();

    // sh binds the three files over /etc's, then becomes nicksock (under the runner, if any).
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c"])
        .arg(
            r#"for f in nsswitch.conf hosts resolv.conf; do mount --bind "$1/$f" "/etc/$f" || exit 99; done
               shift; exec "$@""#,
        )
        .arg("sh")
        .arg(dir.path())
        .args(bin_argv())
        .args(["connect", "-4", "nicksock-check.localhost", &port])
        .env("RUST_BACKTRACE", "0");
    let mut client = Proc::spawn(cmd);
    client.send(b"resolved through nsswitch\n");
    client.close_stdin();
    // The connection, unless nicksock exits first (the name did not resolve).
    listener.set_nonblocking(true).expect("nonblocking");
    let mut conn = None;
    wait_until("nicksock to connect or exit", || {
        conn = listener.accept().ok().map(|(c, _)| c);
        conn.is_some() || client.child.try_wait().is_ok_and(|s| s.is_some())
    });
    let Some(mut conn) = conn else {
        panic!("nicksock exited without connecting: {:?}", client.wait());
    };
    conn.set_nonblocking(false).expect("blocking");
    let mut got = String::new();
    conn.read_to_string(&mut got).expect("read");
    assert_eq!(got, "resolved through nsswitch\n");
    drop(conn);
    client.wait().assert_code(0);
}
