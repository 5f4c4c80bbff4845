//! The MQTT 3.1.1 packets of a client (OASIS standard, 2014), without I/O: the packets a
//! client sends are appended to a buffer, and the packets a broker sends are read from the
//! front of one, a partial packet being `Ok(None)` with nothing consumed. Decoding is
//! strict (the spec's "malformed packet" rules: reserved flags, QoS 3, a DUP flag on QoS 0,
//! wildcards in a topic name, a length past the packet), and the largest packet taken is
//! the caller's limit, so a broker cannot make the client hold more.
//!
//! Only what a client needs is here: it never decodes CONNECT or SUBSCRIBE, and QoS 2's
//! PUBREC/PUBREL/PUBCOMP are decoded only to be refused by the client (it subscribes at
//! QoS 1 at most, so a broker never sends them).

use std::fmt;

/// The largest remaining length the four-byte length field can say (§2.2.3).
pub const MAX_REMAINING: usize = 268_435_455;

/// The protocol level of MQTT 3.1.1 in CONNECT.
const LEVEL_311: u8 = 4;

/// A delivery guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QoS {
    /// At most once (0).
    AtMostOnce,
    /// At least once (1): acknowledged with PUBACK, sent again until then.
    AtLeastOnce,
    /// Exactly once (2).
    ExactlyOnce,
}

impl QoS {
    fn bits(self) -> u8 {
        match self {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => 1,
            QoS::ExactlyOnce => 2,
        }
    }

    fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// The message the broker publishes for a client that goes away without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
}

/// CONNECT (§3.1). Its `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct Connect<'a> {
    pub client_id: &'a str,
    /// Seconds; 0: no keep-alive.
    pub keep_alive: u16,
    /// Start a new session (and end it with the connection) instead of resuming one.
    pub clean_session: bool,
    pub will: Option<Will<'a>>,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
}

impl fmt::Debug for Connect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("client_id", &self.client_id)
            .field("keep_alive", &self.keep_alive)
            .field("clean_session", &self.clean_session)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.map(|_| "***"))
            .finish()
    }
}

/// PUBLISH (§3.3), either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
    /// A resend of a packet the receiver may have seen (QoS 1 and 2 only).
    pub dup: bool,
    /// The packet identifier: present exactly when `qos` is above 0, and never 0.
    pub pid: Option<u16>,
}

/// A packet a broker sends a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNACK: whether the broker had a session for us, and its return code (0: accepted).
    ConnAck {
        session_present: bool,
        code: u8,
    },
    Publish(Publish<'a>),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    /// SUBACK: a return code per filter (0–2: the QoS granted, 0x80: refused).
    SubAck {
        pid: u16,
        codes: &'a [u8],
    },
    UnsubAck(u16),
    PingResp,
}

/// Bytes that are not an MQTT 3.1.1 packet a broker may send a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// What rule the bytes broke.
    Malformed(&'static str),
    /// A packet longer than the caller takes: its length.
    TooLarge(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed(why) => write!(f, "a malformed MQTT packet: {why}"),
            DecodeError::TooLarge(n) => write!(f, "an MQTT packet of {n} bytes is too large"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A packet that cannot be encoded: a string or a packet over the protocol's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too long for an MQTT packet (strings: 65535 bytes at most)")
    }
}

impl std::error::Error for TooLong {}

/// What the CONNACK return codes 1 to 5 mean (§3.2.2.3).
pub fn connack_reason(code: u8) -> &'static str {
    match code {
        0 => "accepted",
        1 => "the broker does not speak MQTT 3.1.1",
        2 => "the broker refused the client identifier",
        3 => "the MQTT service is unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "an unknown return code",
    }
}

/// Reads the fixed header at the front of `buf`: the first byte, the remaining length,
/// and the header's own length; `None` while its length field is incomplete.
fn fixed_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((first, remaining, 2 + i)));
        }
    }
    Err(DecodeError::Malformed(
        "a remaining length of more than 4 bytes",
    ))
}

