"""An ejabberd node for the side-by-side run: the Debian package, our config, 127.0.0.1 only.

`Ejabberd` installs the package if missing (apt-get; we run as root), starts a
node with its own config, log and spool directories, registers users and
creates the room through ejabberd's admin commands, and stops the node and the
epmd it started. Use it as a context manager so the node stops even on error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOMAIN = "localhost"
MUC = f"conference.{DOMAIN}"
NODE = "mimibench@localhost"
CTL_CFG = """ERLANG_NODE={node}
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
ERL_MAX_PORTS=65536
ERL_PROCESSES=1000000
EJABBERD_PID_PATH={run}/ejabberd.pid
"""


def ensure_installed() -> None:
    if shutil.which("ejabberdctl"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "ejabberd"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    # The package's own service (default config, all interfaces) must not run beside ours.
    subprocess.run(["ejabberdctl", "stop"], capture_output=True, timeout=60)


class Ejabberd:
    def __init__(self, c2s_port: int = 15222, http_port: int = 15280) -> None:
        self.c2s_port = c2s_port
        self.http_port = http_port
        self.dir = Path(tempfile.mkdtemp(prefix="mimi-peers-ejabberd-"))
        self.started = False
        self.users: set[str] = set()

    def _ctl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["ejabberdctl", "--config-dir", str(self.dir), "-c", str(self.dir / "ejabberdctl.cfg"),
               "-f", str(self.dir / "ejabberd.yml"), "-l", str(self.dir / "log"), "-s", str(self.dir / "spool"),
               "-n", NODE, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check)

    def start(self) -> None:
        ensure_installed()
        for sub in ("log", "spool", "run"):
            (self.dir / sub).mkdir()
        template = (HERE / "ejabberd.yml.in").read_text()
        (self.dir / "ejabberd.yml").write_text(template.format(c2s_port=self.c2s_port, http_port=self.http_port))
        shutil.copy("/etc/ejabberd/inetrc", self.dir / "inetrc")
        (self.dir / "ejabberdctl.cfg").write_text(CTL_CFG.format(node=NODE, run=self.dir / "run"))
        shutil.chown(self.dir, "ejabberd", "ejabberd")
        for path in self.dir.rglob("*"):
            shutil.chown(path, "ejabberd", "ejabberd")
        self.started = True
        self._ctl("start")
        deadline = time.monotonic() + 60
        while self._ctl("status", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"ejabberd did not start; see {self.dir / 'log'}")
            time.sleep(0.5)

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        self._ctl("stop", check=False)
        self._ctl("stopped", check=False, timeout=60)
        # The epmd the node started (bound to 127.0.0.1): only if no other node uses it.
        names = subprocess.run(["epmd", "-names"], capture_output=True, text=True).stdout
        if "name " not in names:
            subprocess.run(["epmd", "-kill"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def pid(self) -> int:
        """The node's beam.smp process."""
        found = subprocess.run(["pgrep", "-f", f"beam.smp.*-s?name {NODE}"], capture_output=True, text=True).stdout.split()
        return int(found[0])

    def __enter__(self) -> Ejabberd:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin commands (ejabberdctl's commands, over mod_http_api on loopback:
    #    one ejabberdctl call starts an Erlang VM, ~1 s, too slow for 500 users) --

    def api(self, command: str, args: dict[str, Any]) -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/api/{command}",
                                         data=json.dumps(args).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def register(self, users: list[str], password: str) -> None:
        for user in users:
            if user not in self.users:
                self.api("register", {"user": user, "host": DOMAIN, "password": password})
                self.users.add(user)

    def create_room(self, name: str) -> str:
        options = {"persistent": "true", "max_users": "10000", "mam": "false", "logging": "false",
                   "allow_private_messages": "false"}
        self.api("create_room_with_opts", {"name": name, "service": MUC, "host": DOMAIN,
                                           "options": [{"name": k, "value": v} for k, v in options.items()]})
        return f"{name}@{MUC}"
