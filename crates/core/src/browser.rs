//! Sessions in a browser: the session cookie and the CSRF token that state-changing requests
//! made with it must carry.
//!
//! # Choices
//! - A browser holds its session in the cookie [`SESSION_COOKIE`], set by the sign-in answer
//!   when asked (`"cookie": true`) with `HttpOnly` (scripts never read it), `Secure`,
//!   `SameSite=Lax` (sent on top-level navigations back from an identity provider, not on
//!   cross-site subresource or form posts) and `Path=/` with no `Domain` (the `__Host-` prefix
//!   makes browsers enforce exactly that). The sign-in answer then omits the session itself.
//! - API clients send the session as `Authorization: Bearer pcss_…`; a header a page cannot
//!   make a browser attach on its own needs no CSRF token. When both are present, the header
//!   is the credential and the cookie is ignored.
//! - A request authenticated by the cookie with a method that changes state (anything but
//!   `GET`, `HEAD` and `OPTIONS`) must carry the session's CSRF token in [`CSRF_HEADER`]: a
//!   MAC of the session id under the hashing key, in its own domain, so the edge checks it with
//!   no storage and a page of another origin cannot know it. The token is in the sign-in answer
//!   and in `GET /v1/whoami`; it lives as long as the session.

use crate::secret::{HashingKey, SecretHash};
use crate::session::SessionId;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The cookie a browser keeps its session in.
pub const SESSION_COOKIE: &str = "__Host-portcullis_session";
/// The header carrying the CSRF token on cookie-authenticated state-changing requests.
pub const CSRF_HEADER: &str = "portcullis-csrf";
const CSRF_DOMAIN: &str = "portcullis/csrf/v1";
/// Longest `Cookie` header read, in bytes (a longer one is read as carrying no session).
const MAX_COOKIE_HEADER: usize = 8 * 1024;

/// The CSRF token of a session: base64url (no padding) of HMAC-SHA256 of its id.
pub fn csrf_token(key: &HashingKey, session_id: &SessionId) -> String {
    URL_SAFE_NO_PAD.encode(
        key.hash(CSRF_DOMAIN, session_id.as_str().as_bytes())
            .as_bytes(),
    )
}

/// Whether `presented` is the CSRF token of `session_id` (constant time).
pub fn csrf_matches(key: &HashingKey, session_id: &SessionId, presented: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
        return false;
    };
    let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        return false;
    };
    key.verify(
        CSRF_DOMAIN,
        session_id.as_str().as_bytes(),
        &SecretHash::from_bytes(bytes),
    )
}

/// Whether a request with `method` (as sent) changes state, so that a cookie-authenticated
/// one must carry the CSRF token.
pub fn changes_state(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Whether a request authenticated by the session `session_id` passes the CSRF rule: one that
/// presented the session through the cookie (`via_cookie`) with a `method` that changes state
/// must carry the session's token (`presented`, the [`CSRF_HEADER`] value); any other needs
/// none.
pub fn csrf_satisfied(
    key: &HashingKey,
    session_id: &SessionId,
    via_cookie: bool,
    method: &str,
    presented: Option<&str>,
) -> bool {
    !(via_cookie && changes_state(method))
        || presented.is_some_and(|token| csrf_matches(key, session_id, token))
}

/// How a request presents a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presentation<'a> {
    /// `Authorization: <value>` (a token or a session).
    Header(&'a str),
    /// The session cookie's value.
    Cookie(&'a str),
    /// Neither.
    Nothing,
}

/// Where the credential of a request is: the `Authorization` header when there is one, else
/// the session cookie.
pub fn presentation<'a>(
    authorization: Option<&'a str>,
    cookie: Option<&'a str>,
) -> Presentation<'a> {
    if let Some(header) = authorization {
        return Presentation::Header(header);
    }
    match cookie.and_then(session_cookie) {
        Some(session) => Presentation::Cookie(session),
        None => Presentation::Nothing,
    }
}

