"""One side of ``fastscratch bench ab``: a process that runs pytest on the benchmark definitions
with a ``benchmark`` fixture of its own, which times each benchmark in slots when the
coordinator (ab.py) says so. Run as a script (``python ab_worker.py CONFIG_JSON``) with the
revision's worktree on PYTHONPATH; it imports only the standard library and pytest, never the
package under test's tools, so any revision can be timed.

Protocol, one JSON object a line: events on the stdout it was started with, commands on its
stdin (pytest's own output goes to the log file named in the config):
  -> {"event": "collected", "items": [node ids], "machine": {...}, "leaks": [files]}
  <- {"items": [node ids to run, in this order], "cpus": [CPUs to pin every thread to] or null}
  then per item either
  -> {"event": "ready", "item": id, "group": ..., "extra_info": {...}}
     <- {"cmd": "slot"}   -> {"event": "slot", "value": seconds per call, or in the
                              instruction-count mode the instructions one call executed}
     <- {"cmd": "next"}
  or -> {"event": "none", "item": id, "outcome": why it did not reach the benchmark}
  -> {"event": "error", "item": id, "message": ...}   when the timed callable raised
  -> {"event": "end", "exitcode": pytest's exit code}   (if still running: the coordinator
     kills a worker once its last item is measured)
In the instruction-count mode (``"callgrind_out"`` in the config) the items run first without
a word (each benchmark's set-up and one call, valgrind not instrumenting), then the worker
starts the instrumentation once and replays the queue: per item its "ready" (or "none")
and the counts, so a body is counted after its test's teardown.
With ``"warm": true`` in the config it talks to no one: it writes its "collected" message to
the file named by ``"report"``, every collected benchmark is called once (compiling what its
revision compiles, into the Numba cache) and the process exits. With ``"machine": false`` the
"collected" message's machine is {} (the machine-info hook, which runs kernels, is skipped).
"""
import ctypes
import json
import mmap
import os
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # this directory's modules must not shadow the revision's

import pytest  # noqa: E402

ROUND_MIN_SECONDS = 1e-3  # a round of a plain benchmark calls it this long at least


