"""The managed Neo4j server: `targetkg neo4j install|start|stop|status|logs`.

Neo4j Community is assembled from Maven Central (no Docker, no tarball download): a small pom
shipped in the package lists `org.neo4j:neo4j`, Neo4j Browser and APOC core, and
`mvn dependency:copy-dependencies` copies the jars into a per-user cache. The server runs as a
real process (`org.neo4j.server.CommunityEntryPoint`) with a generated `neo4j.conf`; its data,
logs and generated password live in the per-user data directory.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psutil

from targetkg.settings import Settings

ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"

# The flags Neo4j's own launcher passes on Java 17 (from the distribution's neo4j.conf).
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
]


class ServerError(RuntimeError):
    """A managed-server problem, worded for the user (what happened and what to do)."""


@dataclass
class StartResult:
    pid: int
    seconds: float
    already_running: bool = False


class ManagedNeo4j:
    def __init__(self, settings: Settings):
        self.s = settings
        self.runtime = settings.runtime_dir
        self.lib = self.runtime / "lib"
        self.plugins = self.runtime / "plugins"
        self.home = settings.instance_dir
        self.conf_dir = self.home / "conf"
        self.data_dir = self.home / "data"
        self.logs_dir = self.home / "logs"
        self.run_dir = self.home / "run"
        self.import_dir = self.home / "import"
        self.pid_file = self.run_dir / "targetkg-neo4j.pid"

    # ------------------------------------------------------------------ install
    @property
    def stamp(self) -> Path:
        return self.runtime / "installed.json"

    def installed(self) -> bool:
        return self.stamp.exists()

    def install(self, force: bool = False, echo=print) -> Path:
        """Copy the server jars from Maven Central into the cache (once; later runs are offline)."""
        if self.installed() and not force:
            return self.runtime
        mvn = shutil.which(self.s.mvn)
        if mvn is None:
            raise ServerError(
                f"Maven ({self.s.mvn!r}) is not on PATH; it is needed once to fetch Neo4j from Maven Central. "
                "Install it (Debian/Ubuntu: apt-get install maven) or point NEO4J_URI at an existing server."
            )
        self._check_java()
        self.runtime.mkdir(parents=True, exist_ok=True)
        template = resources.files("targetkg.graph").joinpath("runtime/pom.xml").read_text(encoding="utf-8")
        pom = (
            template.replace("@NEO4J_VERSION@", self.s.neo4j_version)
            .replace("@APOC_VERSION@", self.s.apoc_version)
            .replace("@BROWSER_VERSION@", self.s.browser_version)
        )
        pom_path = self.runtime / "pom.xml"
        pom_path.write_text(pom, encoding="utf-8")
        staging = self.runtime / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        echo(
            f"Fetching Neo4j {self.s.neo4j_version}, APOC {self.s.apoc_version} and Browser "
            f"{self.s.browser_version} from Maven Central (first run only)…"
        )
        t0 = time.monotonic()
        for out_dir, extra in (
            (staging / "lib", ["-DexcludeArtifactIds=apoc-core"]),
            (staging / "plugins", ["-DincludeArtifactIds=apoc-core", "-DexcludeTransitive=true"]),
        ):
            cmd = [mvn, "-B", "-q", "-f", str(pom_path), "dependency:copy-dependencies",
                   f"-DoutputDirectory={out_dir}", *extra]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise ServerError(f"Maven could not assemble Neo4j (exit {proc.returncode}):\n{tail}")
        for sub in ("lib", "plugins"):
            shutil.rmtree(self.runtime / sub, ignore_errors=True)
            (staging / sub).rename(self.runtime / sub)
        shutil.rmtree(staging, ignore_errors=True)
        jars = sorted(p.name for p in self.lib.glob("*.jar"))
        if not any(j.startswith("neo4j-server-") for j in jars):
            raise ServerError(f"Maven finished but {self.lib} has no neo4j-server jar; the pom resolution is wrong")
        self.stamp.write_text(
            json.dumps(
                {
                    "neo4j": self.s.neo4j_version,
                    "apoc": self.s.apoc_version,
                    "browser": self.s.browser_version,
                    "jars": len(jars),
                    "seconds": round(time.monotonic() - t0, 1),
                },
                indent=2,
            )
        )
        echo(f"Installed {len(jars)} jars into {self.runtime} in {time.monotonic() - t0:.1f}s")
        return self.runtime

    def _check_java(self) -> None:
        java = shutil.which(self.s.java)
        if java is None:
            raise ServerError(f"Java ({self.s.java!r}) is not on PATH; Neo4j 5.26 needs Java 17 (apt-get install openjdk-17-jre-headless)")
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        first = out.splitlines()[0] if out else ""
        if '"17' not in first and '"21' not in first:
            raise ServerError(f"Neo4j 5.26 needs Java 17 or 21; {java} reports: {first}")

    def classpath(self) -> str:
        # Plugins go on the classpath as well: APOC registers its extensions through the
        # service loader, which Neo4j's own launcher also resolves from `plugins/*`.
        return os.pathsep.join([str(self.lib / "*"), str(self.plugins / "*")])

    # ------------------------------------------------------------------ configure
    def write_config(self) -> Path:
        for d in (self.conf_dir, self.data_dir, self.logs_dir, self.run_dir, self.import_dir):
            d.mkdir(parents=True, exist_ok=True)
        s = self.s
        lines = [
            "# Generated by `targetkg neo4j start` from TargetKG settings; edits are overwritten.",
            f"server.default_listen_address={s.listen_address}",
            f"server.default_advertised_address={s.listen_address}",
            f"server.bolt.listen_address={s.listen_address}:{s.bolt_port}",
            f"server.bolt.advertised_address={s.listen_address}:{s.bolt_port}",
            f"server.http.listen_address={s.listen_address}:{s.http_port}",
            f"server.http.advertised_address={s.listen_address}:{s.http_port}",
            "server.http.enabled=true",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            f"server.directories.data={self.data_dir}",
            f"server.directories.logs={self.logs_dir}",
            f"server.directories.plugins={self.plugins}",
            f"server.directories.import={self.import_dir}",
            f"server.directories.run={self.run_dir}",
            f"server.directories.lib={self.lib}",
            f"server.memory.heap.initial_size={s.heap}",
            f"server.memory.heap.max_size={s.heap}",
            f"server.memory.pagecache.size={s.pagecache}",
            "dbms.security.procedures.unrestricted=apoc.*",
            "db.logs.query.enabled=OFF",
            "dbms.usage_report.enabled=false",
        ]
        conf = self.conf_dir / "neo4j.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return conf

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.conf_dir)
        return env

    def _java(self) -> str:
        return shutil.which(self.s.java) or self.s.java

    def run_admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `neo4j-admin` (org.neo4j.cli.AdminTool) from the same jars on this instance."""
        cmd = [self._java(), "-Xmx1g", *JVM_FLAGS[-3:], "-cp", self.classpath(), ADMIN_TOOL, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self._env())
        if check and proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
            raise ServerError(f"neo4j-admin {' '.join(args[:3])} failed (exit {proc.returncode}):\n{tail}")
        return proc

    def _first_start(self) -> bool:
        return not (self.data_dir / "databases" / "system").exists()

    def ensure_password(self) -> str:
        """Generate the password once and set it as the initial password before the first start."""
        pw_file = self.s.password_file
        if pw_file.exists():
            return pw_file.read_text().strip()
        if not self._first_start():
            raise ServerError(
                f"{pw_file} is missing but the database in {self.data_dir} already exists, so its password "
                "is unknown. Restore the file, or remove the instance with `targetkg neo4j reset`."
            )
        password = secrets.token_urlsafe(18)
        pw_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        os.chmod(pw_file, 0o600)
        self.run_admin("dbms", "set-initial-password", password)
        return password

    # ------------------------------------------------------------------ process
    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _is_our_server(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            cmd = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        return ENTRY_POINT in cmd and str(self.conf_dir) in cmd

    def running_pid(self) -> int | None:
        """The pid of this instance's server if it runs; raises on a stale pid file."""
        pid = self._read_pid()
        if pid is None:
            return None
        if self._is_our_server(pid):
            return pid
        raise ServerError(
            f"stale pid file {self.pid_file}: process {pid} is not a running TargetKG Neo4j "
            "(the server was not stopped cleanly). Run `targetkg neo4j stop` to clear it, then start again."
        )

    def _port_in_use(self, port: int) -> str | None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.s.listen_address, port))
            except OSError:
                pass
            else:
                return None
        owner = ""
        try:
            for conn in psutil.net_connections(kind="tcp"):
                if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                    owner = f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                    break
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            pass
        return f"port {port} on {self.s.listen_address} is already in use{owner}"

    def start(self, echo=print) -> StartResult:
        pid = self.running_pid()
        if pid is not None:
            return StartResult(pid=pid, seconds=0.0, already_running=True)
        if not self.installed():
            self.install(echo=echo)
        for port, setting in ((self.s.bolt_port, "TARGETKG_BOLT_PORT"), (self.s.http_port, "TARGETKG_HTTP_PORT")):
            problem = self._port_in_use(port)
            if problem:
                raise ServerError(f"cannot start Neo4j: {problem}. Stop that process or choose another port with {setting}.")
        self.write_config()
        password = self.ensure_password()
        console = self.logs_dir / "console.log"
        cmd = [
            self._java(),
            f"-Xms{self.s.heap}",
            f"-Xmx{self.s.heap}",
            *JVM_FLAGS,
            "-cp",
            self.classpath(),
            ENTRY_POINT,
            f"--home-dir={self.home}",
            f"--config-dir={self.conf_dir}",
        ]
        t0 = time.monotonic()
        with console.open("ab") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._env(), cwd=self.home, start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        try:
            self._wait_ready(proc, password, t0)
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            self.pid_file.unlink(missing_ok=True)
            raise
        return StartResult(pid=proc.pid, seconds=time.monotonic() - t0)

    def _wait_ready(self, proc: subprocess.Popen, password: str, t0: float) -> None:
        """Wait until a real Cypher query answers, not a fixed sleep."""
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

        uri = f"bolt://{self.s.listen_address}:{self.s.bolt_port}"
        deadline = t0 + self.s.start_timeout_s
        while True:
            if proc.poll() is not None:
                raise ServerError(
                    f"Neo4j exited during start (exit code {proc.returncode}). Last log lines:\n{self.tail_logs(25)}"
                )
            try:
                # Auto-commit query: no driver-side retry backoff, so we notice readiness at once.
                with GraphDatabase.driver(uri, auth=("neo4j", password), connection_timeout=2) as drv:
                    with drv.session(database="neo4j") as session:
                        if session.run("RETURN 1 AS ok").single()["ok"] == 1:
                            return
            except AuthError as exc:
                raise ServerError(f"Neo4j started but rejected the stored password in {self.s.password_file}: {exc}") from exc
            except (ServiceUnavailable, SessionExpired, OSError, Exception):  # not up yet
                pass
            if time.monotonic() > deadline:
                raise ServerError(
                    f"Neo4j did not answer a Cypher query within {self.s.start_timeout_s:.0f}s. "
                    f"Last log lines:\n{self.tail_logs(25)}"
                )
            time.sleep(0.25)

    def stop(self, timeout: float = 90.0) -> str:
        pid = self._read_pid()
        if pid is None:
            return "Neo4j is not running."
        if not self._is_our_server(pid):
            self.pid_file.unlink(missing_ok=True)
            return f"Removed stale pid file {self.pid_file} (process {pid} was not running)."
        proc = psutil.Process(pid)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # Neo4j's shutdown hook checkpoints and closes the store
        try:
            proc.wait(timeout=timeout)
            msg = f"Neo4j stopped cleanly in {time.monotonic() - t0:.1f}s."
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            msg = f"Neo4j did not stop within {timeout:.0f}s and was killed; it will recover on next start."
        self.pid_file.unlink(missing_ok=True)
        return msg

    def tail_logs(self, lines: int = 50, name: str = "neo4j.log") -> str:
        path = self.logs_dir / name
        if not path.exists():
            path = self.logs_dir / "console.log"
        if not path.exists():
            return f"(no log yet in {self.logs_dir})"
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 200_000))
            text = fh.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def status(self) -> dict:
        info: dict = {
            "managed": True,
            "installed": self.installed(),
            "neo4j_version": self.s.neo4j_version,
            "runtime": str(self.runtime),
            "home": str(self.home),
            "bolt": f"bolt://{self.s.listen_address}:{self.s.bolt_port}",
            "browser": f"http://{self.s.listen_address}:{self.s.http_port}/browser/",
            "user": "neo4j",
            "password": self.s.password(),
            "password_file": str(self.s.password_file),
        }
        try:
            pid = self.running_pid()
            info["running"] = pid is not None
            info["pid"] = pid
        except ServerError as exc:
            info["running"] = False
            info["problem"] = str(exc)
        return info

    def reset(self) -> None:
        """Delete this instance's data, logs and password (the cached jars stay)."""
        if self._read_pid() is not None and self._is_our_server(self._read_pid() or -1):
            raise ServerError("Neo4j is running; stop it first (`targetkg neo4j stop`).")
        shutil.rmtree(self.home, ignore_errors=True)
