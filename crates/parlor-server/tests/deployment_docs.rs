//! docs/deployment.md stays true: its parlor.toml is a valid configuration, its systemd unit
//! passes `systemd-analyze verify` (with this build's binary), and every flag its
//! `parlor serve` commands use exists.

use std::process::Command;

use parlor_server::config::{Config, ServeArgs};

fn page() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/deployment.md"
    ))
    .expect("docs/deployment.md")
}

/// The code blocks of `lang` whose first line contains `marker`.
fn blocks(page: &str, lang: &str, marker: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").expect("a closed code block");
        if body.lines().next().is_some_and(|l| l.contains(marker)) {
            out.push(body[..end].to_owned());
        }
        rest = &body[end + 3..];
    }
    out
}

#[test]
fn the_toml_is_a_valid_configuration() {
    let toml = blocks(&page(), "toml", "parlor.toml");
    assert_eq!(toml.len(), 1, "one parlor.toml block");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parlor.toml");
    std::fs::write(&file, &toml[0]).unwrap();
    let config = Config::resolve(ServeArgs {
        config: Some(file),
        ..Default::default()
    })
    .expect("docs/deployment.md's parlor.toml resolves");
    assert_eq!(config.listen.port(), 443);
    assert!(config.public_ip.is_some() && config.tls.is_some());
}

#[test]
fn the_systemd_unit_verifies() {
    let units = blocks(&page(), "ini", "parlor.service");
    assert_eq!(units.len(), 1, "one systemd unit");
    let unit = units[0].replace("/usr/local/bin/parlor", env!("CARGO_BIN_EXE_parlor"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parlor.service");
    std::fs::write(&file, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .expect("systemd-analyze (Debian's systemd package) runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // It reports problems in a unit on stderr even when it exits 0.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("parlor.service"))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}

#[test]
fn every_flag_of_its_commands_exists() {
    let help = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let page = page();
    let commands: String = blocks(&page, "sh", "")
        .into_iter()
        .filter(|b| b.contains("parlor serve"))
        .collect();
    let flags: Vec<&str> = commands
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches('\\'))
        .collect();
    assert!(flags.len() >= 6, "{flags:?}");
    for flag in flags {
        assert!(
            help.contains(flag),
            "docs/deployment.md uses {flag}, which parlor serve lacks"
        );
    }
}
