//! **k3s-double is a test double, not k3s.** It stands in for the k3s binary
//! in the fake Raspberry Pi fleet (tests/fleet), where real k3s cannot run.
//! It honours the parts of k3s's contract an installer observes: `--version`,
//! config.yaml + config.yaml.d + env + flags, token files and formats, the
//! admin kubeconfig, node registration with tokens and node passwords,
//! readiness, embedded-etcd style HA joins, `Type=notify` and a small
//! `kubectl` for nodes. It runs no Kubernetes: no containers, no TLS (its API
//! is plain HTTP on the API port), no etcd (servers replicate a JSON node
//! store instead). See `protocol` for its wire protocol.

mod agent;
mod api;
mod check_config;
mod config;
mod encoding;
mod files;
mod flags;
mod http;
mod kubeconfig;
mod kubectl;
mod log;
mod node_identity;
mod nodes;
mod notify;
mod pki;
mod protocol;
mod roots;
mod server;
mod signals;
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
   kubectl       Run kubectl (nodes only)
   check-config  Run a reduced config check

GLOBAL OPTIONS:
   --version, -v  print the version
   --help, -h     show help
";

const UNSUPPORTED: &[&str] = &[
    "etcd-snapshot",
    "token",
    "certificate",
    "secrets-encrypt",
    "crictl",
    "ctr",
    "completion",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    if argv0 == "kubectl" {
        std::process::exit(kubectl::main(&args[1..]));
    }
    if argv0 == "crictl" || argv0 == "ctr" {
        unsupported(&argv0);
    }
    let rest = args.get(2..).unwrap_or_default();
    match args.get(1).map(String::as_str) {
        None | Some("-h" | "--help" | "help") => print!("{USAGE}"),
        Some("-v" | "--version") => print!("{}", version::banner()),
        Some("kubectl") => std::process::exit(kubectl::main(rest)),
        Some("check-config") => std::process::exit(check_config::run()),
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
