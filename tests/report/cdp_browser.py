"""Drive headless Chromium over the DevTools protocol, with every network request blocked.

Uses aiohttp's WebSocket client (installed with ray[default]) so no extra package is needed.
`load(url)` returns what the test needs: console errors, uncaught exceptions, log errors,
JavaScript dialogs (an alert() from injected markup would show up here), every requested
URL, the result of a JS expression and a PNG screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
    "--window-size=1280,900", "--remote-debugging-port=0",
]


@dataclass
class PageLoad:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    ready: bool = False
    value: object = None
    png: bytes = b""


class _Tab:
    def __init__(self, ws):
        self.ws, self.ids, self.waiting, self.events = ws, itertools.count(1), {}, []

    async def pump(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            fut = self.waiting.pop(data.get("id"), None)
            if fut is not None:
                fut.set_result(data)
            elif "method" in data:
                self.events.append(data)
                if data["method"] == "Page.javascriptDialogOpening":  # never block on alert()
                    asyncio.ensure_future(self.call("Page.handleJavaScriptDialog", accept=True))

    async def call(self, method, **params):
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.waiting[i] = fut
        await self.ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
        data = await asyncio.wait_for(fut, 60)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data.get("result", {})


def _port(profile: Path, proc: subprocess.Popen, timeout: float = 60) -> int:
    f = profile / "DevToolsActivePort"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if f.exists() and f.read_text().strip():
            return int(f.read_text().split()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


async def _drive(port: int, url: str, expression: str, ready: str, out: PageLoad) -> None:
    import aiohttp

    async with aiohttp.ClientSession(trust_env=False) as s:
        async with s.get(f"http://127.0.0.1:{port}/json/list") as r:
            targets = [t for t in await r.json() if t["type"] == "page"]
        async with s.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tab = _Tab(ws)
            pump = asyncio.ensure_future(tab.pump())
            for domain in ("Page", "Runtime", "Log", "Network"):
                await tab.call(f"{domain}.enable")
            await tab.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                           deviceScaleFactor=1, mobile=False)
            await tab.call("Page.navigate", url=url)
            for _ in range(300):  # up to 30 s for the load event and the page's own scripts
                loaded = any(e["method"] == "Page.loadEventFired" for e in tab.events)
                if loaded:
                    res = await tab.call("Runtime.evaluate", expression=ready, returnByValue=True)
                    if res.get("result", {}).get("value"):
                        out.ready = True
                        break
                await asyncio.sleep(0.1)
            res = await tab.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
            out.value = res.get("result", {}).get("value")
            shot = await tab.call("Page.captureScreenshot", format="png")
            out.png = base64.b64decode(shot["data"])
            await asyncio.sleep(0.2)
            pump.cancel()
    for e in tab.events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.console_errors.append(" ".join(str(a.get("value", a.get("description")))
                                               for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.exceptions.append(d.get("exception", {}).get("description") or d.get("text"))
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.log_errors.append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Page.javascriptDialogOpening":
            out.dialogs.append(p.get("message", ""))
        elif m == "Network.requestWillBeSent":
            out.requests.append(p["request"]["url"])


def load(url: str, expression: str = "null", ready: str = "true") -> PageLoad:
    """Open `url` in a fresh headless Chromium, evaluate `expression` once `ready` is true."""
    if CHROMIUM is None:
        raise FileNotFoundError("chromium not installed")
    # Chromium's helper processes may still be writing the profile while it is removed.
    with tempfile.TemporaryDirectory(prefix="eb-chromium-", ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp) / "profile"
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": tmp}, start_new_session=True,
        )
        try:
            out = PageLoad()
            asyncio.run(asyncio.wait_for(_drive(_port(profile, proc), url, expression, ready,
                                                out), 120))
            return out
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop Chromium and every helper process it started (its own session/process group)."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
            if sig == signal.SIGTERM:
                time.sleep(0.2)  # let the helpers exit too before the group is killed
        except subprocess.TimeoutExpired:
            continue
