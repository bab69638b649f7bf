"""layer_report counts what the paper's Table 1 counts, and says where the paper's print is off."""

import re

import pytest

from inception_nb.model import InceptionV1
from inception_nb.lesson.report import (
    PAPER_TABLE1, LayerReport, comparison_to_markdown, layer_report, paper_comparison, torchsummary_table,
)

SEED_LAYERS = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
               "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
               "inception5a", "inception5b", "classifier"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def seed_report() -> LayerReport:
    return layer_report(InceptionV1(), 224)


@pytest.fixture(scope="module")
def comparison(seed_report):
    return {row.stage: row for row in paper_comparison(seed_report)}


def test_seed_costs_1_58_billion_multiply_adds(seed_report):
    assert seed_report.total_macs == pytest.approx(1.58e9, rel=0.01)
    assert sum(row.macs for row in seed_report.rows) == seed_report.total_macs
    assert seed_report.total_params == sum(row.params for row in seed_report.rows) == 7_012_472


def test_rows_follow_the_network_with_output_shapes(seed_report):
    assert [row.name for row in seed_report.rows] == SEED_LAYERS
    assert seed_report["conv1"].output_shape == (64, 112, 112)
    assert seed_report["inception4e"].output_shape == (832, 14, 14)
    assert seed_report["inception5b"].output_shape == (1024, 1, 1)
    assert seed_report["classifier"].output_shape == (1000,)
    assert seed_report["maxpool1"].macs == 0 and seed_report["maxpool1"].params == 0
    assert seed_report["conv1"].macs == 7 * 7 * 3 * 64 * 112 * 112


@pytest.mark.parametrize("stage, printed_millions", [
    ("convolution 3x3/1", 360), ("inception (3a)", 128), ("inception (3b)", 304), ("inception (4a)", 73),
    ("inception (4b)", 88), ("inception (4c)", 100), ("inception (4d)", 119), ("inception (4e)", 170),
    ("inception (5b)", 71),
])
def test_stages_match_the_papers_ops_within_two_percent(comparison, stage, printed_millions):
    row = comparison[stage]
    assert row.paper_ops == printed_millions * 1_000_000
    assert row.ratio == pytest.approx(1.0, abs=0.02)
    assert row.note == ""


def test_linear_layer_matches_the_papers_rounded_one_million(comparison):
    # 1024 x 1000 = 1.024M: 2.4 % above the printed "1M", which only has one significant digit.
    row = comparison["linear"]
    assert row.ours_macs == 1024 * 1000
    assert abs(row.ours_macs - row.paper_ops) < 0.5e6
    assert "rounds" in row.note


def test_known_discrepancies_are_flagged(comparison):
    conv1, five_a = comparison["convolution 7x7/2"], comparison["inception (5a)"]
    assert conv1.paper_ops == 34_000_000 and conv1.ours_macs == pytest.approx(118e6, rel=0.01)
    assert "118M" in conv1.note
    assert five_a.paper_ops == 54_000_000 and five_a.ours_macs == pytest.approx(51e6, rel=0.01)
    assert "51M" in five_a.note
    assert [row.note != "" for row in comparison.values()].count(True) == 3  # conv1, 5a, linear


def test_paper_table1_holds_the_printed_figures():
    by_name = {row.name: row for row in PAPER_TABLE1}
    assert (by_name["convolution 7x7/2"].params_k, by_name["convolution 7x7/2"].ops_m) == (2.7, 34)
    assert (by_name["inception (5b)"].params_k, by_name["inception (5b)"].ops_m) == (1388, 71)
    assert sum(row.ops_m for row in PAPER_TABLE1) == 1502  # the paper's printed ops add up to 1.5G


def test_tables_are_readable_with_thousands_separators(seed_report, comparison):
    text, markdown = str(seed_report), seed_report.to_markdown()
    for table in (text, markdown):
        assert "1,582,671,872" in table and "7,012,472" in table and "inception3a" in table
    assert re.search(r"^\| conv1 \| 64 x 112 x 112 \| 9,472 \| 118,013,952 \|$", markdown, flags=re.M)
    assert "| inception (5a) | 51.1 | 54 | 0.95 |" in comparison_to_markdown(list(comparison.values()))


def test_input_size_as_int_or_tuple_and_the_errors():
    model = InceptionV1(num_classes=10, in_channels=1, preset="paper", aux_logits=True).train()
    report = layer_report(model, 72)
    assert report.input_size == (1, 72, 72) and report == layer_report(model, (1, 72, 72))
    assert model.training, "the report must leave the model in the mode it found it in"
    assert report["aux1"].output_shape is None and report["aux1"].params == 2_174_090  # heads idle in eval
    assert report.total_params == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="channels"):
        layer_report(model, (3, 72, 72))
    with pytest.raises(ValueError, match="input_size"):
        layer_report(model, "72")
    with pytest.raises(ValueError, match="224"):
        paper_comparison(report)
    with pytest.raises(ValueError, match="at least 15"):
        layer_report(InceptionV1(preset="torchvision"), 8)


def test_torchsummary_table_prints_the_seed_rows():
    text = torchsummary_table("seed", image_size=32, num_classes=10)
    assert len(re.findall(r"^\s*\w+-\d+\s", text, flags=re.M)) == 190
    assert re.search(r"Linear-190\s+\[-1, 10\]\s+10,250", text)
