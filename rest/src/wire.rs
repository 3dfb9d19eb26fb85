//! The data API's own PostgreSQL connection: the extended query protocol, pipelined.
//!
//! A request's statements (`BEGIN` for writes, the settings, an optional pre-request call and
//! count estimate, the main statement) go out in one write ending in a single `Sync`, so PostgreSQL flushes its answer once and the data plane reads it in one go: one
//! round trip, two system calls on each side. A general-purpose driver ends every statement with
//! its own `Sync` (and so its own flush and wake-up); on a 2-core machine that cost about a third
//! of the throughput. The connection is owned by one request at a time, so there is no
//! background task and no channel between the request and the socket.
//!
//! Statements are prepared on first use (`Parse` + `Describe` inside the same pipeline) and kept
//! per connection, bounded; parameters are text of type `unknown`, results are text. A request
//! dropped mid-flight (client gone) leaves the connection marked busy, and the pool discards it;
//! a [`CancelToken`] taken before the request lets the caller cancel the abandoned statement on
//! the server, as `pg_cancel_backend` would.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use fallible_iterator::FallibleIterator;
use madbase_pgconn::{DbUrl, Tls, TlsError};
use postgres_protocol::IsNull;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::{ErrorFields, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_postgres::config::Host;

use crate::error::DbError;
use crate::sql::Sql;

/// Prepared statements kept per connection; past this they are all closed and the cache starts
/// over, so request shapes that never repeat cannot grow it without bound.
pub const MAX_STATEMENTS: usize = 256;

trait Socket: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Socket for T {}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The settings ask for something this connection cannot do.
    #[error("{0}")]
    Config(String),
    /// The socket failed.
    #[error("could not connect to the database: {0}")]
    Io(#[from] io::Error),
    /// The server refused (authentication, unknown database, …).
    #[error("the database refused the connection: {0}")]
    Refused(String),
    /// TLS could not be set up as the URL asks (not offered, a certificate refused).
    #[error("could not connect to the database: {0}")]
    Tls(#[from] TlsError),
}

/// How data API connections are opened: where, and whether statements are kept prepared
/// (see [`PgConn::set_prepared_statements`]).
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// The database.
    pub url: DbUrl,
    /// Keep statements prepared (the default); off behind a pooler in transaction mode.
    pub prepared_statements: bool,
}

impl From<DbUrl> for ConnConfig {
    fn from(url: DbUrl) -> Self {
        Self {
            url,
            prepared_statements: true,
        }
    }
}

impl ConnConfig {
    /// Opens a connection.
    pub async fn connect(&self) -> Result<PgConn, ConnectError> {
        let mut conn = PgConn::connect(&self.url).await?;
        conn.set_prepared_statements(self.prepared_statements);
        Ok(conn)
    }
}

/// One result row, columns in text format.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    data: Bytes,
    ranges: Vec<Option<Range<usize>>>,
}

impl Row {
    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Column `i` as text; `None` for NULL or a column that does not exist.
    pub fn text(&self, i: usize) -> Option<&str> {
        let range = self.ranges.get(i)?.clone()?;
        std::str::from_utf8(self.data.get(range)?).ok()
    }

    /// The column named `name` as text (`Ok(None)` for NULL), or an error naming the column.
    pub fn text_named(&self, name: &str) -> Result<Option<&str>, String> {
        Ok(self.text(self.index(name)?))
    }

    /// The column named `name` as UTF-8 bytes shared with the row, not copied (a response body
    /// can be as large as the row): `Ok(None)` for NULL or text that is not UTF-8.
    pub fn bytes_named(&self, name: &str) -> Result<Option<Bytes>, String> {
        let i = self.index(name)?;
        Ok(self.text(i).and_then(|_| {
            let range = self.ranges.get(i)?.clone()?;
            Some(self.data.slice(range))
        }))
    }

    fn index(&self, name: &str) -> Result<usize, String> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("the result has no column {name}"))
    }
}

/// One statement of a pipeline.
pub struct Step<'a> {
    /// Statement text with `$n` placeholders.
    pub text: &'a str,
    /// Text values (`None` is NULL), all of type `unknown`.
    pub params: &'a [Option<String>],
}

impl<'a> Step<'a> {
    /// A statement without parameters.
    pub fn plain(text: &'a str) -> Self {
        Step { text, params: &[] }
    }

    /// A built statement.
    pub fn sql(sql: &'a Sql) -> Self {
        Step {
            text: &sql.text,
            params: &sql.params,
        }
    }
}

struct Prepared {
    name: String,
    columns: Arc<[String]>,
}

/// How one step of a group was written.
enum Prep {
    /// Runs a statement already prepared on this connection.
    Reused,
    /// Prepares the named statement (`Parse` + `Describe`).
    Fresh(String),
    /// Parses the unnamed statement and describes its portal: nothing is kept on the server.
    Unnamed,
}

