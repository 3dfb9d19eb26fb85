//! Request targets as PostgREST's server takes them. `curl "…?select=data->>a"` sends `>` as it
//! is, and PostgREST's documentation is full of such examples; the HTTP layer here parses the
//! target with the URL standard's rules, which want `"`, `<`, `>` and `` ` `` percent-encoded, and
//! would answer an empty 400. [`TargetEncoding`] sits between the socket and the HTTP layer and
//! percent-encodes those four bytes where they appear in a request line's target, nowhere else:
//! the query parser decodes them back, so the request means what it said.
//!
//! Finding request lines takes following HTTP/1.1's framing: each request's head, then its body
//! by `Content-Length` or chunked `Transfer-Encoding`, then the next request. Anything this
//! reader does not follow (an upgrade, a malformed length, an oversized header line) turns it
//! into a plain pass-through for the rest of the connection, leaving the HTTP layer to answer as
//! it would have. Bodies are skipped by count, not scanned.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest header line (or chunk-size line) kept to read a length or coding from; a longer
/// `Content-Length`, `Transfer-Encoding` or chunk-size line is not one this reader follows.
const MAX_LINE: usize = 256;

/// Where the reader is in the request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the target: the method, or blank lines between requests.
    Method,
    /// Inside the request target.
    Target,
    /// After the target, up to the end of the request line.
    LineRest,
    /// Header lines, up to the empty one.
    Head,
    /// This many body bytes left.
    Body(u64),
    /// A chunk-size line.
    ChunkSize,
    /// This many bytes of chunk data left, then its CRLF.
    ChunkData(u64),
    /// The CRLF after chunk data.
    ChunkEnd,
    /// Trailer lines after the last chunk, up to the empty one.
    Trailers,
    /// Not followed any more: bytes go through untouched.
    Passthrough,
}

/// What the current request's head said about its body.
#[derive(Debug, Default, Clone, Copy)]
struct Framing {
    length: Option<u64>,
    chunked: bool,
    upgrade: bool,
    /// Something the reader does not follow (conflicting lengths, an unknown coding).
    opaque: bool,
}

/// The request-stream state of one connection, fed the bytes the client sends.
#[derive(Debug)]
struct Rewriter {
    state: State,
    framing: Framing,
    /// The current header or chunk-size line (its first [`MAX_LINE`] bytes).
    line: Vec<u8>,
    /// The current line is longer than [`MAX_LINE`].
    line_overflow: bool,
}

/// The bytes that become `%XX` inside a request target.
fn needs_encoding(b: u8) -> bool {
    matches!(b, b'"' | b'<' | b'>' | b'`')
}

fn hex_digit(n: u8) -> u8 {
    b"0123456789ABCDEF"[usize::from(n & 0x0f)]
}

impl Rewriter {
    fn new() -> Self {
        Rewriter {
            state: State::Method,
            framing: Framing::default(),
            line: Vec::new(),
            line_overflow: false,
        }
    }

    /// Follows `input` (the next bytes from the client) up to the first byte that needs
    /// encoding, and returns its position, not consuming it; `None` when all of `input` passes
    /// unchanged. From that position on the caller runs [`Rewriter::rewrite`].
    fn scan(&mut self, input: &[u8]) -> Option<usize> {
        let done = self.advance(input);
        (done < input.len()).then_some(done)
    }

