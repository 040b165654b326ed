//! The HTTP side: routing, the tag flow (HEAD upstream, reuse or GET,
//! rewrite), stored rewrites by digest, and streamed pass-through.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use ocifit_core::Target;
use ocifit_core::index::{DOCKER_LIST, OCI_INDEX};

use crate::cache::Cache;
use crate::metrics::Metrics;
use crate::rewrite::{self, MAX_REWRITE_BYTES, Mode, Pass, Rewritten};
use crate::upstream::{Body, BoxError, HttpClient, PlainHttp, Upstream};
use crate::{LogFormat, glob};

/// Bounds of the in-memory map from tags to what their digest became.
const MAX_REMEMBERED_TAGS: usize = 4096;
const MAX_REMEMBERED_BYTES: usize = 64 << 20;

/// Everything a request needs, shared by all connections.
pub struct State {
    pub upstream: Option<Upstream>,
    pub plain_http: PlainHttp,
    pub target: Target,
    pub mode: Mode,
    pub excludes: Vec<String>,
    pub log_format: LogFormat,
    pub client: HttpClient,
    pub cache: Cache,
    pub metrics: Metrics,
    /// How long upstream may take to answer (headers; and the whole index
    /// when it is read to be rewritten) before the answer is 502.
    pub read_timeout: Duration,
    /// What each tag pointed at when last read, and what was made of it.
    tags: Mutex<HashMap<TagKey, Remembered>>,
    /// Single-flight: one upstream index read per upstream+repository+tag.
    flights: Mutex<HashMap<TagKey, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TagKey {
    upstream: String,
    repository: String,
    tag: String,
}

#[derive(Clone)]
struct Remembered {
    source: String,
    outcome: Outcome,
}

#[derive(Clone)]
enum Outcome {
    Rewritten(Arc<Served>),
    Passed(&'static str),
}

/// A rewritten index as it is served.
struct Served {
    bytes: Bytes,
    digest: String,
    content_type: String,
}

impl State {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        upstream: Option<Upstream>,
        plain_http: PlainHttp,
        target: Target,
        mode: Mode,
        excludes: Vec<String>,
        log_format: LogFormat,
        client: HttpClient,
        cache: Cache,
    ) -> State {
        State {
            upstream,
            plain_http,
            target,
            mode,
            excludes,
            log_format,
            client,
            cache,
            metrics: Metrics::default(),
            read_timeout: Duration::from_secs(30),
            tags: Mutex::default(),
            flights: Mutex::default(),
        }
    }

    fn remembered(&self, key: &TagKey, source: &str) -> Option<Outcome> {
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        tags.get(key).filter(|r| r.source == source).map(|r| r.outcome.clone())
    }

    /// Keep what a tag's digest became; the memory is bounded (count and
    /// bytes): past the bound, other tags are forgotten (they are read again
    /// from upstream, and their rewrites are still on disk).
    fn remember(&self, key: TagKey, source: String, outcome: Outcome) {
        let mut tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        tags.insert(key.clone(), Remembered { source, outcome });
        let size = |r: &Remembered| match &r.outcome {
            Outcome::Rewritten(s) => s.bytes.len(),
            Outcome::Passed(_) => 0,
        };
        let mut bytes: usize = tags.values().map(size).sum();
        while tags.len() > MAX_REMEMBERED_TAGS || bytes > MAX_REMEMBERED_BYTES {
            let Some(other) = tags.keys().find(|k| **k != key).cloned() else { break };
            bytes -= tags.remove(&other).as_ref().map_or(0, size);
        }
    }

    /// Rewrites some tag points at now: never evicted.
    fn in_use(&self) -> HashSet<String> {
        let tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        tags.values()
            .filter_map(|r| match &r.outcome {
                Outcome::Rewritten(s) => Some(s.digest.clone()),
                Outcome::Passed(_) => None,
            })
            .collect()
    }

    fn flight(&self, key: &TagKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.retain(|_, f| Arc::strong_count(f) > 1);
        flights.entry(key.clone()).or_default().clone()
    }
}

/// The parts of a registry request path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Ping,
    Manifest { repository: &'a str, reference: &'a str },
    Blob,
    Tags,
    Other,
}

