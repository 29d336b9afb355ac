//! Whatever a remote machine prints, parsing returns an error or facts, never
//! a panic.

use pikube_pi::{parse_facts, FactsError};

fn fixtures() -> Vec<String> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    texts.sort();
    texts
}

#[test]
fn garbage_is_an_error_showing_what_came() {
    let err =
        parse_facts("Welcome to Ubuntu 24.04.1 LTS\nThis account is currently not available.\n")
            .unwrap_err();
    assert!(
        matches!(&err, FactsError::MissingHeader { first_line } if first_line == "Welcome to Ubuntu 24.04.1 LTS")
    );
    assert!(err.to_string().contains("Welcome to Ubuntu"));
    assert!(matches!(
        parse_facts(""),
        Err(FactsError::MissingHeader { .. })
    ));
    assert!(parse_facts("\u{0}\u{1}\u{fffd}@@@@|||\n@@begin\n").is_err());
    assert!(
        parse_facts(&"x".repeat(10_000))
            .unwrap_err()
            .to_string()
            .len()
            < 400
    );
}

#[test]
fn every_truncation_of_every_fixture_is_handled() {
    for text in fixtures() {
        for (cut, _) in text.char_indices() {
            let prefix = &text[..cut];
            if let Ok(facts) = parse_facts(prefix) {
                // Only a cut after the trailer can succeed.
                assert!(prefix.contains("@@pikube-facts end"), "{facts:?}");
            }
        }
    }
}

#[test]
fn mangled_lines_do_not_panic() {
    // Every line replaced, in turn, by odd content.
    let odd = [
        "",
        "|",
        "@@",
        "@@end",
        "@@end x eol=1 rc=",
        "@@begin",
        "@@absent",
        "|\u{0}",
        "@@end os_release eol=1 rc=99999999999",
    ];
    for text in fixtures() {
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            for replacement in odd {
                let mut mangled = lines.clone();
                mangled[i] = replacement;
                let _ = parse_facts(&mangled.join("\n"));
            }
        }
    }
}

#[test]
fn content_values_that_make_no_sense_become_absent() {
    let text = "@@pikube-facts v1\n@@begin uname_m\n|\n@@end uname_m eol=1 rc=0\n@@begin uptime\n|NaN NaN\n@@end uptime eol=1 rc=0\n@@begin meminfo\n|MemTotal: lots kB\n@@end meminfo eol=1 rc=0\n@@begin uid\n|-1\n@@end uid eol=1 rc=0\n@@begin model\n|\u{0}\n@@end model eol=1 rc=0\n@@begin vcgencmd_throttled\n|throttled=0xFFFFFFFFFF\n@@end vcgencmd_throttled eol=1 rc=0\n@@begin thermal_zone0_temp\n|99999999999999999999999\n@@end thermal_zone0_temp eol=1 rc=0\n@@pikube-facts end\n";
    let f = parse_facts(text).unwrap();
    assert_eq!(f.uptime_secs, 0.0);
    assert_eq!(f.memory_total_kib, 0);
    assert_eq!(f.uid, None);
    assert_eq!(f.model, None);
    assert_eq!(f.throttle, None);
    assert_eq!(f.soc_temp_celsius, None);
    assert_eq!(f.os.id, "linux");
    assert_eq!(f.boot.cmdline_path, None);
    assert!(f.swap.is_off_for_good());
}
