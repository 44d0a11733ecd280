"""The report in a real browser: headless Chromium, network blocked, pages opened from disk.

Checks that the pages render (swim lanes, evidence frame with its boxes, drill-down, detail
charts drawn when opened, index search and sort, persons page), raise no console errors or
exceptions, request nothing but local files, never run injected markup (an alert() dialog
would be caught), and that their screenshots (kept under the test's tmp folder) are not blank.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from emotion_batch.report import build_report
from emotion_batch.report.pages.render import page_name


import cdp_browser as cdp  # noqa: E402  (tests/report on sys.path, see conftest)
import results_factory as F  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(cdp.CHROMIUM is None,
                       reason="chromium is not installed (apt-get install -y chromium)"),
]

LOADED = "document.readyState === 'complete'"
WAIT = """const wait = async (f) => { for (let i = 0; i < 300; i++) { if (f()) return true;
  await new Promise(r => setTimeout(r, 100)); } return false; };"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    ids = F.build(tmp / "results", tmp, long=True)
    return build_report(tmp / "results"), ids


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    """22 face tracks of 20 persons in one 4 s clip (faces 20 and 21 are persons 0 and 1 again),
    a second video with person 0, and the persons table."""
    from emotion_batch.run.storage.store import ResultStore

    tmp = tmp_path_factory.mktemp("crowd")
    store = ResultStore(str(tmp / "results"))
    clip = F.make_video_file(tmp / "crowd <img src=x onerror=alert(3)>.mp4")
    tl = F.timeline_rows("crowd", 4, (*range(22), F.NO_FACE), True, seed=7)
    face = np.asarray(tl["face_id"])
    x1 = np.where(face >= 0, 2 + 26 * (face % 6), np.nan)  # a 6 x 4 grid of boxes inside the frame
    y1 = np.where(face >= 0, 2 + 29 * (face // 6), np.nan)
    for name, arr in (("box_x1", x1), ("box_y1", y1), ("box_x2", x1 + 22), ("box_y2", y1 + 26)):
        tl = tl.set_column(tl.schema.get_field_index(name), name, pa.array(arr, pa.float32(), from_pandas=True))
    store.write("timelines", "crowd", tl, F.MODEL)
    store.write("videos", "crowd", F.manifest_row("crowd", str(clip), duration_s=4.0, faces_found=22), F.MODEL)
    F.add_video(store, "solo", str(clip), seconds=4, faces=(0,), seed=8)
    F.add_persons(tmp / "results", {"crowd": {f: f % 20 for f in range(22)}, "solo": {0: 0}},
                  crop={0: ("solo", 1.5, [20.0, 30.0, 60.0, 80.0])})
    return build_report(tmp / "results")


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


def test_index_searches_and_sorts_every_video(site, tmp_path):
    index, ids = site
    expr = WAIT + """(async () => {
      const ids = () => Array.from(document.querySelectorAll('#videos tbody tr .id')).map(e => e.title);
      const before = ids();
      const q = document.getElementById('q');
      q.value = 'GONE'; q.dispatchEvent(new Event('input'));
      await wait(() => window.EB_INDEX && ids().length < before.length);
      const found = ids(), foundText = document.getElementById('found').textContent;
      q.value = ''; q.dispatchEvent(new Event('input'));
      const th = document.querySelectorAll('#videos th')[2];  // duration
      th.click(); const asc = ids();
      th.click(); const desc = ids();
      return {before, found, foundText, asc, desc, sort: th.getAttribute('aria-sort'),
              strips: document.querySelectorAll('.istrip').length,
              injected: document.querySelectorAll('#videos img').length};
    })()"""
    load = cdp.load(index.as_uri(), expr, LOADED)
    assert load.ready
    _assert_clean(load, index.parent)
    v = load.value
    assert sorted(v["before"]) == sorted(ids.values())
    assert sorted(v["found"]) == ["vid_b", "vid_long"] and v["foundText"] == "2 of 5 videos"  # by path
    assert v["asc"][-1] == "vid_long" and v["asc"][0] == "vid_fail"  # no duration sorts first
    assert v["desc"] == v["asc"][::-1] and v["sort"] == "descending"
    assert v["strips"] == len(ids) - 1 and v["injected"] == 0  # hostile names stay text
    _assert_not_blank(load.png, tmp_path / "index.png")


def test_lanes_evidence_and_detail_charts(site, tmp_path):
    index, ids = site
    page = index.parent / "videos" / page_name(ids["a"])
    expr = WAIT + """(async () => {
      const lanes = Array.from(document.querySelectorAll('#lanes-chart .lane')).map(l => l.dataset.lane);
      const cells = document.querySelectorAll('#lanes-chart rect.cell').length;
      const svg = document.getElementById('frame-svg');
      const boxes = () => Array.from(svg.querySelectorAll('g.face-box')).map(g => g.dataset.id);
      const overview = {second: svg.dataset.second, boxes: boxes(),
                        caption: document.getElementById('frame-caption').textContent};
      const cell = Array.from(document.querySelectorAll('[data-lane="face 1"] rect.cell'))
          .find(r => r.dataset.s === '2');
      cell.dispatchEvent(new MouseEvent('click', {bubbles: true}));
      const clicked = {second: svg.dataset.second, boxes: boxes(), sel: cell.classList.contains('sel'),
                       caption: document.getElementById('frame-caption').textContent,
                       image: svg.querySelector('image').getAttribute('href')};
      const before = document.querySelectorAll('.js-plotly-plot').length;
      document.querySelectorAll('details.face').forEach(d => d.open = true);
      const charts = () => Array.from(document.querySelectorAll('details.face .chart'));
      const drawn = await wait(() => charts().every(d => d._fullLayout && d.querySelector('.main-svg')));
      return {lanes, cells, overview, clicked, before, drawn, charts: charts().length,
              voice: document.querySelector('[data-lane="voice"] .lane-label').textContent,
              plotly: typeof Plotly};
    })()"""
    load = cdp.load(page.as_uri(), expr, LOADED)
    assert load.ready
    _assert_clean(load, index.parent)
    v = load.value
    assert v["lanes"] == ["face 0", "face 1", "voice"] and v["cells"] == 12  # 4 seconds each
    assert v["voice"] == "voice \u00b7 face 0"  # whose voice the lane carries (face 0 speaks in 0-10 s)
    assert v["overview"]["boxes"] == ["face 0", "face 1"] and "overview" in v["overview"]["caption"]
    assert v["clicked"]["second"] == "2" and v["clicked"]["sel"]
    assert v["clicked"]["boxes"] == ["face 0", "face 1"] and "frame at 0:02" in v["clicked"]["caption"]
    assert (page.parent / v["clicked"]["image"]).is_file()
    assert v["before"] == 0 and v["drawn"] and v["charts"] >= 6 and v["plotly"] == "object"  # drawn on opening
    _assert_not_blank(load.png, tmp_path / "video_a.png")


def test_long_video_columns_and_drill_down(site, tmp_path):
    index, ids = site
    page = index.parent / "videos" / page_name(ids["long"])
    expr = """(() => {
      const per = Array.from(document.querySelectorAll('#lanes-chart .lane'))
          .map(l => l.querySelectorAll('rect.cell').length);
      const first = document.querySelector('#lanes-chart .lane rect.cell');
      first.dispatchEvent(new MouseEvent('click', {bubbles: true}));
      const drill = document.getElementById('drill');
      return {per, hidden: drill.hidden, title: drill.querySelector('h3').textContent,
              drillPer: Array.from(drill.querySelectorAll('.lane')).map(l => l.querySelectorAll('rect.cell').length),
              all: document.querySelectorAll('rect.cell').length,
              evidence: document.getElementById('evidence').textContent};
    })()"""
    load = cdp.load(page.as_uri(), expr, LOADED)
    assert load.ready
    _assert_clean(load, index.parent)
    v = load.value
    assert len(v["per"]) == 2 and all(0 < n <= 120 for n in v["per"])  # 2 h in minute columns
    assert not v["hidden"] and v["title"].startswith("0:00")
    assert v["drillPer"] and all(n <= 60 for n in v["drillPer"]) and v["all"] <= 2 * 120 + 2 * 60
    assert "the video file is no longer at" in v["evidence"]  # moved: one line, no frame
    _assert_not_blank(load.png, tmp_path / "video_long.png")


def test_crowd_of_persons_stays_readable(crowd, tmp_path):
    page = crowd.parent / "videos" / page_name("crowd")
    expr = """({lanes: Array.from(document.querySelectorAll('#lanes-chart .lane')).map(l => l.dataset.lane),
               thumbs: document.querySelectorAll('#lanes-chart .lane img').length,
               height: document.getElementById('lanes').offsetHeight,
               boxes: Array.from(document.querySelectorAll('#frame-svg g.face-box')).map(g => g.dataset.id),
               h1: document.querySelector('h1').textContent,
               persons: document.querySelector('header a[href="../persons.html"]') !== null})"""
    load = cdp.load(page.as_uri(), expr, LOADED)
    assert load.ready
    _assert_clean(load, crowd.parent)
    v = load.value
    assert v["lanes"][:2] == ["person 0", "person 1"]  # every lane has 4 s: in name order
    assert sorted(v["lanes"][:-1]) == sorted(f"person {p}" for p in range(20)) and v["lanes"][-1] == "voice"
    assert v["thumbs"] == 20 and v["height"] < 30 * 21 + 200  # one row a lane
    assert len(v["boxes"]) == 22 and set(v["boxes"]) == {f"person {p}" for p in range(20)}
    assert v["h1"] == "crowd <img src=x onerror=alert(3)>.mp4" and v["persons"]
    _assert_not_blank(load.png, tmp_path / "crowd.png")


def test_persons_page_links_to_lanes(crowd, tmp_path):
    persons = crowd.parent / "persons.html"
    expr = """({rows: document.querySelectorAll('#persons tbody tr').length,
               first: document.querySelector('#persons tbody tr').textContent,
               thumb: document.querySelector('#person-0 img').naturalWidth,
               links: Array.from(document.querySelectorAll('#person-0 a')).map(a => a.getAttribute('href')),
               mix: document.querySelectorAll('#persons .istrip').length})"""
    load = cdp.load(persons.as_uri(), expr, "document.readyState === 'complete' && "
                    "document.querySelector('#person-0 img').complete")
    assert load.ready
    _assert_clean(load, crowd.parent)
    v = load.value
    assert v["rows"] == 20 and v["mix"] == 20 and v["thumb"] > 0
    assert sorted(v["links"]) == ["videos/crowd.html#lane-person-0", "videos/solo.html#lane-person-0"]
    _assert_not_blank(load.png, tmp_path / "persons.png")
    target = crowd.parent / "videos" / "crowd.html"
    load = cdp.load(target.as_uri() + "#lane-person-0",
                    "document.querySelector('.lane.hit') && document.querySelector('.lane.hit').id", LOADED)
    assert load.value == "lane-person-0"


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
