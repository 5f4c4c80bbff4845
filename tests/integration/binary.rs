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
        None => eprintln!(
            "SKIP: no ELF machine number known for {}",
            std::env::consts::ARCH
        ),
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
