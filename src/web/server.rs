//! The live view's HTTP server: axum on a single-threaded tokio runtime of its
//! own, on a thread the daemon starts and joins. Every route is a GET; nothing
//! here writes anything or reads a file: the page is compiled into the binary
//! and the records come from the [`Hub`].
//!
//! Connections are accepted and served here rather than by `axum::serve`,
//! which has neither a cap on connections nor a deadline for a request's
//! headers: open connections are capped ([`Connections`]) and hyper closes
//! one whose headers do not arrive within `web.header_timeout_s`. Every
//! request must name this server ([`AllowedHosts`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use crossbeam_channel::Receiver;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use super::config::WebConfig;
use super::connections::{Connections, InFlight, Slot};
use super::hosts::{AllowedHosts, Refusal};
use super::hub::{Hub, MicSeen};

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_JS: &str = include_str!("page.js");
const PAGE_CSS: &str = include_str!("page.css");

/// Records `/api/recent` returns when `n` is not given.
const DEFAULT_RECENT: usize = 100;

/// A microphone is called down when no prediction came for this many hops
/// plus [`LATE_SLACK`]: the device was lost or is being reopened.
const DOWN_AFTER_HOPS: f64 = 2.0;
/// Room for a slow model and a busy machine before a late prediction counts
/// as a missing one.
const LATE_SLACK: Duration = Duration::from_secs(5);

/// How long the open connections get once the server stops; event streams
/// end at once, so this only bounds a client stuck mid-response.
const STOP_TIMEOUT: Duration = Duration::from_millis(200);

/// The pause after `accept` fails for want of descriptors or memory: the
/// waiting connection stays queued, so retrying at once would only spin.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Refused connections (every open one busy) are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// The live view could not listen or serve.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("live view: cannot listen on {address} (web.listen): {cause}")]
    Listen {
        address: SocketAddr,
        cause: std::io::Error,
    },
    #[error("live view: cannot start its runtime: {0}")]
    Runtime(std::io::Error),
    #[error("live view: the server failed: {0}")]
    Serve(std::io::Error),
}

/// What the health report says about the running configuration.
#[derive(Debug, Clone)]
pub struct About {
    /// When the daemon started: the uptime counts from here across reloads.
    pub daemon_started: Instant,
    pub model_name: String,
    pub model_path: String,
    pub labels: Vec<String>,
    /// The drop folders watched; empty when the folder source is off.
    pub folders: Vec<String>,
    /// The microphone, when it is on.
    pub mic: Option<MicAbout>,
}

/// The microphone's settings that tell when its next record is due.
#[derive(Debug, Clone)]
pub struct MicAbout {
    pub device: String,
    pub hop_s: f64,
    /// Seconds of audio before the first prediction.
    pub first_after_s: f64,
}

impl MicAbout {
    /// Seconds without a prediction after which the microphone counts as down.
    fn down_after(&self) -> Duration {
        Duration::from_secs_f64(self.hop_s * DOWN_AFTER_HOPS) + LATE_SLACK
    }
}

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct LiveView {
    listener: std::net::TcpListener,
    address: SocketAddr,
    app: Arc<App>,
    hosts: Arc<AllowedHosts>,
    header_timeout: Duration,
}

/// What every request handler shares.
#[derive(Debug)]
struct App {
    hub: Arc<Hub>,
    about: About,
    /// When this configuration's sources started: a microphone is "starting"
    /// until its first window is due.
    sources_started: Instant,
    recent_capacity: usize,
    max_clients: usize,
    connections: Arc<Connections>,
}

impl LiveView {
    /// Binds the listener now, so that a taken port fails the daemon's start
    /// (or a reload) instead of a thread later.
    pub fn bind(config: &WebConfig, hub: Arc<Hub>, about: About) -> Result<Self, WebError> {
        let listen_error = |cause| WebError::Listen {
            address: config.listen,
            cause,
        };
        let listener = std::net::TcpListener::bind(config.listen).map_err(listen_error)?;
        // tokio takes the socket over as it is: it must not block.
        listener.set_nonblocking(true).map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        if config.is_exposed() {
            warn!(
                %address,
                "live view listens beyond this machine (web.listen): anyone who can reach it sees what genred hears"
            );
        }
        info!("live view on http://{address}/");
        Ok(Self {
            listener,
            address,
            app: Arc::new(App {
                hub,
                about,
                sources_started: Instant::now(),
                recent_capacity: config.recent,
                max_clients: config.max_clients,
                connections: Arc::new(Connections::new(config.max_connections)),
            }),
            hosts: Arc::new(AllowedHosts::new(config.listen.ip(), &config.allowed_hosts)),
            header_timeout: Duration::from_secs_f64(config.header_timeout_s),
        })
    }

