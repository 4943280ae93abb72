#!/usr/bin/env python3
"""Check every link and run every command of the documentation (README.md, docs/*.md).

Usage: python3 scripts/check_docs.py [MFCL] [--links-only] [--keep] [-v] [FILE.md ...]

MFCL is the release binary (default: $MFCL, else ${CARGO_TARGET_DIR:-target}/release/mfcl).
Standard library only. Exit 0 when everything passes, 1 when something failed (each failure
is named by file, line and command), 2 on bad usage.

Links. Every relative link or image `[text](path#anchor)` outside code must name an
existing file, and an `#anchor` must be the GitHub slug of a heading of the target file
(lowercase; everything but letters, digits, spaces, `-` and `_` dropped; spaces become `-`;
a repeated slug gets `-1`, `-2`, ...). An inline code span that names a repository path
(`data/...`, `docs/...`, `scripts/...`, `crates/...`, `benches/...`, no wildcard) must exist.

Commands. Fenced blocks are read by their language:

- ```sh (or ```bash): every line is a command (a trailing `\\` continues it; `#` comments
  are ignored);
- ```console: lines starting with `$ ` are commands (continued by a trailing `\\`), the
  other lines are their output, not compared;
- ```python: run as one script with python3;
- anything else (```text, ```toml, ...): not run. Output without a command goes in ```text.

All commands of one markdown file run in document order, with bash, in one temporary copy
of the repository (tracked and untracked-but-not-ignored files), so a command may use what
an earlier one wrote (`runs/...`) and nothing lands in the working tree. `mfcl` is the
binary under test (a folder holding a link to it is put first on PATH; $MFCL is set for
scripts/sweep.sh). A command passes when it exits 0 within its time limit.

`cargo test ... --test TARGET ... -- ... FILTER` lines are not run (they are the heavy
tests); the script checks instead that the package's `tests/TARGET.rs` exists and has a
test function whose name contains FILTER. Any other `cargo` command needs `skip`.

Annotations: an HTML comment on the line just before the opening fence,

    <!-- check: DIRECTIVE; DIRECTIVE; ... -->

with directives

- `skip (reason)`: do not run the block (it is still parsed);
- `--set KEY=VALUE ...` (anything starting with `--`): appended to every `mfcl run`
  command of the block, to run it at a small size;
- `sub OLD => NEW`: replace the text OLD by NEW in every command of the block (smaller
  `--samples`, `--values`, `--t-end`, ...); OLD must occur in the block;
- `exit N`: the exit code every command of the block must give (default 0);
- `stub NAME`: NAME is a stand-in that prints its arguments and exits 0 (`sbatch`);
- `requires MODULE ...`: skip the block, with a note, when python3 cannot import these;
- `setup COMMAND`: run COMMAND (in the same folder) before the block;
- `timeout S`: time limit of each command in seconds (default 300).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TIMEOUT = 300
RUN_LANGS = {"sh", "bash", "console", "python"}
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)  # CommonMark's code span
PATH_PREFIXES = ("data/", "docs/", "scripts/", "crates/", "benches/")


class Block:
    def __init__(self, path, line, lang, body, annotation, annotation_line):
        self.path = path  # relative to REPO
        self.line = line  # 1-based line of the opening fence
        self.lang = lang
        self.body = body  # list of (line number, text)
        self.annotation = annotation  # text after "check:", or None
        self.annotation_line = annotation_line


def doc_files(args):
    if args:
        return [os.path.relpath(os.path.abspath(a), REPO) for a in args]
    docs = sorted(f for f in os.listdir(os.path.join(REPO, "docs")) if f.endswith(".md"))
    return ["README.md"] + [os.path.join("docs", f) for f in docs]


def parse(path):
    """Blocks, headings and the text outside fences (fenced lines blanked) of a markdown file."""
    lines = open(os.path.join(REPO, path), encoding="utf-8").read().split("\n")
    blocks, outside = [], []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", lines[i])
        if not m:
            outside.append(lines[i])
            i += 1
            continue
        fence, lang = m.group(2), m.group(3).lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        annotation, annotation_line = None, None
        k = i - 1
        if k >= 0:
            a = re.match(r"^\s*<!--\s*check:\s*(.*?)\s*-->\s*$", lines[k])
            if a:
                annotation, annotation_line = a.group(1), k + 1
        body = [(n + 1, lines[n]) for n in range(i + 1, min(j, len(lines)))]
        blocks.append(Block(path, i + 1, lang, body, annotation, annotation_line))
        outside.extend([""] * (min(j, len(lines) - 1) - i + 1))
        i = j + 1
    return blocks, outside


def slugify(text):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = text.strip().lower()
    kept = []
    for c in text:
        cat = unicodedata.category(c)
        if c in " -_" or cat[0] in "LMN":
            kept.append(c)
    return "".join(kept).replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        _, outside = parse(path)
        seen, result = {}, set()
        for line in outside:
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            slug = slugify(m.group(1))
            if slug in seen:
                seen[slug] += 1
                slug = f"{slug}-{seen[slug]}"
            else:
                seen[slug] = 0
            result.add(slug)
        cache[path] = result
    return cache[path]


def blank(match):
    return re.sub(r"[^\n]", " ", match.group(0))


def check_links(path):
    failures = []
    _, outside = parse(path)
    text = "\n".join(outside)
    text = re.sub(r"<!--.*?-->", blank, text, flags=re.S)
    # inline code: check repository paths, then blank it so links inside code are ignored
    for m in re.finditer(CODE_SPAN, text):
        code = m.group(2).strip()
        if code.startswith(PATH_PREFIXES) and re.fullmatch(r"[\w./-]+", code):
            if not os.path.exists(os.path.join(REPO, code.rstrip("/"))):
                line = text.count("\n", 0, m.start()) + 1
                failures.append(f"{path}:{line}: `{code}` names a path that does not exist")
    text = CODE_SPAN.sub(blank, text)
    for m in re.finditer(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text):
        target = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        where = f"{path}:{line}: link ({target})"
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        if file_part:
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            if resolved.startswith(".."):
                failures.append(f"{where}: points outside the repository")
                continue
            if not os.path.exists(os.path.join(REPO, resolved)):
                failures.append(f"{where}: no file {resolved}")
                continue
        else:
            resolved = path
        if anchor:
            if not resolved.endswith(".md"):
                failures.append(f"{where}: an anchor into a file that is not markdown")
            elif anchor not in anchors(resolved):
                failures.append(f"{where}: no heading with anchor #{anchor} in {resolved}")
    return failures


def strip_comment(command):
    """The command without a trailing `# comment` (outside quotes)."""
    quote = None
    for i, c in enumerate(command):
        if quote:
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"':
                continue
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or command[i - 1].isspace()):
            return command[:i].rstrip()
    return command.rstrip()


def commands(block):
    """(line, command) pairs of a sh or console block."""
    result, current, start = [], None, None
    for n, text in block.body:
        if current is not None:
            current += "\n" + text
        elif block.lang == "console":
            if not text.startswith("$ "):
                continue
            current, start = text[2:], n
        else:
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            current, start = text, n
        if current.endswith("\\"):
            continue
        result.append((start, strip_comment(current)))
        current = None
    if current is not None:
        result.append((start, strip_comment(current)))
    return result


def directives(block):
    d = {"skip": None, "run_args": "", "subs": [], "exit": 0, "stubs": [], "requires": [],
         "setup": [], "timeout": DEFAULT_TIMEOUT, "errors": []}
    if block.annotation is None:
        return d
    for part in [p.strip() for p in block.annotation.split(";") if p.strip()]:
        word, _, rest = part.partition(" ")
        rest = rest.strip()
        if part.startswith("--"):
            d["run_args"] += " " + part
        elif word == "skip":
            d["skip"] = rest.strip("()") or "no reason given"
        elif word == "sub" and "=>" in rest:
            old, _, new = rest.partition("=>")
            d["subs"].append((old.strip(), new.strip()))
        elif word == "exit" and rest.isdigit():
            d["exit"] = int(rest)
        elif word == "stub" and rest:
            d["stubs"] += rest.split()
        elif word == "requires" and rest:
            d["requires"] += rest.split()
        elif word == "setup" and rest:
            d["setup"].append(rest)
        elif word == "timeout" and rest.isdigit():
            d["timeout"] = int(rest)
        else:
            d["errors"].append(f"unknown check directive '{part}'")
    return d


def cargo_test_target(command):
    """For `cargo test [opts] -p PKG --test TARGET -- ... FILTER`: (package, target, filter)."""
    words = shlex.split(command)
    if words[:2] != ["cargo", "test"] or "--test" not in words:
        return None
    before, _, after = " ".join(words).partition(" -- ")
    bw = before.split()
    package = bw[bw.index("-p") + 1] if "-p" in bw else None
    target = bw[bw.index("--test") + 1]
    filters = [w for w in after.split() if not w.startswith("-")]
    return package, target, filters


def check_cargo_test(command):
    parsed = cargo_test_target(command)
    if parsed is None:
        return "a cargo command is not run here: annotate its block with `skip (reason)`"
    package, target, filters = parsed
    crates = os.path.join(REPO, "crates")
    dirs = [os.path.join(crates, d) for d in sorted(os.listdir(crates))] + [os.path.join(REPO, "benches")]
    for d in dirs:
        manifest = os.path.join(d, "Cargo.toml")
        if not os.path.exists(manifest):
            continue
        m = re.search(r'^name\s*=\s*"([^"]+)"', open(manifest).read(), re.M)
        if m and m.group(1) == package:
            source = os.path.join(d, "tests", target + ".rs")
            if not os.path.exists(source):
                return f"package {package} has no test target {target} ({os.path.relpath(source, REPO)})"
            names = re.findall(r"\bfn\s+(\w+)\s*\(", open(source).read())
            for f in filters:
                if not any(f in name for name in names):
                    return f"no test function matching '{f}' in {os.path.relpath(source, REPO)}"
            return None
    return f"no package named {package} under crates/ or benches/"


def copy_repo(dest):
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, check=True, capture_output=True).stdout.decode().split("\0")
        files = [f for f in listed if f and os.path.isfile(os.path.join(REPO, f))]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, names in os.walk(REPO):
            dirs[:] = [d for d in dirs if d not in (".git", "target", "runs", "__pycache__")]
            files += [os.path.relpath(os.path.join(root, n), REPO) for n in names]
    for f in files:
        target = os.path.join(dest, f)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(REPO, f), target)


def python_has(modules):
    if not modules:
        return True
    probe = "import " + ", ".join(modules)
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def run_one(command, cwd, env, timeout, is_python=False):
    argv = [sys.executable, "-c", command] if is_python else ["bash", "-c", "set -o pipefail\n" + command]
    started = time.time()
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), time.time() - started
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        err = (e.stderr or b"").decode(errors="replace")
        return None, out, err, time.time() - started


def tail(text, n=8):
    lines = [l for l in text.rstrip().split("\n") if l.strip()]
    return "\n".join("    | " + l for l in lines[-n:])


def check_commands(path, mfcl, verbose, keep):
    failures, notes, ran = [], [], 0
    blocks, _ = parse(path)
    work = tempfile.mkdtemp(prefix="mfcl-docs-")
    try:
        copy_repo(work)
        bindir = os.path.join(work, ".check-bin")
        os.makedirs(bindir)
        os.symlink(mfcl, os.path.join(bindir, "mfcl"))
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), MFCL=mfcl)
        env.pop("CARGO_TARGET_DIR", None)
        for block in blocks:
            d = directives(block)
            for e in d["errors"]:
                failures.append(f"{path}:{block.annotation_line}: {e}")
            if block.lang not in RUN_LANGS:
                if block.annotation is not None:
                    failures.append(f"{path}:{block.annotation_line}: a check annotation on a ```{block.lang or 'plain'} block, which is never run")
                continue
            if d["skip"]:
                notes.append(f"{path}:{block.line}: skipped ({d['skip']})")
                continue
            if not python_has(d["requires"]):
                notes.append(f"{path}:{block.line}: skipped: python3 lacks {' '.join(d['requires'])}")
                continue
            for name in d["stubs"]:
                stub = os.path.join(bindir, name)
                with open(stub, "w") as f:
                    f.write(f'#!/bin/sh\necho "{name} (stub of check_docs.py):" "$@"\n')
                os.chmod(stub, 0o755)
            if block.lang == "python":
                todo = [(block.line + 1, "\n".join(t for _, t in block.body))]
            else:
                todo = commands(block)
            for old, _ in d["subs"]:
                if not any(old in c for _, c in todo):
                    failures.append(f"{path}:{block.annotation_line}: `sub {old} => ...` matches no command of the block")
            for cmd in d["setup"]:
                code, out, err, secs = run_one(cmd, work, env, d["timeout"])
                if code != 0:
                    failures.append(f"{path}:{block.annotation_line}: setup `{cmd}` exited {code}\n{tail(err or out)}")
            for line, original in todo:
                where = f"{path}:{line}"
                if block.lang != "python" and original.split()[:1] == ["cargo"]:
                    problem = check_cargo_test(original)
                    if problem:
                        failures.append(f"{where}: {original}\n    {problem}")
                    elif verbose:
                        print(f"  ok   {where}: {original} (test exists; not run)", flush=True)
                    continue
                cmd = original
                for old, new in d["subs"]:
                    cmd = cmd.replace(old, new)
                if d["run_args"] and block.lang != "python":
                    cmd = re.sub(r"^(\s*mfcl run\b.*?)$", lambda m: m.group(1) + d["run_args"], cmd, flags=re.S)
                code, out, err, secs = run_one(cmd, work, env, d["timeout"], block.lang == "python")
                ran += 1
                shown = original if cmd == original else f"{original}\n    run as: {cmd}"
                if code is None:
                    failures.append(f"{where}: {shown}\n    timed out after {d['timeout']} s")
                elif code != d["exit"]:
                    failures.append(f"{where}: {shown}\n    exited {code}, expected {d['exit']}\n{tail(err or out)}")
                elif verbose:
                    print(f"  ok   {where} ({secs:.1f} s): {cmd.splitlines()[0]}", flush=True)
    finally:
        if keep:
            notes.append(f"{path}: kept its folder {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return failures, notes, ran


def main(argv):
    opts = [a for a in argv if a.startswith("-")]
    rest = [a for a in argv if not a.startswith("-")]
    unknown = set(opts) - {"--links-only", "--keep", "-v", "--verbose", "-h", "--help"}
    if unknown or "-h" in opts or "--help" in opts:
        print(__doc__)
        return 2 if unknown else 0
    mfcl = None
    if rest and not rest[0].endswith(".md"):
        mfcl = rest.pop(0)
    if mfcl is None:
        mfcl = os.environ.get("MFCL") or os.path.join(
            os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "mfcl")
    links_only = "--links-only" in opts
    verbose = "-v" in opts or "--verbose" in opts
    mfcl = os.path.abspath(mfcl)
    if not links_only and not (os.path.isfile(mfcl) and os.access(mfcl, os.X_OK)):
        print(f"check_docs: no mfcl binary at {mfcl} (build it with `cargo build --release -p mfcl`, "
              "or pass its path)", file=sys.stderr)
        return 2
    started = time.time()
    files = doc_files(rest)
    failures, notes, ran = [], [], 0
    for path in files:
        failures += check_links(path)
    for path in ([] if links_only else files):
        t0 = time.time()
        f, n, r = check_commands(path, mfcl, verbose, "--keep" in opts)
        failures += f
        notes += n
        ran += r
        print(f"check_docs: {path}: {r} commands, {len(f)} failed, {time.time() - t0:.0f} s", flush=True)
    for n in notes:
        print("note: " + n)
    sys.stdout.flush()
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    sys.stderr.flush()
    print(f"check_docs: {len(files)} files, {ran} commands run, {len(failures)} failures, "
          f"{time.time() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
