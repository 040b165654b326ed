//! Hostile and careless registries (issue 12 items 8–13, issue 14 item 7,
//! redaction, `--verbose`): each test is named after its item, runs a real
//! registry or a hand-written server on loopback, and fails without the fix.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{V3, fails, is_manifest, json, ok, select};
use crate::fixture::{self, PASSWORD, USER, anonymous, auth_file, basic, credential_helper, ocifit, temp_dir};
use crate::servers::{Action, Front};

fn has_authorization(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(n, _)| n == "authorization")
}

/// A registry front that asks for a bearer token from `realm` and forwards
/// everything else to the anonymous registry (which ignores the token).
fn bearer_front(realm: String) -> Front {
    Front::start(
        "127.0.0.1",
        anonymous().port,
        Box::new(move |line, _| {
            if line.starts_with("GET /v2/ ") {
                Action::Respond {
                    status: 401,
                    headers: vec![("WWW-Authenticate".into(), format!("Bearer realm=\"{realm}\",service=\"front\""))],
                    body: vec![],
                }
            } else {
                Action::Forward
            }
        }),
    )
}

fn respond(status: u16, headers: Vec<(String, String)>, body: &str) -> Action {
    Action::Respond { status, headers, body: body.as_bytes().to_vec() }
}

// --- issue 12 item 8 ---------------------------------------------------------------

