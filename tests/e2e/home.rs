//! The site's home (mock-home) as a user's browser or script meets it: accounts with passwords,
//! kept across a restart of the stack, and a cookie only for the right password.

use serde_json::{json, Value};

use crate::stack::*;

/// A client of its own for each call: the stack restarts in between, and a kept connection to
/// the old traefik would be dead.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POSTs JSON to the home; answers the status and the cookie part of any `Set-Cookie`.
pub async fn post(stack: &Stack, path: &str, body: Value) -> (u16, Option<String>) {
    let response = client()
        .post(format!("{}{path}", stack.public))
        .json(&body)
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
    (response.status().as_u16(), cookie)
}

#[tokio::test]
async fn accounts_survive_a_restart_of_the_stack_and_only_the_password_gets_a_cookie() {
    let stack = Stack::up().await;
    let name = stack.name("keeper");
    let password = "a password of some length";
    let account = |password: &str| json!({"name": name, "password": password});

    let (status, _) = post(&stack, "/home/register", account("short")).await;
    assert_eq!(status, 400, "a short password is refused");
    let (status, cookie) = post(&stack, "/home/register", account(password)).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("registration sets the cookie");
    assert!(cookie.starts_with(&format!("instance={name}.")), "{cookie}");
    let (status, cookie) = post(&stack, "/home/register", account("someone else")).await;
    assert_eq!((status, cookie), (409, None), "a taken name gets no cookie");

    // Down (keeping data) and up again: the account is still there.
    let down = stack.script("down.sh", &[], &[]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let up = stack.script("up.sh", &[], &[]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let (status, cookie) = post(&stack, "/home/login", account("wrong password")).await;
    assert_eq!((status, cookie), (401, None));
    let unknown = json!({"name": stack.name("nobody"), "password": password});
    let (status, cookie) = post(&stack, "/home/login", unknown).await;
    assert_eq!((status, cookie), (401, None));
    let (status, cookie) = post(&stack, "/home/login", account(password)).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("login sets the cookie");
    // The new traefik polls spawner for the routes: until it has, the fallback answers 307 (a
    // browser follows it). Asserting on the app's answer needs the route loaded.
    stack.wait_routed(&name).await;
    let response = client()
        .get(format!("{}/", stack.public))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["hostname"], name.as_str());
}
