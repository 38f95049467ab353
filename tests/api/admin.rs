//! The admin page's access rules, against a spawner process on the real daemon: signing in needs
//! the token and sets a cookie that is not the token; its API refuses callers without a valid
//! cookie (401) and changes from anywhere but the page itself (403, nothing changed); without
//! an `api_token` the page is off.

use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, SET_COOKIE};
use serde_json::{json, Value};

use spawner::domain::ApiToken;
use spawner::routes::admin::access;

use crate::helpers::*;
use crate::processes::{process_scope, spawner_in};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What the page's own scripts send with a change (plus the cookie).
fn from_the_page(spawner: &SpawnerProcess, cookie: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
    headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
    headers.insert("origin", HeaderValue::from_str(&spawner.api).unwrap());
    headers.insert("x-spawner-admin", HeaderValue::from_static("1"));
    headers
}

async fn sign_in(spawner: &SpawnerProcess, token: &str, site: &str) -> reqwest::Response {
    client()
        .post(format!("{}/admin/login", spawner.api))
        .header("sec-fetch-site", site)
        .header("origin", &spawner.api)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

/// `spawner_admin=<value>` from a sign-in's answer.
fn cookie_of(response: &reqwest::Response) -> Option<String> {
    let set = response.headers().get(SET_COOKIE)?.to_str().ok()?;
    Some(set.split(';').next()?.to_string())
}

async fn deploy(spawner: &SpawnerProcess, name: &str) {
    let body = json!({"name": name, "image": IMAGE, "envs": {"IDLE": "0"}});
    let response = client()
        .post(format!("{}/deploy", spawner.api))
        .bearer_auth(TEST_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

fn state(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.Status}}", name])
}

/// Sends `request` as raw bytes and returns the status line's code.
fn raw_status(api: &str, request: &str) -> u16 {
    let addr = api.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_needs_the_token_and_sets_a_strict_cookie_for_admin_only_that_is_not_the_token()
{
    let (prefix, _cleanup) = process_scope();
    let spawner = spawner_in(&prefix, "20s", &[("SPAWNER_API_TOKEN", TEST_TOKEN)]);

    let form = client()
        .get(format!("{}/admin", spawner.api))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let headers = form.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(form.text().await.unwrap().contains("name=\"token\""));

    // A wrong token: 401, the form with its message, no cookie, and a line in the log.
    let wrong = sign_in(&spawner, "not-the-token-not-the-token", "same-origin").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.text().await.unwrap().contains("Wrong token"));
    let logged = eventually(Duration::from_secs(2), || async {
        spawner
            .log()
            .contains("refused a sign-in with a wrong token from 127.0.0.1:")
    });
    assert!(logged.await, "{}", spawner.log());

    // The right token from another site: refused, no cookie.
    let cross = sign_in(&spawner, TEST_TOKEN, "cross-site").await;
    assert_eq!(cross.status(), 403);
    assert!(cross.headers().get(SET_COOKIE).is_none());

    // The right one: back to the page with a cookie for /admin that is not the token.
    let right = sign_in(&spawner, TEST_TOKEN, "same-origin").await;
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "/admin");
    let set = right.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.starts_with("spawner_admin="), "{set}");
    for part in ["Path=/admin", "HttpOnly", "SameSite=Strict", "Max-Age="] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains(TEST_TOKEN), "{set}");
    let cookie = cookie_of(&right).unwrap();

    let page = client()
        .get(format!("{}/admin", spawner.api))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"rows\"") && page.contains("/admin/admin.js"));
    // 503 until spawner has read the list from Docker once.
    let list = || async {
        let url = format!("{}/admin/api/instances", spawner.api);
        let response = client().get(url).header("cookie", &cookie).send().await;
        response.unwrap().json::<Value>().await.unwrap()
    };
    let listed = eventually(Duration::from_secs(10), || async {
        list().await["instances"].is_array()
    });
    assert!(listed.await, "{}", list().await);

    // The cookie opens the admin page only, never the bearer API.
    let deploy = client()
        .get(format!("{}/deploy", spawner.api))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(deploy.status(), 401);

    // Signing out clears it.
    let out = client()
        .post(format!("{}/admin/logout", spawner.api))
        .headers(from_the_page(&spawner, &cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("spawner_admin=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_refuses_no_cookie_a_forged_one_and_every_change_not_from_its_page() {
    let (prefix, _cleanup) = process_scope();
    let spawner = spawner_in(&prefix, "20s", &[("SPAWNER_API_TOKEN", TEST_TOKEN)]);
    let name = format!("{prefix}-guarded");
    deploy(&spawner, &name).await;
    assert_eq!(state(&name), "running");
    let cookie = cookie_of(&sign_in(&spawner, TEST_TOKEN, "same-origin").await).unwrap();

    let list = format!("{}/admin/api/instances", spawner.api);
    let other = ApiToken::parse("another-token-another-token-0123").unwrap();
    let signed_by_another = access::session_value(&other, SystemTime::now());
    let (expires, _) = cookie.split_once('.').unwrap();
    let forged = [
        None,
        Some("spawner_admin=99999999999.AAAA".to_string()),
        Some(format!("spawner_admin={signed_by_another}")),
        Some(format!("{expires}.bm90IHRoZSBtYWM")),
        Some(format!("spawner_admin={TEST_TOKEN}")),
    ];
    for cookie in forged {
        let mut request = client().get(&list);
        if let Some(cookie) = &cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{cookie:?}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("sign in"),
            "{body}"
        );
    }

    // The router decodes what it matches: a path written with a percent sign never reaches the
    // page's API without the cookie (a review got the list, sessions and stops this way), nor
    // any other path of the scope that is not one of the page's own.
    let host = spawner.api.trim_start_matches("http://");
    for path in [
        "/admin/%61pi/instances".to_string(),
        "/admin/ap%69/events".to_string(),
        format!("/admin/%61pi/instances/{name}/session"),
        format!("/admin/api/instances/{name}/%73top"),
        "/admin/%2561pi/instances".to_string(),
    ] {
        let headers = format!("Host: {host}\r\nSec-Fetch-Site: same-origin\r\nConnection: close");
        let get = format!("GET {path} HTTP/1.1\r\n{headers}\r\n\r\n");
        let post = format!("POST {path} HTTP/1.1\r\n{headers}\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(raw_status(&spawner.api, &get), 400, "GET {path}");
        assert_eq!(raw_status(&spawner.api, &post), 400, "POST {path}");
    }
    for path in ["/admin/api", "/admin/anything", "/admin/api/instances/"] {
        let get = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        assert_eq!(raw_status(&spawner.api, &get), 401, "GET {path}");
    }
    assert_eq!(state(&name), "running");

    // With the cookie, but not from the page: refused, and the instance still runs.
    let stop = format!("{}/admin/api/instances/{name}/stop", spawner.api);
    let page = from_the_page(&spawner, &cookie);
    let not_from_the_page: [(&str, Option<&str>); 5] = [
        ("sec-fetch-site", Some("cross-site")),
        ("sec-fetch-site", Some("same-site")),
        ("origin", Some("http://evil.example")),
        ("x-spawner-admin", None),
        ("x-spawner-admin", Some("0")),
    ];
    for (header, value) in not_from_the_page {
        let mut headers = page.clone();
        match value {
            Some(v) => headers.insert(header, HeaderValue::from_static(v)),
            None => headers.remove(header),
        };
        let response = client().post(&stop).headers(headers).send().await.unwrap();
        assert_eq!(response.status(), 403, "{header}: {value:?}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("refused"),
            "{body}"
        );
    }
    let mut no_origin = page.clone();
    no_origin.remove("sec-fetch-site");
    no_origin.remove("origin");
    let response = client()
        .post(&stop)
        .headers(no_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Raw bytes: two Sec-Fetch-Site headers, the second cross-site.
    let host = spawner.api.trim_start_matches("http://");
    let twice = format!(
        "POST /admin/api/instances/{name}/stop HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\
         Sec-Fetch-Site: same-origin\r\nSec-Fetch-Site: cross-site\r\nX-Spawner-Admin: 1\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_status(&spawner.api, &twice), 403);
    // A path that only looks like the admin page's reaches nothing of the bearer API.
    for path in [
        "/admin/../deploy",
        "/admin/%2e%2e/deploy",
        "/admin/api/../../deploy",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let status = raw_status(&spawner.api, &request);
        assert!([400, 401, 404].contains(&status), "{path}: {status}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state(&name), "running", "{}", spawner.log());

    // Purging the volumes needs the name typed out.
    let delete = format!("{}/admin/api/instances/{name}/delete", spawner.api);
    let response = client()
        .post(&delete)
        .headers(page.clone())
        .json(&json!({"purge": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(state(&name), "running");

    // "Open as this user": a session, logged with the operator's address.
    let session = format!("{}/admin/api/instances/{name}/session", spawner.api);
    let response = client().post(&session).headers(page.clone()).send().await;
    let issued: Value = response.unwrap().json().await.unwrap();
    assert!(
        issued["cookie"].as_str().unwrap().starts_with("instance="),
        "{issued}"
    );
    let line = "admin 127.0.0.1:";
    let logged = eventually(Duration::from_secs(2), || async {
        let log = spawner.log();
        log.lines()
            .any(|l| l.contains(line) && l.contains(&format!("opened {name} as its user")))
    });
    assert!(logged.await, "{}", spawner.log());

    // A recreate from the page: a new container with the new environment, running again.
    let recreate = format!("{}/admin/api/instances/{name}/recreate", spawner.api);
    let response = client()
        .post(&recreate)
        .headers(page.clone())
        .json(&json!({"envs": {"IDLE": "0", "GREETING": "hello"}}))
        .send()
        .await
        .unwrap();
    let recreated: Value = response.json().await.unwrap();
    assert_eq!(recreated["state"], "running", "{recreated}");
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &name]);
    assert!(env.contains("GREETING=hello"), "{env}");

    // From the page: stopped.
    let response = client().post(&stop).headers(page.clone()).send().await;
    let stopped: Value = response.unwrap().json().await.unwrap();
    assert_eq!(stopped["state"], "exited", "{stopped}");
    assert_eq!(state(&name), "exited");
    let response = client()
        .post(&delete)
        .headers(page)
        .json(&json!({"purge": true, "confirm": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let gone = docker_lines(&["ps", "-aq", "--filter", &format!("name=^/{name}$")]);
    assert!(gone.is_empty(), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_api_token_the_admin_page_is_off() {
    let (prefix, _cleanup) = process_scope();
    let spawner = spawner_in(&prefix, "20s", &[]);
    let page = client()
        .get(format!("{}/admin", spawner.api))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("api_token"));
    let list = client()
        .get(format!("{}/admin/api/instances", spawner.api))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 503);
    let login = sign_in(&spawner, "anything-anything-anything", "same-origin").await;
    assert_eq!(login.status(), 503);
    assert!(login.headers().get(SET_COOKIE).is_none());
}
