//! Host routing with TLS (`scripts/up.sh --host-routing`): each instance is its own web origin,
//! `https://<name>.<domain>`, behind traefik's websecure entrypoint with a self-signed wildcard
//! certificate this test makes. The same session rule holds: a request reaches instance X only
//! with a valid session for X, whatever host it names.

use std::process::Command;

use serde_json::{json, Value};

use crate::common::TempDir;
use crate::stack::*;

/// A certificate for `domain` and `*.domain`, in a directory of its own (cert.pem, key.pem).
fn wildcard_certificate(domain: &str) -> TempDir {
    let dir = TempDir::new("tls");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", &format!("/CN={domain}")])
        .args([
            "-addext",
            &format!("subjectAltName=DNS:{domain},DNS:*.{domain}"),
        ])
        .arg("-keyout")
        .arg(dir.path.join("key.pem"))
        .arg("-out")
        .arg(dir.path.join("cert.pem"))
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// What a client that checks the certificate against `ca` sees for `url` (no redirect
/// followed): status, headers (lowercase names), body. `host` overrides the Host header.
fn fetch(
    ca: &std::path::Path,
    url: &str,
    cookie: Option<&str>,
    host: Option<&str>,
) -> (u16, String, String) {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    let (name, port) = authority.rsplit_once(':').unwrap();
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-i", "--max-time", "40", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1")]);
    if let Some(cookie) = cookie {
        command.args(["-H", &format!("Cookie: {cookie}")]);
    }
    if let Some(host) = host {
        command.args(["-H", &format!("Host: {host}")]);
    }
    let out = command.arg(url).output().unwrap();
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_lowercase(), body.to_string())
}

fn location(head: &str) -> Option<&str> {
    head.lines()
        .find_map(|l| l.strip_prefix("location: "))
        .map(str::trim)
}

#[tokio::test]
async fn each_instance_is_its_own_https_origin_and_only_its_own_session_opens_it() {
    let domain = format!(
        "h{}.localhost",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let tls = wildcard_certificate(&domain);
    let https_port = free_port().to_string();
    let tls_dir = tls.path.to_str().unwrap().to_string();
    let env = [
        ("HOST_ROUTING", "1"),
        ("DOMAIN", domain.as_str()),
        ("HTTPS_PORT", https_port.as_str()),
        ("TLS_DIR", tls_dir.as_str()),
    ];
    let stack = Stack::up_with_env(&env).await;
    let ca = tls.path.join("cert.pem");
    let (alice, bob) = (stack.name("alice"), stack.name("bob"));
    let created = stack.create(&alice, json!({})).await;
    stack.create(&bob, json!({})).await;
    stack.wait_routed(&alice).await;
    stack.wait_routed(&bob).await;
    let set_cookie = created["session"]["set_cookie"].as_str().unwrap();
    assert!(
        set_cookie.contains(&format!("; Domain={domain}")),
        "{set_cookie}"
    );
    assert!(set_cookie.ends_with("; Secure"), "{set_cookie}");

    let site = format!("https://{domain}:{https_port}");
    let at = |name: &str| format!("https://{name}.{domain}:{https_port}/");
    let (alice_cookie, bob_cookie) = (stack.cookie(&alice), stack.cookie(&bob));

    // Each user's own session on their own host: their app, over a verified TLS connection.
    for (name, cookie) in [(&alice, &alice_cookie), (&bob, &bob_cookie)] {
        let (status, _, body) = fetch(&ca, &at(name), Some(cookie), None);
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["hostname"], name.as_str());
    }
    // Bob's session on alice's host, however the host is written: home, never alice's app.
    let home = format!("{site}/home");
    for host in [
        format!("{alice}.{domain}:{https_port}"),
        format!("{}.{domain}", alice.to_uppercase()),
        format!("{alice}.{}", domain.to_uppercase()),
        format!("{alice}.{domain}."),
    ] {
        let (status, head, body) = fetch(&ca, &at(&alice), Some(&bob_cookie), Some(&host));
        assert!(
            !body.contains(&alice),
            "bob reached alice's app via Host {host}: {body}"
        );
        assert!([302, 404].contains(&status), "Host {host}: {status}");
        if status == 302 {
            assert_eq!(location(&head), Some(home.as_str()), "Host {host}");
        }
    }
    // No session at all: home.
    let (status, head, _) = fetch(&ca, &at(&alice), None, None);
    assert_eq!((status, location(&head)), (302, Some(home.as_str())));

    // The home is on the site's own host only: /home on an instance's host is the instance's.
    let (status, _, body) = fetch(&ca, &home, None, None);
    assert_eq!(status, 200);
    assert!(body.contains("You are at Home"), "{body}");
    let (status, _, body) = fetch(
        &ca,
        &format!("{}home", at(&alice)),
        Some(&alice_cookie),
        None,
    );
    assert_eq!(status, 200);
    assert!(
        !body.contains("You are at Home"),
        "the home on an instance's origin: {body}"
    );
    let (status, head, _) = fetch(&ca, &format!("{}home", at(&alice)), None, None);
    assert_eq!((status, location(&head)), (302, Some(home.as_str())));

    // Plain HTTP is redirected to HTTPS.
    let http = format!("http://{alice}.{domain}:{}/", stack.var("HTTP_PORT"));
    let (status, head, _) = fetch(&ca, &http, Some(&alice_cookie), None);
    assert!([301, 302, 307, 308].contains(&status), "{status}");
    let to = location(&head).unwrap_or_default();
    assert!(to.starts_with(&format!("https://{alice}.{domain}")), "{to}");

    // A user registered through the home lands on their own origin with a cookie for the domain.
    let name = stack.name("carol");
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "60", "--cacert"])
        .arg(&ca)
        .args(["--resolve", &format!("{domain}:{https_port}:127.0.0.1")])
        .args([
            "--data",
            &format!("name={name}&password=correct-horse-battery"),
        ])
        .arg(format!("{site}/home/register"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        head.starts_with("http/1.1 303") || head.starts_with("http/2 303"),
        "{head}"
    );
    assert_eq!(location(&head), Some(at(&name.to_lowercase()).as_str()));
    assert!(head.contains(&format!("domain={domain}")), "{head}");

    // A name with upper case would share a host with its lowercase twin (traefik's Host
    // matcher ignores case) and take it over: refused.
    let upper = stack.name("Alice");
    let body = json!({"name": upper, "image": "mock-app:latest", "network": stack.network()});
    let response = stack
        .client
        .post(format!("{}/deploy", stack.api))
        .bearer_auth(&stack.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("lowercase"),
        "{error}"
    );
}
