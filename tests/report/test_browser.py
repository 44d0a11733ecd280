"""The report in a real browser: headless Chromium, network blocked, pages opened from disk.

Checks that the pages render (plotly figures drawn, sortable table works), raise no console
errors or exceptions, request nothing but local files, never run injected markup (an
alert() dialog would be caught), and that their screenshots are not blank.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from emotion_batch.report import build_report
from emotion_batch.report.pages import page_name


import cdp_browser as cdp  # noqa: E402  (tests/report on sys.path, see conftest)
import results_factory as F  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(cdp.CHROMIUM is None,
                       reason="chromium is not installed (apt-get install -y chromium)"),
]

PLOTS_DRAWN = (
    "document.querySelectorAll('.plotly-graph-div').length > 0 && "
    "Array.from(document.querySelectorAll('.plotly-graph-div'))"
    ".every(d => d._fullLayout && d.querySelector('.main-svg'))"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    ids = F.build(tmp / "results", tmp, long=True)
    return build_report(tmp / "results"), ids


def _assert_clean(load, site_dir: Path):
    assert load.console_errors == []
    assert load.exceptions == []
    assert load.log_errors == []
    assert load.dialogs == []  # no injected script ran
    for url in load.requests:  # offline: local files of the site and inline data only
        assert url.startswith("data:") or (
            url.startswith("file://") and Path(url[7:]).resolve().is_relative_to(site_dir)
        ), url


def _assert_not_blank(png: bytes, path: Path):
    from PIL import Image

    path.write_bytes(png)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (1280, 900)
    px = np.asarray(img)
    assert px.std() > 20
    colours = np.unique(px.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 50


def test_index_renders_and_sorts(site, tmp_path):
    index, ids = site
    expr = """(() => {
      const names = () => Array.from(document.querySelectorAll('#videos tbody tr'))
          .map(r => r.querySelector('.muted').textContent);
      const before = names();
      const th = document.querySelectorAll('#videos th')[2];  // duration
      th.click(); const asc = names();
      th.click(); const desc = names();
      return {before, asc, desc, strips: document.querySelectorAll('svg.strip').length,
              sort: th.getAttribute('aria-sort'), title: document.title};
    })()"""
    load = cdp.load(index.as_uri(), expr, "document.readyState === 'complete'")
    assert load.ready
    _assert_clean(load, index.parent)
    v = load.value
    assert sorted(v["before"]) == sorted(ids.values())
    assert v["asc"][-1] == "vid_long" and v["asc"][0] == "vid_fail"  # no duration sorts first
    assert v["desc"] == v["asc"][::-1] and v["sort"] == "descending"
    assert v["strips"] == len(ids) - 1
    _assert_not_blank(load.png, tmp_path / "index.png")


@pytest.mark.parametrize("key", ["b", "long"])
def test_video_page_draws_charts(site, tmp_path, key):
    index, ids = site
    page = index.parent / "videos" / page_name(ids[key])
    expr = """({plots: document.querySelectorAll('.plotly-graph-div').length,
               drawn: Array.from(document.querySelectorAll('.plotly-graph-div'))
                   .filter(d => d._fullLayout && d.querySelector('.main-svg')).length,
               plotly: typeof Plotly, h1: document.querySelector('h1').textContent,
               injected: document.querySelectorAll('main img[onerror], header img').length})"""
    load = cdp.load(page.as_uri(), expr, PLOTS_DRAWN)
    assert load.ready, "the plotly figures were not all drawn"
    _assert_clean(load, index.parent)
    v = load.value
    assert v["plotly"] == "object" and v["plots"] >= 4 and v["drawn"] == v["plots"]
    assert v["injected"] == 0
    if key == "b":
        assert v["h1"] == F.XSS_FILE  # the hostile file name is plain text
    _assert_not_blank(load.png, tmp_path / f"{key}.png")


def test_harness_catches_errors_dialogs_and_requests(tmp_path):
    # the checks above can fail: a hostile page trips every one of them
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><body><p>x</p>"
        "<img src=x onerror=\"alert('xss')\">"
        "<script src=\"https://cdn.example.com/lib.js\"></script>"
        "<script>console.error('boom'); undefinedFunction();</script>"
        "</body></html>"
    )
    load = cdp.load(page.as_uri(), "document.querySelectorAll('p').length",
                    "document.readyState === 'complete'")
    assert load.ready and load.value == 1
    assert load.dialogs == ["xss"]
    assert any("boom" in e for e in load.console_errors)
    assert any("undefinedFunction" in (e or "") for e in load.exceptions)
    assert any(u.startswith("https://cdn.example.com") for u in load.requests)
    assert load.log_errors  # the blocked CDN script and missing image are logged
