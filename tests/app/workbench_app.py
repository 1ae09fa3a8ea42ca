"""Helpers for the AppTest page tests: start the workbench, load the demo, wait for a job."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
# `streamlit run app.py` puts the app's folder on sys.path; AppTest under pytest may not.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pages.components.session import STATE_KEY, WorkbenchState  # noqa: E402

RUN_TIMEOUT_S = 120
JOB_TIMEOUT_S = 300

DATA_PAGE = "pages/1_Data.py"
GENERATE_PAGE = "pages/2_Generate.py"
EVALUATE_PAGE = "pages/3_Evaluate.py"
EXPORT_PAGE = "pages/4_Export.py"
COMPARE_PAGE = "pages/7_Compare.py"
CLINIC_CSV = (ROOT / "tests" / "fixtures" / "clinic_visits.csv").read_bytes()


def new_app() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=RUN_TIMEOUT_S)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def workbench(app: AppTest) -> WorkbenchState:
    return app.session_state[STATE_KEY]


def load_demo(app: AppTest) -> AppTest:
    app.button(key="load_demo").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert workbench(app).has_table
    return app


def wait_for_job(app: AppTest, timeout_s: float = JOB_TIMEOUT_S) -> AppTest:
    """Rerun the page, as the polling fragment would, until the generation job has ended."""
    deadline = time.monotonic() + timeout_s
    while workbench(app).running is not None:
        assert time.monotonic() < deadline, "the generation job did not finish in time"
        time.sleep(0.5)
        app.run()
        assert not app.exception, [e.value for e in app.exception]
    return app


def wait_for_evaluation(app: AppTest, timeout_s: float = JOB_TIMEOUT_S) -> AppTest:
    """Rerun the Evaluate page, as its polling fragment would, until the evaluation job has ended."""
    deadline = time.monotonic() + timeout_s
    while workbench(app).evaluating is not None:
        assert time.monotonic() < deadline, "the evaluation job did not finish in time"
        time.sleep(0.5)
        app.run()
        assert not app.exception, [e.value for e in app.exception]
    return app


def wait_until(app: AppTest, finished, what: str, timeout_s: float = JOB_TIMEOUT_S) -> AppTest:  # type: ignore[no-untyped-def]
    """Rerun the page, as its polling fragment would, until `finished(state)` is true."""
    deadline = time.monotonic() + timeout_s
    while not finished(workbench(app)):
        assert time.monotonic() < deadline, f"{what} did not finish in time"
        time.sleep(0.5)
        app.run()
        assert not app.exception, [e.value for e in app.exception]
    return app


def choose_fast_backend(app: AppTest) -> AppTest:
    """Pick Gaussian Copula: the default (Auto) tries every backend for up to a minute."""
    return app.selectbox(key="backend_choice").set_value("gaussian_copula").run()


def generate_demo(app: AppTest) -> AppTest:
    """Load the demo and generate from it with Gaussian Copula (fast)."""
    load_demo(app)
    app.switch_page(GENERATE_PAGE).run()
    choose_fast_backend(app)
    app.button(key="generate").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return wait_for_job(app)


def texts(elements) -> list[str]:  # type: ignore[no-untyped-def]
    return [element.value for element in elements]
