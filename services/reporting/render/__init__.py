"""The monthly report on paper: HTML (with SVG charts drawn here), XLSX and CSV.

Everything is rendered from a ``MonthlyReport`` alone; no figure is computed twice. The charts
the seed report refers to ("如下图所示") are inline SVG whose geometry is computed in Python and
whose text goes through the template, so it is escaped like every other string (autoescape on).
Nothing is fetched at runtime: no JavaScript, no CDN.

CSV is returned as ``str`` starting with a byte-order mark (U+FEFF): encoded as UTF-8 (plain
``"utf-8"``, not ``"utf-8-sig"``, which would add a second one) it makes Excel read the Chinese
headings as UTF-8 instead of the local ANSI code page. Readers should decode with ``utf-8-sig``.

Modules: ``tables`` (the report as tables; labels), ``files`` (CSV, XLSX), ``charts`` (SVG
geometry), ``html`` (the page).
"""

from services.reporting.render.files import CSV_BOM, render_csv, render_xlsx
from services.reporting.render.html import render_html
from services.reporting.render.tables import period_label

__all__ = [
    "CSV_BOM",
    "period_label",
    "render_csv",
    "render_html",
    "render_xlsx",
]
