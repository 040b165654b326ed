//! `ocifit mirror` in front of real runtimes — containerd (`ctr` and the
//! CRI image service), podman and skopeo — pulling from a real registry
//! (Debian's docker-registry) on 127.0.0.1. Every process is started here,
//! in temporary directories, and stopped at the end (docs/mirror.md,
//! "Runtime matrix", is written from what these tests assert).
//!
//! The mirror's target is fixed (`--platform linux/amd64 --features
//! avx2,bmi2`), so the answers do not depend on the machine: without the
//! mirror every runtime gets the generic build (the first amd64 entry),
//! through it the AVX2 build.

#[allow(dead_code)]
#[path = "../registry/fixture.rs"]
mod fixture;
#[allow(dead_code)]
#[path = "../registry/token.rs"]
mod token;

mod containerd;
mod containers;
mod cri;
mod daemon;
mod image;
mod mirror;

use std::sync::Mutex;

use containerd::{containerd, hosts_dir, write_hosts};
use containers::Setup;
use daemon::Scratch;
use fixture::{PASSWORD, Registry, USER, anonymous, bearer, free_port, sha256};
use image::{Image, LEGACY, SELECTED};
use mirror::Mirror;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Runtime {
    Ctr,
    Cri,
    Podman,
    Skopeo,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Ctr => "ctr",
            Runtime::Cri => "cri",
            Runtime::Podman => "podman",
            Runtime::Skopeo => "skopeo",
        }
    }

    /// containerd names the registry with `?ns=`, so one mirror serves
    /// every registry; containers/image has one mirror address per
    /// registry, so that mirror is started with `--upstream`.
    fn mirror_args(self, registry: &Registry) -> Vec<String> {
        match self {
            Runtime::Ctr | Runtime::Cri => vec![],
            Runtime::Podman | Runtime::Skopeo => vec!["--upstream".into(), format!("http://{}", registry.host())],
        }
    }

    /// The containerd namespace (ctr) or scratch directory of a scenario.
    fn scenario(self, image: &Image, scenario: &str) -> String {
        format!("{}-{scenario}", image.repo.replace('/', "-"))
    }

    /// Pull `reference` of `image` (with the runtime's registry
    /// configuration naming `mirror`, if any); returns the build it got,
    /// read from what it stored (config, unpacked layer), not its logs.
    fn pull(
        self,
        image: &Image,
        reference: &str,
        mirror: Option<&str>,
        scenario: &str,
    ) -> Result<&'static str, String> {
        let name = self.scenario(image, scenario);
        let mirror_url = mirror.map(|m| format!("http://{m}"));
        match self {
            Runtime::Ctr => {
                let c = containerd();
                let hosts = hosts_dir(&name, &[&image.registry], mirror_url.as_deref());
                c.pull(&name, reference, &hosts, &[])?;
                // ctr fetches every entry that matches linux/amd64 and
                // unpacks one: the build is the one with a snapshot.
                let snapshots = c.snapshots(&name);
                let unpacked: Vec<_> = image.builds.iter().filter(|b| snapshots.contains(&b.layer)).collect();
                let [b] = unpacked.as_slice() else {
                    return Err(format!("expected one unpacked build, found {snapshots:?}"));
                };
                let content = c.content(&name);
                assert!(content.contains(&b.manifest) && content.contains(&b.config), "{}: not in content", b.name);
                assert!(c.unpacked_markers().contains(&b.marker), "{}: no marker file unpacked", b.name);
                Ok(b.name)
            }
            Runtime::Cri => cri_pull(image, reference, mirror_url.as_deref(), None),
            Runtime::Podman => Setup::new(&name, &image.registry, mirror).podman_pull(image, reference),
            Runtime::Skopeo => Setup::new(&name, &image.registry, mirror).skopeo_copy(image, reference),
        }
    }

    /// The index bytes the runtime stored or read for `reference` pinned
    /// to `digest` (after [`Runtime::pull`] of the same scenario); `None`
    /// for podman, which keeps no copy it shows.
    fn index_bytes(self, image: &Image, digest: &str, mirror: &str, scenario: &str) -> Option<Vec<u8>> {
        match self {
            Runtime::Ctr => Some(containerd().blob(&self.scenario(image, scenario), digest)),
            Runtime::Cri => Some(containerd().blob("k8s.io", digest)),
            Runtime::Podman => None,
            Runtime::Skopeo => Some(
                Setup::new(&self.scenario(image, scenario), &image.registry, Some(mirror))
                    .skopeo_raw(&image.pinned(digest))
                    .unwrap(),
            ),
        }
    }
}

