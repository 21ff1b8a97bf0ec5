"""AppTest tests of the Models page (specs, memory calculator, capability scorecard), plus its pure helpers.

Every number the page shows is checked against core computed in the test itself
(core.specs, core.memory, core.probes), so the tests pin what the page does with
core's results, not the results. The tiny random Qwen model writes nonsense, so
scorecard tests assert on structure and on agreement with the saved run, never
on a score. Runs use two capabilities in quick mode (four short probes), so the
file runs in well under a minute.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from core.memory import DEFAULT_GPUS, estimate_memory, explain_difference, memory_curve
from core.probes import CAPABILITY_TITLES, PROBES, ProbeStore, compare, select
from core.registry import CONFIG_DIR, REGISTRY, get_spec
from core.specs import count_parameters, specs_for, specs_from_config
from ui.models_charts import gpus_to_draw, radar_points
from ui.models_claims import claims_for, claims_frame
from ui.models_common import format_bytes, format_params, loaded_specs
from ui.models_memory import chart_contexts, measured_vs_estimate
from ui.models_specs import counted_note
from ui.models_scorecard import ProbeConfig, _probe_one, export_files, quick_subset, run_label
from ui.resources import get_pool

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "app_pages/models.py"
FAST_CAPS = ["instruction_following", "multilingual"]  # short prompts, replies of at most 48 tokens


@pytest.fixture(autouse=True)
def _empty_pool():
    """Every test starts with no model loaded in the app's shared pool."""
    get_pool().unload_all()
    yield
    get_pool().unload_all()


def start(monkeypatch: pytest.MonkeyPatch, model: Path | str | None = None) -> AppTest:
    """The app on the Models page, with ``model`` as the sidebar's model (the registry default when None)."""
    if model is None:
        monkeypatch.delenv("PLAYGROUND_DEFAULT_MODEL", raising=False)
    else:
        monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", str(model))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE)
    return run(at)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def load_in_sidebar(at: AppTest) -> AppTest:
    at.sidebar.button(key="model.load").click()
    run(at)
    assert [b for b in at.sidebar.button if b.key == "model.unload"], [e.value for e in at.error]
    return at


# Each table on the page has a column no other table has; tests find tables by it.
TABLES = {
    "specs": "Non-emb. (B)",
    "detail": "Field",
    "claims": "Verdict",
    "breakdown": "Component",
    "scorecard": "Seconds",
    "past": "Started",
    "compare": "capability",
}


def tables(at: AppTest, name: str) -> list:
    return [d.value for d in at.dataframe if TABLES[name] in d.value.columns]


def frame(at: AppTest, name: str):
    found = tables(at, name)
    assert found, f"no {name} table on the page"
    return found[0]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> list[dict]:
    """Every Vega-Lite chart on the page: its spec with its datasets decoded into DataFrames."""
    found = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        spec["_frames"] = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in element.proto.datasets]
        found.append(spec)
    return found


def chart_titled(at: AppTest, prefix: str) -> list[dict]:
    return [c for c in charts(at) if str(c.get("title", "")).startswith(prefix)]


# --- specs ---------------------------------------------------------------------------------------------------


def test_specs_table_lists_every_registry_model_with_its_config_values(monkeypatch):
    """One row per registry alias, in registry order, and every number is the one core.specs computes from the
    shipped config. Qwen2.5-1.5B-Instruct is also checked against its published config.json (28 layers,
    12 query heads, 2 KV heads, vocab_size 151,936)."""
    at = start(monkeypatch)
    table = frame(at, "specs")
    assert list(table["Model"]) == list(REGISTRY)
    for _, row in table.iterrows():
        specs = specs_for(row["Model"])
        assert (row["Layers"], row["Heads"], row["KV heads"], row["Head dim"]) == (
            specs.layers, specs.attention_heads, specs.kv_heads, specs.head_dim)  # fmt: skip
        assert (row["Hidden"], row["FFN"], row["Vocab"], row["Context"]) == (
            specs.hidden_size, specs.ffn_size, specs.vocab_size, specs.context_length)  # fmt: skip
        assert math.isclose(row["Params (B)"], specs.total_params / 1e9)
        assert row["License"] == specs.license and bool(row["Tied emb."]) == specs.tied_embeddings
    qwen = table.set_index("Model").loc["qwen2.5-1.5b-instruct"]
    assert (qwen["Layers"], qwen["Heads"], qwen["KV heads"], qwen["Vocab"]) == (28, 12, 2, 151_936)
    assert qwen["GQA"] == "6:1"
    yarn = table.set_index("Model").loc["qwen2.5-7b-instruct", "YaRN context"]
    assert yarn == specs_for("qwen2.5-7b-instruct").yarn_context_length


