"""`run_scaled`: check the bundle, prepare the folder, make the missing parts here or on Dask,
and after every part update the manifest, the progress and (once) the disk-space estimate."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.bundle import RunBundle, read_bundle
from synth_core.errors import BudgetExhaustedError, JobCancelledError, ScaleError
from synth_core.llm.client import LLMClient
from synth_core.scale.keys import describe_keys
from synth_core.scale.parts import (
    PartRecord,
    part_problem,
    part_write_failure,
    remove_temp_files,
)
from synth_core.scale.plan import Chunk, chunk_count, chunks_to_make
from synth_core.scale.request import (
    ScaleProgress,
    ScaleRequest,
    ScaleResult,
    check_request,
    local_worker_count,
)
from synth_core.scale.run_manifest import (
    RunManifest,
    load_run_manifest,
    run_files,
    write_run_manifest,
)
from synth_core.scale.text_limits import BUDGET_HINT, TextLimits, local_client, text_limits_for
from synth_core.scale.worker import PartJob, ShippedBundle, make_part

ProgressSink = Callable[[ScaleProgress], None]
FreeBytes = Callable[[Path], int]
MANIFEST_SAVE_EVERY_S = 1.0
_RESUME_HINT = "Resume it (CLI: run the same command with --resume) to continue."


def run_scaled(
    request: ScaleRequest,
    *,
    progress: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    free_bytes: FreeBytes | None = None,
) -> ScaleResult:
    """Write `request.rows` rows from the bundle as part files plus a manifest in `out_dir`.

    The same bundle, seed, rows and rows per part give the same files whatever the workers.
    Cancelling (or Ctrl-C) leaves the manifest listing every finished part, so the run resumes.
    """
    started = time.perf_counter()
    check_request(request)
    cancel = cancel or CancelToken()
    bundle = _checked_bundle(request)
    text = text_limits_for(request, bundle)
    out_dir = Path(request.out_dir)
    manifest = _prepared_manifest(out_dir, _planned_manifest(request, bundle), request.resume)
    parts_total = chunk_count(request.rows, request.chunk_rows)
    tracker = _RunTracker(out_dir, manifest, parts_total, progress, free_bytes or _free_bytes)
    tracker.report()  # "starting": a cluster takes a few seconds before the first part
    kept = {part.index for part in manifest.parts}
    chunks = chunks_to_make(request.rows, request.chunk_rows, manifest.seed, skip=kept)
    job = PartJob(
        out_dir,
        request.format,
        request.rows,
        parts_total,
        manifest.table_name,
        skip_text=request.skip_text,
    )
    workers = 0
    try:
        try:
            if len(kept) == parts_total:
                pass  # a finished run, resumed: its parts are verified, nothing to make
            elif request.workers == 0:
                _make_here(bundle, chunks, job, tracker, cancel, text)
            else:
                workers = _make_on_dask(request, bundle, chunks, job, tracker, cancel, text)
        finally:
            tracker.save()  # whatever stopped the run, the manifest lists every finished part
    except JobCancelledError as error:
        raise JobCancelledError(
            f"The run was cancelled; {len(tracker.manifest.parts)} of {parts_total} parts are "
            f"finished and kept in {out_dir}.",
            _RESUME_HINT,
        ) from error
    except BudgetExhaustedError as error:
        done = tracker.manifest
        budget = text.token_budget if text is not None else 0
        raise BudgetExhaustedError(
            f"The token budget ran out: {done.rows_done:,} of {done.rows:,} rows are written "
            f"({len(done.parts)} of {parts_total} parts, kept in {out_dir}); this run used "
            f"{tracker.tokens_this_run:,} of its {budget:,} tokens ({done.tokens_used:,} in all).",
            BUDGET_HINT,
        ) from error
    finished = tracker.manifest if tracker.manifest.complete else tracker.manifest.completed()
    manifest_path = write_run_manifest(out_dir, finished)
    remove_temp_files(out_dir)
    seconds = time.perf_counter() - started
    return ScaleResult(
        out_dir=out_dir,
        manifest_path=manifest_path,
        rows=finished.rows_done,
        parts=len(finished.parts),
        resumed_parts=len(kept),
        retried_chunks=tracker.retried,
        seconds=seconds,
        rows_per_s=tracker.rows_made / seconds if seconds > 0 else 0.0,
        workers=workers,
        synthesizer_loads=1 if request.workers == 0 else tracker.loads,
        rows_made=tracker.rows_made,
        startup_seconds=tracker.pace_started - started,
    )


def _checked_bundle(request: ScaleRequest) -> RunBundle:
    """The bundle, read and verified here first: a bad one fails before any cluster starts."""
    bundle = read_bundle(request.bundle, trust=request.trust)
    if bundle.backend is None:
        raise ScaleError(
            f"{request.bundle_name} holds no fitted model, so it cannot make rows at scale.",
            bundle.manifest.get("regeneration_note", ""),
        )
    most = bundle.backend.max_rows
    if request.chunk_rows > most:
        raise ScaleError(
            f"Parts of {request.chunk_rows:,} rows are more than this model makes in one go "
            f"({most:,}).",
            f"Use at most {most:,} rows per part.",
        )
    return bundle


def _planned_manifest(request: ScaleRequest, bundle: RunBundle) -> RunManifest:
    seed = request.seed if request.seed is not None else int(bundle.manifest.get("seed", 0))
    saved = [entry for entry in bundle.manifest.get("columns") or [] if isinstance(entry, dict)]
    columns = [str(entry.get("name")) for entry in saved]
    dtypes = {str(entry.get("name")): entry.get("dtype") for entry in saved}
    return RunManifest(
        bundle_name=request.bundle_name,
        bundle_sha256=hashlib.sha256(request.bundle).hexdigest(),
        seed=seed,
        rows=request.rows,
        chunk_rows=request.chunk_rows,
        format=request.format,
        table_name=bundle.metadata.table_name,
        columns=tuple(columns or bundle.metadata.columns),
        primary_key=describe_keys(
            bundle.metadata, request.rows, dtypes.get(bundle.metadata.primary_key or "")
        ),
        text=None
        if bundle.row_texts is None
        else {
            "columns": list(bundle.row_texts.columns),
            "written": not request.skip_text,
            "tokens_used": 0,
        },
    )


def _prepared_manifest(out_dir: Path, planned: RunManifest, resume: bool) -> RunManifest:
    """The manifest to continue from: the planned one in a new folder, or the verified earlier
    run's (damaged or missing parts dropped, to be made again)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ScaleError(
            f"{out_dir} is a file, not a folder.", "Name a folder for the parts (it is created)."
        )
    if not resume:
        if run_files(out_dir):
            raise ScaleError(
                f"{out_dir} already holds a run.",
                "Add --resume to finish it, or choose an empty folder.",
            )
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ScaleError(
                f"The folder {out_dir} could not be created ({error.strerror or error}).",
                "Check the path and that you may write there.",
            ) from error
        write_run_manifest(out_dir, planned)
        return planned
    earlier = load_run_manifest(out_dir)
    differences = earlier.mismatches(planned)
    if differences:
        raise ScaleError(
            f"The run in {out_dir} was made with other settings: {'; '.join(differences)}.",
            "Resume with the same bundle, seed, rows, rows per part and format, or start a new "
            "run in an empty folder.",
        )
    damaged = {part.index for part in earlier.parts if part_problem(out_dir, part) is not None}
    resumed = earlier.without_parts(damaged)
    resumed = resumed if resumed.complete and not damaged else resumed.resumed()
    write_run_manifest(out_dir, resumed)
    return resumed


