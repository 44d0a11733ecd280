"""The README a new user reads (issue 22): the two commands first, a short quick start with a
picture of the report and one query, then Use / Output / Inputs, a glossary of the terms the
output uses, and working links to what moved to docs/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert m, title
    return m.group(1)


def test_two_commands_then_quick_start_then_use_output_inputs():
    lines = [ln.strip() for ln in README.splitlines() if ln.strip()]
    assert lines[1].startswith("make demo") and lines[2].startswith("make test")
    heads = [ln[3:] for ln in README.splitlines() if ln.startswith("## ")]
    assert heads[0] == "Quick start"
    order = [next(i for i, h in enumerate(heads) if h.startswith(t)) for t in ("Use", "Output", "Inputs")]
    assert order == sorted(order) and order[0] == 1
    quick = _section("Quick start")
    commands = [ln for ln in quick.splitlines() if ln.startswith(("emotion-batch", "pip ", "$ emotion-batch"))]
    assert len(commands) <= 6 and any("query" in c for c in commands)
    for picture in re.findall(r"\]\((docs/[^)]+\.png)\)", quick):
        assert (ROOT / picture).stat().st_size > 10_000  # a real screenshot, committed
    assert "docs/report.png" in quick


def test_glossary_names_the_terms_the_output_uses():
    glossary = _section("Glossary")
    for term in ("face_id", "speaker_p", "av_offset_s", "w_visual", "w_audio", "gate", "duplicate", "claim",
                 "voice_owner", "video_id", "x real time"):
        assert term in glossary, term


def test_links_resolve_and_the_long_notes_live_in_docs():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), target
    for doc in ("docs/performance.md", "docs/design-notes.md"):
        assert doc in README and (ROOT / doc).is_file()
    assert "## Performance" not in README and len(README.splitlines()) < 260


def test_links_in_the_moved_docs_resolve():
    for doc in ("performance.md", "design-notes.md"):
        text = (ROOT / "docs" / doc).read_text()
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (ROOT / "docs" / target).exists(), (doc, target)
