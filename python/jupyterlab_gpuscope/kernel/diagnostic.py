"""The GPU diagnostic in a kernel: collect the facts, judge them, show the report.

In a notebook:  import jupyterlab_gpuscope.diagnose as gpuscope_diagnose; gpuscope_diagnose.report()
In a terminal:  gpuscope diagnose [--json]   (or: python -m jupyterlab_gpuscope.diagnose)
"""

from . import facts, findings

MIME = facts.MIME


def report(include_private=False):
    """Collect, judge and show the report: in a notebook as an output that every frontend
    can read (findings as Markdown and text beside the data JupyterLab renders), else as
    text. Home paths and the user name are left out unless include_private is true.
    """
    document = findings.report_document(facts.collect(), include_private=include_private)
    if facts._in_ipython():
        from IPython.display import display

        display(
            {
                MIME: document,
                "text/markdown": findings.to_markdown(document),
                "text/plain": findings.to_text(document),
            },
            raw=True,
        )
    else:
        print(findings.to_text(document))