impl Route<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Route::Ping => "ping",
            Route::Manifest { reference, .. } if is_digest(reference) => "manifest-digest",
            Route::Manifest { .. } => "manifest-tag",
            Route::Blob => "blob",
            Route::Tags => "tags",
            Route::Other => "other",
        }
    }
}

fn route(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix("/v2/") else { return Route::Other };
    if rest.is_empty() {
        return Route::Ping;
    }
    if let Some((repository, reference)) = rest.rsplit_once("/manifests/") {
        if !repository.is_empty() && !reference.is_empty() && !reference.contains('/') {
            return Route::Manifest { repository, reference };
        }
    }
    if rest.contains("/blobs/") {
        return Route::Blob;
    }
    if rest.ends_with("/tags/list") {
        return Route::Tags;
    }
    Route::Other
}

fn is_digest(reference: &str) -> bool {
    reference.contains(':')
}

/// One request, start to finish: answer it and count it.
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Body>, std::convert::Infallible> {
    let start = Instant::now();
    let (kind, response) = dispatch(&state, request).await;
    state.metrics.request(kind, start.elapsed());
    Ok(response)
}

async fn dispatch(state: &State, request: Request<Incoming>) -> (&'static str, Response<Body>) {
    let path = request.uri().path().to_string();
    match path.as_str() {
        "/healthz" => return ("healthz", text(StatusCode::OK, "ok\n")),
        "/metrics" => return ("metrics", text(StatusCode::OK, &state.metrics.render())),
        _ => {}
    }
    let (ns, query) = split_ns(request.uri().query());
    let upstream = match (&state.upstream, ns) {
        (Some(u), _) => u.clone(),
        (None, Some(ns)) => match Upstream::from_ns(&ns, &state.plain_http) {
            Ok(u) => u,
            Err(e) => return ("other", registry_error(StatusCode::BAD_REQUEST, "UNSUPPORTED", &e)),
        },
        (None, None) => {
            let message = "no upstream: this mirror was started without --upstream, so requests must name \
                           their registry with ?ns=HOST (containerd does)";
            return ("other", registry_error(StatusCode::BAD_REQUEST, "UNSUPPORTED", message));
        }
    };
    let path_and_query = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let route = route(&path);
    let kind = route.kind();
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    let response = match route {
        Route::Manifest { repository, reference } if readable => {
            if state.excludes.iter().any(|p| glob::matches(p, repository)) {
                state.metrics.pass(Pass::Excluded.code());
                forward(state, &upstream, request, &path_and_query).await
            } else if is_digest(reference) {
                by_digest(state, &upstream, request, repository, reference, &path_and_query).await
            } else if state.mode == Mode::Off {
                state.metrics.pass(Pass::ModeOff.code());
                forward(state, &upstream, request, &path_and_query).await
            } else {
                let key = TagKey {
                    upstream: upstream.base.clone(),
                    repository: repository.to_string(),
                    tag: reference.to_string(),
                };
                by_tag(state, &upstream, request, key, &path_and_query).await
            }
        }
        _ => forward(state, &upstream, request, &path_and_query).await,
    };
    (kind, response)
}

