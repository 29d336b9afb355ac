//! `pi_time_synchronized`: told only where the host shows its time daemon's state, absent
//! where it cannot be known (no timesyncd, a chrony host, nothing mounted), so a host that
//! keeps good time is never reported adrift.

use pikube_exporter::render;

use crate::exporter::{lines, pi};

#[test]
fn timesyncd_running_but_not_synchronised_is_zero() {
    let dir = tempfile::tempdir().unwrap();
    pi(dir.path(), "0\n", "48312\n");
    std::fs::remove_file(dir.path().join("run/systemd/timesync/synchronized")).unwrap();
    let scrape = render(dir.path());
    assert!(
        lines(&scrape.text).contains(&"pi_time_synchronized 0"),
        "{}",
        scrape.text
    );
}

#[test]
fn without_timesyncd_the_state_is_unknown_and_left_out() {
    // A host whose clock another daemon keeps (chrony), or whose /run is not mounted.
    let dir = tempfile::tempdir().unwrap();
    pi(dir.path(), "0\n", "48312\n");
    std::fs::remove_dir_all(dir.path().join("run/systemd/timesync")).unwrap();
    std::fs::create_dir_all(dir.path().join("run/chrony")).unwrap();
    let scrape = render(dir.path());
    assert!(
        !scrape.text.contains("pi_time_synchronized"),
        "{}",
        scrape.text
    );
    assert!(scrape.text.contains("pi_info{"), "{}", scrape.text);

    let empty = tempfile::tempdir().unwrap();
    let scrape = render(empty.path());
    assert!(
        !scrape.text.contains("pi_time_synchronized"),
        "{}",
        scrape.text
    );
}
