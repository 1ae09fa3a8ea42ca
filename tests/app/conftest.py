"""Fixtures for the AppTest page tests; the helpers live in workbench_app.py."""

from __future__ import annotations

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from workbench_app import new_app


@pytest.fixture(autouse=True)
def navigation_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run app.py on every AppTest run, as `streamlit run` does for an st.navigation app.

    AppTest 1.67 resets `PagesManager.uses_pages_directory` before each run; because this repo
    has a `pages/` folder, every run after the first then takes Streamlit's legacy pages-folder
    path and executes only the page script, skipping app.py (sidebar, finished-job pickup).
    The real server clears the flag for good once st.navigation is called; so do we.
    """
    original_init = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture()
def app() -> AppTest:
    return new_app()
