//! The web app (built from `web/` into `web/dist`) embedded in the binary, so that
//! `medprint serve` serves it with nothing else installed. Paths that are not files get
//! `index.html` (client-side routes); `/api/…` paths never do.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The built app. In debug builds the files are read from `web/dist` at run time; release
/// builds embed them. A binary built before the app was built serves a short explanation.
#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct WebAssets;

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>medprint</title>\
<p>The web app was not built into this binary. Run <code>scripts/demo.sh</code> (or <code>scripts/web.sh build</code> \
and rebuild). The API is at <a href=/api/openapi.json>/api/openapi.json</a>.";

/// Security headers of every page: no framing, no sniffing, scripts only from this origin.
pub fn harden(response: &mut Response) {
    let h = response.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
             worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
}

/// The embedded file at `path`, or `index.html` for client-side routes.
pub fn embedded(path: &str) -> Response {
    let path = path.trim_start_matches('/');
    let (name, file) = match WebAssets::get(path).filter(|_| !path.is_empty()) {
        Some(f) => (path.to_string(), Some(f)),
        None => ("index.html".to_string(), WebAssets::get("index.html")),
    };
    let mut response = match file {
        Some(f) => {
            let mime = mime_guess::from_path(&name).first_or_octet_stream();
            let mut r = Response::new(Body::from(f.data.into_owned()));
            if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
                r.headers_mut().insert(CONTENT_TYPE, v);
            }
            // Vite puts content hashes in asset names: those never change.
            let cache = if name.starts_with("assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(cache));
            r
        }
        None => (StatusCode::OK, [(CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT).into_response(),
    };
    harden(&mut response);
    response
}
