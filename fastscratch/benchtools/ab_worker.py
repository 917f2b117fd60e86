"""One side of ``fastscratch bench ab``: a process that runs pytest on the benchmark definitions
with a ``benchmark`` fixture of its own, which times each benchmark in slots when the
coordinator (ab.py) says so. Run as a script (``python ab_worker.py CONFIG_JSON``) with the
revision's worktree on PYTHONPATH; it imports only the standard library and pytest, never the
package under test's tools, so any revision can be timed.

Protocol, one JSON object a line: events on the stdout it was started with, commands on its
stdin (pytest's own output goes to the log file named in the config):
  -> {"event": "collected", "items": [node ids], "machine": {...}, "leaks": [files]}
  <- {"items": [node ids to run, in this order]}
  then per item either
  -> {"event": "ready", "item": id, "group": ..., "extra_info": {...}}
     <- {"cmd": "slot"}   -> {"event": "slot", "seconds": time per call}   (any number)
     <- {"cmd": "next"}
  or -> {"event": "none", "item": id, "outcome": why it did not reach the benchmark}
  -> {"event": "error", "item": id, "message": ...}   when the timed callable raised
  -> {"event": "end", "exitcode": pytest's exit code}
"""
import json
import os
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # this directory's modules must not shadow the revision's

import pytest  # noqa: E402

ROUND_MIN_SECONDS = 1e-3  # a round of a plain benchmark calls it this long at least


class Channel:
    """JSON lines over duplicates of the original stdin/stdout (pytest redirects fds 0-2)."""

    def __init__(self):
        self.inp = os.fdopen(os.dup(0), "r")
        self.out = os.fdopen(os.dup(1), "w")

    def send(self, **message):
        try:
            self.out.write(json.dumps(message, default=str) + "\n")
            self.out.flush()
        except BrokenPipeError:
            self.gone()

    def receive(self):
        line = self.inp.readline()
        if not line:
            self.gone()
        return json.loads(line)

    @staticmethod
    def gone():
        """The coordinator is gone: stop now (pytest would catch an exception and go on)."""
        os._exit(3)


class Benchmark:
    """Stands in for pytest-benchmark's fixture (``benchmark(fn, *args)``, ``.pedantic``,
    ``.group``, ``.extra_info``): it announces the benchmark and times it in slots."""

    def __init__(self, plugin, item):
        self.plugin, self.item = plugin, item
        self.name = item.name
        self.group = None
        self.extra_info = {}
        self.iterations = None

    def __call__(self, fn, *args, **kwargs):
        return self._serve(fn, args, kwargs, None, None)

    def pedantic(self, target, args=(), kwargs=None, setup=None, rounds=1, warmup_rounds=0,
                 iterations=1):
        """As pytest-benchmark's, except that the slot time, not ``rounds``, sets how many
        rounds are timed (warm-up is the coordinator's first, discarded slot)."""
        return self._serve(target, tuple(args), dict(kwargs or {}), setup, iterations)

    def _serve(self, fn, args, kwargs, setup, iterations):
        plugin = self.plugin
        if plugin.benchmarked:
            raise RuntimeError(f"{self.item.nodeid}: the benchmark fixture was used twice")
        plugin.benchmarked = True
        plugin.channel.send(event="ready", item=self.item.nodeid, group=self.group,
                            extra_info=self.extra_info)
        result = None
        while plugin.channel.receive()["cmd"] == "slot":
            try:
                seconds, result = self._slot(fn, args, kwargs, setup, iterations)
            except BaseException as exc:
                plugin.channel.send(event="error", item=self.item.nodeid, message=repr(exc))
                raise
            plugin.channel.send(event="slot", seconds=seconds)
        return result

    def _slot(self, fn, args, kwargs, setup, iterations):
        """Rounds of ``fn`` for the slot time (at least one); the per-call time of the rounds'
        median or fastest, as configured, and the last result."""
        per_call, result = [], None
        deadline = time.perf_counter() + self.plugin.slot_time
        while True:
            if setup is not None:
                prepared = setup()
                if prepared is not None:
                    args, kwargs = prepared
            n = iterations or self.iterations or 1
            t0 = time.perf_counter()
            for _ in range(n):
                result = fn(*args, **kwargs)
            elapsed = time.perf_counter() - t0
            if iterations is None and self.iterations is None:  # calibrate on the first call
                self.iterations = max(1, int(ROUND_MIN_SECONDS / max(elapsed, 1e-9)))
            per_call.append(elapsed / n)
            if time.perf_counter() >= deadline:
                break
        stat = min if self.plugin.stat == "min" else statistics.median
        return stat(per_call), result


class Plugin:
    """The pytest plugin: the ``benchmark`` fixture, the item list agreed with the coordinator,
    and a 'none' event for an item that never reached its benchmark."""

    def __init__(self, channel, config):
        self.channel = channel
        self.slot_time = config["slot_time"]
        self.stat = config["stat"]
        self.worktree = os.path.realpath(config["worktree"])
        self.bench_dir = os.path.realpath(config["bench_dir"])
        self.benchmarked = False
        self.outcome = None

    def pytest_addhooks(self, pluginmanager):
        try:  # the benchmark conftest may implement pytest-benchmark's hooks
            from pytest_benchmark import hookspec
        except ImportError:
            return
        pluginmanager.add_hookspecs(hookspec)

    @pytest.fixture
    def benchmark(self, request):
        return Benchmark(self, request.node)

    def _machine(self, config):
        info = {}
        hook = getattr(config.hook, "pytest_benchmark_update_machine_info", None)
        if hook is not None:
            hook(config=config, machine_info=info)
        return info

    def _leaks(self):
        """Files of modules whose top-level name is the revision's but that came from elsewhere
        (an installed copy, the user's tree): the revision would not be what is timed."""
        own = {name[:-3] if name.endswith(".py") else name
               for name in os.listdir(self.worktree)
               if name.endswith(".py") or os.path.isfile(
                   os.path.join(self.worktree, name, "__init__.py"))}
        leaks = []
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if name.split(".")[0] in own and path:
                path = os.path.realpath(path)
                if not path.startswith(self.worktree + os.sep) and \
                        not path.startswith(self.bench_dir + os.sep):
                    leaks.append(path)
        return sorted(set(leaks))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        self.channel.send(event="collected", items=[item.nodeid for item in items],
                          machine=self._machine(config), leaks=self._leaks())
        keep = self.channel.receive()["items"]
        by_id = {item.nodeid: item for item in items}
        chosen = set(keep)
        deselected = [item for item in items if item.nodeid not in chosen]
        items[:] = [by_id[nodeid] for nodeid in keep]
        if deselected:
            config.hook.pytest_deselected(items=deselected)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.benchmarked, self.outcome = False, None
        yield
        if not self.benchmarked:
            self.channel.send(event="none", item=item.nodeid,
                              outcome=self.outcome or "did not call the benchmark fixture")

    def pytest_runtest_logreport(self, report):
        if (report.failed or report.skipped) and self.outcome is None:
            text = str(report.longrepr) if report.longrepr is not None else ""
            lines = text.strip().splitlines()
            self.outcome = f"{report.when} {report.outcome}: {lines[-1] if lines else ''}"


def main():
    config = json.loads(sys.argv[1])
    channel = Channel()
    log = open(config["log"], "w", encoding="utf-8")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout.reconfigure(line_buffering=True)
    code = pytest.main(config["pytest_args"], plugins=[Plugin(channel, config)])
    channel.send(event="end", exitcode=int(code))


if __name__ == "__main__":
    main()
