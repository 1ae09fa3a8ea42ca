"""PII replacement: planted real names, e-mails and phones never reach the synthetic output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from faker.providers.person.de_DE import Provider as GermanNames

from synth_core.cli import main
from synth_core.errors import BackendParameterError
from synth_core.hybrid.pii import pii_columns, replace_pii
from synth_core.io import read_table_file
from synth_core.metadata import TableMetadata, detect_metadata, normalised_metadata, save_metadata
from synth_core.workflow import GenerationRequest, generate

ROWS = 40
PLANTED_NAMES = ["Zebulon Quartermaine", "Philippa Oyelaran-Smythe", "Ingmar Throckbottom"]
PLANTED_FIRST = ["Zebulon", "Philippa", "Ingmar"]
PLANTED_EMAILS = ["zebulon.q@realmail.test", "p.oyelaran@realmail.test", "ingmar@realmail.test"]
PLANTED_PHONES = ["+1 555 010 4477", "+1 555 010 9931", "+1 555 010 2208"]


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    pick = rng.integers(0, 3, ROWS)
    return pd.DataFrame(
        {
            "customer": [PLANTED_NAMES[i] for i in pick],
            "first_name": [PLANTED_FIRST[i] for i in pick],
            "email": [PLANTED_EMAILS[i] for i in pick],
            "phone": [PLANTED_PHONES[i] for i in pick],
            "age": rng.integers(18, 90, ROWS),
            "plan": rng.choice(["basic", "plus", "pro"], ROWS),
        }
    )


@pytest.fixture(scope="module")
def metadata(customers: pd.DataFrame) -> TableMetadata:
    table = detect_metadata(customers, "customers").sdv_dict["tables"]["customers"]
    table.pop("primary_key", None)
    for column, sdtype in {
        "customer": "name",
        "first_name": "first_name",
        "email": "email",
        "phone": "phone_number",
    }.items():
        table["columns"][column] = {"sdtype": sdtype, "pii": True}
    return normalised_metadata("customers", table)


def _planted() -> set[str]:
    return {*PLANTED_NAMES, *PLANTED_FIRST, *PLANTED_EMAILS, *PLANTED_PHONES}


def _cells(frame: pd.DataFrame) -> set[str]:
    return {str(value) for value in frame.to_numpy().ravel()}


def test_no_planted_value_survives_sdv_generation(customers, metadata) -> None:
    request = GenerationRequest(
        backend_key="gaussian_copula", params={}, num_rows=60, seed=5, faker_locale="en_US"
    )
    synthetic = generate(customers, metadata, request).synthetic

    assert len(synthetic) == 60
    assert list(synthetic.columns) == list(customers.columns)
    assert not _cells(synthetic) & _planted()
    text = synthetic.to_csv(index=False)
    assert not [value for value in _planted() if value in text]
    assert synthetic["email"].str.contains("@").all()
    assert set(synthetic["plan"]) <= {"basic", "plus", "pro"}, "non-PII columns are still learned"


def test_real_values_in_the_input_are_replaced_too(customers, metadata) -> None:
    # As when an LLM copies names from the sample: the input itself holds real values.
    replaced = replace_pii(customers, metadata, seed=1, real=customers)

    assert not _cells(replaced[pii_columns(metadata)]) & _planted()
    assert replaced["age"].tolist() == customers["age"].tolist()
    assert pii_columns(metadata) == ["customer", "first_name", "email", "phone"]


def test_locale_is_respected(customers, metadata) -> None:
    replaced = replace_pii(customers, metadata, locale="de_DE", seed=2)

    german_first = set(GermanNames.first_names)
    assert set(replaced["first_name"]) <= german_first
    assert replaced["phone"].str.match(r"(?:\+49|\(?0)").all(), replaced["phone"].head()


def test_consistent_mapping_repeats_with_the_value(customers, metadata) -> None:
    replaced = replace_pii(customers, metadata, seed=4, consistent=True, real=customers)

    pairs = pd.DataFrame({"real": customers["customer"], "fake": replaced["customer"]})
    per_real = pairs.groupby("real")["fake"].nunique()
    assert (per_real == 1).all(), "the same real name always gets the same fake name"
    assert pairs.drop_duplicates()["fake"].is_unique, "different people stay different"
    assert not set(pairs["fake"]) & set(PLANTED_NAMES)


def test_independent_mode_draws_fresh_values(customers, metadata) -> None:
    replaced = replace_pii(customers, metadata, seed=4)

    assert replaced["customer"].nunique() > 3


def test_same_seed_same_output_other_seed_differs(customers, metadata) -> None:
    first = replace_pii(customers, metadata, locale="fr_FR", seed=9)
    again = replace_pii(customers, metadata, locale="fr_FR", seed=9)
    other = replace_pii(customers, metadata, locale="fr_FR", seed=10)

    pd.testing.assert_frame_equal(first, again)
    assert not first["customer"].equals(other["customer"])


def test_fake_value_never_equals_a_real_value(metadata) -> None:
    # Every value Faker's small first-name list can produce is "real": nothing may pass.
    real = pd.DataFrame({"first_name": ["Anna"] * 3})
    synthetic = pd.DataFrame({"first_name": ["x", None, "y"]})
    table = {"columns": {"first_name": {"sdtype": "first_name", "pii": True}}}
    small = normalised_metadata("people", table)

    replaced = replace_pii(synthetic, small, seed=0, real=real, consistent=True)

    assert replaced["first_name"].isna().tolist() == [False, True, False]
    assert "Anna" not in set(replaced["first_name"].dropna())


def test_unknown_locale_names_valid_ones(customers, metadata) -> None:
    with pytest.raises(BackendParameterError) as raised:
        replace_pii(customers, metadata, locale="xx_QQ")

    assert "xx_QQ" in raised.value.user_message()
    assert "de_DE" in raised.value.user_message()


def test_unknown_locale_fails_before_fitting(customers, metadata) -> None:
    request = GenerationRequest(
        backend_key="gaussian_copula", params={}, num_rows=10, faker_locale="klingon"
    )
    with pytest.raises(BackendParameterError, match="klingon"):
        generate(customers, metadata, request)


def test_cli_generate_with_german_locale(tmp_path: Path, customers, metadata, capsys) -> None:
    source, meta, out = tmp_path / "customers.csv", tmp_path / "meta.json", tmp_path / "out.csv"
    customers.to_csv(source, index=False)
    save_metadata(metadata, meta)

    code = main(
        [
            "generate",
            str(source),
            "--metadata",
            str(meta),
            "--rows",
            "50",
            "--out",
            str(out),
            "--faker-locale",
            "de_DE",
            "--consistent-pii",
            "--quiet",
        ]
    )

    assert code == 0, capsys.readouterr().err
    written = read_table_file(out).frame
    assert len(written) == 50
    assert not _cells(written) & _planted()
    assert set(written["first_name"]) <= set(GermanNames.first_names)


def test_cli_rejects_an_unknown_locale_in_one_line(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "o.csv")
    code = main(["generate", "demo:tips", "--rows", "5", "--out", out, "--faker-locale", "zz_ZZ"])

    err = capsys.readouterr().err
    assert code == 2
    assert "zz_ZZ" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()