/// A connection to PostgreSQL, used by one request at a time.
pub struct PgConn {
    socket: Box<dyn Socket>,
    read: BytesMut,
    write: BytesMut,
    /// Keyed by statement text; hashed with foldhash, as SipHash over every request's text
    /// showed in profiles (the map is bounded, see `MAX_STATEMENTS`).
    statements: HashMap<String, Prepared, foldhash::fast::RandomState>,
    /// Statement names to close at the start of the next pipeline.
    to_close: Vec<String>,
    next_id: u64,
    busy: Arc<AtomicBool>,
    /// Where the server is, how to reach it and the backend's cancel key (`BackendKeyData`).
    cancel: Option<CancelTarget>,
    broken: bool,
    in_transaction: bool,
    /// Named prepared statements are kept (the default); off behind a pooler that cannot
    /// keep them, as PostgREST's `db-prepared-statements = false`.
    prepare: bool,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("statements", &self.statements.len())
            .field("busy", &self.busy.load(Ordering::Relaxed))
            .field("broken", &self.broken)
            .finish()
    }
}

fn db_error(fields: ErrorFields<'_>) -> DbError {
    let mut e = DbError {
        code: String::new(),
        message: String::new(),
        details: None,
        hint: None,
    };
    let mut fields = fields;
    while let Ok(Some(f)) = fields.next() {
        let value = String::from_utf8_lossy(f.value_bytes()).into_owned();
        match f.type_() {
            b'C' => e.code = value,
            b'M' => e.message = value,
            b'D' => e.details = Some(value),
            b'H' => e.hint = Some(value),
            _ => {}
        }
    }
    e
}

/// The error reported when the connection itself fails mid-request: PostgREST's client error.
pub fn connection_error(e: &io::Error) -> DbError {
    DbError {
        code: "PGRST001".into(),
        message: "Database client error. Retrying the connection.".into(),
        details: Some(e.to_string()),
        hint: None,
    }
}

/// A statement too large for the protocol's message size: nothing of it was sent.
fn too_large(e: &io::Error) -> DbError {
    DbError {
        code: "54000".into(),
        message: "the statement is too large to send".into(),
        details: Some(e.to_string()),
        hint: None,
    }
}

fn protocol_error(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected message from the database: {what}"),
    )
}

