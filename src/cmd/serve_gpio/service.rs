//! `serve-gpio` as a [`Service`] of the shared server: two listener groups, HTTP and the
//! line protocol, on one loop and one [`App`]. The loop is single-threaded, so the app
//! needs no lock and requests change the pins one at a time.

use std::io;
use std::time::Instant;

use super::app::App;
use super::http_conn::HttpConn;
use super::line_conn::LineConn;
use super::mqtt::{self, Client};
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

/// Where the MQTT client's tokens start among the service's sources; the inputs' edge
/// sources come before.
const MQTT_FIRST: usize = MAX_SOURCES - mqtt::TOKENS;

/// The pins' app and what every connection shares.
pub struct GpioService {
    app: App,
    scratch: Vec<u8>,
    /// `--mqtt`.
    mqtt: Option<Client>,
    /// The token of source 0.
    first: usize,
}

impl GpioService {
    /// A service answering with `app`, and on MQTT with `mqtt`.
    pub fn new(app: App, mqtt: Option<Client>) -> Self {
        GpioService {
            app,
            scratch: vec![0; SCRATCH],
            mqtt,
            first: 0,
        }
    }

    /// Acts on what the MQTT client reported, then lets it write (acknowledgements go out
    /// after the commands were carried out).
    fn on_mqtt(&mut self, cx: &mut Context<'_>, events: Vec<mqtt::Event>) {
        let Some(client) = &mut self.mqtt else {
            return;
        };
        for event in events {
            match event {
                mqtt::Event::Up => match self.app.mqtt_states() {
                    Ok(states) => {
                        // Changes made before are in these states.
                        self.app.take_mqtt_changes();
                        client.announce(cx.now, &states, &self.app.entities());
                    }
                    Err(e) => eprintln!("nicksock: mqtt: reading the pins: {e}"),
                },
                mqtt::Event::Command { pin, payload } => {
                    if let Err(why) = self.app.mqtt_command(&pin, &payload) {
                        eprintln!("nicksock: mqtt: {pin}/set '{payload}': {why}");
                    }
                }
            }
        }
        client.queue(self.app.take_mqtt_changes());
        client.flush_now(cx);
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
        if let Some(client) = &mut self.mqtt {
            client.changed(self.app.take_mqtt_changes(), Instant::now());
        }
        self.app.events_mut().take_news()
    }

    fn wants_news(&self, conn: &GpioConn) -> bool {
        match conn {
            GpioConn::Http(http) => http.is_subscribed(),
            GpioConn::Line(line) => line.is_watching(),
        }
    }

    fn due(&self) -> Option<Instant> {
        let app = self.app.due();
        let mqtt = self.mqtt.as_ref().and_then(Client::due);
        Some(mqtt.map_or(app, |at| at.min(app)))
    }

    fn on_due(&mut self, cx: &mut Context<'_>) {
        self.app.on_due(cx.now);
        if let Some(client) = &mut self.mqtt {
            let events = client.on_due(cx);
            self.on_mqtt(cx, events);
        }
    }

    /// The inputs' edge events: one source per input line on a real chip.
    fn register(&mut self, registry: &Registry, first: Token) -> io::Result<()> {
        let sources = self.app.edge_sources();
        if sources.len() > MQTT_FIRST {
            return Err(io::Error::other(format!(
                "{} inputs: at most {MQTT_FIRST} can be watched",
                sources.len()
            )));
        }
        self.first = first.0;
        if let Some(client) = &mut self.mqtt {
            client.register(first.0 + MQTT_FIRST);
        }
        for (i, fd) in sources.into_iter().enumerate() {
            registry.register(&mut SourceFd(&fd), Token(first.0 + i), Interest::READABLE)?;
        }
        Ok(())
    }

    fn on_source(&mut self, cx: &mut Context<'_>, index: usize) {
        let token = Token(self.first + index);
        match &mut self.mqtt {
            // Its own tokens, or the loop's waker (a name lookup of its may be done).
            Some(client) if client.owns(token) || index >= MAX_SOURCES => {
                let events = client.on_ready(cx, token);
                self.on_mqtt(cx, events);
            }
            _ if index < MQTT_FIRST => self.app.on_edges(index),
            _ => {}
        }
    }
}
