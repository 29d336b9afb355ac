use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pikube_cluster::config::{Arch, NodeName};
use pikube_cluster::images::ImageRef;

/// Raspberry Kube: a declarative K3s cluster on Raspberry Pis (and x86 mini PCs), over SSH.
#[derive(Debug, Parser)]
#[command(
    name = "pikube",
    version,
    propagate_version = true,
    after_help = "Start here:\n  pikube init                 write a commented cluster.toml\n  pikube check                validate it offline\n  pikube status               what every node is (model, OS, cgroups, swap, temperature)\n  pikube plan                 what apply would change, with diffs\n  pikube apply                prepare the nodes (hostname, cgroups, swap; reboots only when needed)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter cluster.toml.
    #[command(
        after_help = "Examples:\n  pikube init\n  pikube init --name homelab -f lab/cluster.toml"
    )]
    Init(InitArgs),
    /// Validate cluster.toml without contacting any node.
    #[command(
        after_help = "Examples:\n  pikube check\n  pikube check -f lab/cluster.toml\n\nExit status: 0 valid (warnings are printed), 1 invalid."
    )]
    Check(FileArgs),
    /// Show every node's facts (OS, architecture, Pi model, memory, storage, cgroups, swap,
    /// temperature, throttling, K3s), then the cluster's health: API, each node Ready, etcd's
    /// quorum, clocks, certificates.
    #[command(
        after_help = "Examples:\n  pikube status\n  pikube status --output json | jq '.nodes[] | {node, model: .facts.model.raw}'\n  pikube status --output json | jq '.cluster.nodes[] | {node, ready}'\n  pikube status --output json | jq -r '.cluster.problems[]'\n\nExit status: 0 every node answered and the cluster is healthy, 1 a node did not answer or\nthe cluster is not healthy (each reason is named)."
    )]
    Status(ReportArgs),
    /// Show what apply would change on every node, with a unified diff of every file.
    #[command(
        after_help = "Examples:\n  pikube plan\n  pikube plan --output json\n\nA node in the cluster that cluster.toml no longer lists is a change too: `pikube apply\n--prune` removes it.\n\nExit status: 0 no changes, 2 changes pending, 1 error."
    )]
    Plan(PlanArgs),
    /// Check every node's health (or the nodes named) and say what to do: power
    /// (under-voltage), throttling and temperature, a server's datastore on an SD card,
    /// memory cgroup, swap, K3s versions.
    #[command(
        after_help = "Examples:\n  pikube doctor\n  pikube doctor pi-3 pi-4\n  pikube doctor --output json | jq '.[] | select(.verdict != \"pass\")'\n\nNamed nodes are judged alone; the servers are asked all the same, since the K3s versions\nand the cluster's state are read from them.\n\nExit status: 0 healthy, 1 a check failed (or a node did not answer), 2 only warnings."
    )]
    Doctor(DoctorArgs),
    /// The container images the cluster's add-ons (and your manifests) run; with --check,
    /// whether each is published for every node's platform, asked of its registry as the
    /// nodes would.
    #[command(
        after_help = "Examples:\n  pikube images\n  pikube images --check                  # the platforms of the nodes, from their facts\n  pikube images --check --arch arm64,armhf   # without asking the nodes\n  pikube images --check --image postgres:17-bookworm --image ghcr.io/me/app:1.2\n  pikube images --check -m deploy/     # and every image your manifests run\n  pikube images --check -o json | jq '.images[] | select(.verdict != \"ok\")'\n\nEach image is asked of the mirrors [k3s.registries] gives for its registry (then those for\n\"*\"), then of the registry itself, anonymously, as a node's containerd pulls it. A node on\n64-bit Raspberry Pi OS needs linux/arm64, one on 32-bit linux/arm/v7, a mini PC\nlinux/amd64. An image pinned by digest (name@sha256:...) must be served under that digest.\n\nExit status: 0 every image runs on every node's platform (or no --check), 1 an image\nlacks a platform, could not be resolved, or is not what its digest pins."
    )]
    Images(ImagesArgs),
    /// Prepare every node for K3s: hostname, memory cgroup in the right cmdline.txt, swap
    /// off for good. Reboots only the nodes that need it, then verifies the effective state;
    /// then installs K3s and joins the servers and agents.
    #[command(
        after_help = "Examples:\n  pikube apply\n  PIKUBE_SUDO_PASSWORD=... pikube apply --reboot-timeout 10m\n  pikube apply --prune           # also remove the nodes deleted from cluster.toml\n  pikube apply --max-unavailable 2   # a K3s upgrade takes two agents at a time\n  pikube apply --output json | jq '.summary'\n  pikube apply --adopt           # take over nodes install.sh or k3sup set up\n  pikube apply --replace pi-3    # pi-3's card was written again: its old Node goes\n\nA new [k3s] version (or binary) is rolled out, not swapped: a preflight (no downgrade\nunless --allow-downgrade, no skipped minor version, no agent ahead of a server, every node\nReady, etcd healthy), an etcd snapshot named pre-upgrade-<version>, then the servers one at\na time and the agents --max-unavailable at a time: each cordoned, drained (servers too\nunless --no-drain-servers), its binary replaced, restarted, Ready on the new version, then\nuncordoned. The first failure stops the rollout and leaves that node cordoned; the next\napply goes on from there. A pod no controller manages stops a drain (nothing would\nrecreate it once evicted) unless --force-drain.\n\nA preparation change that needs a reboot (the kernel command line) reboots nodes not yet\nrunning K3s together, and nodes running it one at a time in the same way: cordoned,\ndrained (agents; servers too unless --no-drain-servers), rebooted, Ready, uncordoned.\n\nNodes in the cluster but no longer in cluster.toml are only reported, unless --prune:\nthen, once every node of the file is done, each is drained, K3s is stopped on it, its node\nis deleted from the cluster (waiting --delete-timeout for K3s' finalizers) and K3s is\nuninstalled from it (over SSH, as the last apply recorded it in\n.pikube/<cluster>/nodes.json). A server is kept if the servers left could not keep etcd's\nquorum, and so is the server that started the cluster.\n\nExit status: 0 every node prepared and verified, 1 some node failed or was not pruned (the\nothers are still done).\n\nsudo: passwordless sudo or root is used when available; otherwise the password is read\nonce from PIKUBE_SUDO_PASSWORD or asked on the terminal, and only ever sent on sudo's\nstandard input."
    )]
    Apply(ApplyArgs),
    /// Fetch the cluster's admin kubeconfig: cluster, user and context renamed to the
    /// cluster's name, pointing at the API endpoint (or the first server).
    #[command(
        after_help = "Examples:\n  pikube kubeconfig > lab.yaml\n  pikube kubeconfig --write ~/.kube/lab.yaml\n  pikube kubeconfig --merge            # into $KUBECONFIG or ~/.kube/config\n  kubectl --context homelab get nodes\n\nFiles are written 0600. --merge replaces this cluster's entries and leaves every other\ncluster, user and context alone; it makes this cluster's context the current one unless\n--keep-context.\n\nOnly what K3s writes is taken from the server's k3s.yaml: the server's CA, and a client\ncertificate and key or a token. Any other field in those entries (exec, auth-provider,\nproxy-url, insecure-skip-tls-verify, file paths...) is refused and nothing is written. The\nCA must be the cluster's: the one whose hash the first apply recorded in\n.pikube/<cluster>/ca.sha256 (or that a full K10<CA hash> token pins); without either, a\nwarning says the CA was not checked."
    )]
    Kubeconfig(KubeconfigArgs),
    /// Uninstall K3s from every node, or from the named ones. The OS preparation (cgroups,
    /// swap, hostname) stays unless --all.
    #[command(
        after_help = "Examples:\n  pikube reset --yes\n  pikube reset worker-3          # asks for confirmation\n  pikube reset --all --yes       # also restore the original cmdline.txt, fstab, hostname\n\nA node reset alone is first deleted from the cluster, so that it can join again later.\nExit status: 0 done, 1 some node failed or not confirmed."
    )]
    Reset(ResetArgs),
    /// Take the whole cluster down in an order it survives: every node cordoned, K3s
    /// stopped on the agents, then on the servers one at a time (the first server last),
    /// then the machines powered off (or rebooted) in that order.
    #[command(
        after_help = "Examples:\n  pikube shutdown --dry-run\n  pikube shutdown --yes          # e.g. before moving the rack\n  pikube shutdown --reboot --yes # e.g. after a kernel update\n\nPower the nodes on in any order (servers first is quickest); then `pikube status` shows\nthe cluster's health (API, nodes Ready, etcd quorum, clocks, certificates) and `pikube\napply` uncordons the nodes shutdown cordoned.\n\nExit status: 0 every node done, 1 a node failed or did not answer (it is left running if\nits K3s did not stop)."
    )]
    Shutdown(ShutdownArgs),
    /// Run a command on the chosen nodes at once, each line of output prefixed with its
    /// node's name; a summary and the exit codes at the end.
    #[command(after_help = "Examples:
  pikube exec --all -- uptime
  pikube exec --role agent -- 'df -h / | tail -n 1'
  pikube exec --all --sudo -- journalctl -u k3s -n 5 --no-pager
  pikube exec worker-1 worker-2 -- vcgencmd get_throttled
  pikube exec --all -o json -- cat /etc/os-release | jq '.nodes[] | {node, exit_code}'
  pikube exec --all --sudo --timeout 1h -- apt-get -y full-upgrade

