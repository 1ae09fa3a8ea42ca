"""Dask: a local cluster or an existing one by address, the bundle shipped to the workers once,
and the chunks run through a bounded window of futures with retries."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dask
from distributed import Client, Future, LocalCluster, wait
from distributed.comm import parse_address, parse_host_port

from synth_core.backends.base import CancelToken, readable_error
from synth_core.errors import BudgetExhaustedError, ScaleError, SynthWorkbenchError
from synth_core.scale.parts import PartRecord, is_disk_full, part_write_failure
from synth_core.scale.plan import Chunk
from synth_core.scale.worker import PartJob, ShippedBundle, load_on_worker, make_part_on_worker

CONNECT_TIMEOUT_S = 10.0
CHUNKS_AHEAD_PER_WORKER = 2  # enough to keep every worker busy, few enough for any run size
_POLL_S = 0.25  # how often a cancel is noticed while chunks are running
# Dask's defaults for the workers of a local cluster, tuned for long-lived shared clusters, cost
# this work speed (measured per 100,000-row part, see docs/BENCHMARKS.md):
_LOCAL_WORKER_CONFIG = {
    # glibc's trim threshold, which the nanny sets in every worker, also switches off glibc's
    # adaptive mmap threshold: each part's arrays were then mapped afresh and faulted in page
    # by page (8x the page faults, about a fifth more CPU per part). Our workers hold one part
    # at a time and end with the run.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # The profiler samples the running task's stack every 10 ms for the dashboard (~3 % CPU).
    "distributed.worker.profile.enabled": False,
}
_SCHEDULER_HINT = (
    "Check the address (e.g. tcp://10.0.0.5:8786), that the Dask scheduler is running, and that "
    "this machine can reach it; or leave out the scheduler to use a local cluster."
)


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Client]:
    """A client of the cluster at `scheduler`, or of a new local one with `workers` processes.

    A local cluster is closed on the way out, whatever happened; an existing one is left running.
    """
    with _quiet_dask_logs():
        yield from _client_of(workers, scheduler)


def _client_of(workers: int, scheduler: str | None) -> Iterator[Client]:
    if scheduler is not None:
        client = _connect(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    # Each nanny keeps this config, so a worker it restarts gets the same.
    with _children_ignore_ctrl_c(), dask.config.set(_LOCAL_WORKER_CONFIG):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # Any free port: the scheduler always serves HTTP (health, metrics), 8787 by default,
            # which a second run on this machine would find taken (and warn about).
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def worker_threads(client: Client) -> tuple[int, int]:
    """(worker processes, threads in all) of the client's cluster."""
    threads = client.nthreads()
    return len(threads), sum(threads.values())