/// The `ns` parameter (percent-decoded) and the query without it.
fn split_ns(query: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(query) = query else { return (None, None) };
    let mut ns = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("ns=") {
            Some(value) => {
                ns = Some(percent_decode(value));
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    (ns, (!rest.is_empty()).then(|| rest.join("&")))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// --- tags -----------------------------------------------------------------------------

/// A tag: HEAD upstream; reuse what was made of that digest; else read the
/// index once (single-flight) and rewrite it or pass it through.
async fn by_tag(
    state: &State,
    upstream: &Upstream,
    request: Request<Incoming>,
    key: TagKey,
    path_and_query: &str,
) -> Response<Body> {
    let client_head = request.method() == Method::HEAD;
    let headers = manifest_headers(request.headers(), false);
    let url = format!("{}{path_and_query}", upstream.base);
    let head = match send(state, Method::HEAD, &url, &headers).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let head_digest = header_str(head.headers(), "docker-content-digest").map(str::to_string);
    let content_type = header_str(head.headers(), "content-type").unwrap_or("").to_string();
    if head.status() != StatusCode::OK || !rewrite::is_index_media_type(&content_type) {
        state.metrics.pass(if head.status() == StatusCode::OK { "not-index" } else { "upstream-status" });
        return if client_head { relay_head(head) } else { forward(state, upstream, request, path_and_query).await };
    }
    if let Some(outcome) = head_digest.as_deref().and_then(|d| state.remembered(&key, d)) {
        return serve_outcome(state, upstream, request, path_and_query, outcome, head).await;
    }
    let flight = state.flight(&key);
    let _reading = flight.lock().await;
    if let Some(outcome) = head_digest.as_deref().and_then(|d| state.remembered(&key, d)) {
        return serve_outcome(state, upstream, request, path_and_query, outcome, head).await;
    }
    let get = match send(state, Method::GET, &url, &headers).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    if get.status() != StatusCode::OK {
        state.metrics.pass("upstream-status");
        return if client_head { relay_head(get) } else { relay(get) };
    }
    let content_type = header_str(get.headers(), "content-type").unwrap_or("").to_string();
    let declared = header_str(get.headers(), "content-length").and_then(|l| l.parse::<u64>().ok());
    if declared.is_some_and(|l| l > MAX_REWRITE_BYTES as u64) || !rewrite::is_index_media_type(&content_type) {
        state.metrics.pass(if rewrite::is_index_media_type(&content_type) { "too-large" } else { "not-index" });
        return if client_head { relay_head(get) } else { relay(get) };
    }
    let (parts, body) = get.into_parts();
    let bytes = match tokio::time::timeout(state.read_timeout, read_limited(body)).await {
        Ok(Ok(Read::Whole(bytes))) => bytes,
        Ok(Ok(Read::Over(prefix, rest))) => {
            state.metrics.pass(Pass::TooLarge.code());
            let mut response = Response::from_parts(parts, Prefixed { prefix: Some(prefix), rest }.boxed());
            strip_hop_by_hop(response.headers_mut());
            return if client_head { without_body(response) } else { response };
        }
        Ok(Err(e)) => return upstream_failure(state, upstream, &key, &format!("reading the index failed: {e}")),
        Err(_) => return upstream_failure(state, upstream, &key, "too slow sending the index"),
    };
    // Never serve (or rewrite) bytes that do not match the digest upstream named.
    let named = header_str(&parts.headers, "docker-content-digest").map(str::to_string);
    let source = match &named {
        Some(d) => match ocifit_source::Digest::parse(d) {
            Ok(digest) if digest.matches(&bytes) => d.clone(),
            Ok(_) => {
                let actual = rewrite::sha256(&bytes);
                return upstream_failure(
                    state,
                    upstream,
                    &key,
                    &format!("the index is {actual}, not {d} as upstream says"),
                );
            }
            Err(e) => return upstream_failure(state, upstream, &key, &format!("Docker-Content-Digest: {e}")),
        },
        None => rewrite::sha256(&bytes),
    };
    let outcome = match rewrite::rewrite(&bytes, Some(&content_type), &source, &state.target, state.mode) {
        Ok(rewritten) => {
            log_rewrite(state, upstream, &key, &source, &rewritten);
            // Never evict the rewrite about to be served (the client fetches it by digest next).
            let mut in_use = state.in_use();
            in_use.insert(rewritten.digest.clone());
            // Disk I/O (and fsync) off the async workers' hot path.
            tokio::task::block_in_place(|| {
                state.cache.store(&upstream.base, &key.repository, &rewritten.digest, &rewritten.bytes, &in_use)
            });
            Outcome::Rewritten(Arc::new(Served {
                bytes: Bytes::from(rewritten.bytes),
                digest: rewritten.digest,
                content_type: content_type.clone(),
            }))
        }
        Err(pass) => Outcome::Passed(pass.code()),
    };
    state.remember(key, source.clone(), outcome.clone());
    match outcome {
        Outcome::Rewritten(served) => {
            state.metrics.rewrite();
            serve(&served, client_head)
        }
        Outcome::Passed(reason) => {
            state.metrics.pass(reason);
            let mut response = Response::from_parts(parts, Full::new(bytes.clone()).map_err(|n| match n {}).boxed());
            strip_hop_by_hop(response.headers_mut());
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            if let Ok(v) = HeaderValue::from_str(&source) {
                headers.insert("docker-content-digest", v);
            }
            if client_head { without_body(response) } else { response }
        }
    }
}

/// A tag whose digest was seen before: the stored rewrite, or upstream's own answer.
async fn serve_outcome(
    state: &State,
    upstream: &Upstream,
    request: Request<Incoming>,
    path_and_query: &str,
    outcome: Outcome,
    head: Response<Incoming>,
) -> Response<Body> {
    match outcome {
        Outcome::Rewritten(served) => {
            state.metrics.rewrite();
            serve(&served, request.method() == Method::HEAD)
        }
        Outcome::Passed(reason) => {
            state.metrics.pass(reason);
            if request.method() == Method::HEAD {
                relay_head(head)
            } else {
                forward(state, upstream, request, path_and_query).await
            }
        }
    }
}

fn serve(served: &Served, head: bool) -> Response<Body> {
    let body = if head { empty() } else { Full::new(served.bytes.clone()).map_err(|n| match n {}).boxed() };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&served.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(served.bytes.len()));
    if let Ok(v) = HeaderValue::from_str(&served.digest) {
        headers.insert("docker-content-digest", v.clone());
        headers.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", served.digest)).unwrap_or(v));
    }
    headers.insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    response
}

fn log_rewrite(state: &State, upstream: &Upstream, key: &TagKey, source: &str, rewritten: &Rewritten) {
    let line = match state.log_format {
        LogFormat::Text => format!(
            "ocifit mirror: rewrote {}/{}:{} {source} -> {} (entry #{} {}, {} removed)",
            upstream.name,
            key.repository,
            key.tag,
            rewritten.digest,
            rewritten.selected,
            rewritten.selected_digest,
            rewritten.removed.len()
        ),
        LogFormat::Json => serde_json::json!({
            "event": "rewrite", "registry": upstream.name, "repository": key.repository, "tag": key.tag,
            "source": source, "selected": {"index": rewritten.selected, "digest": rewritten.selected_digest},
            "rewritten": rewritten.digest, "removed": rewritten.removed,
        })
        .to_string(),
    };
    eprintln!("{line}");
}

fn upstream_failure(state: &State, upstream: &Upstream, key: &TagKey, problem: &str) -> Response<Body> {
    state.metrics.upstream_error();
    let message = format!("{}/{}:{}: {problem}", upstream.name, key.repository, key.tag);
    log_error(state, &message);
    registry_error(StatusCode::BAD_GATEWAY, "UNAVAILABLE", &message)
}

fn log_error(state: &State, message: &str) {
    match state.log_format {
        LogFormat::Text => eprintln!("ocifit mirror: {message}"),
        LogFormat::Json => eprintln!("{}", serde_json::json!({"event": "error", "message": message})),
    }
}

enum Read {
    Whole(Bytes),
    /// Over the limit: what was read, and the rest still to stream.
    Over(Bytes, Incoming),
}

async fn read_limited(mut body: Incoming) -> Result<Read, hyper::Error> {
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            buffer.extend_from_slice(&data);
            if buffer.len() > MAX_REWRITE_BYTES {
                return Ok(Read::Over(buffer.freeze(), body));
            }
        }
    }
    Ok(Read::Whole(buffer.freeze()))
}

