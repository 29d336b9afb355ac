//! **k3s-double is a test double, not k3s.** It stands in for the k3s binary in the fake
//! Raspberry Pi fleet (tests/fleet), where real k3s cannot run (no cgroup delegation, no
//! container runtime). It does what k3s does around Kubernetes: `--version`, config.yaml +
//! config.yaml.d + env + flags, token files and formats, joins and node passwords, the
//! k3s PKI layout, the admin kubeconfig, `Type=notify`. Kubernetes itself is the real
//! thing: a server supervises a real etcd member, kube-apiserver and
//! kube-controller-manager (built by tests/real-kube/build), `k3s kubectl` is the real
//! kubectl, and each node's Node object and Lease are kept by a kubelet stand-in that
//! runs no pods. See README.md for what differs from k3s.

mod agent;
mod check_config;
mod components;
mod config;
mod encoding;
mod files;
mod flags;
mod http;
mod images;
mod kube_client;
mod kubeconfig;
mod kubectl;
mod kubelet;
mod log;
mod node_identity;
mod notify;
mod pods;
mod protocol;
mod registries;
mod roots;
mod server;
mod signals;
mod snapshot;
mod snapshot_schedule;
mod tls;
mod token;
mod version;

use flags::Command;

const USAGE: &str = "NAME:
   k3s - Kubernetes, but small and simple (k3s-double: a TEST DOUBLE, not k3s)

USAGE:
   k3s [global options] command [command options] [arguments...]

COMMANDS:
   server        Run management server
   agent         Run node agent
   kubectl       Run the real kubectl with the admin kubeconfig
   check-config  Run a reduced config check
   etcd-snapshot Save, list, delete and prune etcd snapshots (save|ls|delete|prune)
   ctr           List the imported images (only `ctr images ls -q`)
   stamp         (double only) stamp VERSION OUT: a copy of this binary reporting VERSION

GLOBAL OPTIONS:
   --version, -v  print the version
   --help, -h     show help
";

const UNSUPPORTED: &[&str] = &[
    "token",
    "certificate",
    "secrets-encrypt",
    "crictl",
    "completion",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    if argv0 == "kubectl" {
        kubectl::exec(&args[1..]);
    }
    if argv0 == "crictl" {
        unsupported(&argv0);
    }
    if argv0 == "ctr" {
        std::process::exit(images::ctr(&args[1..], &roots::data_dir()));
    }
    let rest = args.get(2..).unwrap_or_default();
    match args.get(1).map(String::as_str) {
        None | Some("-h" | "--help" | "help") => print!("{USAGE}"),
        Some("-v" | "--version") => std::process::exit(version::print_version()),
        Some("kubectl") => kubectl::exec(rest),
        Some("check-config") => std::process::exit(check_config::run()),
        Some("etcd-snapshot") => std::process::exit(snapshot::main(rest)),
        Some("ctr") => std::process::exit(images::ctr(rest, &roots::data_dir())),
        Some("stamp") => match version::stamp(rest) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("k3s-double: {e}");
                std::process::exit(1);
            }
        },
        Some("server") => run_daemon(Command::Server, rest),
        Some("agent") => run_daemon(Command::Agent, rest),
        Some(cmd) if UNSUPPORTED.contains(&cmd) => unsupported(cmd),
        Some(other) => {
            eprintln!("Incorrect Usage. No help topic for '{other}'");
            std::process::exit(1);
        }
    }
}

fn unsupported(cmd: &str) -> ! {
    eprintln!("k3s-double: `k3s {cmd}` is not supported by the double");
    std::process::exit(1);
}

fn run_daemon(command: Command, args: &[String]) -> ! {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        std::process::exit(0);
    }
    let cli = config::parse_args(command, args).unwrap_or_else(|e| {
        eprintln!("Incorrect Usage: {e}");
        log::fatal(&e)
    });
    let env = |name: &str| std::env::var(name).ok();
    let settings = config::resolve(command, &cli, &env, roots::config_file(), &mut |w| {
        log::warn(&w)
    })
    .unwrap_or_else(|e| log::fatal(&e));
    signals::exit_cleanly_on_term();
    match command {
        Command::Server => server::run(&settings),
        Command::Agent => agent::run(&settings),
    }
}
