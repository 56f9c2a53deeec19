//! The Inspector's web page, served by `parlor serve` at `/inspector`, behind a project
//! login (never open):
//!
//! * `GET /inspector`, `GET /inspector/sessions/{sessionId}` — the page (sessions list,
//!   one session), or the login form when the request carries no valid login.
//! * `POST /inspector/login` (form: `key`, `secret`, `next`) — an OpenTok project logs in
//!   with its API key and secret; a Vonage application (which has no secret, only RSA
//!   keys) with its ID and a REST JWT signed with its private key, as its REST calls send.
//!   Success sets the login cookie ([`cookie`]) and redirects to `next` (a path under
//!   `/inspector`); a refusal shows the form again (401) without saying which part was
//!   wrong. Attempts are rate-limited per client address; a cross-site POST is refused.
//! * `POST /inspector/logout` — clears the cookie.
//! * `GET /inspector/api/sessions[/{sessionId}[/events|/quality]]` — the page's data: the
//!   Inspector API's own handlers (`api::inspector`, `docs/inspector-openapi.yaml`), for
//!   the project the cookie names, so a login can only ever read its own project. Without
//!   a valid login: 401 JSON. Counted against the project's REST rate like any call.
//! * `GET /inspector/assets/inspector.{js,css}` — the page's code (`web/inspector/`, built
//!   by `web/build.mjs` into `web/dist/` with uPlot, embedded here).
//!
//! Every answer carries a strict Content-Security-Policy (`default-src 'self'`, no inline
//! script or style), `no-store`, `nosniff`, no referrer and no framing. Neither the secret
//! nor the cookie is ever logged.

pub mod cookie;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Form, Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use parlor_proto::app_auth;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::api::inspector as data;
use crate::api::{ApiError, ProjectAuth};
use crate::logsafe::Untrusted;
use crate::store::Project;

const APP_HTML: &str = include_str!("../../../../web/inspector/index.html");
const LOGIN_HTML: &str = include_str!("../../../../web/inspector/login.html");
const APP_JS: &str = include_str!("../../../../web/dist/inspector.js");
const APP_CSS: &str = include_str!("../../../../web/dist/inspector.css");

/// The page's Content-Security-Policy: its own scripts, styles and data, nothing inline,
/// no framing, forms only to itself.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// Login attempts per client address: a burst of this many, then one every
/// [`LOGIN_REFILL_SECS`].
const LOGIN_BURST: u32 = 10;
const LOGIN_REFILL_SECS: u64 = 6;
/// Addresses the login limiter remembers before it forgets the idle ones.
const LOGIN_LIMITER_MAX_KEYS: usize = 10_000;

/// The message of a refused login: never which part was wrong.
const REFUSED: &str = "Those credentials were not accepted. Check the API key (or application ID) \
                       and the secret (or application JWT), and try again.";

/// Routes of the Inspector page.
pub fn router() -> Router<AppState> {
    let limiter = Arc::new(LoginLimiter::new());
    Router::new()
        .route("/inspector", get(page))
        .route("/inspector/", get(page))
        .route("/inspector/sessions/{session_id}", get(page))
        .route("/inspector/login", get(page).post(login))
        .route("/inspector/logout", axum::routing::post(logout))
        .route("/inspector/assets/inspector.js", get(script))
        .route("/inspector/assets/inspector.css", get(stylesheet))
        .route("/inspector/api/sessions", get(sessions))
        .route("/inspector/api/sessions/{session_id}", get(session))
        .route("/inspector/api/sessions/{session_id}/events", get(events))
        .route("/inspector/api/sessions/{session_id}/quality", get(quality))
        .layer(Extension(limiter))
        .layer(axum::middleware::map_response(security_headers))
}

/// Adds the page's security headers (and `no-store` unless a handler chose its caching).
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The project a request's login cookie names, if the cookie is valid now.
async fn logged_in(state: &AppState, headers: &HeaderMap) -> Option<Project> {
    let values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let value = cookie::find(values)?;
    let claimed = cookie::claimed(value, parlor_proto::unix_now())?;
    let key = claimed.api_key.to_owned();
    let (project, application) = state
        .db(move |s| Ok((s.project(&key)?, s.application(&key)?)))
        .await
        .ok()?;
    let project = project?;
    if application.is_some_and(|a| a.deleted_at.is_some()) {
        return None;
    }
    claimed.signed_with(&project.api_secret).then_some(project)
}

/// The project the request's login cookie names: the data endpoints' extractor. No valid
/// login → 401; over the project's REST rate → 429.
pub struct InspectorLogin(pub Project);

impl FromRequestParts<AppState> for InspectorLogin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(project) = logged_in(state, &parts.headers).await else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "not logged in to the Inspector (or the login expired): log in at /inspector",
            ));
        };
        if let Err(wait) = state.rest_rate.check(&project.api_key) {
            return Err(ApiError::too_many_requests(
                format!(
                    "rate limit exceeded for {}: retry after {} ms",
                    project.api_key,
                    wait.millis()
                ),
                wait.header_seconds(),
            ));
        }
        Ok(InspectorLogin(project))
    }
}