/// Decodes the packet at the front of `buf`: `Ok(None)` until it is whole, else its length
/// in `buf` and the packet (borrowing from `buf`). A packet longer than `max` bytes is an
/// error as soon as its header says so.
pub fn decode(buf: &[u8], max: usize) -> Result<Option<(usize, Packet<'_>)>, DecodeError> {
    let Some((first, remaining, header)) = fixed_header(buf)? else {
        return Ok(None);
    };
    let total = header + remaining;
    if total > max {
        return Err(DecodeError::TooLarge(total));
    }
    let Some(body) = buf.get(header..total) else {
        return Ok(None);
    };
    let (kind, flags) = (first >> 4, first & 0x0f);
    let packet = match kind {
        2 => {
            fixed(flags, 0, body, 2)?;
            if body[0] & 0xfe != 0 {
                return Err(DecodeError::Malformed("CONNACK's reserved flags are set"));
            }
            Packet::ConnAck {
                session_present: body[0] & 1 == 1,
                code: body[1],
            }
        }
        3 => Packet::Publish(publish(flags, body)?),
        4 => Packet::PubAck(pid_only(flags, 0, body)?),
        5 => Packet::PubRec(pid_only(flags, 0, body)?),
        6 => Packet::PubRel(pid_only(flags, 2, body)?),
        7 => Packet::PubComp(pid_only(flags, 0, body)?),
        9 => {
            if flags != 0 {
                return Err(DecodeError::Malformed("SUBACK's reserved flags are set"));
            }
            let [hi, lo, codes @ ..] = body else {
                return Err(DecodeError::Malformed(
                    "a SUBACK without a packet identifier",
                ));
            };
            if codes.is_empty() {
                return Err(DecodeError::Malformed("a SUBACK without return codes"));
            }
            if codes.iter().any(|c| !matches!(c, 0..=2 | 0x80)) {
                return Err(DecodeError::Malformed(
                    "a SUBACK return code is not 0, 1, 2 or 128",
                ));
            }
            Packet::SubAck {
                pid: nonzero(u16::from_be_bytes([*hi, *lo]))?,
                codes,
            }
        }
        11 => Packet::UnsubAck(pid_only(flags, 0, body)?),
        13 => {
            fixed(flags, 0, body, 0)?;
            Packet::PingResp
        }
        // CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT go to brokers; 0 and 15
        // are reserved.
        _ => {
            return Err(DecodeError::Malformed(
                "not a packet a broker sends a client",
            ));
        }
    };
    Ok(Some((total, packet)))
}

/// A packet of fixed flags and length.
fn fixed(flags: u8, want: u8, body: &[u8], len: usize) -> Result<(), DecodeError> {
    if flags != want {
        return Err(DecodeError::Malformed("reserved flags are set"));
    }
    if body.len() != len {
        return Err(DecodeError::Malformed("a packet of the wrong length"));
    }
    Ok(())
}

/// A packet that is a packet identifier alone (PUBACK and its kin).
fn pid_only(flags: u8, want: u8, body: &[u8]) -> Result<u16, DecodeError> {
    fixed(flags, want, body, 2)?;
    nonzero(u16::from_be_bytes([body[0], body[1]]))
}

fn nonzero(pid: u16) -> Result<u16, DecodeError> {
    if pid == 0 {
        return Err(DecodeError::Malformed("a packet identifier of 0"));
    }
    Ok(pid)
}

fn publish(flags: u8, body: &[u8]) -> Result<Publish<'_>, DecodeError> {
    let qos =
        QoS::from_bits((flags >> 1) & 3).ok_or(DecodeError::Malformed("a PUBLISH of QoS 3"))?;
    let dup = flags & 8 != 0;
    if dup && qos == QoS::AtMostOnce {
        return Err(DecodeError::Malformed("a PUBLISH of QoS 0 with DUP set"));
    }
    let (topic, rest) = string(body)?;
    if topic.contains(['+', '#']) {
        return Err(DecodeError::Malformed("a wildcard in a PUBLISH's topic"));
    }
    let (pid, payload) = match qos {
        QoS::AtMostOnce => (None, rest),
        _ => {
            let [hi, lo, payload @ ..] = rest else {
                return Err(DecodeError::Malformed(
                    "a PUBLISH without its packet identifier",
                ));
            };
            (Some(nonzero(u16::from_be_bytes([*hi, *lo]))?), payload)
        }
    };
    Ok(Publish {
        topic,
        payload,
        qos,
        retain: flags & 1 != 0,
        dup,
        pid,
    })
}

