//! The binary under test is the one built for the tests' own architecture, and it runs (under
//! `NICKSOCK_TEST_RUNNER` when one is set): so an emulated run of the suite for ARM really
//! drives the ARM binary, not a stray host build.

use crate::util::*;

/// The ELF `e_machine` of the architecture these tests were compiled for, where known.
fn expected_machine() -> Option<u16> {
    match std::env::consts::ARCH {
        "x86" => Some(3),
        "arm" => Some(40),
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        "riscv64" => Some(243),
        _ => None,
    }
}

#[test]
fn binary_under_test_is_built_for_the_test_target_and_runs() {
    let elf = std::fs::read(bin()).expect("read the binary under test");
    assert_eq!(&elf[..4], b"\x7fELF", "{} is not an ELF file", bin());
    // e_machine: two bytes at offset 18, little-endian on every target listed above.
    let machine = u16::from_le_bytes([elf[18], elf[19]]);
    match expected_machine() {
        Some(expected) => assert_eq!(
            machine,
            expected,
            "{} is not a {} binary",
            bin(),
            std::env::consts::ARCH
        ),
        None => skip(&format!(
            "no ELF machine number known for {}",
            std::env::consts::ARCH
        )),
    }

    let done = run(&["--version"], b"");
    done.assert_code(0);
    assert_eq!(
        done.out().trim(),
        format!("nicksock {}", env!("CARGO_PKG_VERSION"))
    );
    eprintln!(
        "ran {} ({}, ELF machine {machine}) as {:?}",
        bin(),
        std::env::consts::ARCH,
        bin_argv()
    );
}

#[test]
fn a_closed_stdout_never_becomes_the_socket() {
    use std::io::{Read, Write};
    // Started with stdout closed, a program that opens a socket may get descriptor 1 for it;
    // what it then "prints" goes to the peer. nicksock opens /dev/null there first.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port().to_string();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.write_all(b"printed, not echoed\n").expect("send");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut back = Vec::new();
        s.read_to_end(&mut back).expect("read");
        back
    });
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$@" </dev/null >&-"#)
        .arg("sh")
        .args(bin_argv())
        .args(["connect", "127.0.0.1", &port])
        .status()
        .expect("run");
    let back = peer.join().expect("peer");
    assert!(
        back.is_empty(),
        "the peer got back {:?}",
        String::from_utf8_lossy(&back)
    );
    assert_eq!(status.code(), Some(0));
}
