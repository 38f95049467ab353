//! `GET /ws`: a WebSocket echo, so that a connection that stays open (a notebook kernel's, an
//! IDE's) can be tested through traefik: every text or binary message comes back as it was sent.

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::Message;

use crate::State;

pub async fn echo(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<State>,
) -> actix_web::Result<HttpResponse> {
    let (response, mut session, mut messages) = actix_ws::handle(&req, body)?;
    state.touch();
    actix_web::rt::spawn(async move {
        while let Some(Ok(message)) = messages.recv().await {
            state.touch();
            let sent = match message {
                Message::Text(text) => session.text(text).await,
                Message::Binary(bytes) => session.binary(bytes).await,
                Message::Ping(bytes) => session.pong(&bytes).await,
                Message::Close(reason) => {
                    let _ = session.close(reason).await;
                    return;
                }
                _ => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Ok(response)
}