As with ssh, the words after -- are joined and read by the node's shell. --sudo runs it as
root (passwordless sudo, or the password asked once or read from PIKUBE_SUDO_PASSWORD).
Hosts are reached as every command reaches them: pinned host keys, ssh_config, jump hosts.

A node where the command runs past --timeout is named as failed; pikube stops waiting and
closes the command's channel.

Exit status: 0 every node ran it with exit 0, 1 a node failed, timed out or could not be
reached.")]
    Exec(ExecArgs),
    /// Open a shell on a node (or run one command there) the way pikube reaches it: its
    /// pinned host key, your ssh_config, the node's user, key, port and jump host.
    #[command(after_help = "Examples:
  pikube ssh pi-master-01
  pikube ssh pi-worker-01 -- sudo journalctl -u k3s-agent -f
  pikube ssh pi-worker-01 -- vcgencmd get_throttled

A host key that changed since it was pinned is refused, as for every pikube command.

Exit status: the remote command's (255 when ssh itself failed), 1 for an unknown node.")]
    Ssh(SshArgs),
    /// Turn nodes still on their image's default login (a user and a password) into nodes
    /// pikube reaches by key: the admin user of cluster.toml created, given your public key
    /// and passwordless sudo; password login optionally turned off.
    #[command(after_help = "Examples:
  pikube secrets set bootstrap_password        # the image's password, kept encrypted
  pikube bootstrap --all --login ubuntu
  pikube bootstrap pi-worker-03 --login pi --disable-password-login
  pikube secrets set sudo_password             # the admin's own, for --sudo-password
  pikube bootstrap --all --login pi --sudo-password

