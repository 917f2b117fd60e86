"""Running the book's notebooks unchanged (``fastscratch run NOTEBOOK.ipynb``).

``run_notebook`` executes a notebook's code cells in order in a fresh IPython kernel (nbclient,
ipykernel) on this Python interpreter, from the notebook's own folder (the book's notebooks put
``os.pardir`` on ``sys.path`` to find ``common`` and ``dataset``), after ``%load_ext
fastscratch`` so that those imports give fastscratch's modules. What the cells print is echoed
as it arrives; the executed notebook (outputs, figures) can be written out. Needs the
``notebook`` extra (nbclient, nbformat, ipykernel).
"""

from __future__ import annotations

import os
import sys

try:
    import nbformat
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbclient.util import ensure_async
except ImportError as exc:  # the optional extra is missing
    raise ImportError(f"running notebooks needs the notebook extra (pip install "
                      f"'fastscratch[notebook]'): {exc}") from exc

__all__ = ["run_notebook"]


class ThisPythonKernel(KernelManager):
    """Starts ipykernel on ``sys.executable`` whatever kernelspecs are installed (the book's
    notebooks name a conda kernel; no user-level Jupyter setup is needed). Its log shows
    errors only (not the warning that a local kernel talks over unencrypted TCP)."""

    @property
    def kernel_spec(self):
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher",
                                "-f", "{connection_file}", "--IPKernelApp.log_level=ERROR"],
                          display_name=f"Python ({sys.executable})", language="python")


class _EchoingClient(NotebookClient):
    """A NotebookClient that also writes the cells' printed text and results to this
    process's stdout/stderr as their messages arrive."""

    def output(self, outs, msg, display_id, cell_index):
        content = msg["content"]
        if msg["msg_type"] == "stream":
            stream = sys.stderr if content["name"] == "stderr" else sys.stdout
            stream.write(content["text"])
            stream.flush()
        elif msg["msg_type"] == "execute_result" and "text/plain" in content["data"]:
            print(content["data"]["text/plain"], flush=True)
        return super().output(outs, msg, display_id, cell_index)


def _setup_code(fastscratch_imports, seed):
    lines = ["%load_ext fastscratch"] if fastscratch_imports else []
    if seed is not None:
        lines.append(f"__import__('numpy').random.seed({int(seed)})")
    return "\n".join(lines)


def run_notebook(path, *, output=None, seed=None, fastscratch_imports=True, timeout=None) -> int:
    """Execute the code cells of the notebook ``path`` in order, from its folder, in a new
    kernel where the book's imports resolve to fastscratch (``fastscratch_imports=False``: to
    the book's own packages, for comparisons); ``seed``: ``np.random.seed(seed)`` first.

    Returns 0, or 1 after printing the failing cell's error to stderr (later cells do not run).
    A relative FASTSCRATCH_DATA is made absolute for the kernel.
    ``output``: write the executed notebook there (also after a failure). ``timeout``: seconds
    per cell (None: no limit).
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"notebook: expected a .ipynb file, {path} is not a file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises JSON, schema and reader errors of many kinds
        raise ValueError(f"notebook: {path} is not a readable Jupyter notebook: {exc}") from exc
    client = _EchoingClient(nb, timeout=timeout, kernel_manager_class=ThisPythonKernel,
                            resources={"metadata": {"path": os.path.dirname(path)}})
    setup = _setup_code(fastscratch_imports, seed)

    async def before_first_cell(notebook):  # silent: no output, no history, no count
        msg_id = await ensure_async(client.kc.execute(setup, silent=True))
        reply = (await client.async_wait_for_reply(msg_id))["content"]
        if reply["status"] != "ok":
            raise RuntimeError(f"notebook: the kernel failed on {setup!r}: "
                               f"{reply.get('ename')}: {reply.get('evalue')}")

    client.on_notebook_start = before_first_cell
    env = dict(os.environ)
    if env.get("FASTSCRATCH_DATA"):  # the kernel runs from the notebook's folder
        env["FASTSCRATCH_DATA"] = os.path.abspath(env["FASTSCRATCH_DATA"])
    code = 0
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        print(exc, file=sys.stderr)
        code = 1
    finally:
        if output is not None:
            nbformat.write(nb, os.fspath(output))
    return code
