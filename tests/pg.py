"""A throwaway PostgreSQL server on loopback for tests (Debian's postgresql server programs).

The server refuses to run as root, so as root it runs as the ``postgres`` user on a
temporary directory it owns; it is stopped (and the directory removed) afterwards."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager


def find_bin(name: str) -> str | None:
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server():
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError("PostgreSQL server programs (initdb, pg_ctl) not found; "
                                "install Debian's postgresql package")
    root = os.geteuid() == 0
    tmp = tempfile.mkdtemp(prefix="archlab-pg-")
    data = os.path.join(tmp, "data")
    run_as = ["runuser", "-u", "postgres", "--"] if root else []
    if root:
        shutil.chown(tmp, "postgres", "postgres")
    port = _free_port()
    user = "postgres" if root else os.environ.get("USER", "postgres")
    try:
        subprocess.run(run_as + [initdb, "-D", data, "-U", user, "--auth=trust", "-E", "UTF8"], check=True,
                       capture_output=True)
        subprocess.run(run_as + [pg_ctl, "-D", data, "-l", os.path.join(tmp, "log"), "-w", "-t", "60", "-o",
                                 f"-p {port} -k {tmp} -h 127.0.0.1 -c max_connections=200", "start"],
                       check=True, capture_output=True)
        try:
            import psycopg2
            con = psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname="postgres")
            con.autocommit = True
            con.cursor().execute("CREATE DATABASE archlab_test")
            con.close()
            yield f"postgresql+psycopg2://{user}@127.0.0.1:{port}/archlab_test"
        finally:
            subprocess.run(run_as + [pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], capture_output=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
