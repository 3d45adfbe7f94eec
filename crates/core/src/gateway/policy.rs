//! The route policy: which operation of the catalogue each request to the protected origin
//! performs, or that a route is public. Anything the policy does not name is denied.
//!
//! # Format
//! A JSON document:
//!
//! ```json
//! { "version": 1,
//!   "routes": [
//!     { "method": "GET",  "path": "/api/builds/{build}", "operation": "read_builds" },
//!     { "method": "POST", "path": "/api/builds",         "operation": "run_build" },
//!     { "method": "GET",  "path": "/api/status",         "public": true } ] }
//! ```
//!
//! A path pattern is `/` or `/`-separated segments, each either a literal (letters, digits and
//! `-._~`) or a whole-segment parameter `{name}` (lowercase letters, digits, `_`). Every route
//! names exactly one of `operation` (from [`Operation`]) and `"public": true`.
//!
//! # Matching
//! A request's method is matched as sent (HTTP methods are case-sensitive): a method outside
//! [`Method`] (`PROPFIND`, `TRACE`, `get`...) is not implemented, whatever the path, and is never
//! treated as another method. A request matches a pattern with the same number of segments
//! whose literals equal the request's segments; a parameter matches any non-empty segment
//! except `.` and `..`. Among the routes with the request's method, the most specific match
//! wins: segments are compared left to right and a literal beats a parameter. Two routes with
//! the same method and the same shape (literals in the same places with the same text,
//! parameters in the same places) are a validation error, so a match is never a tie. A `HEAD`
//! request uses a `HEAD` route, else the `GET` route. No route for the path at all: not found;
//! routes for the path but none for the method: method not allowed, with the methods that are.

use crate::authz::Operation;
use crate::ids::excerpt;
use serde::Deserialize;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The policy format version this engine reads.
pub const POLICY_VERSION: u32 = 1;
/// The most routes one policy may hold.
pub const MAX_ROUTES: usize = 1_000;
/// The most segments one pattern may have.
pub const MAX_SEGMENTS: usize = 32;
const MAX_PATTERN_LEN: usize = 512;
const MAX_PARAM_NAME_LEN: usize = 32;

/// HTTP methods a route can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD (served by the GET route when no HEAD route exists).
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

impl Method {
    /// Every method, in the order `Allow` lists them.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];

    /// The method's name, upper case.
    pub const fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A method name the policy does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown method `{0}`")]
pub struct UnknownMethod(pub String);

impl FromStr for Method {
    type Err = UnknownMethod;

    /// Parses an upper-case method name, as HTTP spells it.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|method| method.name() == value)
            .ok_or_else(|| UnknownMethod(excerpt(value)))
    }
}

/// What a route requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: forwarded without a credential check.
    Public,
    /// A verified credential authorized for this operation.
    Operation(Operation),
}

/// Why a path pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    /// It does not start with `/`.
    #[error("must start with `/`")]
    NoLeadingSlash,
    /// It ends with `/` (other than the root pattern `/`).
    #[error("must not end with `/`")]
    TrailingSlash,
    /// It contains `//`.
    #[error("has an empty segment")]
    EmptySegment,
    /// Longer than allowed.
    #[error("is longer than {MAX_PATTERN_LEN} characters or {MAX_SEGMENTS} segments")]
    TooLong,
    /// A literal segment with a character outside `A-Z a-z 0-9 - . _ ~`, or `.` / `..`.
    #[error("segment `{0}` is not a plain literal (letters, digits, `-._~`) or a `{{parameter}}`")]
    BadLiteral(String),
    /// A parameter name that is not lowercase letters, digits and `_` starting with a letter
    /// or `_`, or a brace that is not a whole segment.
    #[error("parameter `{0}` must be a whole segment `{{name}}` with a lowercase name")]
    BadParameter(String),
    /// The same parameter name twice.
    #[error("parameter `{0}` appears twice")]
    DuplicateParameter(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
}

