"""Run one untrusted notebook in its own locked-down process and call its functions from the grader.

The grader (trusted) starts `python -m llmcourse.sandbox` through `unshare` when Linux namespaces are
available. The child reads the notebook's cells from its stdin, isolates itself (no network, a fresh
read-only root holding only the Python environment, the course package and the data, a private scratch
folder, an unprivileged user, resource limits), runs the cells, then answers requests: which names the
notebook defined, and calls of its functions. Tests never enter the child: they run in the grader, which
sends arguments and receives plain data (tensors, numbers, strings, lists, dicts) that it checks itself.

Two things keep a call through the sandbox the same as a call in the notebook's own process (as `otter run`
makes it): the arguments come back after the call, so that a change made in place to a tensor, an array, a list
or a dict reaches the test's own object (`write_back`), and a test's `forbidding(...)` block travels with the
call, so that the library functions it names are refused in the process that runs the student's code.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import importlib
import io
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import types
from dataclasses import asdict, dataclass
from pathlib import Path

MAX_FRAME = 64 * 1024 * 1024  # bytes in one message, either way
FORBID_SETUP_SECONDS = 30.0  # extra wait for a call under `forbidding` (the child may import the library first)


class ForbiddenCallError(BaseException):
    """A submitted function called a library function that its exercise forbids (see `forbidding`).

    A BaseException, so that a student's `except Exception` does not swallow it.
    """


SAFE_ERRORS = {e.__name__: e for e in (ValueError, TypeError, KeyError, IndexError, RuntimeError,
                                       ZeroDivisionError, AssertionError, NotImplementedError, AttributeError,
                                       ForbiddenCallError)}


@dataclass(frozen=True)
class Limits:
    """What one submission may use; the grader enforces the wall-clock ones, the kernel the others."""

    cell_seconds: float = 30.0  # one notebook cell (interrupted, then the next cell runs)
    notebook_seconds: float = 120.0  # all cells together, start-up included (then the child is killed)
    call_seconds: float = 10.0  # one call of a submitted function by a test
    cpu_seconds: int = 300  # RLIMIT_CPU for the whole child
    memory_mb: int = 4096  # RLIMIT_AS (address space)
    file_mb: int = 64  # RLIMIT_FSIZE: largest file the child may write
    scratch_mb: int = 256  # size of the private scratch folder (a tmpfs) in namespace isolation
    processes: int = 256  # RLIMIT_NPROC (threads count) for the child's own user id


class SubmissionError(Exception):
    """A submitted function raised, timed out, returned something that cannot be sent, or the process died."""


class CellTimeout(BaseException):
    """A cell or call ran past its time (a BaseException, so a student's `except Exception` does not swallow it)."""


# ---------------------------------------------------------------- wire format (both sides)


def pack(value: object, depth: int = 0) -> object:
    """Plain data that `torch.load(weights_only=True)` accepts; tags keep tuples, dicts, sets and arrays apart."""
    import numpy as np
    import torch

    if depth > 32:
        raise TypeError("value nested too deeply to send")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone().as_subclass(torch.Tensor)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"__t__": "list", "v": [pack(v, depth + 1) for v in value.tolist()]}
        return {"__t__": "ndarray", "v": torch.from_numpy(np.ascontiguousarray(value).copy())}
    if isinstance(value, (list, tuple, set, frozenset)):
        kind = "list" if isinstance(value, list) else "tuple" if isinstance(value, tuple) else "set"
        return {"__t__": kind, "v": [pack(v, depth + 1) for v in value]}
    if isinstance(value, collections.abc.Mapping):
        items = list(value.items())
        return {"__t__": "dict", "k": [pack(k, depth + 1) for k, _ in items],
                "v": [pack(v, depth + 1) for _, v in items]}
    if isinstance(value, bytes):
        return {"__t__": "bytes", "v": torch.tensor(list(value), dtype=torch.uint8)}
    if isinstance(value, complex):
        return {"__t__": "complex", "v": [value.real, value.imag]}
    if isinstance(value, torch.dtype):
        return {"__t__": "dtype", "v": str(value).removeprefix("torch.")}
    raise TypeError(f"cannot send a value of type {type(value).__module__}.{type(value).__qualname__}")


