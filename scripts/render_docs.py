"""Regenerate the example outputs in README.md and docs/*.md from the commands that produce them.

    python scripts/render_docs.py                 # run every block, rewrite the ones that drifted
    python scripts/render_docs.py --check         # report drift as a diff, exit 1 if any (changes nothing)
    python scripts/render_docs.py --list          # the blocks found, one a line
    python scripts/render_docs.py README.md -k simulate   # only some files / blocks (substring of the commands)

Exit status: 0 when every block is current (or was rewritten), 1 with --check when some block drifted,
2 when a block cannot be rendered (a bad marker, a command that crashed or exited with an unexpected code)
or an example output outside any block was written by hand.

A generated block is an HTML comment naming the commands, the generated text, and a closing comment.
Markdown renderers hide the comments, so readers see only the fenced output:

    <!-- planner: solve workloads/batch.yaml -->
    ```
    $ planner solve workloads/batch.yaml
    ...output...
    ```
    <!-- /planner -->

Several commands (run in order, in one temporary directory), and options, take the multi-line form:

    <!-- planner keep='cost|GPUs' lang=console
    solve workloads/chat.yaml --format json -o plan.json
    simulate plan.json --duration 120   # a trailing comment is shown, not run
    -->

Markers inside fenced code blocks are examples, not blocks. Each command line is a `planner` subcommand
(the word `planner` may be left out; it is always shown). A line ending in `; echo $?` also prints the
exit code. A line starting with `$ ` is a shell command, run with
bash in the block's directory and shown as written (for pipelines); `planner` subcommands run
in-process through click's CliRunner, which is much faster than a new interpreter per command, and
capture stdout and stderr interleaved as a terminal shows them.

Options (shlex syntax, before the commands):

    lines=A-B      show only output lines A..B (1-based, inclusive; `A-` = to the end) of each command
    keep=REGEX     show only output lines matching REGEX (re.search) of each command; `$ ...` lines stay
    width=N        terminal width (COLUMNS) for the commands, default 140
    needs=shared   the block reads ../shared/data (also inferred from a `../shared/` path); skipped with a
                   note when that directory is absent
    exit=0,2       exit codes a command may end with (default 0; `; echo $?` commands may end with any)
    lang=console   the info string of the generated fence (default none)
    markdown       the output is Markdown (e.g. `--format md`): the commands go in a fence, the output
                   follows it as Markdown, so tables render as tables

Files the commands read: every block runs in a fresh temporary directory holding a copy of the repo's
`workloads/` (so `workloads/chat.yaml` works and nothing is written into the repository), plus every
file declared earlier in the same document by a `<!-- planner-file: NAME -->` comment followed by a
fenced block (its content, hand-written, becomes NAME), and `tests/io/fixtures/real/` (the benchmark tools' own output
files) when a command names it. Paths are rewritten before running: `../shared/...`
to the shared data next to the repository root, `/tmp/...` to the block's directory; everything else is
relative to the block's directory. `--plots docs/img` therefore writes into the temporary directory.

Normalisation (so the check tests the numbers, not the clock):

- written as placeholders: the block's temporary directory (an absolute path becomes the relative path
  the command was given, `/tmp/...` stays `/tmp/...`), the repository root (a relative path) and
  today's date (`YYYY-MM-DD`); trailing spaces on each line and trailing blank lines of each command's
  output are dropped (rich pads its titles).
- written as measured but masked before comparing: solver runtimes `(highs, 0.01 s)`, `"runtime_s": ...`
  in JSON, and `simulated N requests in 0.7 s` (the request count is still compared). A block whose only
  differences are these is left as it is, so re-running the script does not churn the docs.

Everything else must match exactly.

Not generated (left out of the check, written by the benchmark scripts or recorded from them, since they
take minutes or need a quiet machine): docs/accuracy.md (benchmarks/accuracy.py), docs/benchmarks/
real_traces.md (benchmarks/real_traces.py), the profile_speed table in docs/profiles.md
(benchmarks/profile_speed.py), and the speed, real-trace and agreement tables in docs/simulator.md and
the sweep timing in docs/whatif.md (benchmarks/simulate_speed.py, simulate_real_traces.py, agreement.py,
sweep_speed.py). The real-trace simulation in README.md is a generated block (needs=shared, a few
seconds). The list of profile error messages in docs/profiles.md is a catalogue from different broken
files (checked by tests/test_profile.py), not one command's output. docs/architecture.md and
docs/methodology.md are not scanned.

tests/test_docs_outputs.py runs the check, one test per block (docs/contributing.md).
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
EXCLUDED = {"docs/architecture.md", "docs/methodology.md"}
DEFAULT_WIDTH = 140

OPEN_RE = re.compile(r"^<!--\s*planner(?P<rest>(?:\s[^\n]*)?|:[^\n]*)$")
CLOSE_RE = re.compile(r"^<!--\s*/planner\s*-->\s*$")
REAL_FIXTURES = "tests/io/fixtures/real"
"""Copied into a block's directory when its commands name it (docs/ingest.md runs the tools' own files)."""
FILE_RE = re.compile(r"^<!--\s*planner-file:\s*(?P<name>\S+)\s*-->\s*$")
FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ECHO_RE = re.compile(r";\s*echo \$\?\s*$")
SHELL_CHARS = re.compile(r"[|;&<>`]|\$\(")

# masked before comparing (written as measured)
MASKS = [
    (re.compile(r"\((highs|cbc), \d+(\.\d+)? s\)"), r"(\1, <runtime> s)"),
    (re.compile(r'("runtime_s":\s*)[0-9.eE+-]+'), r"\1<runtime>"),
    (re.compile(r"(simulated [\d,]+ requests) in \d+(\.\d+)? s"), r"\1 in <runtime> s"),
]
DATE_PLACEHOLDER = "YYYY-MM-DD"


class BlockError(Exception):
    """A block that cannot be rendered (bad marker, a command that crashed or exited unexpectedly)."""


@dataclass
class Block:
    path: Path            # the Markdown file
    line: int             # 1-based line of the opening comment
    options: dict[str, str]
    commands: list[str]   # as written in the comment (shown by display())
    start: int            # index of the first generated line (after the opening comment)
    end: int              # index of the closing comment
    files: dict[str, str] = field(default_factory=dict)  # planner-file declarations before the block
    current: str = ""     # the generated text in the file now

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def name(self) -> str:
        return f"{self.rel}:{self.line}: {' && '.join(display(c) for c in self.commands)}"

    @property
    def needs_shared(self) -> bool:
        used = [text for name, text in self.files.items() if any(name in c for c in self.commands)]
        return self.options.get("needs") == "shared" or any("../shared/" in t for t in self.commands + used)


# ---------------------------------------------------------------- parsing

def doc_files() -> list[Path]:
    """README.md and docs/*.md, without the files other people own."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [f for f in files if f.relative_to(ROOT).as_posix() not in EXCLUDED]


def _parse_options(text: str, where: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for token in shlex.split(text):
        key, sep, value = token.partition("=")
        if key not in ("lines", "keep", "width", "needs", "exit", "lang", "markdown"):
            raise BlockError(f"{where}: unknown option {key!r} (lines, keep, width, needs, exit, lang, markdown)")
        options[key] = value if sep else "1"
    if "lines" in options and not re.fullmatch(r"\d+-\d*", options["lines"]):
        raise BlockError(f"{where}: lines={options['lines']}: expected A-B or A-")
    if "keep" in options:
        try:
            re.compile(options["keep"])
        except re.error as exc:
            raise BlockError(f"{where}: keep={options['keep']!r}: {exc}") from None
    if "needs" in options and options["needs"] != "shared":
        raise BlockError(f"{where}: needs={options['needs']}: only needs=shared is known")
    return options


def _split_options(text: str) -> tuple[str, str, str]:
    """`OPTIONS: COMMAND` split at the first colon outside quotes (a keep= regex may hold one)."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ":":
            return text[:i], ":", text[i + 1:]
    return text, "", ""


def _fence_content(lines: list[str], i: int, where: str) -> str:
    """The content of the fenced block starting at or after line index i (blank lines skipped)."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not lines[i].lstrip().startswith(("```", "~~~")):
        raise BlockError(f"{where}: planner-file must be followed by a fenced block")
    fence = lines[i].strip()[:3]
    body = []
    for line in lines[i + 1:]:
        if line.strip().startswith(fence):
            return "\n".join(body) + "\n"
        body.append(line)
    raise BlockError(f"{where}: unclosed fence")


def parse(path: Path) -> list[Block]:
    """Every generated block of a Markdown file, with the files declared before it."""
    lines = path.read_text(encoding="utf-8").split("\n")
    rel = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    files: dict[str, str] = {}
    i, fence = 0, None
    while i < len(lines):
        where = f"{rel}:{i + 1}"
        if fence is not None or FENCE_RE.match(lines[i]):    # markers inside a code block are examples
            if fence is None:
                fence = FENCE_RE.match(lines[i])[1]
            elif lines[i].strip().startswith(fence) and not lines[i].strip().strip(fence[0]):
                fence = None
            i += 1
            continue
        if m := FILE_RE.match(lines[i]):
            files[m["name"]] = _fence_content(lines, i + 1, where)
            i += 1
            continue
        m = OPEN_RE.match(lines[i])
        if not m:
            if CLOSE_RE.match(lines[i]):
                raise BlockError(f"{where}: <!-- /planner --> without an opening <!-- planner ... -->")
            i += 1
            continue
        rest = m["rest"].strip()
        opening = i
        if rest.endswith("-->"):                      # one line: <!-- planner [options]: command -->
            head, sep, command = _split_options(rest[:-3])
            if not sep or not command.strip():
                raise BlockError(f"{where}: expected <!-- planner [OPTIONS]: COMMAND --> or a multi-line block")
            options, commands = _parse_options(head, where), [command.strip()]
            i += 1
        else:                                         # multi-line: options, then one command a line, then -->
            options, commands = _parse_options(rest.lstrip(":"), where), []
            i += 1
            while i < len(lines) and lines[i].strip() != "-->":
                if lines[i].strip():
                    commands.append(lines[i].strip())
                i += 1
            if i == len(lines) or not commands:
                raise BlockError(f"{where}: a multi-line <!-- planner block needs commands and a closing --> line")
            i += 1
        start = i
        while i < len(lines) and not CLOSE_RE.match(lines[i]):
            if OPEN_RE.match(lines[i]):
                raise BlockError(f"{where}: block not closed by <!-- /planner --> before the next block")
            i += 1
        if i == len(lines):
            raise BlockError(f"{where}: block not closed by <!-- /planner -->")
        blocks.append(Block(path, opening + 1, options, commands, start, i, dict(files),
                            "\n".join(lines[start:i])))
        i += 1
    return blocks


def display(command: str) -> str:
    """The command as shown: `planner ...` for subcommands, as written for `$ ` shell lines."""
    if command.startswith("$ "):
        return command[2:].strip()
    return command if command.startswith("planner ") else f"planner {command}"


def hand_written(path: Path) -> list[str]:
    """`file:line` of example outputs outside generated blocks: a fenced or indented code block with a
    `$ planner ...` line and lines of output (a block of commands only is fine; a ```markdown block is an
    example of Markdown source, e.g. of this syntax, and is not looked into)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found, inside, i = [], False, 0
    while i < len(lines):
        line = lines[i]
        if OPEN_RE.match(line):
            inside = True
        elif CLOSE_RE.match(line):
            inside = False
        opening = FENCE_RE.match(line)
        indented = line.startswith("    $ planner ") and (i == 0 or not lines[i - 1].strip())
        if not (opening or indented):
            i += 1
            continue
        j, body = (i + 1 if opening else i), []
        while j < len(lines):
            if opening and lines[j].strip().startswith(opening[1]) and not lines[j].strip().strip(opening[1][0]):
                break
            if not opening and not lines[j].startswith("    "):
                break
            body.append(lines[j].strip())
            j += 1
        source = opening and line.strip()[len(opening[1]):].strip() in ("markdown", "md")   # Markdown source, not output
        if not inside and not source and any(b.startswith("$ planner ") for b in body) and any(b and not b.startswith("$ ") for b in body):
            found.append(f"{path.relative_to(ROOT).as_posix()}:{i + 1}")
        i = j + 1
    return found


def all_blocks(paths: list[Path] | None = None) -> list[Block]:
    return [b for p in (paths or doc_files()) for b in parse(p)]


# ---------------------------------------------------------------- running

def load_cli():  # noqa: ANN201 - a click.Group
    """The `planner` click group: planner.cli.main:cli, else whatever the `planner` console script points at."""
    try:
        from planner.cli.main import cli
        return cli
    except ImportError:
        import importlib
        from importlib.metadata import entry_points

        import click
        ep = next(iter(entry_points(group="console_scripts", name="planner")))
        module = importlib.import_module(ep.module)
        groups = [v for v in vars(module).values() if isinstance(v, click.Group)]
        if not groups:
            raise
        return groups[0]


@contextlib.contextmanager
def _chdir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class Runner:
    """Runs blocks, each in its own directory under one temporary root.

    The root is removed when the process exits, not when the runner closes: the worker processes joblib
    starts for `compare`/`sweep`/`sensitivity` outlive the command, keep the working directory of the block
    that started them, and are reused by later commands (and by other tests in the same pytest run).
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="render-docs-"))
        self.count = 0
        self._cli = None

    def close(self) -> None:
        atexit.register(shutil.rmtree, self.root, ignore_errors=True)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def cli(self):  # noqa: ANN201
        if self._cli is None:
            self._cli = load_cli()
        return self._cli

    def block_dir(self, block: Block) -> Path:
        self.count += 1
        work = self.root / f"b{self.count}"
        shutil.copytree(ROOT / "workloads", work / "workloads")
        if any(REAL_FIXTURES in c for c in block.commands):  # files written by the real benchmark tools
            shutil.copytree(ROOT / REAL_FIXTURES, work / REAL_FIXTURES)
        (work / "tmp").mkdir()
        for name, text in block.files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_rewrite_text(text, work), encoding="utf-8")
        return work

    def render(self, block: Block) -> str:
        """The block's generated text (without the comments), normalised for writing."""
        work = self.block_dir(block)
        width = int(block.options.get("width", DEFAULT_WIDTH))
        allowed = {int(c) for c in block.options.get("exit", "0").split(",")}
        shown: list[str] = []
        for command in block.commands:
            echo = bool(ECHO_RE.search(command))
            code, output = self.run(command, work, width, block)
            if not echo and code not in allowed:
                raise BlockError(f"{block.name}: `{display(command)}` exited {code} "
                                 f"(allowed: exit={block.options.get('exit', '0')}):\n{output}")
            out = _select(_normalise_output(output, work).split("\n"), block.options)
            if echo:
                out.append(str(code))
            shown.append(f"$ {display(command)}")
            shown.extend(out)
        return _assemble(shown, block.options)

    def run(self, command: str, work: Path, width: int, block: Block) -> tuple[int, str]:
        """(exit code, stdout and stderr interleaved) of one command."""
        env = {"COLUMNS": str(width), "LINES": "50"}
        text = ECHO_RE.sub("", display(command))
        words = shlex.split(text, comments=True)
        if not command.startswith("$ ") and not SHELL_CHARS.search(" ".join(words)):
            from click.testing import CliRunner
            args = [_rewrite_arg(a, work) for a in words[1:]]
            with _chdir(work):
                result = CliRunner(env=env).invoke(self.cli, args, prog_name="planner", terminal_width=width)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                import traceback
                tb = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else repr(result.exception)
                raise BlockError(f"{block.name}: `{display(command)}` raised:\n{result.output}\n{tb}")
            return result.exit_code, result.output
        bin_dir = str(Path(sys.executable).parent)
        shell_env = os.environ | env | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        proc = subprocess.run(["bash", "-c", _rewrite_shell(text, work)], cwd=work, env=shell_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return proc.returncode, proc.stdout


def _rewrite_arg(arg: str, work: Path) -> str:
    """`../shared/...` to the shared data next to the repo, `/tmp/...` into the block's directory."""
    for prefix, target in (("../shared/", SHARED), ("/tmp/", work / "tmp")):
        if arg.startswith(prefix):
            return str(target / arg[len(prefix):])
        if "=" in arg and arg.split("=", 1)[1].startswith(prefix):   # --set traffic.trace=../shared/...
            key, value = arg.split("=", 1)
            return f"{key}={target / value[len(prefix):]}"
    return arg


def _rewrite_shell(text: str, work: Path) -> str:
    """Both rewrites in one pass, so the shared data's own path is never rewritten again (it may lie under /tmp)."""
    targets = {"../shared/": f"{SHARED}/", "/tmp/": f"{work / 'tmp'}/"}
    return re.sub(r"(?<![\w./])(\.\./shared/|/tmp/)", lambda m: targets[m.group(1)], text)


def _rewrite_text(text: str, work: Path) -> str:
    return _rewrite_shell(text, work)


def _normalise_output(text: str, work: Path) -> str:
    """Placeholders for what changes from run to run (see the module docstring), trailing spaces dropped."""
    for path, short in ((work / "tmp", "/tmp"), (work, ""), (SHARED.resolve(), "../shared"), (SHARED, "../shared"),
                        (ROOT, "")):
        text = text.replace(f"{path}/", f"{short}/" if short else "").replace(str(path), short or ".")
    text = text.replace(os.path.realpath(work) + "/", "")
    today = dt.date.today()
    for day in (today, today - dt.timedelta(days=1)):
        text = text.replace(day.isoformat(), DATE_PLACEHOLDER)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _select(lines: list[str], options: dict[str, str]) -> list[str]:
    if lines == [""]:
        return []
    if "lines" in options:
        lo, _, hi = options["lines"].partition("-")
        lines = lines[int(lo) - 1: int(hi) if hi else None]
    if "keep" in options:
        keep = re.compile(options["keep"])
        lines = [line for line in lines if keep.search(line)]
    return lines


def _assemble(shown: list[str], options: dict[str, str]) -> str:
    fence = "```" + options.get("lang", "")
    if "markdown" not in options:
        return "\n".join([fence, *shown, "```"])
    commands = [s for s in shown if s.startswith("$ ")]
    output = [s for s in shown if not s.startswith("$ ")]
    return "\n".join([fence, *commands, "```", "", *output, ""])   # a blank line ends the Markdown table


# ---------------------------------------------------------------- checking and writing

def comparable(text: str) -> str:
    """`text` with the measured-but-volatile parts masked (runtimes), for comparing."""
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def drift(block: Block, fresh: str) -> str:
    """A unified diff of the block's current text against the fresh one ('' when they agree)."""
    old, new = comparable(block.current), comparable(fresh)
    if old == new:
        return ""
    return "\n".join(difflib.unified_diff(old.split("\n"), new.split("\n"), f"{block.rel}:{block.line} (in the file)",
                                          f"{block.rel}:{block.line} (generated now)", lineterm=""))


def shared_absent_note(block: Block) -> str:
    return f"skipped {block.name}: needs {SHARED_DATA}, which is absent"


def write_file(path: Path, replacements: dict[int, str]) -> None:
    """Replace the generated text of the blocks of `path` (keyed by opening line) and write it."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks = parse(path)
    for block in reversed(blocks):
        if block.line in replacements:
            lines[block.start:block.end] = replacements[block.line].split("\n")
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("files", nargs="*", help="Markdown files (default: README.md and docs/*.md)")
    parser.add_argument("--check", action="store_true", help="report drift, exit 1 if any; write nothing")
    parser.add_argument("--list", action="store_true", help="list the blocks and exit")
    parser.add_argument("-k", dest="select", default=None, help="only blocks whose commands contain this text")
    args = parser.parse_args(argv)
    paths = [Path(f).resolve() for f in args.files] or None
    try:
        blocks = all_blocks(paths)
    except BlockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.select:
        blocks = [b for b in blocks if args.select in " ".join(b.commands)]
    loose = [where for p in (paths or doc_files()) for where in hand_written(p)]
    for where in loose:
        print(f"error: {where}: example output written by hand; make it a generated block (docs/contributing.md)",
              file=sys.stderr)
    if args.list:
        for b in blocks:
            print(b.name + ("   [needs shared]" if b.needs_shared else ""))
        return 0
    drifted, failed = 0, 0
    replacements: dict[Path, dict[int, str]] = {}
    with Runner() as runner:
        for block in blocks:
            if block.needs_shared and not SHARED_DATA.is_dir():
                print(shared_absent_note(block), file=sys.stderr)
                continue
            start = time.perf_counter()
            try:
                fresh = runner.render(block)
            except BlockError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed += 1
                continue
            delta, took = drift(block, fresh), f"{time.perf_counter() - start:5.1f} s"
            if not delta:
                print(f"ok      {took}  {block.name}", file=sys.stderr)
                continue
            drifted += 1
            if args.check:
                print(f"drift   {took}  {block.name}\n{delta}\n", file=sys.stderr)
            else:
                print(f"rewrote {took}  {block.name}\n{delta}\n", file=sys.stderr)
                replacements.setdefault(block.path, {})[block.line] = fresh
    for path, repl in replacements.items():
        write_file(path, repl)
    if failed or loose:
        return 2
    if args.check and drifted:
        print(f"{drifted} block(s) out of date: run python scripts/render_docs.py and review the diff", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
