"""The progress bar of a run, the same on both engines.

It counts videos, so its total is known from the first line: the files found. A file is
counted when it is settled (analysed, failed, already done, a duplicate, left to another
run); a video being analysed counts by the fraction of its seconds done. The one speed it
shows is "x real time" (video-seconds analysed per second of the run), in the status text,
not tqdm's rate (whose unit flips between "videos/s" and "s/video").
"""

from __future__ import annotations

from tqdm import tqdm

BAR_FORMAT = "{l_bar}{bar}| {n:.1f}/{total:.0f} videos [{elapsed}<{remaining}{postfix}]"


def videos_bar(n_videos: int, *, enabled: bool = True) -> tqdm:
    return tqdm(total=n_videos, disable=not enabled, dynamic_ncols=True, bar_format=BAR_FORMAT)


def status_text(*, analysed_s: float, elapsed_s: float, failed: int = 0, done_before: int = 0,
                busy_workers: int | None = None, checked: int | None = None, n_files: int | None = None) -> str:
    """The words after the bar: video-seconds analysed and the speed, then what else is known."""
    speed = f" ({analysed_s / elapsed_s:.1f}x real time)" if analysed_s > 0 and elapsed_s > 0 else ""
    parts = [f"{analysed_s:.0f} video-s analysed{speed}"]
    if failed:
        parts.append(f"{failed} failed")
    if done_before:
        parts.append(f"{done_before} already done")
    if checked is not None and n_files is not None and checked < n_files:
        parts.append(f"{checked}/{n_files} files checked")
    if busy_workers is not None:
        parts.append(f"{busy_workers} worker{'' if busy_workers == 1 else 's'} busy")
    return ", ".join(parts)


def set_progress(bar: tqdm, n: float, text: str) -> None:
    """Move the bar to `n` videos (never past its total) with `text`, and redraw."""
    bar.n = min(float(bar.total or 0), max(0.0, n))
    bar.set_postfix_str(text, refresh=False)
    bar.refresh()
