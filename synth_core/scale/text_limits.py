"""One concurrency limit and one token budget for a run's LLM text columns, whatever the workers:
threads and a TokenBudget in this process, or leases and a budget kept on the Dask scheduler."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from synth_core.bundle import RunBundle
from synth_core.errors import BudgetExhaustedError, LLMError, ScaleError
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import TokenBudget
from synth_core.scale.request import ScaleRequest

BUDGET_HINT = (
    "The parts written so far are kept: run the same command with --resume and a larger "
    "--token-budget to continue."
)
_SCHEDULER_TIMEOUT = 60  # seconds  # for the budget's lock and state on the scheduler


@dataclass(frozen=True, eq=False)
class TextLimits:
    """What a run's text writers share: the endpoint (with the key: memory only, never written)
    and the names of the cluster's semaphore and budget, unique to the run."""

    settings: LLMSettings = field(repr=False)
    run_id: str = field(default_factory=lambda: f"synth-text-{secrets.token_hex(8)}")

    @property
    def concurrency(self) -> int:
        return self.settings.concurrency

    @property
    def token_budget(self) -> int:
        return self.settings.token_budget


class GatedClient(LLMClient):
    """An LLMClient whose every request (retries included) holds a lease of `gate` while sent."""

    def __init__(self, settings: LLMSettings, gate: Any, budget: TokenBudget) -> None:
        super().__init__(settings, budget=budget)
        self._gate = gate

    def complete_json(self, *args: Any, **kwargs: Any) -> Any:
        with self._gate:
            return super().complete_json(*args, **kwargs)


def text_limits_for(request: ScaleRequest, bundle: RunBundle) -> TextLimits | None:
    """The endpoint and limits the text columns are written with; None when there are none
    (or they are skipped). ScaleError when no endpoint is configured, before anything starts."""
    texts = bundle.row_texts
    if texts is None or request.skip_text:
        return None
    named = ", ".join(repr(column) for column in texts.columns)
    try:
        settings = texts.settings(
            trusted=bundle.trusted_signature,
            concurrency=request.llm_concurrency,
            token_budget=request.token_budget,
        )
    except LLMError as error:
        raise ScaleError(f"The text columns {named}: {error.message}", error.hint) from error
    if not settings.is_configured:
        elsewhere = (
            ""
            if bundle.trusted_signature
            else " This bundle was written by another installation, so the endpoint it "
            "recorded is not used: set OPENAI_BASE_URL too."
        )
        raise ScaleError(
            f"The bundle's text columns {named} are written row by row by an LLM endpoint, and "
            f"none is configured ({' and '.join(settings.missing())} not set).{elsewhere}",
            f"{ENABLE_HINT} Or add --skip-text to leave those columns empty.",
        )
    return TextLimits(settings)


def local_client(limits: TextLimits) -> GatedClient:
    """The run's one client in this process: its threads and budget are the run's."""
    gate = threading.Semaphore(limits.concurrency)
    return GatedClient(limits.settings, gate, TokenBudget(limits.token_budget))


# --- on a Dask cluster ---------------------------------------------------------------------------

# Per worker process: the client of the run it works for (one run at a time).
_WORKER_CLIENTS: dict[str, GatedClient] = {}
_WORKER_LOCK = threading.Lock()


def start_cluster_budget(client: Any, limits: TextLimits) -> None:
    """Put the run's empty budget on the scheduler before any worker reserves from it."""
    from distributed import Variable

    Variable(f"{limits.run_id}-budget", client=client).set({"consumed": 0, "reserved": 0})


def cluster_tokens_used(client: Any, limits: TextLimits) -> int | None:
    """The tokens the run's workers used so far, as the scheduler's budget counts them; None
    when the scheduler cannot be asked (the run is failing already: that error is the news)."""
    from distributed import Variable

    try:
        state = Variable(f"{limits.run_id}-budget", client=client).get(timeout=_SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError):
        return None
    return int(state["consumed"])


def end_cluster_budget(client: Any, limits: TextLimits) -> None:
    """Forget the run's budget on the scheduler (an existing cluster outlives the run)."""
    from distributed import Variable

    with contextlib.suppress(Exception):  # the cluster may be gone already; nothing to undo
        Variable(f"{limits.run_id}-budget", client=client).delete()


def worker_client(limits: TextLimits) -> GatedClient:
    """This worker's client for the run, made on first use in the task's thread (the writer's
    own threads cannot find the worker, so the scheduler's objects are bound here)."""
    from distributed import Semaphore, get_client, get_worker

    with _WORKER_LOCK:
        client = _WORKER_CLIENTS.get(limits.run_id)
        if client is None:
            worker = get_worker()
            rpc, loop = worker.scheduler, worker.loop
            gate = Semaphore(
                max_leases=limits.concurrency, name=limits.run_id, scheduler_rpc=rpc, loop=loop
            )
            budget = ClusterTokenBudget(limits, get_client())
            client = GatedClient(limits.settings, gate, budget)
            for earlier in _WORKER_CLIENTS.values():
                earlier.close()
            _WORKER_CLIENTS.clear()
            _WORKER_CLIENTS[limits.run_id] = client
        return client


class ClusterTokenBudget(TokenBudget):
    """A TokenBudget kept on the scheduler: each reservation and settlement takes the run's
    lock and updates the run's counts there, so all workers draw on one budget."""

    def __init__(self, limits: TextLimits, client: Any) -> None:
        from distributed import Lock, Variable

        super().__init__(limits.token_budget)
        name = f"{limits.run_id}-budget"
        self._cluster_lock = Lock(f"{name}-lock", scheduler_rpc=client.scheduler, loop=client.loop)
        self._state = Variable(name, client=client)

    @contextlib.contextmanager
    def _shared_state(self) -> Iterator[dict[str, int]]:
        if not self._cluster_lock.acquire(timeout=_SCHEDULER_TIMEOUT):
            raise BudgetExhaustedError(
                "The run's token budget on the Dask scheduler did not answer.", BUDGET_HINT
            )
        try:
            state = dict(self._state.get(timeout=_SCHEDULER_TIMEOUT))
            yield state
            self._state.set(state, timeout=_SCHEDULER_TIMEOUT)
        finally:
            self._cluster_lock.release()

    @property
    def consumed(self) -> int:
        return int(self._state.get(timeout=_SCHEDULER_TIMEOUT)["consumed"])

    @property
    def remaining(self) -> int:
        state = self._state.get(timeout=_SCHEDULER_TIMEOUT)
        return max(0, self.limit - int(state["consumed"]) - int(state["reserved"]))

    def reserve(self, tokens: int) -> int:
        tokens = max(0, int(tokens))
        with self._shared_state() as state:
            left = self.limit - state["consumed"] - state["reserved"]
            if tokens > left:
                raise BudgetExhaustedError(
                    f"The token budget is used up: {state['consumed']:,} of {self.limit:,} "
                    f"tokens spent, and the next request needs about {tokens:,} but only "
                    f"{max(0, left):,} are left.",
                    BUDGET_HINT,
                )
            state["reserved"] += tokens
        return tokens

    def consume(self, tokens: int, *, reserved: int = 0) -> None:
        with self._shared_state() as state:
            state["reserved"] = max(0, state["reserved"] - max(0, reserved))
            state["consumed"] += max(0, int(tokens))