    /// `input` with the target bytes encoded, appended to `out`.
    fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            let n = self.advance(&input[i..]);
            out.extend_from_slice(&input[i..i + n]);
            i += n;
            if let Some(&b) = input.get(i) {
                out.extend_from_slice(&[b'%', hex_digit(b >> 4), hex_digit(b)]);
                i += 1;
            }
        }
    }

    /// Follows `input` as far as it passes unchanged, a run at a time; returns how much of it
    /// did. It stops short only at a target byte to encode, which it leaves unconsumed.
    fn advance(&mut self, input: &[u8]) -> usize {
        let mut i = 0;
        while i < input.len() {
            let rest = &input[i..];
            match self.state {
                State::Passthrough => return input.len(),
                State::Body(n) | State::ChunkData(n) => {
                    let take = n.min(rest.len() as u64);
                    i += take as usize;
                    self.after_data(n - take);
                }
                State::Method => match rest.iter().position(|&b| b == b' ') {
                    Some(p) => {
                        i += p + 1;
                        self.state = State::Target;
                    }
                    None => i = input.len(),
                },
                State::Target => {
                    let Some(p) = rest
                        .iter()
                        .position(|&b| matches!(b, b' ' | b'\r' | b'\n') || needs_encoding(b))
                    else {
                        return input.len();
                    };
                    i += p;
                    match rest[p] {
                        b' ' => self.state = State::LineRest,
                        // No version: not HTTP/1.x, which the HTTP layer refuses.
                        b'\r' | b'\n' => self.state = State::Passthrough,
                        _ => return i,
                    }
                    i += 1;
                }
                State::LineRest => match rest.iter().position(|&b| b == b'\n') {
                    Some(p) => {
                        i += p + 1;
                        self.framing = Framing::default();
                        self.state = State::Head;
                        self.start_line();
                    }
                    None => i = input.len(),
                },
                State::Head | State::Trailers | State::ChunkSize | State::ChunkEnd => {
                    let end = rest.iter().position(|&b| b == b'\n');
                    self.push_line(&rest[..end.unwrap_or(rest.len())]);
                    match end {
                        Some(p) => {
                            i += p + 1;
                            self.end_line();
                        }
                        None => i = input.len(),
                    }
                }
            }
        }
        i
    }

    /// After body or chunk bytes: `left` of them still to come.
    fn after_data(&mut self, left: u64) {
        self.state = match (self.state, left) {
            (State::Body(_), 0) => State::Method,
            (State::Body(_), n) => State::Body(n),
            (State::ChunkData(_), 0) => State::ChunkEnd,
            (_, n) => State::ChunkData(n),
        };
        if self.state == State::ChunkEnd {
            self.start_line();
        }
    }

    fn start_line(&mut self) {
        self.line.clear();
        self.line_overflow = false;
    }

    fn push_line(&mut self, bytes: &[u8]) {
        let room = MAX_LINE - self.line.len();
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.line_overflow |= bytes.len() > room;
    }

    /// The end of a header, trailer, chunk-size or chunk-end line.
    fn end_line(&mut self) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let overflow = self.line_overflow;
        // Inside a chunked body the HTTP layer ends lines at CRLF only (a bare LF in a trailer
        // is part of it): a line this reader cannot see end in CRLF is not one it follows.
        let chunked = matches!(
            self.state,
            State::ChunkSize | State::ChunkEnd | State::Trailers
        );
        if chunked && (overflow || !self.line.ends_with(b"\r")) {
            self.state = State::Passthrough;
            self.start_line();
            return;
        }
        let next = match self.state {
            State::Head if line.is_empty() => self.body_state(),
            State::Head => {
                self.header(overflow);
                State::Head
            }
            State::Trailers if line.is_empty() => State::Method,
            State::Trailers => State::Trailers,
            State::ChunkEnd if line.is_empty() => State::ChunkSize,
            State::ChunkSize if !overflow => match chunk_size(line) {
                Some(0) => State::Trailers,
                Some(n) => State::ChunkData(n),
                None => State::Passthrough,
            },
            _ => State::Passthrough,
        };
        self.state = next;
        self.start_line();
    }

    /// Reads one header line of the head for the body's framing.
    fn header(&mut self, overflow: bool) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return;
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        let framing = &mut self.framing;
        if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = (!overflow)
                .then(|| std::str::from_utf8(value).ok()?.parse::<u64>().ok())
                .flatten();
            match (parsed, framing.length) {
                (Some(n), None) => framing.length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => framing.opaque = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only `chunked` as the last coding frames a request body; anything else, or a
            // value too long to read, is for the HTTP layer to judge.
            let last = value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or(b"")
                .trim_ascii();
            if !overflow && last.eq_ignore_ascii_case(b"chunked") {
                framing.chunked = true;
            } else {
                framing.opaque = true;
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            framing.upgrade = true;
        }
    }

    /// Where the head just ended leads.
    fn body_state(&self) -> State {
        let f = self.framing;
        if f.opaque || f.upgrade || (f.chunked && f.length.is_some()) {
            State::Passthrough
        } else if f.chunked {
            State::ChunkSize
        } else {
            match f.length {
                Some(n) if n > 0 => State::Body(n),
                _ => State::Method,
            }
        }
    }
}

/// A chunk-size line's size (hexadecimal, before any `;` extension).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// A client connection whose request targets reach the HTTP layer percent-encoded where the URL
/// standard asks (see the module documentation). Writes go through untouched.
#[derive(Debug)]
pub struct TargetEncoding<S> {
    inner: S,
    rewriter: Rewriter,
    /// Rewritten bytes that did not fit the caller's buffer.
    pending: Vec<u8>,
    /// How much of `pending` was handed out.
    pending_at: usize,
}

