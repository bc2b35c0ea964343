use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

use super::*;

fn decode(part: &str) -> serde_json::Value {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&b).expect("json")
}

#[test]
fn unsecured_jwt_has_kafkas_shape() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let t = UnsecuredJwt {
        subject: "alice".into(),
        lifetime: Duration::from_secs(15),
        scope: Some("produce".into()),
    }
    .issue(now);
    let parts: Vec<&str> = t.value.expose().split('.').collect();
    assert_eq!(parts.len(), 3, "header.payload.signature");
    assert_eq!(parts[2], "", "an unsecured JWT has an empty signature");
    assert_eq!(decode(parts[0]), serde_json::json!({"alg": "none"}));
    let claims = decode(parts[1]);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iat"], 1_800_000_000u64);
    assert_eq!(claims["exp"], 1_800_000_015u64);
    assert_eq!(claims["scope"], "produce");
    assert_eq!(t.expires_at, now + Duration::from_secs(15));
    assert_eq!(
        jwt_claims(t.value.expose()),
        Some((Some(1_800_000_015), Some("alice".into())))
    );
}

#[test]
fn token_answers() {
    let now = UNIX_EPOCH + Duration::from_secs(1000);
    let jwt = UnsecuredJwt {
        subject: "svc".into(),
        lifetime: Duration::from_secs(60),
        scope: None,
    }
    .issue(now);
    // The JWT's own exp wins over expires_in.
    let a = format!(
        r#"{{"access_token":"{}","expires_in":5,"token_type":"Bearer"}}"#,
        jwt.value.expose()
    );
    let t = parse_token_answer(&a, now).expect("answer");
    assert_eq!(t.expires_at, now + Duration::from_secs(60));
    assert_eq!(t.principal.as_deref(), Some("svc"));
    // An opaque token lives expires_in seconds.
    let t = parse_token_answer(r#"{"access_token":"opaque","expires_in":30}"#, now).expect("opaque");
    assert_eq!(t.expires_at, now + Duration::from_secs(30));
    assert_eq!(t.principal, None);
    for (bad, why) in [
        (r#"{"access_token":"opaque"}"#, "no exp claim"),
        (r#"{"expires_in":30}"#, "no access_token"),
        (r#"{"access_token":"","expires_in":30}"#, "no access_token"),
        ("<html>", "not JSON"),
    ] {
        let e = parse_token_answer(bad, now).expect_err(bad);
        assert!(e.contains(why), "{bad}: {e}");
    }
    assert_eq!(jwt_claims("not-a-jwt"), None);
    assert_eq!(jwt_claims("a.b"), None);
}

/// Counts fetches; each token lives 100 s from the clock it is given.
struct Counting {
    fetches: AtomicU32,
    now: std::sync::Mutex<SystemTime>,
}

impl TokenProvider for Counting {
    fn token(&self) -> TokenFuture<'_> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let now = *self.now.lock().expect("clock");
        Box::pin(async move {
            Ok(OAuthToken {
                value: Secret::new(format!("token-{n}")),
                expires_at: now + Duration::from_secs(100),
                principal: None,
            })
        })
    }
}

#[tokio::test]
async fn the_token_is_refreshed_after_80_percent_of_its_lifetime() {
    let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let p = Arc::new(Counting {
        fetches: AtomicU32::new(0),
        now: std::sync::Mutex::new(t0),
    });
    let src = TokenSource::new(p.clone(), Vec::new());
    assert_eq!(src.current(t0).await.expect("first").value.expose(), "token-1");
    let at = |s| t0 + Duration::from_secs(s);
    assert_eq!(src.current(at(79)).await.expect("cached").value.expose(), "token-1");
    assert_eq!(
        p.fetches.load(Ordering::SeqCst),
        1,
        "one fetch while the token is young"
    );
    *p.now.lock().expect("clock") = at(81);
    assert_eq!(src.current(at(81)).await.expect("refreshed").value.expose(), "token-2");
    assert_eq!(p.fetches.load(Ordering::SeqCst), 2);
    // A provider handing out an expired token is an error, not a token.
    *p.now.lock().expect("clock") = at(0);
    let e = src.current(at(500)).await.expect_err("expired");
    assert!(e.contains("already expired"), "{e}");
}

#[test]
fn the_first_message_follows_rfc_7628() {
    let src = TokenSource::new(
        Arc::new(UnsecuredJwt {
            subject: "x".into(),
            lifetime: Duration::from_secs(1),
            scope: None,
        }),
        parse_extensions("traceId=abc, logicalCluster=lkc-1").expect("extensions"),
    );
    let token = OAuthToken {
        value: Secret::new("eyJ.eyJ."),
        expires_at: UNIX_EPOCH,
        principal: None,
    };
    assert_eq!(
        src.first_message(&token),
        b"n,,\x01auth=Bearer eyJ.eyJ.\x01traceId=abc\x01logicalCluster=lkc-1\x01\x01".to_vec()
    );
    assert!(!format!("{src:?}").contains("abc"), "extension values are not printed");
}

#[test]
fn extensions_are_checked() {
    for (bad, why) in [
        ("auth=x", "reserved"),
        ("trace-id=1", "letters only"),
        ("=1", "letters only"),
        ("k=", "printable"),
        ("k=caf\u{e9}", "printable"),
        ("novalue", "key=value"),
    ] {
        let e = parse_extensions(bad).expect_err(bad);
        assert!(e.contains(why), "{bad}: {e}");
    }
    assert_eq!(parse_extensions("").expect("empty"), Vec::new());
}

#[test]
fn form_values_are_escaped() {
    assert_eq!(form_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    assert_eq!(form_escape("id-1._*"), "id-1._*");
    let c = ClientCredentials::new(
        "https://idp.example/token",
        "id",
        Secret::new("s3cr3t"),
        Some("kafka produce".into()),
        Duration::from_secs(1),
    )
    .expect("client");
    assert_eq!(c.body(), "grant_type=client_credentials&scope=kafka+produce");
    assert!(!format!("{c:?}").contains("s3cr3t"));
    assert!(ClientCredentials::new("ftp://x", "id", Secret::new("s"), None, Duration::from_secs(1)).is_err());
}

/// Review of issue 12: absurd lifetimes from a token endpoint or the configuration are
/// clamped (to a year), never a clock overflow (which panicked in the connect task).
#[test]
fn absurd_lifetimes_are_clamped_not_a_panic() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let year = Duration::from_secs(366 * 24 * 3600);
    let huge_exp = format!(
        r#"{{"access_token":"{}.{}.","expires_in":1}}"#,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x","exp":1e300}"#)
    );
    for answer in [
        huge_exp.as_str(),
        r#"{"access_token":"opaque","expires_in":18446744073709551615}"#,
    ] {
        let t = parse_token_answer(answer, now).expect(answer);
        assert_eq!(t.expires_at, now + year, "{answer}");
    }
    let t = UnsecuredJwt {
        subject: "x".into(),
        lifetime: Duration::from_secs(u64::MAX),
        scope: None,
    }
    .issue(now);
    assert_eq!(t.expires_at, now + year);
    assert_eq!(refresh_at(now, t.expires_at), now + year.mul_f64(0.8));
}

#[test]
fn endpoint_credentials_are_never_shown() {
    assert_eq!(
        without_userinfo("https://u:pw@idp.example/t?x=1"),
        "https://***@idp.example/t?x=1"
    );
    assert_eq!(without_userinfo("https://idp.example/a@b"), "https://idp.example/a@b");
    let c = ClientCredentials::new(
        "https://u:pw@idp.example/t",
        "id",
        Secret::new("s"),
        None,
        Duration::from_secs(1),
    )
    .expect("client");
    assert!(!format!("{c:?}").contains("pw"), "{c:?}");
}

/// An unreachable endpoint names the cause, not only "error sending request".
#[tokio::test]
async fn an_unreachable_endpoint_names_the_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let c = ClientCredentials::new(
        format!("http://127.0.0.1:{port}/token"),
        "id",
        Secret::new("s"),
        None,
        Duration::from_secs(2),
    )
    .expect("client");
    let e = c.fetch().await.expect_err("nothing listens");
    assert!(e.to_lowercase().contains("refused"), "{e}");
}
