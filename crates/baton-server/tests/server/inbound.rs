//! The HTTP edge against raw sockets on 127.0.0.1 (issue 13, item 8): a client that stops in
//! the middle of a header or trickles a body is cut off after the configured timeout, one
//! address holds at most its share of connections, and event streams outlive the body timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use baton_server::engine::DEFAULT_APPROVAL_DEADLINE_MS;
use baton_server::inbound::InboundLimits;
use baton_server::server::{Role, Server};

use crate::api_support::{HELLO, SseReader};

const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const BODY_TIMEOUT: Duration = Duration::from_millis(500);

/// A serving node with short inbound timeouts and `max_connections_per_client`; the directory
/// holds its database until the test ends.
async fn serve(max_connections_per_client: usize) -> (tempfile::TempDir, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::local_config(&dir.path().join("baton.db"), DEFAULT_APPROVAL_DEADLINE_MS);
    config.role = Role::Serve { listen: "127.0.0.1:0".parse().unwrap() };
    config.inbound = InboundLimits {
        header_read_timeout: HEADER_TIMEOUT,
        body_read_timeout: BODY_TIMEOUT,
        max_connections_per_client,
    };
    let server = crate::support::start(config).await;
    let addr = server.local_addr().expect("a serving node listens");
    tokio::spawn(Server::serve(server, std::future::pending()));
    (dir, addr)
}

/// Reads until the server closes the connection (at most 5 s); returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
    match read {
        Ok(Ok(_)) => {}
        // A reset is a close too.
        Ok(Err(err)) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}"),
        Err(_) => panic!("the server kept the connection open: {}", String::from_utf8_lossy(&received)),
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// One `GET /healthz` on a kept-alive connection; returns the status line.
async fn healthz(stream: &mut TcpStream) -> String {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: baton\r\n\r\n").await.unwrap();
    let mut buffer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.expect("an answer").unwrap();
    String::from_utf8_lossy(&buffer[..n]).lines().next().unwrap_or("").to_owned()
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_a_client_that_stops_in_the_header_is_disconnected() {
    let (_dir, addr) = serve(16).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: baton\r\nX-Slow").await.unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= HEADER_TIMEOUT - Duration::from_millis(50), "closed after {elapsed:?}");
    assert!(elapsed < HEADER_TIMEOUT + Duration::from_secs(2), "closed after {elapsed:?}");
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_a_client_that_trickles_its_body_is_answered_408() {
    let (_dir, addr) = serve(16).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reading, mut writing) = stream.into_split();
    let body = json!({"workflow": {"namespace": "test", "name": "hello"}, "input": {"name": "x"}}).to_string();
    let header = format!(
        "POST /api/v1/runs HTTP/1.1\r\nHost: baton\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        crate::auth_support::TEST_KEY,
        body.len()
    );
    writing.write_all(header.as_bytes()).await.unwrap();
    let started = Instant::now();
    // One byte every 100 ms: each read makes progress, the whole body never arrives in time.
    let trickle = tokio::spawn(async move {
        for byte in body.into_bytes() {
            if writing.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), reading.read_to_end(&mut received)).await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(read.is_ok(), "the server kept the connection open");
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("/problems/request-timeout"), "{answer}");
    assert!(elapsed >= BODY_TIMEOUT - Duration::from_millis(50), "answered after {elapsed:?}");
    assert!(elapsed < BODY_TIMEOUT + Duration::from_secs(2), "answered after {elapsed:?}");
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_one_address_holds_at_most_its_connections() {
    let (_dir, addr) = serve(2).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert_eq!(healthz(&mut first).await, "HTTP/1.1 200 OK");
    assert_eq!(healthz(&mut second).await, "HTTP/1.1 200 OK");

    // The third is closed without an answer.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: baton\r\n\r\n").await;
    assert_eq!(read_to_close(&mut third).await, "");

    // A connection that ends frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut next = TcpStream::connect(addr).await.unwrap();
        let _ = next.write_all(b"GET /healthz HTTP/1.1\r\nHost: baton\r\nConnection: close\r\n\r\n").await;
        let answer = read_to_close(&mut next).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the place of the closed connection was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(healthz(&mut second).await, "HTTP/1.1 200 OK");
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_event_streams_outlive_the_body_timeout() {
    let (_dir, addr) = serve(16).await;
    let base = format!("http://{addr}");
    let mut stream = SseReader::open(&format!("{base}/api/v1/events/runs"), &[]).await;
    tokio::time::sleep(BODY_TIMEOUT * 3).await;

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let deployed = http
        .post(format!("{base}/api/v1/workflows"))
        .bearer_auth(crate::auth_support::TEST_KEY)
        .header("content-type", "application/yaml")
        .body(HELLO)
        .send()
        .await
        .unwrap();
    assert!(deployed.status().is_success());
    let body = json!({"workflow": {"namespace": "test", "name": "hello"}, "input": {"name": "x"}});
    let started = http
        .post(format!("{base}/api/v1/runs?mode=sync"))
        .bearer_auth(crate::auth_support::TEST_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(started.status().is_success());
    assert!(stream.next().await.is_some(), "the stream ended after the body timeout");
}
