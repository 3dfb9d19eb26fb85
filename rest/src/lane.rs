//! Read lanes: short reads of many requests share a few connections, sent in batches.
//!
//! A read at read committed is one pipeline ending in its own `Sync`, so it is its own
//! implicit transaction. A lane is one connection and one task: the task takes every read
//! queued while the previous batch ran and sends all their pipelines in one write, each still
//! ending in its own `Sync`, so each keeps its own transaction, settings (`set_config(…, true)`
//! ends with it) and error. PostgreSQL then answers several requests per wake-up instead of
//! one, which on a small machine is where most of its time per request goes.
//!
//! The cost is head-of-line blocking: a read queued behind a slow one waits for it. Three
//! guards keep that rare and short:
//! - a lane whose batch has been running for longer than [`LaneLimits::stuck`] takes no new
//!   reads, and neither does one with [`LaneLimits::max_depth`] reads queued; the caller runs
//!   them on a connection of its own;
//! - a read that took longer than [`LaneLimits::slow`] marks its statement slow, and that
//!   statement keeps off the lanes for [`LaneLimits::slow_for`] (or until the schema is
//!   reloaded). The measure is wall-clock time, which a stalled machine (another process,
//!   the hypervisor) can inflate, so the mark also ends as soon as the statement runs fast on
//!   a connection of its own ([`Lanes::run_alone`]);
//! - only implicit transactions use lanes: writes, and reads at another isolation level, never.
//!
//! A request that goes away while its read is queued is skipped; once sent, its read runs to
//! the end (bounded by `statement_timeout`) and the answer is dropped, since cancelling on the
//! server would hit the whole connection. A lane that cannot connect hands its reads back to
//! the caller and tries again a second later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::error::DbError;
use crate::execute::{Outcome, Transaction, run_on};
use crate::wire::{ConnConfig, PgConn, connection_error};

/// When a lane stops taking reads, and for how long a slow statement stays off the lanes.
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    /// A read that took longer than this on a lane marks its statement slow.
    pub slow: Duration,
    /// How long a slow statement keeps off the lanes.
    pub slow_for: Duration,
    /// A lane whose batch has run this long takes no new reads.
    pub stuck: Duration,
    /// A lane with this many reads queued or running takes no new ones.
    pub max_depth: usize,
    /// A lane's connection idle this long is closed (it reconnects on the next read).
    pub max_idle: Option<Duration>,
    /// A lane's connection this old is replaced before its next batch.
    pub max_lifetime: Option<Duration>,
}

impl Default for LaneLimits {
    fn default() -> Self {
        LaneLimits {
            slow: Duration::from_millis(20),
            slow_for: Duration::from_secs(60),
            stuck: Duration::from_millis(5),
            max_depth: 32,
            max_idle: None,
            max_lifetime: None,
        }
    }
}

/// Reads sent in one batch at most.
const MAX_BATCH: usize = 64;
/// Slow statements remembered; past this the list starts over.
const MAX_SLOW: usize = 1024;
/// How long a lane that could not connect waits before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// The lanes of one database, and the statements known to be too slow for them.
pub struct Lanes {
    lanes: Vec<Lane>,
    shared: Arc<Shared>,
}

struct Shared {
    /// Texts of main statements that took longer than `limits.slow`, with when (µs since the
    /// epoch) they did.
    slow: Mutex<HashMap<String, u64, foldhash::fast::RandomState>>,
    limits: LaneLimits,
    /// Bumped on schema reload; a lane forgets its prepared statements when it changes.
    generation: Arc<AtomicU64>,
    config: ConnConfig,
    epoch: Instant,
    batches: AtomicU64,
    reads: AtomicU64,
}

struct Lane {
    queue: mpsc::UnboundedSender<Job>,
    state: Arc<LaneState>,
}

#[derive(Default)]
struct LaneState {
    /// Reads queued or running.
    depth: AtomicUsize,
    /// When the running batch started, in µs since the epoch, plus one; 0 when idle.
    batch_started: AtomicU64,
    /// Until when (µs since the epoch) the lane is not to be used after failing to connect.
    down_until: AtomicU64,
}

struct Job {
    tx: Transaction,
    reply: oneshot::Sender<Reply>,
}

enum Reply {
    Done(Result<Outcome, DbError>),
    /// Not run: the lane has no connection.
    Refused(Transaction),
}

/// Counters of the lanes since start, and their load now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneStats {
    /// Batches sent.
    pub batches: u64,
    /// Reads answered in them.
    pub reads: u64,
    /// Reads queued or running now, over all lanes.
    pub queued: u64,
    /// Lanes with a batch running now.
    pub running: u64,
}

