"""Charts of a periodic report (通报图表), drawn as small dependency-free SVG from its frozen
snapshot (``reports.build_snapshot``): never from live data, so a published report's charts
never change.

- ``scores``: bar chart of the 三率 composite by department (ranked ones; unranked ones are
  drawn grey and marked 样本不足);
- ``intake``: line chart of the daily intake 每日受理量;
- ``categories``: horizontal bars of intake by category 分类受理量.

Every label is XML-escaped; text is Chinese (font-family lists common CJK fonts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

CHARTS: dict[str, str] = {"scores": "三率综合得分", "intake": "每日受理量",
                          "categories": "分类受理量", "units": "各单位收到批示件"}
# the charts of each report kind (批示件汇总 has its own)
KIND_CHARTS: dict[str, tuple[str, ...]] = {"instructions": ("units",)}
DEFAULT_CHARTS = ("scores", "intake", "categories")


def charts_of(kind: str) -> tuple[str, ...]:
    return KIND_CHARTS.get(kind, DEFAULT_CHARTS)
FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"
WIDTH, HEIGHT = 720, 400
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 60, 20, 50, 90
BAR, GREY, LINE = "#2f6fb5", "#b0b0b0", "#c0392b"


class ChartError(ValueError):
    """A chart this report does not have."""


def render(snapshot: Mapping[str, Any], chart: str) -> str:
    """The SVG document of ``chart`` (one of :data:`CHARTS`) for a report snapshot."""
    if chart not in charts_of(str(snapshot.get("kind"))):
        raise ChartError(chart)
    title = f"{snapshot.get('title', '')} · {CHARTS[chart]}"
    if chart == "units":  # grey: a unit with an instruction overdue without feedback
        units = snapshot["instructions"]["units"]
        return bars(title, [(u.get("label") or u["department"], float(u["received"]),
                             not u["overdue"]) for u in units], unit="件", y_max=None,
                    grey_note="有超期未反馈")
    if chart == "scores":
        return bars(title, [(e["label"], float(e["score"] or 0), bool(e["ranked"]))
                            for e in snapshot["ranking"]], unit="分", y_max=100.0)
    if chart == "intake":
        points = [(d["day"][5:], float(d["intake"])) for d in snapshot["daily_intake"]]
        return line(title, points)
    rows = sorted(snapshot["by"]["category"], key=lambda r: -int(r.get("intake") or 0))
    return bars(title, [(str(r.get("group_label") or r.get("group") or "未分类"),
                         float(r.get("intake") or 0), True) for r in rows], unit="件",
                y_max=None)


def _svg(title: str, body: list[str], width: int = WIDTH, height: int = HEIGHT) -> str:
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family={quoteattr(FONT)} font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2:.0f}" y="28" text-anchor="middle" font-size="16" '
        f'font-weight="bold">{escape(title)}</text>',
        *body, "</svg>", ""])


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    step = 10 ** (len(str(int(v))) - 1)
    return float((int(v / step) + 1) * step)


def _axes(y_max: float, unit: str) -> list[str]:
    x0, y0 = MARGIN_L, HEIGHT - MARGIN_B
    plot_h = HEIGHT - MARGIN_T - MARGIN_B
    out = [f'<line x1="{x0}" y1="{MARGIN_T}" x2="{x0}" y2="{y0}" stroke="#333"/>',
           f'<line x1="{x0}" y1="{y0}" x2="{WIDTH - MARGIN_R}" y2="{y0}" stroke="#333"/>',
           f'<text x="{x0 - 8}" y="{MARGIN_T - 10}" text-anchor="end">{escape(unit)}</text>']
    for i in range(5):
        v = y_max * i / 4
        y = y0 - plot_h * i / 4
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
        if i:
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{WIDTH - MARGIN_R}" y2="{y:.1f}" '
                       'stroke="#e5e5e5"/>')
    return out


def bars(title: str, items: Sequence[tuple[str, float, bool]], unit: str,
         y_max: float | None, grey_note: str = "样本不足，未排名") -> str:
    """Vertical bars with their values on top; ``False`` in an item draws it grey and the
    legend explains it (``grey_note``: 样本不足, not ranked)."""
    if not items:
        return _svg(title, [f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" '
                            'text-anchor="middle">暂无数据</text>'])
    top = y_max or _nice_max(max(v for _, v, _ in items))
    x0, y0 = MARGIN_L, HEIGHT - MARGIN_B
    plot_w, plot_h = WIDTH - MARGIN_L - MARGIN_R, HEIGHT - MARGIN_T - MARGIN_B
    slot = plot_w / len(items)
    bar_w = max(2.0, slot * 0.6)
    body = _axes(top, unit)
    for i, (label, value, normal) in enumerate(items):
        h = plot_h * min(value, top) / top
        x = x0 + slot * i + (slot - bar_w) / 2
        cx = x + bar_w / 2
        body.append(f'<rect x="{x:.1f}" y="{y0 - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{BAR if normal else GREY}"><title>{escape(label)}: {value:g}'
                    f'{escape(unit)}{"" if normal else f"（{escape(grey_note)}）"}</title></rect>')
        body.append(f'<text x="{cx:.1f}" y="{y0 - h - 4:.1f}" text-anchor="middle" '
                    f'font-size="10">{value:g}</text>')
        body.append(f'<text x="{cx:.1f}" y="{y0 + 14}" text-anchor="end" '
                    f'transform="rotate(-40 {cx:.1f} {y0 + 14})">{escape(label[:12])}</text>')
    if any(not normal for _, _, normal in items):
        body.append(f'<rect x="{WIDTH - 150}" y="{MARGIN_T - 14}" width="10" height="10" '
                    f'fill="{GREY}"/><text x="{WIDTH - 135}" y="{MARGIN_T - 5}">'
                    f"{escape(grey_note)}</text>")
    return _svg(title, body)


def line(title: str, points: Sequence[tuple[str, float]]) -> str:
    """A line through the points (label, value), with a dot and the value at each."""
    if not points:
        return _svg(title, [])
    top = _nice_max(max(v for _, v in points))
    x0, y0 = MARGIN_L, HEIGHT - MARGIN_B
    plot_w, plot_h = WIDTH - MARGIN_L - MARGIN_R, HEIGHT - MARGIN_T - MARGIN_B
    step = plot_w / max(1, len(points) - 1)
    xy = [(x0 + step * i if len(points) > 1 else x0 + plot_w / 2, y0 - plot_h * v / top)
          for i, (_, v) in enumerate(points)]
    body = _axes(top, "件")
    body.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
        LINE, " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)))
    every = max(1, len(points) // 16)  # at most ~16 labels on the axis
    for i, ((label, value), (x, y)) in enumerate(zip(points, xy, strict=True)):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{LINE}">'
                    f"<title>{escape(label)}: {value:g}</title></circle>")
        if i % every == 0 or i == len(points) - 1:
            body.append(f'<text x="{x:.1f}" y="{y0 + 14}" text-anchor="end" '
                        f'transform="rotate(-40 {x:.1f} {y0 + 14})">{escape(label)}</text>')
    return _svg(title, body)
