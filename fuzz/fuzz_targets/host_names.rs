//! Names as `gen-cert` and the resolver judge them: one rule for both. A name `gen-cert`
//! takes as DNS is one the resolver would look up (wildcards aside), an IP it takes parses
//! as an IP, and whatever the resolver refuses comes with a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nicksock::certgen::{San, classify};
use nicksock::names::{host_name_problem, parse_ip};

fuzz_target!(|input: &[u8]| {
    let Ok(name) = std::str::from_utf8(input) else {
        return;
    };
    match classify(name) {
        Ok(San::Ip(ip)) => assert_eq!(parse_ip(name), Some(ip)),
        Ok(San::Dns(dns)) => {
            let base = dns.strip_prefix("*.").unwrap_or(&dns);
            assert_eq!(host_name_problem(base), None, "{dns}");
            assert!(!base.ends_with('.'));
        }
        Err(_) => {}
    }
    if let Some(why) = host_name_problem(name) {
        assert!(!why.is_empty());
    }
});