class Callgrind:
    """Valgrind client requests from Python without C: the x86-64 request sequence (valgrind.h's
    VALGRIND_DO_CLIENT_REQUEST: rax = the request block, rdi rotated by 3, 13, 61, 51 bits
    (a no-op natively), ``xchg rbx, rbx``; the answer in rdx, 0 natively) in an executable page
    called through ctypes. Under callgrind started with ``--instr-atstart=no
    --collect-atstart=no``, ``count(fn)`` instruments and collects only around ``fn``, dumps
    the counts and returns the instructions executed (the dump's ``summary``). ``start()``
    instruments from then on: each start makes valgrind translate all code anew, so a worker
    starts once and only toggles collection per count."""

    CODE = bytes.fromhex("4889f8" "31d2" "48c1c703" "48c1c70d" "48c1c73d" "48c1c733" "4887db"
                         "4889d0" "c3")  # mov rax,rdi; xor edx,edx; rol rdi x4; xchg; ret rdx
    RUNNING_ON_VALGRIND = 0x1001
    _BASE = (ord("C") << 24) | (ord("T") << 16)  # callgrind.h's VG_USERREQ_TOOL_BASE('C','T')
    DUMP, ZERO, TOGGLE_COLLECT, _DUMP_AT, START, STOP = range(_BASE, _BASE + 6)
    HEADER_LINES = 100  # a dump's header, which holds its 'summary:' line

    def __init__(self, out_file):
        self.page = mmap.mmap(-1, mmap.PAGESIZE,
                              prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self.page.write(self.CODE)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self.page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)(address)
        self._block = (ctypes.c_uint64 * 6)()
        self.out_file, self.dumps = out_file, 0
        if not self.request(self.RUNNING_ON_VALGRIND):
            raise RuntimeError("the instruction-count mode needs this process to run under "
                               "valgrind --tool=callgrind")

    def request(self, code):
        self._block[0] = code
        return self._call(ctypes.addressof(self._block))

    def start(self):
        """Instrument from now on (collecting nothing until ``count``)."""
        self.request(self.START)

    def count(self, fn):
        """Instructions executed by ``fn()`` (and the few of the toggles around it); after
        ``start()``."""
        self.request(self.ZERO)
        self.request(self.TOGGLE_COLLECT)
        fn()
        self.request(self.TOGGLE_COLLECT)
        self.request(self.DUMP)
        self.dumps += 1
        dump = f"{self.out_file}.{self.dumps}"
        with open(dump, encoding="utf-8", errors="replace") as f:
            # the header's 'summary:' (the totals), not the whole dump: this Python runs
            # instrumented, at a few microseconds a line, and a dump has ~1e5 lines
            summary = next((line for line, _ in zip(f, range(self.HEADER_LINES))
                            if line.startswith("summary:")), None)
        os.remove(dump)
        if summary is None:
            raise RuntimeError(f"callgrind dump {dump}: expected a 'summary:' line in its "
                               f"first {self.HEADER_LINES} lines, found none")
        return int(summary.split()[1])


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
        if plugin.warm or plugin.callgrind:
            prepared = setup() if setup is not None else None
            if prepared is not None:
                args, kwargs = prepared
            result = fn(*args, **kwargs)  # the test's result; first-touch work, uncounted
            if plugin.callgrind:
                plugin.queue.append(dict(event="ready", item=self.item.nodeid,
                                         group=self.group, extra_info=self.extra_info,
                                         measure=(self._count, fn, args, kwargs, setup,
                                                  iterations)))
            return result
        plugin.channel.send(event="ready", item=self.item.nodeid, group=self.group,
                            extra_info=self.extra_info)
        return plugin.serve(self.item.nodeid, (self._slot, fn, args, kwargs, setup,
                                               iterations))

    def _count(self, fn, args, kwargs, setup, iterations):
        """Instructions per call of ``fn``: each of ``iterations`` (1) calls counted, from
        fresh ``setup`` when given; the last result."""
        result, n = None, iterations or 1
        if setup is not None:
            prepared = setup()
            if prepared is not None:
                args, kwargs = prepared

        def call():
            nonlocal result
            for _ in range(n):
                result = fn(*args, **kwargs)
        return self.plugin.callgrind.count(call) / n, result

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
        self.warm = config.get("warm", False)
        self.report = config.get("report")
        self.with_machine = config.get("machine", True)
        self.callgrind = Callgrind(config["callgrind_out"]) if config.get("callgrind_out") \
            else None
        self.queue = []  # count mode: the items' events, replayed after the run

    def serve(self, nodeid, measure):
        """Answer the coordinator's "slot" commands until "next": ``measure`` is (method, fn,
        args, kwargs, setup, iterations); the last result."""
        method, *arguments = measure
        result = None
        while self.channel.receive()["cmd"] == "slot":
            try:
                value, result = method(*arguments)
            except BaseException as exc:
                self.channel.send(event="error", item=nodeid, message=repr(exc))
                raise
            self.channel.send(event="slot", value=value)
        return result

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session):
        """Count mode: after every item has run uninstrumented, instrument once and replay
        the queue to the coordinator."""
        yield
        if not self.callgrind:
            return
        self.callgrind.start()
        for event in self.queue:
            measure = event.pop("measure", None)
            self.channel.send(**event)
            if measure is not None:
                try:
                    self.serve(event["item"], measure)
                except BaseException:  # reported to the coordinator as an "error" event
                    return

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
        if not self.with_machine:
            return info
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
        collected = dict(event="collected", items=[item.nodeid for item in items],
                         machine=self._machine(config), leaks=self._leaks())
        if self.warm:
            with open(self.report, "w", encoding="utf-8") as f:
                json.dump(collected, f, default=str)
            return
        self.channel.send(**collected)
        message = self.channel.receive()
        keep = message["items"]
        if message.get("cpus"):  # after start-up and collection, which may run on any CPU
            for thread in os.listdir("/proc/self/task"):
                os.sched_setaffinity(int(thread), message["cpus"])
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
        if not self.benchmarked and not self.warm:
            event = dict(event="none", item=item.nodeid,
                         outcome=self.outcome or "did not call the benchmark fixture")
            if self.callgrind:
                self.queue.append(event)
            else:
                self.channel.send(**event)

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
    if not config.get("warm"):
        channel.send(event="end", exitcode=int(code))


if __name__ == "__main__":
    main()
