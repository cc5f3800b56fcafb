"""Server-side pages. Step 1 serves a read-only overview; Step 6 builds the console."""

from __future__ import annotations

import functools
from importlib import resources

from werkzeug.wrappers import Response


@functools.cache
def _index_html() -> str:
    return resources.files("services.gateway").joinpath("static/index.html").read_text("utf-8")


def index_page() -> Response:
    return Response(_index_html(), mimetype="text/html", headers={
        "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                   "style-src 'self' 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff"})
