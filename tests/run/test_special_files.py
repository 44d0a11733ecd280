"""Special files (FIFO, socket, device) are refused by name, before anything opens them."""

from __future__ import annotations

import os
import socket
import threading

from emotion_batch.run.discover import describe, discover


def _refused_without_opening(path: str, what: str, monkeypatch) -> None:
    opened = []
    real_open = os.open

    def watch(p, *a, **kw):
        if os.fspath(p) == path:
            opened.append(p)
        return real_open(p, *a, **kw)

    monkeypatch.setattr(os, "open", watch)
    done = threading.Event()
    item = []
    t = threading.Thread(target=lambda: (item.append(describe(path)), done.set()), daemon=True)
    t.start()
    assert done.wait(60), "describe blocked on a special file"
    it = item[0]
    assert it.info is None and it.error == f"not a regular file ({what}); only video and audio files are analysed"
    assert not opened


def test_fifo_socket_and_device_are_refused_by_name(tmp_path, monkeypatch):
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    _refused_without_opening(str(fifo), "a named pipe (FIFO)", monkeypatch)
    sock_path = tmp_path / "s.mp4"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        _refused_without_opening(str(sock_path), "a socket", monkeypatch)
    _refused_without_opening("/dev/zero", "a character device", monkeypatch)


def test_a_fifo_in_a_folder_or_given_by_name_is_an_input_to_refuse(tmp_path):
    os.mkfifo(tmp_path / "pipe.mp4")
    assert discover(tmp_path) == [str(tmp_path / "pipe.mp4")]
    assert discover(tmp_path / "pipe.mp4") == [str(tmp_path / "pipe.mp4")]  # not "no videos found"
