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
//! names exactly one of `operation` (from [`Operation`]) and `"public": true`. A route may list
//! `"allow_encoded_separators": ["name", ...]`, parameters of its pattern whose value may hold
//! an encoded `/` or `\` or a `;` (see [`ParameterProblem`]).
//!
//! # Matching
//! A request's method is matched as sent (HTTP methods are case-sensitive): a method outside
//! [`Method`] (`PROPFIND`, `TRACE`, `get`...) is not implemented, whatever the path, and is never
//! treated as another method. A request matches a pattern with the same number of segments
//! whose literals equal the request's segments; a parameter matches any non-empty segment.
//! Among the routes with the request's method, the most specific match wins: segments are
//! compared left to right and a literal beats a parameter. Two routes with the same method and
//! the same shape (literals in the same places with the same text, parameters in the same
//! places) are a validation error, so a match is never a tie. A `HEAD` request uses a `HEAD`
//! route, else the `GET` route. No route for the path at all: not found; routes for the path but
//! none for the method: method not allowed, with the methods that are.
//!
//! # Parameter values
//! The origin may decode a parameter before it routes, so a value that decodes into another
//! path is refused, never forwarded with the matched route's operation: a value that holds,
//! as sent or after any number of percent-decodings (up to [`MAX_DECODINGS`]; a value still
//! encoded after that is refused too), a NUL, a `.` or `..` segment, an encoded `/` or `\`, or
//! a `;` (path parameters, which many servers strip). The last two are allowed for the
//! parameters a route lists in `allow_encoded_separators` (for origins that treat the value as
//! opaque, e.g. `group%2Fproject`); a `.` or `..` piece between them stays refused.

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
/// How many times over a parameter value is percent-decoded and checked; a value that still
/// decodes into something else after that is refused.
pub const MAX_DECODINGS: usize = 3;

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
                Segment::Parameter(name) if !value.is_empty() => {
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

    /// Whether `name` is one of the pattern's parameters.
    fn has_parameter(&self, name: &str) -> bool {
        self.segments
            .iter()
            .any(|segment| matches!(segment, Segment::Parameter(known) if known == name))
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

/// Why a parameter's value was refused: the origin could read it as another path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ParameterProblem {
    /// A NUL byte (`%00`): C strings end there.
    #[error("holds a NUL byte")]
    Nul,
    /// `.` or `..` once decoded (`%2e%2e`, `%252e%252e`), or a piece between decoded
    /// separators that is: a walk up the origin's tree.
    #[error("holds a `.` or `..` segment once decoded")]
    DotSegment,
    /// An encoded `/` or `\` (`%2F`, `%5C`, `%252F`...): another path once decoded.
    #[error("holds an encoded `/` or `\\`")]
    EncodedSeparator,
    /// A `;` (also `%3B`): many servers cut path parameters off there.
    #[error("holds a `;`")]
    Semicolon,
    /// Still percent-encoded after [`MAX_DECODINGS`] decodings.
    #[error("is percent-encoded more than {MAX_DECODINGS} times over")]
    TooDeeplyEncoded,
}

/// Checks a parameter's value as sent and after each percent-decoding (see the module
/// documentation); `separators_allowed` when the route lists the parameter in
/// `allow_encoded_separators`.
pub fn check_parameter(value: &str, separators_allowed: bool) -> Result<(), ParameterProblem> {
    let mut level = value.as_bytes().to_vec();
    for _ in 0..MAX_DECODINGS {
        check_decoded(&level, separators_allowed)?;
        let next = percent_decoded(&level);
        if next == level {
            return Ok(());
        }
        level = next;
    }
    check_decoded(&level, separators_allowed)?;
    if percent_decoded(&level) == level {
        Ok(())
    } else {
        Err(ParameterProblem::TooDeeplyEncoded)
    }
}

fn check_decoded(value: &[u8], separators_allowed: bool) -> Result<(), ParameterProblem> {
    let separator = |byte: &u8| *byte == b'/' || *byte == b'\\';
    if value.contains(&0) {
        Err(ParameterProblem::Nul)
    } else if value
        .split(separator)
        .any(|piece| piece == b"." || piece == b"..")
    {
        Err(ParameterProblem::DotSegment)
    } else if separators_allowed {
        Ok(())
    } else if value.iter().any(separator) {
        Err(ParameterProblem::EncodedSeparator)
    } else if value.contains(&b';') {
        Err(ParameterProblem::Semicolon)
    } else {
        Ok(())
    }
}

/// One round of percent-decoding; a `%` not followed by two hex digits stays as it is.
fn percent_decoded(value: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some((&byte, tail)) = rest.split_first() {
        if let (b'%', [high, low, after @ ..]) = (byte, tail)
            && let (Some(high), Some(low)) = (hex_digit(*high), hex_digit(*low))
        {
            decoded.push((high << 4) | low);
            rest = after;
            continue;
        }
        decoded.push(byte);
        rest = tail;
    }
    decoded
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
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
    /// The parameters whose value may hold an encoded `/` or `\` or a `;`.
    pub allow_encoded_separators: Vec<String>,
}

impl Route {
    /// Checks every bound parameter's value ([`check_parameter`]); the first refused one.
    fn refused_parameter(&self, params: &[(String, &str)]) -> Option<(String, ParameterProblem)> {
        params.iter().find_map(|(name, value)| {
            let allowed = self.allow_encoded_separators.contains(name);
            check_parameter(value, allowed)
                .err()
                .map(|problem| (name.clone(), problem))
        })
    }
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
    /// `allow_encoded_separators` names a parameter the route's pattern does not have.
    #[error(
        "route {route}: `allow_encoded_separators` names `{parameter}`, which is not a parameter of its path"
    )]
    UnknownParameter {
        /// The route's index.
        route: usize,
        /// The name as written.
        parameter: String,
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
            PolicyProblem::UnknownParameter { .. } => "unknown_parameter",
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
    #[serde(default)]
    allow_encoded_separators: Vec<String>,
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
    /// The route that applies binds a parameter to a value the origin could read as another
    /// path (see [`check_parameter`]): refused.
    UnsafeParameter {
        /// The parameter's name in the route's pattern.
        parameter: String,
        /// Why its value was refused.
        problem: ParameterProblem,
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
                    return match route.refused_parameter(&params) {
                        Some((parameter, problem)) => {
                            RouteMatch::UnsafeParameter { parameter, problem }
                        }
                        None => RouteMatch::Matched { route, params },
                    };
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
    if let Some(pattern) = &pattern {
        for parameter in &raw.allow_encoded_separators {
            if !pattern.has_parameter(parameter) {
                problems.push(PolicyProblem::UnknownParameter {
                    route: index,
                    parameter: excerpt(parameter),
                });
            }
        }
    }
    Some(Route {
        method: method?,
        pattern: pattern?,
        access: access?,
        allow_encoded_separators: raw.allow_encoded_separators,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports, reason = "names of the model in force")]
    use crate::model::testing::*;
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
            Some(Access::Operation(op_named("run_build"))),
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
            Some(Access::Operation(op_named("read_build_logs")))
        );
        assert_eq!(
            access(&policy, Method::Get, "/api/builds/other"),
            Some(Access::Operation(op_named("read_builds")))
        );
        // `/api/config/status` matches both `/api/config/{key}` and `/api/{area}/status`: the
        // leftmost literal (`config`) decides.
        assert_eq!(
            access(&policy, Method::Get, "/api/config/status"),
            Some(Access::Operation(op_named("read_configuration")))
        );
        assert_eq!(
            access(&policy, Method::Get, "/api/builds/status"),
            Some(Access::Operation(op_named("read_builds")))
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
            Some(Access::Operation(op_named("read_builds")))
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

    fn refused(policy: &RoutePolicy, path: &str) -> Option<(String, ParameterProblem)> {
        match policy.find(Method::Get, path) {
            RouteMatch::UnsafeParameter { parameter, problem } => Some((parameter, problem)),
            _ => None,
        }
    }

    /// Security review (issue 11): `/api/builds/x%2F..%2F..%2Fsettings` (also `%5C`, `;`,
    /// `%252e`, `%00`) was forwarded with the parameter route's operation.
    #[test]
    fn encoded_separators_in_a_path_parameter_are_refused() {
        use ParameterProblem::*;
        let policy = policy(SAMPLE).unwrap();
        for (path, problem) in [
            ("/api/builds/x%2F..%2F..%2Fsettings", DotSegment),
            ("/api/builds/x%2fsettings", EncodedSeparator),
            ("/api/builds/x%5Csettings", EncodedSeparator),
            ("/api/builds/x%5c..%5csettings", DotSegment),
            ("/api/builds/x%252Fsettings", EncodedSeparator),
            ("/api/builds/x%25252Fsettings", EncodedSeparator),
            ("/api/builds/x;jsessionid=1", Semicolon),
            ("/api/builds/x%3Bjsessionid=1", Semicolon),
            ("/api/builds/x%253b", Semicolon),
            ("/api/builds/x%00.apk", Nul),
            ("/api/builds/x%2500", Nul),
            ("/api/builds/..", DotSegment),
            ("/api/builds/.", DotSegment),
            ("/api/builds/%2E%2e", DotSegment),
            ("/api/builds/.%2e", DotSegment),
            ("/api/builds/%252e%252e", DotSegment),
            ("/api/builds/%252E", DotSegment),
            ("/api/builds/%25252e%25252e", DotSegment),
            ("/api/builds/%2525252e", TooDeeplyEncoded),
        ] {
            assert_eq!(
                refused(&policy, path),
                Some(("build".to_owned(), problem)),
                "{path}"
            );
        }
        assert_eq!(
            refused(&policy, "/api/builds/..%2F/log"),
            Some(("build".to_owned(), DotSegment)),
            "a longer route is checked too"
        );
        // Ordinary values, encoded or not, still match.
        for path in [
            "/api/builds/b-42",
            "/api/builds/...",
            "/api/builds/.hidden",
            "/api/builds/a..b",
            "/api/builds/caf%C3%A9",
            "/api/builds/100%25",
            "/api/builds/50%",
            "/api/builds/%zz",
            "/api/builds/a%20b",
        ] {
            assert_eq!(
                access(&policy, Method::Get, path),
                Some(Access::Operation(op_named("read_builds"))),
                "{path}"
            );
        }
    }

    #[test]
    fn a_route_can_allow_encoded_separators_in_named_parameters() {
        use ParameterProblem::*;
        let policy = policy(
            r#"{"method":"GET","path":"/projects/{project}/files/{file}","operation":"read_builds",
                "allow_encoded_separators":["project"]}"#,
        )
        .unwrap();
        for path in [
            "/projects/group%2Fapp/files/readme",
            "/projects/group%5Capp/files/readme",
            "/projects/app;v=2/files/readme",
            "/projects/a%2F%2Fb/files/readme",
        ] {
            assert!(
                matches!(policy.find(Method::Get, path), RouteMatch::Matched { .. }),
                "{path}"
            );
        }
        for (path, refusal) in [
            (
                "/projects/group%2F..%2Fother/files/x",
                ("project", DotSegment),
            ),
            (
                "/projects/group%2F%252e%252e/files/x",
                ("project", DotSegment),
            ),
            ("/projects/..%5Cx/files/x", ("project", DotSegment)),
            ("/projects/group%00/files/x", ("project", Nul)),
            ("/projects/a%2Fb/files/a%2Fb", ("file", EncodedSeparator)),
            ("/projects/a/files/a;b", ("file", Semicolon)),
        ] {
            assert_eq!(
                refused(&policy, path),
                Some((refusal.0.to_owned(), refusal.1)),
                "{path}"
            );
        }
        let error = self::policy(
            r#"{"method":"GET","path":"/a/{x}","public":true,"allow_encoded_separators":["x","y"]},
               {"method":"GET","path":"/b","public":true,"allow_encoded_separators":["b"]},
               {"method":"GET","path":"/c/{c}","public":true,"allow_encoded_separators":"c"}"#,
        )
        .unwrap_err();
        assert_eq!(codes(&error), ["syntax"], "not a list");
        let error = self::policy(
            r#"{"method":"GET","path":"/a/{x}","public":true,"allow_encoded_separators":["x","y"]},
               {"method":"GET","path":"/b","public":true,"allow_encoded_separators":["b"]}"#,
        )
        .unwrap_err();
        assert_eq!(codes(&error), ["unknown_parameter", "unknown_parameter"]);
        assert_eq!(
            error.problems.first(),
            Some(&PolicyProblem::UnknownParameter {
                route: 0,
                parameter: "y".into()
            })
        );
    }

    #[test]
    fn head_uses_the_get_route_unless_it_has_its_own() {
        let sample = policy(SAMPLE).unwrap();
        assert_eq!(
            access(&sample, Method::Head, "/api/builds/7"),
            Some(Access::Operation(op_named("read_builds")))
        );
        let explicit = policy(
            r#"{"method":"GET","path":"/x","operation":"read_builds"},
               {"method":"HEAD","path":"/x","public":true}"#,
        )
        .unwrap();
        assert_eq!(access(&explicit, Method::Head, "/x"), Some(Access::Public));
        assert_eq!(
            access(&explicit, Method::Get, "/x"),
            Some(Access::Operation(op_named("read_builds")))
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

    /// A string of the characters that matter to decoding, and some that do not.
    fn parameter_value() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("%"),
                Just("2"),
                Just("5"),
                Just("e"),
                Just("E"),
                Just("f"),
                Just("F"),
                Just("c"),
                Just("C"),
                Just("0"),
                Just("3"),
                Just("b"),
                Just("."),
                Just(";"),
                Just("a"),
                Just("\\"),
                Just("\u{0}"),
                Just("é"),
            ],
            1..24,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        /// A value accepted without the opt-in holds no separator, NUL, `;` or dot-segment
        /// however many times the origin decodes it; with the opt-in, no NUL or dot piece.
        #[test]
        fn an_accepted_parameter_decodes_to_no_other_path(value in parameter_value()) {
            for separators_allowed in [false, true] {
                if check_parameter(&value, separators_allowed).is_err() {
                    continue;
                }
                let mut level = value.clone().into_bytes();
                for _ in 0..=MAX_DECODINGS + 2 {
                    prop_assert!(!level.contains(&0));
                    prop_assert!(!level
                        .split(|b| *b == b'/' || *b == b'\\')
                        .any(|piece| piece == b"." || piece == b".."));
                    if !separators_allowed {
                        prop_assert!(!level.iter().any(|b| b"/\\;".contains(b)), "{:?}", value);
                    }
                    level = percent_decoded(&level);
                }
            }
        }

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
