//! The server side of HTTP/1.x: a request read from a connection, and a response to write.

/// A complete request, head and body, as a server received it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`, …).
    pub method: String,
    /// The request target as sent: path and query (`/?pin=13&state=on`).
    pub target: String,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Header names and values in the order they came.
    pub headers: Vec<(String, String)>,
    /// The body, exactly Content-Length bytes (or the de-chunked body).
    pub body: Vec<u8>,
}

/// A response a server writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names and values (Content-Length, Date and Connection are added on writing).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}
