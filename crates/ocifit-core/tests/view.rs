//! docs/semantics.md §1 holds for both parsers: `IndexView` (the fast read-only
//! parser, used by select and resolve) against `Index` (the document):
//! on every input they must agree: the same error, or the same entries,
//! the same selection and the same report. Table-driven for the cases that
//! matter, then a property over generated odd documents.

use ocifit_core::index::{Entries, IndexErrorKind};
use ocifit_core::{FeatureTable, Index, IndexView, Platform, Target, legacy_select, select};
use proptest::prelude::*;
use serde_json::{Value, json};

const TABLE: FeatureTable = FeatureTable::builtin();
const MT: &str = "application/vnd.oci.image.manifest.v1+json";

/// Assert agreement; returns whether the fast reader took the input.
fn agree(bytes: &[u8]) -> bool {
    let document = Index::from_slice(bytes);
    let view = IndexView::parse(bytes);
    let (index, view) = match (document, view) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "both refuse, with the same error");
            return false;
        }
        (Ok(index), Ok(view)) => (index, view),
        (a, b) => {
            panic!("disagree on {:?}: index {:?}, view ok = {}", String::from_utf8_lossy(bytes), a.err(), b.is_ok())
        }
    };
    assert_eq!(index.media_type(), view.media_type());
    assert_eq!(Entries::len(&index), Entries::len(&view));
    for (a, b) in index.entries().zip(view.entries()) {
        assert_eq!((a.index, a.media_type, a.digest, a.size), (b.index, b.media_type, b.digest, b.size));
        assert_eq!(a.platform.is_some(), b.platform.is_some());
        if let (Some(p), Some(q)) = (a.platform, b.platform) {
            assert_eq!(
                (p.os, p.architecture, p.variant, p.os_version),
                (q.os, q.architecture, q.variant, q.os_version)
            );
            assert!(p.features().eq(q.features()));
            assert!(p.os_features().eq(q.os_features()));
            assert_eq!(p.has_features(), q.has_features());
            assert_eq!(p.raw.to_value(), q.raw.to_value());
            // Key order too: the report shows the platform as written.
            assert_eq!(serde_json::to_string(&p.raw).unwrap(), serde_json::to_string(&q.raw).unwrap());
        }
    }
    for (os, arch, variant) in [("linux", "amd64", "v3"), ("linux", "arm64", "v8.2"), ("windows", "amd64", "")] {
        let target = Target::guaranteed(&Platform::new(os, arch, variant), TABLE);
        let (a, b) = (select(&index, &target, TABLE), select(&view, &target, TABLE));
        assert_eq!(a, b);
        assert_eq!(legacy_select(&index, &target), legacy_select(&view, &target));
        assert_eq!(
            serde_json::to_string(&a.report(&index, &target)).unwrap(),
            serde_json::to_string(&b.report(&view, &target)).unwrap()
        );
    }
    view.is_fast()
}

fn entry(platform: Value) -> Value {
    json!({"mediaType": MT, "size": 7, "digest": "sha256:aa", "platform": platform})
}

