"""Run a job's steps in one container, as Actions runs a job container, through the docker SDK.

The workspace (read-write) and the model (read-only) are mounted at their host paths, so the argv and env
the runner builds need no rewriting and a workflow gives the same outputs here as on the host. Steps run
unprivileged: as `docker.step_user` when benchd is root (the workspace is handed to that user first, except
the daemon's control folder), else as the daemon's own uid:gid; with all capabilities dropped,
no-new-privileges, a memory and a pids limit, no network unless the job asks, and no engine socket.
Everything carries benchd labels; a dead daemon's containers are removed at the next start (`remove_orphans`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
import uuid
from typing import Any

import structlog
from docker.client import DockerClient
from docker.errors import DockerException, NotFound
from docker.types import Mount
from docker.utils import kwargs_from_env
from requests.exceptions import RequestException

from daemon.errors import ConfigError, ExecutorError
from daemon.executors import images, safefs
from daemon.executors.base import JobSpec, StepCommand, StepOutcome
from daemon.executors.logsink import LogSink
from daemon.settings import DockerSettings, Settings

DEFAULT_URL = "unix:///var/run/docker.sock"
LABEL = "benchd.managed"
NOT_PASSED = ("PATH", "HOME")  # the image's PATH, a HOME the step's uid can write
STOP_GRACE_S = 10.0
PIDS_LIMIT = 4096  # processes and threads in one job container (a fork bomb stops here)
CANCELLED = "cancelled: benchd is stopping (the run is queued again for the next start)"
_log = structlog.get_logger("docker")
EngineErrors = (DockerException, RequestException, OSError)


def engine_url(base_url: str | None = None) -> str:
    return base_url or kwargs_from_env().get("base_url") or DEFAULT_URL


def connect(base_url: str | None = None, timeout: float | None = None) -> DockerClient:
    """A client whose engine answered a ping, or the ExecutorError that tells the lab what to do."""
    url = engine_url(base_url)
    try:
        _probe(url, timeout or 5.0)
        # No read timeout by default: a step may be silent for minutes; benchd enforces its own deadlines.
        client = DockerClient(base_url=url, timeout=timeout)  # version=auto asks the engine
        client.ping()
        return client
    except EngineErrors as exc:
        raise unreachable(url, exc) from exc


def _probe(url: str, timeout: float) -> None:
    """Knock on a unix socket first: the SDK leaks the socket of a refused connection (ResourceWarning)."""
    if url.startswith("unix://"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(url.removeprefix("unix://"))


def unreachable(url: str, exc: BaseException | None = None) -> ExecutorError:
    why = f" ({' '.join(str(exc).split())[:200]})" if exc else ""
    return ExecutorError(f"docker engine not reachable at {url}: start dockerd or set executor: local{why}")


def engine_available(timeout: float = 2.0, base_url: str | None = None) -> bool:
    """Cheap check for `executor: auto`."""
    try:
        connect(base_url, timeout=timeout).close()
        return True
    except ExecutorError:
        return False


def local_digest(ref: str, base_url: str | None = None) -> str | None:
    """The id of the image `ref` on this engine now, or None (no engine, no such image): for dedupe."""
    try:
        client = connect(base_url, timeout=2)
    except ExecutorError:
        return None
    try:
        return images.digest_of(client.images.get(ref))
    except EngineErrors:
        return None
    finally:
        client.close()


def step_user(configured: str) -> str:
    """The uid:gid container steps run as: `docker.step_user` when benchd is root (it can hand the
    workspace over), else benchd's own ids (an unprivileged daemon cannot give files away, and its steps
    are no more privileged than itself)."""
    if os.geteuid() != 0:
        return f"{os.getuid()}:{os.getgid()}"
    if not re.fullmatch(r"\d+:\d+", configured.strip()):
        raise ConfigError(f"docker.step_user = {configured!r}: give a numeric uid:gid such as \"1000:1000\" "
                          "(benchd.toml [docker] step_user, or BENCHD_DOCKER_STEP_USER)")
    return configured.strip()


def owner_of(user: str) -> tuple[int, int] | None:
    """The ids the workspace must belong to for `user` to write it; None when the daemon's own will do."""
    uid, gid = (int(x) for x in user.split(":"))
    if os.geteuid() != 0 or (uid, gid) == (os.geteuid(), os.getegid()):
        return None
    return uid, gid


def remove_orphans(client: DockerClient) -> list[str]:
    """Remove benchd containers whose daemon (same host, pid gone) died without cleaning up."""
    removed = []
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
        labels = c.labels
        if labels.get("benchd.host") == socket.gethostname() and _alive(int(labels.get("benchd.pid", "0"))):
            continue
        if labels.get("benchd.host") not in (None, socket.gethostname()):
            continue  # another machine's daemon shares this engine
        c.remove(force=True)
        removed.append(c.name)
    if removed:
        _log.info("removed orphan containers", names=removed)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return pid > 0