/// Bytes already read, then the rest of the stream.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Incoming,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx).map_err(Into::into)
    }
}

// --- digests -----------------------------------------------------------------------------

/// A digest: a stored rewrite (after upstream says this client may read its
/// source), else upstream's answer.
async fn by_digest(
    state: &State,
    upstream: &Upstream,
    request: Request<Incoming>,
    repository: &str,
    digest: &str,
    path_and_query: &str,
) -> Response<Body> {
    // Most digests are no rewrite: upstream's, without touching the disk.
    if !state.cache.has(&upstream.base, repository, digest) {
        return forward(state, upstream, request, path_and_query).await;
    }
    let Some(bytes) = tokio::task::block_in_place(|| state.cache.load(&upstream.base, repository, digest)) else {
        return forward(state, upstream, request, path_and_query).await;
    };
    let document: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let Some(source) = document["annotations"][rewrite::SOURCE_ANNOTATION].as_str() else {
        return forward(state, upstream, request, path_and_query).await;
    };
    let content_type = document["mediaType"].as_str().unwrap_or(OCI_INDEX).to_string();
    let headers = manifest_headers(request.headers(), true);
    let url = format!("{}/v2/{repository}/manifests/{source}", upstream.base);
    let check = match send(state, Method::HEAD, &url, &headers).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let head = request.method() == Method::HEAD;
    if check.status() != StatusCode::OK {
        // 401 with its WWW-Authenticate, 404 when the source is gone, …
        return if head { relay_head(check) } else { without_length(relay_head(check)) };
    }
    state.metrics.stored();
    serve(&Served { bytes: Bytes::from(bytes), digest: digest.to_string(), content_type }, head)
}

