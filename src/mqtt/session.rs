//! One MQTT 3.1.1 connection's protocol, without I/O: CONNECT first, then what the broker
//! sends decoded into [`Incoming`] messages (QoS 1 acknowledged), keep-alive pings, and a
//! connection that stopped answering found out. The owner moves the bytes: it hands what
//! it read to [`Session::received`] and writes [`Session::pending`].

use std::fmt;
use std::time::{Duration, Instant};

use super::codec::{self, Connect, DecodeError, Packet, Publish, QoS, TooLong};

/// The largest packet taken from a broker: commands are a few bytes, discovery configs a
/// few hundred; anything bigger ends the connection instead of growing the buffer.
pub const MAX_INCOMING: usize = 64 * 1024;

/// How long the broker has to answer CONNECT.
pub const CONNACK_WAIT: Duration = Duration::from_secs(10);

/// A message the broker passed on, or the session coming up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// CONNACK accepted the connection.
    Up { session_present: bool },
    /// A PUBLISH for one of our subscriptions (acknowledged already when QoS 1).
    Message {
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    },
    /// A PUBLISH larger than [`MAX_INCOMING`], of this many bytes, skipped unread: one
    /// message too large for us must not keep the client off a broker that would send it
    /// again on every connection.
    Skipped(usize),
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The broker refused CONNECT with this return code.
    Refused(u8),
    /// The broker sent what MQTT does not allow.
    Protocol(String),
    /// No CONNACK in time, or no answer to a ping.
    Silent(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused(code) => write!(
                f,
                "the broker refused the connection: {} (CONNACK {code})",
                codec::connack_reason(*code)
            ),
            Error::Protocol(why) => write!(f, "{why}"),
            Error::Silent(what) => write!(f, "the broker did not answer {what}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::Protocol(e.to_string())
    }
}

/// An MQTT session on one connection. (No `Debug`: its output holds the password until
/// CONNECT is written.)
pub struct Session {
    /// Bytes to write, in order.
    out: Vec<u8>,
    /// Bytes read and not yet a whole packet.
    input: Vec<u8>,
    /// Bytes still to drop of a PUBLISH too large to take.
    skipping: usize,
    up: bool,
    keep_alive: Duration,
    /// When the last byte was queued for the broker, and when it last sent one.
    last_sent: Instant,
    last_heard: Instant,
    /// When the ping now in flight went out.
    ping_sent: Option<Instant>,
    started: Instant,
    next_pid: u16,
}

impl Session {
    /// A session whose CONNECT is the first thing pending.
    pub fn new(connect: &Connect<'_>, now: Instant) -> Result<Session, TooLong> {
        let mut out = Vec::new();
        codec::connect(&mut out, connect)?;
        Ok(Session {
            out,
            input: Vec::new(),
            skipping: 0,
            up: false,
            keep_alive: Duration::from_secs(u64::from(connect.keep_alive)),
            last_sent: now,
            last_heard: now,
            ping_sent: None,
            started: now,
            next_pid: 1,
        })
    }

