//! `make demo` (for now): a GET against a local HTTP server that answers 503 with
//! `Retry-After: 1` and a Kubernetes `Status` body twice, then 200. Prints every decision.
//!
//! Run: `cargo run -p k8sretry --example demo`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use k8sretry::{Call, Decision, Failure, Policy, Verb};

const UNAVAILABLE: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd leader changed","reason":"ServiceUnavailable","code":503}"#;

/// A one-thread server: the first two requests get 503 + Retry-After, the rest 200.
fn serve(listener: TcpListener) {
    for (n, stream) in listener.incoming().enumerate() {
        let Ok(mut stream) = stream else { continue };
        // Read the whole request head: closing a socket with unread bytes sends a reset.
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let response = if n < 2 {
            format!(
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{UNAVAILABLE}",
                UNAVAILABLE.len()
            )
        } else {
            let body = r#"{"kind":"Namespace","metadata":{"name":"default"}}"#;
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        };
        let _ = stream.write_all(response.as_bytes());
    }
}

/// GET `path`; on a non-2xx answer, the `Failure` a binding would build from it.
fn get(addr: &str, path: &str) -> Result<String, Box<Failure>> {
    let io_failure = |e: std::io::Error| {
        Box::new(
            Failure::new()
                .with_io_kind(e.kind())
                .with_error("io::Error", e.to_string()),
        )
    };
    let mut stream = TcpStream::connect(addr).map_err(io_failure)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io_failure)?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).map_err(io_failure)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if (200..300).contains(&status) {
        return Ok(body.to_owned());
    }
    let mut failure = Failure::new()
        .with_status(status)
        .with_verb(Verb::Get)
        .with_status_body(body);
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("retry-after")
        {
            failure = failure.with_retry_after(value.trim());
        }
    }
    Err(Box::new(
        failure.with_error("HttpError", format!("HTTP {status}")),
    ))
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr").to_string();
    std::thread::spawn(move || serve(listener));

    let policy = Policy::preset("default").expect("preset");
    println!(
        "policy: default preset (max_retries 3, 1 s * 2^n backoff, ±10% jitter, Retry-After honoured)"
    );
    let mut call = Call::new(&policy, "read_namespace").with_verb(Verb::Get);
    let started = Instant::now();
    loop {
        let attempt = call.attempts();
        match get(&addr, "/api/v1/namespaces/default") {
            Ok(body) => {
                call.on_success();
                println!("attempt {attempt}: 200 OK {body}");
                break;
            }
            Err(failure) => {
                let decision = call.on_failure(&failure);
                println!(
                    "attempt {attempt}: HTTP {} reason={} Retry-After={} class={} -> {decision:?}",
                    failure.status.unwrap_or(0),
                    failure.reason.as_deref().unwrap_or("-"),
                    failure.retry_after.as_deref().unwrap_or("-"),
                    policy.classify(&failure),
                );
                match decision {
                    Decision::Retry { delay } => std::thread::sleep(delay),
                    other => {
                        println!("gave up: {other:?}");
                        std::process::exit(1);
                    }
                }
            }
        }
    }
    println!(
        "done in {:.2} s after {} attempts\n",
        started.elapsed().as_secs_f64(),
        call.attempts()
    );
    println!(
        "{}",
        k8sretry::metrics_text()
            .lines()
            .filter(|l| l.contains("read_namespace"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
