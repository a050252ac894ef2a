"""`topnn-jax report` and `plot` on a tiny real run; stores read together; broken stores."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import TANH_EXPERIMENT as TINY

from topnn_jax.cli import main
from topnn_jax.config import parse_config
from topnn_jax.errors import InputError
from topnn_jax.pipeline import run_experiment
from topnn_jax.results import load_store, load_stores


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A tiny run whose tanh networks train well (2 architectures: a comparison applies)."""
    out = tmp_path_factory.mktemp("report") / "store"
    run_experiment(parse_config(TINY, name="tiny"), out=out)
    assert sum(network.well_trained for network in load_store(out).networks) >= 3
    return out


def test_report_has_tables_claims_and_every_applicable_figure(store, capsys):
    assert main(["report", str(store), "--format", "svg"]) == 0
    markdown = (store / "report.md").read_text()
    for heading in ("## Summary", "## Claims", "### Claim 1", "### Claim 4", "## Data sets"):
        assert heading in markdown
    # networks, well trained, measured (= well trained: all were measured), then the mean
    # input Betti numbers, which are D-I's truth, and the output ones
    row = re.search(
        r"\| D-I \| 4_by_8 \| tanh \| 2 \| (\d) \| (\d) \| ([^|]*)\|([^|]*)\|([^|]*)\|", markdown
    )
    assert row and row[1] == row[2] != "0"
    assert (row[3].strip(), row[5].strip()) == ("(9, 0)", "(1, 9)")
    figures = {path.name for path in (store / "figures").iterdir()}
    expected = {
        "dataset_d-i",
        "betti_d-i_4_by_8",
        "betti_d-i_3_by_8",
        "compare_d-i_tanh_input",
        "compare_d-i_tanh_output",
        "layers_d-i_4_by_8_tanh",
        "barcodes_d-i_4_by_8_tanh_class-a",
        "barcodes_d-i_4_by_8_tanh_class-b",
    }
    assert {f"{stem}.png" for stem in expected} <= figures
    assert {f"{stem}.svg" for stem in expected} <= figures
    for stem in expected:
        assert f"](figures/{stem}.png)" in markdown
    page = (store / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == markdown.count("](figures/")
    assert "figures/" not in page  # self-contained
    # depth 3 and 4 only: claim 3 needs shallow and deep networks
    assert "not enough data" in markdown
    # one decision rule, stated once; every statistic explained; a column per statistic
    assert markdown.count("Every verdict follows one rule") == 1
    assert markdown.count("Statistics (estimate [95% interval]): ") == 4
    assert "| scope | verdict | networks | share minimal | note |" in markdown
    # the HTML page has a table of contents and coloured, marked verdicts
    assert "<nav><h2>Contents</h2>" in page and page.count('<a href="#s') >= 8
    assert re.search(r'<td class="(held|not-held|inconclusive|not-enough-data)">[✔✘?–] ', page)


def test_plot_writes_the_figures_only(store, tmp_path, capsys):
    assert main(["plot", str(store), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "figures" / "betti_d-i_4_by_8.png").stat().st_size > 0
    assert not (tmp_path / "report.md").exists()


def test_stores_read_together_keep_their_configs_and_dimensions(store, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(store, other)
    with pytest.raises(InputError, match="is in both"):
        load_stores([store, other])
    single = load_store(store)
    assert single.config_of(single.networks[0])["data"]["size"] == 1500


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "networks.csv is missing"),
        ({"networks.csv": "network_id,seed\nx,1\n", "betti.csv": ""}, "missing column"),
    ],
)
def test_a_broken_store_is_a_clear_error(tmp_path, capsys, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["report", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_several_stores_need_an_output_folder(store, capsys):
    assert main(["report", str(store), str(store)]) == 2
    assert "need --out" in capsys.readouterr().err


def test_a_missing_directory_is_a_clear_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_figures_that_need_the_data_set_say_why_without_a_config(store, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    (copy / "config.json").unlink()
    assert main(["report", str(copy)]) == 0
    markdown = (copy / "report.md").read_text()
    assert "Not drawn: " in markdown and "the data set cannot be rebuilt" in markdown
    assert "](figures/betti_d-i_4_by_8.png)" in markdown  # the tables need no data set