class DockerExecutor:
    name = "docker"

    def __init__(self, settings: DockerSettings, base_url: str | None = None, user: str | None = None,
                 docker_dir: Any = None) -> None:
        self.settings = settings
        self.url = engine_url(base_url)
        self.user = user or step_user(settings.step_user)
        self.owner = owner_of(self.user)  # None: the workspace stays as it is
        self.docker_dir = docker_dir or images.default_docker_dir()
        self._client: DockerClient | None = None
        self._leftovers: set[str] = set()  # containers a dead engine kept us from removing
        self._open: set[ContainerJob] = set()  # for kill_all() at shutdown

    def client(self) -> DockerClient:
        """Connect on first use and check the engine answers; a later restart of dockerd is fine."""
        if self._client is None:
            self._client = connect(self.url)
            return self._client
        try:
            _probe(self.url, 5.0)
            self._client.ping()
        except EngineErrors as exc:
            raise unreachable(self.url, exc) from exc
        return self._client

    def open_job(self, spec: JobSpec) -> ContainerJob:
        if not spec.image:
            raise ExecutorError(f"job {spec.job_id} has no container image; host jobs run with executor local")
        client = self.client()
        if self.owner is not None:
            try:
                safefs.hand_over(spec.workspace, self.owner, keep=spec.private)
            except OSError as exc:
                raise ExecutorError(f"cannot hand the workspace {spec.workspace} to the step user {self.user}: "
                                    f"{exc}") from exc
        try:
            for container_id in list(self._leftovers):
                with contextlib.suppress(NotFound):
                    client.api.remove_container(container_id, force=True)
                self._leftovers.discard(container_id)
            resolved = images.resolve(spec.image, client, self.docker_dir, self.settings)
            job = ContainerJob(client, self.url, spec, resolved, self.settings, self.user, self._leftovers,
                               self._open)
            job.owner = self.owner
            return job
        except (RequestException, OSError) as exc:
            raise unreachable(self.url, exc) from exc
        except DockerException as exc:  # the engine answered and said no (a bad limit, a bad mount)
            why = getattr(exc, "explanation", None) or exc
            raise ExecutorError(f"docker could not start a container from {spec.image}: {why} "
                                "(check docker.memory and docker.cpus in benchd.toml)") from exc

    def kill_all(self) -> None:
        """Stop every open job's container (the daemon is shutting down); their steps end cancelled."""
        for job in list(self._open):
            job.stopped = CANCELLED
            job.kill()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def create_docker_executor(settings: Settings) -> DockerExecutor:
    return DockerExecutor(settings.docker)


