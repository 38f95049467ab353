//! The page a browser gets while its instance is not ready yet (or cannot start right now): it
//! shows what is happening and how long it has waited, and moves on by itself the moment the
//! instance is ready. Its script asks for the same URL again as JSON; spawner holds that
//! request until the instance is ready (then traefik forwards it and the page reloads) or until
//! `hold_timeout` (another 503, marked `X-Spawner-Status`, and it asks again). Without script,
//! a `<noscript>` refresh does the same, blindly.

use std::time::Duration;

/// Marks spawner's own answers to the waiting page's requests (the app's own 503 has none).
pub const STATUS_HEADER: &str = "x-spawner-status";

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="{retry}"></noscript>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}
progress{width:100%;height:.6em}#elapsed{color:#666}</style></head>
<body><h1>{title}</h1><p id="message">{message}</p>
<progress id="bar"></progress><p id="elapsed" data-status="{status}"></p>
<script>
(function () {
  // The user asked {waited_ms} ms before this page came: count from then.
  var started = Date.now() - {waited_ms};
  var elapsed = document.getElementById("elapsed");
  var message = document.getElementById("message");
  function tick() {
    elapsed.textContent = "Waiting for " + Math.round((Date.now() - started) / 1000) + " s";
  }
  tick();
  setInterval(tick, 500);
  function poll() {
    var sent = Date.now();
    fetch(location.href, {
      headers: { "Accept": "application/json" },
      cache: "no-store",
      credentials: "same-origin"
    }).then(function (answer) {
      var status = answer.headers.get("X-Spawner-Status");
      if (!status) {
        // The instance answered: show it (as a GET, whatever the first request was).
        location.replace(location.href);
        return;
      }
      return answer.json().then(function (body) {
        message.textContent = body.error;
        elapsed.dataset.status = status;
        if (status === "failed") {
          document.getElementById("bar").remove();
          return;
        }
        var wait = (body.retry_after || 1) * 1000 - (Date.now() - sent);
        setTimeout(poll, Math.max(wait, 250));
      });
    }).catch(function () {
      setTimeout(poll, 1000);
    });
  }
  poll();
})();
</script></body></html>
"#;

/// The page; `status` is what `X-Spawner-Status` says (`starting`, `capacity`, `unavailable`,
/// `failed`), `retry` the seconds after which the no-script refresh happens, `waited` how long
/// the request was held before it (the page's counter starts there).
pub fn render(
    title: &str,
    message: &str,
    status: &str,
    retry: Option<u64>,
    waited: Duration,
) -> String {
    PAGE.replace("{title}", &html_escape(title))
        .replace("{message}", &html_escape(message))
        .replace("{status}", status)
        .replace("{retry}", &retry.unwrap_or(5).to_string())
        .replace("{waited_ms}", &waited.as_millis().to_string())
}

pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_it_shows() {
        let page = render(
            "Starting",
            "<b>x</b> & \"y\"",
            "starting",
            Some(2),
            Duration::from_millis(1500),
        );
        assert!(
            page.contains("Date.now() - 1500;"),
            "the counter starts at the request"
        );
        assert!(page.contains("&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;"));
        assert!(page.contains(r#"content="2""#));
        assert!(!page.contains("{message}"));
    }
}
