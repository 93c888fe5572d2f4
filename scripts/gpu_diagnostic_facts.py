"""The diagnostic on a real GPU (run on a machine with an NVIDIA GPU; docs/diagnostic.md).

- `gpuscope diagnose` (text and --json) through the console script of the installed wheel;
- the same with CUDA_VISIBLE_DEVICES hiding every GPU, and naming one that does not exist;
- both forms of the inserted cell (short, self-contained) run with `nbconvert --execute`
  in a real kernel, with their text/plain outputs (what VS Code, Colab and GitHub show).

Everything lands in $OUT (or the folder given): the report documents are the real facts
the tests' fixtures are made from.

    python scripts/gpu_diagnostic_facts.py [OUT]
"""

import os
import subprocess
import sys
from pathlib import Path

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", "out"))


def run(name, command, env=None):
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    (OUT / f"{name}.txt").write_text(done.stdout + done.stderr)
    print(f"== {name}: exit {done.returncode}\n{done.stdout}{done.stderr[-2000:]}", flush=True)
    return done


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    gpuscope = [sys.executable, "-m", "jupyterlab_gpuscope.cli"]
    run("diagnose", [*gpuscope, "diagnose"])
    for name, env in (
        ("report", {}),
        ("report-cvd-empty", {"CUDA_VISIBLE_DEVICES": ""}),
        ("report-cvd-invalid", {"CUDA_VISIBLE_DEVICES": "7"}),
    ):
        done = run(name, [*gpuscope, "diagnose", "--json"], env)
        (OUT / f"{name}.json").write_text(done.stdout)

    import nbformat
    from jupyterlab_gpuscope import diagnostic_cell

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(diagnostic_cell.short()),
        nbformat.v4.new_code_cell(diagnostic_cell.self_contained()),
    ]
    path = OUT / "cells.ipynb"
    nbformat.write(notebook, path)
    run("nbconvert", [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace", str(path)])
    executed = nbformat.read(path, as_version=4)
    texts = []
    for number, cell in enumerate(executed.cells, 1):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            texts.append(
                f"--- cell {number} ({output['output_type']}; {', '.join(sorted(data))})\n{data.get('text/plain', output.get('text', ''))}"
            )
    (OUT / "cells.txt").write_text("\n".join(texts))
    print("\n".join(texts))
    # The executed notebook is large (the self-contained cell); keep only its outputs.
    path.unlink()


if __name__ == "__main__":
    main()