    /// Where it listens (the port chosen when `web.listen` gave 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` is disconnected (or receives a message), then
    /// ends every event stream and drops the open connections.
    pub fn run(self, shutdown: Receiver<()>) -> Result<(), WebError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(WebError::Runtime)?;
        let hub = Arc::clone(&self.app.hub);
        let connections = Arc::clone(&self.app.connections);
        let router = router(self.app, self.hosts);
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout);
        let listener = self.listener;
        let served = runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let stopping = tokio::task::spawn_blocking(move || {
                let _ = shutdown.recv();
            });
            tokio::select! {
                () = accept(listener, connections, router, http) => {},
                _ = stopping => {},
            }
            Ok(())
        });
        hub.close();
        runtime.shutdown_timeout(STOP_TIMEOUT);
        served.map_err(WebError::Serve)
    }
}

/// Accepts connections for ever, each served on a task of its own within the cap.
async fn accept(
    listener: tokio::net::TcpListener,
    connections: Arc<Connections>,
    router: Router,
    http: http1::Builder,
) {
    let mut refused = 0u64;
    let mut refusal_logged: Option<Instant> = None;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                warn!(error = %err, "live view: cannot accept a connection; retrying in {ACCEPT_RETRY:?}");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let Some((slot, evicted)) = connections.admit() else {
            // Dropped unread: the client sees the connection closed.
            refused += 1;
            if refusal_logged.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
                warn!(
                    refused,
                    max_connections = connections.max(),
                    "live view: every connection is busy; refused new ones (web.max_connections)"
                );
                refusal_logged = Some(Instant::now());
            }
            continue;
        };
        tokio::spawn(serve(stream, slot, evicted, router.clone(), http.clone()));
    }
}

/// Errors of one connection that reached `accept` and is already gone.
fn is_connection_error(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until the client or hyper closes it (its headers
/// late, an error), or a newcomer beyond the cap displaces it while idle.
async fn serve(
    stream: tokio::net::TcpStream,
    slot: Slot,
    evicted: tokio::sync::oneshot::Receiver<()>,
    router: Router,
    http: http1::Builder,
) {
    let slot = Arc::new(slot);
    let router = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let in_flight = slot.request();
        let response = hyper::service::Service::call(&router, request);
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Tracked {
                body,
                _in_flight: in_flight,
            }))
        }
    });
    tokio::select! {
        served = http.serve_connection(TokioIo::new(stream), service) => {
            if let Err(err) = served {
                debug!(error = %err, "live view: connection closed");
            }
        }
        _ = evicted => debug!("live view: closed an idle connection for a new one (web.max_connections)"),
    }
}

/// A response body that keeps its request in flight until hyper has taken
/// all of it and drops it.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn router(app: Arc<App>, hosts: Arc<AllowedHosts>) -> Router {
    Router::new()
        .route("/", get(|| async { asset("text/html", PAGE_HTML) }))
        .route(
            "/page.js",
            get(|| async { asset("text/javascript", PAGE_JS) }),
        )
        .route("/page.css", get(|| async { asset("text/css", PAGE_CSS) }))
        .route("/events", get(events))
        .route("/api/recent", get(recent))
        .route("/healthz", get(health))
        .with_state(app)
        .layer(middleware::from_fn_with_state(hosts, only_this_server))
}

/// Refuses a request that names another host (421: DNS rebinding) or comes
/// from another site's page (403), before any route sees it.
async fn only_this_server(
    State(hosts): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    match hosts.check(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            debug!(%refusal, "live view: request refused");
            let status = match refusal {
                Refusal::Host(_) => StatusCode::MISDIRECTED_REQUEST,
                Refusal::Origin(_) => StatusCode::FORBIDDEN,
            };
            (status, format!("{refusal}\n")).into_response()
        }
    }
}

/// A file of the page. Not cached, so a newer genred serves its own page.
fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, format!("{kind}; charset=utf-8")),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        body,
    )
        .into_response()
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// One event per record, its data the record's line in the results file.
/// Refused with 503 beyond `web.max_clients`.
async fn events(State(app): State<Arc<App>>) -> Response {
    match app.hub.subscribe() {
        Ok(receiver) => {
            let records = futures_util::stream::unfold(receiver, |mut receiver| async move {
                let line = receiver.recv().await?;
                Some((Ok::<_, Infallible>(Event::default().data(&*line)), receiver))
            });
            Sse::new(records)
                .keep_alive(KeepAlive::default())
                .into_response()
        }
        Err(refused) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            format!("{refused}; close a page or raise web.max_clients\n"),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct RecentQuery {
    n: Option<usize>,
}

/// The last `n` records (at most `web.recent`), oldest first, as a JSON array
/// of the results file's objects.
async fn recent(State(app): State<Arc<App>>, Query(query): Query<RecentQuery>) -> Response {
    let n = query.n.unwrap_or(DEFAULT_RECENT).min(app.recent_capacity);
    let lines = app.hub.recent(n);
    let mut body =
        String::with_capacity(lines.iter().map(|line| line.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(line);
    }
    body.push(']');
    json(StatusCode::OK, body)
}

#[derive(Debug, Serialize)]
struct Health<'a> {
    /// `ok`, or `degraded` (HTTP 503) while an enabled source is down.
    status: &'static str,
    version: &'static str,
    /// The daemon's clock (RFC 3339, UTC), against which a page places records.
    time: String,
    uptime_s: f64,
    model: ModelHealth<'a>,
    sources: SourcesHealth<'a>,
    live_view: LiveViewHealth,
}

#[derive(Debug, Serialize)]
struct ModelHealth<'a> {
    name: &'a str,
    path: &'a str,
    labels: &'a [String],
}

#[derive(Debug, Serialize)]
struct SourcesHealth<'a> {
    folder: FolderHealth<'a>,
    mic: MicHealth<'a>,
}

