//! traefik's router and spawner's `/auth` against each other, with raw requests on a socket: an
//! HTTP client library normalises what these tests must send (repeated `Cookie` headers,
//! whitespace around names and `=`, bytes that are not ASCII, control bytes, HTTP/1.0, paths with
//! `..` and encoded slashes). The attacker holds a valid session for their own instance (bob) and
//! knows another user's instance name (alice). The rule checked on every answer: **a request
//! reaches instance X only if it carries a valid session for X** (a `Cookie` pair
//! `instance=<X's session>`, byte for byte).

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stack::*;

/// One raw request: its path, its `Cookie` header values (bytes as sent), its HTTP version.
struct Raw {
    path: String,
    cookies: Vec<Vec<u8>>,
    http10: bool,
}

/// What came back: the status, and which instance's app answered (by its `hostname`).
async fn send(port: &str, raw: &Raw, names: &[&str]) -> (u16, Option<String>) {
    let mut bytes = Vec::new();
    let version = if raw.http10 { "1.0" } else { "1.1" };
    bytes.extend_from_slice(format!("GET {} HTTP/{version}\r\n", raw.path).as_bytes());
    bytes.extend_from_slice(b"Host: localhost\r\nAccept: application/json\r\n");
    for cookie in &raw.cookies {
        bytes.extend_from_slice(b"Cookie: ");
        bytes.extend_from_slice(cookie);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).await?;
        stream.write_all(&bytes).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("traefik answered within 30 s")
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let reached = names
        .iter()
        .find(|n| text.contains(&format!("\"hostname\":\"{n}\"")))
        .map(|n| n.to_string());
    (status, reached)
}

/// Whether the request carries `instance=<session>` as a cookie pair, byte for byte (but for
/// the whitespace at the end of a header line, which HTTP says is not part of the value).
fn carries(raw: &Raw, session: &str) -> bool {
    raw.cookies.iter().any(|header| {
        let end = header.iter().rposition(|&b| b != b' ' && b != b'\t');
        let header = &header[..end.map_or(0, |i| i + 1)];
        header.split(|&b| b == b';').any(|pair| {
            let start = pair.iter().position(|&b| b != b' ' && b != b'\t');
            start.is_some_and(|i| &pair[i..] == session.as_bytes())
        })
    })
}

/// Sends every request, prints the counts, and checks the rule: no request reached an instance
/// without its session, and some reached the sender's own (else the check proves nothing).
async fn check(stack: &Stack, mode: &str, requests: &[Raw], sessions: &[(&str, &str)]) {
    let port = stack.var("HTTP_PORT");
    let names: Vec<&str> = sessions.iter().map(|(n, _)| *n).collect();
    let (mut reached_own, mut violations) = (0, 0);
    for raw in requests {
        let (status, reached) = send(port, raw, &names).await;
        let Some(reached) = reached else { continue };
        let session = sessions.iter().find(|(n, _)| *n == reached).unwrap().1;
        if carries(raw, session) {
            reached_own += 1;
        } else {
            violations += 1;
            let cookies: Vec<_> = raw
                .cookies
                .iter()
                .map(|c| String::from_utf8_lossy(c))
                .collect();
            eprintln!("REACHED {reached} ({status}): {} {cookies:?}", raw.path);
        }
    }
    println!(
        "{mode}: {} raw requests tried, {reached_own} reached the sender's own instance, \
         {violations} reached an instance without its session",
        requests.len()
    );
    assert!(requests.len() >= 500);
    assert_eq!(violations, 0, "requests reached another user's instance");
    assert!(
        reached_own > 0,
        "no request got through at all: the check proves nothing"
    );
}

/// Two users' instances on `stack`, routed: (alice, bob) and their sessions.
async fn two_users(stack: &Stack) -> ([String; 2], [String; 2]) {
    let (alice, bob) = (stack.name("alice"), stack.name("bob"));
    stack.create_routed(&[&alice, &bob], json!({})).await;
    let sessions = [stack.cookie(&alice), stack.cookie(&bob)];
    ([alice, bob], sessions)
}

