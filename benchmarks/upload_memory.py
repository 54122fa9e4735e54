#!/usr/bin/env python
"""A worker's memory while hostile archives are uploaded.

    .venv/bin/python benchmarks/upload_memory.py [--code DIR] [--keep]

Starts the index with one gunicorn worker (tests/liveserver.py), generates the
archives of issue 11 and uploads each one:

- an sdist whose first tar member is a pax header declaring 1 GiB (followed by
  1 GiB of zeros, about 1 MB gzipped);
- a zip sdist with 1,100,000 empty members (about 95 MB);
- a wheel holding 200 MiB of zeros;
- and, for comparison, a small valid wheel.

For each it prints the answer (status and message) and the worker's resident
memory before, at its peak during the upload (VmHWM, reset through
/proc/<pid>/clear_refs before each upload; needs Linux and the worker's user or
root) and after. --code runs the server from another checkout (for example an
older commit in a git worktree) to compare. DATABASE_URL and REDIS_URL, when
set, are passed on to the server.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import struct
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.liveserver import (  # noqa: E402
    gunicorn_server,
    manage,
    post_upload,
    server_env,
    superuser_with_token,
)

MiB = 1024 * 1024
NAME = "bench-memory"
STEM = "bench_memory"


def metadata(version: str) -> bytes:
    return (
        f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\nSummary: memory bench\n\n"
    ).encode()


def pax_bomb_sdist(directory: Path) -> Path:
    path = directory / f"{STEM}-1.0.tar.gz"
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 1 << 30
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        zeros = bytes(MiB)
        for _ in range(1024):
            out.write(zeros)
    return path


def many_members_zip(directory: Path, members: int = 1_100_000) -> Path:
    """Empty stored members, written record by record (zipfile would keep an
    object per member in this process too); zip64 end records past 65,535."""
    path = directory / f"{STEM}-2.0.zip"
    local = struct.Struct("<4s5H3L2H")
    central = struct.Struct("<4s6H3L5H2L")
    crc = zlib.crc32(b"")
    directory_entries = io.BytesIO()
    with open(path, "wb") as out:
        for index in range(members):
            # Short names, as in the reported archive: 1.1 million members in 95 MB.
            name = f"{index:x}".encode()
            offset = out.tell()
            out.write(local.pack(b"PK\x03\x04", 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0) + name)
            directory_entries.write(
                central.pack(
                    b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0, 0, 0, 0, 0, offset
                )
                + name
            )
        start = out.tell()
        out.write(directory_entries.getvalue())
        size = out.tell() - start
        zip64_at = out.tell()
        out.write(
            struct.pack(
                "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, members, members, size, start
            )
        )
        out.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1))
        out.write(
            struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
        )
    return path


def zeros_wheel(directory: Path, version: str = "3.0", size: int = 200 * MiB) -> Path:
    path = directory / f"{STEM}-{version}-py3-none-any.whl"
    dist_info = f"{STEM}-{version}.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{dist_info}/METADATA", metadata(version))
        archive.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        archive.writestr(f"{dist_info}/RECORD", "")
        if size:
            with archive.open(f"{STEM}/zeros.bin", "w") as member:
                for _ in range(size // MiB):
                    member.write(bytes(MiB))
        else:
            archive.writestr(f"{STEM}/__init__.py", "")
    return path


def fields(path: Path, version: str) -> dict:
    wheel = path.name.endswith(".whl")
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": NAME,
        "version": version,
        "summary": "memory bench",
        "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": "py3" if wheel else "source",
        "sha256_digest": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise SystemExit(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def memory(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) // 1024  # MiB
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=REPO, help="checkout to serve from")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="upload-memory-"))
    try:
        print("generating archives...", flush=True)
        archives = [
            ("valid small wheel", zeros_wheel(work, "0.1", size=0), "0.1"),
            ("sdist, pax header of 1 GiB", pax_bomb_sdist(work), "1.0"),
            ("zip sdist, 1,100,000 members", many_members_zip(work), "2.0"),
            ("wheel, 200 MiB of zeros", zeros_wheel(work), "3.0"),
        ]
        env = server_env(work / "var", os.environ.get("DATABASE_URL"))
        manage(env, "migrate", "--noinput")
        token = superuser_with_token(env, "bench", "bench-password-1")
        with gunicorn_server(env, work, workers=1, threads=2, timeout=300, cwd=args.code) as server:
            worker = worker_pid(server.process.pid)
            print(f"server code: {args.code}; worker pid {worker}")
            print(f"{'archive':32} {'size':>9} {'before':>7} {'peak':>7} {'after':>7}  answer")
            for label, path, version in archives:
                Path(f"/proc/{worker}/clear_refs").write_text("5")  # reset VmHWM
                before = memory(worker)["VmRSS"]
                response = post_upload(
                    f"{server.url}/legacy/",
                    ("__token__", token),
                    fields(path, version),
                    path.name,
                    path,
                )
                after = memory(worker)
                size = f"{path.stat().st_size / MiB:.1f} MiB"
                print(
                    f"{label:32} {size:>9} {before:>4} MiB {after['VmHWM']:>4} MiB "
                    f"{after['VmRSS']:>4} MiB  {response.status} {response.reason}",
                    flush=True,
                )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
