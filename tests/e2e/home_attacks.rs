//! What an attacker tries against the home (mock-home) through traefik: a login racing a
//! registration of a name whose instance has no account, cross-site form posts, and a flood of
//! registrations from one address.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::home::{client, post};
use crate::stack::*;

#[tokio::test]
async fn a_login_racing_a_registration_of_an_instance_made_through_the_api_never_gets_a_session() {
    let stack = Stack::up_with_env(&[("REGISTER_PER_MINUTE", "0")]).await;
    // Made through the API, as scripts/create-minions.sh does: no account, so no password.
    let name = stack.name("minion");
    stack.create(&name, json!({})).await;
    stack.wait_routed(&name).await;

    const ROUNDS: u64 = 24;
    let mut outcomes: BTreeMap<(u16, u16), usize> = BTreeMap::new();
    let mut cookies = 0;
    for round in 0..ROUNDS {
        let account = json!({"name": name, "password": format!("password of round {round}")});
        // The login follows the registration by 0 to 46 ms: before, during and after the
        // registration's hash, its insert, and spawner's 409.
        let delay = Duration::from_millis(round * 2);
        let register = post(&stack, "/home/register", account.clone());
        let login = async {
            tokio::time::sleep(delay).await;
            post(&stack, "/home/login", account.clone()).await
        };
        let ((registered, register_cookie), (logged_in, login_cookie)) =
            tokio::join!(register, login);
        cookies += usize::from(register_cookie.is_some()) + usize::from(login_cookie.is_some());
        *outcomes.entry((registered, logged_in)).or_default() += 1;
    }
    eprintln!(
        "{ROUNDS} rounds of register + login of {name}: cookies issued {cookies}; \
         (register status, login status) counts {outcomes:?}"
    );
    assert_eq!(cookies, 0, "{outcomes:?}");
    // The instance is still the API's, and its own session still reaches it.
    let response = stack
        .client
        .get(format!("{}/", stack.public))
        .header("Cookie", stack.cookie(&name))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// POSTs a form to the home with extra headers, as a browser would; answers the status and
/// whether a cookie was set.
async fn post_form(stack: &Stack, path: &str, headers: &[(&str, &str)]) -> (u16, bool) {
    let mut request = client()
        .post(format!("{}{path}", stack.public))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=somebody&password=not+the+password");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let cookie = response.headers().contains_key("set-cookie");
    (response.status().as_u16(), cookie)
}

#[tokio::test]
async fn cross_site_posts_to_register_login_and_logout_are_refused_and_same_origin_ones_pass() {
    let stack = Stack::up().await;
    let own = stack.public.clone();
    for path in ["/home/register", "/home/login", "/home/logout"] {
        for headers in [
            vec![("Origin", "http://evil.example")],
            vec![("Origin", "null")],
            vec![("Sec-Fetch-Site", "cross-site"), ("Origin", own.as_str())],
            vec![("Sec-Fetch-Site", "same-site")],
        ] {
            assert_eq!(
                post_form(&stack, path, &headers).await,
                (403, false),
                "{path} {headers:?}"
            );
        }
    }
    // Same origin as traefik's public address (what traefik forwards as Host), or no header at
    // all: the endpoint answers as usual (a wrong password: 401; logout: 303).
    for headers in [
        vec![("Origin", own.as_str())],
        vec![("Sec-Fetch-Site", "same-origin"), ("Origin", own.as_str())],
        vec![],
    ] {
        let (status, _) = post_form(&stack, "/home/login", &headers).await;
        assert_eq!(status, 401, "{headers:?}");
        let (status, cookie) = post_form(&stack, "/home/logout", &headers).await;
        assert_eq!((status, cookie), (303, true), "{headers:?}");
    }
}

#[tokio::test]
async fn registrations_past_the_cap_from_one_address_get_429_with_retry_after_even_with_a_forged_forwarded_for(
) {
    let stack = Stack::up_with_env(&[("REGISTER_PER_MINUTE", "3")]).await;
    let register = |forged: &'static str| {
        let body = json!({"name": stack.name("flood"), "password": "short"});
        let mut request = client()
            .post(format!("{}/home/register", stack.public))
            .json(&body);
        if !forged.is_empty() {
            request = request.header("X-Forwarded-For", forged);
        }
        request.send()
    };
    for _ in 0..3 {
        assert_eq!(
            register("").await.unwrap().status(),
            400,
            "a short password"
        );
    }
    for forged in ["", "203.0.113.9", "203.0.113.10, 198.51.100.1"] {
        let response = register(forged).await.unwrap();
        assert_eq!(response.status(), 429, "X-Forwarded-For {forged:?}");
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
    }
    // Logging in is not capped by it.
    let (status, _) = post(
        &stack,
        "/home/login",
        json!({"name": stack.name("flood"), "password": "whatever it is"}),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn an_account_does_not_open_a_later_instance_of_its_name_made_for_someone_else() {
    let stack = Stack::up().await;
    let name = stack.name("leaver");
    let account = json!({"name": name, "password": "the first owner's password"});
    assert_eq!(post(&stack, "/home/register", account.clone()).await.0, 303);
    let (status, cookie) = post(&stack, "/home/login", account.clone()).await;
    assert_eq!((status, cookie.is_some()), (303, true), "the owner logs in");

    // The operator deletes the instance, and later makes the same name for another user
    // through the API (the home's account stays).
    let deleted = stack
        .client
        .delete(format!("{}/deploy/{name}?purge=true", stack.api))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    stack.create(&name, json!({})).await;

    let (status, cookie) = post(&stack, "/home/login", account).await;
    assert_eq!(
        cookie, None,
        "the old password opened the new owner's instance"
    );
    assert_eq!(status, 401);
}
