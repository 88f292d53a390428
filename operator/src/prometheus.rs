//! Live numbers of k6 runners from the platform's Prometheus: k6's remote-write output
//! (`experimental-prometheus-rw`, trends as native histograms) writes them there tagged with
//! the test's `testid`; this module builds the PromQL (pure), asks Prometheus's HTTP API for
//! range queries and parses the answers (pure, tested on real Prometheus answers).
//!
//! Everything is summed over the runners before it is read, so a test with several runner
//! pods has one rate, one error rate and percentiles from the merged histograms.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

/// k6's request counter (remote-write name of `http_reqs`).
pub const REQS: &str = "k6_http_reqs_total";
/// k6's request duration trend as a native histogram, in seconds.
pub const DURATION: &str = "k6_http_req_duration_seconds";
/// k6's active virtual users gauge.
pub const VUS: &str = "k6_vus";
/// The tag (label) that ties k6's series to a LoadTest: k6-operator's convention.
pub const TEST_ID_LABEL: &str = "testid";
/// How often runners push (k6's `K6_PROMETHEUS_RW_PUSH_INTERVAL`).
pub const PUSH_INTERVAL_SECS: u64 = 5;
/// The smallest step of a series: the push interval.
pub const MIN_STEP_SECS: u64 = PUSH_INTERVAL_SECS;
/// At most this many points per series; longer tests get a longer step.
pub const MAX_POINTS: u64 = 720;

/// Why Prometheus gave no series.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrometheusError {
    /// No answer (connection refused, timeout, DNS).
    #[error("Prometheus at {url} is unreachable: {message}")]
    Unreachable {
        /// The configured base URL.
        url: String,
        /// The cause.
        message: String,
    },
    /// An answer other than success.
    #[error("Prometheus at {url} answered {status}: {message}")]
    Refused {
        /// The configured base URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Prometheus's error, or the start of the body.
        message: String,
    },
    /// A success that is not a range query's answer.
    #[error("Prometheus at {url} gave an answer that is not a range query's: {message}")]
    Answer {
        /// The configured base URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// A base URL for `--prometheus-url`: plain http (the operator talks to Prometheus's
/// in-cluster Service; it has no TLS client for it), without a query.
pub fn base_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim()).map_err(|e| {
        format!("{value:?} is not a URL ({e}); use e.g. http://prometheus-operated.monitoring:9090")
    })?;
    if url.scheme() != "http" || url.host_str().is_none() {
        return Err(format!(
            "{value:?} must be an http:// URL with a host, e.g. http://prometheus-operated.monitoring:9090 (Prometheus's in-cluster Service)"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{value:?} must not have a query or fragment: give Prometheus's base URL"
        ));
    }
    Ok(url)
}

/// The step of a test's series: the push interval, longer for long tests so the series
/// keeps at most [`MAX_POINTS`] points (a multiple of the push interval).
pub fn step_secs(span_secs: u64) -> u64 {
    let needed = span_secs.div_ceil(MAX_POINTS).max(MIN_STEP_SECS);
    needed.div_ceil(MIN_STEP_SECS) * MIN_STEP_SECS
}

/// What one query measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Measure {
    /// Requests per second, all runners.
    Rps,
    /// Failed requests (k6's `expected_response="false"`) over all requests.
    ErrorRate,
    /// 95th percentile of the merged duration histograms, in seconds.
    P95,
    /// 99th percentile, in seconds.
    P99,
    /// Active virtual users, all runners.
    Vus,
}

impl Measure {
    /// Every measure.
    pub const ALL: [Self; 5] = [Self::Rps, Self::ErrorRate, Self::P95, Self::P99, Self::Vus];
}

/// A label value as a PromQL string literal.
fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// The PromQL of `measure` for the test `testid`, with rates over `window_secs`. Rates and
/// histograms are summed over every runner before the ratio or quantile is taken, so
/// percentiles come from the merged histograms, never from averaged percentiles.
pub fn promql(measure: Measure, testid: &str, window_secs: u64) -> String {
    let id = format!("{TEST_ID_LABEL}={}", quoted(testid));
    let rate = |metric: &str, extra: &str| format!("rate({metric}{{{id}{extra}}}[{window_secs}s])");
    match measure {
        Measure::Rps => format!("sum({})", rate(REQS, "")),
        Measure::ErrorRate => format!(
            "sum({}) / sum({})",
            rate(REQS, ",expected_response=\"false\""),
            rate(REQS, "")
        ),
        Measure::P95 => format!("histogram_quantile(0.95, sum({}))", rate(DURATION, "")),
        Measure::P99 => format!("histogram_quantile(0.99, sum({}))", rate(DURATION, "")),
        Measure::Vus => format!("sum({VUS}{{{id}}})"),
    }
}

