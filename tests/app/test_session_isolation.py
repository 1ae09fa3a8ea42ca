"""Two browser sessions never see each other's tables or runs."""

from __future__ import annotations

from workbench_app import GENERATE_PAGE, load_demo, new_app, texts, workbench


def test_two_sessions_do_not_share_data() -> None:
    first, second = new_app(), new_app()

    load_demo(first)
    second.run()

    assert workbench(first).has_table
    assert not workbench(second).has_table
    assert workbench(first) is not workbench(second)
    second.switch_page(GENERATE_PAGE).run()
    assert any("No table loaded" in text for text in texts(second.info))
