"""The static report: site structure, escaping, missing parts, downsampling, thumbnails."""

from __future__ import annotations

import base64
import filecmp
import json
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from emotion_batch.cli import main
from emotion_batch.query import QueryError
from emotion_batch.report import build_report
from emotion_batch.report.build import plotly_js_source
from emotion_batch.report.data import best_second, bin_width, binned_means, strip_segments
from emotion_batch.report.pages.render import page_name


import results_factory as F  # noqa: E402  (tests/report on sys.path, see conftest)


class Page(HTMLParser):
    """Tags, attributes, scripts and visible text of one HTML page."""

    def __init__(self, path: Path):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    def all_text(self) -> str:
        return " ".join(self.text)

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    ids = F.build(tmp / "results", tmp, long=True)
    index = build_report(tmp / "results")
    return index, ids, tmp


def _page(site, key) -> Path:
    index, ids, _ = site
    return index.parent / "videos" / page_name(ids[key])


def test_site_layout_and_links_work_offline(site):
    index, ids, tmp = site
    assert index == tmp / "results" / "report" / "index.html"
    js = index.parent / "assets" / "plotly.min.js"
    assert filecmp.cmp(js, plotly_js_source(), shallow=False)
    pages = sorted(p.name for p in (index.parent / "videos").glob("*.html"))
    assert pages == sorted(page_name(v) for v in ids.values())
    links = [a["href"] for a in Page(index).find("a") if "href" in a]
    assert sorted(Path(h).name for h in links) == pages
    for p in [index, *(index.parent / "videos").glob("*.html")]:
        doc = Page(p)
        for tag, attrs in doc.tags:
            for key in ("src", "href"):
                url = attrs.get(key, "")
                assert not re.match(r"(https?:)?//", url), (p.name, url)  # nothing remote
                if url and not url.startswith(("data:", "#")):
                    assert (p.parent / url).resolve().exists(), (p.name, url)


def test_index_lists_every_video(site):
    index, ids, _ = site
    doc = Page(index)
    text = doc.all_text()
    rows = [a for a in doc.find("tr")]
    assert len(rows) == 1 + len(ids)
    assert "2:00:00" in text and "failed" in text
    assert F.FAIL_ERROR in text  # the error, shown as text
    assert len(doc.find("div", **{"class": "istrip"})) == len(ids) - 1  # failed: no strip
    # sortable headers; search and sort run from a shared script over the data file
    assert len(doc.find("th", **{"class": "sortable", "data-type": "num"})) == 3
    assert doc.find("script", src="assets/index.js") and doc.find("input", id="q")
    assert doc.find("table", id="videos")[0]["data-src"] == "assets/index-data.js"


def test_file_names_and_errors_are_escaped(site):
    index, ids, _ = site
    raw = index.read_text()
    assert "<script>alert" not in raw and "<img src=x" not in raw and "<b>moov" not in raw
    assert "&lt;img src=x onerror=alert(2)&gt;" in raw
    for key, literal in (("b", F.XSS_FILE), ("xss", F.XSS_NAME)):
        page = _page(site, key)
        doc = Page(page)
        assert literal in doc.all_text()  # renders as text...
        assert not any(t == "img" and "onerror" in a for t, a in doc.tags)  # ...never as markup
        assert "alert(" not in "".join(doc.scripts)
    assert Page(_page(site, "b")).find("h1") and F.XSS_FILE in Page(_page(site, "b")).all_text()
    assert Page(index).find("a", title=f"/videos/{F.XSS_NAME}")


def test_failed_video_page(site):
    doc = Page(_page(site, "fail"))
    text = doc.all_text()
    assert F.FAIL_ERROR in text and "No timeline rows" in text
    assert not doc.find("script", src="../assets/plotly.min.js")  # nothing to draw


def test_missing_audio_and_attributions_say_so(site):
    text = Page(_page(site, "xss")).all_text()
    assert "the video has no audio track" in text and "no audio expert output" not in text
    assert "When this face speaks" in text and "not measured (no audio track" in text
    assert text.count("not computed") == 2  # modality of face 0 + feature groups
    full = Page(_page(site, "b"))  # attributions exist for the faces, not the no-face rows
    assert full.all_text().count("not computed") == 1
    assert "not computed for this face" in full.all_text()
    assert "visual expert" in "".join(full.scripts) and "g_" not in "".join(full.scripts)


def page_data(page: Path) -> dict:
    """The page's JSON data island (lanes, chart specs, frames, boxes)."""
    scripts = Page(page).scripts
    return json.loads(scripts[-1])


def _drawn_lengths(page: Path) -> list[int]:
    """Points per time series of the page's detail charts (bar charts have no time axis)."""
    return [len(fig["x"]) - 1 for fig in page_data(page)["figs"]  # the last bin's end is one more x
            if fig["data"][0]["type"] != "bar"]


def test_two_hour_video_is_downsampled(site):
    page = _page(site, "long")
    lengths = _drawn_lengths(page)
    assert lengths and max(lengths) <= 300 and min(lengths) >= 295  # 7200 s in 24 s bins
    assert page.stat().st_size < 1_000_000
    assert "24-second bins" in Page(page).all_text()
    short = _drawn_lengths(_page(site, "b"))
    assert set(short) == {90}  # 90 s video: one point per second