#[test]
fn issue12_8_refresh_token_post_is_never_redirected_to_another_origin() {
    let (_, entries) = anonymous().push_index("refresh/app", "v1");
    // Where a hostile token endpoint sends the POST: must see nothing.
    let evil = Front::start("127.0.0.2", anonymous().port, Box::new(|_, _| respond(200, vec![], "{}")));
    let evil_url = format!("http://127.0.0.2:{}/steal", evil.port);
    for status in [307u16, 308, 302, 301, 303] {
        let location = evil_url.clone();
        let token = Front::start(
            "127.0.0.1",
            anonymous().port,
            Box::new(move |_, _| respond(status, vec![("Location".into(), location.clone())], "")),
        );
        let front = bearer_front(format!("http://127.0.0.1:{}/token", token.port));
        let dir = temp_dir("refresh");
        let config = dir.join("docker");
        std::fs::create_dir_all(&config).unwrap();
        let registry = format!("127.0.0.1:{}", front.port);
        std::fs::write(
            config.join("config.json"),
            json!({"auths": {&registry: {"identitytoken": "REFRESH-s3cret-T0ken"}}}).to_string(),
        )
        .unwrap();
        let run = ocifit(
            &["select", &format!("{registry}/refresh/app:v1"), V3[0], V3[1]],
            &[("DOCKER_CONFIG", &config)],
            None,
        );
        fails(&run, &["POST"]);
        assert!(!run.stderr.contains("REFRESH-s3cret-T0ken"), "{}", run.stderr);
        let posts: Vec<_> = token.requests().into_iter().filter(|(l, _)| l.starts_with("POST ")).collect();
        assert_eq!(posts.len(), 1, "HTTP {status}: one token POST: {posts:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(evil.requests().is_empty(), "the other origin got: {:?}", evil.requests());
    assert_eq!(entries.len(), 3);
}

// --- issue 12 item 9 ---------------------------------------------------------------

#[test]
fn issue12_9_credentials_go_only_to_a_registry_that_asks() {
    let r = anonymous();
    let (_, entries) = r.push_index("unasked/app", "v1");
    let front = Front::start("127.0.0.1", r.port, Box::new(|_, _| Action::Forward));
    let run = ocifit(
        &["select", &format!("127.0.0.1:{}/unasked/app:v1", front.port), "--creds-stdin", V3[0], V3[1], V3[2], V3[3]],
        &[],
        Some(&format!("{USER}:{PASSWORD}\n")),
    );
    ok(&run);
    assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    let requests = front.requests();
    assert!(!requests.is_empty());
    for (line, headers) in &requests {
        assert!(!has_authorization(headers), "{line} carried credentials to a registry that never asked");
    }
}

#[test]
fn issue12_9_push_to_another_registry_gets_none_of_the_source_credentials() {
    // The same images on both registries (the same repository name makes
    // the same blobs): the source wants basic auth, the target is anonymous.
    let (_, entries) = basic().push_index("shared/app", "v1");
    let (_, same) = anonymous().push_index("shared/app", "v1");
    assert_eq!(entries, same);
    let target = Front::start("127.0.0.1", anonymous().port, Box::new(|_, _| Action::Forward));
    let run = ocifit(
        &[
            "index",
            "remove",
            &format!("docker://{}/shared/app:v1", basic().host()),
            "--entry",
            "2",
            "--push",
            &format!("docker://127.0.0.1:{}/shared/app:v2", target.port),
            "--creds-stdin",
        ],
        &[],
        Some(&format!("{USER}:{PASSWORD}\n")),
    );
    ok(&run);
    let requests = target.requests();
    assert!(requests.iter().any(|(l, _)| l.starts_with("PUT ")), "{requests:?}");
    for (line, headers) in &requests {
        assert!(!has_authorization(headers), "{line}: the push target got the source's credentials");
    }
}

#[test]
fn issue12_9_fleet_command_line_credentials_are_for_one_registry() {
    let (_, _) = basic().push_index("fleet-private/app", "v1");
    let (_, _) = anonymous().push_index("fleet-public/app", "v1");
    let public = Front::start("127.0.0.1", anonymous().port, Box::new(|_, _| Action::Forward));
    let nodes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fleet/profiles.json");
    let private_ref = format!("{}/fleet-private/app:v1", basic().host());
    let public_ref = format!("127.0.0.1:{}/fleet-public/app:v1", public.port);
    let args = ["fleet", "--nodes", nodes.to_str().unwrap(), "--image", &private_ref, &public_ref, "--creds-stdin"];
    let run = ocifit(&args, &[], Some(&format!("{USER}:{PASSWORD}\n")));
    fails(&run, &["several registries", "--authfile"]);
    assert!(public.requests().iter().all(|(_, h)| !has_authorization(h)));
    // Per registry, from an --authfile: the private registry gets its
    // credentials, the public one none.
    let dir = temp_dir("fleet-authfile");
    let file = auth_file(&dir, "auth.json", &basic().host(), USER, PASSWORD);
    let args = [
        "fleet",
        "--nodes",
        nodes.to_str().unwrap(),
        "--image",
        &private_ref,
        &public_ref,
        "--authfile",
        file.to_str().unwrap(),
        "--format",
        "json",
    ];
    let run = ocifit(&args, &[], None);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert!(!public.requests().is_empty());
    assert!(public.requests().iter().all(|(_, h)| !has_authorization(h)), "{:?}", public.requests());
    let _ = std::fs::remove_dir_all(dir);
}

// --- issue 12 item 10 --------------------------------------------------------------

#[test]
fn issue12_10_credential_helper_not_found_means_anonymous() {
    let (_, entries) = anonymous().push_index("public/helper", "v1");
    // A token server that gives anonymous tokens, as public registries do.
    let token = Front::start(
        "127.0.0.1",
        anonymous().port,
        Box::new(|_, headers| {
            let status = if has_authorization(headers) { 401 } else { 200 };
            respond(status, vec![("Content-Type".into(), "application/json".into())], r#"{"token":"anonymous"}"#)
        }),
    );
    let front = bearer_front(format!("http://127.0.0.1:{}/token", token.port));
    let dir = temp_dir("helper-not-found");
    let path = credential_helper(
        &dir,
        "ocifit-desktop",
        "read server\necho 'credentials not found in native keychain'\nexit 1",
    );
    let config = dir.join("docker");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.json"), json!({"credsStore": "ocifit-desktop"}).to_string()).unwrap();
    let reference = format!("127.0.0.1:{}/public/helper:v1", front.port);
    let env: [(&str, &Path); 2] = [("DOCKER_CONFIG", &config), ("PATH", Path::new(&path))];
    let run = ocifit(&["select", &reference, V3[0], V3[1], V3[2], V3[3]], &env, None);
    ok(&run);
    assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    assert!(token.requests().iter().all(|(_, h)| !has_authorization(h)));
    // Any other failure of the helper is still an error, named, its output not repeated.
    let path = credential_helper(&dir, "ocifit-desktop", "read server\necho 'keychain locked: Sec-123'\nexit 1");
    let env: [(&str, &Path); 2] = [("DOCKER_CONFIG", &config), ("PATH", Path::new(&path))];
    let run = ocifit(&["select", &reference, V3[0], V3[1]], &env, None);
    fails(&run, &["credential helper", "ocifit-desktop", "failed"]);
    assert!(!run.stderr.contains("Sec-123"));
    let _ = std::fs::remove_dir_all(dir);
}

// --- issue 12 item 11 --------------------------------------------------------------

#[test]
fn issue12_11_a_trickling_body_meets_the_total_deadline() {
    let r = anonymous();
    r.push_index("trickle", "v1");
    let front = Front::start(
        "127.0.0.1",
        r.port,
        Box::new(|line, _| {
            if is_manifest(line) {
                Action::Trickle {
                    head: format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n",
                        fixture::INDEX
                    )
                    .into_bytes(),
                    body: vec![b' '; 100_000],
                    every: Duration::from_millis(500),
                }
            } else {
                Action::Forward
            }
        }),
    );
    let start = Instant::now();
    let reference = format!("127.0.0.1:{}/trickle:v1", front.port);
    let run = select(&reference, &["--read-timeout", "3", "--timeout", "2", "--retries", "0"]);
    fails(&run, &["no complete answer within 2 s", "--timeout"]);
    assert!(start.elapsed() < Duration::from_secs(6), "{:?}", start.elapsed());
}

// --- issue 12 item 13 --------------------------------------------------------------

#[test]
fn issue12_13_max_manifest_size_is_bounded() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/index.json");
    let example = example.to_str().unwrap();
    for value in ["18446744073709551615", "18446744073709551616", "0", "1073741825"] {
        let run = ocifit(&["select", example, "--platform", "linux/amd64", "--max-manifest-size", value], &[], None);
        assert_eq!(run.code, 2, "{value}: {}", run.stderr);
        assert!(run.stderr.contains("--max-manifest-size") && !run.stderr.contains("panicked"), "{}", run.stderr);
    }
    let run = ocifit(&["select", example, "--platform", "linux/amd64", "--max-manifest-size", "1073741824"], &[], None);
    ok(&run);
    // The largest value still refuses a registry manifest above it, and accepts one below.
    let r = anonymous();
    r.push_index("bounded", "v1");
    ok(&select(&format!("{}/bounded:v1", r.host()), &["--max-manifest-size", "1073741824"]));
}

// --- redaction ------------------------------------------------------------------

#[test]
fn references_with_a_password_never_echo_it() {
    let r = anonymous();
    let secret = "Pa55-w0rd-XYZ";
    let nodes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fleet/profiles.json");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/index.json");
    let bare = format!("alice:{secret}@{}/app:v1", r.host());
    let docker = format!("docker://{bare}");
    let push = format!("--push={docker}");
    let runs: Vec<Vec<&str>> = vec![
        vec!["select", &bare, "--platform", "linux/amd64"],
        vec!["select", &docker, "--platform", "linux/amd64", "--format", "json"],
        vec!["resolve", &docker, "--platform", "linux/amd64"],
        vec!["lint", &docker],
        vec!["k8s", "affinity", &docker],
        vec!["fleet", "--nodes", nodes.to_str().unwrap(), "--image", &docker],
        vec!["index", "fix-order", examples.to_str().unwrap(), &push],
    ];
    for args in runs {
        let run = ocifit(&args, &[], None);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("user name or password"), "{args:?}: {}", run.stderr);
    }
}

