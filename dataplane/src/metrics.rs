//! Prometheus metrics of the data plane: request count and latency by API and status class,
//! database pool gauges and process memory, rendered in the text exposition format.
//!
//! Label values come from fixed sets (API names, status classes), so cardinality is bounded
//! whatever clients send.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The APIs requests are counted under.
pub const APIS: [&str; 6] = ["auth", "rest", "realtime", "storage", "functions", "other"];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const BUCKETS_SECS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Which API a path belongs to.
pub fn api_of(path: &str) -> usize {
    let prefix = |p: &str| crate::http::path_is_under(path, p);
    if prefix("/auth/v1") {
        0
    } else if prefix("/rest/v1") {
        1
    } else if prefix("/realtime/v1") {
        2
    } else if prefix("/storage/v1") {
        3
    } else if prefix("/functions/v1") {
        4
    } else {
        5
    }
}

#[derive(Default)]
struct Histogram {
    /// Requests whose latency fell in each bucket (not cumulative: see `render`).
    buckets: [AtomicU64; BUCKETS_SECS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Counters and histograms, one set per project.
#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; CLASSES.len()]; APIS.len()],
    latency: [Histogram; APIS.len()],
}

/// Pool figures sampled at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct PoolGauges {
    /// Configured maximum.
    pub max: usize,
    /// Open connections.
    pub size: usize,
    /// Open and idle.
    pub idle: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, api: usize, status: u16, elapsed: Duration) {
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        self.requests[api][class].fetch_add(1, Ordering::Relaxed);
        let h = &self.latency[api];
        let secs = elapsed.as_secs_f64();
        // Only the narrowest bucket is counted here; the exposition adds them up, so a request
        // touches one shared counter rather than every bucket above its latency.
        if let Some(i) = BUCKETS_SECS.iter().position(|le| secs <= *le) {
            h.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_micros.fetch_add(
            elapsed.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The text exposition of everything, with `project` as a label; each connection pool's
    /// gauges carry a `pool` label (`rest` for the data API's, `main` for the rest).
    pub fn render(
        &self,
        project: &str,
        pools: &[(&str, PoolGauges)],
        lanes: madbase_rest::LaneStats,
        jwt_cached: usize,
    ) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(4096);
        let p = project;
        out.push_str("# HELP madbase_http_requests_total HTTP requests by API and status class.\n# TYPE madbase_http_requests_total counter\n");
        for (a, api) in APIS.iter().enumerate() {
            for (c, class) in CLASSES.iter().enumerate() {
                let n = self.requests[a][c].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "madbase_http_requests_total{{project=\"{p}\",api=\"{api}\",status=\"{class}\"}} {n}"
                    );
                }
            }
        }
        out.push_str("# HELP madbase_http_request_duration_seconds HTTP request latency by API.\n# TYPE madbase_http_request_duration_seconds histogram\n");
        for (a, api) in APIS.iter().enumerate() {
            let h = &self.latency[a];
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut n = 0;
            for (i, le) in BUCKETS_SECS.iter().enumerate() {
                n += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "madbase_http_request_duration_seconds_bucket{{project=\"{p}\",api=\"{api}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "madbase_http_request_duration_seconds_bucket{{project=\"{p}\",api=\"{api}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "madbase_http_request_duration_seconds_sum{{project=\"{p}\",api=\"{api}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "madbase_http_request_duration_seconds_count{{project=\"{p}\",api=\"{api}\"}} {count}"
            );
        }
        for (name, help, get) in [
            (
                "madbase_db_pool_max",
                "Configured maximum database connections.",
                (|g: &PoolGauges| g.max) as fn(&PoolGauges) -> usize,
            ),
            (
                "madbase_db_pool_size",
                "Open database connections.",
                |g: &PoolGauges| g.size,
            ),
            (
                "madbase_db_pool_idle",
                "Idle database connections.",
                |g: &PoolGauges| g.idle,
            ),
            (
                "madbase_db_pool_waiting",
                "Requests waiting for a database connection.",
                |g: &PoolGauges| g.waiting,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (pool, gauges) in pools {
                let v = get(gauges);
                let _ = writeln!(out, "{name}{{project=\"{p}\",pool=\"{pool}\"}} {v}");
            }
        }
        for (name, help, v) in [
            (
                "madbase_rest_lane_batches_total",
                "Batches of /rest/v1 reads sent on the read lanes.",
                lanes.batches,
            ),
            (
                "madbase_rest_lane_reads_total",
                "/rest/v1 reads answered on the read lanes.",
                lanes.reads,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{project=\"{p}\"}} {v}"
            );
        }
        for (name, help, v) in [
            (
                "madbase_rest_lane_queued",
                "/rest/v1 reads queued or running on the read lanes.",
                lanes.queued,
            ),
            (
                "madbase_rest_lane_running",
                "Read lanes with a batch running.",
                lanes.running,
            ),
            (
                "madbase_rest_jwt_cache_entries",
                "Bearer tokens whose verified claims the data API keeps.",
                jwt_cached as u64,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{project=\"{p}\"}} {v}"
            );
        }
        if let Some(rss) = resident_bytes() {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory of the data plane.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
            );
        }
        out
    }
}

/// Resident set size of this process, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_apis() {
        assert_eq!(APIS[api_of("/rest/v1/todos")], "rest");
        assert_eq!(APIS[api_of("/auth/v1")], "auth");
        assert_eq!(APIS[api_of("/rest/v10")], "other");
        assert_eq!(APIS[api_of("/metrics")], "other");
    }

    #[test]
    fn observations_render_as_prometheus_text() {
        let m = Metrics::default();
        m.observe(1, 200, Duration::from_millis(3));
        m.observe(1, 404, Duration::from_millis(30));
        let pool = PoolGauges {
            max: 10,
            size: 2,
            idle: 1,
            waiting: 0,
        };
        let lanes = madbase_rest::LaneStats {
            batches: 3,
            reads: 7,
            queued: 2,
            running: 1,
        };
        let text = m.render("default", &[("main", pool), ("rest", pool)], lanes, 5);
        assert!(text.contains(
            "madbase_http_requests_total{project=\"default\",api=\"rest\",status=\"2xx\"} 1"
        ));
        assert!(text.contains(
            "madbase_http_requests_total{project=\"default\",api=\"rest\",status=\"4xx\"} 1"
        ));
        assert!(text.contains("madbase_http_request_duration_seconds_bucket{project=\"default\",api=\"rest\",le=\"0.005\"} 1"));
        // Buckets are cumulative: 30 ms counts in every bucket from 0.05 s up.
        assert!(text.contains("madbase_http_request_duration_seconds_bucket{project=\"default\",api=\"rest\",le=\"0.05\"} 2"));
        assert!(text.contains("madbase_http_request_duration_seconds_bucket{project=\"default\",api=\"rest\",le=\"5\"} 2"));
        assert!(text.contains(
            "madbase_http_request_duration_seconds_count{project=\"default\",api=\"rest\"} 2"
        ));
        assert!(text.contains("madbase_db_pool_size{project=\"default\",pool=\"main\"} 2"));
        assert!(text.contains("madbase_db_pool_size{project=\"default\",pool=\"rest\"} 2"));
        assert_eq!(text.matches("# TYPE madbase_db_pool_size gauge").count(), 1);
        assert!(text.contains("madbase_rest_lane_batches_total{project=\"default\"} 3"));
        assert!(text.contains("madbase_rest_lane_reads_total{project=\"default\"} 7"));
        assert!(text.contains("madbase_rest_lane_queued{project=\"default\"} 2"));
        assert!(text.contains("madbase_rest_lane_running{project=\"default\"} 1"));
        assert!(text.contains("madbase_rest_jwt_cache_entries{project=\"default\"} 5"));
    }
}