/// A CRI `PullImage` (with `auth`, as the kubelet passes it), with the
/// plugin's registry configuration naming `mirror_url`, if any; returns the
/// build `ImageStatus` reports (its image ID is the config digest).
fn cri_pull(
    image: &Image,
    reference: &str,
    mirror_url: Option<&str>,
    auth: Option<(&str, &str)>,
) -> Result<&'static str, String> {
    // The CRI plugin reads one registry configuration: one pull at a time.
    static CRI: Mutex<()> = Mutex::new(());
    let _one = CRI.lock().unwrap_or_else(|e| e.into_inner());
    let c = containerd();
    write_hosts(&c.certs_d(), &[&image.registry], mirror_url);
    cri::pull_image(&c.socket, reference, auth)?;
    let status = cri::image_status(&c.socket, reference)?.ok_or("ImageStatus: no such image")?;
    image.build_of_config(&status.id).ok_or(format!("unknown image ID {}", status.id))
}

/// A manifest request to the mirror: (status, lowercased headers, body).
fn mirror_request(
    mirror: &Mirror,
    method: &str,
    image: &Image,
    reference: &str,
    auth: Option<&str>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let url = format!("{}/v2/{}/manifests/{reference}?ns={}", mirror.url(), image.repo, image.registry);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().into();
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
    let mut req = if method == "GET" { agent.get(&url) } else { agent.head(&url) }.header("Accept", accept);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut response = req.call().unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = if method == "GET" { response.body_mut().read_to_vec().unwrap() } else { Vec::new() };
    (response.status().as_u16(), headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The digest the mirror serves for the image's tag (the rewritten index).
fn rewritten_digest(mirror: &Mirror, image: &Image) -> String {
    let (status, headers, body) = mirror_request(mirror, "GET", image, "v1", None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let digest = sha256(&body);
    assert_ne!(digest, image.index_digest, "the mirror did not rewrite: {}", mirror.log_text());
    assert_eq!(header(&headers, "docker-content-digest"), Some(digest.as_str()));
    digest
}

/// The runtime matrix of docs/mirror.md for one runtime, scenario by scenario.
fn matrix(rt: Runtime) {
    let registry = anonymous();
    let image = Image::push(registry, &format!("matrix/{}", rt.name()));
    let pinned_upstream = image.pinned(&image.index_digest);

    // Without the mirror: what a runtime that ignores features takes.
    assert_eq!(rt.pull(&image, &image.reference, None, "direct"), Ok(LEGACY), "{rt:?} without the mirror");

    // Through the mirror: the entry for the target.
    let args = rt.mirror_args(registry);
    let mirror = Mirror::start(rt.name(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    let via = Some(mirror.addr.as_str());
    assert_eq!(rt.pull(&image, &image.reference, via, "mirror"), Ok(SELECTED), "{rt:?} through the mirror");
    assert!(mirror.metric("ocifit_mirror_rewrites_total") >= 1.0, "{rt:?}: no rewrite counted");

    // Pinned to the upstream index: that index, byte for byte, and the
    // runtime's own choice from it.
    assert_eq!(rt.pull(&image, &pinned_upstream, via, "pinned-upstream"), Ok(LEGACY), "{rt:?} upstream digest");
    if let Some(bytes) = rt.index_bytes(&image, &image.index_digest, &mirror.addr, "pinned-upstream") {
        assert!(bytes == image.index_bytes, "{rt:?}: the upstream index changed on its way");
    }

    // Pinned to the rewritten index: served from the mirror's store, also
    // after a restart.
    let rewritten = rewritten_digest(&mirror, &image);
    let pinned_rewrite = image.pinned(&rewritten);
    assert_eq!(rt.pull(&image, &pinned_rewrite, via, "pinned-rewrite"), Ok(SELECTED), "{rt:?} rewritten digest");
    let mirror = mirror.restart();
    let via = Some(mirror.addr.as_str());
    let after = rt.pull(&image, &pinned_rewrite, via, "pinned-rewrite-restarted");
    assert_eq!(after, Ok(SELECTED), "{rt:?} rewritten digest after a restart: {}", mirror.log_text());

    // The mirror down: the runtime falls back to the registry.
    let down = mirror.addr.clone();
    drop(mirror);
    assert_eq!(rt.pull(&image, &image.reference, Some(&down), "mirror-down"), Ok(LEGACY), "{rt:?} mirror down");

    // The upstream unreachable from the mirror (502): the same.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let broken = Mirror::start(&format!("{}-broken", rt.name()), &["--upstream", &dead]);
    let got = rt.pull(&image, &image.reference, Some(&broken.addr), "upstream-unreachable");
    assert_eq!(got, Ok(LEGACY), "{rt:?} upstream unreachable: {}", broken.log_text());
    assert!(broken.metric("ocifit_mirror_upstream_errors_total") >= 1.0, "{rt:?}: the mirror was not asked");
}

#[test]
fn s9_matrix_ctr() {
    matrix(Runtime::Ctr);
}

#[test]
fn s9_matrix_cri() {
    matrix(Runtime::Cri);
}

#[test]
fn s9_matrix_podman() {
    matrix(Runtime::Podman);
}

#[test]
fn s9_matrix_skopeo() {
    matrix(Runtime::Skopeo);
}

/// The rewritten index's headers describe its bytes; HEAD is GET without the body.
#[test]
fn s9_rewritten_index_headers_match_the_bytes() {
    let registry = anonymous();
    let image = Image::push(registry, "headers/app");
    let mirror = Mirror::start("headers", &[]);
    for reference in ["v1".to_string(), image.index_digest.clone()] {
        let (status, get, body) = mirror_request(&mirror, "GET", &image, &reference, None);
        assert_eq!(status, 200);
        assert_eq!(header(&get, "docker-content-digest"), Some(sha256(&body).as_str()), "{reference}");
        assert_eq!(header(&get, "content-length"), Some(body.len().to_string().as_str()), "{reference}");
        assert_eq!(header(&get, "content-type"), Some(fixture::INDEX));
        let (status, head, empty) = mirror_request(&mirror, "HEAD", &image, &reference, None);
        assert_eq!(status, 200);
        assert!(empty.is_empty());
        for name in ["docker-content-digest", "content-length", "content-type"] {
            assert_eq!(header(&head, name), header(&get, name), "HEAD {reference}: {name}");
        }
        if reference == image.index_digest {
            assert!(body == image.index_bytes, "a pinned digest is served as stored upstream");
        } else {
            assert_ne!(sha256(&body), image.index_digest, "the tag is rewritten");
        }
    }
}

/// containerd with credentials for a token-auth registry (`ctr --user`, CRI
/// `PullImage` auth) gets the feature entry through the mirror; a client without a token cannot read the
/// stored rewrite.
#[test]
fn s9_token_auth_through_the_mirror() {
    let (registry, _tokens) = bearer();
    let image = Image::push(registry, "tokens/mirrored");
    let mirror = Mirror::start("tokens", &[]);
    let url = format!("http://{}", mirror.addr);
    let hosts = hosts_dir("tokens-hosts", &[&image.registry], Some(&url));
    let c = containerd();
    let user = format!("{USER}:{PASSWORD}");
    let ns = "tokens-mirrored";
    c.pull(ns, &image.reference, &hosts, &["--user", &user]).unwrap();
    assert_eq!(image.build_among(&c.content(ns)), Ok(SELECTED), "{}", mirror.log_text());
    let rewritten = c.image_target(ns, &image.reference);
    assert_ne!(rewritten, image.index_digest);
    // The CRI image service with the credentials the kubelet passes.
    assert_eq!(cri_pull(&image, &image.reference, Some(&url), Some((USER, PASSWORD))), Ok(SELECTED));

    // Without a token: the registry's challenge, never the stored index.
    let (status, headers, body) = mirror_request(&mirror, "GET", &image, &rewritten, None);
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    assert!(header(&headers, "www-authenticate").is_some_and(|v| v.starts_with("Bearer ")), "{headers:?}");
    // With a token for another repository: refused too.
    let other = format!("Bearer {}", bearer().1.signer().token("tokens/other", &["pull"]));
    let (status, _, _) = mirror_request(&mirror, "GET", &image, &rewritten, Some(&other));
    assert_ne!(status, 200, "a token for another repository read the stored rewrite");
    // With a token for this one: served.
    let own = format!("Bearer {}", bearer().1.signer().token(&image.repo, &["pull"]));
    let (status, _, body) = mirror_request(&mirror, "GET", &image, &rewritten, Some(&own));
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), rewritten);
}

/// podman sends credentials to a mirror only when its auth file names the
/// mirror's address: with the upstream's alone it pulls through the mirror
/// anonymously, is refused, and falls back to the registry (generic); with
/// the mirror's address too it gets the feature entry.
#[test]
fn s9_podman_token_auth_through_the_mirror() {
    let (registry, _tokens) = bearer();
    let image = Image::push(registry, "tokens/podman");
    let upstream = format!("http://{}", registry.host());
    let mirror = Mirror::start("tokens-podman", &["--upstream", &upstream]);
    let upstream_only = Setup::new("tokens-podman-upstream", &image.registry, Some(&mirror.addr));
    upstream_only.log_in(&[&image.registry]);
    assert_eq!(upstream_only.podman_pull(&image, &image.reference), Ok(LEGACY));
    let both = Setup::new("tokens-podman-both", &image.registry, Some(&mirror.addr));
    both.log_in(&[&image.registry, &mirror.addr]);
    assert_eq!(both.podman_pull(&image, &image.reference), Ok(SELECTED), "{}", mirror.log_text());
}

/// `--mode reorder` keeps every entry and moves the selected one first:
/// runtimes take it all the same.
#[test]
fn s9_reorder_mode_with_ctr_and_skopeo() {
    let registry = anonymous();
    let image = Image::push(registry, "reorder/app");
    let upstream = format!("http://{}", registry.host());
    let mirror = Mirror::start("reorder", &["--mode", "reorder", "--upstream", &upstream]);
    assert_eq!(Runtime::Ctr.pull(&image, &image.reference, Some(&mirror.addr), "reorder"), Ok(SELECTED));
    // ctr fetched every amd64 entry of the reordered index, as it does upstream's.
    let content = containerd().content(&Runtime::Ctr.scenario(&image, "reorder"));
    let fetched = image.builds.iter().filter(|b| content.contains(&b.config)).count();
    assert_eq!(fetched, 3, "{content:?}");
    assert_eq!(Runtime::Skopeo.pull(&image, &image.reference, Some(&mirror.addr), "reorder"), Ok(SELECTED));
}

/// One mirror without `--upstream` serves two registries, told apart by
/// containerd's `?ns=`.
#[test]
fn s9_ns_routing_to_two_registries() {
    let first = anonymous();
    let second = Registry::start("second", None);
    let a = Image::push(first, "routing/one");
    let b = Image::push(&second, "routing/two");
    let mirror = Mirror::start("routing", &[]);
    let url = format!("http://{}", mirror.addr);
    let hosts = hosts_dir("routing-hosts", &[&a.registry, &b.registry], Some(&url));
    let c = containerd();
    for (image, ns) in [(&a, "routing-one"), (&b, "routing-two")] {
        c.pull(ns, &image.reference, &hosts, &[]).unwrap();
        assert_eq!(image.build_among(&c.content(ns)), Ok(SELECTED), "{}", image.reference);
    }
    assert!(first.manifest_requests("routing/one") > 0 && second.manifest_requests("routing/two") > 0);
}

/// Run `ocifit mirror config …` (a command that writes files); panics with its stderr on failure.
fn ocifit_config(args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocifit")).args(args).output().unwrap();
    assert!(out.status.success(), "ocifit {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The hosts.toml `ocifit mirror config containerd --write` installs
/// makes ctr pull through the mirror, and from the registry when the
/// mirror is down.
#[test]
fn s9_config_containerd_hosts_toml_works_with_ctr() {
    let image = Image::push(anonymous(), "config/containerd");
    let mirror = Mirror::start("config-containerd", &[]);
    let dir = Scratch::new("config-containerd");
    let hosts = dir.join("certs.d");
    let hosts_arg = hosts.display().to_string();
    ocifit_config(&[
        "mirror",
        "config",
        "containerd",
        "--registry",
        &image.registry,
        "--mirror",
        &mirror.url(),
        "--write",
        &hosts_arg,
    ]);
    let c = containerd();
    let pull = |ns: &str| -> Result<&'static str, String> {
        c.pull(ns, &image.reference, &hosts, &[])?;
        let snapshots = c.snapshots(ns);
        Ok(image.builds.iter().find(|b| snapshots.contains(&b.layer)).ok_or("nothing unpacked")?.name)
    };
    assert_eq!(pull("config-through"), Ok(SELECTED), "{}", mirror.log_text());
    drop(mirror);
    assert_eq!(pull("config-down"), Ok(LEGACY));
}

/// The registries.conf drop-in `ocifit mirror config containers --write`
/// installs makes podman and skopeo pull through the mirror, and from the
/// registry when the mirror is down.
#[test]
fn s9_config_containers_drop_in_works_with_podman_and_skopeo() {
    let registry = anonymous();
    let image = Image::push(registry, "config/containers");
    let upstream = format!("http://{}", registry.host());
    let mirror = Mirror::start("config-containers", &["--upstream", &upstream]);
    let dir = Scratch::new("config-containers");
    let dir_arg = dir.display().to_string();
    ocifit_config(&[
        "mirror",
        "config",
        "containers",
        "--registry",
        &image.registry,
        "--mirror",
        &mirror.url(),
        "--write",
        &dir_arg,
    ]);
    let conf = std::fs::read_to_string(dir.join("ocifit-mirror.conf")).unwrap();
    let pulls = |scenario: &str| {
        let podman = Setup::with_registries_conf(&format!("config-podman-{scenario}"), &conf)
            .podman_pull(&image, &image.reference);
        let skopeo = Setup::with_registries_conf(&format!("config-skopeo-{scenario}"), &conf)
            .skopeo_copy(&image, &image.reference);
        (podman, skopeo)
    };
    assert_eq!(pulls("through"), (Ok(SELECTED), Ok(SELECTED)), "{conf}");
    drop(mirror);
    assert_eq!(pulls("down"), (Ok(LEGACY), Ok(LEGACY)), "{conf}");
}