/// The attacker's cookie pairs for their own session (`own`, a whole `instance=…` pair) and
/// for the other user's name, in the shapes that made the two parsers disagree.
fn cookie_requests(own: &str, other: &str, path: &str) -> Vec<Raw> {
    let value = own.strip_prefix("instance=").unwrap();
    let signature = value.split_once('.').unwrap().1;
    let owns = [
        own.to_string(),
        format!("instance ={value}"),
        format!("instance\t={value}"),
        format!("instance= {value}"),
        format!("Instance={value}"),
        format!("instance=\"{value}\""),
        format!("{own} "),
    ];
    let targets = [
        format!("instance={other}"),
        format!("instance={other}.{signature}"),
        format!("instance={other}.1.AAAA"),
        format!("INSTANCE={other}"),
        format!("instance ={other}"),
        format!("x=instance={other}"),
        format!("x=\"a;instance={other}\""),
    ];
    let garbage: [&[u8]; 6] = [
        b"",
        b"z=\xff",
        b"z=\x80\x80",
        b"z=\xc3\xa9",
        b"z=\x7f",
        b"z=a\tb",
    ];
    let joiners: [&[u8]; 4] = [b"; ", b";", b";\t", b"; \t "];
    let join = |parts: &[&[u8]], j: &[u8]| -> Vec<u8> {
        let parts: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
        parts.join(j)
    };
    let mut requests = Vec::new();
    let mut i = 0usize;
    for o in &owns {
        for t in &targets {
            for g in garbage {
                for layout in 0..5 {
                    let j = joiners[i % joiners.len()];
                    let (o, t) = (o.as_bytes(), t.as_bytes());
                    let cookies = match layout {
                        0 => vec![join(&[o, t, g], j)],
                        1 => vec![join(&[t, o, g], j)],
                        2 => vec![o.to_vec(), join(&[t, g], j)],
                        3 => vec![join(&[t, g], j), o.to_vec()],
                        _ => vec![join(&[o, g], j), t.to_vec()],
                    };
                    requests.push(Raw {
                        path: path.to_string(),
                        cookies,
                        http10: i % 2 == 1,
                    });
                    i += 1;
                }
            }
        }
    }
    // Very long headers around the pairs.
    let pad = format!("pad={}", "x".repeat(6000));
    for (o, t) in [(own, &targets[0]), (&owns[1], &targets[0])] {
        for cookies in [
            vec![format!("{pad}; {o}; {t}")],
            vec![pad.clone(), t.clone(), o.to_string()],
            vec![format!("{o}; {pad}"), format!("{t}; {pad}")],
        ] {
            let cookies = cookies.into_iter().map(String::into_bytes).collect();
            requests.push(Raw {
                path: path.to_string(),
                cookies,
                http10: false,
            });
        }
    }
    requests
}

#[tokio::test]
async fn no_shape_of_cookie_headers_reaches_another_users_instance() {
    let stack = Stack::up().await;
    let ([alice, bob], [alice_session, bob_session]) = two_users(&stack).await;
    let sessions = [
        (alice.as_str(), alice_session.as_str()),
        (bob.as_str(), bob_session.as_str()),
    ];
    let port = stack.var("HTTP_PORT");

    // The request of the report: bob's session with a space before `=`, then alice's name
    // beside a byte that is not ASCII, in a second header.
    let value = bob_session.strip_prefix("instance=").unwrap();
    let report = Raw {
        path: "/".into(),
        cookies: vec![
            format!("instance ={value}").into_bytes(),
            [format!("instance={alice}; z=").as_bytes(), b"\xff"].concat(),
        ],
        http10: false,
    };
    let (status, reached) = send(port, &report, &[&alice, &bob]).await;
    assert_eq!((status, reached), (302, None), "the reported request");
    // The checks can see a success: each user's own session reaches their own app.
    for (name, session) in sessions {
        let own = Raw {
            path: "/".into(),
            cookies: vec![session.as_bytes().to_vec()],
            http10: false,
        };
        assert_eq!(
            send(port, &own, &[&alice, &bob]).await,
            (200, Some(name.into()))
        );
    }

    let requests = cookie_requests(&bob_session, &alice, "/");
    check(&stack, "cookie routing", &requests, &sessions).await;
}

#[tokio::test]
async fn no_path_or_cookie_shape_reaches_another_users_instance_in_path_mode() {
    let stack = Stack::up_with(true).await;
    let ([alice, bob], [alice_session, bob_session]) = two_users(&stack).await;
    let sessions = [
        (alice.as_str(), alice_session.as_str()),
        (bob.as_str(), bob_session.as_str()),
    ];
    let first = &alice[..1];
    let encoded = format!("%{:02X}{}", first.as_bytes()[0], &alice[1..]);
    let paths = [
        format!("/p/{alice}/"),
        format!("/p/{alice}"),
        format!("/p/{bob}/../{alice}/"),
        format!("/p/{bob}/%2e%2e/{alice}/"),
        format!("/p/{bob}%2F..%2F{alice}/"),
        format!("/p/{bob}/..%2F{alice}/"),
        format!("/p/{alice}%2F"),
        format!("//p/{alice}/"),
        format!("/p//{alice}/"),
        format!("/p/./{alice}/"),
        format!("/P/{alice}/"),
        format!("/p/{encoded}/"),
        format!("/p/{bob}/x/../../{alice}/"),
        format!("/p/{bob}/..;/{alice}/"),
        format!("/p/{bob}/"),
        format!("/p/{bob}/../../p/{alice}/"),
    ];
    let mut requests = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        // Bob's own session alone, and every cookie shape of the cookie-mode test on a sample.
        for http10 in [false, true] {
            requests.push(Raw {
                path: path.clone(),
                cookies: vec![bob_session.as_bytes().to_vec()],
                http10,
            });
        }
        let shapes = cookie_requests(&bob_session, &alice, path);
        requests.extend(shapes.into_iter().skip(i % 11).step_by(11));
    }
    check(&stack, "path routing", &requests, &sessions).await;
}