The password comes from secrets.age (nodes.<name>.bootstrap_password, else
bootstrap_password) or is asked once on the terminal; it reaches ssh through a private
file read by pikube itself (SSH_ASKPASS) and sudo on its standard input, never a command
line. With --sudo-password the admin user gets a password of its own (secrets.age's
nodes.<name>.sudo_password, else sudo_password; set on the node through chpasswd's standard
input) and sudo asks for it; every later pikube command reads it from secrets.age. A node
pikube already reaches by key with working sudo is left as it is, so running it again
changes nothing. The key: as for firstboot.

Exit status: 0 every node reachable by key, 1 a node failed (named, with why).")]
    Bootstrap(BootstrapArgs),
    /// Write what a fresh SD card's boot partition needs so that the node's first boot
    /// leaves it ready for pikube: its hostname, the admin user of [ssh] user with your
    /// public key and passwordless sudo, and SSH on (keys only).
    #[command(after_help = "Examples:
  pikube firstboot pi-master-01 --os bookworm --out /media/$USER/bootfs
  pikube firstboot pi-worker-01 --os trixie --out /media/$USER/bootfs
  pikube firstboot --all --os ubuntu --out seeds/       # one folder per node
  pikube firstboot pi-1 --os bookworm --out boot/ --authorized-key ~/.ssh/ops.pub
  pikube firstboot pi-worker-02 --out /media/$USER/bootfs  # the image told from the card

Without --os, the card's mounted boot partition tells the image: Raspberry Pi OS's
issue.txt with cloud-init's user-data is trixie, without it bookworm; user-data without
issue.txt is ubuntu (stated on standard error).

Formats: bookworm writes firstrun.sh and adds the words that run it once to cmdline.txt
(as Raspberry Pi Imager does; without a cmdline.txt in --out, they are printed for you to
add); trixie and ubuntu write cloud-init's user-data, network-config and meta-data (a new
instance id whenever they change, so a re-seeded card runs them again); trixie and
bookworm also get the empty `ssh` file. The key: --authorized-key, else [ssh] identity_file
with .pub, else the first key of ssh-agent, else ~/.ssh/id_ed25519.pub or id_rsa.pub. No
password is written anywhere: the admin user logs in with the key only.

