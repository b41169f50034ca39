//! The listener the server accepts connections through.
//!
//! hyper answers a request it cannot parse (a request target over 64 KiB, a header block over its
//! buffer, a malformed request line) by itself, before any route runs: a status line, a
//! `content-length: 0` and no body. Clients of the API switch on the JSON error shape, so each
//! connection is wrapped: an automatic answer of that kind is recognized on its way out and sent
//! as the API's error body instead. Every answer the routes produce has a `content-type`, so it
//! never matches.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{ErrorBody, ErrorCode, ErrorDetail};

/// A TCP listener whose connections give hyper's parse-error answers the API's error shape.
pub struct ShapedListener(TcpListener);

impl ShapedListener {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        Self(listener)
    }
}

impl axum::serve::Listener for ShapedListener {
    type Io = Shaped<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((io, addr)) => return (Shaped::new(io), addr),
                // A connection that failed before it was accepted (reset, aborted) concerns only
                // that client; anything else (out of file descriptors) is waited out.
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "Accepting a connection failed; retrying in 1 s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// A connection whose bodiless parse-error answers are replaced by JSON ones.
pub struct Shaped<S> {
    inner: S,
    /// A replacement answer being written, and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> Shaped<S> {
    /// Wraps a connection.
    pub fn new(inner: S) -> Self {
        Self { inner, pending: None }
    }
}

impl<S: AsyncWrite + Unpin> Shaped<S> {
    /// Writes what is left of a replacement answer.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Shaped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Shaped<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.drive(cx))?;
        if let Some(answer) = replacement(buf) {
            self.pending = Some((answer, 0));
            // The bytes are taken over; what is not written yet goes out on the next flush.
            if let Poll::Ready(Err(e)) = self.drive(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The JSON answer for `buf` when `buf` is exactly one of hyper's automatic parse-error answers
/// (status 400, 414 or 431, `content-length: 0`, no `content-type`, nothing after the head).
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = rest.get(..3)?;
    let message = match status {
        b"400" => "the request could not be parsed as HTTP/1.1",
        b"414" => "the request URL is longer than the server accepts; send fewer or shorter parameters",
        b"431" => "the request headers are larger than the server accepts",
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if end != buf.len() {
        return None;
    }
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if !head.contains("\r\ncontent-length: 0\r\n") || head.contains("\r\ncontent-type:") {
        return None;
    }
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code: ErrorCode::InvalidParameter,
            message: message.to_owned(),
        },
    })
    .ok()?;
    let reason = match status {
        b"400" => "Bad Request",
        b"414" => "URI Too Long",
        _ => "Request Header Fields Too Large",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        String::from_utf8_lossy(status),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_parse_error_answers_are_replaced() {
        let auto =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 09:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(auto).expect("replaced")).expect("utf8");
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{out}");
        let body = out.split("\r\n\r\n").nth(1).expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["error"]["code"], "invalid_parameter");
        assert!(out.contains(&format!("content-length: {}\r\n", body.len())));
        for keep in [
            &b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 5\r\n\r\n",
            b"{\"items\": []}",
        ] {
            assert!(replacement(keep).is_none(), "{}", String::from_utf8_lossy(keep));
        }
    }
}
