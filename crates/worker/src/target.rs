//! The path and query of a request's URL, sliced from the text the Workers runtime hands over
//! (a URL it has already parsed and serialized) instead of parsed a second time: the edge script
//! carries no URL parser, and so none of its IDNA and Unicode tables (docs/PERFORMANCE.md, "Edge
//! and Management API scripts"). A property test checks the slices are the `url` crate's
//! `path()` and `query()` of every serialized URL it generates.

/// The path and the query of an absolute URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// From the first `/` after the authority to the query (`/` when the URL has none).
    pub path: &'a str,
    /// After the `?`, without the fragment; `None` without a `?`.
    pub query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Slices `url`, an absolute URL (`scheme://authority/path?query#fragment`) as the runtime
    /// serializes it. `None` when it has no `://`.
    pub fn of(url: &'a str) -> Option<Self> {
        let (_, rest) = url.split_once("://")?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let start = rest.find(['/', '?']).unwrap_or(rest.len());
        let after = rest.get(start..)?;
        let (path, query) = match after.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (after, None),
        };
        Some(Self {
            path: if path.is_empty() { "/" } else { path },
            query,
        })
    }

    /// Path and `?query`, as a request line carries them.
    pub fn request_target(&self) -> String {
        match self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]
    use super::Target;
    use proptest::prelude::*;

    #[test]
    fn slices_path_and_query() {
        let cases = [
            ("https://a.test/v1/whoami", "/v1/whoami", None),
            ("https://a.test", "/", None),
            ("http://127.0.0.1:8787/api/x?y=1&z", "/api/x", Some("y=1&z")),
            ("https://a.test/?", "/", Some("")),
            (
                "https://u:p@a.test:1/p%2Fq?q=%3F#frag?x",
                "/p%2Fq",
                Some("q=%3F"),
            ),
            ("https://a.test?q", "/", Some("q")),
        ];
        for (url, path, query) in cases {
            assert_eq!(Target::of(url), Some(Target { path, query }), "{url}");
        }
        assert_eq!(Target::of("no scheme"), None);
        assert_eq!(
            Target::of("https://a.test/a?b").unwrap().request_target(),
            "/a?b"
        );
    }

    proptest! {
        #[test]
        fn the_slices_are_the_url_crates_path_and_query(
            host in "[a-z]{1,8}(\\.[a-z]{1,5})?",
            port in proptest::option::of(1u16..),
            path in "(/[A-Za-z0-9._~%!$&'()*+,;=:@ -]{0,12}){0,4}",
            query in proptest::option::of("[A-Za-z0-9._~%!$&'()*+,;=:@/? -]{0,16}"),
            fragment in proptest::option::of("[A-Za-z0-9?#/]{0,8}"),
        ) {
            let port = port.map(|port| format!(":{port}")).unwrap_or_default();
            let query = query.map(|query| format!("?{query}")).unwrap_or_default();
            let fragment = fragment.map(|fragment| format!("#{fragment}")).unwrap_or_default();
            let parsed = url::Url::parse(&format!("https://{host}{port}{path}{query}{fragment}")).unwrap();
            // What the runtime hands over: the URL as serialized after parsing.
            let target = Target::of(parsed.as_str()).unwrap();
            prop_assert_eq!(target.path, parsed.path());
            prop_assert_eq!(target.query, parsed.query());
        }
    }
}
