"""A Milvus standalone server that only this machine can reach, from the PyPI package ``milvus``.

    python -m bench.milvus_server --data ~/milvus-data --port 19530

prints ``READY http://127.0.0.1:19530`` once the server answers, serves until
Ctrl+C or SIGTERM, then stops the server and exits.

Why not simply ``milvus-server --data DIR``: Milvus 2.3.5 (the engine the package
``milvus`` 2.3.5 carries: the standalone server, with embedded etcd and local
storage) listens on *every* interface, on eleven fixed ports, whatever its ``ip``
settings say (they only set the address it advertises). So this launcher

1. binds ``127.0.0.1:PORT`` (the one address clients use) in the machine's network;
2. moves itself into a private network namespace that has only a loopback
   interface (``unshare``: root, or unprivileged user namespaces; a private mount
   namespace too, to give the server its own pid-file folder), and starts the
   server there, where its ports are invisible to other machines and cannot clash
   with another server's (two of these can run side by side, on separate data
   folders: never two on one data folder);
3. forwards each connection to ``127.0.0.1:PORT`` to the server's gRPC port
   inside, byte for byte (the socket bound in step 1 stays in the machine's
   network: a socket belongs to the namespace it was created in).

Linux only. The server's own logs go to ``DATA/logs``. If the launcher is killed
outright, the kernel kills the server too (parent-death signal).
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

__all__ = ["GRPC_PORT", "main"]

GRPC_PORT = 19530  # inside the private namespace every port is the default one
HEALTH_PORT = 9091
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
RUNTIME_DIRS = ("/run/milvus", "/tmp/milvus")  # where Milvus 2.3 puts its pid file, whatever MILVUS_RUN_DIR says
PR_SET_PDEATHSIG = 1


class LauncherError(RuntimeError):
    """The server could not be started; the message says why and what to do."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def enter_private_network() -> None:
    """Move this (still single-threaded) process into new network and mount namespaces.

    As root, those alone; otherwise a user namespace too, which maps the caller to
    root inside so that it may bring the loopback interface up and mount.
    """
    libc = _libc()
    if libc.unshare(CLONE_NEWNET | CLONE_NEWNS) == 0:
        return
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise LauncherError(
            f"cannot create a private network namespace ({os.strerror(err)}): Milvus 2.3.5 listens on every "
            "interface, so this launcher runs it in one; run as root or enable unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1)"
        )
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def private_runtime_dir(data: Path) -> None:
    """Give this server its own pid-file folder: Milvus 2.3 writes ``/run/milvus`` (or, if it
    cannot, ``/tmp/milvus``) for every server on the machine; bind ``DATA/run`` over whichever
    exists, in this process's own mount namespace (nothing changes outside it)."""
    libc = _libc()
    run = data / "run"
    run.mkdir(exist_ok=True)
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise LauncherError(f"cannot make the mounts private ({os.strerror(ctypes.get_errno())})")
    for target in RUNTIME_DIRS:
        if Path(target).is_dir() and libc.mount(str(run).encode(), target.encode(), None, MS_BIND, None) != 0:
            raise LauncherError(f"cannot give the server its own {target} ({os.strerror(ctypes.get_errno())})")


def loopback_up() -> None:
    """``ip link set lo up`` without needing the ``ip`` tool."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH", fcntl.ioctl(sock, siocgifflags, request)[:18])[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b""))


def binaries_dir() -> Path:
    """Unpack the server binaries once per package version (about 150 MB), shared by every data folder."""
    import milvus

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "quotebot" / f"milvus-{milvus.__version__}"
    milvus._initialize_data_files(str(cache))  # checks each file's digest; unpacks only what changed
    return cache / "bin"


def write_config(data: Path) -> None:
    """The package's own ``configs/milvus.yaml`` for ``data``, with every component on 127.0.0.1."""
    from milvus import MilvusServerConfig

    config = MilvusServerConfig(data_dir=str(data))
    for component in COMPONENTS:
        config.set(f"{component}.ip", "127.0.0.1")
    config.resolve()  # picks the default ports (free: the namespace is new) and writes the file


def start_server(data: Path, bin_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEPLOY_MODE": "STANDALONE",
        "METRICS_PORT": str(HEALTH_PORT),
        "MILVUS_RUN_DIR": str(data / "run"),
        "LD_LIBRARY_PATH": ":".join(p for p in (str(bin_dir), os.environ.get("LD_LIBRARY_PATH", "")) if p),
    }
    logs = data / "logs"
    libc = _libc()

    def die_with_launcher() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    with open(logs / "milvus-stdout.log", "ab") as out, open(logs / "milvus-stderr.log", "ab") as err:
        return subprocess.Popen(
            [str(bin_dir / "milvus"), "run", "standalone"],
            cwd=data,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_launcher,
        )


def wait_healthy(server: subprocess.Popen, data: Path, timeout: float, stopping: threading.Event) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stopping.is_set():
            raise LauncherError("stopped before the Milvus server was healthy")
        if server.poll() is not None:
            raise LauncherError(f"the Milvus server exited with status {server.returncode}; see {data / 'logs'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{HEALTH_PORT}/healthz", timeout=5) as response:
                if b"OK" in response.read():
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise LauncherError(f"the Milvus server was not healthy within {timeout:.0f} s; see {data / 'logs'}")


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(1 << 16):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _forward(client: socket.socket) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", GRPC_PORT), timeout=10)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listener: socket.socket) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # the listener was closed: shutting down
        threading.Thread(target=_forward, args=(client,), daemon=True).start()


def stop(server: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` s (Milvus 2.3 often takes longer than 30 s to stop;
    what it acknowledged is in its write-ahead log either way)."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.milvus_server", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="data folder (created); one server per folder")
    parser.add_argument("--port", type=int, default=19530, help="port on 127.0.0.1 for clients; 0 = any free one")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to wait for the server to be healthy")
    parser.add_argument("--stop-timeout", type=float, default=30, help="seconds a clean stop may take before a kill")
    args = parser.parse_args(argv)
    if sys.platform != "linux":
        parser.error("this launcher needs Linux network namespaces")
    try:
        import milvus  # noqa: F401 - only to say clearly what is missing
    except ImportError:
        parser.error('the Milvus server package is missing: pip install -e ".[test]" (or pip install milvus==2.3.5)')
    data = args.data.expanduser().resolve()
    (data / "logs").mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", args.port))
    except OSError as err:
        parser.error(f"cannot listen on 127.0.0.1:{args.port} ({err.strerror}); choose another --port")
    listener.listen(128)
    port = listener.getsockname()[1]
    server = None
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        bin_dir = binaries_dir()
        enter_private_network()
        loopback_up()
        private_runtime_dir(data)
        write_config(data)
        server = start_server(data, bin_dir)
        wait_healthy(server, data, args.timeout, stopping)
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        print(f"READY http://127.0.0.1:{port} launcher={os.getpid()} server={server.pid}", flush=True)
        while not stopping.wait(0.5):
            if server.poll() is not None:
                raise LauncherError(f"the Milvus server exited with status {server.returncode}; see {data / 'logs'}")
        return 0
    except LauncherError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        listener.close()
        if server is not None:
            stop(server, args.stop_timeout)


if __name__ == "__main__":
    sys.exit(main())