/// The session cookie's value in a `Cookie` header, if present (the first one wins).
pub fn session_cookie(header: &str) -> Option<&str> {
    cookie(header, SESSION_COOKIE)
}

/// The value of cookie `wanted` in a `Cookie` header, if present (the first one wins).
fn cookie<'h>(header: &'h str, wanted: &str) -> Option<&'h str> {
    if header.len() > MAX_COOKIE_HEADER {
        return None;
    }
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == wanted).then(|| value.trim().trim_matches('"'))
    })
}

/// The cookie binding an SSO sign-in under way to the browser that started it: the sign-in's
/// `state`, set when the browser is sent to the identity provider and required, equal, when the
/// provider sends it back (so a callback URL forged into another browser completes nothing).
/// OpenID Connect comes back with a top-level redirect, which a `SameSite=Lax` cookie
/// accompanies.
pub const SSO_STATE_COOKIE: &str = "__Host-portcullis_sso_state";
/// The same for SAML, whose identity provider comes back with a cross-site form POST: a
/// `SameSite=Lax` cookie is not sent with it, so this one is `SameSite=None` (still `Secure`,
/// `HttpOnly` and `__Host-`: no other site can read or set it).
pub const SAML_STATE_COOKIE: &str = "__Host-portcullis_saml_state";

/// How an identity provider sends the browser back, which decides the state cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsoReturn {
    /// A redirect (OpenID Connect): [`SSO_STATE_COOKIE`], `SameSite=Lax`.
    Redirect,
    /// A cross-site form POST (SAML's HTTP-POST binding): [`SAML_STATE_COOKIE`],
    /// `SameSite=None`.
    FormPost,
}

impl SsoReturn {
    const fn cookie(self) -> (&'static str, &'static str) {
        match self {
            SsoReturn::Redirect => (SSO_STATE_COOKIE, "Lax"),
            SsoReturn::FormPost => (SAML_STATE_COOKIE, "None"),
        }
    }
}

/// The `Set-Cookie` value holding an SSO sign-in's `state` for `max_age_seconds`.
pub fn set_sso_state_cookie(state: &str, max_age_seconds: u64, via: SsoReturn) -> String {
    let (name, same_site) = via.cookie();
    format!(
        "{name}={state}; Path=/; Secure; HttpOnly; SameSite={same_site}; Max-Age={max_age_seconds}"
    )
}

/// The `Set-Cookie` value that removes the SSO state cookie (the sign-in is over).
pub fn clear_sso_state_cookie(via: SsoReturn) -> String {
    set_sso_state_cookie("", 0, via)
}

/// Whether the request's `Cookie` header carries the SSO state cookie equal to `state`
/// (constant time).
pub fn sso_state_matches(cookie_header: Option<&str>, state: &str, via: SsoReturn) -> bool {
    use subtle::ConstantTimeEq as _;
    cookie_header
        .and_then(|header| cookie(header, via.cookie().0))
        .is_some_and(|held| bool::from(held.as_bytes().ct_eq(state.as_bytes())))
}

/// The `Set-Cookie` value holding `session` for `max_age_seconds`.
pub fn set_cookie(session: &str, max_age_seconds: u64) -> String {
    format!(
        "{SESSION_COOKIE}={session}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}"
    )
}