// --- pass-through -------------------------------------------------------------------------

/// Send the client's request upstream as it is and stream the answer back.
async fn forward(
    state: &State,
    upstream: &Upstream,
    request: Request<Incoming>,
    path_and_query: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let url = format!("{}{path_and_query}", upstream.base);
    let mut outgoing = Request::builder().method(parts.method).uri(&url);
    if let Some(headers) = outgoing.headers_mut() {
        for (name, value) in &parts.headers {
            if name != header::HOST && !is_hop_by_hop(name) {
                headers.append(name, value.clone());
            }
        }
    }
    let outgoing = match outgoing.body(body.map_err(BoxError::from).boxed()) {
        Ok(r) => r,
        Err(e) => return registry_error(StatusCode::BAD_REQUEST, "UNSUPPORTED", &format!("{url}: {e}")),
    };
    // A time limit on upstream's headers only: bodies stream as long as they take.
    match tokio::time::timeout(state.read_timeout, timed(state, state.client.request(outgoing))).await {
        Ok(Ok(response)) => relay(response),
        Ok(Err(e)) => unreachable(state, upstream, &describe(&e)),
        Err(_) => unreachable(state, upstream, &format!("no answer within {} s", state.read_timeout.as_secs_f64())),
    }
}

/// Upstream's answer, streamed.
fn relay(response: Response<Incoming>) -> Response<Body> {
    let mut response = response.map(|b| b.map_err(BoxError::from).boxed());
    strip_hop_by_hop(response.headers_mut());
    response
}

/// Upstream's status and headers, no body (the answer to a HEAD).
fn relay_head(response: Response<Incoming>) -> Response<Body> {
    let (parts, _) = response.into_parts();
    let mut response = Response::from_parts(parts, empty());
    strip_hop_by_hop(response.headers_mut());
    response
}

fn without_body(response: Response<Body>) -> Response<Body> {
    response.map(|_| empty())
}

fn without_length(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

/// A HEAD or GET of a manifest: the client's `Accept` values (each its own
/// header) and `Authorization`, nothing else. `index_types` adds the index
/// media types (checking a stored rewrite's source).
fn manifest_headers(client: &HeaderMap, index_types: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in client.get_all(header::ACCEPT) {
        headers.append(header::ACCEPT, value.clone());
    }
    if index_types {
        for t in [OCI_INDEX, DOCKER_LIST] {
            let present = client.get_all(header::ACCEPT).iter().any(|v| v.to_str().is_ok_and(|s| s.contains(t)));
            if !present {
                headers.append(header::ACCEPT, HeaderValue::from_static(t));
            }
        }
    }
    if let Some(auth) = client.get(header::AUTHORIZATION) {
        headers.insert(header::AUTHORIZATION, auth.clone());
    }
    if let Some(agent) = client.get(header::USER_AGENT) {
        headers.insert(header::USER_AGENT, agent.clone());
    }
    headers
}

/// A bodiless request upstream; the error is the 502 to answer.
async fn send(
    state: &State,
    method: Method,
    url: &str,
    headers: &HeaderMap,
) -> Result<Response<Incoming>, Response<Body>> {
    let mut request = Request::builder().method(method).uri(url);
    if let Some(h) = request.headers_mut() {
        h.extend(headers.iter().map(|(n, v)| (n.clone(), v.clone())));
    }
    let request = request
        .body(empty())
        .map_err(|e| registry_error(StatusCode::BAD_REQUEST, "UNSUPPORTED", &format!("{url}: {e}")))?;
    match tokio::time::timeout(state.read_timeout, timed(state, state.client.request(request))).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(unreachable(state, &Upstream { base: url.into(), name: String::new() }, &describe(&e))),
        Err(_) => {
            state.metrics.upstream_error();
            let message = format!("{url}: no answer within {} s", state.read_timeout.as_secs_f64());
            log_error(state, &message);
            Err(registry_error(StatusCode::BAD_GATEWAY, "UNAVAILABLE", &message))
        }
    }
}