def test_thumbnails_from_the_video_file(site):
    from PIL import Image

    doc = Page(_page(site, "a"))
    thumbs = {a["alt"]: a["src"] for a in doc.find("img", **{"class": "thumb"})}
    assert set(thumbs) == {"face 0", "face 1"}
    for alt, channel in (("face 0", 0), ("face 1", 2)):  # red square, blue square
        assert thumbs[alt] == page_data(_page(site, "a"))["lanes"]["lanes"][channel // 2]["thumb"]
        img = np.asarray(Image.open(_page(site, "a").parent / thumbs[alt]).convert("RGB"), dtype=float)
        h, w, _ = img.shape
        centre = img[h // 3: 2 * h // 3, w // 3: 2 * w // 3].mean((0, 1))
        assert centre[channel] > 150 and centre[channel] > 2.5 * np.delete(centre, channel).max()
    gone = Page(_page(site, "b"))
    assert not gone.find("img", **{"class": "thumb"})
    assert "the video file is no longer at" in gone.all_text() and F.XSS_FILE in gone.all_text()


def test_rebuild_replaces_stale_pages_and_custom_out(site, tmp_path):
    index, ids, tmp = site
    stale = index.parent / "videos" / "old_video.html"
    stale.write_text("old")
    again = build_report(tmp / "results", thumbnails=False)
    assert again == index and not stale.exists()
    other = build_report(tmp / "results", tmp_path / "site", max_points=100)
    assert max(_drawn_lengths(other.parent / "videos" / page_name(ids["long"]))) <= 100


def test_page_names_come_from_video_ids():
    assert page_name("a1b2c3") == "a1b2c3.html"
    weird = ["../../etc/passwd", "<x>", "a b", "a_b", ""]
    names = [page_name(v) for v in weird]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+\.html", n) for n in names)


def test_report_errors(tmp_path):
    with pytest.raises(QueryError, match="results folder not found"):
        build_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(QueryError, match="no results"):
        build_report(tmp_path / "empty")


def test_binning_helpers():
    assert bin_width(7200, 1500) == 5 and bin_width(90, 1500) == 1 and bin_width(0, 1500) == 1
    df = pd.DataFrame({"second": [0, 1, 2, 3, 9], "v": [1.0, 3.0, 5.0, 7.0, 9.0]})
    b = binned_means(df, ["v"], 2, 10)
    assert list(b.index) == [1, 3, 5, 7, 9]
    assert b["v"].tolist()[:2] == [2.0, 6.0] and np.isnan(b["v"].iloc[2]) and b["v"].iloc[4] == 9
    per_second = pd.Series(["happy"] * 6 + ["sad"] * 4, index=range(10))
    segs = strip_segments(per_second, 10, 5, 100.0)
    assert [(s.emotion, s.start_s, s.end_s) for s in segs] == [("happy", 0, 6), ("sad", 6, 10)]
    assert segs[0].w == pytest.approx(60.0) and segs[1].x == pytest.approx(60.0)


def test_report_cli(site, tmp_path):
    _, _, tmp = site
    r = CliRunner().invoke(main, ["report", str(tmp / "results"), "--out", str(tmp_path / "s"),
                                  "--no-thumbnails"])
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1] == str((tmp_path / "s" / "index.html").resolve())
    r = CliRunner().invoke(main, ["report", str(tmp_path / "missing")])
    assert r.exit_code == 1 and r.output.strip() == (
        f"Error: results folder not found: {tmp_path / 'missing'}")


def test_thumbnail_second_prefers_seconds_where_the_face_stays():
    # second 2: best score but the face leaves after 2 of 5 frames (a real sample does this);
    # the face moves (a pan), so the box must be second 1's, not the track's mean (x1 = 20)
    rows = pd.DataFrame({
        "second": [0, 1, 2], "t_start": [0.0, 1.0, 2.0], "t_end": [1.0, 2.0, 3.0],
        "n_frames": [5, 5, 2], "face_score": [0.9991, 0.9996, 0.9999],
        "box_x1": [10.0, 36.0, 14.0], "box_y1": [20.0] * 3, "box_x2": [50.0, 76.0, 54.0],
        "box_y2": [80.0] * 3,
    })
    t, box = best_second(rows)
    assert t == 1.5 and box == (36.0, 20.0, 76.0, 80.0)
    rows["face_score"] = np.nan
    assert best_second(rows) is None


def test_duplicate_rows_are_listed_with_their_original(tmp_path):
    from emotion_batch.run.decide import dup_id
    from emotion_batch.run.storage.store import ResultStore

    store = ResultStore(str(tmp_path / "results"))
    F.add_video(store, "vid_a", "/in/a.mp4", seconds=5, faces=(0,), seed=1)
    did = dup_id("/in/a copy.mp4")
    store.write("videos", did, F.manifest_row(did, "/in/a copy.mp4", status="duplicate", duplicate_of="/in/a.mp4",
                                             faces_found=None, face_seconds=None), F.MODEL)
    index = build_report(tmp_path / "results", thumbnails=False)
    text = Page(index).all_text()
    assert "1 ok, 0 failed, 1 duplicate" in text and "same content as /in/a.mp4" in text
    page = Page(index.parent / "videos" / page_name(did)).all_text()
    assert "Same content as /in/a.mp4" in page and "No timeline rows" in page


def test_a_manifest_warning_is_shown_on_both_pages(tmp_path):
    from emotion_batch.run.storage.store import ResultStore

    store = ResultStore(str(tmp_path / "results"))
    warn = "the audio track ends 3.2 s before the video; its last seconds have no audio reading"
    F.add_video(store, "vid_w", "/in/w.mp4", seconds=5, faces=(0,), seed=1, warning=warn)
    F.add_video(store, "vid_q", "/in/q.mp4", seconds=5, faces=(0,), seed=2)
    index = build_report(tmp_path / "results", thumbnails=False)
    assert Page(index).all_text().count(warn) == 1
    assert warn in Page(index.parent / "videos" / page_name("vid_w")).all_text()
    assert "Warning" not in Page(index.parent / "videos" / page_name("vid_q")).all_text()


# ------------------------------------------------------------------ who speaks

def _face_section(doc_text: str, face: str) -> str:
    """The visible text of one face's section (up to the next face or the end of the faces)."""
    start = doc_text.index(face)
    ends = [doc_text.find(m, start + len(face)) for m in ("Face ", F.NO_FACE_TITLE, "Feature-group")]
    return doc_text[start: min(e for e in ends if e > 0)]


def _voice_counts(rows, face):
    """(seconds the face carried the voice, seconds with a voice while the face was seen)."""
    mine = rows[rows.face_id == face]
    return int(mine.voice_owner.sum()), len(set(mine.second) & set(rows[rows.voice_owner].second))


def test_speaking_strips_and_voice_notes_agree_with_the_data(tmp_path):
    from emotion_batch.run.storage.store import ResultStore

    store = ResultStore(str(tmp_path / "results"))
    clip = F.make_video_file(tmp_path / "clip.mp4")
    talk = F.add_video(store, "talk", str(clip), seconds=40, faces=(0, 1, F.NO_FACE), silent_faces=(1,), seed=5)
    turns = F.add_video(store, "turns", str(clip), seconds=40, faces=(0, 1, F.NO_FACE), seed=5)
    index = build_report(tmp_path / "results", thumbnails=False)

    doc = Page(index.parent / "videos" / page_name("talk"))
    text, scripts = doc.all_text(), "".join(doc.scripts)
    face0, face1 = _face_section(text, "Face 0"), _face_section(text, "Face 1")
    owned, heard = _voice_counts(talk.to_pandas(), 0)
    assert f"the {owned} of {heard} seconds with speech in which this face carried the voice" in face0
    # face 1 never speaks: its audio reading is not drawn for it, and the page says where it is
    assert "this face never carried the voice" in face1 and "No face / voice" in face1
    assert "carries the voice in no second" in face1
    assert "no audio track" not in text and "no fused probabilities" not in text
    assert "When this face speaks" in text and "Voice with no visible speaker" in text
    # face 0 and the voice row draw a speaking chart; face 1, which never speaks, has one line instead
    assert scripts.count('"carries the voice"') == 2 and scripts.count('"speaker_p"') == 1

    text = Page(index.parent / "videos" / page_name("turns")).all_text()
    for face in (0, 1):  # turn-taking: each face carried the voice in part of the seconds it heard one
        owned, heard = _voice_counts(turns.to_pandas(), face)
        assert 0 < owned < heard
        assert f"the {owned} of {heard} seconds with speech" in _face_section(text, f"Face {face}")
    assert "never carried the voice" not in text


def test_fused_note_names_the_real_reason(tmp_path):
    """A voice row whose seconds have too little speech: audio expert drawn, no fused output."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from emotion_batch.run.storage.store import ResultStore

    store = ResultStore(str(tmp_path / "results"))
    tl = F.timeline_rows("quiet", 20, (F.NO_FACE,), True, seed=6)
    nulls = pa.nulls(len(tl), pa.float32())
    for c in [*F.prob_columns("p"), "confidence", "w_visual", "w_audio"]:
        tl = tl.set_column(tl.schema.get_field_index(c), c, nulls)
    tl = tl.set_column(tl.schema.get_field_index("emotion"), "emotion", pa.nulls(len(tl), pa.string()))
    tl = tl.set_column(tl.schema.get_field_index("voice_owner"), "voice_owner", pc.equal(tl["second"], -5))
    store.write("timelines", "quiet", tl, F.MODEL)
    store.write("videos", "quiet", F.manifest_row("quiet", "/videos/quiet.mp4", duration_s=20.0, faces_found=0,
                                                   face_seconds=0), F.MODEL)
    index = build_report(tmp_path / "results", thumbnails=False)
    doc = Page(index.parent / "videos" / page_name("quiet"))
    text = doc.all_text()
    assert "too little speech for fusion to use the audio expert" in text
    assert "no face and no audio" not in text and "audio expert" in "".join(doc.scripts)