/// The PromQL of quantile `q` of the whole run of `testid` (the `span_secs` before the
/// query's time): the runners' duration histograms' increase over the run, summed, so the
/// percentile is that of every request of every runner.
pub fn run_quantile_promql(q: f64, testid: &str, span_secs: u64) -> String {
    let id = format!("{TEST_ID_LABEL}={}", quoted(testid));
    format!("histogram_quantile({q}, sum(increase({DURATION}{{{id}}}[{span_secs}s])))")
}

/// The percentiles of a whole run that [`Prometheus::run_percentiles`] reads, in
/// milliseconds: median, p90, p95, p99.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunPercentiles {
    /// Median.
    pub med: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// The rate window for a step: at least three push intervals, so every window holds two
/// samples of each runner, and at least the step, so no request falls between points.
pub fn window_secs(step_secs: u64) -> u64 {
    step_secs.max(3 * PUSH_INTERVAL_SECS)
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// One series of a range query's answer: its labels and its points.
pub type LabelledSeries = (BTreeMap<String, String>, Vec<(f64, f64)>);

/// Every series of a range query's answer with its labels and points (unix seconds,
/// value). Values that are not finite numbers (NaN where nothing was measured, ±Inf) are
/// left out. An error answer gives Prometheus's message.
pub fn parse_matrix(body: &[u8]) -> Result<Vec<LabelledSeries>, String> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| format!("not Prometheus's JSON: {e}"))?;
    if answer.status != "success" {
        return Err(format!(
            "{}: {}",
            answer.error_type.as_deref().unwrap_or("error"),
            answer.error.as_deref().unwrap_or("no message")
        ));
    }
    let data = answer.data.ok_or("a success without data")?;
    if data.result_type != "matrix" {
        return Err(format!("result type {:?}, not a matrix", data.result_type));
    }
    Ok(data
        .result
        .into_iter()
        .map(|s| {
            let points = s
                .values
                .into_iter()
                .filter_map(|(t, v)| {
                    let v: f64 = v.parse().ok()?;
                    v.is_finite().then_some((t, v))
                })
                .collect();
            (s.metric, points)
        })
        .collect())
}

/// The points of a range query's answer: (unix seconds, value), one series at most (the
/// queries sum everything). Values that are not finite numbers (NaN where nothing was
/// measured, ±Inf) are left out. An error answer gives Prometheus's message.
pub fn parse_range(body: &[u8]) -> Result<Vec<(f64, f64)>, String> {
    let series = parse_matrix(body)?;
    if series.len() > 1 {
        return Err(format!(
            "{} series where the query sums to one",
            series.len()
        ));
    }
    Ok(series.into_iter().flat_map(|(_, points)| points).collect())
}

/// One time of a test's series: each measure's value then, if any.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Unix seconds.
    pub time: i64,
    /// Values by measure.
    pub values: BTreeMap<Measure, f64>,
}

/// The rows of several measures' points, by time (pure).
pub fn rows(series: &[(Measure, Vec<(f64, f64)>)]) -> Vec<Row> {
    let mut by_time: BTreeMap<i64, Row> = BTreeMap::new();
    for (measure, points) in series {
        for (t, v) in points {
            // Range queries answer at start + k * step, whole seconds here.
            let time = t.round() as i64;
            by_time
                .entry(time)
                .or_insert_with(|| Row {
                    time,
                    ..Row::default()
                })
                .values
                .insert(*measure, *v);
        }
    }
    by_time.into_values().collect()
}

/// A client of one Prometheus's HTTP API.
#[derive(Clone, Debug)]
pub struct Prometheus {
    base: Url,
    http: reqwest::Client,
}