fn doc(entries: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": entries})).unwrap()
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// (what, bytes, whether the fast reader must take it; `None`: either way).
fn cases() -> Vec<(&'static str, Vec<u8>, Option<bool>)> {
    let names = |n: usize| (0..n).map(|i| format!("f{i}")).collect::<Vec<_>>();
    let amd = |extra: Value| {
        let mut p = json!({"os": "linux", "architecture": "amd64"});
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        entry(p)
    };
    vec![
        ("typical", doc(&[amd(json!({})), amd(json!({"features": ["avx2", "bmi2"]}))]), Some(true)),
        ("empty manifests", doc(&[]), Some(true)),
        (
            "docker list with media type",
            text(
                r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#,
            ),
            Some(true),
        ),
        (
            "escapes in every field read",
            text(
                r#"{"manifests":[{"media\u0054ype":"a\u002fb","size":1,"digest":"sha256:\u0061","platform":{"os":"lin\u0075x","architecture":"amd64","vari\u0061nt":"v3","features":["avx\u0032"],"os.features":["w\u0069n32k"]}}]}"#,
            ),
            Some(true),
        ),
        (
            "unknown keys everywhere kept in order",
            doc(&[amd(json!({"zz": {"a": [1, 2.5, null]}, "features": ["fma"], "aa": true}))]),
            Some(true),
        ),
        ("no platform", doc(&[json!({"mediaType": MT, "size": 1, "digest": "sha256:aa"})]), Some(true)),
        (
            "annotations and urls",
            doc(&[
                json!({"mediaType": MT, "size": 1, "digest": "sha256:aa", "urls": ["http://x"], "annotations": {"k": "v"}}),
            ]),
            Some(true),
        ),
        ("1024 features", doc(&[amd(json!({"features": names(1024)}))]), Some(true)),
        ("1025 features", doc(&[amd(json!({"features": names(1025)}))]), Some(false)),
        ("256-byte name", doc(&[amd(json!({"features": ["x".repeat(256)]}))]), Some(true)),
        ("257-byte name", doc(&[amd(json!({"features": ["x".repeat(257)]}))]), Some(false)),
        ("1025 os.features", doc(&[amd(json!({"os.features": names(1025)}))]), Some(false)),
        (
            "repeated platform key",
            text(&format!(
                r#"{{"manifests":[{{"mediaType":"{MT}","size":1,"digest":"sha256:aa","platform":{{"os":"a","architecture":"b"}},"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
            )),
            Some(false),
        ),
        ("repeated manifests key", text(r#"{"manifests":[1],"manifests":[]}"#), Some(false)),
        (
            "repeated os key",
            text(&format!(
                r#"{{"manifests":[{{"mediaType":"{MT}","size":1,"digest":"sha256:aa","platform":{{"os":"x","os":"linux","architecture":"amd64"}}}}]}}"#
            )),
            Some(false),
        ),
        ("repeated unknown key", text(r#"{"x":1,"x":[2],"manifests":[]}"#), Some(true)),
        (
            "deep but allowed in annotations",
            doc(&[
                json!({"mediaType": MT, "size": 1, "digest": "sha256:aa", "annotations": {"x": serde_json::from_str::<Value>(&nested(40)).unwrap()}}),
            ]),
            Some(false),
        ),
        (
            "too deep in annotations",
            text(&format!(
                r#"{{"manifests":[{{"mediaType":"{MT}","size":1,"digest":"sha256:aa","x":{}}}]}}"#,
                nested(200)
            )),
            Some(false),
        ),
        ("too deep at the top", text(&nested(200_000)), Some(false)),
        ("number out of range in an unknown key", text(r#"{"x":1e400,"manifests":[]}"#), Some(false)),
        (
            "number out of range in platform",
            text(&format!(
                r#"{{"manifests":[{{"mediaType":"{MT}","size":1,"digest":"sha256:aa","platform":{{"os":"linux","architecture":"amd64","x":-1e999}}}}]}}"#
            )),
            Some(false),
        ),
        ("lone surrogate in an annotation", text(r#"{"manifests":[],"annotations":{"a":"\ud800"}}"#), Some(false)),
        (
            "invalid UTF-8 in a string",
            [&b"{\"x\":\""[..], &[0xff, 0xfe], &b"\",\"manifests\":[]}"[..]].concat(),
            Some(false),
        ),
        ("NUL byte", text("{\"manifests\":[]}\0"), Some(false)),
        ("trailing garbage", text(r#"{"manifests":[]} x"#), Some(false)),
        ("truncated", text(r#"{"manifests":[{"mediaType":"#), Some(false)),
        ("empty", text(""), Some(false)),
        ("whitespace", text(" \n\t "), Some(false)),
        ("top is an array", text("[]"), Some(false)),
        ("top is a string", text(r#""manifests""#), Some(false)),
        (
            "entry is an array (serde's struct-as-sequence)",
            text(&format!(r#"{{"manifests":[["{MT}","sha256:aa",1]]}}"#)),
            Some(false),
        ),
        ("platform is a string", doc(&[entry(json!("linux/amd64"))]), Some(false)),
        ("platform is null", doc(&[entry(Value::Null)]), Some(false)),
        ("platform is an array", doc(&[entry(json!(["linux", "amd64"]))]), Some(false)),
        ("features null", doc(&[amd(json!({"features": null}))]), Some(false)),
        ("features a number", doc(&[amd(json!({"features": 3}))]), Some(false)),
        ("features with null", doc(&[amd(json!({"features": ["avx2", null]}))]), Some(false)),
        ("features nested", doc(&[amd(json!({"features": [["avx2"]]}))]), Some(false)),
        ("variant null", doc(&[amd(json!({"variant": null}))]), Some(false)),
        ("os.version a number", doc(&[amd(json!({"os.version": 10}))]), Some(false)),
        ("no os", doc(&[entry(json!({"architecture": "amd64"}))]), Some(false)),
        ("no architecture", doc(&[entry(json!({"os": "linux"}))]), Some(false)),
        ("size negative", doc(&[json!({"mediaType": MT, "size": -1, "digest": "sha256:aa"})]), Some(false)),
        ("size a float", doc(&[json!({"mediaType": MT, "size": 1.5, "digest": "sha256:aa"})]), Some(false)),
        (
            "size 1.0",
            text(&format!(r#"{{"manifests":[{{"mediaType":"{MT}","size":1.0,"digest":"sha256:aa"}}]}}"#)),
            Some(false),
        ),
        ("size a string", doc(&[json!({"mediaType": MT, "size": "1", "digest": "sha256:aa"})]), Some(false)),
        (
            "size huge",
            text(&format!(
                r#"{{"manifests":[{{"mediaType":"{MT}","size":18446744073709551616,"digest":"sha256:aa"}}]}}"#
            )),
            Some(false),
        ),
        ("no size", doc(&[json!({"mediaType": MT, "digest": "sha256:aa"})]), Some(false)),
        ("no digest", doc(&[json!({"mediaType": MT, "size": 1})]), Some(false)),
        ("digest null", doc(&[json!({"mediaType": MT, "size": 1, "digest": null})]), Some(false)),
        ("no mediaType", doc(&[json!({"digest": "sha256:aa", "size": 1})]), Some(false)),
        ("top mediaType null", text(r#"{"mediaType":null,"manifests":[]}"#), Some(false)),
        ("top mediaType a manifest", text(&format!(r#"{{"mediaType":"{MT}","manifests":[]}}"#)), Some(false)),
        ("top mediaType unknown", text(r#"{"mediaType":"text/plain","manifests":[]}"#), Some(false)),
        ("top mediaType empty", text(r#"{"mediaType":"","manifests":[]}"#), Some(false)),
        ("schemaVersion 1", text(r#"{"schemaVersion":1,"manifests":[]}"#), Some(false)),
        ("schemaVersion 2.0", text(r#"{"schemaVersion":2.0,"manifests":[]}"#), Some(false)),
        ("schemaVersion a string", text(r#"{"schemaVersion":"2","manifests":[]}"#), Some(false)),
        ("image manifest", text(r#"{"schemaVersion":2,"config":{},"layers":[]}"#), Some(false)),
        ("manifests an object", text(r#"{"manifests":{}}"#), Some(false)),
        ("manifests null", text(r#"{"manifests":null}"#), Some(false)),
        ("no manifests", text(r#"{"schemaVersion":2}"#), Some(false)),
        ("entry null", text(r#"{"manifests":[null]}"#), Some(false)),
    ]
}

#[test]
fn s1_read_only_view_agrees_with_index_on_every_case() {
    for (what, bytes, fast) in cases() {
        let took = std::panic::catch_unwind(|| agree(&bytes)).unwrap_or_else(|_| panic!("case {what:?}"));
        if let Some(fast) = fast {
            assert_eq!(took, fast, "case {what:?}: fast reader {}", if took { "took it" } else { "declined" });
        }
    }
}

#[test]
fn s1_read_only_view_errors_name_the_pointer() {
    let err = IndexView::parse(&doc(&[entry(json!({"os": "linux", "architecture": "amd64", "features": [1]}))]))
        .err()
        .unwrap();
    assert_eq!(err.pointer, "/manifests/0/platform/features/0");
    assert_eq!(err.kind, IndexErrorKind::Shape);
    let big = vec![b' '; ocifit_core::index::MAX_INDEX_BYTES + 1];
    assert_eq!(IndexView::parse(&big).err().unwrap().kind, IndexErrorKind::TooLarge);
}

/// A JSON value of any type, small.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z\\\\\"\u{e9}\u{1F600}]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::vec(("[a-z]{1,3}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A value for a known key: usually the right type, sometimes anything.
fn field(good: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![6 => good.prop_map(Some), 1 => Just(None), 1 => any_value().prop_map(Some)]
}

fn names() -> impl Strategy<Value = Value> {
    proptest::collection::vec(
        prop_oneof![Just("avx2"), Just("fma"), Just("SSE42"), Just("sve"), Just("bogus"), Just("a\u{e9}")],
        0..4,
    )
    .prop_map(|v| json!(v))
}

fn platform() -> impl Strategy<Value = Value> {
    (
        field(prop_oneof![Just(json!("linux")), Just(json!("windows"))]),
        field(prop_oneof![Just(json!("amd64")), Just(json!("arm64")), Just(json!("x86_64"))]),
        field(prop_oneof![Just(json!("v3")), Just(json!("v8.2")), Just(json!(""))]),
        field(Just(json!("10.0.17763.1"))),
        field(names()),
        field(names()),
        proptest::option::of(any_value()),
    )
        .prop_map(|(os, arch, variant, version, os_features, features, extra)| {
            let mut m = serde_json::Map::new();
            let pairs = [
                ("os", os),
                ("architecture", arch),
                ("variant", variant),
                ("os.version", version),
                ("os.features", os_features),
                ("features", features),
                ("extra", extra),
            ];
            for (k, v) in pairs {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        })
}

fn descriptor() -> impl Strategy<Value = Value> {
    (
        field(Just(json!(MT))),
        field(prop_oneof![Just(json!(1)), Just(json!(u64::MAX))]),
        field(Just(json!("sha256:aa"))),
        field(platform()),
        proptest::option::of(any_value()),
    )
        .prop_map(|(mt, size, digest, platform, annotations)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [
                ("mediaType", mt),
                ("size", size),
                ("digest", digest),
                ("platform", platform),
                ("annotations", annotations),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn s1_read_only_view_agrees_with_index_on_generated_documents(
        entries in proptest::collection::vec(descriptor(), 0..5),
        escape in any::<bool>(),
        cut in proptest::option::of(0usize..400),
    ) {
        let mut text = serde_json::to_string(&json!({"schemaVersion": 2, "manifests": entries})).unwrap();
        if escape {
            // Same document, every ASCII letter in strings now escaped where safe.
            text = text.replace("linux", "\\u006cinux").replace("avx2", "av\\u00782");
        }
        let mut bytes = text.into_bytes();
        if let Some(cut) = cut {
            bytes.truncate(cut.min(bytes.len()));
        }
        agree(&bytes);
    }
}