impl Lanes {
    /// Starts `count` lanes connecting with `config`. `generation` is the pool's schema
    /// generation: when it changes, prepared statements are dropped and slow marks forgotten.
    /// Must be called within a Tokio runtime; the lanes' tasks end when this is dropped.
    pub fn start(count: usize, config: impl Into<ConnConfig>, generation: Arc<AtomicU64>) -> Lanes {
        Self::with_limits(count, config, generation, LaneLimits::default())
    }

    /// [`Lanes::start`] with other limits.
    pub fn with_limits(
        count: usize,
        config: impl Into<ConnConfig>,
        generation: Arc<AtomicU64>,
        limits: LaneLimits,
    ) -> Lanes {
        let config = config.into();
        let shared = Arc::new(Shared {
            slow: Mutex::new(HashMap::default()),
            limits,
            generation,
            config,
            epoch: Instant::now(),
            batches: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        });
        let lanes = (0..count)
            .map(|_| {
                let (queue, jobs) = mpsc::unbounded_channel();
                let state = Arc::new(LaneState::default());
                tokio::spawn(drive(jobs, state.clone(), shared.clone()));
                Lane { queue, state }
            })
            .collect();
        Lanes { lanes, shared }
    }

    /// Runs `tx` on a lane, or hands it back when it should run on a connection of its own:
    /// not an implicit transaction, a statement known to be slow, every lane busy or down.
    pub async fn run(&self, tx: Transaction) -> Result<Result<Outcome, DbError>, Transaction> {
        if !tx.is_implicit() || self.is_slow(&tx.main.text) {
            return Err(tx);
        }
        let now = self.shared.micros();
        let Some(lane) = self
            .lanes
            .iter()
            .filter(|l| l.state.accepts(now, &self.shared.limits))
            .min_by_key(|l| l.state.depth.load(Ordering::Relaxed))
        else {
            return Err(tx);
        };
        let (reply, answer) = oneshot::channel();
        lane.state.depth.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::error::SendError(job)) = lane.queue.send(Job { tx, reply }) {
            lane.state.depth.fetch_sub(1, Ordering::AcqRel);
            return Err(job.tx);
        }
        match answer.await {
            Ok(Reply::Done(result)) => Ok(result),
            Ok(Reply::Refused(tx)) => Err(tx),
            Err(_) => Ok(Err(connection_error(&std::io::Error::other(
                "the read lane stopped",
            )))),
        }
    }

    /// Batches sent and reads answered since start, and what the lanes hold now.
    pub fn stats(&self) -> LaneStats {
        LaneStats {
            batches: self.shared.batches.load(Ordering::Relaxed),
            reads: self.shared.reads.load(Ordering::Relaxed),
            queued: self
                .lanes
                .iter()
                .map(|l| l.state.depth.load(Ordering::Relaxed) as u64)
                .sum(),
            running: self
                .lanes
                .iter()
                .filter(|l| l.state.batch_started.load(Ordering::Relaxed) != 0)
                .count() as u64,
        }
    }

    /// Whether `text` is marked slow.
    fn is_slow(&self, text: &str) -> bool {
        let now = self.shared.micros();
        lock(&self.shared.slow)
            .get(text)
            .is_some_and(|&at| self.shared.still_slow(at, now))
    }

    /// Runs `tx` on `conn`, a connection of the caller's, for a read the lanes did not take.
    /// A statement marked slow that runs in under half the limit there is unmarked: the mark
    /// came from a stall, not from the statement. Without this, a stall under load would send
    /// reads to the pool, whose extra backends load the machine further and make the next lane
    /// read look slow again.
    pub async fn run_alone(&self, conn: &mut PgConn, tx: &Transaction) -> Result<Outcome, DbError> {
        let started = Instant::now();
        let outcome = run_on(conn, tx).await;
        if tx.is_implicit() && outcome.is_ok() && started.elapsed() < self.shared.limits.slow / 2 {
            let mut slow = lock(&self.shared.slow);
            if !slow.is_empty() {
                slow.remove(&tx.main.text);
            }
        }
        outcome
    }

    /// Forgets which statements were slow (their cost may change with the schema).
    pub fn forget_slow(&self) {
        lock(&self.shared.slow).clear();
    }
}

