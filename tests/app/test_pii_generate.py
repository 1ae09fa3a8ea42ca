"""The Generate page's PII option: the chosen locale fills the PII columns, no real value kept."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest
from workbench_app import GENERATE_PAGE, choose_fast_backend, texts, wait_for_job, workbench

ROWS = 30
REAL_EMAILS = [f"patient{i % 6}@realclinic.test" for i in range(ROWS)]


def _upload_customers(app: AppTest) -> None:
    frame = pd.DataFrame(
        {
            "email": REAL_EMAILS,
            "age": [20 + (i * 7) % 50 for i in range(ROWS)],
            "plan": [["basic", "plus", "pro"][i % 3] for i in range(ROWS)],
        }
    )
    data = frame.to_csv(index=False).encode()
    app.file_uploader(key="table_upload").set_value(("customers.csv", data, "text/csv")).run()
    assert not app.exception, texts(app.exception)


def test_pii_columns_are_listed_and_refilled_in_the_chosen_locale(app: AppTest) -> None:
    _upload_customers(app)
    app.switch_page(GENERATE_PAGE).run()

    expander = next(e for e in app.expander if e.label.startswith("PII columns"))
    assert expander.label == "PII columns (1)"
    assert any("email" in text for text in texts(expander.caption))
    assert app.selectbox(key="faker_locale").value == "en_US"

    app.selectbox(key="faker_locale").set_value("de_DE")
    app.checkbox(key="consistent_pii").check()
    app.number_input(key="num_rows").set_value(40)
    choose_fast_backend(app)
    app.button(key="generate").click().run()
    assert not app.error, texts(app.error)
    wait_for_job(app)

    result = workbench(app).generation.result
    assert result.request.faker_locale == "de_DE"
    assert result.request.consistent_pii
    assert len(result.synthetic) == 40
    assert not set(result.synthetic["email"]) & set(REAL_EMAILS)
    assert result.synthetic["email"].str.contains("@").all()


def test_demo_without_pii_says_so_and_keeps_sdv_defaults(app: AppTest) -> None:
    app.button(key="load_demo").click().run()
    app.switch_page(GENERATE_PAGE).run()

    expander = next(e for e in app.expander if e.label.startswith("PII columns"))
    assert expander.label == "PII columns (0)"
    assert any("No column is marked as PII" in text for text in texts(expander.caption))
    choose_fast_backend(app)
    app.button(key="generate").click().run()
    wait_for_job(app)
    assert workbench(app).generation.result.request.faker_locale is None
