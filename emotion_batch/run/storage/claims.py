"""Per-video claims: two runs into the same results folder never analyse a video at once.

Before a run analyses a video it creates `<results>/claims/<video_id>.claim`, a small JSON
record of who holds it (host, pid, run id, start time); the claim is removed once the video's
manifest row is written (`drop_claim`, called by `record.record`) or when the run ends. A
second run skips every video that a *live* other run holds and says so.

* Creating a claim is atomic on a local file system: the record is written to a private
  temporary file and hard-linked to the claim name, which fails if the name exists (where
  hard links are not supported, O_CREAT|O_EXCL). On other pyarrow file systems (s3://,
  gs://) it is best effort: check, then write, so two runs starting within the same instant
  may both take a video.
* Liveness: a claim from this host is live while its process runs (and is the same process:
  a reused pid started after the claim does not count). A claim from another host cannot be
  checked, so it is live until it is `STALE_AFTER_S` (24 h) old; after that, or when its
  process is gone, it is abandoned and the next run takes it over.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass

import pyarrow.fs as pafs

from emotion_batch.run.storage.output import write_failure

CLAIM_DIR = "claims"
STALE_AFTER_S = 24 * 3600.0
UNREADABLE_GRACE_S = 60.0  # a claim that cannot be parsed is being written, or junk once older


@dataclass(frozen=True)
class Claim:
    host: str
    pid: int
    run_id: str
    started_at: float  # epoch seconds

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
        return f"pid {self.pid} on {self.host} since {when}"


def claim_path(root: str, video_id: str) -> str:
    return f"{root}/{CLAIM_DIR}/{video_id}.claim"


def drop_claim(fs: pafs.FileSystem, root: str, video_id: str) -> None:
    """Remove a video's claim, whoever holds it (its manifest row is written: it is finished)."""
    try:
        fs.delete_file(claim_path(root, video_id))
    except (FileNotFoundError, OSError):
        pass


def _pid_alive(pid: int, since: float) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    try:
        import psutil

        return psutil.Process(pid).create_time() <= since + 1.0  # else the pid was reused
    except Exception:  # psutil missing or the process just ended: trust os.kill
        return True