/// `GET /inspector[/sessions/{id}]`: the page when logged in, else the login form.
async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    match logged_in(&state, &headers).await {
        Some(project) => html(StatusCode::OK, app_page(&project.api_key)),
        None => {
            let next = if uri.path() == "/inspector/login" {
                "/inspector"
            } else {
                uri.path()
            };
            html(StatusCode::OK, login_page(None, "", next))
        }
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn app_page(api_key: &str) -> String {
    APP_HTML.replace("{{KEY}}", &escape(api_key))
}

fn login_page(error: Option<&str>, key: &str, next: &str) -> String {
    let error = match error {
        Some(e) => format!(
            r#"<p class="error" role="alert" id="login-error">{}</p>"#,
            escape(e)
        ),
        None => String::new(),
    };
    LOGIN_HTML
        .replace("{{ERROR}}", &error)
        .replace("{{KEY}}", &escape(key))
        .replace("{{NEXT}}", &escape(&safe_next(next)))
}

/// HTML-escapes text for an element or a quoted attribute.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where to go after logging in: `next` if it is a page of the Inspector, else its start.
/// (Never another site: an open redirect would lend the login page to phishing.)
fn safe_next(next: &str) -> String {
    let page = next == "/inspector"
        || next.strip_prefix("/inspector/sessions/").is_some_and(|id| {
            !id.is_empty()
                && id.len() <= 200
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_~".contains(&b))
        });
    if page {
        next.to_owned()
    } else {
        "/inspector".to_owned()
    }
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Login attempts per client address (GCRA, the `governor` crate, as the REST limits).
struct LoginLimiter(DefaultKeyedRateLimiter<IpAddr>);

impl LoginLimiter {
    fn new() -> Self {
        let burst = NonZeroU32::new(LOGIN_BURST).expect("nonzero");
        let quota = Quota::with_period(std::time::Duration::from_secs(LOGIN_REFILL_SECS))
            .expect("nonzero period")
            .allow_burst(burst);
        LoginLimiter(DefaultKeyedRateLimiter::keyed(quota))
    }

    /// Counts one attempt from `addr`: `Err(seconds to wait)` past the rate.
    fn check(&self, addr: IpAddr) -> Result<(), u64> {
        if self.0.len() > LOGIN_LIMITER_MAX_KEYS {
            self.0.retain_recent();
        }
        self.0.check_key(&addr).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                + 1
        })
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    next: String,
}

/// Whether the page is served over TLS (here, or by a proxy in front that says so).
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.tls.is_some()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `POST /inspector/login`.
async fn login(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<LoginLimiter>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return html(
            StatusCode::BAD_REQUEST,
            login_page(Some("The login form was not readable."), "", "/inspector"),
        );
    };
    let key = form.key.trim();
    let next = safe_next(&form.next);
    // SameSite=Strict keeps the cookie from other sites' requests; this keeps other sites
    // from logging a visitor in to their project (login CSRF).
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return html(
            StatusCode::FORBIDDEN,
            login_page(Some("A login from another site was refused."), key, &next),
        );
    }
    let addr = peer.map_or(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        |Extension(ConnectInfo(a))| a.ip(),
    );
    if let Err(wait) = limiter.check(addr) {
        let mut response = html(
            StatusCode::TOO_MANY_REQUESTS,
            login_page(
                Some(&format!(
                    "Too many login attempts from this address: try again in {wait} s."
                )),
                key,
                &next,
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    match check_credentials(&state, key, form.secret.trim()).await {
        Ok(project) => {
            tracing::info!(project = %project.api_key, %addr, "inspector login");
            let value = cookie::mint(
                &project.api_key,
                &project.api_secret,
                parlor_proto::unix_now(),
            );
            let set = cookie::set(&value, secure(&state, &headers));
            see_other(&next, set)
        }
        Err(Refused::Known) => {
            tracing::info!(project = %key, %addr, "inspector login refused");
            html(
                StatusCode::UNAUTHORIZED,
                login_page(Some(REFUSED), key, &next),
            )
        }
        Err(Refused::Unknown) => {
            // The key names no project: it may be a secret pasted into the wrong field,
            // so it is not logged.
            tracing::info!(%addr, "inspector login refused (unknown key)");
            html(
                StatusCode::UNAUTHORIZED,
                login_page(Some(REFUSED), key, &next),
            )
        }
        Err(Refused::Storage) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            login_page(
                Some("The server could not check the login; its log has details."),
                key,
                &next,
            ),
        ),
    }
}

/// `POST /inspector/logout`: clears the cookie, back to the login form.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    see_other("/inspector", cookie::clear(secure(&state, &headers)))
}

fn see_other(location: &str, set_cookie: String) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&set_cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    response
}