// --- issue 14 item 7 ---------------------------------------------------------------

#[test]
fn issue14_7_creds_and_authfile_choose_credentials_per_registry() {
    let r = basic();
    let (_, entries) = r.push_index("private/spelled", "v1");
    let reference = format!("{}/private/spelled:v1", r.host());
    let check = |run: fixture::Run| {
        ok(&run);
        assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    };
    let creds = format!("{USER}:{PASSWORD}");
    check(ocifit(&["select", &reference, "--creds", &creds, V3[0], V3[1], V3[2], V3[3]], &[], None));
    // Before the command, as the registry options always could be written.
    check(ocifit(&["--creds", &creds, "select", &reference, V3[0], V3[1], V3[2], V3[3]], &[], None));
    let dir = temp_dir("authfile");
    let file = auth_file(&dir, "mine.json", &r.host(), USER, PASSWORD);
    check(ocifit(&["select", &reference, "--authfile", file.to_str().unwrap(), V3[0], V3[1], V3[2], V3[3]], &[], None));
    // --authfile replaces $REGISTRY_AUTH_FILE.
    let wrong = auth_file(&dir, "wrong.json", &r.host(), USER, "wrong-Pass-1");
    let run = ocifit(
        &["select", &reference, "--authfile", file.to_str().unwrap(), V3[0], V3[1], V3[2], V3[3]],
        &[("REGISTRY_AUTH_FILE", &wrong)],
        None,
    );
    check(run);
    let run = ocifit(&["select", &reference, "--authfile", "/nonexistent/auth.json", V3[0], V3[1]], &[], None);
    fails(&run, &["--authfile", "/nonexistent/auth.json", "no such file"]);
    // Wrong --creds: refused, the password never printed.
    let run = ocifit(&["select", &reference, "--creds", "alice:Wr0ng-Pw-77", V3[0], V3[1]], &[], None);
    fails(&run, &["refused the credentials from --creds"]);
    assert!(!run.stderr.contains("Wr0ng-Pw-77"));
    let run = ocifit(&["select", &reference, "--creds", "nocolon", V3[0], V3[1]], &[], None);
    fails(&run, &["--creds", "USER:PASSWORD"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn issue14_7_plain_http_may_name_hosts() {
    let r = anonymous();
    r.push_index("plain/named", "v1");
    let reference = format!("{}/plain/named:v1", r.host());
    let first_request = |extra: &[&str]| {
        let mut args = vec!["select", reference.as_str(), "-v", V3[0], V3[1]];
        args.extend_from_slice(extra);
        let run = ocifit(&args, &[], None);
        ok(&run);
        run.stderr.lines().next().unwrap_or_default().to_string()
    };
    let named = format!("--plain-http={}", r.host());
    let other_host = "--plain-http=insecure.example";
    // Named (with its port, or by host alone), or bare: straight to http://.
    let http = format!("ocifit: GET http://{}/v2/ -> 200", r.host());
    let https = format!("ocifit: GET https://{}/v2/ -> failed", r.host());
    assert_eq!(first_request(&[&named]), http);
    assert_eq!(first_request(&["--plain-http=127.0.0.1"]), http);
    assert_eq!(first_request(&["--plain-http"]), http);
    // Another host named: this loopback registry is tried over TLS first.
    assert_eq!(first_request(&[other_host]), https);
}

// --- --verbose ------------------------------------------------------------------

#[test]
fn verbose_prints_requests_never_secrets() {
    let (r, _) = crate::fixture::bearer();
    r.push_index("verbose/app", "v1");
    let dir = temp_dir("verbose");
    let file = auth_file(&dir, "auth.json", &r.host(), USER, PASSWORD);
    let reference = format!("{}/verbose/app:v1", r.host());
    let run = ocifit(&["select", &reference, "--verbose", V3[0], V3[1]], &[("REGISTRY_AUTH_FILE", &file)], None);
    ok(&run);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.contains(&format!("ocifit: GET http://{}/v2/ -> 401", r.host()).as_str()), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("ocifit: GET http://127.0.0.1:") && l.contains("/token?service=")));
    assert!(
        lines.contains(&format!("ocifit: GET http://{}/v2/verbose/app/manifests/v1 -> 200", r.host()).as_str()),
        "{lines:?}"
    );
    let basic = fixture::basic_header(USER, PASSWORD);
    for secret in [PASSWORD, "Bearer", "eyJ", "Basic", basic.as_str()] {
        assert!(!run.stderr.contains(secret), "{secret:?} in {}", run.stderr);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn registry_options_only_on_commands_that_read_sources() {
    let help = |args: &[&str]| ocifit(args, &[], None).stdout;
    for command in [&["select", "--help"][..], &["resolve", "--help"], &["lint", "--help"], &["fleet", "--help"]] {
        let text = help(command);
        assert!(text.contains("Registry options") && text.contains("--plain-http"), "{command:?}");
    }
    for command in [&["index", "add", "--help"][..], &["k8s", "affinity", "--help"]] {
        assert!(help(command).contains("--creds-stdin"), "{command:?}");
    }
    for command in [&["--help"][..], &["features", "--help"], &["explain", "--help"], &["host", "--help"]] {
        let text = help(command);
        assert!(!text.contains("--plain-http") && !text.contains("--ca-cert"), "{command:?}: {text}");
    }
    let run = ocifit(&["features", "--plain-http"], &[], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

// --- downgrades -------------------------------------------------------------------

#[test]
fn https_to_plain_http_redirect_is_refused_unless_plain_http_names_the_target() {
    let (r, cert) = fixture::self_signed_tls();
    let target = "http://insecure.invalid/v2/app/manifests/v1";
    let port = crate::servers::tls_redirector(cert, &r.dir.join("domain.key"), target.into(), 60);
    let reference = format!("127.0.0.1:{port}/app:v1");
    let ca = ["--ca-cert", cert.to_str().unwrap()];
    let run = select(&reference, &ca);
    fails(&run, &["refusing a redirect from https to plain http", target]);
    // Named by --plain-http: followed (to a host that does not exist).
    let run = select(&reference, &[ca[0], ca[1], "--plain-http=insecure.invalid"]);
    fails(&run, &[target]);
    assert!(!run.stderr.contains("refusing"), "{}", run.stderr);
}
