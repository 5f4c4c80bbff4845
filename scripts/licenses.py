#!/usr/bin/env python3
"""The notices of everything linked into nicksock for one target, for the Debian package's
/usr/share/doc/nicksock/THIRD-PARTY (scripts/package.sh): every crate the binary links (the
normal dependencies of nicksock for that target, proc-macro crates left out: they run at
build time only), its version and licence, and the licence files the crate ships (its
copyright notices and texts), each distinct text once with the crates that share it; then
the extra files given (for the ARMv6 build: musl's and Zig's, whose code is linked too).

    scripts/licenses.py [--no-default-features] TARGET OUT [NAME=FILE ...]

--no-default-features: the crates of a build without the default cargo features (the ARM
packages: no br or zstd decoders, scripts/cross.sh).
"""
import json
import os
import subprocess
import sys

LICENCE_PREFIXES = ("license", "licence", "copying", "notice", "copyright", "unlicense")


def main():
    args = sys.argv[1:]
    features = [args.pop(0)] if args and args[0] == "--no-default-features" else []
    target, out = args[0], args[1]
    extras = [arg.split("=", 1) for arg in args[2:]]
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--filter-platform", target]
            + features,
            check=True,
            capture_output=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    linked, stack = set(), [root]
    while stack:
        pkg = stack.pop()
        if pkg in linked:
            continue
        linked.add(pkg)
        for dep in nodes[pkg]["deps"]:
            normal = any(k["kind"] is None for k in dep["dep_kinds"])
            macro = any("proc-macro" in t["kind"] for t in packages[dep["pkg"]]["targets"])
            if normal and not macro:
                stack.append(dep["pkg"])
    linked.discard(root)
    crates = sorted((packages[p] for p in linked), key=lambda p: (p["name"], p["version"]))

    texts = {}  # licence text → crates that ship it
    lines = [
        "Third-party code linked into /usr/bin/nicksock (%s), with the licence files each" % target,
        "ships. Generated from Cargo.lock by scripts/licenses.py.",
        "",
    ]
    for crate in crates:
        name = "%s %s" % (crate["name"], crate["version"])
        lines.append("%s: %s" % (name, crate.get("license") or "see its licence file"))
        folder = os.path.dirname(crate["manifest_path"])
        files = sorted(
            f for f in os.listdir(folder)
            if f.lower().startswith(LICENCE_PREFIXES) and os.path.isfile(os.path.join(folder, f))
        )
        if crate.get("license_file"):
            files.append(crate["license_file"])
        for f in dict.fromkeys(files):
            with open(os.path.join(folder, f), encoding="utf-8", errors="replace") as fh:
                texts.setdefault(fh.read().strip(), []).append("%s (%s)" % (name, f))
    for label, path in extras:
        lines.append("%s: %s" % (label, os.path.basename(path)))
        with open(path, encoding="utf-8", errors="replace") as fh:
            texts.setdefault(fh.read().strip(), []).append("%s (%s)" % (label, path))
    for text, owners in texts.items():
        lines += ["", "=" * 78, "The licence file of: " + ", ".join(owners), "=" * 78, "", text]
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
