//! The exporter on fake host trees (a healthy Pi, an unhealthy one, garbage, nothing), and
//! its /metrics checked by the real promtool.

use std::path::Path;

use pikube_exporter::render;

pub(crate) fn put(root: &Path, path: &str, content: &str) {
    let path = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A Pi 4 booted from eMMC, as the fake fleet builds one.
pub(crate) fn pi(root: &Path, throttled: &str, temp: &str) {
    put(
        root,
        "/sys/devices/platform/soc/soc:firmware/get_throttled",
        throttled,
    );
    put(root, "/sys/class/thermal/thermal_zone0/temp", temp);
    put(
        root,
        "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq",
        "1500000\n",
    );
    put(
        root,
        "/proc/cmdline",
        "console=tty1 root=PARTUUID=6c586e13-02 rootwait\n",
    );
    let by_id = root.join("dev/disk/by-partuuid");
    std::fs::create_dir_all(&by_id).unwrap();
    std::os::unix::fs::symlink("../../mmcblk0p2", by_id.join("6c586e13-02")).unwrap();
    put(root, "/sys/block/mmcblk0/device/type", "MMC\n");
    put(root, "/sys/block/mmcblk0/device/life_time", "0x02 0x03\n");
    put(root, "/run/systemd/timesync/synchronized", "");
    put(
        root,
        "/sys/fs/cgroup/cgroup.controllers",
        "cpuset cpu io memory pids\n",
    );
    put(
        root,
        "/sys/firmware/devicetree/base/model",
        "Raspberry Pi 4 Model B Rev 1.4\0",
    );
    put(
        root,
        "/proc/cpuinfo",
        "Hardware\t: BCM2835\nRevision\t: c03114\n",
    );
    put(
        root,
        "/etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
    );
}

pub(crate) fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn a_healthy_pi() {
    let dir = tempfile::tempdir().unwrap();
    pi(dir.path(), "0\n", "48312\n");
    let scrape = render(dir.path());
    assert!(scrape.problems.is_empty(), "{:?}", scrape.problems);
    let samples = lines(&scrape.text);
    for expected in [
        "pi_throttled{condition=\"under_voltage\",when=\"now\"} 0",
        "pi_throttled{condition=\"soft_temp_limit\",when=\"since_boot\"} 0",
        "pi_soc_temperature_celsius 48.312",
        "pi_cpu_frequency_hertz 1500000000",
        "pi_root_storage_info{kind=\"emmc\",device=\"mmcblk0\"} 1",
        "pi_storage_wear_ratio{device=\"mmcblk0\"} 0.3",
        "pi_time_synchronized 1",
        "pi_memory_cgroup_enabled 1",
        "pi_info{model=\"Raspberry Pi 4 Model B Rev 1.4\",revision=\"c03114\",os=\"Debian GNU/Linux 12 (bookworm)\"} 1",
    ] {
        assert!(samples.contains(&expected), "{expected} missing:\n{}", scrape.text);
    }
    assert_eq!(
        samples
            .iter()
            .filter(|l| l.starts_with("pi_throttled{"))
            .count(),
        8
    );
}

#[test]
fn under_voltage_now_and_throttling_since_boot_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    // 0x50005: under-voltage and throttled now; both also since boot.
    pi(dir.path(), "50005\n", "85100\n");
    let text = render(dir.path()).text;
    let samples = lines(&text);
    for (sample, value) in [
        (
            "pi_throttled{condition=\"under_voltage\",when=\"now\"}",
            "1",
        ),
        ("pi_throttled{condition=\"throttled\",when=\"now\"}", "1"),
        ("pi_throttled{condition=\"freq_capped\",when=\"now\"}", "0"),
        (
            "pi_throttled{condition=\"under_voltage\",when=\"since_boot\"}",
            "1",
        ),
        (
            "pi_throttled{condition=\"throttled\",when=\"since_boot\"}",
            "1",
        ),
        (
            "pi_throttled{condition=\"soft_temp_limit\",when=\"since_boot\"}",
            "0",
        ),
        ("pi_soc_temperature_celsius", "85.1"),
    ] {
        assert!(
            samples.contains(&format!("{sample} {value}").as_str()),
            "{sample}:\n{text}"
        );
    }
}