def unpack(value: object) -> object:
    """Inverse of `pack`."""
    import torch

    if isinstance(value, list):
        return [unpack(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind, items = value.get("__t__"), value.get("v")
    if kind == "list":
        return [unpack(v) for v in items]
    if kind == "tuple":
        return tuple(unpack(v) for v in items)
    if kind == "set":
        return {unpack(v) for v in items}
    if kind == "dict":
        return {_hashable(unpack(k)): unpack(v) for k, v in zip(value["k"], items, strict=True)}
    if kind == "ndarray":
        return items.numpy()
    if kind == "bytes":
        return bytes(items.tolist())
    if kind == "complex":
        return complex(*items)
    if kind == "dtype":
        dtype = getattr(torch, str(items), None)
        if not isinstance(dtype, torch.dtype):
            raise TypeError(f"unknown dtype {items!r}")
        return dtype
    raise TypeError(f"unknown wire tag {kind!r}")


def _hashable(key: object) -> object:
    """Lists become tuples so that they can be dict keys again."""
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def encode(message: object) -> bytes:
    """A message as bytes (torch serialisation of packed plain data)."""
    import torch

    buffer = io.BytesIO()
    torch.save(pack(message), buffer)
    return buffer.getvalue()


def decode(data: bytes) -> object:
    """Bytes back to a message; only plain data can come out (`weights_only=True`)."""
    import torch

    return unpack(torch.load(io.BytesIO(data), weights_only=True))


def send_frame(fd: int, data: bytes) -> None:
    """Write one length-prefixed frame."""
    view = memoryview(struct.pack(">Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def recv_frame(fd: int, deadline: float | None = None) -> bytes:
    """Read one length-prefixed frame; TimeoutError past `deadline` (time.monotonic), EOFError when closed."""
    header = _read_exact(fd, 8, deadline)
    (size,) = struct.unpack(">Q", header)
    if size > MAX_FRAME:
        raise SubmissionError(f"message of {size} bytes exceeds the limit of {MAX_FRAME}")
    return _read_exact(fd, size, deadline)


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    """Exactly `size` bytes from `fd`, waiting at most until `deadline`."""
    chunks, left = [], size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- rules that travel with a call (both sides)

_FORBIDDEN: list[str] = []  # names forbidden by the `forbidding` blocks open in this process, innermost last
_ABSENT = object()


def _resolve(name: str) -> tuple[object, str, object] | None:
    """(owner, attribute, object) for a dotted name such as `torch.nn.functional.cross_entropy`, or None."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:-1]:
                owner = getattr(owner, attribute)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            return None
    return None


@contextlib.contextmanager
def forbidding(*names: str):
    """Inside the block, calling any of the named library functions or classes raises ForbiddenCallError.

    For hidden tests of exercises that must be written by hand: a function (`torch.nn.functional.cross_entropy`)
    is refused whether the student's code reaches it through its module, through a name imported earlier, or
    through a PyTorch module that calls it; a class (`transformers.TopKLogitsWarper`) is refused when one of its
    instances is called. The block acts in this process, where `otter run` calls the student's functions, and
    the grader's `Sandbox.call` opens the same block in the submission's process around each call made inside
    it. It catches ordinary calls, not a submission that sets out to undo it (the student's code runs in the
    process that applies it).
    """
    from torch.overrides import TorchFunctionMode

    saved: list[tuple[object, str, object]] = []
    refused_functions: dict[int, str] = {}

    class Refuse(TorchFunctionMode):
        """Catches the refused PyTorch functions however they are reached (an earlier `from ... import`)."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if id(func) in refused_functions:
                raise ForbiddenCallError(f"this exercise must not call {refused_functions[id(func)]}")
            return func(*args, **(kwargs or {}))

    depth = len(_FORBIDDEN)
    _FORBIDDEN.extend(names)
    try:
        for name in names:
            found = _resolve(name)
            if found is None:  # not installed: the student's code cannot call it either
                continue
            owner, attribute, target = found

            def refuse(*args: object, _name: str = name, **kwargs: object) -> None:
                raise ForbiddenCallError(f"this exercise must not call {_name}")

            if isinstance(target, type):  # a class: refuse calling its instances
                owner, attribute = target, "__call__"
            else:
                refused_functions[id(target)] = name
            saved.append((owner, attribute, vars(owner).get(attribute, _ABSENT)))
            setattr(owner, attribute, refuse)
        with Refuse():
            yield
    finally:
        del _FORBIDDEN[depth:]
        for owner, attribute, original in reversed(saved):
            if original is _ABSENT:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)


def write_back(original: object, changed: object) -> None:
    """Copy into `original` (the caller's arguments) the in-place changes that a call made to its copy `changed`.

    Tensors and NumPy arrays are updated in place, also inside lists, tuples and dicts, and the items of lists
    and dicts are replaced or removed where the call changed them, as if the function had run in the caller's
    process. (Objects shared between two arguments travel as separate copies, so they come back separately.)
    """
    import numpy as np
    import torch

    if isinstance(original, torch.Tensor):
        if isinstance(changed, torch.Tensor) and changed.dtype == original.dtype:
            with torch.no_grad(), contextlib.suppress(RuntimeError):
                if changed.shape != original.shape:
                    original.set_(changed)
                elif not torch.equal(changed, original):
                    original.copy_(changed)
    elif isinstance(original, np.ndarray):
        if isinstance(changed, np.ndarray) and changed.dtype == original.dtype and changed.shape == original.shape:
            with contextlib.suppress(ValueError):
                np.copyto(original, changed)
    elif not _same_kind(original, changed):
        return
    elif isinstance(original, list) and len(original) != len(changed):
        original[:] = changed
    elif isinstance(original, (list, tuple)):
        for index, (item, new) in enumerate(zip(original, changed, strict=False)):
            if _same_kind(item, new):
                write_back(item, new)
            elif isinstance(original, list) and _differs(item, new):
                original[index] = new
    elif isinstance(original, dict):
        for key in [k for k in original if k not in changed]:
            del original[key]
        for key, new in changed.items():
            if key in original and _same_kind(original[key], new):
                write_back(original[key], new)
            elif key not in original or _differs(original[key], new):
                original[key] = new
    elif isinstance(original, set) and original != changed:
        original.clear()
        original.update(changed)


def _same_kind(value: object, other: object) -> bool:
    """Both tensors, both arrays, both lists... (what `write_back` updates in place rather than replaces)."""
    import numpy as np
    import torch

    return any(isinstance(value, kind) and isinstance(other, kind)
               for kind in (torch.Tensor, np.ndarray, list, tuple, dict, set))


def _differs(value: object, other: object) -> bool:
    """Whether a plain item changed: a tensor replaced by a number, a number by another (NumPy's 3 is 3)."""
    if _same_kind(value, value) or _same_kind(other, other):  # a container or tensor on one side only
        return True
    try:
        return not bool(value == other)
    except Exception:
        return True


# ---------------------------------------------------------------- grader side


def isolation_available() -> str:
    """'namespace' when `unshare` can make mount, network and pid namespaces here, else 'none'."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "none"
    for prefix in ([], ["--user", "--map-root-user"]):
        command = ["unshare", *prefix, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "true"]
        try:
            if subprocess.run(command, capture_output=True, timeout=20).returncode == 0:
                return "namespace"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "none"


def read_only_paths() -> list[str]:
    """What the child must see to run Python and the course: system folders, this Python, the package, data, cache."""
    import llmcourse

    paths = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/sys", "/opt"]
    paths += [sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)]
    paths.append(str(Path(sys.prefix).resolve()))  # a .venv that is a link: its target too (links are re-made)
    paths.append(str(Path(llmcourse.__file__).resolve().parent))
    for variable in ("LLMCOURSE_DATA", "LLMCOURSE_CACHE"):
        if os.environ.get(variable):
            paths.append(str(Path(os.environ[variable]).expanduser().resolve()))
    default_cache = Path.home() / ".cache" / "llmcourse"
    if not os.environ.get("LLMCOURSE_CACHE") and default_cache.is_dir():
        paths.append(str(default_cache))
    return sorted({p for p in paths if os.path.lexists(p)})


def child_environment(scratch: str) -> dict[str, str]:
    """A clean environment for the child: offline switches, one thread, everything writable in scratch."""
    keep = ("LLMCOURSE_DATA", "LLMCOURSE_CACHE", "LLMCOURSE_PROFILE", "LANG", "LC_ALL", "TZ")
    env = {k: os.environ[k] for k in keep if os.environ.get(k)}
    for folder in ("LLMCOURSE_DATA", "LLMCOURSE_CACHE"):  # as bound in the sandbox: links and `..` resolved
        if folder in env:
            env[folder] = str(Path(env[folder]).expanduser().resolve())
    if "LLMCOURSE_CACHE" not in env and (Path.home() / ".cache" / "llmcourse").is_dir():
        env["LLMCOURSE_CACHE"] = str(Path.home() / ".cache" / "llmcourse")
    env.update(
        PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", HOME=scratch, USER="student",
        LOGNAME="student", TMPDIR=os.path.join(scratch, "tmp"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1", HF_HOME=os.path.join(scratch, ".hf"), MPLBACKEND="Agg",
        MPLCONFIGDIR=os.path.join(scratch, ".mpl"), IPYTHONDIR=os.path.join(scratch, ".ipython"),
        TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1", PYTHONHASHSEED="0", PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


class Sandbox:
    """One submission's child process: start it with the cells, then describe names and call functions."""

    def __init__(self, notebook_text: str, cells: list[dict], limits: Limits, isolation: str = "namespace",
                 uid: int = 61000, notebook_name: str = "submission.ipynb"):
        self.limits, self.isolation, self.uid = limits, isolation, uid
        self.notebook_text, self.notebook_name, self.cells = notebook_text, notebook_name, cells
        self.log: collections.deque[str] = collections.deque(maxlen=400)
        self.cell_report: list[dict] = []
        self.alive = False
        self.died: str | None = None
        self.process: subprocess.Popen | None = None
        self.startup_seconds = 0.0

    def start(self) -> None:
        """Launch the child, hand it the cells and wait until they have run (or the notebook budget is spent)."""
        started = time.monotonic()
        self.mountpoint = tempfile.mkdtemp(prefix="llmcourse-sandbox-")
        os.chmod(self.mountpoint, 0o755)
        namespaced = self.isolation == "namespace"
        scratch = "/scratch" if namespaced else self.mountpoint
        command = [sys.executable, "-m", "llmcourse.sandbox"]
        if namespaced:
            user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
            command = ["unshare", *user, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child",
                       "--", *command]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_environment(scratch), cwd="/", start_new_session=True, close_fds=True,
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        plan = {
            "isolation": self.isolation, "root": self.mountpoint, "read_only": read_only_paths(),
            "uid": self.uid if (namespaced and os.geteuid() == 0) else None, "limits": asdict(self.limits),
            "cells": self.cells, "notebook_text": self.notebook_text, "notebook_name": self.notebook_name,
        }
        self.alive = True
        try:
            try:
                send_frame(self.process.stdin.fileno(), encode(plan))
            except OSError:
                self._kill(f"could not start (exit status {self.process.wait(timeout=30)})")
                raise SubmissionError(f"the submission's process {self.died}") from None
            reply = self._receive(started + self.limits.notebook_seconds)
        except SubmissionError as error:
            self.cell_report = [{"index": -1, "status": "failed", "error": str(error)}]
            return
        finally:
            self.startup_seconds = time.monotonic() - started
        self.cell_report = reply.get("cells", [])

    def describe(self, names: list[str]) -> dict[str, dict]:
        """For each name the notebook defined: {'kind': 'callable'} or {'kind': 'value', 'value': ...}."""
        return self._request({"op": "describe", "names": names}, self.limits.call_seconds * 3)

    def call(self, name: str, args: tuple, kwargs: dict) -> object:
        """Call the submission's function `name` in the child and return the plain data it returned.

        Inside a `forbidding` block the child refuses the same library functions during the call; afterwards
        the arguments as the call left them are copied back into `args` and `kwargs` (see `write_back`).
        """
        forbid = list(_FORBIDDEN)
        seconds = self.limits.call_seconds + (FORBID_SETUP_SECONDS if forbid else 0.0)
        message = {"op": "call", "name": name, "args": list(args), "kwargs": kwargs, "forbid": forbid}
        return self._request(message, seconds, arguments=(args, kwargs))

    def _request(self, message: dict, seconds: float, arguments: tuple | None = None) -> object:
        """Send one request and wait for its answer (child killed when it does not answer in time)."""
        if not self.alive:
            raise SubmissionError(f"the submission's process is not running ({self.died})")
        try:
            send_frame(self.process.stdin.fileno(), encode(message))
        except (BrokenPipeError, OSError) as error:
            self._kill(f"could not send a request ({error.__class__.__name__})")
            raise SubmissionError(f"the submission's process is not running ({self.died})") from None
        reply = self._receive(time.monotonic() + seconds + 5.0)
        if arguments is not None and "args" in reply:  # what the call did to its arguments, as in one process
            write_back(list(arguments[0]), reply["args"])
            write_back(arguments[1], reply.get("kwargs"))
        if reply.get("ok"):
            return reply.get("value")
        error_type = SAFE_ERRORS.get(str(reply.get("type")), SubmissionError)
        raise error_type(str(reply.get("error"))[:2000])

    def _receive(self, deadline: float) -> dict:
        """One reply, or SubmissionError (after killing the child) on timeout, death or garbage."""
        try:
            reply = decode(recv_frame(self.process.stdout.fileno(), deadline))
            if not isinstance(reply, dict):
                raise TypeError("reply is not a dict")
            return reply
        except TimeoutError:
            self._kill("timed out")
        except EOFError:
            try:
                self._kill(f"exited with status {self.process.wait(timeout=5)}")
            except subprocess.TimeoutExpired:
                self._kill("closed its output without answering")
        except Exception as error:  # a forged or corrupted frame
            self._kill(f"sent an unreadable reply ({error.__class__.__name__})")
        raise SubmissionError(f"the submission's process {self.died}")

    def _kill(self, reason: str) -> None:
        """Kill the child's whole process group (the pid namespace dies with it)."""
        self.alive, self.died = False, self.died or reason
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)

    def _drain_stderr(self) -> None:
        """Keep the last lines the child printed (its stdout and stderr both land here)."""
        for raw in iter(lambda: self.process.stderr.readline(4096), b""):
            self.log.append(raw.decode("utf-8", "replace").rstrip()[:500])

    def close(self) -> None:
        """Stop the child and remove the mount point."""
        if self.alive:
            try:
                send_frame(self.process.stdin.fileno(), encode({"op": "exit"}))
                self.process.wait(timeout=5)
            except Exception:
                pass
        self._kill("closed")
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr) if self.process else ():
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.mountpoint, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- child side

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2) through libc; OSError on failure."""
    libc = ctypes.CDLL(None, use_errno=True)
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    if libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def _bind_read_only(path: str, root: str) -> None:
    """Make `path` appear read-only, at the same place, under the new root."""
    target = root + path
    if os.path.islink(path):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(path), target)
        return
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Path(target).touch()
    _mount(path, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _private_tmpfs(root: str, folder: str, size_mb: int, mode: str, owner: int) -> None:
    """A writable tmpfs of `size_mb` at `folder` under the new root, owned by the submission's user."""
    os.makedirs(root + folder, exist_ok=True)
    _mount("tmpfs", root + folder, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode={mode},uid={owner}")


def _build_root(plan: dict) -> None:
    """Inside fresh namespaces: a new root with read-only binds, private /tmp, /dev and scratch; then chroot."""
    root, limits = plan["root"], plan["limits"]
    owner = plan["uid"] if plan["uid"] is not None else 0
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    # the private /tmp first, so that read-only paths under /tmp (a venv, a cache) are bound inside it, not hidden
    _private_tmpfs(root, "/tmp", 64, "1777", owner)
    bound: list[str] = []
    for path in sorted(plan["read_only"], key=len):
        if not any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound):
            _bind_read_only(path, root)
            bound.append(path)
    os.makedirs(root + "/dev", exist_ok=True)
    _mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "size=1m,mode=0755")
    for node in ("null", "zero", "full", "random", "urandom"):
        Path(root + "/dev/" + node).touch()
        _mount("/dev/" + node, root + "/dev/" + node, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    os.makedirs(root + "/dev/shm")
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size=64m,mode=0700,uid={owner}")
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _private_tmpfs(root, "/scratch", limits["scratch_mb"], "0700", owner)
    _mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chroot(root)
    os.chdir("/scratch")


def _drop_privileges(uid: int | None) -> None:
    """Become an unprivileged user (when root) and give up every capability and any way to regain one."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (fails harmlessly past the last capability)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    libc.capset(header, data)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "could not set no_new_privs")


def _set_limits(limits: dict, own_user: bool) -> None:
    """Kernel-enforced limits: CPU seconds, address space, file size, no core dumps, processes (own user only)."""
    mib = 1024 * 1024
    chosen = [(resource.RLIMIT_CPU, limits["cpu_seconds"]), (resource.RLIMIT_AS, limits["memory_mb"] * mib),
              (resource.RLIMIT_FSIZE, limits["file_mb"] * mib), (resource.RLIMIT_CORE, 0),
              (resource.RLIMIT_NOFILE, 256)]
    if own_user:  # RLIMIT_NPROC counts every process of the user id, so only when the child has its own
        chosen.append((resource.RLIMIT_NPROC, limits["processes"]))
    for kind, value in chosen:
        resource.setrlimit(kind, (value, value))


def _guard_network() -> None:
    """Without a network namespace: refuse sockets other than local ones (a guard, not a wall)."""
    import socket

    real_socket = socket.socket

    class GuardedSocket(real_socket):
        def __init__(self, family: int = -1, *args: object, **kwargs: object) -> None:
            if family not in (-1, socket.AF_UNIX):
                raise PermissionError("network access is disabled while grading")
            super().__init__(family, *args, **kwargs)

    socket.socket = GuardedSocket
    socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(PermissionError("network disabled"))


def _stub_otter() -> None:
    """`import otter` in a submission gets a do-nothing grader: checks and exports are the grader's business."""

    class Notebook:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __getattr__(self, name: str):
            return lambda *args, **kwargs: None

    module = types.ModuleType("otter")
    module.Notebook = Notebook
    sys.modules["otter"] = module


def _alarm(signum: int, frame: object) -> None:
    raise CellTimeout("time limit reached")


def _run_cells(shell, cells: list[dict], limits: dict, started: float) -> list[dict]:
    """Run every cell (errors and per-cell timeouts do not stop the notebook), like a kernel would."""
    report = []
    for index, cell in enumerate(cells):
        if cell.get("ignore"):
            continue
        left = limits["notebook_seconds"] - (time.monotonic() - started) - 2
        if left <= 0:
            report.append({"index": index, "status": "skipped", "error": "notebook time budget spent"})
            continue
        signal.setitimer(signal.ITIMER_REAL, min(limits["cell_seconds"], left))
        try:
            result = shell.run_cell(cell["source"], store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except CellTimeout as timeout:
            error = timeout
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        status = "ok" if error is None else ("timeout" if isinstance(error, CellTimeout) else "error")
        report.append({"index": index, "status": status,
                       "error": None if error is None else f"{type(error).__name__}: {error}"[:500]})
    return report


def _describe(namespace: dict, names: list[str]) -> dict:
    """What each requested name is in the notebook's namespace (values packed here so errors stay per name)."""
    found = {}
    for name in names:
        if name not in namespace or name.startswith("_"):
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            found[name] = {"kind": "module"}
        elif callable(value):
            found[name] = {"kind": "callable"}
        else:
            try:
                found[name] = {"kind": "value", "value": unpack(pack(value))}
            except TypeError as error:
                found[name] = {"kind": "unsendable", "error": str(error)}
    return found


def _encode_reply(message: dict, request: dict) -> bytes:
    """A reply; a call's reply also carries its arguments as the call left them, when they can be sent."""
    if request.get("op") == "call":
        with contextlib.suppress(TypeError):
            data = encode({**message, "args": request["args"], "kwargs": request["kwargs"]})
            if len(data) <= MAX_FRAME:
                return data
    return encode(message)


def _serve(namespace: dict, proto_in: int, proto_out: int, limits: dict) -> None:
    """Answer describe/call requests until told to exit."""
    while True:
        try:
            request = decode(recv_frame(proto_in))
        except EOFError:
            return
        if request.get("op") == "exit":
            return
        try:
            with contextlib.ExitStack() as rules:
                if request["op"] == "call" and request.get("forbid"):  # before the clock: it may import a library
                    rules.enter_context(forbidding(*request["forbid"]))
                signal.setitimer(signal.ITIMER_REAL, limits["call_seconds"])
                if request["op"] == "describe":
                    value = _describe(namespace, request["names"])
                else:
                    function = namespace.get(request["name"])
                    if not callable(function):
                        raise NameError(f"{request['name']} is not a function in the submission")
                    value = function(*request["args"], **request["kwargs"])
                signal.setitimer(signal.ITIMER_REAL, 0)
            reply = _encode_reply({"ok": True, "value": value}, request)
        except BaseException as error:  # the submission's own exceptions, timeouts, unsendable values
            signal.setitimer(signal.ITIMER_REAL, 0)
            kind = "TimeoutError" if isinstance(error, CellTimeout) else type(error).__name__
            reply = _encode_reply({"ok": False, "type": kind, "error": f"{kind}: {error}"[:2000]}, request)
        send_frame(proto_out, reply)


def child_main() -> None:
    """Entry point of the child: read the plan, isolate, run the notebook, serve the grader."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    plan = decode(recv_frame(proto_in))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # the notebook's prints go to stderr, which the grader keeps as a log
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    for fd in (proto_in, proto_out):
        os.set_inheritable(fd, False)
    started = time.monotonic()
    limits = plan["limits"]
    if plan["isolation"] == "namespace":
        _build_root(plan)
        _drop_privileges(plan["uid"])
    else:
        os.chdir(plan["root"])
        _guard_network()
    os.makedirs(os.environ["TMPDIR"], exist_ok=True)
    Path(plan["notebook_name"]).write_text(plan["notebook_text"])  # the scratch folder holds only the submission
    _set_limits(limits, own_user=plan["uid"] is not None)
    signal.signal(signal.SIGALRM, _alarm)
    _stub_otter()
    import matplotlib

    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    shell = InteractiveShell.instance(config=config)
    report = _run_cells(shell, plan["cells"], limits, started)
    send_frame(proto_out, encode({"ok": True, "cells": report}))
    _serve(shell.user_ns, proto_in, proto_out, limits)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    child_main()
