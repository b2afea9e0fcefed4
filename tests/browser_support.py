"""Helpers for the browser tests (tests/test_browser.py): a Jupyter server in its own process group,
headless Chromium driven by Playwright, and the artefact folder for screenshots and server logs.

Nothing here is a test; pytest does not collect this module.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("XAI_ARTIFACTS", REPO / "build" / "artifacts")) / "browser"

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Generous: two cores, and another pytest worker busy on the other one.
SERVER_START_TIMEOUT = 120      # s, until /api/status answers
SERVER_STOP_TIMEOUT = 15        # s, after SIGTERM, before SIGKILL

# JupyterLab user settings for a scripted session: no news / update toasts over the notebook, and
# every cell attached to the DOM (no windowing), so a cell is found by its index in the notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    pass


class JupyterServer:
    """``jupyter lab`` or ``jupyter server`` on 127.0.0.1, a free port and a random token.

    It runs with ``cwd`` as its working directory (nbgrader's formgrader reads ``nbgrader_config.py``
    from there) and ``root`` as its root dir, in a session of its own so that :meth:`stop` can end it
    and everything it started. Only per-user *state* is redirected to ``state_dir`` (runtime files,
    IPython profile, JupyterLab user settings and workspaces); the config and data paths stay those of
    the virtualenv, where nbgrader's server and lab extensions are installed.
    """

    def __init__(self, app: str, root: Path, log_path: Path, state_dir: Path, cwd: Path | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.app, self.root, self.cwd = app, Path(root), Path(cwd or root)
        self.log_path, self.state_dir = Path(log_path), Path(state_dir)
        self.extra_args = tuple(extra_args)
        self.token = secrets.token_hex(16)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._log = None

    # --- addresses ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, token: bool = True) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}" + (f"{sep}token={self.token}" if token else "")

    def api(self, path: str, method: str = "GET", timeout: float = 5):
        req = urllib.request.Request(f"{self.base_url}/{path.lstrip('/')}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    # --- life cycle --------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # nbgrader runs alembic
        state = {"JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython",
                 "JUPYTERLAB_SETTINGS_DIR": "lab-settings", "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces"}
        for var, sub in state.items():
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(self.state_dir / sub)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("OMP_NUM_THREADS", "1")
        return env

    def _write_lab_settings(self) -> None:
        for rel, values in LAB_SETTINGS.items():
            path = self.state_dir / "lab-settings" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "jupyter", self.app,
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", "--ServerApp.open_browser=False",
               f"--ServerApp.root_dir={self.root}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--ServerApp.allow_root=True")       # containers and CI runners
        if self.app == "lab":
            cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        return cmd + list(self.extra_args)

    def start(self, timeout: float = SERVER_START_TIMEOUT, attempts: int = 3) -> "JupyterServer":
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        self._write_lab_settings()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w", buffering=1)
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            offset = self.log_path.stat().st_size
            self._log.write(f"### attempt {attempt}: {' '.join(self.command())}\n### cwd {self.cwd}\n")
            self._log.flush()
            self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                self._wait_ready(timeout)
                return self
            except ServerError:
                # another process may have taken the free port between bind and listen: try a new one
                self.stop()
                with open(self.log_path, errors="replace") as fh:
                    fh.seek(offset)
                    port_taken = "in use" in fh.read()
                if not port_taken or attempt == attempts:
                    raise ServerError(f"jupyter {self.app} did not come up (log {self.log_path}):\n"
                                      + self.log_tail()) from None
        raise AssertionError("unreachable")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"exited with {self.proc.returncode}")
            try:
                self.api("api/status", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)      # polling interval, not a wait for content
        raise ServerError(f"no answer from /api/status within {timeout} s")

    def _descendants(self) -> list:
        try:
            import psutil
            return psutil.Process(self.proc.pid).children(recursive=True)
        except Exception:  # noqa: BLE001 - psutil missing or the server already gone
            return []

    def stop(self) -> None:
        """Shut the kernels down, then end the server's process group; kill whatever survives."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                for kernel in self.api("api/kernels", timeout=3) or []:
                    with contextlib.suppress(Exception):
                        self.api(f"api/kernels/{kernel['id']}", method="DELETE", timeout=10)
        # kernels run in sessions of their own (jupyter_client); remember them before the server goes
        children = self._descendants()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        for child in children:
            with contextlib.suppress(Exception):
                if child.is_running():
                    child.kill()
        self.proc = None
        if self._log is not None and not self._log.closed:
            self._log.flush()

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> "JupyterServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.close_log()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as err:
            return f"(no server log: {err})"
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def diagnose(name: str, page=None, server: JupyterServer | None = None):
    """On any failure inside the block: save ``<name>-failure.png`` and print the server log's tail
    (pytest shows it under "Captured stdout call"), then re-raise."""
    failure_shot = artifacts() / f"{name}-failure.png"
    failure_shot.unlink(missing_ok=True)        # none left over from an earlier run
    try:
        yield
    except BaseException:
        if page is not None:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(failure_shot), full_page=True)
                print(f"failure screenshot: {failure_shot}")
        if server is not None:
            print(f"--- last lines of {server.log_path} ---\n{server.log_tail()}")
        raise


PROMPT_NUMBER = re.compile(r"^\s*\[\d+\]:\s*$")
