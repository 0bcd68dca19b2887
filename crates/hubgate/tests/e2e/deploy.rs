//! The systemd unit in `deploy/` passes `systemd-analyze verify` (where the
//! machine has systemd's tools; it says so when it does not).

use std::process::Command;

use crate::support::{BIN, repo_root};

/// `systemd-analyze verify` on a unit file: whether it passed, and what it said.
fn verify(unit: &str) -> Option<(bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hubgate.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .ok()?;
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Some((output.status.success(), said))
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(repo_root().join("deploy/hubgate.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/hubgate serve"));
    // Verified against the binary just built, where the unit expects it installed.
    let here = unit.replace("/usr/local/bin/hubgate", BIN);
    let Some((passed, said)) = verify(&here) else {
        eprintln!("systemd-analyze is not installed here: the unit was not verified");
        return;
    };
    assert!(
        passed && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );
    // The check can fail: a misspelt hardening key is reported.
    let misspelt = here.replace("ProtectSystem=strict", "ProtectSystm=strict");
    let (_, said) = verify(&misspelt).unwrap();
    assert!(said.contains("ProtectSystm"), "{said}");
}
