//! The built `portcullis` binary: help on every level, exit statuses, and the token never
//! echoed. (Against the real worker: tests/e2e/cli.test.mjs.)

#![allow(clippy::unwrap_used, reason = "test")]

use std::process::{Command, Output};

fn portcullis(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .args(args)
        .env_remove("PORTCULLIS_ENDPOINT")
        .env_remove("PORTCULLIS_TOKEN")
        .env_remove("PORTCULLIS_SIGNUP_KEY");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_command_level_has_help() {
    let levels: &[&[&str]] = &[
        &[],
        &["signup"],
        &["whoami"],
        &["users"],
        &["users", "invite"],
        &["users", "deactivate"],
        &["tokens"],
        &["tokens", "create"],
        &["tokens", "delete"],
        &["keys"],
        &["keys", "create"],
        &["keys", "disable"],
        &["audit"],
        &["audit", "tail"],
    ];
    for level in levels {
        let mut args = level.to_vec();
        args.push("--help");
        let output = portcullis(&args, &[]);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage: portcullis"), "{args:?}: {help}");
    }
    let tail = portcullis(&["audit", "tail", "--help"], &[]);
    assert!(String::from_utf8_lossy(&tail.stdout).contains("--follow"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["bogus"][..],
        &["tokens", "create"],
        &[
            "audit",
            "tail",
            "--account",
            "--tenant",
            "ten_0123456789abcdef",
        ],
    ] {
        let output = portcullis(args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
    }
    let no_endpoint = portcullis(&["whoami"], &[("PORTCULLIS_TOKEN", "pctk_a:pcts_b")]);
    assert_eq!(no_endpoint.status.code(), Some(2));
    assert!(text(&no_endpoint).contains("PORTCULLIS_ENDPOINT"));
    let no_key = portcullis(
        &[
            "--endpoint",
            "http://127.0.0.1:9",
            "signup",
            "--account-name",
            "A",
            "--owner-email",
            "o@a.test",
            "--owner-name",
            "O",
            "--plan",
            "team",
        ],
        &[],
    );
    assert_eq!(no_key.status.code(), Some(2));
    assert!(text(&no_key).contains("PORTCULLIS_SIGNUP_KEY"));
}

#[test]
fn an_unreachable_worker_exits_1_without_echoing_the_token() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let secret = "pctk_NStYCoT80hk9o6T47KxQ4oAe:pcts_do-not-print-me";
    for json in [false, true] {
        let mut args = vec!["--endpoint", closed.as_str(), "whoami"];
        if json {
            args.push("--json");
        }
        let output = portcullis(&args, &[("PORTCULLIS_TOKEN", secret)]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let all = text(&output);
        assert!(all.contains("cannot reach"), "{all}");
        assert!(!all.contains("do-not-print-me"), "{all}");
        if json {
            let problem: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            assert!(problem["detail"].as_str().unwrap().contains("cannot reach"));
        }
    }
    let help = portcullis(&["--help"], &[("PORTCULLIS_TOKEN", secret)]);
    assert!(!text(&help).contains("do-not-print-me"));
}