/// The `Set-Cookie` value that removes the session cookie (after sign-out).
pub fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn key() -> HashingKey {
        HashingKey::from_bytes(&[7; 32]).unwrap()
    }

    #[test]
    fn the_csrf_token_is_bound_to_the_session_and_the_key() {
        let first = crate::session::generate(&mut SeededRandom::new(1), &key()).id;
        let second = crate::session::generate(&mut SeededRandom::new(2), &key()).id;
        let token = csrf_token(&key(), &first);
        assert!(csrf_matches(&key(), &first, &token));
        assert!(csrf_matches(&key(), &first, &format!(" {token} ")));
        assert!(!csrf_matches(&key(), &second, &token));
        let other_key = HashingKey::from_bytes(&[8; 32]).unwrap();
        assert!(!csrf_matches(&other_key, &first, &token));
        for junk in ["", "x", "%%%", &token[..10], &format!("{token}AA")] {
            assert!(!csrf_matches(&key(), &first, junk), "{junk}");
        }
    }

    #[test]
    fn only_cookie_state_changes_need_the_csrf_token() {
        let session = crate::session::generate(&mut SeededRandom::new(1), &key()).id;
        let token = csrf_token(&key(), &session);
        let satisfied = |via_cookie, method, presented: Option<&str>| {
            csrf_satisfied(&key(), &session, via_cookie, method, presented)
        };
        for method in ["POST", "PUT", "PATCH", "DELETE", "PROPFIND", "post"] {
            assert!(!satisfied(true, method, None), "{method}");
            assert!(!satisfied(true, method, Some("forged")), "{method}");
            assert!(satisfied(true, method, Some(&token)), "{method}");
            assert!(
                satisfied(false, method, None),
                "{method}: bearer needs none"
            );
        }
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert!(satisfied(true, method, None), "{method}");
        }
    }

    #[test]
    fn the_header_wins_over_the_cookie() {
        let cookie = format!("theme=dark; {SESSION_COOKIE}=pcss_abc; other=1");
        assert_eq!(
            presentation(Some("Bearer pctk_x"), Some(&cookie)),
            Presentation::Header("Bearer pctk_x")
        );
        assert_eq!(
            presentation(None, Some(&cookie)),
            Presentation::Cookie("pcss_abc")
        );
        assert_eq!(
            presentation(None, Some("theme=dark")),
            Presentation::Nothing
        );
        assert_eq!(presentation(None, None), Presentation::Nothing);
        let long = format!(
            "{SESSION_COOKIE}=pcss_abc; pad={}",
            "x".repeat(MAX_COOKIE_HEADER)
        );
        assert_eq!(presentation(None, Some(&long)), Presentation::Nothing);
        assert_eq!(
            session_cookie(&format!("{SESSION_COOKIE}=\"pcss_q\"")),
            Some("pcss_q")
        );
    }

    #[test]
    fn the_sso_state_must_come_back_in_its_cookie() {
        let redirect = SsoReturn::Redirect;
        let header = format!("a=1; {SSO_STATE_COOKIE}=acc_1.xyz");
        assert!(sso_state_matches(Some(&header), "acc_1.xyz", redirect));
        assert!(!sso_state_matches(Some(&header), "acc_1.xy", redirect));
        assert!(!sso_state_matches(Some("a=1"), "acc_1.xyz", redirect));
        assert!(!sso_state_matches(None, "acc_1.xyz", redirect));
        // SAML's cookie is another one, and goes with the IdP's cross-site POST.
        assert!(!sso_state_matches(
            Some(&header),
            "acc_1.xyz",
            SsoReturn::FormPost
        ));
        let saml = format!("{SAML_STATE_COOKIE}=acc_1.xyz");
        assert!(sso_state_matches(
            Some(&saml),
            "acc_1.xyz",
            SsoReturn::FormPost
        ));
        let set = set_sso_state_cookie("s", 600, redirect);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        let set = set_sso_state_cookie("s", 600, SsoReturn::FormPost);
        assert!(set.starts_with("__Host-portcullis_saml_state=s;"), "{set}");
        assert!(
            set.contains("Secure") && set.contains("SameSite=None"),
            "{set}"
        );
        assert!(clear_sso_state_cookie(redirect).contains("Max-Age=0"));
    }

    #[test]
    fn only_safe_methods_skip_the_csrf_check() {
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert!(!changes_state(method));
        }
        for method in ["POST", "PUT", "PATCH", "DELETE", "get", "PROPFIND", ""] {
            assert!(changes_state(method), "{method}");
        }
    }

    #[test]
    fn cookies_carry_the_documented_attributes() {
        let set = set_cookie("pcss_x", 60);
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=60"] {
            assert!(set.contains(attribute), "{set}");
        }
        assert!(set.starts_with("__Host-portcullis_session=pcss_x;"));
        assert!(!set.contains("Domain"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
