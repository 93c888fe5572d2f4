"""`gpuscope`: the command line installed with the package (for terminals, CI and pre-commit).

    gpuscope diagnose [--json] [--include-private] [--require-gpu]
                                                      collect the facts here and judge them
    gpuscope explain FILE [--json]                    findings for facts saved elsewhere: FILE is
                                                      gpuscope diagnose --json's output, or a notebook
                                                      with a saved diagnostic (- reads stdin)
    gpuscope lint ...                                 capability warnings for .py / .ipynb files
    gpuscope explain-error ...                        what a CUDA error in a log means

diagnose and explain are Python (no Node needed); lint and explain-error run the bundled
TypeScript CLI (gpuscope-cli.js, next to this file) with Node.

Exit status: 0 nothing at error level, 1 a finding at error level, 2 bad input or usage,
3 the tool itself could not run. With --require-gpu (diagnose, explain), a report in which no
GPU is usable is an error too (exit 1): for CI runners that must have one. explain-error keeps grep's 0 (an error recognised) and 1
(none recognised).

Input files are read only when they are regular files (or standard input) of at most
MAX_INPUT_BYTES; what is printed has no terminal control characters.
"""

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys

from .kernel import facts as collector
from .kernel import findings

BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpuscope-cli.js")
NODE_COMMANDS = ("lint", "explain-error")
NODE_MINIMUM = (18, 3)  # util.parseArgs

EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_BROKEN = 0, 1, 2, 3
#: A facts file is a few dozen KiB; the TypeScript CLI applies the same limit to its inputs.
MAX_INPUT_BYTES = 16 * 2**20


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 on usage errors: so do we, in one line
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def _parser():
    parser = _Parser(prog="gpuscope", description="GPU diagnostics and capability checks from jupyterlab-gpuscope.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("diagnose", help="collect the GPU facts here and print the findings")
    run.add_argument("--json", action="store_true", help="print the report document (facts and findings) as JSON")
    run.add_argument("--include-private", action="store_true", help="keep home paths and the user name in the output")
    run.add_argument(
        "--require-gpu", action="store_true", help="exit 1 when no GPU is usable (for CI runners that need one)"
    )
    explain = commands.add_parser("explain", help="print the findings for a facts or report file")
    explain.add_argument(
        "file",
        help="FACTS.json from gpuscope diagnose --json, or a notebook with a saved diagnostic output (- reads standard input)",
    )
    explain.add_argument("--json", action="store_true", help="print the report document as JSON")
    explain.add_argument("--require-gpu", action="store_true", help="exit 1 when no GPU is usable")
    for name, text in (
        ("lint", "capability warnings for .py and .ipynb files (needs Node)"),
        ("explain-error", "explain the GPU errors in a log or a notebook's outputs (needs Node)"),
    ):
        node = commands.add_parser(name, help=text, add_help=False)
        node.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _read_facts(path):
    """The facts in a file (or a report's facts), or raise ValueError with one line."""
    text = _read_input(path)
    if not text.strip():
        raise ValueError(f"{path}: the file is empty")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}): the file is truncated or not facts"
        ) from None
    except RecursionError:
        raise ValueError(f"{path}: the JSON is nested too deeply to be facts") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if isinstance(value, dict) and isinstance(value.get("cells"), list):
        value = _saved_diagnostic(path, value["cells"])
    problem = findings.facts_problem(value)
    if problem:
        raise ValueError(f"{path}: {problem}")
    return value["facts"] if value.get("schema") == findings.REPORT_SCHEMA else value


def _saved_diagnostic(path, cells):
    """The report of a notebook's last saved GPU diagnostic output, or raise ValueError."""
    saved = [
        output["data"][collector.MIME]
        for cell in cells
        if isinstance(cell, dict) and isinstance(cell.get("outputs"), list)
        for output in cell["outputs"]
        if isinstance(output, dict) and isinstance(output.get("data"), dict) and collector.MIME in output["data"]
    ]
    if not saved:
        raise ValueError(
            f"{path}: a notebook with no saved GPU diagnostic output. Run the GPU Diagnostic in it and "
            "save it, or run `gpuscope diagnose` where it runs; for the errors in its outputs, "
            "use `gpuscope explain-error`"
        )
    return saved[-1]


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number (facts are written with finite numbers only)")


def _finite_float(text):
    """A JSON number as a float; 1e999 is valid JSON but no float: refused like NaN."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range (facts are written with finite numbers only)")
    return value


def _read_input(path):
    """A regular file's text (or standard input's), at most MAX_INPUT_BYTES."""
    limit = f"{MAX_INPUT_BYTES // 2**20} MiB"
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb", buffering=0) as source:
                if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                    raise ValueError(f"{path}: not a regular file")
                data = source.read(MAX_INPUT_BYTES + 1)
    except OSError as error:
        raise ValueError(f"{path}: {error.strerror or error}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise ValueError(f"{path}: larger than {limit}, which is more than any facts file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None


def _print_report(document, as_json, require_gpu):
    print(json.dumps(document, indent=1, allow_nan=False) if as_json else findings.to_text(document))
    if document["worst"] == "fail" or (require_gpu and not findings.gpu_usable(document["findings"])):
        return EXIT_FINDING
    return EXIT_OK


def _node():
    """The path of a Node that can run the bundle, or raise RuntimeError saying what to do."""
    node = shutil.which("node")
    if not node:
        raise RuntimeError(
            "gpuscope lint and explain-error run on Node.js (18.3 or newer), which is not on PATH: "
            "install it from your system's packages (e.g. `apt install nodejs`) or nodejs.org, then run this again. "
            "gpuscope diagnose and explain need no Node."
        )
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        found = tuple(int(part) for part in version.lstrip("v").split(".")[:2])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        raise RuntimeError(f"{node} did not say its version: is it a working Node.js?") from None
    if found < NODE_MINIMUM:
        raise RuntimeError(f"gpuscope lint needs Node.js 18.3 or newer; {node} is {version}.")
    if not os.path.exists(BUNDLE):
        raise RuntimeError(f"the bundled CLI is missing ({BUNDLE}): reinstall jupyterlab-gpuscope.")
    return node


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in NODE_COMMANDS:
        try:
            node = _node()
        except RuntimeError as error:
            print(f"gpuscope {args[0]}: {error}", file=sys.stderr)
            return EXIT_BROKEN
        # A list of arguments, never a shell string: file names stay file names.
        return subprocess.call([node, BUNDLE, *args])
    options = _parser().parse_args(args)
    if options.command == "diagnose":
        return _print_report(
            findings.report_document(collector.collect(), include_private=options.include_private),
            options.json,
            options.require_gpu,
        )
    if options.command == "explain":
        try:
            facts = _read_facts(options.file)
        except ValueError as error:
            print(f"gpuscope explain: {findings.printable(error)}", file=sys.stderr)
            return EXIT_USAGE
        try:
            document = findings.report_document(facts, include_private=True)
        except (TypeError, KeyError, AttributeError, ValueError, IndexError, RecursionError) as error:
            print(
                findings.printable(
                    f"gpuscope explain: {options.file}: the facts are malformed ({type(error).__name__}: {error})"
                )[:500],
                file=sys.stderr,
            )
            return EXIT_USAGE
        return _print_report(document, options.json, options.require_gpu)
    _parser().print_help()
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
