//! The connections of a service that answers what it receives (echo, HTTP, the line
//! protocol, chat): bytes come in while there is room, answers go out through a bounded
//! [`Outbox`], and the connection finishes once the last answer is sent.

use std::io;

use super::link::{Link, Received};
use super::outbox::Outbox;
use super::service::Next;

/// One connection of a service that answers what it receives, in the shape [`exchange`]
/// drives.
pub trait Exchange {
    /// What answers are made with (the app behind the connection).
    type App: ?Sized;

    /// Where answers wait to be sent.
    fn outbox(&mut self) -> &mut Outbox;

    /// How many received bytes it takes now; 0 stops reading (answers pile up unread, its
    /// input buffer is full, or it is closing).
    fn room(&self) -> usize;

    /// Bytes from the client. `link` is there to answer straight away without a copy.
    fn received(&mut self, link: &mut Link, data: &[u8]) -> io::Result<()>;

    /// The client ended its side.
    fn ended(&mut self);

    /// Answers what complete input it holds while the outbox has room; says whether it
    /// answered anything.
    fn answer(&mut self, app: &mut Self::App) -> bool {
        let _ = app;
        false
    }

    /// Nothing more will be answered: once the outbox is empty the connection finishes.
    fn is_finished(&self) -> bool;
}

/// Runs one round of an [`Exchange`]: send, answer, read, until nothing moves (the
/// edge-triggered contract of [`Service::pump`](super::Service::pump)); `scratch` is the
/// read buffer connections share.
pub fn exchange<E: Exchange>(
    link: &mut Link,
    conn: &mut E,
    app: &mut E::App,
    scratch: &mut [u8],
) -> io::Result<Next> {
    loop {
        let mut moved = conn.outbox().write_to(link)?;
        moved |= conn.answer(app);
        let room = conn.room().min(scratch.len());
        if room > 0 {
            match link.receive(&mut scratch[..room])? {
                Received::Eof => {
                    conn.ended();
                    moved = true;
                }
                Received::Data(data) => {
                    conn.received(link, data)?;
                    moved = true;
                }
                Received::Nothing => {}
            }
        }
        link.flush()?;
        if !moved {
            break;
        }
    }
    if conn.outbox().is_empty() && conn.is_finished() {
        return Ok(Next::Finish);
    }
    Ok(Next::Keep)
}
