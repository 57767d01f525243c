"""The page's files (static/index.html, app.js, style.css), shipped as package data and read once.

One page, views chosen by the address's hash: none (the models), `#run=ID` (a run: jobs, steps, log,
figures, controls), `#model=NAME` (every run of a model and its trend), `#board=ID`, `#compare=A,B`.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

MEDIA_TYPES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}


@cache
def asset(name: str) -> str:
    """One of MEDIA_TYPES' files, as text."""
    if name not in MEDIA_TYPES:
        raise KeyError(name)
    return files("daemon.web").joinpath("static", name).read_text(encoding="utf-8")