/// A parsed path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Binds the request path's segments, or `None` when it does not match.
    fn bind<'p>(&self, path: &[&'p str]) -> Option<Vec<(String, &'p str)>> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, value) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(literal) if literal == value => {}
                Segment::Literal(_) => return None,
                Segment::Parameter(name) if parameter_value_allowed(value) => {
                    params.push((name.clone(), *value));
                }
                Segment::Parameter(_) => return None,
            }
        }
        Some(params)
    }

    /// Precedence: segment by segment from the left, a literal before a parameter.
    fn specificity(&self, other: &Self) -> Ordering {
        for (mine, theirs) in self.segments.iter().zip(&other.segments) {
            match (mine, theirs) {
                (Segment::Literal(_), Segment::Parameter(_)) => return Ordering::Less,
                (Segment::Parameter(_), Segment::Literal(_)) => return Ordering::Greater,
                _ => {}
            }
        }
        self.segments.len().cmp(&other.segments.len())
    }

    /// Whether both patterns match exactly the same paths.
    fn same_shape(&self, other: &Self) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Parameter(_), Segment::Parameter(_)) => true,
                    _ => false,
                })
    }
}

/// A parameter never matches an empty, `.` or `..` segment (also percent-encoded), so a path
/// parameter cannot be used to walk up the origin's tree.
fn parameter_value_allowed(value: &str) -> bool {
    let decoded = value.to_ascii_lowercase().replace("%2e", ".");
    !value.is_empty() && decoded != "." && decoded != ".."
}

fn literal_allowed(segment: &str) -> bool {
    segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

fn parameter_name(segment: &str) -> Option<&str> {
    let name = segment.strip_prefix('{')?.strip_suffix('}')?;
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase() || byte == b'_');
    let rest_ok =
        bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    (first_ok && rest_ok && name.len() <= MAX_PARAM_NAME_LEN).then_some(name)
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong);
        }
        let body = text.strip_prefix('/').ok_or(PatternError::NoLeadingSlash)?;
        if body.is_empty() {
            return Ok(Self {
                text: text.to_owned(),
                segments: Vec::new(),
            });
        }
        if body.ends_with('/') {
            return Err(PatternError::TrailingSlash);
        }
        let mut segments = Vec::new();
        for segment in body.split('/') {
            if segment.is_empty() {
                return Err(PatternError::EmptySegment);
            }
            if segment.contains(['{', '}']) {
                let name = parameter_name(segment)
                    .ok_or_else(|| PatternError::BadParameter(excerpt(segment)))?;
                if segments
                    .iter()
                    .any(|known| matches!(known, Segment::Parameter(n) if n == name))
                {
                    return Err(PatternError::DuplicateParameter(name.to_owned()));
                }
                segments.push(Segment::Parameter(name.to_owned()));
            } else if literal_allowed(segment) {
                segments.push(Segment::Literal(segment.to_owned()));
            } else {
                return Err(PatternError::BadLiteral(excerpt(segment)));
            }
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(PatternError::TooLong);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }
}

/// One route of a valid policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path pattern.
    pub pattern: Pattern,
    /// What it requires.
    pub access: Access,
}

/// One problem found in a policy. Routes are numbered from 0, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyProblem {
    /// Not JSON, or not the policy's shape (unknown field, wrong type...).
    #[error("policy is not valid: {0}")]
    Syntax(String),
    /// A format version this engine does not read.
    #[error("policy version {0} is not supported (expected {POLICY_VERSION})")]
    UnsupportedVersion(u32),
    /// No route at all (everything would be denied).
    #[error("policy has no routes")]
    NoRoutes,
    /// More routes than allowed.
    #[error("policy has more than {MAX_ROUTES} routes")]
    TooManyRoutes,
    /// An unknown method.
    #[error("route {route}: unknown method `{method}`")]
    UnknownMethod {
        /// The route's index.
        route: usize,
        /// The method as written.
        method: String,
    },
    /// A path pattern that does not parse.
    #[error("route {route}: path `{pattern}` {reason}")]
    BadPattern {
        /// The route's index.
        route: usize,
        /// The pattern as written.
        pattern: String,
        /// Why.
        reason: PatternError,
    },
    /// An operation the catalogue does not have.
    #[error("route {route}: unknown operation `{operation}`")]
    UnknownOperation {
        /// The route's index.
        route: usize,
        /// The operation as written.
        operation: String,
    },
    /// Neither an operation nor public, or both.
    #[error("route {route}: give exactly one of `operation` and `\"public\": true`")]
    AccessUnclear {
        /// The route's index.
        route: usize,
    },
    /// Two routes with the same method match exactly the same paths.
    #[error(
        "routes {first} and {second}: `{method} {pattern}` is ambiguous (same method, same path shape)"
    )]
    Ambiguous {
        /// The earlier route.
        first: usize,
        /// The later route.
        second: usize,
        /// Their method.
        method: Method,
        /// The later route's pattern.
        pattern: String,
    },
}

