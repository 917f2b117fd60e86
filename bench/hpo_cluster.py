"""One study three ways, for docs/hpo.md: on an external Dask cluster, on the embedded 2-worker
LocalCluster and serially; wall times, speed-ups over the serial run, and the bytes sent to the
external workers by Dask's own counters. Not a pytest-benchmark suite (one long run each).

Start the cluster first, from a shell without FASTSCRATCH_DATA, as on cluster machines, with
the Dask config file of docs/hpo.md that unsets MALLOC_TRIM_THRESHOLD_ (as the embedded cluster
does):

    env -u FASTSCRATCH_DATA dask scheduler --host 127.0.0.1 --scheduler-file /tmp/s.json &
    env -u FASTSCRATCH_DATA dask worker --scheduler-file /tmp/s.json --nworkers 2 --nthreads 1 &
    FASTSCRATCH_DATA=... python bench/hpo_cluster.py --scheduler-file /tmp/s.json
"""
import argparse
import json
import os
import tempfile
import time

import distributed
import psutil
from distributed.protocol import pickle

from fastscratch.hpo import StudyConfig, load_split, run_study
from fastscratch.hpo.cluster import StudyData


def scheduler_to_workers(dask_scheduler):
    """Bytes the scheduler sent to each worker on its batched stream (task messages)."""
    return {address: comm.byte_count for address, comm in dask_scheduler.stream_comms.items()}


def worker_counters(dask_worker):
    """Bytes a worker sent on: data transfers (results to the client, replicas to other workers),
    and its batched stream to the scheduler."""
    return {"transfer_out": dask_worker.transfer_outgoing_bytes_total,
            "to_scheduler": dask_worker.batched_stream.byte_count}


def _delta(after, before, kind=None):
    """``after - before`` per worker (of the counter ``kind`` if the values are dicts)."""
    pick = (lambda c: c) if kind is None else (lambda c: c[kind])
    return {w: pick(c) - (pick(before[w]) if w in before else 0) for w, c in after.items()}


def _loopback_sent():
    """Bytes sent on the loopback interface so far (all processes on this host), as psutil
    counts them (the source of Dask's SystemMonitor host_net_io)."""
    counters = psutil.net_io_counters(pernic=True)
    return counters["lo"].bytes_sent if "lo" in counters else 0


def _timed(out, n_trials, config, data_dir, **execution):
    start = time.perf_counter()
    study = run_study(out, n_trials, config, data_dir=data_dir, **execution)
    return time.perf_counter() - start, [(t.number, t.params, t.value) for t in study.trials]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheduler-file", required=True, help="from dask scheduler")
    parser.add_argument("--n-trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--data-dir", help="MNIST (None: FASTSCRATCH_DATA)")
    args = parser.parse_args()
    config = StudyConfig(epochs=args.epochs, train_size=args.train_size)
    split = load_split(config.data(args.data_dir))
    with open(args.scheduler_file) as f:
        address = json.load(f)["address"]
    result = {"study": vars(args), "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp, distributed.Client(address) as observer:
        result["external_workers"] = len(observer.nthreads())
        sched0, work0 = (observer.run_on_scheduler(scheduler_to_workers),
                         observer.run(worker_counters))
        lo0 = _loopback_sent()
        result["external_s"], external = _timed(f"{tmp}/ext", args.n_trials, config,
                                                args.data_dir, scheduler=address)
        lo1 = _loopback_sent()
        sched1, work1 = (observer.run_on_scheduler(scheduler_to_workers),
                         observer.run(worker_counters))
        result["bytes"] = {
            "split_pickled": len(pickle.dumps(StudyData(split))),
            "scheduler_to_workers_stream": _delta(sched1, sched0),
            "worker_transfers_out": _delta(work1, work0, "transfer_out"),
            "workers_to_scheduler_stream": _delta(work1, work0, "to_scheduler"),
            "loopback_sent_all_processes": lo1 - lo0}
        result["embedded_s"], embedded = _timed(f"{tmp}/local", args.n_trials, config,
                                                args.data_dir, n_workers=2)
        result["serial_s"], serial = _timed(f"{tmp}/serial", args.n_trials, config,
                                            args.data_dir)
    result["speedup_external"] = result["serial_s"] / result["external_s"]
    result["speedup_embedded"] = result["serial_s"] / result["embedded_s"]
    result["same_trials"] = external == embedded == serial
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