async fn timed<F, T>(state: &State, future: F) -> T
where
    F: std::future::Future<Output = T>,
{
    let start = Instant::now();
    let out = future.await;
    state.metrics.upstream(start.elapsed());
    out
}

/// 502: runtimes then go to the upstream themselves.
fn unreachable(state: &State, upstream: &Upstream, error: &str) -> Response<Body> {
    state.metrics.upstream_error();
    let message = format!("upstream {} unreachable: {error}", upstream.base);
    log_error(state, &message);
    registry_error(StatusCode::BAD_GATEWAY, "UNAVAILABLE", &message)
}

/// An error and its causes, in one line ("client error (Connect): invalid
/// peer certificate: UnknownIssuer"): the outermost alone says too little.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = e.source();
    }
    text
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    let hop: Vec<HeaderName> = headers.keys().filter(|n| is_hop_by_hop(n)).cloned().collect();
    for name in hop {
        headers.remove(name);
    }
}

fn empty() -> Body {
    Empty::new().map_err(|n| match n {}).boxed()
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).map_err(|n| match n {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// An error in the registry API's shape.
fn registry_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|n| match n {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s9_routes() {
        let cases = [
            ("/v2/", Route::Ping),
            ("/v2/library/alpine/manifests/3.20", Route::Manifest { repository: "library/alpine", reference: "3.20" }),
            (
                "/v2/a/manifests/b/manifests/sha256:ab",
                Route::Manifest { repository: "a/manifests/b", reference: "sha256:ab" },
            ),
            ("/v2/a/blobs/sha256:ab", Route::Blob),
            ("/v2/a/blobs/uploads/", Route::Blob),
            ("/v2/a/tags/list", Route::Tags),
            ("/v2/_catalog", Route::Other),
            ("/other", Route::Other),
        ];
        for (path, want) in cases {
            assert_eq!(route(path), want, "{path}");
        }
        assert_eq!(route("/v2/a/manifests/sha256:ab").kind(), "manifest-digest");
        assert_eq!(route("/v2/a/manifests/v1").kind(), "manifest-tag");
    }

    #[test]
    fn s9_ns_is_taken_out_of_the_query() {
        let cases = [
            (None, (None, None)),
            (Some("ns=docker.io"), (Some("docker.io"), None)),
            (Some("n=10&ns=127.0.0.1%3A5000&last=x"), (Some("127.0.0.1:5000"), Some("n=10&last=x"))),
            (Some("n=10"), (None, Some("n=10"))),
        ];
        for (query, (ns, rest)) in cases {
            let (got_ns, got_rest) = split_ns(query);
            assert_eq!((got_ns.as_deref(), got_rest.as_deref()), (ns, rest), "{query:?}");
        }
    }

    #[test]
    fn s9_every_accept_value_is_forwarded_separately_and_nothing_else_but_authorization() {
        let mut client = HeaderMap::new();
        for t in ["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json", "*/*"] {
            client.append(header::ACCEPT, HeaderValue::from_static(t));
        }
        client.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        client.insert(header::COOKIE, HeaderValue::from_static("c=1"));
        let headers = manifest_headers(&client, false);
        assert_eq!(headers.get_all(header::ACCEPT).iter().count(), 3);
        assert_eq!(headers.get(header::AUTHORIZATION).unwrap(), "Bearer t");
        assert!(headers.get(header::COOKIE).is_none());
        let with_index = manifest_headers(&client, true);
        let accepts: Vec<&str> = with_index.get_all(header::ACCEPT).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(accepts.len(), 4, "{accepts:?}");
        assert!(accepts.contains(&DOCKER_LIST));
    }
}
