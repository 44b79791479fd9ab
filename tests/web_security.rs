//! The live view against hostile clients, on the real `genred run --web`:
//! a request naming a host other than this server's (DNS rebinding) or coming
//! from another site's page is refused; idle sockets beyond the connection
//! cap neither exhaust descriptors nor keep `/healthz` from answering; a
//! socket that sends no headers (or sends them slowly) is closed within the
//! header timeout, while an event stream outlives it.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A name configured in `web.allowed_hosts`.
const EXTRA_HOST: &str = "genred.test";
/// Small so that the flood below overflows it many times over.
const MAX_CONNECTIONS: usize = 16;
/// Idle sockets opened at once: far beyond the cap.
const FLOOD: usize = 300;
/// Short, so that the tests wait for it in seconds.
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// Room for a busy 2-core machine when waiting for the server.
const SLACK: Duration = Duration::from_millis(1500);

/// A daemon watching an empty drop folder, its live view on a free port.
fn start(web: &str) -> (Home, Daemon, SocketAddr) {
    let home = Home::new();
    let port = free_port();
    home.write_config(&format!(
        "[folder]\npaths = [\"drop\"]\n\n[web]\nlisten = \"127.0.0.1:{port}\"\n{web}"
    ));
    let daemon = home.start_with_flags(&["--web"], &[]);
    (home, daemon, SocketAddr::from(([127, 0, 0, 1], port)))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// The response head and body of a GET with these header lines; `/events`
/// never ends, so only its first line is read.
fn get(address: SocketAddr, path: &str, headers: &[String]) -> (u16, String) {
    let mut stream = connect(address);
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    if path == "/events" {
        let mut byte = [0u8];
        while !response.ends_with(b"\r\n") && stream.read(&mut byte).unwrap() == 1 {
            response.push(byte[0]);
        }
    } else {
        stream.read_to_end(&mut response).unwrap();
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

fn host(value: &str) -> String {
    format!("Host: {value}")
}

fn health(address: SocketAddr) -> Value {
    let (status, body) = get(address, "/healthz", &[host("localhost")]);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"))
}

/// Whether the server has closed `stream`: EOF (or a reset) without waiting.
fn closed_by_server(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 1024];
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            // A response the server chose to write before closing.
            Ok(_) => continue,
            Err(err) if err.kind() == ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// Blocks until the server closes `stream`; how long that took from `since`.
fn wait_for_eof(stream: &mut TcpStream, since: Instant, within: Duration) -> Duration {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return since.elapsed(),
            Ok(_) => continue,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("still open {:?} after it was opened", since.elapsed())
            }
            Err(_) => return since.elapsed(),
        }
    }
}

/// The daemon's open descriptors.
fn descriptors(daemon: &Daemon) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", daemon.child.id()))
        .unwrap()
        .count()
}

#[test]
fn only_requests_that_name_this_server_from_its_own_page_are_served() {
    let (_home, daemon, address) = start(&format!("allowed_hosts = [\"{EXTRA_HOST}\"]\n"));
    let port = address.port();
    for path in ["/", "/api/recent", "/events", "/healthz", "/nowhere"] {
        for foreign in [
            "evil.example".to_owned(),
            format!("evil.example:{port}"),
            format!("localhost.evil.example:{port}"),
            format!("127.0.0.2:{port}"),
        ] {
            let (status, body) = get(address, path, &[host(&foreign)]);
            assert_eq!(status, 421, "{path} for Host {foreign}: {body}");
            assert!(!body.contains("genre"), "{path}: {body}");
        }
        let (status, body) = get(
            address,
            path,
            &[
                host(&format!("127.0.0.1:{port}")),
                "Origin: http://evil.example".to_owned(),
            ],
        );
        assert_eq!(status, 403, "{path} from a foreign origin: {body}");
    }
    for path in ["/", "/api/recent", "/events", "/healthz"] {
        for own in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            "localhost".to_owned(),
            format!("{EXTRA_HOST}:{port}"),
        ] {
            let (status, _) = get(address, path, &[host(&own)]);
            assert_eq!(status, 200, "{path} for Host {own}");
        }
        let own_page = [
            host(&format!("localhost:{port}")),
            format!("Origin: http://localhost:{port}"),
        ];
        assert_eq!(get(address, path, &own_page).0, 200, "{path}");
    }
    // The refusal says why, for whoever set up a name that is not listed.
    let (_, body) = get(address, "/healthz", &[host("genred.example")]);
    assert!(body.contains("web.allowed_hosts"), "{body}");
    // HTTP/1.0 tools send no Host; no browser does.
    let mut stream = connect(address);
    stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    daemon.stop();
}

