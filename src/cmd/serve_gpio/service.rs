//! `serve-gpio` as a [`Service`] of the shared server: two listener groups, HTTP and the
//! line protocol, on one loop and one [`App`]. The loop is single-threaded, so the app
//! needs no lock and requests change the pins one at a time.

use std::io;
use std::time::Instant;

use super::app::App;
use super::http_conn::HttpConn;
use super::line_conn::LineConn;
use crate::net::event_loop::Context;
use crate::net::server::{Link, MAX_SOURCES, Next, Phase, Service};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// The listener group of the HTTP port.
pub const HTTP_GROUP: usize = 0;
/// The listener group of `--line-port`.
pub const LINE_GROUP: usize = 1;
/// What a client of a full HTTP port is told.
const HTTP_BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 38\r\nConnection: close\r\n\r\n\
503 Service Unavailable: server full\r\n";
/// What a client of a full line port is told.
const LINE_BUSY: &[u8] = b"error: server full; try again later\n";
/// Size of the read buffer the connections share.
const SCRATCH: usize = 64 * 1024;

/// The pins' app and what every connection shares.
pub struct GpioService {
    app: App,
    scratch: Vec<u8>,
}

impl GpioService {
    /// A service answering with `app`.
    pub fn new(app: App) -> Self {
        GpioService {
            app,
            scratch: vec![0; SCRATCH],
        }
    }
}

/// A connection on either port.
pub enum GpioConn {
    /// HTTP/1.x.
    Http(Box<HttpConn>),
    /// The line protocol.
    Line(LineConn),
}

impl Service for GpioService {
    type Conn = GpioConn;
    const DOING: &'static str = "serving";

    fn open(&mut self, group: usize, _now: Instant) -> GpioConn {
        if group == LINE_GROUP {
            GpioConn::Line(LineConn::default())
        } else {
            GpioConn::Http(Box::default())
        }
    }

    fn pump(
        &mut self,
        _cx: &mut Context<'_>,
        link: &mut Link,
        conn: &mut GpioConn,
    ) -> io::Result<Next> {
        match conn {
            GpioConn::Http(http) => http.pump(link, &mut self.app, &mut self.scratch),
            GpioConn::Line(line) => line.pump(link, &mut self.app, &mut self.scratch),
        }
    }

    fn deadline(&self, conn: &GpioConn) -> Option<(Instant, &'static str)> {
        match conn {
            GpioConn::Http(http) => http.deadline(),
            GpioConn::Line(_) => None,
        }
    }

    fn phase(&self, conn: &GpioConn) -> Phase {
        match conn {
            GpioConn::Http(http) => http.phase(),
            GpioConn::Line(line) => line.phase(),
        }
    }

    fn busy_answer(&self, group: usize) -> Option<&'static [u8]> {
        Some(if group == LINE_GROUP {
            LINE_BUSY
        } else {
            HTTP_BUSY
        })
    }

    fn take_news(&mut self) -> bool {
        self.app.events_mut().take_news()
    }

    fn wants_news(&self, conn: &GpioConn) -> bool {
        match conn {
            GpioConn::Http(http) => http.is_subscribed(),
            GpioConn::Line(line) => line.is_watching(),
        }
    }

    fn due(&self) -> Option<Instant> {
        Some(self.app.due())
    }

    fn on_due(&mut self, now: Instant) {
        self.app.on_due(now);
    }

    /// The inputs' edge events: one source per input line on a real chip.
    fn register(&mut self, registry: &Registry, first: Token) -> io::Result<()> {
        let sources = self.app.edge_sources();
        if sources.len() > MAX_SOURCES {
            return Err(io::Error::other(format!(
                "{} inputs: at most {MAX_SOURCES} can be watched",
                sources.len()
            )));
        }
        for (i, fd) in sources.into_iter().enumerate() {
            registry.register(&mut SourceFd(&fd), Token(first.0 + i), Interest::READABLE)?;
        }
        Ok(())
    }

    fn on_source(&mut self, index: usize, _now: Instant) {
        self.app.on_edges(index);
    }
}
