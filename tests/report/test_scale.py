"""The report at scale: incremental builds, the paginated index and its search data, the
index's wording (A/V offset, voice only, rounding), and the persons page's presence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from emotion_batch.report import build_report
from emotion_batch.report.pages import index as index_mod
from emotion_batch.report.pages.index import av_text
from emotion_batch.report.pages.render import page_name
from emotion_batch.run.storage.store import ResultStore

import results_factory as F  # noqa: E402  (tests/report on sys.path, see conftest)
from test_build import Page  # noqa: E402


def _folder(root: Path, n: int) -> ResultStore:
    store = ResultStore(str(root))
    for i in range(n):
        F.add_video(store, f"vid{i:02d}", f"/in/clip_{i:02d}.mp4", seconds=5, faces=(0,), seed=i,
                    explain=False)
    return store


def _mtimes(site: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (site / "videos").glob("*.html")}


def test_incremental_build_renders_only_what_changed(tmp_path):
    store = _folder(tmp_path / "r", 4)
    site = tmp_path / "site"
    build_report(tmp_path / "r", site, thumbnails=False, workers=1)
    first = _mtimes(site)
    state = json.loads((site / "build-state.json").read_text())
    assert sorted(state["videos"]) == [f"vid{i:02d}" for i in range(4)]

    build_report(tmp_path / "r", site, thumbnails=False, workers=1)
    assert _mtimes(site) == first  # nothing changed: no page written again

    F.add_video(store, "vid01", "/in/clip_01.mp4", seconds=7, faces=(0,), seed=9, explain=False)  # re-run
    store.fs.delete_file(store.path("videos", "vid03"))  # issue 26 retires rows out of videos/
    store.fs.delete_file(store.path("timelines", "vid03"))
    F.add_video(store, "vid04", "/in/clip_04.mp4", seconds=5, faces=(0,), seed=4, explain=False)
    build_report(tmp_path / "r", site, thumbnails=False, workers=1)
    now = _mtimes(site)
    assert sorted(now) == ["vid00.html", "vid01.html", "vid02.html", "vid04.html"]
    assert now["vid00.html"] == first["vid00.html"] and now["vid02.html"] == first["vid02.html"]
    assert now["vid01.html"] != first["vid01.html"]
    assert "0:07" in Page(site / "videos" / "vid01.html").all_text()

    build_report(tmp_path / "r", site, thumbnails=True, workers=1)  # other options: all again
    again = _mtimes(site)
    assert all(again[k] != now[k] for k in now)
    build_report(tmp_path / "r", site, thumbnails=True, workers=1, incremental=False)  # --rebuild
    assert all(_mtimes(site)[k] != again[k] for k in again)


@pytest.mark.slow  # starts two worker processes (spawn: each imports pandas and pyarrow)
def test_parallel_build_writes_the_same_pages(tmp_path):
    _folder(tmp_path / "r", 3)
    one = build_report(tmp_path / "r", tmp_path / "one", thumbnails=False, workers=1).parent
    two = build_report(tmp_path / "r", tmp_path / "two", thumbnails=False, workers=2).parent
    for p in (one / "videos").glob("*.html"):
        assert p.read_text() == (two / "videos" / p.name).read_text()


def test_index_is_paginated_with_all_rows_in_the_search_data(tmp_path, monkeypatch):
    monkeypatch.setattr(index_mod, "PAGE_ROWS", 2)
    store = _folder(tmp_path / "r", 5)
    F.add_video(store, "evil", f"/in/{F.XSS_FILE}", seconds=5, faces=(0,), seed=1, explain=False)
    index = build_report(tmp_path / "r", thumbnails=False, workers=1)
    pages = sorted(p.name for p in index.parent.glob("index*.html"))
    assert pages == ["index-2.html", "index-3.html", "index.html"]
    names = []
    for p in ("index.html", "index-2.html", "index-3.html"):
        doc = Page(index.parent / p)
        rows = doc.find("tr")
        assert len(rows) == 1 + 2
        assert sorted(a["href"] for a in doc.find("a") if a["href"].startswith("index")) == sorted(
            set(pages) - {p})  # links to the other pages
        names += [a["title"] for a in doc.find("a") if a["href"].startswith("videos/")]
    assert names[0] == "/in/clip_00.mp4" and names[-1] == f"/in/{F.XSS_FILE}"  # by file name
    data = (index.parent / "assets" / "index-data.js").read_text()
    assert data.startswith("window.EB_INDEX = ") and "<img" not in data and "\\u003cimg" in data
    rows = json.loads(data[len("window.EB_INDEX = "):].rstrip().rstrip(";"))
    assert len(rows) == 6 and {r["name"] for r in rows} >= {F.XSS_FILE, "clip_03.mp4"}
    monkeypatch.setattr(index_mod, "PAGE_ROWS", 250)
    build_report(tmp_path / "r", thumbnails=False, workers=1)
    assert sorted(p.name for p in index.parent.glob("index*.html")) == ["index.html"]  # old pages gone


def test_index_row_wording(tmp_path):
    store = ResultStore(str(tmp_path / "r"))
    F.add_video(store, "measured", "/in/m.mp4", seconds=5, faces=(0,), seed=1, av_offset_s=0.0812345,
                av_confidence=0.71234, t_total=1.23456)
    F.add_video(store, "silent", "/in/s.mp4", seconds=5, faces=(0,), seed=2, av_offset_s=0.0, av_confidence=0.0,
                av_method="container (silent audio)")
    F.add_video(store, "mute", "/in/n.mp4", seconds=5, faces=(0,), audio=False, seed=3, av_offset_s=0.0,
                av_confidence=0.0, av_method="container (no audio stream)")
    F.add_video(store, "voice", "/in/v.mp4", seconds=5, faces=(F.NO_FACE,), seed=4, explain=False)
    index = build_report(tmp_path / "r", thumbnails=False, workers=1)
    text = Page(index).all_text()
    assert "+0.08 s" in text and "confidence 0.71" in text and "0.0812" not in text
    assert "not measured: silent track" in text and "not measured: no audio track" not in text
    assert "no audio track" in text  # the mute video: no track at all
    assert "0.00 s" not in text  # a fallback offset never reads as a measured 0.00 s
    assert text.count("voice only") == 1
    page = Page(index.parent / "videos" / page_name("measured")).all_text()
    assert "1.235" in page and "1.23456" not in page  # manifest numbers rounded
    assert "voice only" in Page(index.parent / "videos" / page_name("voice")).all_text()
    assert av_text({"has_audio": True, "av_method": "container (static mouth (no visible speech motion))"})[0] == (
        "not measured: no visible speech")
    assert av_text({"has_audio": True, "av_method": "container (mouth motion and audio do not match (aligned "
                                                   "r=0.06 < 0.3)); speaking at offset 0"})[0] == (
        "not measured: mouth and voice do not match")
    assert av_text({"has_audio": True, "av_method": "container (a new reason (x))"})[0] == "not measured: a new reason (x)"
    assert av_text({"has_audio": True, "av_method": "dtw", "av_offset_s": -0.123, "av_confidence": None}) == (
        "-0.12 s", None, -0.123)


def test_persons_page_only_with_a_persons_table(tmp_path):
    store = _folder(tmp_path / "r", 2)
    index = build_report(tmp_path / "r", thumbnails=False, workers=1)
    assert not (index.parent / "persons.html").exists()
    assert not Page(index).find("a", href="persons.html")  # no link to a page that is not there
    F.add_persons(tmp_path / "r", {"vid00": {0: 5}, "vid01": {0: 5}})
    build_report(tmp_path / "r", thumbnails=False, workers=1)
    doc = Page(index.parent / "persons.html")
    assert len(doc.find("tr")) == 1 + 1 and "person 5" in doc.all_text()
    assert sorted(a["href"] for a in doc.find("a") if a["href"].startswith("videos/")) == [
        "videos/vid00.html#lane-person-5", "videos/vid01.html#lane-person-5"]
    assert Page(index).find("a", href="persons.html")
    lanes = json.loads(Page(index.parent / "videos" / "vid00.html").scripts[-1])["lanes"]["lanes"]
    assert [lane["name"] for lane in lanes] == ["person 5", "voice"]
    (tmp_path / "r" / "persons" / "persons.parquet").unlink()
    build_report(tmp_path / "r", thumbnails=False, workers=1)
    assert not (index.parent / "persons.html").exists() and not Page(index).find("a", href="persons.html")
    assert store is not None


@pytest.mark.parametrize("bad", ["not json", '{"format": 0, "videos": {}}', '[]'])
def test_an_unreadable_build_state_means_a_full_build(tmp_path, bad):
    _folder(tmp_path / "r", 1)
    site = tmp_path / "site"
    build_report(tmp_path / "r", site, thumbnails=False, workers=1)
    (site / "build-state.json").write_text(bad)
    before = _mtimes(site)
    build_report(tmp_path / "r", site, thumbnails=False, workers=1)
    assert _mtimes(site) != before and re.search(r'"format":1', (site / "build-state.json").read_text())