/// A UTF-8 string with its two-byte length (§1.5.3), and what follows it.
fn string(body: &[u8]) -> Result<(&str, &[u8]), DecodeError> {
    let [hi, lo, rest @ ..] = body else {
        return Err(DecodeError::Malformed("a string's length is cut off"));
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if rest.len() < len {
        return Err(DecodeError::Malformed("a string runs past the packet"));
    }
    let (text, rest) = rest.split_at(len);
    let text = std::str::from_utf8(text)
        .map_err(|_| DecodeError::Malformed("a string that is not UTF-8"))?;
    if text.contains('\0') {
        return Err(DecodeError::Malformed("a string with U+0000"));
    }
    Ok((text, rest))
}

/// The bytes of a packet being encoded: its variable header and payload, then the fixed
/// header put in front.
struct Body(Vec<u8>);

impl Body {
    fn new() -> Body {
        Body(Vec::new())
    }

    fn u8(&mut self, b: u8) -> &mut Body {
        self.0.push(b);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Body {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn bytes(&mut self, data: &[u8]) -> Result<&mut Body, TooLong> {
        let len = u16::try_from(data.len()).map_err(|_| TooLong)?;
        self.u16(len);
        self.0.extend_from_slice(data);
        Ok(self)
    }

    fn raw(&mut self, data: &[u8]) -> &mut Body {
        self.0.extend_from_slice(data);
        self
    }

    /// Appends the packet to `out`: first byte, remaining length, this body.
    fn finish(&self, first: u8, out: &mut Vec<u8>) -> Result<(), TooLong> {
        let mut len = self.0.len();
        if len > MAX_REMAINING {
            return Err(TooLong);
        }
        out.reserve(5 + len);
        out.push(first);
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(&self.0);
        Ok(())
    }
}

/// Appends CONNECT.
pub fn connect(out: &mut Vec<u8>, c: &Connect<'_>) -> Result<(), TooLong> {
    // A password without a user name is malformed (§3.1.2.9); callers refuse it earlier.
    debug_assert!(c.password.is_none() || c.username.is_some());
    let mut flags = 0u8;
    if c.clean_session {
        flags |= 0x02;
    }
    if let Some(will) = &c.will {
        flags |= 0x04 | (will.qos.bits() << 3);
        if will.retain {
            flags |= 0x20;
        }
    }
    if c.password.is_some() {
        flags |= 0x40;
    }
    if c.username.is_some() {
        flags |= 0x80;
    }
    let mut body = Body::new();
    body.bytes(b"MQTT")?
        .u8(LEVEL_311)
        .u8(flags)
        .u16(c.keep_alive)
        .bytes(c.client_id.as_bytes())?;
    if let Some(will) = &c.will {
        body.bytes(will.topic.as_bytes())?.bytes(will.payload)?;
    }
    if let Some(user) = c.username {
        body.bytes(user.as_bytes())?;
    }
    if let Some(password) = c.password {
        body.bytes(password)?;
    }
    body.finish(0x10, out)
}

/// Appends PUBLISH. `pid` must be given exactly when `qos` is above 0.
pub fn publish_packet(out: &mut Vec<u8>, p: &Publish<'_>) -> Result<(), TooLong> {
    let mut first = 0x30 | (p.qos.bits() << 1);
    if p.dup {
        first |= 0x08;
    }
    if p.retain {
        first |= 0x01;
    }
    let mut body = Body::new();
    body.bytes(p.topic.as_bytes())?;
    if let Some(pid) = p.pid.filter(|_| p.qos != QoS::AtMostOnce) {
        body.u16(pid);
    }
    body.raw(p.payload);
    body.finish(first, out)
}

/// Appends PUBACK.
pub fn puback(out: &mut Vec<u8>, pid: u16) {
    out.extend_from_slice(&[0x40, 2]);
    out.extend_from_slice(&pid.to_be_bytes());
}

/// Appends SUBSCRIBE of `filters`, each with the most QoS it takes.
pub fn subscribe(out: &mut Vec<u8>, pid: u16, filters: &[(&str, QoS)]) -> Result<(), TooLong> {
    let mut body = Body::new();
    body.u16(pid);
    for (filter, qos) in filters {
        body.bytes(filter.as_bytes())?.u8(qos.bits());
    }
    body.finish(0x82, out)
}

/// Appends PINGREQ.
pub fn pingreq(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xc0, 0]);
}

/// Appends DISCONNECT.
pub fn disconnect(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xe0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64 * 1024;

    /// A PUBLISH as a broker would send it.
    fn publish_bytes(p: &Publish<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        publish_packet(&mut out, p).unwrap();
        out
    }

    #[test]
    fn connect_is_the_spec_example_layout() {
        let mut out = Vec::new();
        connect(
            &mut out,
            &Connect {
                client_id: "pi",
                keep_alive: 30,
                clean_session: false,
                will: Some(Will {
                    topic: "a/status",
                    payload: b"offline",
                    qos: QoS::AtLeastOnce,
                    retain: true,
                }),
                username: Some("u"),
                password: Some(b"p"),
            },
        )
        .unwrap();
        let mut want = vec![0x10, 0];
        want.extend_from_slice(b"\0\x04MQTT\x04");
        // user, password, will retain, will QoS 1, will flag; clean session off.
        want.push(0x80 | 0x40 | 0x20 | 0x08 | 0x04);
        want.extend_from_slice(&[0, 30, 0, 2, b'p', b'i', 0, 8]);
        want.extend_from_slice(b"a/status\0\x07offline\0\x01u\0\x01p");
        want[1] = (want.len() - 2) as u8;
        assert_eq!(out, want);
    }

    #[test]
    fn publish_round_trips_at_every_qos_and_length() {
        let big = vec![7u8; 200_000];
        for (qos, pid) in [
            (QoS::AtMostOnce, None),
            (QoS::AtLeastOnce, Some(1)),
            (QoS::ExactlyOnce, Some(65535)),
        ] {
            for payload in [
                &b""[..],
                b"ON",
                &big[..127],
                &big[..128],
                &big[..16_384],
                &big,
            ] {
                let p = Publish {
                    topic: "nicksock/pi/13/set",
                    payload,
                    qos,
                    retain: true,
                    dup: qos != QoS::AtMostOnce,
                    pid,
                };
                let bytes = publish_bytes(&p);
                let (len, got) = decode(&bytes, 1 << 20).unwrap().unwrap();
                assert_eq!(len, bytes.len());
                assert_eq!(got, Packet::Publish(p.clone()));
                // Any prefix is "not yet", never an error.
                for cut in [0, 1, 2, bytes.len() / 2, bytes.len() - 1] {
                    assert_eq!(decode(&bytes[..cut], 1 << 20), Ok(None), "cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn the_small_packets_decode() {
        let cases: [(&[u8], Packet<'_>); 6] = [
            (
                &[0x20, 2, 1, 0],
                Packet::ConnAck {
                    session_present: true,
                    code: 0,
                },
            ),
            (&[0x40, 2, 0, 9], Packet::PubAck(9)),
            (&[0x62, 2, 1, 0], Packet::PubRel(256)),
            (
                &[0x90, 4, 0, 1, 1, 0x80],
                Packet::SubAck {
                    pid: 1,
                    codes: &[1, 0x80],
                },
            ),
            (&[0xb0, 2, 0, 3], Packet::UnsubAck(3)),
            (&[0xd0, 0], Packet::PingResp),
        ];
        for (bytes, want) in cases {
            let mut two = bytes.to_vec();
            two.extend_from_slice(bytes);
            assert_eq!(decode(&two, MAX), Ok(Some((bytes.len(), want))));
        }
    }

    #[test]
    fn malformed_packets_are_refused() {
        let bad: [&[u8]; 14] = [
            &[0x21, 2, 0, 0],                   // CONNACK with a flag
            &[0x20, 2, 2, 0],                   // CONNACK's reserved bits
            &[0x20, 3, 0, 0, 0],                // CONNACK too long
            &[0x36, 5, 0, 1, b'a', 0, 1],       // QoS 3
            &[0x38, 3, 0, 1, b'a'],             // DUP on QoS 0
            &[0x30, 3, 0, 1, b'+'],             // a wildcard in a topic name
            &[0x30, 3, 0, 1, 0xff],             // not UTF-8
            &[0x30, 3, 0, 5, b'a'],             // the topic runs past the packet
            &[0x32, 3, 0, 1, b'a'],             // QoS 1 without a packet identifier
            &[0x42, 2, 0, 1],                   // PUBACK with flags
            &[0x40, 2, 0, 0],                   // packet identifier 0
            &[0x90, 3, 0, 1, 3],                // SUBACK code 3
            &[0x10, 0],                         // CONNECT goes to brokers
            &[0xd0, 0x80, 0x80, 0x80, 0x80, 1], // five length bytes
        ];
        for bytes in bad {
            assert!(
                matches!(decode(bytes, MAX), Err(DecodeError::Malformed(_))),
                "{bytes:02x?}"
            );
        }
        // Too large: refused from the header alone.
        assert_eq!(
            decode(&[0x30, 0xff, 0xff, 0x03], MAX),
            Err(DecodeError::TooLarge(65535 + 4))
        );
    }

    #[test]
    fn the_client_packets_encode() {
        let mut out = Vec::new();
        subscribe(&mut out, 1, &[("p/+/set", QoS::AtLeastOnce)]).unwrap();
        assert_eq!(out, b"\x82\x0c\x00\x01\x00\x07p/+/set\x01");
        out.clear();
        puback(&mut out, 0x0102);
        pingreq(&mut out);
        disconnect(&mut out);
        assert_eq!(out, [0x40, 2, 1, 2, 0xc0, 0, 0xe0, 0]);
        let long = "x".repeat(65_536);
        let p = Publish {
            topic: &long,
            payload: b"",
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            pid: None,
        };
        assert_eq!(publish_packet(&mut out, &p), Err(TooLong));
    }
}