#[test]
fn idle_connections_beyond_the_cap_neither_exhaust_descriptors_nor_stop_healthz() {
    // A header timeout longer than the test: what frees the slots here is the cap.
    let (_home, daemon, address) = start(&format!(
        "max_connections = {MAX_CONNECTIONS}\nheader_timeout_s = 60\n"
    ));
    let before = descriptors(&daemon);
    // Two pages' event streams: busy connections, never closed for newcomers.
    let streams: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = connect(address);
            stream
                .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200");
            stream
        })
        .collect();

    let flooded = Instant::now();
    let mut idle: Vec<TcpStream> = (0..FLOOD).map(|_| connect(address)).collect();
    let report = health(address);
    eprintln!(
        "/healthz answered {:.0} ms after {FLOOD} idle connections were opened (cap {MAX_CONNECTIONS})",
        flooded.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(
        report["live_view"]["clients"], 2,
        "the streams stay: {report}"
    );
    assert_eq!(report["live_view"]["max_connections"], MAX_CONNECTIONS);
    let open = report["live_view"]["connections"].as_u64().unwrap();
    assert!(open as usize <= MAX_CONNECTIONS, "{report}");

    // Descriptors stay within the cap (a few more while closing), and every
    // idle socket beyond the cap has been closed by the server.
    let deadline = Instant::now() + SLACK;
    loop {
        let closed = idle
            .iter()
            .filter(|stream| closed_by_server(stream))
            .count();
        let descriptors = descriptors(&daemon);
        if closed >= FLOOD - MAX_CONNECTIONS && descriptors <= before + MAX_CONNECTIONS {
            eprintln!(
                "{closed} of {FLOOD} idle connections closed by the server; its descriptors {before} before, {descriptors} after"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{closed} of {FLOOD} idle connections closed, {descriptors} descriptors (from {before}); log:\n{}",
            daemon.log()
        );
        thread::sleep(POLL);
    }
    for stream in &streams {
        assert!(!closed_by_server(stream), "an event stream was closed");
    }
    // A flood that keeps coming: /healthz still answers every time.
    for _ in 0..5 {
        idle.extend((0..MAX_CONNECTIONS).map(|_| connect(address)));
        health(address);
    }
    drop(idle);
    drop(streams);
    daemon.stop();
}

#[test]
fn sockets_without_whole_headers_are_closed_within_the_header_timeout() {
    let (_home, daemon, address) = start(&format!(
        "header_timeout_s = {}\n",
        HEADER_TIMEOUT.as_secs_f64()
    ));
    let opened = Instant::now();
    let mut silent = connect(address);
    // Slowloris: a header line every 200 ms, never the blank line that ends them.
    let mut trickling = connect(address);
    trickling
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    let mut sender = trickling.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        let mut lines = 0;
        loop {
            thread::sleep(Duration::from_millis(200));
            if sender
                .write_all(format!("X-Pad-{lines}: x\r\n").as_bytes())
                .is_err()
            {
                return lines;
            }
            lines += 1;
        }
    });
    // Kept alive after one answered request: its next headers are due as well.
    let mut kept = connect(address);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // An event stream: its request is whole, so it outlives the timeout.
    let mut stream = connect(address);
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let within = HEADER_TIMEOUT + SLACK;
    for (what, socket) in [
        ("silent", &mut silent),
        ("trickling", &mut trickling),
        ("kept alive", &mut kept),
    ] {
        let took = wait_for_eof(socket, opened, within);
        eprintln!(
            "{what} connection closed by the server {:.2} s after it was opened (header timeout {HEADER_TIMEOUT:?})",
            took.as_secs_f64()
        );
        assert!(
            took >= HEADER_TIMEOUT - Duration::from_millis(100),
            "{what}: {took:?}"
        );
    }
    let lines = trickle.join().unwrap();
    assert!(lines < 20, "{lines} header lines accepted");
    assert!(!closed_by_server(&stream), "the event stream was closed");
    assert_eq!(health(address)["live_view"]["clients"], 1);
    drop(stream);
    daemon.stop();
}