def test_detail_view_shows_every_field_and_the_seed_claims_against_the_config(monkeypatch):
    """Picking Qwen2.5-1.5B shows its fields (28 layers, 12 / 2 heads, head dim 128) and the claims table:
    seed 003's 24 layers contradict the config's 28, its hidden size 1,536 matches. A model no seed describes
    (Qwen3-4B) gets no claims table."""
    at = start(monkeypatch)
    at.selectbox(key="models.specs.pick").set_value("qwen2.5-1.5b-instruct")
    run(at)
    detail = frame(at, "detail").set_index("Field")["From the config"]
    assert detail["Layers"] == "28" and detail["Attention heads"] == "12" and detail["Key-value heads"] == "2"
    assert detail["Head dimension"] == "128" and detail["Vocabulary"] == "151,936"
    assert detail["Parameters (total)"] == format_params(specs_for("qwen2.5-1.5b-instruct").total_params)
    claims = frame(at, "claims").set_index("Claim")
    assert claims.loc["Layers (spec table, diagram)", ["Seed says", "Config says", "Verdict"]].tolist() == [
        "24", "28", "✗ contradicts"]  # fmt: skip
    assert claims.loc["Hidden size", "Verdict"] == "✓ matches"

    at.selectbox(key="models.specs.pick").set_value("qwen3-4b")
    run(at)
    assert not tables(at, "claims")
    assert frame(at, "detail").set_index("Field").loc["Context with YaRN", "From the config"] == "131,072"


def test_bad_local_paths_show_a_clear_error(monkeypatch, tmp_path):
    """A path that does not exist, a folder without config.json and a binary file each show core's (or the
    page's) message naming the problem, in the tab, and the rest of the page still renders."""
    binary = tmp_path / "weights.json"
    binary.write_bytes(b"\x00\xff\xfe" * 100)
    cases = {
        "/no/such/model/dir": "No model folder at /no/such/model/dir",
        str(tmp_path): "has no config.json",
        str(binary): "is not UTF-8 text",
    }
    at = start(monkeypatch)
    at.selectbox(key="models.specs.pick").set_value("custom")
    run(at)
    for path, message in cases.items():
        at.text_input(key="models.specs.pick.custom").set_value(path)
        run(at)
        errors = [e.value for e in at.error]
        assert any(message in e for e in errors), errors
        assert frame(at, "specs") is not None and metrics(at)  # specs table and memory tab still drawn


# --- memory --------------------------------------------------------------------------------------------------


def test_memory_tab_matches_core_memory(monkeypatch):
    """For Qwen2.5-1.5B, nf4, 8,192 tokens, batch 2, CUDA: every metric, the breakdown table, the 'fits on'
    badges and the chart's data are what core.memory computes for the same setting."""
    at = start(monkeypatch)
    at.selectbox(key="models.mem.model").set_value("qwen2.5-1.5b-instruct")
    run(at)
    at.selectbox(key="models.mem.quant").set_value("nf4")
    at.number_input(key="models.mem.context").set_value(8192)
    at.number_input(key="models.mem.batch").set_value(2)
    at.selectbox(key="models.mem.device").set_value("cuda")
    run(at)
    specs = specs_for("qwen2.5-1.5b-instruct")
    estimate = estimate_memory(specs, "nf4", 8192, 2, device="cuda")
    shown = metrics(at)
    assert shown["Weights"] == format_bytes(estimate.weights_bytes)
    assert shown["KV cache"] == format_bytes(estimate.kv_cache_bytes)
    assert shown["Activations"] == format_bytes(estimate.activations_bytes)
    assert shown["Overhead"] == format_bytes(estimate.overhead_bytes)
    assert shown["Total"] == format_bytes(estimate.total_bytes)
    table = frame(at, "breakdown").set_index("Component")["Bytes"]
    assert table.to_dict() == {**dict(estimate.breakdown()), "total": estimate.total_bytes}

    badges = next(m.value for m in at.markdown if m.value.startswith("**Fits on**"))
    for gpu in DEFAULT_GPUS:
        fits = gpu in estimate.fits()
        assert (f":green-badge[:material/check: {gpu} GB]" in badges) == fits
        assert (f":red-badge[:material/close: {gpu} GB]" in badges) == (not fits)

    (chart,) = chart_titled(at, "Total memory")
    curve = next(f for f in chart["_frames"] if "total_gib" in f.columns)
    quants = list(dict.fromkeys(curve["quant"]))
    expected = memory_curve(specs, quants, chart_contexts(specs, 8192), 2, device="cuda")
    assert curve["total_bytes"].tolist() == [r["total_bytes"] for r in expected]
    rules = next(f for f in chart["_frames"] if "gib" in f.columns)
    assert rules["gib"].tolist() == gpus_to_draw(DEFAULT_GPUS, max(r["total_gib"] for r in expected))


