"""Rendering a period summary: JSON bytes, an autoescaped HTML page, a 4-panel PNG and a PDF.

The PDF is the HTML page laid out by WeasyPrint with the PNG inlined as a ``data:`` URI; its
fetcher accepts nothing but ``data:`` URIs, so a report never reads a file or the network
whatever the summary holds. WeasyPrint needs Pango (Debian: ``libpango-1.0-0``); without it the
report is saved without a PDF and :func:`pdf_unavailable` says why.
"""

from __future__ import annotations

import base64
import io
import logging
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import orjson

from modelyard.kit.extras import needs

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def to_json(summary: dict[str, Any]) -> bytes:
    return orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def to_html(title: str, summary: dict[str, Any], *, png_name: str | None) -> bytes:
    template = _templates.get_template("weekly.html")
    return template.render(title=title, s=summary, png_name=png_name).encode()


log = logging.getLogger(__name__)


@cache
def pdf_unavailable() -> str | None:
    """Why PDFs cannot be rendered here (None: they can)."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: Pango's shared libraries are missing
        if isinstance(exc, ModuleNotFoundError):
            return f"WeasyPrint is not installed (pip install 'modelyard[reports]'): {exc}"
        return f"WeasyPrint cannot load ({exc}); install Pango (Debian: libpango-1.0-0)"
    return None


def html_to_pdf(html: bytes) -> bytes | None:
    """``html`` (self-contained: its images inlined) as a PDF, or None when WeasyPrint cannot
    run here (logged once)."""
    reason = pdf_unavailable()
    if reason is not None:
        log.warning("reports are saved without a PDF: %s", reason)
        return None
    import weasyprint

    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, timeout=1)
    document = weasyprint.HTML(string=html.decode(), base_url=None, url_fetcher=fetcher)
    pdf: bytes = document.write_pdf()
    return pdf


def inline_png(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def to_pdf(title: str, summary: dict[str, Any], png: bytes) -> bytes | None:
    return html_to_pdf(to_html(title, summary, png_name=inline_png(png)))


def to_png(summary: dict[str, Any]) -> bytes:
    with needs("reports"):
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

    days = summary["period"]["days"]
    labels = [d[5:] for d in days]
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), dpi=100)
    fig.suptitle(f"modelyard performance report {days[0]} to {days[-1]}")

    ax = axes[0][0]
    jobs = summary["jobs"]["per_day"]
    bottom = [0] * len(days)
    for status, color in (
        ("succeeded", "#2a9d8f"),
        ("failed", "#e76f51"),
        ("cancelled", "#adb5bd"),
        ("running", "#457b9d"),
        ("queued", "#f4a261"),
    ):
        values = [jobs.get(day, {}).get(status, 0) for day in days]
        if any(values):
            ax.bar(labels, values, bottom=bottom, label=status, color=color)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("Jobs per day by outcome")
    if any(bottom):
        ax.legend(fontsize=8)

    ax = axes[0][1]
    waits = summary["jobs"].get("wait_samples") or []
    if waits:
        ax.hist(waits, bins=30, color="#457b9d")
    else:
        ax.text(0.5, 0.5, "no jobs started", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Queue wait (s)")

    ax = axes[1][0]
    evaluations = summary["evaluations"]["per_day"]
    ax.bar(labels, [evaluations.get(day, 0) for day in days], color="#6a4c93")
    ax.set_title("Evaluations per day")

    ax = axes[1][1]
    alerts = summary["deployments"]["alerts_per_day"]
    kinds = sorted({k for counts in alerts.values() for k in counts})
    bottom = [0] * len(days)
    for kind in kinds:
        values = [alerts.get(day, {}).get(kind, 0) for day in days]
        ax.bar(labels, values, bottom=bottom, label=kind)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if kinds:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no alerts", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Deployment alerts per day")

    for row in axes:
        for ax in row:
            ax.tick_params(axis="x", labelsize=8, rotation=45)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