#[test]
fn garbage_and_missing_files_leave_their_metrics_out_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    pi(dir.path(), "zzz\n", "hot\n");
    put(
        dir.path(),
        "/sys/block/mmcblk0/device/life_time",
        "banana\n",
    );
    std::fs::remove_file(
        dir.path()
            .join("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"),
    )
    .unwrap();
    let scrape = render(dir.path());
    for absent in [
        "pi_throttled",
        "pi_soc_temperature_celsius",
        "pi_storage_wear_ratio",
        "pi_cpu_frequency_hertz",
    ] {
        assert!(
            !scrape.text.contains(absent),
            "{absent} present:\n{}",
            scrape.text
        );
    }
    assert!(scrape.text.contains("pi_info{"), "{}", scrape.text);
    // Garbage is logged; a file the host does not have is not a problem.
    assert_eq!(scrape.problems.len(), 3, "{:?}", scrape.problems);
    assert!(
        scrape.problems.iter().any(|p| p.contains("get_throttled")),
        "{:?}",
        scrape.problems
    );
    assert!(
        scrape.problems.iter().any(|p| p.contains("life_time")),
        "{:?}",
        scrape.problems
    );

    // Nothing at all (not a Pi, or not mounted): no panic, no invented values.
    let empty = tempfile::tempdir().unwrap();
    let scrape = render(empty.path());
    assert!(scrape.problems.is_empty(), "{:?}", scrape.problems);
    assert!(!scrape.text.contains("pi_throttled"));
    assert!(!scrape.text.contains("pi_memory_cgroup_enabled"));
}

#[test]
fn metrics_over_http_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    pi(dir.path(), "50005\n", "48312\n");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (metrics, health) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = pikube_exporter::app(dir.path().to_owned());
        tokio::spawn(async move { axum_serve(listener, app).await });
        let client = reqwest::Client::new();
        let metrics = client
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200);
        let health = client
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        (metrics.text().await.unwrap(), health)
    });
    assert_eq!(health, 200);
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) is installed by scripts/test");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn axum_serve(listener: tokio::net::TcpListener, app: axum::Router) {
    let _ = pikube_http::serve(listener, app, std::future::pending()).await;
}

/// A real Prometheus scraping two exporters on fake hosts (a healthy Pi and one under-
/// powered and hot), then every query of deploy/monitoring/dashboards/pi-health.json: each
/// must parse and return data, and the stats must say what the hosts are.
#[test]
fn prometheus_answers_every_query_of_the_pi_health_dashboard() {
    let Some(binary) = pikube_test_support::prometheus_or_skip() else {
        return;
    };
    let healthy = tempfile::tempdir().unwrap();
    pi(healthy.path(), "0\n", "48312\n");
    let sick = tempfile::tempdir().unwrap();
    pi(sick.path(), "50005\n", "82100\n");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut targets = Vec::new();
        for (name, root) in [("pi-1", &healthy), ("pi-2", &sick)] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let app = pikube_exporter::app(root.path().to_owned());
            tokio::spawn(async move { axum_serve(listener, app).await });
            targets.push(serde_json::json!({
                "targets": [address.to_string()],
                "labels": { "instance": name },
            }));
        }
        let config = serde_json::json!({
            "global": { "scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s" },
            "scrape_configs": [{ "job_name": "pi-exporter", "static_configs": targets }],
        });
        let prometheus = pikube_test_support::Prometheus::start(&binary, &config).await;
        let client = reqwest::Client::new();
        prometheus
            .wait_for(&client, "pi_soc_temperature_celsius", "instance", &[("pi-1", 48.312), ("pi-2", 82.1)])
            .await;
        let dashboard = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/monitoring/dashboards/pi-health.json");
        let answers = pikube_test_support::ask_dashboard(&prometheus, &client, &dashboard).await;
        answers.assert_every_query_answered();
        assert_eq!(answers.variables["node"], ["pi-1", "pi-2"]);
        // The stats as the dashboard opens: one node under-voltage now, the hottest 82.1 °C.
        let value = |expr: &str| {
            let prometheus = &prometheus;
            let client = &client;
            let expr = expr.replace("$node", ".*");
            async move {
                let result = prometheus.query(client, &expr).await.unwrap();
                pikube_test_support::sample_value(&result[0])
            }
        };
        assert_eq!(
            value(r#"sum(pi_throttled{condition="under_voltage", when="now", instance=~"$node"})"#).await,
            1.0
        );
        assert_eq!(
            value(r#"max(pi_soc_temperature_celsius{instance=~"$node"})"#).await,
            82.1
        );
    });
}