def _make_here(
    bundle: RunBundle,
    chunks: Iterator[Chunk],
    job: PartJob,
    tracker: _RunTracker,
    cancel: CancelToken,
    text: TextLimits | None,
) -> None:
    client: LLMClient | None = None
    if text is not None:
        client = local_client(text)
        budget = client.budget
        tracker.count_tokens = lambda: budget.consumed
    tracker.begin()
    try:
        for chunk in chunks:
            try:
                record = make_part(
                    bundle, chunk, job, progress=tracker.within_part, cancel=cancel, client=client
                )
            except OSError as error:
                raise part_write_failure(error, job.out_dir) from error
            tracker.part_done(record)
    finally:
        if client is not None:
            tracker.settle_tokens()
            client.close()


def _make_on_dask(
    request: ScaleRequest,
    bundle: RunBundle,
    chunks: Iterator[Chunk],
    job: PartJob,
    tracker: _RunTracker,
    cancel: CancelToken,
    text: TextLimits | None,
) -> int:
    """Make the chunks on Dask; the number of worker processes."""
    # Imported here: distributed takes a while to import, and in-process runs never need it.
    from synth_core.scale.cluster import dask_client, make_parts_on_cluster, worker_threads
    from synth_core.scale.text_limits import (
        cluster_tokens_used,
        end_cluster_budget,
        start_cluster_budget,
    )

    shipped = ShippedBundle(
        tracker.manifest.bundle_sha256, request.bundle, bundle.pii_guard, text=text
    )
    workers = request.workers if request.workers is not None else local_worker_count()
    with dask_client(workers, request.scheduler) as client:
        processes, _ = worker_threads(client)
        if text is not None:
            start_cluster_budget(client, text)
            tracker.count_tokens = lambda: cluster_tokens_used(client, text)
        try:
            make_parts_on_cluster(
                client,
                shipped,
                chunks,
                job,
                on_ready=tracker.begin,
                on_part=tracker.part_done,
                on_retry=tracker.retry,
                cancel=cancel,
                max_retries=request.max_retries,
            )
        finally:
            if text is not None:
                tracker.settle_tokens()  # while the scheduler that counts them is still there
                end_cluster_budget(client, text)
    return processes