def make_parts_on_cluster(
    client: Client,
    shipped: ShippedBundle,
    chunks: Iterator[Chunk],
    job: PartJob,
    *,
    on_ready: Callable[[int], None],
    on_part: Callable[[PartRecord], None],
    on_retry: Callable[[], None],
    cancel: CancelToken,
    max_retries: int,
) -> None:
    """Load the model on every worker (`on_ready` gets the loads), then make `chunks`, handing
    each finished part to `on_part`.

    A failed chunk is submitted again (`on_retry` is told) up to `max_retries` times.
    At most CHUNKS_AHEAD_PER_WORKER chunks per worker thread are submitted at a time, so a
    billion-row run never holds millions of futures.
    """
    window = CHUNKS_AHEAD_PER_WORKER * max(worker_threads(client)[1], 1)
    _import_on_every_worker(client)
    payload = client.scatter(shipped, broadcast=True, hash=False)
    on_ready(_load_on_every_worker(client, payload))
    running: dict[Future, tuple[Chunk, int]] = {}

    def submit(chunk: Chunk, attempt: int) -> None:
        nonlocal payload
        if payload.status != "finished":  # every worker holding the bundle died
            payload = client.scatter(shipped, broadcast=True, hash=False)
        future = client.submit(make_part_on_worker, payload, chunk, job, pure=False)
        running[future] = (chunk, attempt)

    def fill() -> None:
        while len(running) < window and (chunk := next(chunks, None)) is not None:
            submit(chunk, 0)

    fill()
    while running:
        cancel.raise_if_cancelled()
        try:
            with client.as_current():  # `wait` uses the current client; ours is not the default
                finished, _ = wait(list(running), timeout=_POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            continue
        for future in finished:
            chunk, attempt = running.pop(future)
            if future.status == "finished":
                on_part(future.result())
            else:
                error = _failure_of(future)
                _raise_if_final(error, chunk, attempt, max_retries, job)
                on_retry()
                submit(chunk, attempt + 1)
            future.release()
        fill()


def _import_on_every_worker(client: Client) -> None:
    """synth_core (torch, SDV and all) imported on every worker at once, before the bundle is
    scattered: the scatter copies it from worker to worker, and each copy's unpickling waited for
    that worker's import (~3.5 s), one worker after the other."""
    imports = [
        client.submit(_imported, workers=[address], allow_other_workers=True, pure=False)
        for address in client.nthreads()
    ]
    try:
        client.gather(imports)
    except Exception as error:  # a worker without synth_core, or with other library versions
        raise ScaleError(
            f"The Dask workers could not import synth_core: {readable_error(error)}",
            "Every worker needs synth_core and the same library versions as this machine.",
        ) from error


def _imported() -> bool:
    """A task whose unpickling on a worker imports this module, and with it synth_core."""
    return True


def _load_on_every_worker(client: Client, payload: Future) -> int:
    """The model loaded once per worker process up front; the number of processes that did."""
    # Other workers may take over a warm-up: one pinned to a worker that dies would wait forever.
    warm_ups = [
        client.submit(
            load_on_worker, payload, workers=[address], allow_other_workers=True, pure=False
        )
        for address in client.nthreads()
    ]
    try:
        return sum(client.gather(warm_ups))
    except Exception as error:  # what failed on a worker comes back as its own type
        cause = error.message if isinstance(error, SynthWorkbenchError) else readable_error(error)
        raise ScaleError(
            f"The Dask workers could not load the model: {cause}",
            "Every worker needs synth_core and the same library versions as this machine.",
        ) from error


def _failure_of(future: Future) -> BaseException:
    try:
        error = future.exception(timeout=CONNECT_TIMEOUT_S)
    except Exception as lost:  # the future was cancelled or its result is gone
        return lost
    return error if error is not None else RuntimeError(f"the task ended as {future.status}")


def _raise_if_final(
    error: BaseException, chunk: Chunk, attempt: int, max_retries: int, job: PartJob
) -> None:
    if isinstance(error, OSError) and is_disk_full(error):
        raise part_write_failure(error, job.out_dir) from error  # retrying cannot help
    if isinstance(error, BudgetExhaustedError):
        raise error  # the run's one budget: retrying cannot help either
    if attempt < max_retries:
        return
    cause = error.message if isinstance(error, SynthWorkbenchError) else readable_error(error)
    raise ScaleError(
        f"Part {chunk.index} (rows {chunk.first_row:,} to {chunk.last_row:,}) failed "
        f"{attempt + 1} times; the last time: {cause}",
        "If workers ran out of memory, use fewer rows per part or fewer workers. The parts "
        "finished so far are kept: resume the run to continue.",
    ) from error


def _connect(scheduler: str) -> Client:
    _check_reachable(scheduler)
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError, TimeoutError) as error:
        raise ScaleError(
            f"Could not connect to the Dask scheduler at {scheduler} ({readable_error(error)})",
            _SCHEDULER_HINT,
        ) from error
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        client.close()
        raise ScaleError(
            f"The Dask cluster at {scheduler} has no workers.",
            "Start some (dask worker ADDRESS) and run again.",
        ) from None
    return client


def _check_reachable(scheduler: str) -> None:
    """A plain TCP connection first: a clear message within the timeout, without Dask's noise."""
    try:
        protocol, location = parse_address(scheduler)
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as error:
        raise ScaleError(
            f"'{scheduler}' is not a Dask scheduler address ({readable_error(error)})",
            _SCHEDULER_HINT,
        ) from error
    if protocol != "tcp":
        return  # tls:// and others: Dask's own connect checks them
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise ScaleError(
            f"The Dask scheduler at {scheduler} cannot be reached ({error.strerror or error}).",
            _SCHEDULER_HINT,
        ) from error


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask's own news (workers starting, closing) is not the user's; SYNTH_DEBUG shows it."""
    logger = logging.getLogger("distributed")
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextmanager
def _children_ignore_ctrl_c() -> Iterator[None]:
    """Worker processes started here ignore Ctrl-C: the terminal sends it to them too, and only
    this process should react (close the cluster, keep the manifest consistent)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: Any = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
