//! `X-Request-Id` on every response: the client's, when it sent a sane one, else a
//! new UUID. Handlers read it from the request's extensions.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";
/// Longer client ids are replaced, so an audit record never holds an unbounded value.
const REQUEST_ID_CHARS_MAX: usize = 128;

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn acceptable(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= REQUEST_ID_CHARS_MAX
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let header = HeaderValue::from_str(&id).ok();
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    if let Some(header) = header {
        response.headers_mut().insert(HEADER, header);
    }
    response
}
