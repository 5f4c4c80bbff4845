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
    files.push((PathBuf::from("man/nicksock.1"), man_page(&cmd, "", true)));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name: &'static str = format!("nicksock-{}", sub.get_name()).leak();
        let page = sub.clone().name(name);
        let out = man_page(&page, sub.get_name(), false);
        files.push((PathBuf::from("man").join(format!("{name}.1")), out));
    }
    files
}

/// A man page: clap_mangen's sections for the options, then NOTES (the short help's
/// closing text, if the page has one besides the exit codes), EXAMPLES and EXIT STATUS
/// from `nicksock::help`, the same lists `--help` prints.
fn man_page(cmd: &clap::Command, examples_of: &str, top: bool) -> Vec<u8> {
    use clap_mangen::roff::{Roff, bold, roman};
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out).expect("title");
    man.render_name_section(&mut out).expect("name");
    man.render_synopsis_section(&mut out).expect("synopsis");
    man.render_description_section(&mut out)
        .expect("description");
    man.render_options_section(&mut out).expect("options");
    if top {
        man.render_subcommands_section(&mut out)
            .expect("subcommands");
    }
    let mut roff = Roff::new();
    if let (Some(notes), false) = (cmd.get_after_help(), top) {
        roff.control("SH", ["NOTES"]);
        roff.text([roman(notes.to_string())]);
    }
    let examples = nicksock::help::examples(examples_of);
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for e in examples {
            roff.control("TP", []);
            roff.text([bold(e.command)]);
            roff.text([roman(e.what)]);
        }
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in nicksock::help::exit_status() {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(meaning)]);
    }
    roff.to_writer(&mut out).expect("sections");
    man.render_version_section(&mut out).expect("version");
    out
}

#[test]
fn every_man_page_has_examples_and_the_exit_status_table() {
    for (path, page) in expected() {
        if !path.starts_with("man") {
            continue;
        }
        let page = String::from_utf8(page).expect("UTF-8");
        assert!(page.contains(".SH \"EXIT STATUS\""), "{}", path.display());
        assert!(page.contains("stopped by SIGINT"), "{}", path.display());
        if path != Path::new("man/nicksock.1") {
            assert!(page.contains(".SH EXAMPLES"), "{}", path.display());
        }
    }
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
