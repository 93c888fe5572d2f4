"""The public name of the diagnostic that saved notebooks carry
(`import jupyterlab_gpuscope.diagnose as gpuscope_diagnose; gpuscope_diagnose.report()`)
and that `python -m jupyterlab_gpuscope.diagnose` runs. It lives in kernel/diagnostic.py.
"""

import sys

from .kernel.diagnostic import MIME, report
from .kernel.facts import collect

__all__ = ["MIME", "collect", "report"]

if __name__ == "__main__":
    from .cli import main

    sys.exit(main(["diagnose", *sys.argv[1:]]))
