//! Issue 14 item 6: a registry with the self-signed certificate the
//! distribution and Docker docs make (`openssl req -x509`, CA:TRUE), served
//! by a real docker-registry on 127.0.0.1, reached every way a user would
//! trust it; and TLS errors in words, each with the hint for its case.

use std::path::Path;

use super::{V3, fails, json, ok, select};
use crate::fixture::{anonymous, ocifit, self_signed_tls, temp_dir};

/// No Rust debug text in a message.
fn in_words(stderr: &str) {
    for debug in ["Other(", "OtherError", "InvalidCertificate", "CaUsedAsEndEntity", "UnknownIssuer"] {
        assert!(!stderr.contains(debug), "{debug:?} in {stderr}");
    }
}

#[test]
fn issue14_6_self_signed_registry_certificate() {
    let (r, cert) = self_signed_tls();
    let (_, entries) = anonymous().push_index("self-signed/app", "v1");
    let reference = format!("{}/self-signed/app:v1", r.host());
    let cert_arg = cert.to_str().unwrap();
    let selected = |run: &crate::fixture::Run| {
        ok(run);
        assert_eq!(json(run)["selected"]["digest"], entries[1].as_str());
    };

    // Not trusted: an error in words that says how to trust it.
    let run = select(&reference, &[]);
    fails(&run, &["TLS", "self-signed", "--ca-cert", &format!("certs.d/{}/ca.crt", r.host())]);
    in_words(&run.stderr);

    // --ca-cert with the certificate itself, as curl --cacert and skopeo --cert-dir accept.
    selected(&select(&reference, &["--ca-cert", cert_arg]));

    // certs.d, as podman (any *.crt) and docker (ca.crt) read it; the root
    // of /etc replaced for the test by $OCIFIT_CONFIG_ROOT.
    for (dir, file) in [("etc/containers/certs.d", "registry.crt"), ("etc/docker/certs.d", "ca.crt")] {
        let root = temp_dir("config-root");
        let certs = root.join(dir).join(r.host());
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(cert, certs.join(file)).unwrap();
        let mut args = vec!["select", reference.as_str()];
        args.extend_from_slice(V3);
        selected(&ocifit(&args, &[("OCIFIT_CONFIG_ROOT", &root)], None));
        // Another registry's directory is not this one's.
        let other = root.join(dir).join("127.0.0.1:1");
        std::fs::rename(&certs, &other).unwrap();
        fails(&ocifit(&args, &[("OCIFIT_CONFIG_ROOT", &root)], None), &["TLS"]);
        let _ = std::fs::remove_dir_all(root);
    }

    // The system store, as $SSL_CERT_FILE names it.
    let mut args = vec!["select", reference.as_str()];
    args.extend_from_slice(V3);
    selected(&ocifit(&args, &[("SSL_CERT_FILE", cert)], None));

    // --tls-verify=false: read, with a warning.
    let run = select(&reference, &["--tls-verify=false"]);
    selected(&run);
    assert!(run.stderr.contains("warning: --tls-verify=false"), "{}", run.stderr);

    // Trusted, but asked for by a name the certificate does not list.
    let port = r.port.to_string();
    let by_name = format!("localhost:{port}/self-signed/app:v1");
    let run = select(&by_name, &["--ca-cert", cert_arg]);
    fails(&run, &["TLS", "not valid for the name localhost"]);
    in_words(&run.stderr);
}

#[test]
fn issue14_6_ca_signed_registry_errors_name_the_case() {
    let (r, ca) = crate::fixture::tls();
    anonymous().push_index("ca-signed/app", "v1");
    let reference = format!("{}/ca-signed/app:v1", r.host());
    // Another CA given: the hint says so.
    let (_, self_signed) = self_signed_tls();
    let run = select(&reference, &["--ca-cert", self_signed.to_str().unwrap()]);
    fails(&run, &["TLS", "signed neither by a --ca-cert certificate"]);
    in_words(&run.stderr);
    ok(&select(&reference, &["--ca-cert", ca.to_str().unwrap()]));
    // A file that holds no certificate.
    let dir = temp_dir("not-pem");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    fails(&select(&reference, &["--ca-cert", empty.to_str().unwrap()]), &["no PEM certificate"]);
    let _ = std::fs::remove_dir_all(dir);
    assert!(Path::new(ca).exists());
}