    /// Whether CONNACK accepted the connection.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.out
    }

    /// `n` bytes of [`Session::pending`] were written.
    pub fn wrote(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }

    fn next_pid(&mut self) -> u16 {
        let pid = self.next_pid;
        self.next_pid = self.next_pid.checked_add(1).unwrap_or(1);
        pid
    }

    /// Queues a PUBLISH at QoS 0 (state is published again in full on every new
    /// connection, so none needs acknowledging).
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        retain: bool,
        now: Instant,
    ) -> Result<(), TooLong> {
        codec::publish_packet(
            &mut self.out,
            &Publish {
                topic,
                payload,
                qos: QoS::AtMostOnce,
                retain,
                dup: false,
                pid: None,
            },
        )?;
        self.last_sent = now;
        Ok(())
    }

    /// Queues a SUBSCRIBE of `filters`.
    pub fn subscribe(&mut self, filters: &[(&str, QoS)], now: Instant) -> Result<(), TooLong> {
        let pid = self.next_pid();
        codec::subscribe(&mut self.out, pid, filters)?;
        self.last_sent = now;
        Ok(())
    }

    /// Takes bytes read from the broker; the messages they complete, in order. QoS 1
    /// messages are acknowledged as they are returned (the owner acts on them before it
    /// next writes, so an acknowledgement never goes out for a command not carried out).
    /// An error gives none of this read's messages: the owner drops the connection, their
    /// acknowledgements are never written, and the broker sends them again.
    pub fn received(&mut self, data: &[u8], now: Instant) -> Result<Vec<Incoming>, Error> {
        if !data.is_empty() {
            self.last_heard = now;
        }
        let mut data = data;
        if self.skipping > 0 {
            let n = self.skipping.min(data.len());
            self.skipping -= n;
            data = &data[n..];
        }
        self.input.extend_from_slice(data);
        let mut found = Vec::new();
        let mut used = 0;
        loop {
            let (len, packet) = match codec::decode(&self.input[used..], MAX_INCOMING) {
                Ok(Some(decoded)) => decoded,
                Ok(None) => break,
                // A PUBLISH too large: dropped as it comes, the connection kept.
                Err(DecodeError::TooLarge(total)) if self.input[used] >> 4 == 3 && self.up => {
                    let here = (self.input.len() - used).min(total);
                    used += here;
                    self.skipping = total - here;
                    found.push(Incoming::Skipped(total));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            used += len;
            match packet {
                Packet::ConnAck { .. } if self.up => {
                    return Err(Error::Protocol("a second CONNACK".into()));
                }
                Packet::ConnAck {
                    session_present,
                    code: 0,
                } => {
                    self.up = true;
                    found.push(Incoming::Up { session_present });
                }
                Packet::ConnAck { code, .. } => return Err(Error::Refused(code)),
                _ if !self.up => {
                    return Err(Error::Protocol("a packet before CONNACK".into()));
                }
                Packet::Publish(p) => {
                    if p.qos == QoS::ExactlyOnce {
                        return Err(Error::Protocol(
                            "a QoS 2 message (the subscriptions asked for QoS 1 at most)".into(),
                        ));
                    }
                    if let Some(pid) = p.pid {
                        codec::puback(&mut self.out, pid);
                        self.last_sent = now;
                    }
                    found.push(Incoming::Message {
                        topic: p.topic.to_string(),
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                    });
                }
                Packet::SubAck { codes, .. } => {
                    if codes.contains(&0x80) {
                        return Err(Error::Protocol(
                            "the broker refused the subscription (is the user allowed to read \
                             the topic?)"
                                .into(),
                        ));
                    }
                }
                Packet::PingResp => self.ping_sent = None,
                // Nothing is published at QoS 1 or 2, and nothing unsubscribed.
                Packet::PubAck(_)
                | Packet::PubRec(_)
                | Packet::PubRel(_)
                | Packet::PubComp(_)
                | Packet::UnsubAck(_) => {
                    return Err(Error::Protocol(
                        "an acknowledgement of nothing the client sent".into(),
                    ));
                }
            }
        }
        self.input.drain(..used);
        Ok(found)
    }

    /// When [`Session::on_due`] next has something to do.
    pub fn due(&self) -> Instant {
        if !self.up {
            return self.started + CONNACK_WAIT;
        }
        match self.ping_sent {
            Some(at) => at + self.ping_wait(),
            None => self.quiet_since() + self.ping_every(),
        }
    }

    /// Since when one side has said nothing: a ping goes out when either is quiet, so a
    /// connection that only sends (the pins change often) still finds out that the broker
    /// is gone.
    fn quiet_since(&self) -> Instant {
        self.last_sent.min(self.last_heard)
    }

    /// Pings a quiet connection; an error when the broker stopped answering.
    pub fn on_due(&mut self, now: Instant) -> Result<(), Error> {
        if !self.up {
            if now >= self.started + CONNACK_WAIT {
                return Err(Error::Silent("CONNECT within 10 s"));
            }
            return Ok(());
        }
        match self.ping_sent {
            // Anything heard since the ping went out says the broker is there.
            Some(at) if now >= at + self.ping_wait() => {
                if self.last_heard < at {
                    return Err(Error::Silent("a ping (keep-alive)"));
                }
                self.ping_sent = None;
                Ok(())
            }
            Some(_) => Ok(()),
            None if now >= self.quiet_since() + self.ping_every() => {
                codec::pingreq(&mut self.out);
                self.last_sent = now;
                self.ping_sent = Some(now);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Silence after which a ping goes out: well within the keep-alive the broker holds us
    /// to (it gives up after one and a half).
    fn ping_every(&self) -> Duration {
        self.keep_alive * 3 / 4
    }

    /// How long a ping may go unanswered.
    fn ping_wait(&self) -> Duration {
        self.keep_alive / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect() -> Connect<'static> {
        Connect {
            client_id: "t",
            keep_alive: 20,
            clean_session: false,
            will: None,
            username: None,
            password: None,
        }
    }

    #[test]
    fn connack_then_a_qos1_message_is_acknowledged() {
        let t0 = Instant::now();
        let mut s = Session::new(&connect(), t0).unwrap();
        assert_eq!(s.pending()[0], 0x10);
        let n = s.pending().len();
        s.wrote(n);
        assert!(!s.is_up());
        // CONNACK and a QoS 1 PUBLISH in one read, split anywhere.
        let mut wire = vec![0x20, 2, 0, 0];
        codec::publish_packet(
            &mut wire,
            &Publish {
                topic: "p/13/set",
                payload: b"ON",
                qos: QoS::AtLeastOnce,
                retain: false,
                dup: true,
                pid: Some(7),
            },
        )
        .unwrap();
        let (a, b) = wire.split_at(5);
        let mut got = s.received(a, t0).unwrap();
        got.extend(s.received(b, t0).unwrap());
        assert_eq!(
            got,
            [
                Incoming::Up {
                    session_present: false
                },
                Incoming::Message {
                    topic: "p/13/set".into(),
                    payload: b"ON".to_vec(),
                    retain: false
                }
            ]
        );
        assert_eq!(s.pending(), [0x40, 2, 0, 7]);
    }

    #[test]
    fn a_publish_too_large_is_skipped_and_the_session_goes_on() {
        let t0 = Instant::now();
        let mut s = Session::new(&connect(), t0).unwrap();
        s.received(&[0x20, 2, 0, 0], t0).unwrap();
        let big = vec![b'x'; MAX_INCOMING * 2];
        let mut wire = Vec::new();
        for payload in [&big[..], b"ON"] {
            codec::publish_packet(
                &mut wire,
                &Publish {
                    topic: "p/13/set",
                    payload,
                    qos: QoS::AtMostOnce,
                    retain: false,
                    dup: false,
                    pid: None,
                },
            )
            .unwrap();
        }
        let mut got = Vec::new();
        for piece in wire.chunks(5000) {
            got.extend(s.received(piece, t0).unwrap());
        }
        assert!(matches!(got[0], Incoming::Skipped(n) if n > MAX_INCOMING * 2));
        assert!(matches!(&got[1], Incoming::Message { payload, .. } if payload == b"ON"));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_refusal_and_silence_are_errors() {
        let t0 = Instant::now();
        let mut s = Session::new(&connect(), t0).unwrap();
        assert_eq!(s.received(&[0x20, 2, 0, 4], t0), Err(Error::Refused(4)));
        assert!(
            Error::Refused(4)
                .to_string()
                .contains("bad user name or password")
        );
        let mut s = Session::new(&connect(), t0).unwrap();
        assert_eq!(s.due(), t0 + CONNACK_WAIT);
        assert!(s.on_due(t0 + CONNACK_WAIT).is_err());
        // A packet before CONNACK.
        let mut s = Session::new(&connect(), t0).unwrap();
        assert!(s.received(&[0xd0, 0], t0).is_err());
    }

    #[test]
    fn a_quiet_connection_is_pinged_and_a_silent_one_dropped() {
        let t0 = Instant::now();
        let mut s = Session::new(&connect(), t0).unwrap();
        s.received(&[0x20, 2, 0, 0], t0).unwrap();
        let n = s.pending().len();
        s.wrote(n);
        // 20 s keep-alive: a ping after 15 s of quiet.
        let ping_at = s.due();
        assert_eq!(ping_at, t0 + Duration::from_secs(15));
        s.on_due(ping_at).unwrap();
        assert_eq!(s.pending(), [0xc0, 0]);
        s.wrote(2);
        // Answered: the next ping 15 s later.
        let t1 = ping_at + Duration::from_secs(1);
        s.received(&[0xd0, 0], t1).unwrap();
        assert_eq!(s.due(), ping_at + Duration::from_secs(15));
        // Bytes other than PINGRESP after a ping also say the broker is there: the ping is
        // done with, and nothing is due at once again.
        let t_other = s.due();
        s.on_due(t_other).unwrap();
        let mut publish = Vec::new();
        codec::publish_packet(
            &mut publish,
            &Publish {
                topic: "p/13/set",
                payload: b"ON",
                qos: QoS::AtMostOnce,
                retain: false,
                dup: false,
                pid: None,
            },
        )
        .unwrap();
        s.received(&publish, t_other + Duration::from_secs(1))
            .unwrap();
        let answered = t_other + Duration::from_secs(10);
        assert_eq!(s.due(), answered);
        s.on_due(answered).unwrap();
        assert!(s.due() > answered, "due again at once: a busy loop");
        s.wrote(s.pending().len());
        // Unanswered: dropped 10 s after it went out.
        let t2 = s.due();
        s.on_due(t2).unwrap();
        assert_eq!(s.due(), t2 + Duration::from_secs(10));
        assert_eq!(
            s.on_due(t2 + Duration::from_secs(10)),
            Err(Error::Silent("a ping (keep-alive)"))
        );
    }
}
