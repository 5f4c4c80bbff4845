//! Failures and the exit codes they map to (DESIGN.md §3). Code that fails in a way a script
//! should tell apart tags the error with a [`Kind`]; everything untagged is a runtime failure.

use std::fmt;
use std::io;

/// What went wrong, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// I/O error, peer reset, protocol error (exit 1).
    Runtime,
    /// A command line clap accepted but that makes no sense, e.g. a malformed `--auth`
    /// (exit 2, like clap's own usage errors).
    Usage,
    /// Name resolution failed (exit 3).
    Resolve,
    /// Connection refused or unreachable (exit 4).
    Refused,
    /// Connect, idle or total-time timeout (exit 5).
    Timeout,
    /// TLS handshake or certificate failure (exit 6).
    Tls,
    /// HTTP status >= 400 with --fail, or too many redirects (exit 7).
    Http,
    /// Could not bind or listen (exit 8).
    Bind,
    /// GPIO failure (exit 9).
    Gpio,
    /// A file could not be read or written (exit 10).
    File,
    /// A proxy asked for credentials, rejected ours, or refused by its policy (exit 11).
    Denied,
    /// Stopped by SIGINT (exit 130).
    Interrupted,
}

impl Kind {
    /// Every kind, in the order of their exit codes.
    pub const ALL: [Kind; 12] = [
        Kind::Runtime,
        Kind::Usage,
        Kind::Resolve,
        Kind::Refused,
        Kind::Timeout,
        Kind::Tls,
        Kind::Http,
        Kind::Bind,
        Kind::Gpio,
        Kind::File,
        Kind::Denied,
        Kind::Interrupted,
    ];

    /// What the exit code of this kind means, for `--help` and the man pages.
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::Runtime => {
                "failure while running: I/O error, reset by the peer, bytes not delivered, protocol error"
            }
            Kind::Usage => "usage: a bad option, argument or combination",
            Kind::Resolve => "a name could not be resolved",
            Kind::Refused => "connection refused or unreachable",
            Kind::Timeout => "a connect, idle or total-time timeout",
            Kind::Tls => "TLS handshake or certificate failure",
            Kind::Http => "HTTP status 400 or more with --fail, or too many redirects",
            Kind::Bind => "could not bind or listen (address in use, say)",
            Kind::Gpio => "a GPIO pin could not be opened or switched",
            Kind::File => "a file could not be read or written",
            Kind::Denied => {
                "a proxy wanted credentials, rejected them, or refused the connection by its policy"
            }
            Kind::Interrupted => "stopped by SIGINT (Ctrl-C)",
        }
    }

    /// The process exit code for this kind of failure.
    pub fn code(self) -> u8 {
        match self {
            Kind::Runtime => 1,
            Kind::Usage => 2,
            Kind::Resolve => 3,
            Kind::Refused => 4,
            Kind::Timeout => 5,
            Kind::Tls => 6,
            Kind::Http => 7,
            Kind::Bind => 8,
            Kind::Gpio => 9,
            Kind::File => 10,
            Kind::Denied => 11,
            Kind::Interrupted => 130,
        }
    }
}

/// An error tagged with the [`Kind`] that picks the exit code. It displays as the error it
/// wraps (with that error's causes), so tagging never changes the message.
#[derive(Debug)]
pub struct Tagged {
    pub kind: Kind,
    message: String,
    /// The kind of the socket error it reports, if it reports one (a retry asks).
    pub io: Option<std::io::ErrorKind>,
}

impl Tagged {
    /// A tag to add as the context of a failure (see [`Tag`]).
    pub fn new(kind: Kind, message: impl fmt::Display) -> Self {
        Tagged {
            kind,
            message: message.to_string(),
            io: None,
        }
    }
}

/// Builds a tagged error from a message about a socket error of this `io` kind.
pub fn fail_io(kind: Kind, message: impl fmt::Display, io: std::io::ErrorKind) -> anyhow::Error {
    anyhow::Error::new(Tagged {
        io: Some(io),
        ..Tagged::new(kind, message)
    })
}

/// The kind of the socket error behind a failure, if one is.
pub fn socket_error_kind(err: &anyhow::Error) -> Option<std::io::ErrorKind> {
    err.chain().find_map(|c| {
        c.downcast_ref::<Tagged>()
            .and_then(|t| t.io)
            .or_else(|| c.downcast_ref::<std::io::Error>().map(std::io::Error::kind))
    })
}

