"""Altair charts of the Models page: memory against context, and a capability radar.

Contract (pure functions; nothing here draws):
- :func:`memory_chart` takes :func:`core.memory.memory_curve` rows and returns a
  line per quantization (total GiB against context, log-2 axis) with dashed
  rules at the GPU sizes up to the first one above every line, and a marker at
  the chosen context.
- :func:`radar_points` / :func:`radar_chart`: Altair has no polar mark, so each
  series' polygon is drawn from computed x/y points: capability ``i`` of ``n``
  sits at angle 90° − 360°·i/n (the first at the top, then clockwise), at radius
  = its score in [0, 1]. Rings at 0.25/0.5/0.75/1 and spokes make the grid. A
  capability a series has no score for is left out of its polygon.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from core.probes import CAPABILITY_TITLES

RINGS = (0.25, 0.5, 0.75, 1.0)
RADAR_EXTENT = 1.45  # room for the axis labels outside the unit circle
LABEL_RADIUS = 1.2
# 512 → "512", 4096 → "4K", 131072 → "128K", 1500 → "1.5K" (Vega expression)
TOKENS_LABEL = "datum.value >= 1024 ? format(datum.value / 1024, '.3~f') + 'K' : format(datum.value, ',')"


# --------------------------------------------------------------------------- memory


def gpus_to_draw(gpus: Sequence[float], top_gib: float) -> list[float]:
    """The GPU sizes below the highest line, plus the first one above it (so the chart is not squashed)."""
    shown: list[float] = []
    for size in sorted(gpus):
        shown.append(size)
        if size >= top_gib:
            break
    return shown


def memory_chart(rows: Sequence[Mapping], gpus: Sequence[float], context: int | None = None) -> alt.LayerChart:
    """Total memory (GiB) against context, one line per quantization, GPU sizes as horizontal rules."""
    frame = pd.DataFrame(list(rows))
    quants = list(dict.fromkeys(frame["quant"]))
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("context:Q", title="Context (tokens, log scale)", scale=alt.Scale(type="log", base=2),
                    axis=alt.Axis(values=sorted(set(frame["context"])), labelExpr=TOKENS_LABEL)),
            y=alt.Y("total_gib:Q", title="Total memory (GiB)"),
            color=alt.Color("quant:N", title="Quantization", sort=quants),
            tooltip=[
                alt.Tooltip("quant:N", title="Quantization"),
                alt.Tooltip("context:Q", title="Context", format=","),
                alt.Tooltip("total_gib:Q", title="Total GiB", format=".2f"),
            ],
        )
    )
    sizes = gpus_to_draw(gpus, float(frame["total_gib"].max()))
    gpu_frame = pd.DataFrame({"gib": sizes, "label": [f"{size:g} GB GPU" for size in sizes]})
    rules = alt.Chart(gpu_frame).mark_rule(strokeDash=[5, 4], color="gray").encode(y="gib:Q")
    labels = (
        alt.Chart(gpu_frame)
        .mark_text(align="left", baseline="bottom", dx=4, dy=-2, color="gray")
        .encode(y="gib:Q", x=alt.value(0), text="label:N")
    )
    layers = [lines, rules, labels]
    if context is not None:
        marker = pd.DataFrame({"context": [context]})
        layers.append(alt.Chart(marker).mark_rule(color="firebrick", strokeDash=[2, 2]).encode(x="context:Q"))
    return alt.layer(*layers).properties(title="Total memory against context length", height=380)


# --------------------------------------------------------------------------- radar


def _angle(index: int, count: int) -> float:
    return math.pi / 2 - 2 * math.pi * index / count


def radar_points(series: Mapping[str, Mapping[str, float]], capabilities: Sequence[str]) -> pd.DataFrame:
    """Polygon vertices: one row per (series, capability) with a score, then the first vertex again to close it.

    Columns: series, capability, title, score, x, y, order.
    """
    rows = []
    count = len(capabilities)
    for name, scores in series.items():
        vertices = []
        for index, capability in enumerate(capabilities):
            score = scores.get(capability)
            if score is None:
                continue
            angle = _angle(index, count)
            vertices.append({"series": name, "capability": capability,
                             "title": CAPABILITY_TITLES.get(capability, capability), "score": float(score),
                             "x": score * math.cos(angle), "y": score * math.sin(angle)})  # fmt: skip
        if len(vertices) > 2:
            vertices.append(dict(vertices[0]))
        rows.extend({**vertex, "order": order} for order, vertex in enumerate(vertices))
    return pd.DataFrame(rows, columns=["series", "capability", "title", "score", "x", "y", "order"])


def _grid(capabilities: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    count = len(capabilities)
    rings = [
        {"ring": ring, "order": i, "x": ring * math.cos(_angle(i % count, count)),
         "y": ring * math.sin(_angle(i % count, count))}  # fmt: skip
        for ring in RINGS
        for i in range(count + 1)
    ]
    spokes = [{"x": 0.0, "y": 0.0, "x2": math.cos(_angle(i, count)), "y2": math.sin(_angle(i, count))}
              for i in range(count)]  # fmt: skip
    labels = [
        {"title": CAPABILITY_TITLES.get(c, c), "x": LABEL_RADIUS * math.cos(_angle(i, count)),
         "y": LABEL_RADIUS * math.sin(_angle(i, count))}  # fmt: skip
        for i, c in enumerate(capabilities)
    ]
    return pd.DataFrame(rings), pd.DataFrame(spokes), pd.DataFrame(labels)


def radar_chart(series: Mapping[str, Mapping[str, float]], capabilities: Sequence[str]) -> alt.LayerChart:
    """A radar of capability scores (0 at the centre, 1 on the outer ring), one polygon per series."""
    if not capabilities:
        raise ValueError("A radar needs at least one capability.")
    scale = alt.Scale(domain=[-RADAR_EXTENT, RADAR_EXTENT])
    x = alt.X("x:Q", scale=scale, axis=None)
    y = alt.Y("y:Q", scale=scale, axis=None)
    rings, spokes, labels = _grid(capabilities)
    grid = alt.Chart(rings).mark_line(color="lightgray", strokeWidth=1).encode(x, y, detail="ring:N", order="order:Q")
    rays = alt.Chart(spokes).mark_rule(color="lightgray").encode(x, y, x2="x2:Q", y2="y2:Q")
    names = alt.Chart(labels).mark_text(fontSize=11).encode(x, y, text="title:N")
    points = radar_points(series, capabilities)
    polygons = (
        alt.Chart(points)
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x,
            y,
            color=alt.Color("series:N", title="Configuration", legend=alt.Legend(orient="bottom", columns=1, labelLimit=600)),
            detail="series:N",
            order="order:Q",
            tooltip=["series:N", "title:N", alt.Tooltip("score:Q", format=".2f")],
        )
    )
    return (
        alt.layer(grid, rays, names, polygons)
        .properties(title="Capability radar (0 centre, 1 outer ring)", width=460, height=460)
        .configure_view(stroke=None)
    )