#[derive(Debug, Serialize)]
struct FolderHealth<'a> {
    state: SourceState,
    paths: &'a [String],
}

#[derive(Debug, Serialize)]
struct MicHealth<'a> {
    state: SourceState,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hop_s: Option<f64>,
    /// Seconds without a prediction after which `state` is `down`.
    #[serde(skip_serializing_if = "Option::is_none")]
    down_after_s: Option<f64>,
    /// Seconds since the last prediction.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_record_s: Option<f64>,
}

#[derive(Debug, Serialize)]
struct LiveViewHealth {
    clients: usize,
    max_clients: usize,
    /// HTTP connections open, this one included, and the cap.
    connections: usize,
    max_connections: usize,
    records: u64,
}

/// A source as the health report sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum SourceState {
    /// Not configured.
    Off,
    /// Watching (the folders), or predictions arriving (the microphone).
    Up,
    /// Predictions arriving, of a window too quiet to judge.
    Silence,
    /// No prediction yet, and the first is not due yet.
    Starting,
    /// No prediction for longer than `down_after_s`.
    Down,
}

/// The microphone's state from when its last record was written.
fn mic_state(mic: &MicAbout, last: Option<MicSeen>, sources_started: Instant) -> SourceState {
    let down_after = mic.down_after();
    match last {
        Some(seen) if seen.at.elapsed() <= down_after => {
            if seen.silence {
                SourceState::Silence
            } else {
                SourceState::Up
            }
        }
        Some(_) => SourceState::Down,
        None if sources_started.elapsed()
            <= Duration::from_secs_f64(mic.first_after_s) + down_after =>
        {
            SourceState::Starting
        }
        None => SourceState::Down,
    }
}

/// Sources up or down, the model, the uptime; 503 while a source is down.
async fn health(State(app): State<Arc<App>>) -> Response {
    let status = app.hub.status();
    let about = &app.about;
    let folder = FolderHealth {
        state: if about.folders.is_empty() {
            SourceState::Off
        } else {
            SourceState::Up
        },
        paths: &about.folders,
    };
    let mic = match &about.mic {
        None => MicHealth {
            state: SourceState::Off,
            device: None,
            hop_s: None,
            down_after_s: None,
            last_record_s: None,
        },
        Some(mic) => MicHealth {
            state: mic_state(mic, status.last_mic, app.sources_started),
            device: Some(&mic.device),
            hop_s: Some(mic.hop_s),
            down_after_s: Some(mic.down_after().as_secs_f64()),
            last_record_s: status.last_mic.map(|seen| seen.at.elapsed().as_secs_f64()),
        },
    };
    let degraded = mic.state == SourceState::Down;
    let report = Health {
        status: if degraded { "degraded" } else { "ok" },
        version: env!("CARGO_PKG_VERSION"),
        time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        uptime_s: about.daemon_started.elapsed().as_secs_f64(),
        model: ModelHealth {
            name: &about.model_name,
            path: &about.model_path,
            labels: &about.labels,
        },
        sources: SourcesHealth { folder, mic },
        live_view: LiveViewHealth {
            clients: status.clients,
            max_clients: app.max_clients,
            connections: app.connections.open(),
            max_connections: app.connections.max(),
            records: status.published,
        },
    };
    let code = if degraded {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    match serde_json::to_string(&report) {
        Ok(body) => json(code, body),
        Err(err) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "status": "error", "error": err.to_string() }).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic() -> MicAbout {
        MicAbout {
            device: "default".to_owned(),
            hop_s: 5.0,
            first_after_s: 10.0,
        }
    }

    fn seen(ago: Duration, silence: bool) -> Option<MicSeen> {
        Some(MicSeen {
            at: Instant::now() - ago,
            silence,
        })
    }

    #[test]
    fn the_microphone_is_down_after_two_hops_and_the_slack_without_a_record() {
        let now = Instant::now();
        assert_eq!(mic().down_after(), Duration::from_secs(15));
        let recent = Duration::from_secs(1);
        assert_eq!(mic_state(&mic(), seen(recent, false), now), SourceState::Up);
        assert_eq!(
            mic_state(&mic(), seen(recent, true), now),
            SourceState::Silence
        );
        let late = Duration::from_secs(16);
        assert_eq!(mic_state(&mic(), seen(late, false), now), SourceState::Down);
    }

    #[test]
    fn before_its_first_record_the_microphone_is_starting_until_the_window_is_due() {
        assert_eq!(
            mic_state(&mic(), None, Instant::now()),
            SourceState::Starting
        );
        let long_ago = Instant::now() - Duration::from_secs(26);
        assert_eq!(mic_state(&mic(), None, long_ago), SourceState::Down);
    }
}