impl fmt::Display for Tagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Tagged {}

/// Builds a tagged error from a message.
pub fn fail(kind: Kind, message: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Tagged::new(kind, message))
}

/// Tags a failure with its [`Kind`] and what was being done, keeping the failure itself as
/// the cause (so `{err:#}` reads "writing out.bin: permission denied" and the chain stays
/// whole for whoever looks at it).
pub trait Tag<T> {
    /// The error, if any, becomes the cause of a [`Tagged`] saying `doing`.
    fn tag(self, kind: Kind, doing: impl fmt::Display) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> Tag<T> for Result<T, E> {
    fn tag(self, kind: Kind, doing: impl fmt::Display) -> anyhow::Result<T> {
        self.map_err(|e| e.into().context(Tagged::new(kind, doing)))
    }
}

/// The kind of an I/O error a socket operation returned, by its cause.
pub fn io_kind(err: &io::Error) -> Kind {
    match err.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => Kind::Refused,
        io::ErrorKind::TimedOut => Kind::Timeout,
        _ => Kind::Runtime,
    }
}

/// Whether the error says that the reader of our stdout went away: that ends the program
/// successfully, as for every Unix filter.
pub fn is_broken_stdout(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<StdoutClosed>().is_some())
}

/// Marks a failed write to stdout whose reader went away.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the reader of stdout went away")
    }
}

impl std::error::Error for StdoutClosed {}

/// An exit code passed on from a program nicksock ran (`--exec`): its own exit status, 128
/// plus the signal that ended it, or 126/127 when it could not be started (as a shell
/// says). Printed only when it has a message: a program's plain failure is its own to tell,
/// and so is a failure already reported (`http-get`'s last failed URL of several).
#[derive(Debug)]
pub struct Status {
    /// The exit code.
    pub code: u8,
    /// What to print, if anything.
    pub message: Option<String>,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "the program exited with status {}", self.code),
        }
    }
}

impl std::error::Error for Status {}

/// The status passed on by an error, if it passes one on.
pub fn passed_status(err: &anyhow::Error) -> Option<&Status> {
    err.chain().find_map(|c| c.downcast_ref::<Status>())
}

/// The kind of an error: its tag, else that of the first I/O error in its chain.
pub fn kind(err: &anyhow::Error) -> Kind {
    // A tag added as context (see [`Tag`]) is found here: the chain shows only its text.
    if let Some(t) = err.downcast_ref::<Tagged>() {
        return t.kind;
    }
    for cause in err.chain() {
        if let Some(t) = cause.downcast_ref::<Tagged>() {
            return t.kind;
        }
        if cause.is::<clap::Error>() {
            return Kind::Usage;
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io_kind(io);
        }
    }
    Kind::Runtime
}

/// The exit code for an error returned from a command.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if is_broken_stdout(err) {
        return 0;
    }
    if let Some(status) = passed_status(err) {
        return status.code;
    }
    kind(err).code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn tags_survive_context_and_keep_the_message() {
        let err: anyhow::Error = Err::<(), _>(fail(Kind::Bind, "boom"))
            .context("binding 127.0.0.1:80")
            .unwrap_err();
        assert_eq!(exit_code(&err), 8);
        assert_eq!(format!("{err:#}"), "binding 127.0.0.1:80: boom");
    }

    #[test]
    fn tagging_keeps_the_cause_in_the_chain() {
        let err = Err::<(), _>(io::Error::from(io::ErrorKind::PermissionDenied))
            .tag(Kind::File, "writing out.bin")
            .unwrap_err();
        assert_eq!(exit_code(&err), 10);
        assert_eq!(format!("{err:#}"), "writing out.bin: permission denied");
        assert!(err.chain().nth(1).is_some_and(|c| c.is::<io::Error>()));
    }

    #[test]
    fn untagged_io_errors_map_by_cause() {
        let refused = anyhow::Error::new(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(exit_code(&refused), 4);
        assert_eq!(exit_code(&anyhow::anyhow!("plain")), 1);
        let closed = anyhow::Error::new(StdoutClosed).context("writing to stdout");
        assert_eq!(exit_code(&closed), 0);
    }
}