Exit status: 0 written, 1 nothing written (the problem is named).")]
    Firstboot(FirstbootArgs),
    /// Secrets beside cluster.toml, encrypted with age: sudo passwords, bootstrap password,
    /// S3 keys... in secrets.age, to the keys in secrets.recipients.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Bring the cluster's etcd (or a single server's SQLite) back to a backup: K3s stopped
    /// everywhere, etcd reset on the first server from the snapshot (or the SQLite copy put
    /// in place), the other servers rejoined one at a time, the agents restarted, every node
    /// Ready.
    #[command(
        after_help = "Examples:\n  pikube backup list\n  pikube restore on-demand-s1-1764921000 --dry-run\n  pikube restore on-demand-s1-1764921000 --yes\n  pikube restore ./saved/etcd-snapshot.db --yes --force   # the cluster still serves\n\nSNAPSHOT is a backup's name from `pikube backup list` (checked against its manifest: size,\nSHA-256, cluster, token fingerprint, K3s version) or a snapshot file (with <file>.json\nbeside it, the same checks). The snapshot is pushed to the first server of cluster.toml\nand checked there again. A cluster that still serves is not restored unless --force:\neverything created or changed since the snapshot is lost. Every node of cluster.toml must\nanswer. A restore stopped half-way is finished by running it again.\n\nExit status: 0 restored and every node Ready, 1 refused or failed (the step is named)."
    )]
    Restore(RestoreArgs),
    /// Bring the nodes' operating system up to date one node at a time: cordon, drain,
    /// apt-get full-upgrade, reboot only if the system asks for it, Ready, uncordon.
    #[command(
        after_help = "Examples:\n  pikube os-upgrade --check          # what each node would upgrade\n  pikube os-upgrade                  # every node, agents first, one at a time\n  pikube os-upgrade worker-1 worker-2\n  pikube os-upgrade --output json --check | jq '.nodes[].kept_back'\n\nNon-interactive: dpkg keeps a configuration file you changed and takes the new one where\nyou did not (--force-confdef --force-confold); held packages stay held. A node reboots only\nwhen /var/run/reboot-required says so, and is waited for (new boot id, Ready). With\nembedded etcd a server goes down only while the other members Ready are a majority of\netcd's members (so never with two servers) unless --allow-quorum-loss. A pod no controller manages stops a drain\nunless --force-drain deletes it. The first failure stops the rollout and leaves that node\ncordoned. --check refreshes apt's package lists and changes\nnothing else; it also names the upgrades apt keeps back (held packages).\n\nExit status: 0 done (with --check: nothing to upgrade), 2 (--check) upgrades pending, 1 a\nnode failed."
    )]
    OsUpgrade(OsUpgradeArgs),
    /// Back up the cluster's datastore to this machine: an etcd snapshot taken on a server,
    /// or a single server's SQLite database with its token and CAs, copied into
    /// .pikube/<cluster>/backups/ (0600) with a manifest, checked by SHA-256.
    #[command(after_help = "Examples:
  pikube backup
  pikube backup --name before-upgrade
  pikube backup list
  pikube backup list --output json | jq '.local[].name'
  pikube backup prune --keep 5