def test_memory_tab_shows_cores_notes_beyond_the_native_context(monkeypatch):
    """Qwen2.5-7B reaches 131,072 tokens only with YaRN, the 1.5B not at all: at 65,536 tokens each shows
    exactly the notes core.memory attaches to that estimate."""
    at = start(monkeypatch)
    for alias in ("qwen2.5-7b-instruct", "qwen2.5-1.5b-instruct"):
        at.selectbox(key="models.mem.model").set_value(alias)
        at.number_input(key="models.mem.context").set_value(65536)
        run(at)
        quant, device = at.selectbox(key="models.mem.quant").value, at.selectbox(key="models.mem.device").value
        notes = estimate_memory(specs_for(alias), quant, 65536, 1, device=device).notes
        assert notes and [i.value for i in at.info if i.value in notes] == list(notes)
    assert any("YaRN" in n for n in estimate_memory(specs_for("qwen2.5-7b-instruct"), "bf16", 65536).notes)


def test_loaded_tiny_model_shows_counted_parameters_and_measured_memory(monkeypatch, tiny_qwen25_dir):
    """With the tiny model loaded through the sidebar, the Specs tab counts its parameters from the weights
    (equal to the config's: a plain fp32 Qwen2 checkpoint) and the Memory tab sets the measured footprint
    beside the estimate for the setting it was loaded with, with core's explanation of the difference."""
    at = load_in_sidebar(start(monkeypatch, tiny_qwen25_dir))
    name = str(tiny_qwen25_dir)
    (loaded,) = [e.loaded for e in get_pool().entries() if e.key[0] == name]
    total, non_embedding = count_parameters(loaded.model)

    detail = frame(at, "detail").set_index("Field")
    counted = detail.columns[-1]
    assert counted == f"Counted from the weights ({loaded.quant}, {loaded.device})"
    assert detail.loc["Parameters (total)", counted] == format_params(total)
    assert detail.loc["Parameters (non-embedding)", counted] == format_params(non_embedding)
    assert total == specs_for(name).total_params
    assert any("exactly what the config gives" in s.value for s in at.success)

    context = at.number_input(key="models.mem.context").value
    batch = at.number_input(key="models.mem.batch").value
    as_loaded = loaded_specs(loaded)
    assert as_loaded is not None and as_loaded.total_params == specs_for(name).total_params  # nothing untied
    expected = measured_vs_estimate(as_loaded, loaded, context, batch)
    shown = metrics(at)
    assert shown[f"Measured weights ({loaded.quant}, {loaded.device})"] == format_bytes(loaded.memory_bytes)
    assert shown[f"Estimated weights ({loaded.quant})"] == format_bytes(expected.weights_estimate.weights_bytes)
    weights_only = replace(expected.estimate, kv_cache_bytes=0, logits_bytes=0, working_bytes=0, cuda_context_bytes=0)
    assert any(m.value == explain_difference(weights_only, loaded.memory_bytes) for m in at.markdown)


# --- scorecard -----------------------------------------------------------------------------------------------


def choose_probes(at: AppTest, capabilities: list[str] = FAST_CAPS, quick: bool = True) -> AppTest:
    at.multiselect(key="models.probe.caps").set_value(capabilities)
    at.toggle(key="models.probe.quick").set_value(quick)
    return run(at)


