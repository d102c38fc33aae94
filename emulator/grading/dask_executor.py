"""``kmodsim grade --executor dask``: one Dask task per (submission, test).

Each worker process collects the tests and boots its pristine kernel once (:func:`task`
keeps a :class:`~.runner.Suite` per tests path), then runs each task exactly as the local
executor does, in a forked child with the same memory and time caps: the results are the
same records, and :mod:`.grader` puts them in the same order, so the files written are the
same bytes.

Without ``--scheduler`` a ``LocalCluster`` of ``--jobs`` single-threaded worker processes is
started for the run. With ``--scheduler tcp://host:8786`` the workers must have kmodsim
installed and see the tests and the submissions at the same paths (a shared file system).
``distributed`` is an optional dependency: ``pip install 'kmodsim[dask]'``.
"""

from __future__ import annotations

from .runner import GradeError, Suite, run_one

_suites = {}                 # in a worker: (tests path, pytest args) -> Suite


def task(tests, pytest_args, submission, nodeid, timeout, memory):
    """One (submission, test) in a Dask worker: its TestResult."""
    key = (tests, tuple(pytest_args))
    suite = _suites.get(key)
    if suite is None:
        suite = _suites[key] = Suite(tests, pytest_args)
        suite.preboot()
    return run_one(suite, submission, nodeid, timeout, memory)


def run_dask(suite, tasks, jobs, options, on_result):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise GradeError("--executor dask needs Dask's distributed: "
                         "pip install 'kmodsim[dask]'") from None
    cluster = None
    if options.scheduler is None:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=50)
        client = Client(cluster)
    else:
        try:
            client = Client(options.scheduler, timeout="30s")
        except OSError as exc:
            raise GradeError(f"cannot reach the Dask scheduler {options.scheduler}: {exc}") \
                from None
    try:
        futures = {}
        for key, submission, nodeid in tasks:
            fut = client.submit(task, suite.path, list(options.pytest_args), submission, nodeid,
                                options.timeout, options.worker_memory, pure=False)
            futures[fut] = key
        results = {}
        for fut in as_completed(list(futures)):
            key = futures[fut]
            results[key] = fut.result()
            on_result(key, results[key])
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
