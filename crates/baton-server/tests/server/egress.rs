//! The SSRF guard through the executor: loopback refused unless allowed, for IP literals, names
//! and redirect hops.

use baton_core::http::build_request;
use baton_model::error_types::StandardError;
use baton_server::outbound::egress::{EgressPolicy, guarded_client};
use baton_server::outbound::http_client::HttpExecutor;
use baton_server::standin::StandIn;

use crate::support::{LOOPBACK, STRICT, call, expect_failure, expect_response, request};

#[tokio::test]
async fn loopback_is_refused_unless_allowed() {
    let stand_in = StandIn::start().await.unwrap();
    let port = stand_in.addr.port();
    let strict = HttpExecutor::new(STRICT, Vec::new());
    for uri in [
        format!("http://127.0.0.1:{port}/echo"),
        format!("http://[::ffff:127.0.0.1]:{port}/echo"),
        format!("http://0x7f.0.0.1:{port}/echo"),
        // A name resolving to loopback is refused by the resolver.
        format!("http://localhost:{port}/echo"),
    ] {
        let err = expect_failure(strict.send(&request("get", &uri), "k").await);
        assert!(err.is(StandardError::Communication), "{uri}");
        assert_eq!(err.status, 403, "{uri}: {err:?}");
    }
    // Rewrites do not bypass the guard.
    let rewriting = HttpExecutor::new(STRICT, stand_in.rewrites());
    let err = expect_failure(rewriting.send(&request("get", "https://petstore.swagger.io/v2/pet/1"), "k").await);
    assert_eq!(err.status, 403);
    assert_eq!(stand_in.request_count(), 0);

    let allowed = HttpExecutor::new(LOOPBACK, Vec::new());
    for uri in [format!("http://127.0.0.1:{port}/echo"), format!("http://localhost:{port}/echo")] {
        assert_eq!(expect_response(allowed.send(&request("get", &uri), "k").await).status, 200, "{uri}");
    }
    assert_eq!(stand_in.request_count(), 2);
}

#[tokio::test]
async fn redirect_hops_are_checked() {
    let stand_in = StandIn::start().await.unwrap();
    let executor = HttpExecutor::new(LOOPBACK, Vec::new());
    for target in ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/"] {
        let mut hop = call("get", &format!("{}/redirect-to?url={target}", stand_in.base_url()));
        hop.redirect = true;
        let err = expect_failure(executor.send(&build_request(hop).unwrap(), "k").await);
        assert!(err.is(StandardError::Communication), "{target}");
        assert_eq!(err.status, 403, "{target}: {err:?}");
    }
    // reqwest itself never follows a redirect to a non-HTTP scheme; the 3xx comes back as-is.
    let mut file = call("get", &format!("{}/redirect-to?url=file:///etc/passwd", stand_in.base_url()));
    file.redirect = true;
    assert_eq!(expect_response(executor.send(&build_request(file).unwrap(), "k").await).status, 302);
    // The same hop is returned as a 3xx response when redirects are not followed.
    let hop = request("get", &format!("{}/redirect-to?url=http://10.0.0.1/", stand_in.base_url()));
    assert_eq!(expect_response(executor.send(&hop, "k").await).status, 302);
}

#[tokio::test]
async fn guarded_client_resolver_refuses_loopback_names() {
    let stand_in = StandIn::start().await.unwrap();
    let url = format!("http://localhost:{}/echo", stand_in.addr.port());
    let strict = guarded_client(EgressPolicy { allow_loopback: false, allow_private: true }, false);
    let err = strict.get(&url).send().await.unwrap_err();
    assert!(baton_server::outbound::egress::find_egress_error(&err).is_some(), "{err:?}");
    let allowed = guarded_client(LOOPBACK, true);
    assert_eq!(allowed.get(&url).send().await.unwrap().status(), 200);
}
