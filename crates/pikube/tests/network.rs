//! `pikube apply` moving a running node to the static address cluster.toml gives it, on
//! fake nodes whose network is the real NetworkManager's: the move kept when pikube reaches
//! the node at its new address (K3s' node-ip following), and put back by the node itself
//! when pikube cannot.

use crate::support;

use support::cluster::{node, Workspace};
use support::fleet::Fleet;
use support::k3s::{cluster_node, edit};

const READY: &str = "--ready-timeout=60s";
const KEYFILE: &str = "/etc/NetworkManager/system-connections/pikube-eth0.nmconnection";

/// A server and an agent (`two`, on pi2, whose address is NetworkManager's), installed.
fn installed() -> (Fleet, Workspace) {
    let fleet = Fleet::up(&["pi1", "pi2:net=nm"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    (fleet, ws)
}

/// `10.99.<lab>.` and the address of `fleet_node` now.
fn subnet(fleet: &Fleet, fleet_node: &str) -> (String, String) {
    let ip = fleet.node(fleet_node).ip.clone();
    let (net, _) = ip.rsplit_once('.').unwrap();
    (format!("{net}."), ip)
}

/// Gives the `role` node now at `old` the static address `ip`/24 in cluster.toml.
fn make_static(ws: &Workspace, role: &str, old: &str, ip: &str, net: &str, rollback_after: u32) {
    edit(
        ws,
        &format!("address = \"{old}\"\nrole = \"{role}\""),
        &format!("address = \"{ip}/24\"\nrole = \"{role}\""),
    );
    let path = ws.path().join("cluster.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[network]\ngateway = \"{net}1\"\ndns = [\"{net}1\"]\nrollback_after = {rollback_after}\n"
    ));
    std::fs::write(&path, text).unwrap();
}

fn eth0(fleet: &Fleet) -> String {
    fleet.exec("pi2", "ip -4 -o addr show dev eth0")
}

#[test]
fn an_agent_moves_to_its_static_address_and_k3s_follows() {
    let (fleet, ws) = installed();
    let (net, old) = subnet(&fleet, "pi2");
    let new = format!("{net}60");
    make_static(&ws, "agent", &old, &new, &net, 60);

    // The plan says which file and what switch, with its rollback; nothing moves yet.
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(plan.stdout.contains(KEYFILE), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!(
            "switch eth0 to {new}/24 through NetworkManager; the node puts its old \
             configuration back after 60 s unless pikube reaches it at {new}"
        )),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains(&format!("address1={new}/24,{net}1")));
    assert!(eth0(&fleet).contains(&format!("{old}/24")));

    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(&format!("network: reached at {new}; kept")),
        "{said}"
    );

    // On the node: the new address only, from pikube's profile, active; no rollback armed.
    let addresses = eth0(&fleet);
    assert!(addresses.contains(&format!("{new}/24")), "{addresses}");
    assert!(!addresses.contains(&format!("{old}/")), "{addresses}");
    assert_eq!(
        fleet.exec("pi2", &format!("stat -c %a {KEYFILE}")).trim(),
        "600"
    );
    assert!(fleet
        .exec("pi2", "nmcli -t -g NAME,DEVICE connection show --active")
        .contains("pikube-eth0:eth0"));
    let timer = fleet.try_exec("pi2", "systemctl is-active pikube-network-rollback.timer");
    assert_ne!(String::from_utf8_lossy(&timer.stdout).trim(), "active");

    // K3s follows: its config names the node IP, and the Node reports it.
    let config = fleet.exec("pi2", "cat /etc/rancher/k3s/config.yaml");
    assert!(config.contains(&format!("node-ip: {new}")), "{config}");
    let two = cluster_node(&fleet, "pi1", "two");
    let internal: Vec<&str> = two["status"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "InternalIP")
        .filter_map(|a| a["address"].as_str())
        .collect();
    assert_eq!(internal, [new.as_str()], "{two}");

    // Pinned for the new address with the key it had: no first contact was announced.
    let known = std::fs::read_to_string(ws.known_hosts()).unwrap();
    assert!(
        known.lines().any(|l| l.starts_with(&format!("{new} "))),
        "{known}"
    );
    assert!(!said.contains(&format!("{new}: first contact")), "{said}");

    // Done: the next plan has nothing to do, and the record says where the node is.
    ws.pikube(&["plan"]).expect_code(0);
    let records = std::fs::read_to_string(ws.path().join(".pikube/test/nodes.json")).unwrap();
    assert!(
        records.contains(&format!("\"address\": \"{new}\"")),
        "{records}"
    );

    // What a boot does (the NIC comes up empty): NetworkManager picks pikube's profile.
    fleet.exec(
        "pi2",
        "ip addr flush dev eth0; systemctl restart NetworkManager; \
         for i in $(seq 100); do ip -4 -o addr show dev eth0 | grep -q inet && break; sleep 0.1; done",
    );
    assert!(
        eth0(&fleet).contains(&format!("{new}/24")),
        "{}",
        eth0(&fleet)
    );
}

