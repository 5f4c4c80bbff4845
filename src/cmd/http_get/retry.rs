//! `--retry N`, `--retry-for SECS`: which failures are worth another try, how long to wait
//! before it (exponential back-off with jitter, or the server's `Retry-After`), and how a
//! download that broke off continues (`Range` with `If-Range`) instead of starting over.

use std::hash::BuildHasher as _;
use std::io;
use std::time::{Duration, Instant, SystemTime};

use super::exchange::MaxTimeExpired;
use crate::error::{Kind, kind, socket_error_kind};
use crate::http::body::BodyError;
use crate::http::client::{ResponseError, ResponseHead};

/// Statuses a retry may cure: the server was busy, restarting or behind a proxy that was.
pub const RETRY_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];
/// The first wait; each retry doubles it.
const FIRST_WAIT: Duration = Duration::from_millis(250);
/// The longest wait between two tries (unless `Retry-After` asks for longer).
const MAX_WAIT: Duration = Duration::from_secs(8);
/// Methods that may be sent twice with the same effect (RFC 9110 §9.2.2).
const IDEMPOTENT: [&str; 6] = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"];

/// What the command line asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// `--retry N`: at most N retries (None: as many as `until` allows).
    pub max: Option<u32>,
    /// `--retry-for SECS`: no retry starts after this long since the start.
    pub within: Option<Duration>,
    /// `--retry-all-methods`: retry POST and the like too.
    pub all_methods: bool,
}

impl Policy {
    /// Whether a `method` request may be sent twice: an idempotent method, or any with
    /// `--retry-all-methods`.
    pub fn repeats(&self, method: &str) -> bool {
        self.all_methods || IDEMPOTENT.contains(&method)
    }

    /// Whether retry number `done + 1` of a `method` request may start at `now` (`start`:
    /// when the transfer began).
    pub fn allows(&self, method: &str, done: u32, start: Instant, now: Instant) -> bool {
        let method_ok = self.repeats(method);
        let count_ok = match (self.max, self.within) {
            (Some(max), _) => done < max,
            (None, Some(_)) => true,
            (None, None) => false,
        };
        let time_ok = self
            .within
            .is_none_or(|within| now.saturating_duration_since(start) < within);
        method_ok && count_ok && time_ok
    }

    /// How long to wait before retry number `done + 1`: the server's `Retry-After` when it
    /// gave one, else the back-off; either cut to what is left of `--retry-for`.
    pub fn wait(
        &self,
        done: u32,
        retry_after: Option<Duration>,
        start: Instant,
        now: Instant,
    ) -> Duration {
        let wait = retry_after.unwrap_or_else(|| backoff(done));
        match self.within {
            Some(within) => wait.min(within.saturating_sub(now.saturating_duration_since(start))),
            None => wait,
        }
    }
}

/// 250 ms, 500 ms, 1 s … up to 8 s, each plus up to a quarter more at random, so that many
/// clients turned away at once do not come back at once.
pub fn backoff(done: u32) -> Duration {
    let base = FIRST_WAIT
        .saturating_mul(1u32.checked_shl(done.min(16)).unwrap_or(u32::MAX))
        .min(MAX_WAIT);
    let random = std::collections::hash_map::RandomState::new().hash_one(done);
    let jitter = base.mul_f64((random % 1000) as f64 / 4000.0);
    base + jitter
}

/// A `Retry-After` value: seconds, or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why a failed try is worth another, or None when it is not (a 404, a bad certificate, a
/// malformed response, `--max-time`).
pub fn worth_retrying(err: &anyhow::Error) -> Option<&'static str> {
    match kind(err) {
        Kind::Refused => return Some("connection refused"),
        Kind::Timeout if !err.chain().any(|c| c.is::<MaxTimeExpired>()) => {
            return Some("timed out");
        }
        _ => {}
    }
    if matches!(
        socket_error_kind(err),
        Some(
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
    ) {
        return Some("the connection broke");
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ResponseError>() {
            return match e {
                ResponseError::Body(
                    BodyError::ShortLength { .. } | BodyError::ShortChunked { .. },
                )
                | ResponseError::Empty
                | ResponseError::TruncatedHead => Some("the response was cut short"),
                _ => None,
            };
        }
    }
    None
}

/// What a later try needs to continue a body instead of starting it again: a validator the
/// server gave, so that `If-Range` makes it send the rest only if nothing changed.
pub fn validator(head: &ResponseHead) -> Option<String> {
    let ranges = head
        .header("accept-ranges")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("bytes"));
    if !(ranges || head.status == 206) {
        return None;
    }
    // A weak ETag cannot be used with If-Range (RFC 9110 §13.1.5).
    let etag = head
        .header("etag")
        .map(str::trim)
        .filter(|e| !e.starts_with("W/"));
    etag.or_else(|| head.header("last-modified").map(str::trim))
        .map(str::to_string)
}

/// The first byte a `206` carries, from its `Content-Range: bytes FIRST-LAST/LENGTH`.
pub fn content_range_start(head: &ResponseHead) -> Option<u64> {
    let value = head.header("content-range")?.trim();
    let range = value.strip_prefix("bytes ")?;
    let (first, _) = range.split_once('-')?;
    first.trim().parse().ok()
}

/// The whole length a `416` reports, from its `Content-Range: bytes */LENGTH`.
pub fn unsatisfied_length(head: &ResponseHead) -> Option<u64> {
    let value = head.header("content-range")?.trim();
    value.strip_prefix("bytes */")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_at_most_a_quarter_of_jitter() {
        for (done, base) in [(0, 250), (1, 500), (2, 1000), (5, 8000), (30, 8000)] {
            let wait = backoff(done);
            let base = Duration::from_millis(base);
            assert!(wait >= base && wait <= base + base / 4, "{done}: {wait:?}");
        }
    }

    #[test]
    fn max_time_is_never_retried_and_reads_as_before() {
        use crate::error::{Tag as _, fail};
        let expired = Err::<(), _>(MaxTimeExpired(Duration::from_millis(500)))
            .tag(Kind::Timeout, "http://a.test/")
            .unwrap_err();
        assert_eq!(
            format!("{expired:#}"),
            "http://a.test/: no complete response within 0.5 s (--max-time)"
        );
        assert_eq!(kind(&expired), Kind::Timeout);
        assert_eq!(worth_retrying(&expired), None);
        let connect = fail(Kind::Timeout, "connecting: timed out");
        assert_eq!(worth_retrying(&connect), Some("timed out"));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn policies_count_time_and_methods() {
        let start = Instant::now();
        let three = Policy {
            max: Some(3),
            ..Policy::default()
        };
        assert!(three.allows("GET", 2, start, start));
        assert!(!three.allows("GET", 3, start, start));
        assert!(
            !three.allows("POST", 0, start, start),
            "POST only with --retry-all-methods"
        );
        let all = Policy {
            all_methods: true,
            ..three
        };
        assert!(all.allows("POST", 0, start, start));
        let five_secs = Policy {
            within: Some(Duration::from_secs(5)),
            ..Policy::default()
        };
        assert!(five_secs.allows("GET", 100, start, start + Duration::from_secs(4)));
        assert!(!five_secs.allows("GET", 0, start, start + Duration::from_secs(5)));
        // Retry-After is capped by what is left of --retry-for.
        let at = start + Duration::from_secs(4);
        assert_eq!(
            five_secs.wait(0, Some(Duration::from_secs(60)), start, at),
            Duration::from_secs(1)
        );
        assert!(
            !Policy::default().allows("GET", 0, start, start),
            "no retry unless asked"
        );
    }
}
