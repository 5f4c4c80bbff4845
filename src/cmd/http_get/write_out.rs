//! `-w FORMAT`: curl's write-out. The format is parsed once, before any socket opens, so an
//! unknown `%{variable}` is a usage error instead of a surprise at the end of a transfer.

use std::fmt::Write as _;
use std::time::Duration;

/// A value `-w` can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The final status code, `000` when no response came.
    HttpCode,
    /// Body bytes of the final response.
    SizeDownload,
    /// Head bytes of every response read, interim and redirects included.
    SizeHeader,
    /// Seconds from start to end.
    TimeTotal,
    /// Seconds until the (last) connection was made.
    TimeConnect,
    /// Seconds until the first byte of the final response.
    TimeStartTransfer,
    /// The last URL asked for.
    UrlEffective,
    /// Redirects followed.
    NumRedirects,
    /// Retries made.
    NumRetries,
    /// The final response's Content-Type.
    ContentType,
    /// The address connected to.
    RemoteIp,
    /// The port connected to.
    RemotePort,
    /// `1.1` or `1.0`, from the final response.
    HttpVersion,
    /// The exit code nicksock ends with.
    ExitCode,
}

/// Every variable by the name curl gives it.
const VARIABLES: &[(&str, Var)] = &[
    ("http_code", Var::HttpCode),
    ("response_code", Var::HttpCode),
    ("size_download", Var::SizeDownload),
    ("size_header", Var::SizeHeader),
    ("time_total", Var::TimeTotal),
    ("time_connect", Var::TimeConnect),
    ("time_starttransfer", Var::TimeStartTransfer),
    ("url_effective", Var::UrlEffective),
    ("num_redirects", Var::NumRedirects),
    ("num_retries", Var::NumRetries),
    ("content_type", Var::ContentType),
    ("remote_ip", Var::RemoteIp),
    ("remote_port", Var::RemotePort),
    ("http_version", Var::HttpVersion),
    ("exitcode", Var::ExitCode),
];

/// One piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(Var),
}

/// A parsed `-w` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOut {
    pieces: Vec<Piece>,
}

/// What a transfer measured, for the write-out.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Final status code (0: no response).
    pub http_code: u16,
    /// Minor HTTP version of the final response.
    pub http_minor: Option<u8>,
    /// Body bytes of the final response.
    pub size_download: u64,
    /// Head bytes of all responses.
    pub size_header: u64,
    /// Time from start to end.
    pub time_total: Duration,
    /// Time until the last connection was up.
    pub time_connect: Duration,
    /// Time until the final response's first byte.
    pub time_starttransfer: Duration,
    /// The last URL asked for.
    pub url_effective: String,
    /// Redirects followed.
    pub num_redirects: u32,
    /// Retries made.
    pub num_retries: u32,
    /// Content-Type of the final response.
    pub content_type: Option<String>,
    /// Where the last connection went.
    pub remote: Option<std::net::SocketAddr>,
    /// The exit code of the run.
    pub exit_code: u8,
}

impl WriteOut {
    /// Parses a format: `%{name}` variables, `%%` for a percent sign, and the backslash
    /// escapes `\n`, `\r`, `\t` and `\\`. An unknown variable is an error naming it.
    pub fn parse(format: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        while let Some(c) = rest.chars().next() {
            let after = &rest[c.len_utf8()..];
            match c {
                '%' if after.starts_with('%') => {
                    text.push('%');
                    rest = &after[1..];
                }
                '%' if after.starts_with('{') => {
                    let Some(end) = after.find('}') else {
                        return Err(format!("unclosed `%{{` in --write-out `{format}`"));
                    };
                    let name = &after[1..end];
                    let var = lookup(name).ok_or_else(|| {
                        format!(
                            "unknown --write-out variable `{name}` (known: {})",
                            known_names()
                        )
                    })?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Var(var));
                    rest = &after[end + 1..];
                }
                '\\' => {
                    let (escaped, used) = match after.chars().next() {
                        Some('n') => ('\n', 1),
                        Some('r') => ('\r', 1),
                        Some('t') => ('\t', 1),
                        Some('\\') => ('\\', 1),
                        _ => ('\\', 0),
                    };
                    text.push(escaped);
                    rest = &after[used..];
                }
                c => {
                    text.push(c);
                    rest = after;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(WriteOut { pieces })
    }

    /// The text to print for a finished (or failed) transfer.
    pub fn render(&self, stats: &Stats) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => render_var(&mut out, *v, stats),
            }
        }
        out
    }
}

fn lookup(name: &str) -> Option<Var> {
    VARIABLES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn known_names() -> String {
    let names: Vec<&str> = VARIABLES.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

fn render_var(out: &mut String, var: Var, s: &Stats) {
    let secs = |d: Duration| format!("{:.6}", d.as_secs_f64());
    let _ = match var {
        Var::HttpCode => write!(out, "{:03}", s.http_code),
        Var::SizeDownload => write!(out, "{}", s.size_download),
        Var::SizeHeader => write!(out, "{}", s.size_header),
        Var::TimeTotal => write!(out, "{}", secs(s.time_total)),
        Var::TimeConnect => write!(out, "{}", secs(s.time_connect)),
        Var::TimeStartTransfer => write!(out, "{}", secs(s.time_starttransfer)),
        Var::UrlEffective => write!(out, "{}", s.url_effective),
        Var::NumRedirects => write!(out, "{}", s.num_redirects),
        Var::NumRetries => write!(out, "{}", s.num_retries),
        Var::ContentType => write!(out, "{}", s.content_type.as_deref().unwrap_or("")),
        Var::RemoteIp => match s.remote {
            Some(addr) => write!(out, "{}", addr.ip()),
            None => Ok(()),
        },
        Var::RemotePort => match s.remote {
            Some(addr) => write!(out, "{}", addr.port()),
            None => Ok(()),
        },
        Var::HttpVersion => match s.http_minor {
            Some(minor) => write!(out, "1.{minor}"),
            None => write!(out, "0"),
        },
        Var::ExitCode => write!(out, "{}", s.exit_code),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_escapes_and_percent() {
        let w = WriteOut::parse("%{http_code} %{size_download}B %{url_effective}\\n100%%\\t\\\\")
            .unwrap();
        let stats = Stats {
            http_code: 200,
            size_download: 42,
            url_effective: "http://h/x".into(),
            ..Stats::default()
        };
        assert_eq!(w.render(&stats), "200 42B http://h/x\n100%\t\\");
    }

    #[test]
    fn no_response_is_000_and_times_have_six_decimals() {
        let w = WriteOut::parse("%{http_code} %{time_total} %{http_version}").unwrap();
        let stats = Stats {
            time_total: Duration::from_millis(1500),
            ..Stats::default()
        };
        assert_eq!(w.render(&stats), "000 1.500000 0");
    }

    #[test]
    fn lone_percent_and_backslash_stay() {
        let w = WriteOut::parse("50% \\x %").unwrap();
        assert_eq!(w.render(&Stats::default()), "50% \\x %");
    }

    #[test]
    fn unknown_or_unclosed_variables_are_errors() {
        let err = WriteOut::parse("%{nope}").unwrap_err();
        assert!(err.contains("unknown --write-out variable `nope`"), "{err}");
        assert!(err.contains("http_code"), "{err}");
        assert!(WriteOut::parse("%{http_code").is_err());
    }
}