class _RunTracker:
    """The client's view of the run: records each finished part, reports progress, checks disk."""

    def __init__(
        self,
        out_dir: Path,
        manifest: RunManifest,
        parts_total: int,
        progress: ProgressSink | None,
        free_bytes: FreeBytes,
    ) -> None:
        self.out_dir = out_dir
        self.manifest = manifest
        self.parts_total = parts_total
        self.rows_made = 0  # by this run
        self.loads = 0
        self.retried = 0
        self._progress = progress
        self._free_bytes = free_bytes
        self._disk_checked = False
        self.pace_started = time.perf_counter()
        self._saved_at = time.perf_counter()
        self._unsaved = False
        # The text columns' tokens: those of earlier runs in the folder, and a count of this
        # run's (set while it runs; the shared budget's count).
        self.tokens_before = manifest.tokens_used
        self.tokens_this_run = 0
        self.count_tokens: Callable[[], int | None] | None = None

    def settle_tokens(self) -> None:
        """Take this run's token count into the manifest (written at the next save)."""
        if self.count_tokens is None:
            return
        self._count()
        self.count_tokens = None
        self._unsaved = True

    def _count(self) -> None:
        counted = self.count_tokens() if self.count_tokens is not None else None
        if counted is not None:  # else the last count stands
            self.tokens_this_run = counted
        self.manifest = self.manifest.with_tokens_used(self.tokens_before + self.tokens_this_run)

    def save(self) -> None:
        """Write the manifest if parts finished since it was last written."""
        if self.count_tokens is not None and self._unsaved:
            self._count()
        if self._unsaved:
            write_run_manifest(self.out_dir, self.manifest)
            self._unsaved = False
        self._saved_at = time.perf_counter()

    def begin(self, loads: int = 0) -> None:
        """Making starts now (workers started, `loads` models loaded): the pace starts here."""
        self.loads += loads
        self.pace_started = time.perf_counter()
        self.report()

    def part_done(self, record: PartRecord) -> None:
        problem = part_problem(self.out_dir, record, check_sha256=False)
        if problem is not None:
            raise ScaleError(
                f"A worker wrote {record.file}, but it is not in {self.out_dir} as written "
                f"here ({problem})",
                "With a cluster on other machines, the output folder must be one they all "
                "share with this machine (the same path everywhere).",
            )
        self.manifest = self.manifest.with_part(record)
        if len(self.manifest.parts) == self.parts_total:
            self.manifest = self.manifest.completed()
        self._unsaved = True
        # At most about once a second: a run of many thousand parts would otherwise spend its
        # time rewriting a long manifest. A part made after the last save is made again on resume.
        if time.perf_counter() - self._saved_at >= MANIFEST_SAVE_EVERY_S:
            self.save()
        self.rows_made += record.rows
        self.loads += int(record.loaded_model)
        if not self._disk_checked:
            self._disk_checked = True
            self._check_disk(record)
        self.report()

    def within_part(self, update: ProgressUpdate) -> None:
        if update.stage == "sample":
            self.report(update.done)

    def retry(self) -> None:
        self.retried += 1
        self.report()

    def _check_disk(self, record: PartRecord) -> None:
        rows_left = self.manifest.rows - self.manifest.rows_done
        needed = record.bytes / max(record.rows, 1) * rows_left
        free = self._free_bytes(self.out_dir)
        if needed > free:
            raise ScaleError(
                f"The run needs about {readable_bytes(needed)} more, and {readable_bytes(free)} "
                f"is free on {self.out_dir}.",
                "Free some space, choose another output folder or ask for fewer rows. The parts "
                "written so far are kept: resume the run (CLI: --resume) to continue.",
            )

    def report(self, rows_in_part: int = 0) -> None:
        if self._progress is None:
            return
        made = self.rows_made + rows_in_part
        elapsed = time.perf_counter() - self.pace_started
        rate = made / elapsed if made > 0 and elapsed > 0 else None
        done = self.manifest.rows_done + rows_in_part
        self._progress(
            ScaleProgress(
                rows_done=done,
                rows_total=self.manifest.rows,
                parts_done=len(self.manifest.parts),
                parts_total=self.parts_total,
                rows_per_s=rate,
                eta_s=(self.manifest.rows - done) / rate if rate else None,
                retried=self.retried,
            )
        )


def readable_bytes(size: float) -> str:
    """1234567 -> "1.2 MB" (decimal units, as disks are sold)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _free_bytes(out_dir: Path) -> int:
    return shutil.disk_usage(out_dir).free