impl<S> TargetEncoding<S> {
    /// Wraps a freshly accepted connection.
    pub fn new(inner: S) -> Self {
        TargetEncoding {
            inner,
            rewriter: Rewriter::new(),
            pending: Vec::new(),
            pending_at: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TargetEncoding<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending_at < this.pending.len() {
            let n = buf.remaining().min(this.pending.len() - this.pending_at);
            buf.put_slice(&this.pending[this.pending_at..this.pending_at + n]);
            this.pending_at += n;
            return Poll::Ready(Ok(()));
        }
        let start = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let new = &buf.filled()[start..];
        let Some(done) = this.rewriter.scan(new) else {
            return Poll::Ready(Ok(()));
        };
        let rest = new[done..].to_vec();
        this.pending.clear();
        this.pending_at = 0;
        this.rewriter.rewrite(&rest, &mut this.pending);
        buf.set_filled(start + done);
        let n = buf.remaining().min(this.pending.len());
        buf.put_slice(&this.pending[..n]);
        this.pending_at = n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TargetEncoding<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// What the HTTP layer reads when the client's bytes arrive in pieces of `piece` bytes.
    fn through(input: &[u8], piece: usize) -> Vec<u8> {
        let mut rewriter = Rewriter::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            match rewriter.scan(chunk) {
                None => out.extend_from_slice(chunk),
                Some(at) => {
                    out.extend_from_slice(&chunk[..at]);
                    rewriter.rewrite(&chunk[at..], &mut out);
                }
            }
        }
        out
    }

    /// The same at every piece size, from one byte at a time to all at once.
    fn fixed(input: &str) -> String {
        let whole = through(input.as_bytes(), input.len());
        for piece in 1..input.len() {
            assert_eq!(through(input.as_bytes(), piece), whole, "pieces of {piece}");
        }
        String::from_utf8(whole).expect("utf-8")
    }

    #[test]
    fn only_the_target_s_raw_bytes_are_encoded() {
        assert_eq!(
            fixed(
                "GET /t?select=data->>a,b:\"x\"&c=like.`<z>` HTTP/1.1\r\nX-Note: a->>b \"q\"\r\n\r\n"
            ),
            "GET /t?select=data-%3E%3Ea,b:%22x%22&c=like.%60%3Cz%3E%60 HTTP/1.1\r\nX-Note: a->>b \"q\"\r\n\r\n"
        );
        let plain = "GET /rest/v1/t?id=eq.1 HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(fixed(plain), plain);
    }

    #[test]
    fn bodies_are_skipped_by_length_and_the_next_request_is_fixed() {
        let body = "GET /x?a=<b> HTTP/1.1\r\n\r\n";
        let input = format!(
            "POST /t?select=a->b HTTP/1.1\r\ncontent-length: {}\r\n\r\n{body}GET /u?s=a->>b HTTP/1.1\r\n\r\n",
            body.len()
        );
        assert_eq!(
            fixed(&input),
            format!(
                "POST /t?select=a-%3Eb HTTP/1.1\r\ncontent-length: {}\r\n\r\n{body}GET /u?s=a-%3E%3Eb HTTP/1.1\r\n\r\n",
                body.len()
            )
        );
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers_are_followed() {
        let input = "POST /rpc/f HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n\
                     5;ext=1\r\n<a>\"b\r\n3\r\n<>`\r\n0\r\nX-Trailer: >\r\n\r\n\
                     GET /t?a=> HTTP/1.1\r\n\r\n";
        let expected = input.replace("GET /t?a=>", "GET /t?a=%3E");
        assert_eq!(fixed(input), expected);
    }

    #[test]
    fn what_is_not_followed_passes_untouched_from_there_on() {
        for head in [
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "POST /t HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "POST /t HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "POST /t HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
            "GET /t?a=b\r\n",
        ] {
            let input = format!("{head}GET /t?a=<b> HTTP/1.1\r\n\r\n");
            assert_eq!(fixed(&input), input, "{head:?}");
        }
        // A chunk size that is not one; chunked-body lines ended by a bare LF, which the HTTP
        // layer reads differently (in a trailer, as part of it).
        for bad in [
            "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /t?a=<b> HTTP/1.1\r\n\r\n",
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\nPOST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /t?a=<b> HTTP/1.1\r\n\r\n",
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\n<>\r\n0\r\n\r\nGET /t?a=<b> HTTP/1.1\r\n\r\n",
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\nGET /t?a=<b> HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(fixed(bad), bad);
        }
        // An overlong length line is not read.
        let long = format!(
            "POST /t HTTP/1.1\r\nContent-Length: {}1\r\n\r\nGET /t?a=<b> HTTP/1.1\r\n\r\n",
            "0".repeat(MAX_LINE)
        );
        assert_eq!(fixed(&long), long);
    }

    #[test]
    fn a_bodyless_request_and_blank_lines_lead_to_the_next_request() {
        assert_eq!(
            fixed(
                "GET /a?x=> HTTP/1.1\r\n\r\n\r\nGET /b?y=< HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /c?z=\" HTTP/1.1\r\n\r\n"
            ),
            "GET /a?x=%3E HTTP/1.1\r\n\r\n\r\nGET /b?y=%3C HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /c?z=%22 HTTP/1.1\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn small_reads_get_every_rewritten_byte_in_order() {
        let input = "GET /t?s=a->>b&c=<\"`\"> HTTP/1.1\r\nContent-Length: 2\r\n\r\n<>GET /u?v=> HTTP/1.1\r\n\r\n";
        let expected = fixed(input);
        for size in [1, 2, 3, 7, 64] {
            let mut reader = TargetEncoding::new(input.as_bytes());
            let mut out = Vec::new();
            let mut buf = vec![0; size];
            loop {
                let n = reader.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(String::from_utf8(out).expect("utf-8"), expected, "{size}");
        }
    }
}