def test_scorecard_runs_saves_exports_and_compares(monkeypatch, tiny_qwen25_dir):
    """A run on the tiny model (two capabilities, quick: four probes) fills the scorecard with exactly the
    saved run's capability scores, draws the radar with one polygon per configuration, offers JSON and CSV
    files holding every probe, and the saved run is listed in past runs and preselected for comparison."""
    at = choose_probes(start(monkeypatch, tiny_qwen25_dir))
    at.button(key="models.probe.run").click()
    run(at)
    assert not at.error, [e.value for e in at.error]
    (summary,) = ProbeStore().list_runs()
    saved = ProbeStore().load(summary.run_id)
    expected_probes = quick_subset(select(FAST_CAPS))
    assert [r.probe_id for r in saved.results] == [p.id for p in expected_probes]
    assert saved.complete and saved.config.model == str(tiny_qwen25_dir)

    card = frame(at, "scorecard")
    assert card["Configuration"].tolist() == [run_label(saved)]
    for capability, score in saved.capability_scores().items():
        assert math.isclose(card.loc[0, CAPABILITY_TITLES[capability]], score)
    assert math.isclose(card.loc[0, "Overall"], saved.overall) and card.loc[0, "Run id"] == saved.run_id
    assert any("Finished: 1 of 1" in p.proto.text for p in at.get("progress"))

    radars = chart_titled(at, "Capability radar")
    assert radars
    polygon = next(f for f in radars[0]["_frames"] if "series" in f.columns)
    assert set(polygon["series"]) == {run_label(saved)} and set(polygon["capability"]) == set(FAST_CAPS)

    labels = [b.label for b in at.download_button]
    assert labels == ["Download probe_runs.json", "Download scorecard.csv", "Download probe_results.csv"]
    files = export_files([saved])
    assert json.loads(files["probe_runs.json"][0])[0]["run_id"] == saved.run_id
    assert len(list(csv.DictReader(io.StringIO(files["probe_results.csv"][0])))) == len(expected_probes)

    assert saved.run_id in frame(at, "past")["Run id"].tolist()
    assert at.multiselect(key="models.probe.compare").value == [saved.run_id]
    compared = frame(at, "compare").set_index("capability")
    assert compared.index.tolist() == [CAPABILITY_TITLES[c] for c in FAST_CAPS] + ["overall"]
    assert compared.iloc[:, 0].tolist() == [row[compared.columns[0]] for row in compare([saved])]


def test_a_failing_configuration_is_shown_and_the_others_still_run(monkeypatch, tiny_qwen25_dir):
    """Two configurations: a path that does not exist and the tiny model. The bad one shows the loader's error
    under its own label, the tiny model is still probed and saved, and only its run is in the store."""
    at = choose_probes(start(monkeypatch, tiny_qwen25_dir), ["instruction_following"])
    at.button(key="models.probe.add").click()
    run(at)
    at.selectbox(key="models.probe.1.model").set_value("custom")
    run(at)
    at.text_input(key="models.probe.1.model.custom").set_value("/no/such/model")
    run(at)
    at.button(key="models.probe.run").click()
    run(at)
    bad = ProbeConfig("/no/such/model", at.selectbox(key="models.probe.1.quant").value).label
    assert any(e.value.startswith(bad) for e in at.error), [e.value for e in at.error]
    runs = ProbeStore().list_runs()
    assert [r.model for r in runs] == [str(tiny_qwen25_dir)]
    assert frame(at, "scorecard")["Run id"].tolist() == [runs[0].run_id]


def test_rows_can_be_added_and_removed(monkeypatch, tiny_qwen25_dir):
    """Add gives a second row preset to the sidebar's model; the only row left cannot be removed."""
    at = start(monkeypatch, tiny_qwen25_dir)
    assert at.button(key="models.probe.0.remove").disabled
    at.button(key="models.probe.add").click()
    run(at)
    assert at.selectbox(key="models.probe.1.model").value == str(tiny_qwen25_dir)
    at.button(key="models.probe.0.remove").click()
    run(at)
    assert at.session_state["models.probe.rows"] == [1]
    assert at.button(key="models.probe.1.remove").disabled


class _Interrupted(BaseException):
    """Stands in for Streamlit's StopException / RerunException (BaseException subclasses)."""