impl PgConn {
    /// Opens a connection with libpq-style settings: the first host that answers and, with
    /// `target_session_attrs`, takes writes (`read-write`) or does not (`read-only`); plain
    /// TCP, with TLS as `sslmode` says, or a Unix socket directory; password, md5 or
    /// SCRAM-SHA-256 authentication.
    pub async fn connect(url: &DbUrl) -> Result<PgConn, ConnectError> {
        let config = url.pg();
        let user = config
            .get_user()
            .ok_or_else(|| ConnectError::Config("the database URL names no user".into()))?;
        let mut last = None;
        let keepalive = keepalive(config);
        for endpoint in endpoints(config)? {
            let timeout = config.get_connect_timeout().copied();
            let opened = open(&endpoint, url.tls(), keepalive.as_ref(), timeout).await;
            let (socket, binding) = match opened {
                Ok(s) => s,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let mut conn = PgConn {
                socket,
                read: BytesMut::with_capacity(16 * 1024),
                write: BytesMut::with_capacity(8 * 1024),
                statements: HashMap::default(),
                to_close: Vec::new(),
                next_id: 0,
                busy: Arc::new(AtomicBool::new(false)),
                cancel: None,
                broken: false,
                in_transaction: false,
                prepare: true,
            };
            // As libpq, a host that fails (authentication, TLS, the wrong role in a
            // cluster) passes the turn to the next.
            let opened = async {
                if let Some((pid, key)) = conn.startup(config, user, binding).await? {
                    conn.cancel = Some(CancelTarget {
                        endpoint: endpoint.clone(),
                        tls: url.tls().clone(),
                        pid,
                        key,
                    });
                }
                conn.check_session_attrs(config.get_target_session_attrs())
                    .await
            };
            match opened.await {
                Ok(()) => return Ok(conn),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            ConnectError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                "no host to connect to",
            ))
        }))
    }

    /// Authenticates; returns the backend's cancel key. `binding` is the TLS channel's
    /// `tls-server-end-point` data, for `SCRAM-SHA-256-PLUS`.
    async fn startup(
        &mut self,
        config: &tokio_postgres::Config,
        user: &str,
        binding: Option<Vec<u8>>,
    ) -> Result<Option<(i32, i32)>, ConnectError> {
        use tokio_postgres::config::ChannelBinding as Wanted;
        let wanted = config.get_channel_binding();
        let binding = binding.filter(|_| wanted != Wanted::Disable);
        // As libpq: with `channel_binding=require`, only a SCRAM exchange bound to the TLS
        // channel may authenticate.
        let unbound = || {
            if wanted == Wanted::Require {
                Err(ConnectError::Refused(
                    "channel_binding=require, but the server did not authenticate with channel binding".into(),
                ))
            } else {
                Ok(())
            }
        };
        let mut bound = false;
        let mut params = vec![
            ("user", user),
            ("client_encoding", "UTF8"),
            (
                "application_name",
                config.get_application_name().unwrap_or("madbase"),
            ),
        ];
        if let Some(db) = config.get_dbname() {
            params.push(("database", db));
        }
        if let Some(options) = config.get_options() {
            params.push(("options", options));
        }
        frontend::startup_message(params, &mut self.write)?;
        self.flush().await?;
        let password = config.get_password();
        let need_password = || {
            password.ok_or_else(|| {
                ConnectError::Refused("the server asks for a password and none was given".into())
            })
        };
        let mut scram: Option<sasl::ScramSha256> = None;
        let mut backend_key = None;
        loop {
            match self.next_message().await? {
                Message::AuthenticationOk if !bound => unbound()?,
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    unbound()?;
                    frontend::password_message(need_password()?, &mut self.write)?;
                    self.flush().await?;
                }
                Message::AuthenticationMd5Password(body) => {
                    unbound()?;
                    let hash = md5_hash(user.as_bytes(), need_password()?, body.salt());
                    frontend::password_message(hash.as_bytes(), &mut self.write)?;
                    self.flush().await?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let (mut scram_offered, mut plus_offered) = (false, false);
                    while let Some(m) = mechanisms.next()? {
                        scram_offered |= m == sasl::SCRAM_SHA_256;
                        plus_offered |= m == sasl::SCRAM_SHA_256_PLUS;
                    }
                    let (channel, mechanism) = match (plus_offered, binding.clone()) {
                        (true, Some(data)) => (
                            sasl::ChannelBinding::tls_server_end_point(data),
                            sasl::SCRAM_SHA_256_PLUS,
                        ),
                        // We could bind but the server did not offer it: the exchange says
                        // so, and a server that did offer it (the offer stripped on the way)
                        // then refuses the login.
                        (false, Some(_)) => {
                            (sasl::ChannelBinding::unrequested(), sasl::SCRAM_SHA_256)
                        }
                        (_, None) => (sasl::ChannelBinding::unsupported(), sasl::SCRAM_SHA_256),
                    };
                    if mechanism == sasl::SCRAM_SHA_256 {
                        unbound()?;
                        if !scram_offered {
                            return Err(ConnectError::Refused(
                                "the server offers no supported SASL mechanism".into(),
                            ));
                        }
                    }
                    bound = mechanism == sasl::SCRAM_SHA_256_PLUS;
                    let s = sasl::ScramSha256::new(need_password()?, channel);
                    frontend::sasl_initial_response(mechanism, s.message(), &mut self.write)?;
                    self.flush().await?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| ConnectError::Io(protocol_error("SASL continue")))?;
                    s.update(body.data())?;
                    frontend::sasl_response(s.message(), &mut self.write)?;
                    self.flush().await?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| ConnectError::Io(protocol_error("SASL final")))?;
                    s.finish(body.data())?;
                }
                Message::ErrorResponse(body) => {
                    let e = db_error(body.fields());
                    return Err(ConnectError::Refused(format!("{} ({})", e.message, e.code)));
                }
                Message::ReadyForQuery(_) => return Ok(backend_key),
                Message::BackendKeyData(body) => {
                    backend_key = Some((body.process_id(), body.secret_key()));
                }
                Message::ParameterStatus(_) | Message::NoticeResponse(_) => {}
                _ => {
                    return Err(ConnectError::Refused(
                        "the server asked for an authentication method that is not supported"
                            .into(),
                    ));
                }
            }
        }
    }

    /// Whether the connection can serve another request (not broken, not left mid-request).
    pub fn is_usable(&self) -> bool {
        !self.broken && !self.busy.load(Ordering::Acquire) && !self.in_transaction
    }

    /// Whether the server has closed this idle connection, found with one read that does not
    /// wait: an idle connection has nothing to read, and a server ending it (a restart,
    /// `pg_terminate_backend`, a failover) sends its `FATAL` and closes. A connection found so
    /// is marked broken, so a pool replaces it before a request fails on it.
    pub fn closed_by_server(&mut self) -> bool {
        if self.broken {
            return true;
        }
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut bytes = [0u8; 64];
        let mut buf = tokio::io::ReadBuf::new(&mut bytes);
        match std::pin::Pin::new(&mut *self.socket).poll_read(&mut cx, &mut buf) {
            std::task::Poll::Pending => false,
            _ => {
                self.broken = true;
                true
            }
        }
    }

    /// Whether statements are prepared and kept (the default) or parsed anew each time as the
    /// unnamed statement, for a pooler in transaction mode that cannot keep them (PostgREST's
    /// `db-prepared-statements`). Turning it off forgets those kept so far.
    pub fn set_prepared_statements(&mut self, prepare: bool) {
        if !prepare {
            self.clear_statements();
        }
        self.prepare = prepare;
    }

    /// Forgets every prepared statement (after a schema reload); they are closed on the
    /// server with the next request.
    pub fn clear_statements(&mut self) {
        self.to_close
            .extend(self.statements.drain().map(|(_, p)| p.name));
    }

    /// A handle that can cancel whatever this connection is running, from elsewhere.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken {
            busy: self.busy.clone(),
            target: self.cancel.clone(),
        }
    }

    /// How many statements are prepared on this connection.
    pub fn prepared_count(&self) -> usize {
        self.statements.len()
    }

    async fn flush(&mut self) -> io::Result<()> {
        // `flush` matters under TLS: a record left in the TLS buffer would never be sent.
        let r = match self.socket.write_all(&self.write).await {
            Ok(()) => self.socket.flush().await,
            Err(e) => Err(e),
        };
        self.write.clear();
        if r.is_err() {
            self.broken = true;
        }
        r
    }

    async fn next_message(&mut self) -> io::Result<Message> {
        loop {
            match Message::parse(&mut self.read) {
                Ok(Some(m)) => return Ok(m),
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
            if self.read.capacity() - self.read.len() < 4096 {
                self.read.reserve(16 * 1024);
            }
            match self.socket.read_buf(&mut self.read).await {
                Ok(0) => {
                    self.broken = true;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the database closed the connection",
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
        }
    }

    /// The next message that is part of a statement's answer (notices and parameter changes
    /// are skipped).
    async fn next_reply(&mut self) -> io::Result<Message> {
        loop {
            match self.next_message().await? {
                Message::NoticeResponse(_)
                | Message::ParameterStatus(_)
                | Message::NotificationResponse(_) => {}
                m => return Ok(m),
            }
        }
    }

    /// Runs `steps` as one pipeline ending in a single `Sync`: the rows of each statement, or
    /// the first error (PostgreSQL skips the rest, and an open transaction is rolled back).
    /// After success, a transaction opened by the steps and not committed stays open: end it
    /// with [`PgConn::finish`].
    pub async fn pipeline(&mut self, steps: &[Step<'_>]) -> Result<Vec<Vec<Row>>, DbError> {
        if self.broken {
            return Err(connection_error(&io::Error::new(
                io::ErrorKind::NotConnected,
                "the connection is broken",
            )));
        }
        self.busy.store(true, Ordering::Release);
        let result = self.pipeline_inner(steps).await;
        match result {
            Ok(Ok(rows)) => {
                self.busy.store(false, Ordering::Release);
                Ok(rows)
            }
            Ok(Err(db)) => {
                // An error inside an explicit transaction leaves it aborted; end it here so the
                // connection goes back to the pool clean.
                if self.in_transaction {
                    match self.simple("ROLLBACK").await {
                        Ok(_) => self.busy.store(false, Ordering::Release),
                        Err(_) => self.broken = true,
                    }
                } else {
                    self.busy.store(false, Ordering::Release);
                }
                Err(db)
            }
            Err(io) => {
                self.broken = true;
                Err(connection_error(&io))
            }
        }
    }

    async fn pipeline_inner(
        &mut self,
        steps: &[Step<'_>],
    ) -> io::Result<Result<Vec<Vec<Row>>, DbError>> {
        self.make_room(steps.len());
        let closes = self.encode_closes()?;
        let parsed = match self.encode_group(steps)? {
            Ok(parsed) => parsed,
            Err(e) => {
                // Nothing has been sent.
                self.write.clear();
                self.to_close = closes;
                return Ok(Err(e));
            }
        };
        self.flush().await?;
        self.read_closes(closes.len()).await?;
        self.read_group(steps, parsed).await
    }

    /// Runs each group of `groups` as its own implicit transaction (its own `Sync`), all sent
    /// in one write: a group's error ends that group only. `answer` gets each group's rows or
    /// error as soon as they are read, in order, so the first caller does not wait for the
    /// last. A group must not leave a transaction open (no `BEGIN` without its `COMMIT`):
    /// the groups after it would run inside it.
    pub async fn batch(
        &mut self,
        groups: &[&[Step<'_>]],
        mut answer: impl FnMut(usize, Result<Vec<Vec<Row>>, DbError>),
    ) {
        if self.broken || self.in_transaction {
            let e = connection_error(&io::Error::new(
                io::ErrorKind::NotConnected,
                "the connection is broken",
            ));
            for i in 0..groups.len() {
                answer(i, Err(e.clone()));
            }
            return;
        }
        self.busy.store(true, Ordering::Release);
        self.make_room(groups.iter().map(|g| g.len()).sum());
        let mut pending = Vec::with_capacity(groups.len());
        let closes = match self.encode_closes() {
            Ok(closes) => closes,
            Err(e) => {
                self.broken = true;
                for i in 0..groups.len() {
                    answer(i, Err(connection_error(&e)));
                }
                return;
            }
        };
        for (i, steps) in groups.iter().enumerate() {
            let mark = self.write.len();
            match self.encode_group(steps) {
                Ok(Ok(parsed)) => pending.push((i, parsed)),
                Ok(Err(e)) => {
                    self.write.truncate(mark);
                    answer(i, Err(e));
                }
                Err(e) => {
                    self.write.truncate(mark);
                    answer(i, Err(too_large(&e)));
                }
            }
        }
        let sent = async {
            if pending.is_empty() && closes.is_empty() {
                return Ok(());
            }
            self.flush().await?;
            self.read_closes(closes.len()).await
        };
        if let Err(e) = sent.await {
            self.broken = true;
            for (i, _) in pending {
                answer(i, Err(connection_error(&e)));
            }
            return;
        }
        let mut pending = pending.into_iter();
        while let Some((i, parsed)) = pending.next() {
            match self.read_group(groups[i], parsed).await {
                Ok(_) if self.in_transaction => {
                    // The groups after this one ran inside its transaction: nothing they did
                    // can be trusted, and the connection is not reused.
                    self.broken = true;
                    let e = connection_error(&protocol_error(
                        "a batched group left a transaction open",
                    ));
                    answer(i, Err(e.clone()));
                    for (j, _) in pending.by_ref() {
                        answer(j, Err(e.clone()));
                    }
                    return;
                }
                Ok(result) => answer(i, result),
                Err(e) => {
                    self.broken = true;
                    answer(i, Err(connection_error(&e)));
                    for (j, _) in pending.by_ref() {
                        answer(j, Err(connection_error(&e)));
                    }
                    return;
                }
            }
        }
        self.busy.store(false, Ordering::Release);
    }

    /// Starts the statement cache over when `more` statements could take it past its bound.
    fn make_room(&mut self, more: usize) {
        if self.statements.len() + more > MAX_STATEMENTS {
            self.clear_statements();
        }
    }

    /// Writes the `Close`s of forgotten statements, as a group of their own; returns their
    /// names (read their answers with [`PgConn::read_closes`]).
    fn encode_closes(&mut self) -> io::Result<Vec<String>> {
        let closes = std::mem::take(&mut self.to_close);
        if !closes.is_empty() {
            for name in &closes {
                frontend::close(b'S', name, &mut self.write)?;
            }
            frontend::sync(&mut self.write);
        }
        Ok(closes)
    }

    /// Reads the answers to `count` `Close`s and their `Sync`. Closing a statement cannot fail
    /// in a way the request should see, so an error here is only skipped.
    async fn read_closes(&mut self, count: usize) -> io::Result<()> {
        if count == 0 {
            return Ok(());
        }
        for _ in 0..count {
            if self
                .expect("CloseComplete", |m| matches!(m, Message::CloseComplete))
                .await?
                .is_err()
            {
                // The error was read up to its `ReadyForQuery`.
                return Ok(());
            }
        }
        match self.next_reply().await? {
            Message::ReadyForQuery(_) => Ok(()),
            _ => Err(protocol_error("expected ReadyForQuery")),
        }
    }

    /// Writes one group: for each step `Parse` + `Describe` when its statement is not yet
    /// prepared on this connection, then `Bind` + `Execute`; then `Sync`. Returns how each
    /// step was written. Only statements confirmed by the server are reused, so a group never
    /// depends on another group's `Parse`, which that group's earlier error could have skipped.
    /// Without prepared statements each step is `Parse` of the unnamed statement, `Bind`,
    /// `Describe` of the portal and `Execute`.
    fn encode_group(&mut self, steps: &[Step<'_>]) -> io::Result<Result<Vec<Prep>, DbError>> {
        let mut parsed: Vec<Prep> = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let earlier = steps[..i].iter().zip(&parsed).find_map(|(s, p)| match p {
                Prep::Fresh(name) if s.text == step.text => Some(name),
                _ => None,
            });
            let (name, prep) = match (self.statements.get(step.text), earlier) {
                _ if !self.prepare => {
                    let types = std::iter::repeat_n(0u32, step.params.len());
                    frontend::parse("", step.text, types, &mut self.write)?;
                    (String::new(), Prep::Unnamed)
                }
                (Some(p), _) => (p.name.clone(), Prep::Reused),
                (None, Some(name)) => (name.clone(), Prep::Reused),
                (None, None) => {
                    self.next_id += 1;
                    let name = format!("mb{}", self.next_id);
                    let types = std::iter::repeat_n(0u32, step.params.len());
                    frontend::parse(&name, step.text, types, &mut self.write)?;
                    frontend::describe(b'S', &name, &mut self.write)?;
                    (name.clone(), Prep::Fresh(name))
                }
            };
            let bound = frontend::bind(
                "",
                &name,
                std::iter::empty(),
                step.params,
                |p: &Option<String>, buf: &mut BytesMut| match p {
                    Some(s) => {
                        buf.extend_from_slice(s.as_bytes());
                        Ok(IsNull::No)
                    }
                    None => Ok(IsNull::Yes),
                },
                std::iter::empty(),
                &mut self.write,
            );
            if bound.is_err() {
                // Text values cannot fail to serialise; only a count over the protocol's
                // limit can.
                return Ok(Err(DbError {
                    code: "54000".into(),
                    message: "too many parameters for one statement".into(),
                    details: Some(format!("{} parameters", step.params.len())),
                    hint: None,
                }));
            }
            if matches!(prep, Prep::Unnamed) {
                frontend::describe(b'P', "", &mut self.write)?;
            }
            frontend::execute("", 0, &mut self.write)?;
            parsed.push(prep);
        }
        frontend::sync(&mut self.write);
        Ok(Ok(parsed))
    }

    /// Reads the answer to one group written by [`PgConn::encode_group`], up to and including
    /// its `ReadyForQuery`.
    async fn read_group(
        &mut self,
        steps: &[Step<'_>],
        parsed: Vec<Prep>,
    ) -> io::Result<Result<Vec<Vec<Row>>, DbError>> {
        let mut results = Vec::with_capacity(steps.len());
        for (step, prep) in steps.iter().zip(parsed) {
            let mut bound = false;
            let columns = match prep {
                Prep::Reused => self
                    .statements
                    .get(step.text)
                    .map(|p| p.columns.clone())
                    .ok_or_else(|| protocol_error("statement vanished"))?,
                Prep::Unnamed => {
                    if let Err(e) = self
                        .expect("ParseComplete", |m| matches!(m, Message::ParseComplete))
                        .await?
                    {
                        return Ok(Err(e));
                    }
                    if let Err(e) = self
                        .expect("BindComplete", |m| matches!(m, Message::BindComplete))
                        .await?
                    {
                        return Ok(Err(e));
                    }
                    bound = true;
                    match self.read_columns().await? {
                        Ok(columns) => columns,
                        Err(e) => return Ok(Err(e)),
                    }
                }
                Prep::Fresh(name) => {
                    if let Err(e) = self
                        .expect("ParseComplete", |m| matches!(m, Message::ParseComplete))
                        .await?
                    {
                        return Ok(Err(e));
                    }
                    match self.next_reply().await? {
                        Message::ParameterDescription(_) => {}
                        _ => return Err(protocol_error("expected ParameterDescription")),
                    }
                    let columns = match self.read_columns().await? {
                        Ok(columns) => columns,
                        Err(e) => return Ok(Err(e)),
                    };
                    match self.statements.get(step.text) {
                        // Another group of the same batch prepared it first: keep that one.
                        Some(_) => self.to_close.push(name),
                        None => {
                            self.statements.insert(
                                step.text.to_owned(),
                                Prepared {
                                    name,
                                    columns: columns.clone(),
                                },
                            );
                        }
                    }
                    columns
                }
            };
            if !bound
                && let Err(e) = self
                    .expect("BindComplete", |m| matches!(m, Message::BindComplete))
                    .await?
            {
                return Ok(Err(e));
            }
            let mut rows = Vec::new();
            loop {
                match self.next_reply().await? {
                    Message::DataRow(body) => {
                        let ranges = body.ranges().collect::<Vec<_>>()?;
                        rows.push(Row {
                            columns: columns.clone(),
                            data: body.buffer_bytes().clone(),
                            ranges,
                        });
                    }
                    Message::CommandComplete(_) | Message::EmptyQueryResponse => break,
                    Message::ErrorResponse(body) => {
                        let e = db_error(body.fields());
                        return self.drain(e).await;
                    }
                    _ => return Err(protocol_error("expected DataRow or CommandComplete")),
                }
            }
            results.push(rows);
        }
        match self.next_reply().await? {
            Message::ReadyForQuery(body) => {
                self.in_transaction = body.status() != b'I';
                Ok(Ok(results))
            }
            _ => Err(protocol_error("expected ReadyForQuery")),
        }
    }

    /// The column names of a `RowDescription` (none for `NoData`), the answer to a `Describe`.
    async fn read_columns(&mut self) -> io::Result<Result<Arc<[String]>, DbError>> {
        Ok(Ok(match self.next_reply().await? {
            Message::RowDescription(body) => body
                .fields()
                .map(|f| Ok(f.name().to_owned()))
                .collect::<Vec<_>>()?
                .into(),
            Message::NoData => Arc::from(Vec::new()),
            Message::ErrorResponse(body) => {
                let e = db_error(body.fields());
                return self.drain(e).await;
            }
            _ => return Err(protocol_error("expected RowDescription")),
        }))
    }

    /// The next reply when `want` accepts it; a database error (after skipping to
    /// `ReadyForQuery`); or a protocol error naming what was `expected`.
    async fn expect(
        &mut self,
        expected: &str,
        want: impl Fn(&Message) -> bool,
    ) -> io::Result<Result<Message, DbError>> {
        match self.next_reply().await? {
            Message::ErrorResponse(body) => {
                let e = db_error(body.fields());
                self.drain(e).await
            }
            m if want(&m) => Ok(Ok(m)),
            _ => Err(protocol_error(&format!("expected {expected}"))),
        }
    }

    /// After an error: skips to `ReadyForQuery` and returns the error. A server that ends the
    /// session after its error (a `FATAL`: `pg_terminate_backend`, a shutdown) closes instead;
    /// its error is still the answer, and the connection is left broken.
    async fn drain<T>(&mut self, e: DbError) -> io::Result<Result<T, DbError>> {
        loop {
            match self.next_reply().await {
                Ok(Message::ReadyForQuery(body)) => {
                    self.in_transaction = body.status() != b'I';
                    return Ok(Err(e));
                }
                Ok(_) => {}
                Err(_) => {
                    self.broken = true;
                    return Ok(Err(e));
                }
            }
        }
    }

    /// Runs a statement without parameters through the simple protocol.
    async fn simple(&mut self, text: &str) -> io::Result<Result<(), DbError>> {
        frontend::query(text, &mut self.write)?;
        self.flush().await?;
        let mut error = None;
        loop {
            match self.next_reply().await? {
                Message::ReadyForQuery(body) => {
                    self.in_transaction = body.status() != b'I';
                    return Ok(error.map_or(Ok(()), Err));
                }
                Message::ErrorResponse(body) => error = Some(db_error(body.fields())),
                _ => {}
            }
        }
    }

    /// `target_session_attrs`: whether this server takes writes, as the URL asks.
    async fn check_session_attrs(
        &mut self,
        wanted: tokio_postgres::config::TargetSessionAttrs,
    ) -> Result<(), ConnectError> {
        use tokio_postgres::config::TargetSessionAttrs as Attrs;
        if wanted == Attrs::Any {
            return Ok(());
        }
        frontend::query("SHOW transaction_read_only", &mut self.write)?;
        self.flush().await?;
        let mut read_only = None;
        loop {
            match self.next_reply().await? {
                Message::DataRow(row) => {
                    let ranges = row.ranges().collect::<Vec<_>>()?;
                    read_only = ranges
                        .first()
                        .cloned()
                        .flatten()
                        .map(|r| &row.buffer()[r] == b"on");
                }
                Message::ErrorResponse(body) => {
                    let e = db_error(body.fields());
                    return Err(ConnectError::Refused(format!("{} ({})", e.message, e.code)));
                }
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match (wanted, read_only) {
            (Attrs::ReadWrite, Some(true)) => Err(ConnectError::Refused(
                "the server does not allow writes, and target_session_attrs=read-write".into(),
            )),
            (Attrs::ReadOnly, Some(false)) => Err(ConnectError::Refused(
                "the server allows writes, and target_session_attrs=read-only".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Ends the open transaction with COMMIT or ROLLBACK.
    pub async fn finish(&mut self, commit: bool) -> Result<(), DbError> {
        self.busy.store(true, Ordering::Release);
        // A rollback first runs the deferred constraint checks, as PostgREST does: what they
        // find is the answer a commit would have given (`Prefer: tx=rollback` tries a write
        // for real). In a transaction already failed they say so (25P02), which is no news.
        let deferred = if commit {
            None
        } else {
            match self.simple("SET CONSTRAINTS ALL IMMEDIATE").await {
                Ok(Err(e)) if e.code != "25P02" => Some(e),
                Ok(_) => None,
                Err(io) => {
                    self.broken = true;
                    return Err(connection_error(&io));
                }
            }
        };
        match self
            .simple(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
        {
            Ok(r) => {
                self.busy.store(false, Ordering::Release);
                match deferred {
                    Some(e) => Err(e),
                    None => r,
                }
            }
            Err(io) => {
                self.broken = true;
                Err(connection_error(&io))
            }
        }
    }
}

/// Cancels a connection's running statement when the request that started it was abandoned.
#[derive(Debug, Clone)]
pub struct CancelToken {
    busy: Arc<AtomicBool>,
    target: Option<CancelTarget>,
}

/// What a cancel request needs: a new connection like the first (TLS included: a server
/// that demands it takes cancel requests only that way) and the backend's key.
#[derive(Debug, Clone)]
struct CancelTarget {
    endpoint: Endpoint,
    tls: Tls,
    pid: i32,
    key: i32,
}

/// One server to try: its name (a host name, which TLS checks, or a socket directory), the
/// address to reach it at instead of resolving the name (`hostaddr`), and the port.
#[derive(Debug, Clone)]
struct Endpoint {
    host: Host,
    addr: Option<std::net::IpAddr>,
    port: u16,
}

/// The servers of a URL in the order to try them, as libpq: `host` and `hostaddr` pair up
/// by position, one port serves all or each has its own, `load_balance_hosts=random`
/// shuffles them.
fn endpoints(config: &tokio_postgres::Config) -> Result<Vec<Endpoint>, ConnectError> {
    let (hosts, addrs, ports) = (
        config.get_hosts(),
        config.get_hostaddrs(),
        config.get_ports(),
    );
    let count = hosts.len().max(addrs.len());
    if count == 0 {
        return Err(ConnectError::Config(
            "the database URL names no host".into(),
        ));
    }
    if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
        return Err(ConnectError::Config(format!(
            "the database URL names {} hosts and {} hostaddrs; they pair up by position",
            hosts.len(),
            addrs.len()
        )));
    }
    if ports.len() > 1 && ports.len() != count {
        return Err(ConnectError::Config(format!(
            "the database URL names {count} hosts and {} ports",
            ports.len()
        )));
    }
    let mut out: Vec<Endpoint> = (0..count)
        .map(|i| Endpoint {
            host: hosts
                .get(i)
                .cloned()
                .unwrap_or_else(|| Host::Tcp(addrs[i].to_string())),
            addr: addrs.get(i).copied(),
            port: ports.get(i).or(ports.first()).copied().unwrap_or(5432),
        })
        .collect();
    if config.get_load_balance_hosts() == tokio_postgres::config::LoadBalanceHosts::Random {
        // Fisher-Yates over the standard library's per-process random hash keys.
        use std::hash::{BuildHasher as _, Hasher as _};
        for i in (1..out.len()).rev() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            out.swap(i, (h.finish() % (i as u64 + 1)) as usize);
        }
    }
    Ok(out)
}

impl CancelToken {
    /// Whether the connection is in the middle of a request.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// Sends PostgreSQL a cancel request for the connection's backend, in the background, but
    /// only while the connection is mid-request: a connection left busy is never reused (the
    /// pool discards it), so a late cancel cannot hit another request's statement.
    pub fn cancel_if_busy(&self) {
        let Some(target) = self.target.clone() else {
            return;
        };
        if !self.is_busy() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut buf = BytesMut::with_capacity(16);
            frontend::cancel_request(target.pid, target.key, &mut buf);
            let timeout = Some(std::time::Duration::from_secs(5));
            if let Ok((mut socket, _)) = open(&target.endpoint, &target.tls, None, timeout).await {
                if socket.write_all(&buf).await.is_ok() {
                    let _ = socket.flush().await;
                }
                let _ = socket.shutdown().await;
            }
        });
    }
}

/// libpq's TCP keepalives (`keepalives`, `keepalives_idle`, `keepalives_interval`,
/// `keepalives_count`): on by default, so a connection a NAT or load balancer dropped while
/// idle is found out.
fn keepalive(config: &tokio_postgres::Config) -> Option<socket2::TcpKeepalive> {
    if !config.get_keepalives() {
        return None;
    }
    let mut k = socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
    if let Some(interval) = config.get_keepalives_interval() {
        k = k.with_interval(interval);
    }
    if let Some(retries) = config.get_keepalives_retries() {
        k = k.with_retries(retries);
    }
    Some(k)
}

/// A TCP connection to `endpoint` (named `name`), without Nagle's delay and with `keepalive`.
async fn dial(
    endpoint: &Endpoint,
    name: &str,
    keepalive: Option<&socket2::TcpKeepalive>,
) -> io::Result<tokio::net::TcpStream> {
    let s = match endpoint.addr {
        Some(ip) => tokio::net::TcpStream::connect((ip, endpoint.port)).await?,
        None => tokio::net::TcpStream::connect((name, endpoint.port)).await?,
    };
    s.set_nodelay(true)?;
    if let Some(k) = keepalive {
        socket2::SockRef::from(&s).set_tcp_keepalive(k)?;
    }
    Ok(s)
}

/// Connects to `endpoint` and, over TCP, sets `keepalive` and starts TLS as `tls` says, all
/// within `timeout`; with the channel binding data when TLS is in use.
async fn open(
    endpoint: &Endpoint,
    tls: &Tls,
    keepalive: Option<&socket2::TcpKeepalive>,
    timeout: Option<std::time::Duration>,
) -> Result<(Box<dyn Socket>, Option<Vec<u8>>), ConnectError> {
    let port = endpoint.port;
    let connect = async {
        Ok::<_, ConnectError>(match &endpoint.host {
            Host::Tcp(name) => {
                let s = dial(endpoint, name, keepalive).await?;
                match tls.negotiate(s, name).await? {
                    madbase_pgconn::MaybeTls::Plain(s) => (Box::new(s) as Box<dyn Socket>, None),
                    tls => {
                        let binding = tls.channel_binding();
                        (Box::new(tls) as Box<dyn Socket>, binding)
                    }
                }
            }
            Host::Unix(dir) => {
                let path: PathBuf = dir.join(format!(".s.PGSQL.{port}"));
                (
                    Box::new(tokio::net::UnixStream::connect(path).await?) as Box<dyn Socket>,
                    None,
                )
            }
        })
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, connect).await.map_err(|_| {
            ConnectError::Io(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
        })?,
        None => connect.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tcp_keepalives_follow_the_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let addr = listener.local_addr().expect("addr");
        let config: tokio_postgres::Config =
            "host=127.0.0.1 user=u keepalives_idle=30 keepalives_interval=5 keepalives_retries=3"
                .parse()
                .expect("config");
        let endpoint = Endpoint {
            host: Host::Tcp("127.0.0.1".into()),
            addr: None,
            port: addr.port(),
        };
        let k = keepalive(&config).expect("on by default");
        let s = dial(&endpoint, "127.0.0.1", Some(&k)).await.expect("dial");
        let r = socket2::SockRef::from(&s);
        assert!(r.keepalive().expect("SO_KEEPALIVE"));
        assert_eq!(r.tcp_keepalive_time().expect("idle").as_secs(), 30);
        assert!(r.tcp_nodelay().expect("TCP_NODELAY"));
        let s = dial(&endpoint, "127.0.0.1", None).await.expect("dial");
        assert!(
            !socket2::SockRef::from(&s)
                .keepalive()
                .expect("SO_KEEPALIVE")
        );
        let off: tokio_postgres::Config = "host=h user=u keepalives=0".parse().expect("config");
        assert!(keepalive(&off).is_none());
    }
}