impl PolicyProblem {
    /// A stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            PolicyProblem::Syntax(_) => "syntax",
            PolicyProblem::UnsupportedVersion(_) => "unsupported_version",
            PolicyProblem::NoRoutes => "no_routes",
            PolicyProblem::TooManyRoutes => "too_many_routes",
            PolicyProblem::UnknownMethod { .. } => "unknown_method",
            PolicyProblem::BadPattern { .. } => "bad_pattern",
            PolicyProblem::UnknownOperation { .. } => "unknown_operation",
            PolicyProblem::AccessUnclear { .. } => "access_unclear",
            PolicyProblem::Ambiguous { .. } => "ambiguous_routes",
        }
    }
}

/// A refused policy, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid route policy: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PolicyError {
    /// Every problem, in file order.
    pub problems: Vec<PolicyProblem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: u32,
    routes: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    method: String,
    path: String,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    public: bool,
    /// Free text for people reading the file.
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for readers of the policy file")]
    description: Option<String>,
}

/// A validated route policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Routes sorted by precedence (most specific first).
    routes: Vec<Route>,
}

/// The outcome of matching a request against the policy. Only [`RouteMatch::Matched`] may
/// reach the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMatch<'a, 'p> {
    /// The route that applies, and the path's parameters.
    Matched {
        /// The route.
        route: &'a Route,
        /// Parameter name → the request's segment, in path order.
        params: Vec<(String, &'p str)>,
    },
    /// Routes exist for this path, but none for this method; the methods that exist.
    MethodNotAllowed(Vec<Method>),
    /// No route matches the path: denied.
    NotFound,
    /// A method outside [`Method`]: the gateway does not implement it for any path.
    MethodNotImplemented,
}

impl RoutePolicy {
    /// Parses and validates a policy document, reporting every problem at once.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = serde_json::from_str(text).map_err(|error| PolicyError {
            problems: vec![PolicyProblem::Syntax(excerpt(&error.to_string()))],
        })?;
        let mut problems = Vec::new();
        if raw.version != POLICY_VERSION {
            problems.push(PolicyProblem::UnsupportedVersion(raw.version));
        }
        if raw.routes.is_empty() {
            problems.push(PolicyProblem::NoRoutes);
        }
        if raw.routes.len() > MAX_ROUTES {
            problems.push(PolicyProblem::TooManyRoutes);
        }
        let mut routes: Vec<(usize, Route)> = Vec::new();
        for (index, raw_route) in raw.routes.into_iter().enumerate() {
            if let Some(route) = validate_route(index, raw_route, &mut problems) {
                if let Some((first, _)) = routes.iter().find(|(_, known)| {
                    known.method == route.method && known.pattern.same_shape(&route.pattern)
                }) {
                    problems.push(PolicyProblem::Ambiguous {
                        first: *first,
                        second: index,
                        method: route.method,
                        pattern: route.pattern.text.clone(),
                    });
                }
                routes.push((index, route));
            }
        }
        if !problems.is_empty() {
            return Err(PolicyError { problems });
        }
        let mut routes: Vec<Route> = routes.into_iter().map(|(_, route)| route).collect();
        routes.sort_by(|a, b| a.pattern.specificity(&b.pattern));
        Ok(Self { routes })
    }

    /// The routes, most specific first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Finds the route for a request as it arrived: its method name as sent, and its URL
    /// path. A method outside [`Method`] is [`RouteMatch::MethodNotImplemented`].
    pub fn find_request<'a, 'p>(&'a self, method: &str, path: &'p str) -> RouteMatch<'a, 'p> {
        match method.parse::<Method>() {
            Ok(method) => self.find(method, path),
            Err(_) => RouteMatch::MethodNotImplemented,
        }
    }

    /// Finds the route for `method` and `path` (the URL path, without the query).
    /// A trailing `/` is ignored.
    pub fn find<'a, 'p>(&'a self, method: Method, path: &'p str) -> RouteMatch<'a, 'p> {
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let segments: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let wanted = |route_method: Method| {
            route_method == method
                || (method == Method::Head
                    && route_method == Method::Get
                    && !self.has_explicit_head(&segments))
        };
        let mut allowed: Vec<Method> = Vec::new();
        for route in &self.routes {
            if let Some(params) = route.pattern.bind(&segments) {
                if wanted(route.method) {
                    return RouteMatch::Matched { route, params };
                }
                allowed.push(route.method);
                if route.method == Method::Get {
                    allowed.push(Method::Head);
                }
            }
        }
        if allowed.is_empty() {
            RouteMatch::NotFound
        } else {
            allowed.sort_unstable();
            allowed.dedup();
            RouteMatch::MethodNotAllowed(allowed)
        }
    }

    fn has_explicit_head(&self, segments: &[&str]) -> bool {
        self.routes
            .iter()
            .any(|route| route.method == Method::Head && route.pattern.bind(segments).is_some())
    }
}

