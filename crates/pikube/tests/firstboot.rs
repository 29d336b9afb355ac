//! `pikube firstboot`: the files a fresh card's boot partition needs, checked with the
//! real cloud-init (`cloud-init schema` for user-data, `cloud-init devel net-convert` for
//! network-config, as cloud-init parses them on the node) and under sh -n; bad input is
//! named and nothing is written. The Bookworm script runs in a fake node in prepare.rs.

use std::path::Path;
use std::process::{Command, Stdio};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMFq0xCjE2uUeE3wY3iQ1bHq8rS3xk6J5m3K7bXzTq1Y ops@laptop";

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(ssh_user: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cluster.toml"),
            format!(
                "[cluster]\nname = \"homelab\"\n\n[ssh]\n{ssh_user}\n[k3s]\nversion = \"v1.31.4+k3s1\"\n\n\
                 [[nodes]]\nname = \"pi-1\"\naddress = \"192.168.1.10\"\nrole = \"server\"\n\n\
                 [[nodes]]\nname = \"on\"\naddress = \"192.168.1.11\"\nrole = \"agent\"\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("key.pub"), format!("{KEY}\n")).unwrap();
        Lab { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pikube(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_pikube"))
            .args(args)
            .current_dir(self.path())
            .env("HOME", self.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("PIKUBE_FILE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// `cloud-init schema` on user-data, and network-config converted to netplan by cloud-init's
/// own parser; both must pass.
fn cloud_init_accepts(dir: &Path, distro: &str) -> String {
    let schema = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(dir.join("user-data"))
        .output()
        .expect("cloud-init (Debian package cloud-init)");
    assert!(
        schema.status.success(),
        "cloud-init schema: {}{}",
        String::from_utf8_lossy(&schema.stdout),
        String::from_utf8_lossy(&schema.stderr)
    );
    let rendered = tempfile::tempdir().unwrap();
    let convert = Command::new("cloud-init")
        .args([
            "devel",
            "net-convert",
            "-k",
            "yaml",
            "-O",
            "netplan",
            "-D",
            distro,
            "-p",
        ])
        .arg(dir.join("network-config"))
        .arg("-d")
        .arg(rendered.path())
        .output()
        .unwrap();
    assert!(
        convert.status.success(),
        "net-convert: {}",
        String::from_utf8_lossy(&convert.stderr)
    );
    std::fs::read_to_string(rendered.path().join("etc/netplan/50-cloud-init.yaml")).unwrap()
}

#[test]
fn cloud_init_files_for_every_node_pass_cloud_inits_own_checks() {
    let lab = Lab::new("user = \"admin\"");
    let (code, stdout, stderr) = lab.pikube(&[
        "firstboot",
        "--all",
        "--os",
        "ubuntu",
        "--out",
        "seeds",
        "--authorized-key",
        "key.pub",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for node in ["pi-1", "on"] {
        let dir = lab.path().join("seeds").join(node);
        let netplan = cloud_init_accepts(&dir, "ubuntu");
        assert!(
            netplan.contains("eth0") && netplan.contains("dhcp4: true"),
            "{netplan}"
        );
        let user_data = std::fs::read_to_string(dir.join("user-data")).unwrap();
        let parsed: yaml_serde::Value = yaml_serde::from_str(&user_data).unwrap();
        // A node called `on` stays a string (cloud-init reads YAML 1.1).
        assert_eq!(parsed["hostname"].as_str(), Some(node));
        assert_eq!(parsed["users"][0]["name"].as_str(), Some("admin"));
        assert_eq!(
            parsed["users"][0]["ssh_authorized_keys"][0].as_str(),
            Some(KEY)
        );
        assert_eq!(parsed["ssh_pwauth"].as_bool(), Some(false));
        assert!(dir.join("meta-data").is_file());
        assert!(!dir.join("ssh").exists(), "Ubuntu turns SSH on by itself");
        assert!(
            stdout.contains(&format!(
                "{node}: user-data, network-config, meta-data for ubuntu"
            )),
            "{stdout}"
        );
    }

    // Trixie into one mounted partition: the trio plus the `ssh` flag.
    let boot = lab.path().join("bootfs");
    std::fs::create_dir(&boot).unwrap();
    std::fs::write(boot.join("user-data"), "#cloud-config\n# the image's own\n").unwrap();
    let (code, stdout, stderr) = lab.pikube(&[
        "firstboot",
        "pi-1",
        "--os",
        "trixie",
        "--out",
        "bootfs",
        "--authorized-key",
        "key.pub",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    cloud_init_accepts(&boot, "debian");
    assert_eq!(std::fs::read(boot.join("ssh")).unwrap(), b"");
    let mut names: Vec<String> = std::fs::read_dir(&boot)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["meta-data", "network-config", "ssh", "user-data"]);
}

/// pi-1 at a static address, with `[network]`.
fn with_static_address(lab: &Lab) {
    let path = lab.path().join("cluster.toml");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\n[[nodes]]\nname = \"pi-1\"\naddress = \"192.168.1.10\"",
        "\n[network]\ngateway = \"192.168.1.1\"\ndns = [\"192.168.1.1\", \"9.9.9.9\"]\n\n\
         [[nodes]]\nname = \"pi-1\"\naddress = \"192.168.1.10/24\"",
        1,
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_static_address_reaches_every_format() {
    let lab = Lab::new("user = \"admin\"");
    with_static_address(&lab);
    for os in ["ubuntu", "trixie"] {
        let out = format!("static-{os}");
        let (code, stdout, stderr) = lab.pikube(&[
            "firstboot",
            "pi-1",
            "--os",
            os,
            "--out",
            &out,
            "--authorized-key",
            "key.pub",
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let netplan = cloud_init_accepts(&lab.path().join(&out), "debian");
        for wanted in ["192.168.1.10/24", "via: 192.168.1.1", "9.9.9.9"] {
            assert!(netplan.contains(wanted), "{os}: {wanted} not in\n{netplan}");
        }
        assert!(!netplan.contains("dhcp4: true"), "{netplan}");
    }
    // Bookworm: a NetworkManager keyfile, 0600, from firstrun.sh.
    let (code, stdout, stderr) = lab.pikube(&[
        "firstboot",
        "pi-1",
        "--os",
        "bookworm",
        "--out",
        "static-bookworm",
        "--authorized-key",
        "key.pub",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let script = std::fs::read_to_string(lab.path().join("static-bookworm/firstrun.sh")).unwrap();
    for wanted in [
        "address1=192.168.1.10/24,192.168.1.1\n",
        "dns=192.168.1.1;9.9.9.9;\n",
        "interface-name=eth0\n",
        "chmod 600 /etc/NetworkManager/system-connections/pikube-eth0.nmconnection",
    ] {
        assert!(script.contains(wanted), "{wanted} not in\n{script}");
    }
    let checked = Command::new("sh")
        .arg("-n")
        .arg(lab.path().join("static-bookworm/firstrun.sh"))
        .status()
        .unwrap();
    assert!(checked.success());
    // The node without a prefix keeps DHCP.
    let (code, _, _) = lab.pikube(&[
        "firstboot",
        "on",
        "--os",
        "ubuntu",
        "--out",
        "dhcp",
        "--authorized-key",
        "key.pub",
    ]);
    assert_eq!(code, 0);
    assert!(cloud_init_accepts(&lab.path().join("dhcp"), "ubuntu").contains("dhcp4: true"));
}

#[test]
fn bookworm_gets_firstrun_sh_and_the_cmdline_words_once() {
    let lab = Lab::new("user = \"admin\"");
    let boot = lab.path().join("bootfs");
    std::fs::create_dir(&boot).unwrap();
    let cmdline = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n";
    std::fs::write(boot.join("cmdline.txt"), cmdline).unwrap();
    for _ in 0..2 {
        let (code, stdout, stderr) = lab.pikube(&[
            "firstboot",
            "pi-1",
            "--os",
            "bookworm",
            "--out",
            "bootfs",
            "--authorized-key",
            "key.pub",
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains("now runs firstrun.sh once at first boot"),
            "{stdout}"
        );
    }
    let edited = std::fs::read_to_string(boot.join("cmdline.txt")).unwrap();
    assert_eq!(
        edited,
        format!(
            "{} systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot \
             systemd.unit=kernel-command-line.target\n",
            cmdline.trim_end()
        )
    );
    let script = boot.join("firstrun.sh");
    for shell in ["sh", "bash"] {
        let checked = Command::new(shell).arg("-n").arg(&script).status().unwrap();
        assert!(checked.success(), "{shell} -n firstrun.sh");
    }
    assert!(boot.join("ssh").is_file());

    // A folder without cmdline.txt: the words are printed to add by hand.
    let (code, stdout, _) = lab.pikube(&[
        "firstboot",
        "pi-1",
        "--os",
        "bookworm",
        "--out",
        "elsewhere",
        "--authorized-key",
        "key.pub",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("no cmdline.txt in elsewhere: add to the end"),
        "{stdout}"
    );
}

#[test]
fn without_os_the_card_tells_the_image() {
    let lab = Lab::new("user = \"admin\"");
    let card = |name: &str, files: &[&str]| {
        let dir = lab.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for file in files {
            let text = match *file {
                "issue.txt" => "Raspberry Pi reference 2025-11-24\n",
                "cmdline.txt" => "console=tty1 root=PARTUUID=4e639091-02 rootwait\n",
                _ => "#cloud-config\n",
            };
            std::fs::write(dir.join(file), text).unwrap();
        }
    };
    card("bookworm", &["issue.txt", "cmdline.txt"]);
    card("trixie", &["issue.txt", "cmdline.txt", "user-data"]);
    card("ubuntu", &["cmdline.txt", "user-data"]);
    for (os, written) in [
        ("bookworm", "firstrun.sh"),
        ("trixie", "network-config"),
        ("ubuntu", "network-config"),
    ] {
        let (code, stdout, stderr) = lab.pikube(&[
            "firstboot",
            "pi-1",
            "--out",
            os,
            "--authorized-key",
            "key.pub",
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!("{os}: taken for {os}'s boot partition (")),
            "{stderr}"
        );
        assert!(
            stdout.contains(&format!("for {os} written to {os}")),
            "{stdout}"
        );
        assert!(lab.path().join(os).join(written).is_file(), "{os}");
    }

    // Nothing to tell it by, or several nodes' folders: --os is asked for, nothing written.
    card("blank", &[]);
    refused(
        &lab,
        "pi-1 --out blank --authorized-key key.pub",
        "blank: cannot tell which image this boot partition is (no cmdline.txt: not a \
         Raspberry Pi boot partition); say --os bookworm, trixie or ubuntu",
    );
    assert_eq!(
        std::fs::read_dir(lab.path().join("blank")).unwrap().count(),
        0
    );
    refused(
        &lab,
        "--all --out seeds --authorized-key key.pub",
        "say --os bookworm, trixie or ubuntu: the image is told from a card's boot partition \
         only when writing for one node",
    );
}

#[test]
fn the_key_comes_from_ssh_agent_and_the_files_are_private() {
    // No --authorized-key, no identity_file, nothing in ~/.ssh: the agent's first key.
    let lab = Lab::new("user = \"admin\"");
    let socket = lab.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&socket)
        .stdout(Stdio::null())
        .spawn()
        .expect("ssh-agent");
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let key = lab.path().join("agent_key");
    let made = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "from-the-agent",
            "-f",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let added = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &socket)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(added.success());
    let output = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(["firstboot", "pi-1", "--os", "ubuntu", "--out", "seed"])
        .current_dir(lab.path())
        .env("HOME", lab.path())
        .env("SSH_AUTH_SOCK", &socket)
        .env_remove("PIKUBE_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let user_data = std::fs::read_to_string(lab.path().join("seed/user-data")).unwrap();
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let public = public.trim();
    assert!(user_data.contains(public), "{user_data}");

    // Written for this user only, like every file pikube writes for a card.
    for file in ["user-data", "network-config", "meta-data"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(lab.path().join("seed").join(file))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "{file}: {mode:o}");
    }
}

/// Runs `firstboot` with `args` on `lab`: it must fail naming `problem`, writing nothing.
fn refused(lab: &Lab, args: &str, problem: &str) {
    let args: Vec<&str> = std::iter::once("firstboot")
        .chain(args.split_whitespace())
        .collect();
    let (code, stdout, stderr) = lab.pikube(&args);
    assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
    assert!(stderr.contains(problem), "{args:?}: {stderr}");
    assert!(!lab.path().join("out").exists(), "{args:?} wrote something");
}

#[test]
fn bad_input_is_named_and_nothing_is_written() {
    let key = "--os trixie --out out --authorized-key key.pub";
    // Checked for every node before anything is written.
    refused(
        &Lab::new(""),
        &format!("--all {key}"),
        "pi-1: the node is set up for the user pikube logs in as, and cluster.toml names none: set [ssh] user",
    );
    refused(
        &Lab::new("user = \"root\""),
        &format!("pi-1 {key}"),
        "user \"root\" cannot be the admin user",
    );
    let lab = Lab::new("user = \"admin\"");
    std::fs::write(
        lab.path().join("id"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n",
    )
    .unwrap();
    refused(
        &lab,
        "pi-1 --os trixie --out out --authorized-key id",
        "id: not an SSH public key (that is a private key: give the .pub file)",
    );
    // No key anywhere: no agent, an empty home.
    refused(
        &lab,
        "pi-1 --os trixie --out out",
        "pi-1: no public key for the admin user",
    );
    refused(&lab, &format!("pi-9 {key}"), "no node pi-9 in");
    refused(&lab, "--os trixie --out out", "say which nodes");
}