/// How long one query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The error's chain as one line (reqwest's own message hides the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !message.contains(&next) {
            message = format!("{message}: {next}");
        }
        source = s.source();
    }
    message
}

impl Prometheus {
    /// A client of the Prometheus at `base` (see [`base_url`]).
    pub fn new(base: Url) -> Self {
        let http = reqwest::Client::builder()
            .timeout(QUERY_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        Self { base, http }
    }

    /// The base URL, as configured.
    pub fn url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The points of `query` from `start` to `end` (unix seconds) every `step` seconds.
    pub async fn query_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<(f64, f64)>, PrometheusError> {
        self.range_answer(query, start, end, step, parse_range)
            .await
    }

    /// Every series of `query` with its labels, from `start` to `end` (unix seconds) every
    /// `step` seconds.
    pub async fn query_range_series(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<LabelledSeries>, PrometheusError> {
        self.range_answer(query, start, end, step, parse_matrix)
            .await
    }

    async fn range_answer<T>(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: u64,
        parse: fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, PrometheusError> {
        let mut url = self.base.clone();
        let path = format!("{}/api/v1/query_range", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("start", &start.to_string())
            .append_pair("end", &end.to_string())
            .append_pair("step", &step.to_string());
        let answer = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| PrometheusError::Unreachable {
                url: self.url().to_owned(),
                message: chain(&e),
            })?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| PrometheusError::Unreachable {
                url: self.url().to_owned(),
                message: chain(&e),
            })?;
        let parsed = parse(&body);
        if !status.is_success() {
            let message = match parsed {
                Err(m) => m,
                Ok(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            };
            return Err(PrometheusError::Refused {
                url: self.url().to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        parsed.map_err(|message| PrometheusError::Answer {
            url: self.url().to_owned(),
            message,
        })
    }

    /// The median, p90, p95 and p99 of every request of the test `testid` from `start` to
    /// `end` (unix seconds), from the runners' merged histograms; `None` where Prometheus has
    /// no samples. The window reaches one push interval past the end, so the runners' last
    /// pushes are in.
    pub async fn run_percentiles(
        &self,
        testid: &str,
        start: i64,
        end: i64,
    ) -> Result<RunPercentiles, PrometheusError> {
        let at = end + PUSH_INTERVAL_SECS as i64;
        let span = u64::try_from(at - start).unwrap_or(0).max(MIN_STEP_SECS);
        let quantile = |q: f64| async move {
            let points = self
                .query_range(&run_quantile_promql(q, testid, span), at, at, MIN_STEP_SECS)
                .await?;
            Ok::<_, PrometheusError>(points.last().map(|(_, seconds)| seconds * 1000.0))
        };
        let (med, p90, p95, p99) = futures::future::try_join4(
            quantile(0.5),
            quantile(0.9),
            quantile(0.95),
            quantile(0.99),
        )
        .await?;
        Ok(RunPercentiles { med, p90, p95, p99 })
    }

    /// Every measure of the test `testid` from `start` to `end` every `step` seconds.
    pub async fn test_rows(
        &self,
        testid: &str,
        start: i64,
        end: i64,
        step: u64,
    ) -> Result<Vec<Row>, PrometheusError> {
        let window = window_secs(step);
        let answers = futures::future::join_all(Measure::ALL.map(|m| async move {
            let q = promql(m, testid, window);
            self.query_range(&q, start, end, step)
                .await
                .map(|points| (m, points))
        }))
        .await;
        let series = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(rows(&series))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers of Debian's Prometheus 2.42 (`/api/v1/query_range` from 1764930000 every 5 s):
    /// `vector(1)`, `vector(0)/vector(0)` (NaN), `vector(1)/vector(0)` (+Inf), a selector of
    /// nothing, and `sum(` (a 400).
    const ONES: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1764930000,"1"],[1764930005,"1"],[1764930010,"1"]]}]}}"#;
    const NAN: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1764930000,"NaN"],[1764930005,"NaN"],[1764930010,"NaN"]]}]}}"#;
    const INF: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1764930000,"+Inf"],[1764930005,"+Inf"]]}]}}"#;
    const EMPTY: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
    const BAD: &str = r#"{"status":"error","errorType":"bad_data","error":"1:23: parse error: unclosed left parenthesis"}"#;

    #[test]
    fn answers_become_points_without_nan_or_inf() {
        assert_eq!(
            parse_range(ONES.as_bytes()),
            Ok(vec![
                (1_764_930_000.0, 1.0),
                (1_764_930_005.0, 1.0),
                (1_764_930_010.0, 1.0)
            ])
        );
        for nothing in [NAN, INF, EMPTY] {
            assert_eq!(parse_range(nothing.as_bytes()), Ok(vec![]), "{nothing}");
        }
        let err = parse_range(BAD.as_bytes()).expect_err("error answer");
        assert_eq!(
            err,
            "bad_data: 1:23: parse error: unclosed left parenthesis"
        );
        for junk in [
            "",
            "<html>",
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[]},{"values":[]}]}}"#,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[["x","1"]]}]}}"#,
        ] {
            assert!(parse_range(junk.as_bytes()).is_err(), "{junk}");
        }
    }

    #[test]
    fn queries_sum_over_runners_before_ratios_and_quantiles() {
        let id = "lt-checkout-0a1b2c3d4e";
        assert_eq!(
            promql(Measure::Rps, id, 15),
            r#"sum(rate(k6_http_reqs_total{testid="lt-checkout-0a1b2c3d4e"}[15s]))"#
        );
        assert_eq!(
            promql(Measure::ErrorRate, id, 15),
            r#"sum(rate(k6_http_reqs_total{testid="lt-checkout-0a1b2c3d4e",expected_response="false"}[15s])) / sum(rate(k6_http_reqs_total{testid="lt-checkout-0a1b2c3d4e"}[15s]))"#
        );
        assert_eq!(
            promql(Measure::P99, id, 30),
            r#"histogram_quantile(0.99, sum(rate(k6_http_req_duration_seconds{testid="lt-checkout-0a1b2c3d4e"}[30s])))"#
        );
        assert_eq!(
            promql(Measure::Vus, id, 15),
            r#"sum(k6_vus{testid="lt-checkout-0a1b2c3d4e"})"#
        );
        // A label value is a string literal, whatever it holds.
        assert!(promql(Measure::Vus, "a\"}b", 15).contains(r#"testid="a\"}b""#));
        // A whole run: the merged histograms' increase over it.
        assert_eq!(
            run_quantile_promql(0.95, id, 125),
            r#"histogram_quantile(0.95, sum(increase(k6_http_req_duration_seconds{testid="lt-checkout-0a1b2c3d4e"}[125s])))"#
        );
    }

    #[test]
    fn steps_grow_with_the_span_in_push_intervals() {
        for (span, step) in [
            (0, 5),
            (30, 5),
            (3600, 5),
            (3601, 10),
            (7200, 10),
            (86_400, 120),
        ] {
            assert_eq!(step_secs(span), step, "{span}");
            assert!(span / step <= MAX_POINTS, "{span}");
        }
        assert_eq!(window_secs(5), 15);
        assert_eq!(window_secs(120), 120);
    }

    #[test]
    fn rows_join_measures_by_time() {
        let rows = rows(&[
            (Measure::Rps, vec![(10.0, 1.0), (15.0, 2.0)]),
            (Measure::P95, vec![(15.0, 0.2)]),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].time, 10);
        assert_eq!(rows[0].values.get(&Measure::P95), None);
        assert_eq!(rows[1].values.get(&Measure::P95), Some(&0.2));
    }

    #[test]
    fn base_urls_are_plain_http_without_a_query() {
        assert!(base_url("http://prometheus-operated.monitoring:9090").is_ok());
        assert!(base_url("http://127.0.0.1:9090/prometheus/").is_ok());
        for bad in [
            "prometheus:9090",
            "https://p:9090",
            "http://p:9090/?x=1",
            "",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_says_where_and_why() {
        // Port 9 (discard) on loopback: nothing listens in the test environment.
        let p = Prometheus::new(base_url("http://127.0.0.1:9").expect("url"));
        let err = p
            .query_range("up", 0, 10, 5)
            .await
            .expect_err("nothing listens");
        let text = err.to_string();
        assert!(
            text.starts_with("Prometheus at http://127.0.0.1:9 is unreachable"),
            "{text}"
        );
    }
}