def test_an_interrupted_run_saves_the_probes_already_scored(tiny_qwen25):
    """When the script is interrupted from the progress callback after the second probe, the two probes done
    are saved as an incomplete run and the interruption still propagates."""
    probes = quick_subset(select(FAST_CAPS))
    store = ProbeStore()

    def report(index, total, result):
        if index == 2:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        _probe_one(tiny_qwen25, ProbeConfig(tiny_qwen25.name, "fp32"), probes, store, report, 64)
    (summary,) = store.list_runs()
    saved = store.load(summary.run_id)
    assert not saved.complete and [r.probe_id for r in saved.results] == [p.id for p in probes[:2]]


# --- pure helpers --------------------------------------------------------------------------------------------


def test_radar_points_put_scores_on_their_axes_and_close_the_polygon():
    """Capability i of n sits at 90° − 360°·i/n at radius = score: with four axes, the first is straight up
    and the second straight right; the polygon ends where it started; a missing score is left out."""
    caps = ["instruction_following", "system_prompt", "multilingual", "json_output"]
    points = radar_points({"a": dict(zip(caps, [1.0, 0.5, 0.25, 0.0], strict=True))}, caps)
    assert points[["x", "y"]].round(9).values.tolist()[:2] == [[0.0, 1.0], [0.5, 0.0]]
    assert points.iloc[-1][["capability", "x", "y"]].tolist() == points.iloc[0][["capability", "x", "y"]].tolist()
    assert points["order"].tolist() == list(range(5))
    gap = radar_points({"b": {"instruction_following": 1.0, "multilingual": 0.5, "json_output": 1.0}}, caps)
    assert "system_prompt" not in set(gap["capability"])


def test_quick_subset_keeps_the_first_probes_of_each_capability():
    """Quick mode probes every capability, with its first two probes in catalog order."""
    picked = quick_subset(PROBES, 2)
    for capability in {p.capability for p in PROBES}:
        first_two = [p for p in PROBES if p.capability == capability][:2]
        assert [p for p in picked if p.capability == capability] == first_two


def test_claim_verdicts_are_computed_from_the_config():
    """The 24-layer claim contradicts Qwen2.5-1.5B's config; on specs altered to 24 layers it would match,
    so the verdict comes from the config value, not from the table. The 3B's '~40%' GQA saving is 87.5%."""
    specs = specs_for("qwen2.5-1.5b-instruct")
    claim = next(c for c in claims_for(specs) if c.what.startswith("Layers (spec table"))
    assert not claim.verdict(specs) and claim.verdict(replace(specs, layers=24))
    three = claims_frame(specs_for("qwen2.5-3b-instruct")).set_index("Claim")
    assert three.loc["KV-cache saving of GQA (\"~40%\")", "Config says"] == "87.5%"
    assert claims_for(specs_for("qwen3-4b")) == ()


def test_an_untied_lm_head_is_explained_not_flagged():
    """The offline GGUF bundle stores a separate output.weight, so transformers loads Qwen2.5-0.5B with an
    untied lm_head: vocab × hidden more parameters than the published (tied) config. Counted parameters equal
    to the loaded config's are explained as that difference; counts matching neither config are a warning."""
    published = specs_for("qwen2.5-coder-0.5b-offline")
    config = json.loads((CONFIG_DIR / get_spec("qwen2.5-coder-0.5b-offline").config_name).read_text())
    as_loaded = specs_from_config({**config, "tie_word_embeddings": False}, spec=get_spec("qwen2.5-coder-0.5b-offline"))
    extra = published.vocab_size * published.hidden_size
    assert as_loaded.total_params == published.total_params + extra

    level, text = counted_note(published, as_loaded, (as_loaded.total_params, as_loaded.non_embedding_params))
    assert level == "info" and "separate lm_head" in text and f"{extra:,} parameters" in text
    assert counted_note(published, as_loaded, (published.total_params, published.non_embedding_params))[0] == "success"
    assert counted_note(published, as_loaded, (published.total_params + 1, 0))[0] == "warning"


def test_exports_keep_one_csv_header_for_several_runs(tiny_qwen25):
    """Two runs' per-probe CSVs are joined under one header, so the file reads as one table."""
    store = ProbeStore()
    probes = select("instruction_following")[:1]
    runs = [_probe_one(tiny_qwen25, ProbeConfig(tiny_qwen25.name, "fp32"), probes, store, lambda *a: None, 64)
            for _ in range(2)]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(export_files(runs)["probe_results.csv"][0])))
    assert [r["run_id"] for r in rows] == [runs[0].run_id, runs[1].run_id]
    assert len(json.loads(export_files(runs)["probe_runs.json"][0])) == 2
