//! Which inbound request headers the gateway passes on to the origin.
//!
//! Header names are compared lower-cased with `_` read as `-`: CGI, WSGI and Rack expose both
//! `portcullis-tenant` and `portcullis_tenant` to the application as `HTTP_PORTCULLIS_TENANT`,
//! so a spelling the gateway let through would pass for the identity header it dropped.

use super::identity::header;

/// Inbound headers never forwarded (besides every identity header, [`header::PREFIX`]): the
/// credential, hop-by-hop headers, the host (the fetch sets the origin's), and `Proxy`, which
/// CGI-style origins expose as `HTTP_PROXY` and many HTTP clients then use as their proxy
/// ("httpoxy").
pub const DROPPED_HEADERS: [&str; 10] = [
    "authorization",
    "host",
    "proxy",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Whether the gateway forwards an inbound header named `name` to the origin: not one of
/// [`DROPPED_HEADERS`] nor a header starting with [`header::PREFIX`], in any case and with `_`
/// for `-` anywhere (`Portcullis_Tenant` is dropped like `portcullis-tenant`).
pub fn forwards_header(name: &str) -> bool {
    let normalised = name.to_ascii_lowercase().replace('_', "-");
    !DROPPED_HEADERS.contains(&normalised.as_str()) && !normalised.starts_with(header::PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::identity::SIGNED_HEADERS;

    #[test]
    fn the_proxy_header_never_reaches_the_origin() {
        for name in ["Proxy", "PROXY", "proxy"] {
            assert!(!forwards_header(name), "{name}");
        }
        assert!(forwards_header("proxy-status"));
    }

    #[test]
    fn identity_headers_are_dropped_in_every_spelling() {
        for name in SIGNED_HEADERS.into_iter().chain([header::SIGNATURE]) {
            let underscored = name.replace('-', "_");
            for spelling in [
                name.to_owned(),
                name.to_ascii_uppercase(),
                underscored.clone(),
                underscored.to_ascii_uppercase(),
                name.replacen('-', "_", 1),
            ] {
                assert!(!forwards_header(&spelling), "{spelling} reached the origin");
            }
        }
        for name in [
            "Portcullis_Tenant",
            "portcullis_",
            "PORTCULLIS-",
            "portcullis-anything",
        ] {
            assert!(!forwards_header(name), "{name}");
        }
    }

    #[test]
    fn the_credential_and_hop_by_hop_headers_are_dropped_in_every_spelling() {
        for name in DROPPED_HEADERS {
            assert!(!forwards_header(name), "{name}");
            assert!(!forwards_header(&name.to_ascii_uppercase()), "{name}");
            assert!(!forwards_header(&name.replace('-', "_")), "{name}");
        }
    }

    #[test]
    fn other_headers_pass() {
        for name in [
            "content-type",
            "x-trace",
            "x_trace",
            "x-portcullis-tenant",
            "portcullis",
            "portcullistenant",
            "authorization-hint",
        ] {
            assert!(forwards_header(name), "{name}");
        }
    }
}
