"""Two browser sessions never see each other's tables or runs."""

from __future__ import annotations

from workbench_app import (
    CLINIC_CSV,
    GENERATE_PAGE,
    choose_fast_backend,
    new_app,
    wait_for_job,
    workbench,
)


def test_two_sessions_do_not_share_data() -> None:
    first, second = new_app(), new_app()

    first.file_uploader(key="table_upload").set_value(("clinic_visits.csv", CLINIC_CSV, "text/csv"))
    first.run()
    first.switch_page(GENERATE_PAGE).run()
    choose_fast_backend(first)
    first.button(key="generate").click().run()
    wait_for_job(first)
    second.run()

    assert workbench(first) is not workbench(second)
    assert workbench(first).table.name == "clinic_visits"
    assert workbench(first).generation is not None
    assert workbench(second).table.name == "student_placements"
    assert workbench(second).generation is None
    second.switch_page(GENERATE_PAGE).run()
    assert not second.dataframe, "the second session shows no synthetic preview"