class Claims:
    """The claims of one results root, taken on behalf of one run (`run_id`)."""

    def __init__(self, fs: pafs.FileSystem, root: str, run_id: str | None = None,
                 stale_after_s: float = STALE_AFTER_S, claim_as: Claim | None = None):
        """`claim_as`: take claims in the name of another process of this run (the Ray driver,
        whose planning tasks claim videos), else this process under `run_id`."""
        self.fs, self.root = fs, root
        self.local = isinstance(fs, pafs.LocalFileSystem)
        self.me = claim_as or Claim(socket.gethostname(), os.getpid(), run_id or uuid.uuid4().hex, time.time())
        self.stale_after_s = stale_after_s
        self.held: set[str] = set()
        try:
            self.fs.create_dir(f"{root}/{CLAIM_DIR}", recursive=True)
        except OSError as e:
            raise write_failure(e, root) from e

    # reading ------------------------------------------------------------------------
    def read(self, video_id: str) -> Claim | None:
        """The claim on `video_id`, None if there is none; an unparsable one reads as a
        claim of unknown owner made when the file was last modified."""
        path = claim_path(self.root, video_id)
        try:
            with self.fs.open_input_stream(path) as f:
                raw = f.read()
        except (FileNotFoundError, OSError):
            if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
                return None
            raw = b""
        try:
            d = json.loads(raw)
            return Claim(str(d["host"]), int(d["pid"]), str(d["run_id"]), float(d["started_at"]))
        except (ValueError, KeyError, TypeError):
            info = self.fs.get_file_info(path)
            if info.type == pafs.FileType.NotFound:
                return None
            mtime = info.mtime.timestamp() if info.mtime else 0.0
            return Claim("?", -1, "?", mtime)

    def is_live(self, claim: Claim) -> bool:
        """Whether the claim's run may still be working on the video (see module doc)."""
        age = time.time() - claim.started_at
        if claim.pid < 0:  # unparsable: being written right now, or junk
            return age < UNREADABLE_GRACE_S
        if claim.host == self.me.host:
            return _pid_alive(claim.pid, claim.started_at)
        return age < self.stale_after_s

    def holder(self, video_id: str) -> Claim | None:
        """The live claim of *another* run on `video_id`, else None."""
        c = self.read(video_id)
        if c is None or c.run_id == self.me.run_id or not self.is_live(c):
            return None
        return c

    def live_ids(self) -> set[str]:
        """Videos that live other runs hold now."""
        sel = pafs.FileSelector(f"{self.root}/{CLAIM_DIR}", allow_not_found=True)
        ids = {os.path.basename(i.path)[: -len(".claim")] for i in self.fs.get_file_info(sel)
               if i.path.endswith(".claim")}
        return {v for v in ids if self.holder(v) is not None}

    # taking and releasing -------------------------------------------------------------
    def take(self, video_id: str) -> Claim | None:
        """Claim `video_id` for this run: None when it is ours now, else the live claim of
        the other run that holds it. An abandoned claim is taken over."""
        for _ in range(3):
            try:
                created = self._create(video_id)
            except OSError as e:  # disk full, read-only: the run cannot go on
                raise write_failure(e, self.root) from e
            if created:
                self.held.add(video_id)
                return None
            other = self.read(video_id)
            if other is None:
                continue  # released in between: try again
            if other.run_id == self.me.run_id:
                self.held.add(video_id)
                return None
            if self.is_live(other):
                return other
            drop_claim(self.fs, self.root, video_id)  # abandoned: take it over
        return self.read(video_id)

    def release(self, video_id: str) -> None:
        """Drop our claim on `video_id` (not one another run took since)."""
        if video_id in self.held:
            self.held.discard(video_id)
            c = self.read(video_id)
            if c is not None and c.run_id == self.me.run_id:
                drop_claim(self.fs, self.root, video_id)

    def release_all(self) -> None:
        for vid in list(self.held):
            self.release(vid)

    def release_run(self) -> None:
        """Drop every claim of this run, wherever in the run it was taken (the Ray layer's
        planning tasks take them in other processes)."""
        sel = pafs.FileSelector(f"{self.root}/{CLAIM_DIR}", allow_not_found=True)
        for info in self.fs.get_file_info(sel):
            if info.path.endswith(".claim"):
                vid = os.path.basename(info.path)[: -len(".claim")]
                c = self.read(vid)
                if c is not None and c.run_id == self.me.run_id:
                    drop_claim(self.fs, self.root, vid)

    def release_abandoned(self) -> int:
        """Drop every claim whose run is no longer live (a driver that was ended from
        outside); returns how many. The next run would take them over anyway."""
        n = 0
        sel = pafs.FileSelector(f"{self.root}/{CLAIM_DIR}", allow_not_found=True)
        for info in self.fs.get_file_info(sel):
            if info.path.endswith(".claim"):
                vid = os.path.basename(info.path)[: -len(".claim")]
                c = self.read(vid)
                if c is not None and c.pid >= 0 and not self.is_live(c):
                    drop_claim(self.fs, self.root, vid)
                    n += 1
        return n

    def _create(self, video_id: str) -> bool:
        """Create the claim file if it does not exist; False if it does."""
        path = claim_path(self.root, video_id)
        data = json.dumps(asdict(self.me)).encode()
        if not self.local:  # best effort: check, then write
            if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
                return False
            with self.fs.open_output_stream(path) as f:
                f.write(data)
            return True
        tmp = f"{self.root}/{CLAIM_DIR}/.{video_id}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.link(tmp, path)  # atomic, and the claim is complete when it appears
            return True
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            return self._create_excl(path, data)  # no hard links here (some network/FUSE file systems)
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

    @staticmethod
    def _create_excl(path: str, data: bytes) -> bool:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return True
