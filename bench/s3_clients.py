"""Which S3 client: boto3 or obstore, measured against ``aws s3 cp`` (the reference CLI).

    nice .venv/bin/python -m bench.s3_clients [--size-mib 256] [--runs 3] [--keep DIR]

For each client: its installed size (``pip install --target`` into a fresh folder, then
``du``), and the median wall time and peak RSS of uploading one file of ``--size-mib``
MiB to a moto S3 server on loopback, each upload in a child process of its own (peak RSS
from ``wait4``'s rusage: that child only; moto runs in this process). ``aws s3 cp`` comes
from PyPI's ``awscli`` in a venv of its own under ``--keep`` (not a project dependency).
Only loopback is contacted besides PyPI for the installs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20

#: Each client's upload, as a child-process script: argv = endpoint, bucket, key, file.
BOTO3 = """
import sys, boto3
from botocore.config import Config
endpoint, bucket, key, path = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
    config=Config(request_checksum_calculation="when_required",
                  response_checksum_validation="when_required"))
s3.upload_file(path, bucket, key)
"""
#: The action's own path: playcanvas_backup.s3 (SHA-256 checksums, HEAD read-back).
ACTION = """
import os, sys, time
from pathlib import Path
from playcanvas_backup.finished import FinishedArchive
from playcanvas_backup.s3 import S3Store
endpoint, bucket, key, path = sys.argv[1:]
# The action knows the archive's SHA-256 from its download: not hashed again here.
archive = FinishedArchive(Path(path), os.environ["BENCH_SHA256"], os.path.getsize(path))
store = S3Store(endpoint_url=endpoint, region="us-east-1", env=dict(
    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench"))
store.store(archive, f"s3://{bucket}/{key}", metadata={}, deadline=time.time() + 3600)
"""
OBSTORE = """
import sys
from obstore.store import S3Store
endpoint, bucket, key, path = sys.argv[1:]
store = S3Store(bucket, endpoint=endpoint, region="us-east-1", allow_http=True,
    access_key_id="bench", secret_access_key="bench")
import obstore
with open(path, "rb") as f:
    obstore.put(store, key, f)
"""


MOTO = """
import logging, sys, time
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
while True:
    time.sleep(3600)
"""


def wait_for(port: int) -> None:
    for _ in range(300):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError("moto did not start")


def fresh_bucket(port: int) -> None:
    """Forget every object (moto keeps them in memory), then make the bucket again."""
    for method, path in (("POST", "/moto-api/reset"), ("PUT", "/bench")):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(method, path)
        connection.getresponse().read()
        connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install(folder: Path, *packages: str) -> int:
    """Install ``packages`` into ``folder`` (once); return its size in bytes (``du``)."""
    if not folder.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(folder), *packages],
            check=True,
        )
    out = subprocess.run(["du", "-sbL", str(folder)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def awscli(folder: Path) -> tuple[Path, int]:
    venv = folder / "awscli-venv"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "awscli"], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    out = subprocess.run(["du", "-sb", str(site)], capture_output=True, text=True, check=True)
    return venv / "bin" / "aws", int(out.stdout.split()[0])


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{argv[:3]} failed with status {status}")
    return seconds, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "s3-bench")
    args = parser.parse_args()
    keep: Path = args.keep
    keep.mkdir(parents=True, exist_ok=True)
    sizes = {
        "boto3": install(keep / "boto3", "boto3"),
        "obstore": install(keep / "obstore", "obstore"),
    }
    aws, sizes["aws s3 cp"] = awscli(keep)
    sizes["action (boto3)"] = sizes["boto3"]
    port = free_port()
    # moto in a process of its own: this one stays small, so that a child's peak RSS
    # (which on Linux starts from its parent's at fork) is the child's own.
    server = subprocess.Popen(
        [sys.executable, "-c", MOTO, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory(dir=keep) as tmp:
            results = measure_uploads(
                keep, aws, port, Path(tmp), size_mib=args.size_mib, runs=args.runs
            )
    finally:
        server.terminate()
        server.wait()
    print(
        f"| client | installed size | upload {args.size_mib} MiB (median of {args.runs}) "
        "| MiB/s | peak RSS (median) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        rss = statistics.median(r for _, r in runs)
        print(
            f"| {name} | {sizes[name] / MIB:.1f} MiB | {seconds:.2f} s "
            f"| {args.size_mib / seconds:.0f} | {rss / MIB:.0f} MiB |"
        )


def measure_uploads(
    keep: Path, aws: Path, port: int, folder: Path, *, size_mib: int, runs: int
) -> dict[str, list[tuple[float, int]]]:
    """(seconds, peak RSS) of each client's uploads of one random file, alternated."""
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    path = folder / "archive.zip"
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(size_mib):
            block = os.urandom(MIB)
            digest.update(block)
            file.write(block)
    env["BENCH_SHA256"] = digest.hexdigest()
    commands = {
        "boto3": ([sys.executable, "-c", BOTO3], str(keep / "boto3")),
        "obstore": ([sys.executable, "-c", OBSTORE], str(keep / "obstore")),
        "action (boto3)": ([sys.executable, "-c", ACTION], os.getcwd()),
        "aws s3 cp": ([str(aws), "--endpoint-url", endpoint, "s3", "cp", "--quiet"], None),
    }
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for run in range(runs):
        for name, (argv, pythonpath) in commands.items():
            fresh_bucket(port)
            key = f"{name}-{run}".replace(" ", "-")
            if pythonpath is None:  # the CLI: source and destination
                command = [*argv, str(path), f"s3://bench/{key}"]
                results[name].append(timed(command, env))
            else:
                command = [*argv, endpoint, "bench", key, str(path)]
                results[name].append(timed(command, {**env, "PYTHONPATH": pythonpath}))
    return results


if __name__ == "__main__":
    main()