#[test]
fn a_move_the_controller_cannot_follow_is_rolled_back_by_the_node() {
    let (fleet, ws) = installed();
    let (net, old) = subnet(&fleet, "pi2");
    let lost = format!("{net}61");
    fleet.unroutable(&lost);
    make_static(&ws, "agent", &old, &lost, &net, 20);

    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(&format!("two: network: not reached at {lost} within")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "it put its old configuration back and answers at {old} again"
        )),
        "{said}"
    );

    // The node is where it was, on its own profile; pikube's file is gone.
    let addresses = eth0(&fleet);
    assert!(addresses.contains(&format!("{old}/24")), "{addresses}");
    assert!(!addresses.contains(&lost), "{addresses}");
    assert!(fleet
        .exec("pi2", "nmcli -t -g NAME,DEVICE connection show --active")
        .contains("preconfigured:eth0"));
    assert_eq!(
        fleet
            .exec(
                "pi2",
                &format!("test -e {KEYFILE} && echo present || echo absent")
            )
            .trim(),
        "absent"
    );

    // The next plan finds it where it was last recorded, and proposes the move again.
    let plan = ws.pikube(&["plan"]).expect_code(2);
    let said = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        said.contains(&format!("switch eth0 to {lost}/24")),
        "{said}"
    );

    // An address another node still has (one, whose own move is pending) is refused
    // before anything moves: pikube reaches one there, and two entries reach one machine.
    let taken = fleet.node("pi1").ip.clone();
    edit(
        &ws,
        &format!("address = \"{taken}\""),
        &format!("address = \"{net}75/24\""),
    );
    edit(
        &ws,
        &format!("address = \"{lost}/24\""),
        &format!("address = \"{taken}/24\""),
    );
    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout
            .contains("two: the same machine as one (one boot id): two entries of cluster.toml reach one host"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_bullseye_agent_moves_through_dhcpcd_keeping_the_rest_of_its_file() {
    let fleet = Fleet::up(&["pi1", "pi2:os=bullseye,net=dhcpcd"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let (net, old) = subnet(&fleet, "pi2");
    let new = format!("{net}62");
    make_static(&ws, "agent", &old, &new, &net, 60);
    let before = fleet.exec("pi2", "cat /etc/dhcpcd.conf");

    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(plan.stdout.contains("/etc/dhcpcd.conf"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains(&format!("switch eth0 to {new}/24 through dhcpcd")),
        "{}",
        plan.stdout
    );

    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(&format!("network: reached at {new}; kept")),
        "{said}"
    );
    let addresses = eth0(&fleet);
    assert!(addresses.contains(&format!("{new}/24")), "{addresses}");
    assert!(!addresses.contains(&format!("{old}/")), "{addresses}");

    // The user's file: everything kept, pikube's block last, its owner and mode as they were.
    let after = fleet.exec("pi2", "cat /etc/dhcpcd.conf");
    assert!(after.starts_with(before.trim_end()), "{after}");
    assert!(
        after.ends_with(&format!(
            "# pikube: the static address of cluster.toml (begin)\ninterface eth0\n\
             static ip_address={new}/24\nstatic routers={net}1\n\
             static domain_name_servers={net}1\n# pikube: end\n"
        )),
        "{after}"
    );
    assert_eq!(
        fleet
            .exec("pi2", "stat -c '%a %U:%G' /etc/dhcpcd.conf")
            .trim(),
        "664 root:netdev"
    );
    let config = fleet.exec("pi2", "cat /etc/rancher/k3s/config.yaml");
    assert!(config.contains(&format!("node-ip: {new}")), "{config}");
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_dhcpcd_move_the_controller_cannot_follow_is_rolled_back_by_the_node() {
    // The rollback of a Bullseye node: its dhcpcd.conf as it was, byte for byte, and the
    // node back at its old address, with nobody reaching it in between.
    let fleet = Fleet::up(&["pi1", "pi2:os=bullseye,net=dhcpcd"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let (net, old) = subnet(&fleet, "pi2");
    let lost = format!("{net}63");
    fleet.unroutable(&lost);
    make_static(&ws, "agent", &old, &lost, &net, 20);
    let before = fleet.exec(
        "pi2",
        "cat /etc/dhcpcd.conf; stat -c '%a %U:%G' /etc/dhcpcd.conf",
    );

    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(&format!("two: network: not reached at {lost} within")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "it put its old configuration back and answers at {old} again"
        )),
        "{said}"
    );
    let addresses = eth0(&fleet);
    assert!(addresses.contains(&format!("{old}/24")), "{addresses}");
    assert!(!addresses.contains(&lost), "{addresses}");
    assert_eq!(
        fleet.exec(
            "pi2",
            "cat /etc/dhcpcd.conf; stat -c '%a %U:%G' /etc/dhcpcd.conf"
        ),
        before
    );
    // And the next plan proposes the move again.
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout
            .contains(&format!("switch eth0 to {lost}/24 through dhcpcd")),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_single_server_moves_and_its_agent_follows() {
    let fleet = Fleet::up(&["pi1:net=nm", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let (net, old) = subnet(&fleet, "pi1");
    let new = format!("{net}71");
    make_static(&ws, "server", &old, &new, &net, 60);

    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    let said = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        said.contains(&format!("network: reached at {new}; kept")),
        "{said}"
    );

    // The cluster lock was taken on the server where it was found, and released where it
    // went.
    assert!(said.contains("one: holding the cluster lock"), "{said}");
    assert!(!said.contains("could not be released"), "{said}");
    assert_eq!(
        fleet
            .exec(
                "pi1",
                "test -e /var/lib/pikube/lock && echo held || echo free"
            )
            .trim(),
        "free"
    );

    // K3s on SQLite follows: the server's node IP and certificate, the agent's server URL.
    let server = fleet.exec("pi1", "cat /etc/rancher/k3s/config.yaml");
    assert!(server.contains(&format!("node-ip: {new}")), "{server}");
    assert!(server.contains(&format!("- {new}")), "{server}");
    let agent = fleet.exec("pi2", "cat /etc/rancher/k3s/config.yaml");
    assert!(
        agent.contains(&format!("server: https://{new}:6443")),
        "{agent}"
    );
    let one = cluster_node(&fleet, "pi1", "one");
    assert!(
        one["status"]["addresses"].to_string().contains(&new),
        "{one}"
    );
    let two = cluster_node(&fleet, "pi1", "two");
    assert!(support::k3s::is_ready(&two), "{two}");
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_server_on_embedded_etcd_is_not_moved() {
    let fleet = Fleet::up(&["pi1:net=nm", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "server")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let (net, old) = subnet(&fleet, "pi1");
    make_static(&ws, "server", &old, &format!("{net}72"), &net, 60);

    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout.contains(
            "one: network: it is a K3s server on embedded etcd, which knows each member by its address"
        ),
        "{}",
        plan.stdout
    );
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        apply.stdout.contains("not a member of the etcd cluster"),
        "{}",
        apply.stdout
    );
    assert!(fleet
        .exec("pi1", "ip -4 -o addr show dev eth0")
        .contains(&format!("{old}/24")));
}