With embedded etcd (two or more servers) the snapshot is taken with K3s' own `k3s
etcd-snapshot save` on the first server that answers. A single server keeps its data in
SQLite, which K3s takes no snapshots of: its server/db, token, tls and cred are copied
into one archive with K3s stopped for the copy (seconds: the API pauses, pods keep
running), and K3s must serve again before the backup is done. Restoring either needs the
cluster token: the manifest names its fingerprint.

Exit status: 0 done, 1 failed.")]
    Backup(BackupArgs),
    /// Run a workload's HTTP service (what a pod runs; works anywhere).
    #[command(subcommand)]
    Serve(Workload),
    /// Run the workloads on this machine with embedded defaults (no cluster needed).
    #[command(
        after_help = "Examples:\n  pikube demo\n  pikube demo --listen 0.0.0.0:8080   # reachable from other machines\n  pikube demo --movies-listen 127.0.0.1:9081 --data-dir /tmp/movies"
    )]
    Demo(DemoArgs),
}

#[derive(Debug, Subcommand)]
pub enum Workload {
    /// The Mandelbrot image generator: web page at /, API at /api/v1/render, /metrics,
    /// /healthz, /readyz.
    #[command(
        after_help = "Examples:\n  pikube serve mandelbrot\n  PIKUBE_LISTEN=0.0.0.0:9000 pikube serve mandelbrot\n  curl -o view.png 'http://localhost:8080/api/v1/render?x_min=-2&x_max=1&y_min=-1.2&y_max=1.2&width=800&height=640&max_iter=500&format=png'\n\nUnder load: at most --max-renders renders at once, --queue more waiting up to --queue-wait,\nevery other request 503 with Retry-After; a render past --render-deadline is stopped, and\none whose client goes away stops too. One request is at most 2 Mpx and\nwidth x height x max_iter <= 2^30 (400 beyond)."
    )]
    Mandelbrot(MandelbrotArgs),
    /// The Movies ticketing services: one of users, movies, cinemas, screenings,
    /// reservations, payments (as a pod runs it), several, or `all` six on one port. Each
    /// service owns its database: PostgreSQL from DATABASE_URL, or a SQLite file.
    #[command(
        after_help = "Examples:\n  pikube serve movies all                        # SQLite files in ~/.local/share/pikube/movies\n  pikube serve movies --new-keys >> deploy/movies/secrets.env   # the token keys below\n  set -a; . deploy/movies/secrets.env; set +a\n  DATABASE_URL='postgres://movies:pw@db/{service}' \\\n    pikube serve movies reservations --listen 0.0.0.0:8080\n\nEnvironment (every key is random for `all` when unset):\n  DATABASE_URL               postgres://... or sqlite:...; {service} becomes each service's name\n  MOVIES_TOKEN_SIGNING_KEY   Ed25519 key the users service signs users' tokens with (users only)\n  MOVIES_TOKEN_VERIFYING_KEY its public half: every service checks users' tokens with it\n  MOVIES_INTERNAL_KEY_PAYMENTS, MOVIES_INTERNAL_KEY_SCREENINGS   each caller's key for the\n                             reservations service's /internal routes (the caller and reservations)\n  MOVIES_ADMIN_EMAIL, MOVIES_ADMIN_PASSWORD   the administrator the users service creates\n  MOVIES_HOLD_SECONDS        how long an unpaid reservation holds its seats (default 600)\n  MOVIES_<SERVICE>_URL       where to reach another service (default http://movies-<service>:8080)\n  MOVIES_AUTH_PER_CLIENT_PER_MINUTE     sign-ins + registrations per client address (default 30, 0 = off)\n  MOVIES_SIGN_IN_FAILURES_PER_ACCOUNT   failed sign-ins per account per 15 minutes (default 10, 0 = off)\n  MOVIES_TRUST_FORWARDED_FOR  the client is X-Forwarded-For's last entry (only behind an Ingress)\n  MOVIES_MAX_HOLDS_PER_USER   unpaid reservations one buyer may hold at once (default 4)\n  MOVIES_MAX_HELD_SEATS_PER_SCREENING   seats one buyer may hold in one screening (default 10)"
    )]
    Movies(MoviesArgs),
    /// The Pi health exporter: under-voltage and throttling (now and since boot), SoC
    /// temperature, CPU frequency, root storage and eMMC wear, clock sync, memory cgroup, as
    /// Prometheus metrics at /metrics, read from the host at every scrape.
    #[command(
        name = "pi-exporter",
        after_help = "Examples:\n  pikube serve pi-exporter --listen 0.0.0.0:9101\n  pikube serve pi-exporter --host-root /host      # in a pod with the host mounted at /host\n  curl -s localhost:9101/metrics | grep pi_throttled\n\nA file the host does not have leaves its metric out (never a zero that is not true); one\nthat holds garbage does too, and says so in the log."
    )]
    PiExporter(ExporterArgs),
}

#[derive(Debug, Args)]
pub struct MandelbrotArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Renders computed at once (default: the cores this process may use).
    #[arg(long, env = "PIKUBE_MAX_RENDERS", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_renders: Option<u16>,
    /// Requests that may wait for a render slot (default: 16 per slot).
    #[arg(long, env = "PIKUBE_RENDER_QUEUE")]
    pub queue: Option<u16>,
    /// The longest a request waits for a slot before a 503.
    #[arg(long, env = "PIKUBE_QUEUE_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub queue_wait: Duration,
    /// The longest a render may run before it is stopped and answered 503 (keep it below
    /// the pod's termination grace period).
    #[arg(long, env = "PIKUBE_RENDER_DEADLINE", default_value = "20s", value_parser = parse_duration)]
    pub render_deadline: Duration,
}

#[derive(Debug, Args)]
pub struct ExporterArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:9101", env = "PIKUBE_LISTEN")]
    pub listen: std::net::SocketAddr,
    /// Where the host's / is (like node-exporter's --path.rootfs).
    #[arg(long, default_value = "/", env = "PIKUBE_HOST_ROOT")]
    pub host_root: PathBuf,
}

#[derive(Debug, Args)]
pub struct MoviesArgs {
    /// Which services: names, or `all`.
    #[arg(required_unless_present = "new_keys", value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Print a fresh set of token keys as environment lines (for deploy/movies/secrets.env)
    /// and exit.
    #[arg(long, conflicts_with = "services")]
    pub new_keys: bool,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Where the SQLite files go when DATABASE_URL is not set.
    #[arg(long, env = "MOVIES_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PIKUBE_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,
    /// After SIGTERM, how long /readyz answers 503 before the listener closes, so that a
    /// Kubernetes Service stops routing here first (e.g. 5s).
    #[arg(long, env = "PIKUBE_DRAIN_GRACE", default_value = "0s", value_parser = parse_duration)]
    pub drain_grace: Duration,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the Mandelbrot generator.
    #[arg(long, env = "PIKUBE_DEMO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Address of the Movies services (all six on one port).
    #[arg(
        long,
        env = "PIKUBE_DEMO_MOVIES_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub movies_listen: std::net::SocketAddr,
    /// Where the Movies services keep their SQLite files (kept between runs).
    #[arg(long, env = "MOVIES_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The cluster file.
    #[arg(
        short = 'f',
        long = "file",
        default_value = "cluster.toml",
        env = "PIKUBE_FILE"
    )]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// The cluster's name.
    #[arg(long, default_value = "homelab")]
    pub name: String,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

/// The cluster file and an output format: what `status` and `plan` take.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Nodes to judge (default: all).
    #[arg(value_name = "NODE")]
    pub nodes: Vec<NodeName>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Ask each image's registry which platforms it is published for.
    #[arg(long)]
    pub check: bool,
    /// The K3s architectures to check for (amd64, arm64, armhf), instead of the nodes'.
    #[arg(long, value_delimiter = ',', requires = "check")]
    pub arch: Vec<Arch>,
    /// Another image to check beside the add-ons' (your workloads'); may be repeated.
    #[arg(long = "image", value_name = "IMAGE")]
    pub images: Vec<ImageRef>,
    /// The images your manifests run: a YAML file, or a directory read for *.yaml and *.yml
    /// files (with its subdirectories); may be repeated.
    #[arg(short = 'm', long = "manifests", value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub lock: LockArgs,
    /// The snapshot name's prefix (K3s appends the node and the time).
    #[arg(long, default_value = "on-demand", value_parser = parse_snapshot_prefix)]
    pub name: String,
    #[command(subcommand)]
    pub action: Option<BackupAction>,
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// The backups on this machine, and the snapshots on the first server that answers.
    List(ReportArgs),
    /// Copy a snapshot that is already on a server (a scheduled one) to this machine,
    /// checked and described like a new backup, so that `pikube restore` can use it.
    #[command(
        after_help = "Examples:\n  pikube backup list                                  # names under on_node\n  pikube backup pull etcd-snapshot-s2-1764921600\n  pikube restore etcd-snapshot-s2-1764921600 --dry-run\n\nEvery server of cluster.toml is asked in turn; the first that has it sends it.\n\nExit status: 0 copied, 1 no server has it or the copy failed."
    )]
    Pull {
        #[command(flatten)]
        file: FileArgs,
        #[command(flatten)]
        lock: LockArgs,
        /// The snapshot's name, as `pikube backup list` shows it on a server.
        #[arg(value_name = "SNAPSHOT", value_parser = parse_snapshot_name)]
        name: String,
    },
    /// Delete all but the newest N backups on this machine.
    Prune {
        #[command(flatten)]
        file: FileArgs,
        /// How many to keep.
        #[arg(long)]
        keep: usize,
    },
}

/// A snapshot's file name as K3s makes it (`<prefix>-<node>-<unix time>`, maybe `.zip`):
/// nothing that could leave the snapshot directory or read as an option.
fn parse_snapshot_name(text: &str) -> Result<String, String> {
    file_name_word(text, 255)
        .ok_or_else(|| format!("{text:?} is not a snapshot name: {FILE_NAME_WORD}"))
}

/// A snapshot prefix becomes part of a file name on the node and here.
fn parse_snapshot_prefix(text: &str) -> Result<String, String> {
    file_name_word(text, 64)
        .ok_or_else(|| format!("{text:?}: use {FILE_NAME_WORD}, at most 64 characters"))
}

const FILE_NAME_WORD: &str = "letters, digits, '-', '_' and '.', not first";

/// `text` if it is a plain file name of at most `max` bytes (see [`FILE_NAME_WORD`]).
fn file_name_word(text: &str, max: usize) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !text.starts_with(['.', '-']);
    ok.then(|| text.to_owned())
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// How long a node may take to come back after a reboot (e.g. 90s, 10m).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub reboot_timeout: Duration,
    /// How long k3s on a node may take to start and be Ready (a Pi on an SD card is slow).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub ready_timeout: Duration,
    /// No progress lines, only the summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format of the report (progress always goes to standard error).
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Also take the nodes that cluster.toml no longer lists out of the cluster: drain,
    /// delete from the API, uninstall K3s. Without it, apply only warns about them.
    #[arg(long)]
    pub prune: bool,
    /// How long a node's pods may take to leave it when it is pruned or upgraded (kubectl
    /// drain --timeout).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Also delete the pods no controller manages when draining (kubectl drain --force):
    /// nothing recreates them. Without it, such a pod stops the node's drain.
    #[arg(long)]
    pub force_drain: bool,
    #[command(flatten)]
    pub lock: LockArgs,
    /// With --prune: how long a deleted node may take to go (K3s' finalizers remove its node
    /// password and, for an etcd server, its etcd member first).
    #[arg(long, default_value = "60s", value_parser = parse_duration, requires = "prune")]
    pub delete_timeout: Duration,
    /// Let a K3s upgrade go to an older version than the nodes run (etcd's data may not
    /// go back: restoring a snapshot is the safer way down).
    #[arg(long)]
    pub allow_downgrade: bool,
    /// During a K3s upgrade, how many agents may be down at once (servers always go one
    /// at a time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_unavailable: u16,
    /// During a K3s upgrade, cordon servers but do not drain them (agents always are).
    #[arg(long)]
    pub no_drain_servers: bool,
    /// Take over nodes whose K3s another tool (install.sh, k3sup, k3s-ansible) installed:
    /// their unit, config.yaml and env file become pikube's; the flags and variables
    /// cluster.toml does not set are kept (`adopt = true` on a node does the same for that node). Without it
    /// such a node is refused, naming what would be kept and replaced.
    #[arg(long)]
    pub adopt: bool,
    /// NODE's card was written again (same name, no K3s): delete its old, NotReady Node
    /// (and a server's etcd member) so that it joins afresh. Repeatable.
    #[arg(long, value_name = "NODE")]
    pub replace: Vec<NodeName>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// Plan taking over nodes whose K3s another tool installed (as `apply --adopt`).
    #[arg(long)]
    pub adopt: bool,
    /// Plan replacing re-flashed nodes' old Nodes (as `apply --replace NODE`).
    #[arg(long, value_name = "NODE")]
    pub replace: Vec<NodeName>,
}

#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Write it to this file (0600) instead of printing it.
    #[arg(long, value_name = "PATH", conflicts_with = "merge")]
    pub write: Option<PathBuf>,
    /// Merge it into $KUBECONFIG (its first file) or ~/.kube/config.
    #[arg(long)]
    pub merge: bool,
    /// With --merge: leave the current context as it is.
    #[arg(long, requires = "merge")]
    pub keep_context: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Nodes to reset (default: all).
    #[arg(value_name = "NODE")]
    pub nodes: Vec<NodeName>,
    /// Do not ask for confirmation (for scripts).
    #[arg(short, long)]
    pub yes: bool,
    /// Also undo the OS preparation (takes effect at the next reboot).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ShutdownArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Reboot the nodes instead of powering them off, waiting until each is back.
    #[arg(long)]
    pub reboot: bool,
    /// Only say what would be done.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (for scripts).
    #[arg(short, long)]
    pub yes: bool,
    /// Output format of the report.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct OsUpgradeArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Nodes to upgrade (default: all).
    #[arg(value_name = "NODE")]
    pub nodes: Vec<NodeName>,
    /// Only list the pending upgrades of each node.
    #[arg(long)]
    pub check: bool,
    /// Cordon servers but do not drain them (agents always are).
    #[arg(long)]
    pub no_drain_servers: bool,
    /// How long a node's pods may take to leave it (kubectl drain --timeout).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Also delete the pods no controller manages when draining (kubectl drain --force):
    /// nothing recreates them. Without it, such a pod stops the node's drain.
    #[arg(long)]
    pub force_drain: bool,
    /// How long a node may take to be Ready again.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub ready_timeout: Duration,
    /// How long a node may take to come back from a reboot.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub reboot_timeout: Duration,
    /// Take a server down even when the other servers are too few for etcd's quorum (the
    /// API stops until it is back).
    #[arg(long)]
    pub allow_quorum_loss: bool,
    /// Output format of the report.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// A backup's name (`pikube backup list`) or a snapshot file.
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: String,
    /// Do not ask for confirmation (for scripts).
    #[arg(short, long)]
    pub yes: bool,
    /// Restore even though the cluster is serving (what changed since the snapshot is lost).
    #[arg(long)]
    pub force: bool,
    /// Only say what would be done.
    #[arg(long)]
    pub dry_run: bool,
    /// How long each node may take to be back and Ready.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub ready_timeout: Duration,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Nodes to run it on.
    #[arg(value_name = "NODE")]
    pub nodes: Vec<NodeName>,
    /// Every server, or every agent.
    #[arg(long, value_enum)]
    pub role: Option<ExecRole>,
    /// Every node of cluster.toml.
    #[arg(long)]
    pub all: bool,
    /// Run it as root.
    #[arg(long)]
    pub sudo: bool,
    /// How many nodes at once (default: [ssh] parallelism).
    #[arg(long, value_parser = clap::value_parser!(usize))]
    pub parallelism: Option<usize>,
    /// How long the command may run on a node before pikube stops waiting for it there
    /// (e.g. 30s, 2h; default: [ssh] command_timeout).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Output format: text streams each line as it comes; JSON gives one document at the end.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// The command, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// The nodes of cluster.toml to set up.
    #[arg(value_name = "NODE")]
    pub nodes: Vec<NodeName>,
    /// Every node of cluster.toml.
    #[arg(long)]
    pub all: bool,
    /// The image's user to log in as once (e.g. pi, ubuntu).
    #[arg(long, value_name = "USER")]
    pub login: String,
    /// Turn SSH password login off once the key works.
    #[arg(long)]
    pub disable_password_login: bool,
    /// Give the admin user the password kept in secrets.age (nodes.<name>.sudo_password,
    /// else sudo_password) and sudo that asks for it, instead of passwordless sudo.
    #[arg(long)]
    pub sudo_password: bool,
    /// The public key the admin user logs in with (a .pub file; may be repeated).
    #[arg(long, value_name = "FILE")]
    pub authorized_key: Vec<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct SshArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// The node of cluster.toml.
    #[arg(value_name = "NODE")]
    pub node: NodeName,
    /// A command to run instead of a shell, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FirstbootArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// The nodes of cluster.toml to write for (one folder each when more than one).
    #[arg(value_name = "NODE")]
    pub nodes: Vec<NodeName>,
    /// Every node of cluster.toml, one folder each.
    #[arg(long)]
    pub all: bool,
    /// The image on the card (default: told from the boot partition --out names, for one
    /// node).
    #[arg(long, value_enum)]
    pub os: Option<FirstbootOs>,
    /// Where to write: the card's mounted boot partition, or a folder.
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
    /// The public key the admin user logs in with (a .pub file; may be repeated).
    #[arg(long, value_name = "FILE")]
    pub authorized_key: Vec<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FirstbootOs {
    /// Raspberry Pi OS Bookworm (firstrun.sh).
    Bookworm,
    /// Raspberry Pi OS Trixie (cloud-init).
    Trixie,
    /// Ubuntu Server (cloud-init).
    Ubuntu,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Creates an empty secrets.age and secrets.recipients beside cluster.toml.
    #[command(after_help = "Examples:
  pikube secrets init                          # to pikube's own key (made in ~/.config/pikube/identity)
  pikube secrets init --recipient \"$(cat ~/.ssh/id_ed25519.pub)\" --recipient age1...   # a team
  pikube secrets init --passphrase             # asked on the terminal, or PIKUBE_SECRETS_PASSPHRASE

Opening it: PIKUBE_AGE_IDENTITY (an age identity or unencrypted OpenSSH key), else
~/.config/pikube/identity and ~/.ssh/id_ed25519; a passphrase from PIKUBE_SECRETS_PASSPHRASE
or the terminal.")]
    Init(SecretsInitArgs),
    /// Sets a secret; the value is read from standard input, or asked without echo.
    #[command(after_help = "Examples:
  pikube secrets set sudo_password
  printf %s \"$PW\" | pikube secrets set nodes.pi-1.sudo_password
  pikube secrets set bootstrap_password

Names: dotted words of letters, digits, '_' and '-'. pikube reads sudo_password (and
nodes.<name>.sudo_password) when it needs sudo.")]
    Set(SecretsKeyArgs),
    /// Prints a secret's value.
    Get(SecretsKeyArgs),
    /// Removes a secret.
    Rm(SecretsKeyArgs),
    /// Lists the secrets' names (never their values).
    List(SecretsListArgs),
    /// Opens the secrets in $EDITOR (a 0600 file in a private directory, removed after).
    Edit(SecretsFileArgs),
    /// Re-encrypts secrets.age to secrets.recipients (after editing it), or to new keys.
    #[command(after_help = "Examples:
  echo age1... >> secrets.recipients && pikube secrets rekey    # add a teammate
  pikube secrets rekey --recipient age1...                     # replace the recipients")]
    Rekey(SecretsRekeyArgs),
}

#[derive(Debug, Args)]
pub struct SecretsFileArgs {
    #[command(flatten)]
    pub file: FileArgs,
}

/// Who can open secrets.age: keys, or a passphrase.
#[derive(Debug, Args)]
pub struct SecretsRecipientArgs {
    /// An age public key (age1...) or SSH public key to encrypt to; repeat for a team.
    #[arg(long = "recipient", value_name = "KEY")]
    pub recipients: Vec<String>,
    /// Encrypt with a passphrase instead of keys.
    #[arg(long, conflicts_with = "recipients")]
    pub passphrase: bool,
}

#[derive(Debug, Args)]
pub struct SecretsInitArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[command(flatten)]
    pub to: SecretsRecipientArgs,
    /// Replace an existing secrets.age (its secrets are lost).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SecretsKeyArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// The secret's name, e.g. sudo_password.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct SecretsListArgs {
    #[command(flatten)]
    pub file: FileArgs,
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SecretsRekeyArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// New recipients replacing secrets.recipients (none: keep them).
    #[command(flatten)]
    pub to: SecretsRecipientArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecRole {
    Server,
    Agent,
}

/// The cluster lock (`.pikube/<cluster>/lock`) that apply, reset and backup take.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Break a lock left by a pikube that is gone (one from another machine, which cannot be
    /// checked from here); a lock whose process is alive here is never broken.
    #[arg(long)]
    pub force_unlock: bool,
}

/// `90s`, `5m`, `1h30m` (humantime's units), or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text)
        .map_err(|err| format!("{text:?} is not a duration such as 90s, 5m or 1h30m: {err}"))
}

/// Multi-call: a link named `pikube-<command>` runs `pikube <command>` (as K3s does with
/// `kubectl` and `crictl`).
pub fn args_with_multicall_name(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.collect();
    let invoked = args
        .first()
        .and_then(|a| {
            std::path::Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    if let Some(command) = invoked.strip_prefix("pikube-") {
        args.insert(1, OsString::from(command));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10 parsecs").is_err());
        // Hours beyond u64 seconds: an error, not an overflow.
        assert!(parse_duration("9999999999999999999h").is_err());
    }

    #[test]
    fn multicall_link_names_the_command() {
        let args = args_with_multicall_name(
            ["/usr/bin/pikube-status".into(), "-o".into(), "json".into()].into_iter(),
        );
        assert_eq!(args[1], "status");
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
