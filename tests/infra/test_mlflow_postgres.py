"""The production MLflow backend for real: a PostgreSQL server (the system's binaries, a
private cluster on 127.0.0.1), MLflow started by infra/compose/mlflow-entrypoint.sh (the same
script the compose file runs) behind its basic-auth app with every secret read from a file;
`arcadelab run data` logs a smoke run to it and the run is served back."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, isolated_env, stop_group, wait_http

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Special characters on purpose: the password travels through a URL and an ini file.
PG_PASSWORD = "pg%pass'wo:rd@1"
ADMIN_PASSWORD = "admin-pass-1234"

pytestmark = pytest.mark.integration


def postgres_bindir() -> Path | None:
    for cand in [shutil.which("pg_config") and subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(),
                 *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if cand and (Path(cand) / "initdb").exists():
            return Path(cand)
    return None


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (initdb + pg_ctl), stopped afterwards."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed; "
                    ".ci/run installs them with apt-get (package postgresql)")
    # The server refuses to run as root: run it as the `postgres` system user then.
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no `postgres` user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    tmp = Path(tempfile.mkdtemp(prefix="arlpg", dir="/tmp"))
    pwfile = tmp / "pw"
    pwfile.write_text(PG_PASSWORD)
    if as_user:
        shutil.chown(tmp, "postgres")
        shutil.chown(pwfile, "postgres")
    port = free_port()
    data = tmp / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "arcadelab",
                    f"--pwfile={pwfile}", "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                    str(tmp / "server.log"), "-w", "-t", "60", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="arcadelab",
                                password=PG_PASSWORD, dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE mlflow")
            cur.execute("CREATE DATABASE mlflow_auth")
        conn.close()
        yield {"host": "127.0.0.1", "port": str(port), "password_file": str(pwfile),
               "tmp": str(tmp)}
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server(postgres: dict[str, str]) -> Iterator[str]:
    tmp = Path(postgres["tmp"])
    secrets = tmp / "secrets"
    secrets.mkdir()
    (secrets / "admin").write_text(ADMIN_PASSWORD)
    (secrets / "flask").write_text("a-flask-session-secret")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               POSTGRES_HOST=postgres["host"], POSTGRES_PORT=postgres["port"],
               POSTGRES_USER="arcadelab", POSTGRES_PASSWORD_FILE=postgres["password_file"],
               MLFLOW_DB="mlflow", MLFLOW_AUTH_DB="mlflow_auth",
               MLFLOW_ARTIFACTS_DESTINATION=str(tmp / "artifacts"),
               MLFLOW_AUTH_ADMIN_USERNAME="admin",
               MLFLOW_AUTH_ADMIN_PASSWORD_FILE=str(secrets / "admin"),
               MLFLOW_FLASK_SERVER_SECRET_KEY_FILE=str(secrets / "flask"),
               MLFLOW_HOST="127.0.0.1", MLFLOW_PORT=str(port), MLFLOW_WORKERS="1")
    log = (tmp / "mlflow.log").open("w")
    proc = subprocess.Popen(["sh", str(ROOT / "infra" / "compose" / "mlflow-entrypoint.sh")],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc, 240, "MLflow server", tmp / "mlflow.log")
        yield url
    finally:
        stop_group(proc, timeout=10)
        log.close()


def test_secrets_stay_out_of_the_command_line(mlflow_server: str) -> None:
    """The DB password reaches MLflow through the environment, never argv (seen by `ps`)."""
    out = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
    assert "mlflow server --app-name basic-auth" in out
    assert "pass'wo" not in out and "pg%25pass" not in out and ADMIN_PASSWORD not in out


def test_server_requires_auth(mlflow_server: str) -> None:
    req = urllib.request.Request(f"{mlflow_server}/api/2.0/mlflow/experiments/search",
                                 data=b'{"max_results": 1}', method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401


def test_smoke_run_on_postgres_is_served_back(mlflow_server: str, postgres: dict[str, str],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    creds = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    env = isolated_env()
    env.update(creds, PREFECT_HOME=str(tmp_path / "prefect"), OMP_NUM_THREADS="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")  # 20 s: short under load
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "data", "--preset", "smoke",
         "--work-dir", str(tmp_path / "work"), "--mlflow-uri", mlflow_server],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    for key, value in creds.items():
        monkeypatch.setenv(key, value)
    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name("arcadelab/data")
    runs = client.search_runs([exp.experiment_id])
    stages = {r.data.tags["arcadelab.stage"]: r for r in runs}
    assert set(stages) == {"flow", "data"}
    data = stages["data"]
    assert data.info.status == "FINISHED" and data.data.metrics["data/rows"] > 0
    assert data.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
    arts = {a.path for a in client.list_artifacts(data.info.run_id)}
    assert "config.yaml" in arts
    local = client.download_artifacts(data.info.run_id, "config.yaml", str(tmp_path))
    assert "steps_per_task: 300" in Path(local).read_text()

    import psycopg2

    with psycopg2.connect(host=postgres["host"], port=int(postgres["port"]), user="arcadelab",
                          password=PG_PASSWORD, dbname="mlflow") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs WHERE run_uuid = %s", (data.info.run_id,))
        assert cur.fetchone() == (1,)
    conn.close()