impl LaneState {
    fn accepts(&self, now: u64, limits: &LaneLimits) -> bool {
        if self.down_until.load(Ordering::Relaxed) > now
            || self.depth.load(Ordering::Relaxed) >= limits.max_depth
        {
            return false;
        }
        match self.batch_started.load(Ordering::Relaxed) {
            0 => true,
            started => now.saturating_sub(started - 1) < limits.stuck.as_micros() as u64,
        }
    }
}

impl Shared {
    fn micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn still_slow(&self, marked: u64, now: u64) -> bool {
        now.saturating_sub(marked) < self.limits.slow_for.as_micros() as u64
    }

    fn mark_slow(&self, text: &str) {
        let now = self.micros();
        let mut slow = lock(&self.slow);
        if slow.len() >= MAX_SLOW {
            slow.retain(|_, at| self.still_slow(*at, now));
            if slow.len() >= MAX_SLOW {
                slow.clear();
            }
        }
        slow.insert(text.to_owned(), now);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a set of strings intact.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The lane's task: one batch at a time, of everything queued meanwhile.
async fn drive(
    mut queue: mpsc::UnboundedReceiver<Job>,
    state: Arc<LaneState>,
    shared: Arc<Shared>,
) {
    let mut conn: Option<PgConn> = None;
    let mut opened = Instant::now();
    let mut generation = shared.generation.load(Ordering::Acquire);
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let limits = shared.limits;
    loop {
        let received = match (&conn, limits.max_idle) {
            // Idle too long: the connection goes; the next read opens another.
            (Some(_), Some(idle)) => {
                match tokio::time::timeout(idle, queue.recv_many(&mut jobs, MAX_BATCH)).await {
                    Ok(n) => n,
                    Err(_) => {
                        conn = None;
                        continue;
                    }
                }
            }
            _ => queue.recv_many(&mut jobs, MAX_BATCH).await,
        };
        if received == 0 {
            break;
        }
        // Requests that went away while queued are not run.
        jobs.retain(|job| {
            let gone = job.reply.is_closed();
            if gone {
                state.depth.fetch_sub(1, Ordering::AcqRel);
            }
            !gone
        });
        if jobs.is_empty() {
            continue;
        }
        if limits
            .max_lifetime
            .is_some_and(|max| opened.elapsed() >= max)
        {
            conn = None;
        }
        if conn
            .as_mut()
            .is_none_or(|c| !c.is_usable() || c.closed_by_server())
        {
            conn = match shared.config.connect().await {
                Ok(c) => {
                    generation = shared.generation.load(Ordering::Acquire);
                    opened = Instant::now();
                    Some(c)
                }
                Err(_) => {
                    // The caller runs them on the pool, which reports the failure its way.
                    state.down_until.store(
                        shared.micros() + RETRY.as_micros() as u64,
                        Ordering::Relaxed,
                    );
                    for job in jobs.drain(..) {
                        state.depth.fetch_sub(1, Ordering::AcqRel);
                        let _ = job.reply.send(Reply::Refused(job.tx));
                    }
                    continue;
                }
            };
        }
        let Some(c) = conn.as_mut() else { continue };
        let current = shared.generation.load(Ordering::Acquire);
        if current != generation {
            c.clear_statements();
            generation = current;
        }
        run_batch(c, &mut jobs, &state, &shared).await;
    }
}

async fn run_batch(conn: &mut PgConn, jobs: &mut Vec<Job>, state: &LaneState, shared: &Shared) {
    let (txs, mut replies): (Vec<Transaction>, Vec<Option<oneshot::Sender<Reply>>>) =
        jobs.drain(..).map(|j| (j.tx, Some(j.reply))).unzip();
    let plans: Vec<_> = txs.iter().map(Transaction::plan).collect();
    let groups: Vec<_> = plans.iter().map(|p| p.steps.as_slice()).collect();
    state
        .batch_started
        .store(shared.micros() + 1, Ordering::Relaxed);
    shared.batches.fetch_add(1, Ordering::Relaxed);
    let mut last = Instant::now();
    conn.batch(&groups, |i, result| {
        // Groups are answered in order, each once PostgreSQL has run it, so the time since
        // the previous answer is what this one cost.
        let now = Instant::now();
        if now - last > shared.limits.slow {
            shared.mark_slow(&txs[i].main.text);
        }
        last = now;
        shared.reads.fetch_add(1, Ordering::Relaxed);
        state.depth.fetch_sub(1, Ordering::AcqRel);
        if let Some(reply) = replies[i].take() {
            let _ = reply.send(Reply::Done(result.map(|rows| plans[i].outcome(rows))));
        }
    })
    .await;
    state.batch_started.store(0, Ordering::Relaxed);
}