fn validate_route(index: usize, raw: RawRoute, problems: &mut Vec<PolicyProblem>) -> Option<Route> {
    let method = raw
        .method
        .parse::<Method>()
        .map_err(|error| {
            problems.push(PolicyProblem::UnknownMethod {
                route: index,
                method: error.0,
            });
        })
        .ok();
    let pattern = raw
        .path
        .parse::<Pattern>()
        .map_err(|reason| {
            problems.push(PolicyProblem::BadPattern {
                route: index,
                pattern: excerpt(&raw.path),
                reason,
            });
        })
        .ok();
    let access = match (raw.operation, raw.public) {
        (Some(name), false) => name
            .parse::<Operation>()
            .map(Access::Operation)
            .map_err(|error| {
                problems.push(PolicyProblem::UnknownOperation {
                    route: index,
                    operation: error.0,
                });
            })
            .ok(),
        (None, true) => Some(Access::Public),
        _ => {
            problems.push(PolicyProblem::AccessUnclear { route: index });
            None
        }
    };
    Some(Route {
        method: method?,
        pattern: pattern?,
        access: access?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(routes: &str) -> Result<RoutePolicy, PolicyError> {
        RoutePolicy::from_json(&format!(r#"{{"version":1,"routes":[{routes}]}}"#))
    }

    fn codes(error: &PolicyError) -> Vec<&'static str> {
        error.problems.iter().map(PolicyProblem::code).collect()
    }

    fn access(policy: &RoutePolicy, method: Method, path: &str) -> Option<Access> {
        match policy.find(method, path) {
            RouteMatch::Matched { route, .. } => Some(route.access),
            _ => None,
        }
    }

    const SAMPLE: &str = r#"
        {"method":"GET","path":"/api/builds/{build}","operation":"read_builds"},
        {"method":"GET","path":"/api/builds/latest","operation":"read_build_logs"},
        {"method":"POST","path":"/api/builds","operation":"run_build"},
        {"method":"GET","path":"/api/builds/{build}/log","operation":"read_build_logs"},
        {"method":"GET","path":"/api/{area}/status","public":true},
        {"method":"GET","path":"/api/config/{key}","operation":"read_configuration"},
        {"method":"GET","path":"/","public":true}
    "#;

    #[test]
    fn parameters_bind_and_literals_must_match() {
        let policy = policy(SAMPLE).unwrap();
        match policy.find(Method::Get, "/api/builds/b-42/log") {
            RouteMatch::Matched { route, params } => {
                assert_eq!(route.pattern.as_str(), "/api/builds/{build}/log");
                assert_eq!(params, vec![("build".to_owned(), "b-42")]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            access(&policy, Method::Post, "/api/builds/"),
            Some(Access::Operation(Operation::RunBuild)),
            "a trailing slash is ignored"
        );
        assert_eq!(access(&policy, Method::Get, "/"), Some(Access::Public));
        assert_eq!(access(&policy, Method::Get, "/API/builds/1"), None);
    }

    #[test]
    fn a_literal_beats_a_parameter_from_the_left() {
        let policy = policy(SAMPLE).unwrap();
        assert_eq!(
            access(&policy, Method::Get, "/api/builds/latest"),
            Some(Access::Operation(Operation::ReadBuildLogs))
        );
        assert_eq!(
            access(&policy, Method::Get, "/api/builds/other"),
            Some(Access::Operation(Operation::ReadBuilds))
        );
        // `/api/config/status` matches both `/api/config/{key}` and `/api/{area}/status`: the
        // leftmost literal (`config`) decides.
        assert_eq!(
            access(&policy, Method::Get, "/api/config/status"),
            Some(Access::Operation(Operation::ReadConfiguration))
        );
        assert_eq!(
            access(&policy, Method::Get, "/api/builds/status"),
            Some(Access::Operation(Operation::ReadBuilds))
        );
        assert_eq!(
            access(&policy, Method::Get, "/api/health/status"),
            Some(Access::Public)
        );
    }

    #[test]
    fn a_less_specific_route_of_the_right_method_serves_when_the_best_has_another() {
        let policy = policy(
            r#"{"method":"GET","path":"/api/builds/{build}","operation":"read_builds"},
               {"method":"DELETE","path":"/api/builds/latest","operation":"run_build"}"#,
        )
        .unwrap();
        assert_eq!(
            access(&policy, Method::Get, "/api/builds/latest"),
            Some(Access::Operation(Operation::ReadBuilds))
        );
    }

    #[test]
    fn unknown_paths_are_denied_and_wrong_methods_list_the_allowed_ones() {
        let policy = policy(SAMPLE).unwrap();
        for path in [
            "/api",
            "/api/builds/1/log/extra",
            "/api/secrets",
            "/v2/whoami",
            "/api//1",
            "/api/builds/../log",
            "/api/builds/%2E%2e/log",
        ] {
            assert_eq!(
                policy.find(Method::Get, path),
                RouteMatch::NotFound,
                "{path}"
            );
        }
        assert_eq!(
            policy.find(Method::Delete, "/api/builds"),
            RouteMatch::MethodNotAllowed(vec![Method::Post])
        );
        assert_eq!(
            policy.find(Method::Put, "/api/builds/9"),
            RouteMatch::MethodNotAllowed(vec![Method::Get, Method::Head])
        );
    }

    /// Security review (issue 11): `PROPFIND /api/configuration` was forwarded and signed as
    /// `GET`. A method outside the policy's catalogue is not implemented, on every path.
    #[test]
    fn unknown_methods_are_not_implemented_never_treated_as_get() {
        let policy = policy(SAMPLE).unwrap();
        for method in [
            "PROPFIND", "TRACE", "CONNECT", "REPORT", "MKCOL", "get", "Get", "patch", "", "GET ",
        ] {
            for path in ["/api/builds/1", "/", "/nowhere"] {
                assert_eq!(
                    policy.find_request(method, path),
                    RouteMatch::MethodNotImplemented,
                    "{method:?} {path}"
                );
            }
        }
        assert_eq!(
            policy.find_request("GET", "/api/builds/1"),
            policy.find(Method::Get, "/api/builds/1")
        );
        assert!(matches!(
            policy.find_request("HEAD", "/api/builds/1"),
            RouteMatch::Matched { .. }
        ));
        // A method the gateway knows but the path has no route for stays 405 with the others.
        assert_eq!(
            policy.find_request("OPTIONS", "/api/builds/1"),
            RouteMatch::MethodNotAllowed(vec![Method::Get, Method::Head])
        );
        assert_eq!(
            policy.find_request("OPTIONS", "/nowhere"),
            RouteMatch::NotFound
        );
    }

    #[test]
    fn head_uses_the_get_route_unless_it_has_its_own() {
        let sample = policy(SAMPLE).unwrap();
        assert_eq!(
            access(&sample, Method::Head, "/api/builds/7"),
            Some(Access::Operation(Operation::ReadBuilds))
        );
        let explicit = policy(
            r#"{"method":"GET","path":"/x","operation":"read_builds"},
               {"method":"HEAD","path":"/x","public":true}"#,
        )
        .unwrap();
        assert_eq!(access(&explicit, Method::Head, "/x"), Some(Access::Public));
        assert_eq!(
            access(&explicit, Method::Get, "/x"),
            Some(Access::Operation(Operation::ReadBuilds))
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let error = policy(
            r#"{"method":"FETCH","path":"/a","operation":"read_builds"},
               {"method":"GET","path":"a/b","operation":"read_builds"},
               {"method":"GET","path":"/b","operation":"launch_missiles"},
               {"method":"GET","path":"/c"},
               {"method":"GET","path":"/d","operation":"read_builds","public":true},
               {"method":"GET","path":"/e/{id}","operation":"read_builds"},
               {"method":"GET","path":"/e/{name}","public":true}"#,
        )
        .unwrap_err();
        assert_eq!(
            codes(&error),
            [
                "unknown_method",
                "bad_pattern",
                "unknown_operation",
                "access_unclear",
                "access_unclear",
                "ambiguous_routes"
            ]
        );
        assert_eq!(
            error.problems.last(),
            Some(&PolicyProblem::Ambiguous {
                first: 5,
                second: 6,
                method: Method::Get,
                pattern: "/e/{name}".into()
            })
        );
        let text = error.to_string();
        assert!(
            text.contains("route 2: unknown operation `launch_missiles`"),
            "{text}"
        );
    }

    #[test]
    fn duplicates_are_ambiguous_but_other_methods_and_shapes_are_not() {
        let duplicate = policy(
            r#"{"method":"GET","path":"/a/{x}","operation":"read_builds"},
               {"method":"GET","path":"/a/{x}","operation":"run_build"}"#,
        )
        .unwrap_err();
        assert_eq!(codes(&duplicate), ["ambiguous_routes"]);
        policy(
            r#"{"method":"GET","path":"/a/{x}","operation":"read_builds"},
               {"method":"POST","path":"/a/{x}","operation":"run_build"},
               {"method":"GET","path":"/a/b","operation":"run_build"},
               {"method":"GET","path":"/{y}/b","operation":"run_build"}"#,
        )
        .unwrap();
    }

    #[test]
    fn bad_patterns_say_why() {
        for (pattern, expected) in [
            ("api", PatternError::NoLeadingSlash),
            ("/api/", PatternError::TrailingSlash),
            ("/api//x", PatternError::EmptySegment),
            ("/api/a b", PatternError::BadLiteral("a b".into())),
            ("/api/..", PatternError::BadLiteral("..".into())),
            ("/api/v{id}", PatternError::BadParameter("v{id}".into())),
            ("/api/{Id}", PatternError::BadParameter("{Id}".into())),
            ("/api/{}", PatternError::BadParameter("{}".into())),
            (
                "/{id}/x/{id}",
                PatternError::DuplicateParameter("id".into()),
            ),
        ] {
            assert_eq!(pattern.parse::<Pattern>(), Err(expected), "{pattern}");
        }
        assert_eq!(
            "/a".repeat(MAX_SEGMENTS + 1).parse::<Pattern>(),
            Err(PatternError::TooLong)
        );
    }

    #[test]
    fn document_level_problems() {
        let wrong_version = RoutePolicy::from_json(r#"{"version":2,"routes":[]}"#).unwrap_err();
        assert_eq!(codes(&wrong_version), ["unsupported_version", "no_routes"]);
        for text in [
            "",
            "[]",
            r#"{"version":1}"#,
            r#"{"version":1,"routes":[],"extra":true}"#,
            r#"{"version":1,"routes":[{"method":"GET","path":"/a","public":true,"who":1}]}"#,
        ] {
            let error = RoutePolicy::from_json(text).unwrap_err();
            assert_eq!(codes(&error), ["syntax"], "{text}");
        }
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("{p}".to_owned()),
            Just("{q}".to_owned()),
        ]
    }

    proptest! {
        /// Whatever the routes, a request matched is matched by a route whose pattern binds
        /// it, and no other binding route of that method is more specific.
        #[test]
        fn the_match_is_the_most_specific_binding_route(
            patterns in proptest::collection::vec(proptest::collection::vec(segment(), 0..4), 1..8),
            request in proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..4),
        ) {
            let routes: Vec<String> = patterns
                .iter()
                .map(|segments| {
                    // Distinct parameter names per pattern keep patterns valid.
                    let renamed: Vec<String> = segments
                        .iter()
                        .enumerate()
                        .map(|(i, s)| if s.starts_with('{') { format!("{{p{i}}}") } else { s.clone() })
                        .collect();
                    format!(r#"{{"method":"GET","path":"/{}","public":true}}"#, renamed.join("/"))
                })
                .collect();
            let Ok(policy) = policy(&routes.join(",")) else {
                // Ambiguous sets are refused; nothing to match.
                return Ok(());
            };
            let path = format!("/{}", request.join("/"));
            let binding: Vec<&Route> = policy
                .routes()
                .iter()
                .filter(|route| route.pattern.bind(&request).is_some())
                .collect();
            match policy.find(Method::Get, &path) {
                RouteMatch::Matched { route, .. } => {
                    prop_assert!(route.pattern.bind(&request).is_some());
                    for other in binding {
                        prop_assert_ne!(other.pattern.specificity(&route.pattern), Ordering::Less);
                    }
                }
                RouteMatch::NotFound => prop_assert!(binding.is_empty()),
                RouteMatch::MethodNotAllowed(_) => prop_assert!(false, "only GET routes"),
                other => prop_assert!(false, "plain segments and GET: {:?}", other),
            }
        }
    }
}