enum Refused {
    /// A project or application that exists, with the wrong secret or JWT.
    Known,
    /// No such project or application.
    Unknown,
    Storage,
}

/// An OpenTok project's key and secret, or an application's ID and REST JWT.
async fn check_credentials(state: &AppState, key: &str, secret: &str) -> Result<Project, Refused> {
    if key.is_empty() || key.len() > 64 || secret.is_empty() || secret.len() > 16 * 1024 {
        return Err(Refused::Unknown);
    }
    let lookup = key.to_owned();
    let (project, application) = state
        .db(move |s| Ok((s.project(&lookup)?, s.application(&lookup)?)))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storage failure checking an inspector login");
            Refused::Storage
        })?;
    let project = project.ok_or(Refused::Unknown)?;
    match application {
        Some(application) => {
            if application.deleted_at.is_some() {
                return Err(Refused::Known);
            }
            // An application proves itself as its REST calls do: a JWT signed with one of
            // its private keys, naming it.
            let claimed = app_auth::claimed_application_id(secret).map_err(|_| Refused::Known)?;
            if claimed != project.api_key {
                return Err(Refused::Known);
            }
            let keys = crate::applications::public_keys(&application);
            app_auth::verify(secret, &keys, parlor_proto::unix_now()).map_err(|e| {
                tracing::debug!(application = %Untrusted(key), "inspector login JWT refused: {e}");
                Refused::Known
            })?;
            Ok(project)
        }
        None => {
            // Digests of equal length, compared in constant time: neither the secret's
            // bytes nor its length show in the timing.
            let given = Sha256::digest(secret.as_bytes());
            let expected = Sha256::digest(project.api_secret.as_bytes());
            if bool::from(given.ct_eq(&expected)) {
                Ok(project)
            } else {
                Err(Refused::Known)
            }
        }
    }
}

// ---- the page's data: the Inspector API's handlers, for the cookie's project ----

fn auth(project: Project) -> (ProjectAuth, String) {
    let key = project.api_key.clone();
    (ProjectAuth(project), key)
}

async fn sessions(
    state: State<AppState>,
    InspectorLogin(project): InspectorLogin,
    page: Query<data::Page>,
) -> Result<Json<Value>, ApiError> {
    let (auth, key) = auth(project);
    data::sessions(state, auth, Path(key), page).await
}

async fn session(
    state: State<AppState>,
    InspectorLogin(project): InspectorLogin,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (auth, key) = auth(project);
    data::session(state, auth, Path((key, session_id))).await
}

async fn events(
    state: State<AppState>,
    InspectorLogin(project): InspectorLogin,
    Path(session_id): Path<String>,
    page: Query<data::Page>,
) -> Result<Json<Value>, ApiError> {
    let (auth, key) = auth(project);
    data::events(state, auth, Path((key, session_id)), page).await
}

async fn quality(
    state: State<AppState>,
    InspectorLogin(project): InspectorLogin,
    Path(session_id): Path<String>,
    query: Query<data::QualityQuery>,
) -> Result<Json<Value>, ApiError> {
    let (auth, key) = auth(project);
    data::quality(state, auth, Path((key, session_id)), query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_inspector() {
        assert_eq!(safe_next("/inspector"), "/inspector");
        assert_eq!(
            safe_next("/inspector/sessions/1_MX40NzAwMTIzNH5-"),
            "/inspector/sessions/1_MX40NzAwMTIzNH5-"
        );
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/inspector/../admin",
            "/inspector/sessions/",
            "/inspector/sessions/a/b",
            "/inspector/sessions/a?x=1",
            "/inspectorx",
            "/inspector/sessions/%2F%2Fevil",
        ] {
            assert_eq!(safe_next(bad), "/inspector", "{bad:?}");
        }
    }

    #[test]
    fn pages_escape_what_they_show() {
        let p = login_page(Some("<b>no</b>"), "\"><script>", "/inspector");
        assert!(p.contains("&lt;b&gt;no&lt;/b&gt;"));
        assert!(p.contains("&quot;&gt;&lt;script&gt;"));
        assert!(!p.contains("<script>"));
        assert!(!login_page(None, "", "/x").contains("{{"));
        assert!(!app_page("47001234").contains("{{"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        for page in [APP_HTML, LOGIN_HTML] {
            assert!(!page.contains("<script>"), "inline script");
            assert!(!page.contains("style="), "inline style");
            assert!(!page.contains("<style"), "inline style element");
            for handler in [" onclick=", " onload=", " onsubmit=", "javascript:"] {
                assert!(!page.contains(handler), "inline handler {handler}");
            }
        }
    }

    #[test]
    fn login_attempts_are_limited_per_address() {
        let limiter = LoginLimiter::new();
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for _ in 0..LOGIN_BURST {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert!((1..=LOGIN_REFILL_SECS + 1).contains(&wait), "{wait}");
        assert!(limiter.check(IpAddr::V4(Ipv4Addr::LOCALHOST)).is_ok());
    }
}
