"""`run` end to end through the CLI on test-made videos and every kind of bad input."""

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from emotion_batch.cli import main
from videogen import make_audio_only, make_video


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("inbox")
    (d / "sub dir").mkdir()
    make_video(d / "sub dir" / "interview ü 1.mp4", seconds=2.0)
    good = d / "good.mp4"
    make_video(good, seconds=3.0, faststart=True)
    data = good.read_bytes()
    (d / "good_copy.mp4").write_bytes(data)  # a duplicate: its own manifest row
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mkv").write_text("this is not a video\n" * 20)
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[32:4032] = os.urandom(4000)  # container header destroyed
    (d / "corrupt.mp4").write_bytes(bytes(corrupt))
    make_audio_only(d / "voice.mp4")
    (d / "dangling.mov").symlink_to(d / "gone.mov")
    return d


def _manifest(out):
    return pd.concat([pd.read_parquet(p) for p in (out / "videos").glob("*.parquet")]).set_index("path")


def test_batch_goes_on_and_every_bad_input_is_a_failed_row(folder, tmp_path):
    out = tmp_path / "results"
    r = CliRunner().invoke(main, ["run", str(folder), "--out", str(out), "--no-progress"])
    assert r.exit_code == 1, r.output
    m = _manifest(out)
    status = {os.path.basename(p): s for p, s in m["status"].items()}
    assert status.pop("interview ü 1.mp4") == "ok"
    # the same content twice: one path is analysed, the other gets a `duplicate` row naming it
    # (on Ray, planning tasks run in parallel, so which of the two comes first is not fixed)
    pair = {"good.mp4": status.pop("good.mp4"), "good_copy.mp4": status.pop("good_copy.mp4")}
    assert sorted(pair.values()) == ["duplicate", "ok"], pair
    orig, copy = sorted(pair, key=lambda n: pair[n] == "duplicate")
    # an .mp4 holding only audio is a voice-only timeline, and the manifest says there was no video
    assert status.pop("voice.mp4") == "ok" and not m.loc[str(folder / "voice.mp4"), "has_video"]
    # a recording cut in half is analysed up to where its data ends
    assert status.pop("truncated.mp4") == "ok" and m.loc[str(folder / "truncated.mp4"), "warning"].startswith("truncated")
    assert m.loc[str(folder / copy), "duplicate_of"] == str(folder / orig)
    errors = {os.path.basename(p): e for p, e in m["error"].items() if isinstance(e, str)}
    assert status == {n: "failed" for n in ("empty.mp4", "notes.mkv", "dangling.mov", "corrupt.mp4")}
    assert "empty" in errors["empty.mp4"]
    assert "not a readable media file" in errors["notes.mkv"]
    assert "cannot read the file" in errors["dangling.mov"]
    assert all("\n" not in e for e in errors.values())
    technical = re.compile(r"\[Errno|\.cc:\d+|Check failed|/github/")  # plain reasons only
    assert not any(technical.search(e) for e in errors.values()) and not technical.search(r.output)
    for name in errors:  # the console names every failure too
        assert name in r.output
    assert "FAILED" in r.output and "Analysed 4 videos" in r.output and "4 failed" in r.output
    # the good videos have timelines; the failed ones have none
    tl = {p.stem for p in (out / "timelines").glob("*.parquet")}
    assert set(m[m.status == "ok"]["video_id"]) == tl
    assert "1 duplicate," in r.output or "1 duplicate." in r.output
    log = [ln for ln in r.output.splitlines() if ln.startswith("details: ")][0][len("details: "):]
    assert "notes.mkv" in open(log).read()  # the actor's technical detail went to the run's log


def test_rerun_skips_finished_and_force_redoes(tmp_path):
    src = tmp_path / "one.mp4"
    make_video(src, seconds=1.0)
    out = tmp_path / "res"
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(src), "--out", str(out), "--no-progress"]).exit_code == 0
    first = _manifest(out)["finished_at"].iloc[0]
    r = runner.invoke(main, ["run", str(src), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0 and "Nothing to do: it is already analysed" in r.output  # said before Ray starts
    assert _manifest(out)["finished_at"].iloc[0] == first
    r = runner.invoke(main, ["run", str(src), "--out", str(out), "--no-progress", "--fps", "2"])
    assert "0 already done" in r.output  # other settings: redone
    r = runner.invoke(main, ["run", str(src), "--out", str(out), "--no-progress", "--fps", "2", "--force"])
    assert "Analysed 1 video," in r.output
    assert len(list((out / "timelines").glob("*.parquet"))) == 1  # same content id: no duplicate


def test_bad_option_is_a_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["run", str(tmp_path), "--fps", "0"])
    assert r.exit_code == 2 and "--fps" in r.output


def test_a_bad_fusion_gate_file_is_a_usage_error_that_says_how_to_make_one(tmp_path):
    (tmp_path / "gate.json").write_text("not json")
    r = CliRunner().invoke(main, ["run", str(tmp_path), "--fusion", str(tmp_path / "gate.json")])
    assert r.exit_code == 2 and "not a fusion gate file" in r.output and "train fusion" in r.output


def test_empty_folder_says_what_to_do(tmp_path):
    r = CliRunner().invoke(main, ["run", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no video files found" in r.output  # 2: the run could not proceed


def test_ctrl_c_interrupts_a_run_even_when_sigint_was_inherited_ignored():
    """A process started in the background by a shell without job control (`cmd &` in a
    script) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler:
    `kill -INT` did nothing and the run went on to exit 0. During a run SIGINT interrupts
    anyway; afterwards the inherited disposition is back."""
    code = textwrap.dedent("""
        import os, signal, time
        from emotion_batch.cli.run import ctrl_c_interrupts
        print("inherited ignored:", signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)
        try:
            with ctrl_c_interrupts():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(60)
            print("not interrupted", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        os.kill(os.getpid(), signal.SIGINT)
        print("ignored again:", signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)
    """)
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(repo)),
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert out.stdout.split("\n") == ["inherited ignored: True", "interrupted", "ignored again: True", ""], \
        out.stdout + out.stderr