class ContainerJob:
    """One running container; each step is a `docker exec` inside it."""

    def __init__(self, client: DockerClient, url: str, spec: JobSpec, resolved: images.ResolvedImage,
                 settings: DockerSettings, user: str, leftovers: set[str], open_jobs: set[ContainerJob]) -> None:
        self.api, self.url, self.leftovers, self.open_jobs = client.api, url, leftovers, open_jobs
        self.spec, self.user = spec, user
        self.image_digest: str | None = resolved.digest
        self.deadline = time.monotonic() + spec.timeout_s
        self.stopped: str | None = None  # why the container is gone (a timeout ends the job)
        self.owner: tuple[int, int] | None = None  # what the daemon's files for a step must belong to
        workspace, model = spec.workspace.resolve(), spec.model.resolve()
        # target -> (source, read-only); the runner's spelling of a path works too when it is a symlink.
        binds = {str(workspace): (workspace, False), str(spec.workspace.absolute()): (workspace, False),
                 str(model): (model, True), str(spec.model.absolute()): (model, True)}
        mounts = [Mount(target, str(source), type="bind", read_only=ro) for target, (source, ro) in binds.items()]
        host_config = self.api.create_host_config(
            mounts=mounts, network_mode=spec.network or "none", init=True, mem_limit=settings.memory,
            nano_cpus=int(min(settings.cpus, os.cpu_count() or 1) * 1e9), cap_drop=["ALL"],
            security_opt=["no-new-privileges"], pids_limit=PIDS_LIMIT, privileged=False,
        )
        labels = {LABEL: "1", "benchd.run": spec.run_id, "benchd.job": spec.job_id,
                  "benchd.host": socket.gethostname(), "benchd.pid": str(os.getpid())}
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"benchd-{spec.run_id}-{spec.job_id}")[:100]
        created = self.api.create_container(
            resolved.digest, command=["sleep", "infinity"],
            user=user, labels=labels, host_config=host_config, working_dir=str(workspace),
            name=f"{name}-{uuid.uuid4().hex[:6]}", environment={"HOME": "/tmp", "LANG": "C.UTF-8"},
        )
        self.id: str = created["Id"]
        try:
            self.api.start(self.id)
        except EngineErrors:
            self.close()
            raise
        open_jobs.add(self)
        _log.info("container started", id=self.id[:12], image=spec.image, digest=self.image_digest)

    def run_step(self, command: StepCommand) -> StepOutcome:
        start = time.monotonic()
        if self.stopped:
            why = self.stopped if self.stopped == CANCELLED else f"not run: {self.stopped}"
            return StepOutcome(None, 0.0, error=why)
        job_left = self.deadline - start
        timeout = max(min(command.timeout_s, job_left), 0.0)
        which = "step" if command.timeout_s <= job_left else "job"
        env = {k: v for k, v in command.env.items() if k not in NOT_PASSED}
        with LogSink(command.log_path) as sink:
            pump = _Pump(sink)
            try:
                _probe(self.url, 5.0)
                exec_id = self.api.exec_create(self.id, list(command.argv), environment=env,
                                               workdir=str(command.cwd), user=self.user)["Id"]
                pump.start(self.api.exec_start(exec_id, stream=True))
            except EngineErrors as exc:
                return self._lost(start, sink, exc)
            pump.thread.join(timeout)
            timed_out = pump.thread.is_alive()
            if timed_out:
                self.stopped = f"the container was stopped when the {which} timeout ran out"
                self.kill()
                pump.stop()
            if pump.error is not None and not timed_out:
                return self._lost(start, sink, pump.error)
            try:
                code = None if timed_out else self._exit_code(exec_id)
            except EngineErrors as exc:
                return self._lost(start, sink, exc)
        outcome = StepOutcome(code, time.monotonic() - start, timed_out=timed_out, log_truncated=sink.truncated,
                              errors=sink.errors, warnings=sink.warnings, last_line=sink.last_line)
        if timed_out:
            outcome.error = f"killed after {timeout:.0f} s: the {which} timeout (timeout-minutes) ran out"
        elif self.stopped == CANCELLED:
            outcome.exit_code, outcome.error = None, CANCELLED
        elif code is None:
            outcome.error = "the step's exit code is unknown: the container stopped under it"
        return outcome

    def _exit_code(self, exec_id: str) -> int | None:
        for _ in range(50):  # the stream can end a moment before the engine records the exit
            _probe(self.url, 5.0)
            info = self.api.exec_inspect(exec_id)
            if not info.get("Running"):
                code = info.get("ExitCode")
                return int(code) if code is not None else None
            time.sleep(0.02)
        return None

    def _lost(self, start: float, sink: LogSink, exc: BaseException) -> StepOutcome:
        self.stopped = "the docker engine went away during the job"
        message = str(unreachable(self.url, exc))
        return StepOutcome(None, time.monotonic() - start, error=message, log_truncated=sink.truncated,
                           errors=sink.errors, last_line=sink.last_line)

    def kill(self) -> None:
        try:
            _probe(self.url, 5.0)
            self.api.kill(self.id)
        except EngineErrors as exc:
            _log.warning("could not kill container", id=self.id[:12], error=str(exc))

    def cancel(self, force: bool = False) -> None:
        """Stop this job's container (its run was cancelled): the running step ends cancelled. With force
        (a second Ctrl-C) the container is removed now, not when the job closes."""
        self.stopped = CANCELLED
        self.kill()
        if force:
            self.close()

    def close(self) -> None:
        """Remove the container whatever happened; with the engine gone, the next open_job retries."""
        self.open_jobs.discard(self)
        try:
            _probe(self.url, 5.0)
            with contextlib.suppress(NotFound):
                self.api.remove_container(self.id, force=True)
        except EngineErrors as exc:
            self.leftovers.add(self.id)
            _log.warning("container left behind", id=self.id[:12], error=str(exc))


class _Pump:
    """Copies an exec's output into the sink on a thread, so the caller can wait with a deadline."""

    def __init__(self, sink: LogSink) -> None:
        self.sink = sink
        self.error: BaseException | None = None
        self.stream: Any = None
        self.sock: Any = None
        self.thread = threading.Thread(target=self._run, name="benchd-exec-pump", daemon=True)

    def start(self, stream: Any) -> None:
        self.stream = stream
        # The hijacked exec socket outlives the HTTP response (it is closed once read to the end): keep it.
        fp = getattr(getattr(stream._response.raw, "_fp", None), "fp", None)
        self.sock = getattr(getattr(fp, "raw", None), "_sock", None)
        self.thread.start()

    def _run(self) -> None:
        try:
            for chunk in self.stream:
                self.sink.write(chunk)
        except Exception as exc:  # reported as the step's error, never lost on a thread
            self.error = exc
        finally:
            self.close()

    def close(self) -> None:
        for close in (self.stream.close, self.stream._response.close, getattr(self.sock, "close", None)):
            try:
                if close is not None:
                    close()
            except Exception as exc:  # best effort; the socket itself is closed last, whatever happens
                _log.debug("closing an exec stream", error=str(exc))

    def stop(self) -> None:
        """After the container is killed the stream ends; close it in case the engine hangs."""
        self.thread.join(STOP_GRACE_S)
        if self.thread.is_alive():
            self.close()
            self.thread.join(STOP_GRACE_S)
