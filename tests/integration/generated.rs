//! The shell completions in `completions/` and the man pages in `man/` are generated from
//! `src/cli.rs`. This test renders them and compares: when they are stale it rewrites them
//! (so `cargo test` is the one command that refreshes them) and fails, so a stale commit
//! never passes CI.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use nicksock::cli::Cli;

/// Every generated file, as it should be.
fn expected() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "nicksock.bash"),
        (Shell::Zsh, "_nicksock"),
        (Shell::Fish, "nicksock.fish"),
        (Shell::PowerShell, "_nicksock.ps1"),
        (Shell::Elvish, "nicksock.elv"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "nicksock", &mut out);
        files.push((PathBuf::from("completions").join(name), out));
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .expect("render man page");
    files.push((PathBuf::from("man/nicksock.1"), out));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name: &'static str = format!("nicksock-{}", sub.get_name()).leak();
        let page = sub.clone().name(name);
        let mut out = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut out)
            .expect("render man page");
        files.push((PathBuf::from("man").join(format!("{name}.1")), out));
    }
    files
}

#[test]
fn completions_and_man_pages_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (rel, want) in expected() {
        let path = root.join(&rel);
        if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &want).expect("write generated file");
            stale.push(rel.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "regenerated from src/cli.rs (commit them): {}",
        stale.join(", ")
    );
}

#[test]
fn completions_subcommand_prints_the_same_script() {
    let out = crate::util::nicksock(&["completions", "bash"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let file =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/nicksock.bash"))
            .expect("completions/nicksock.bash");
    assert_eq!(out.stdout, file);
}
