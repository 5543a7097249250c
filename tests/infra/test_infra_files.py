"""Every file in infra/ checked against the schema its tool reads, or the tool's own parser:
the Ray cluster-launcher YAML against Ray's ray-schema.json and `ray up`'s own preparation,
the KubeRay manifests against the ray.io/v1 CRD fields (KubeRay API reference), the
Dockerfile through BuildKit's parser, the compose file through `docker compose config` when
the tool exists and always through the structure checks below (credentials only from env
and secret files, ports on loopback, healthchecks, dependencies that exist)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --- Ray cluster launcher --------------------------------------------------------------------

def test_cluster_launcher_yaml_passes_rays_schema_and_preparation() -> None:
    import ray.autoscaler
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = load(INFRA / "ray" / "cluster.yaml")
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(raw, schema)
    prepared = prepare_config(copy.deepcopy(raw))  # what `ray up` does before launching
    validate_config(prepared)
    types = prepared["available_node_types"]
    assert {"head", "cpu", "gpu"} <= set(types)
    assert types["head"]["resources"] == {"CPU": 0}
    assert "--gpus all" in types["gpu"]["docker"]["worker_run_options"]
    assert prepared["docker"]["image"].startswith("arcadelab")


def test_rays_schema_rejects_a_misspelt_field() -> None:
    import ray.autoscaler

    raw = load(INFRA / "ray" / "cluster.yaml")
    raw["max_worker"] = raw.pop("max_workers")
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        jsonschema.validate(raw, schema)


# --- KubeRay ---------------------------------------------------------------------------------
# ray.io/v1 fields as the KubeRay API reference (docs/reference/api.md) and CRDs define them;
# closed objects (additionalProperties: false) so a misspelt field fails. The pod template is
# Kubernetes' PodTemplateSpec: checked for what KubeRay needs (containers with name + image).

STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
QUANTITY = {"anyOf": [{"type": "integer"}, {"type": "string",
                                            "pattern": r"^[0-9.]+([KMGTPE]i?|[mk])?$"}]}
CONTAINER = {
    "type": "object", "required": ["name", "image"],
    "properties": {
        "name": {"type": "string"}, "image": {"type": "string", "minLength": 1},
        "resources": {"type": "object", "additionalProperties": False, "properties": {
            "requests": {"type": "object", "additionalProperties": QUANTITY},
            "limits": {"type": "object", "additionalProperties": QUANTITY}}},
        "env": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "value": {"type": "string"},
                           "valueFrom": {"type": "object"}}}},
    },
}
POD_TEMPLATE = {
    "type": "object", "required": ["spec"],
    "properties": {"metadata": {"type": "object"}, "spec": {
        "type": "object", "required": ["containers"],
        "properties": {"containers": {"type": "array", "minItems": 1, "items": CONTAINER}}}},
}
HEAD_GROUP = {
    "type": "object", "required": ["template"], "additionalProperties": False,
    "properties": {"template": POD_TEMPLATE, "headService": {"type": "object"},
                   "enableIngress": {"type": "boolean"}, "rayStartParams": STR_MAP,
                   "serviceType": {"type": "string"}},
}
WORKER_GROUP = {
    "type": "object", "required": ["groupName", "template"], "additionalProperties": False,
    "properties": {"suspend": {"type": "boolean"}, "groupName": {"type": "string"},
                   "replicas": {"type": "integer"}, "minReplicas": {"type": "integer"},
                   "maxReplicas": {"type": "integer"},
                   "idleTimeoutSeconds": {"type": "integer"}, "rayStartParams": STR_MAP,
                   "template": POD_TEMPLATE, "scaleStrategy": {"type": "object"},
                   "numOfHosts": {"type": "integer"}},
}
CLUSTER_SPEC = {
    "type": "object", "required": ["headGroupSpec"], "additionalProperties": False,
    "properties": {
        "suspend": {"type": "boolean"}, "managedBy": {"type": "string"},
        "autoscalerOptions": {"type": "object", "additionalProperties": False, "properties": {
            "resources": {"type": "object"}, "image": {"type": "string"},
            "imagePullPolicy": {"type": "string"}, "securityContext": {"type": "object"},
            "idleTimeoutSeconds": {"type": "integer"},
            "upscalingMode": {"enum": ["Default", "Aggressive", "Conservative"]},
            "version": {"enum": ["v1", "v2"]}, "env": {"type": "array"},
            "envFrom": {"type": "array"}, "volumeMounts": {"type": "array"}}},
        "headServiceAnnotations": STR_MAP, "enableInTreeAutoscaling": {"type": "boolean"},
        "gcsFaultToleranceOptions": {"type": "object"}, "headGroupSpec": HEAD_GROUP,
        "rayVersion": {"type": "string"},
        "workerGroupSpecs": {"type": "array", "items": WORKER_GROUP},
    },
}
JOB_SPEC = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
        "backoffLimit": {"type": "integer"}, "rayClusterSpec": CLUSTER_SPEC,
        "submitterPodTemplate": POD_TEMPLATE, "metadata": STR_MAP, "clusterSelector": STR_MAP,
        "submitterConfig": {"type": "object"}, "managedBy": {"type": "string"},
        "deletionStrategy": {"type": "object"}, "entrypoint": {"type": "string"},
        "runtimeEnvYAML": {"type": "string"}, "jobId": {"type": "string"},
        "submissionMode": {"enum": ["K8sJobMode", "HTTPMode", "InteractiveMode"]},
        "entrypointResources": {"type": "string"}, "entrypointNumCpus": {"type": "number"},
        "entrypointNumGpus": {"type": "number"}, "ttlSecondsAfterFinished": {"type": "integer"},
        "shutdownAfterJobFinishes": {"type": "boolean"}, "suspend": {"type": "boolean"},
        "schedule": {"type": "string"},
    },
}


def resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
            "additionalProperties": False,
            "properties": {"apiVersion": {"const": "ray.io/v1"}, "kind": {"const": kind},
                           "metadata": {"type": "object", "required": ["name"]}, "spec": spec}}


def cluster_spec_checks(spec: dict[str, Any]) -> None:
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    for g in groups.values():
        assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == gpu["requests"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in groups["cpu"]["template"]["spec"]["containers"][0][
        "resources"]["limits"]
    assert spec["rayVersion"] == __import__("ray").__version__
    for pod in [spec["headGroupSpec"], *groups.values()]:
        for c in pod["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in c["env"]}
            # Credentials come from a Kubernetes secret, never inline.
            assert "valueFrom" in env["MLFLOW_TRACKING_PASSWORD"]
            assert "value" not in env["MLFLOW_TRACKING_PASSWORD"]


def test_raycluster_matches_the_crd_schema() -> None:
    doc = load(INFRA / "kuberay" / "raycluster.yaml")
    jsonschema.validate(doc, resource("RayCluster", CLUSTER_SPEC))
    cluster_spec_checks(doc["spec"])


def test_rayjob_matches_the_crd_schema_and_runs_the_pipeline() -> None:
    doc = load(INFRA / "kuberay" / "rayjob.yaml")
    jsonschema.validate(doc, resource("RayJob", JOB_SPEC))
    cluster_spec_checks(doc["spec"]["rayClusterSpec"])
    assert doc["spec"]["entrypoint"].startswith("arcadelab pipeline --preset cluster")
    yaml.safe_load(doc["spec"]["runtimeEnvYAML"])  # a YAML string inside the YAML


def test_kuberay_schema_rejects_a_misspelt_field() -> None:
    doc = load(INFRA / "kuberay" / "raycluster.yaml")
    doc["spec"]["workerGroupSpecs"][0]["maxReplica"] = 3
    with pytest.raises(jsonschema.ValidationError, match="maxReplica"):
        jsonschema.validate(doc, resource("RayCluster", CLUSTER_SPEC))


# --- Dockerfile ------------------------------------------------------------------------------

def test_dockerfile_parses_and_installs_the_pinned_set() -> None:
    import dockerfile  # BuildKit's own parser (Go), via its Python binding

    cmds = dockerfile.parse_file(str(INFRA / "Dockerfile"))
    by = [(c.cmd.upper(), " ".join(c.value)) for c in cmds]
    froms = [v for k, v in by if k == "FROM"]
    assert froms and "python" in froms[0]
    runs = " && ".join(v for k, v in by if k == "RUN")
    assert "pip install -c constraints.txt" in runs
    # Everything COPY'd exists in the build context (the repo root).
    for k, v in by:
        if k == "COPY":
            for src in v.split()[:-1]:
                assert (ROOT / src).exists(), src
    assert [v for k, v in by if k == "USER"] == ["ray"]  # not root at run time
    # No credentials baked into the image.
    for k, v in by:
        if k in ("ENV", "ARG"):
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|KEY)\b", v, re.I), v


# --- compose ---------------------------------------------------------------------------------

COMPOSE = INFRA / "compose" / "compose.yaml"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def test_compose_structure_and_credentials() -> None:
    doc = load(COMPOSE)
    services = doc["services"]
    assert {"postgres", "minio", "minio-init", "mlflow", "prefect-server"} <= set(services)
    secrets = doc["secrets"]
    for name, svc in services.items():
        assert "image" in svc, name
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services and cond["condition"] in CONDITIONS, (name, dep)
        for s in svc.get("secrets", []):
            assert s in secrets, (name, s)
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)  # loopback only
        env = svc.get("environment") or {}
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET|ACCESS_KEY", key) and not key.endswith("_FILE"):
                # Only a required interpolation (${VAR:?...}): never a literal or a default.
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), (name, key)
        if name != "minio-init":
            assert "healthcheck" in svc, name
    for s in secrets.values():
        assert s["file"].startswith("./secrets/")
    mlflow = services["mlflow"]
    assert mlflow["environment"]["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    script = (INFRA / "compose" / "mlflow-entrypoint.sh").read_text()
    assert "--app-name basic-auth" in script and "postgresql+psycopg2://" in script
    assert services["prefect-server"]["environment"]["PREFECT_SERVER_DATABASE_DRIVER"] == (
        "postgresql+asyncpg")


def test_compose_env_example_names_every_required_variable() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {line.split("=", 1)[0] for line in
               (INFRA / "compose" / "env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert required <= example, required - example
    ignored = (ROOT / ".gitignore").read_text()
    assert "infra/compose/.env" in ignored and "infra/compose/secrets/" in ignored


def test_mlflow_entrypoint_is_valid_sh() -> None:
    subprocess.run(["sh", "-n", str(INFRA / "compose" / "mlflow-entrypoint.sh")], check=True)


def compose_tool() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) and subprocess.run(
                [*cmd, "version"], capture_output=True).returncode == 0:
            return cmd
    return None


def test_docker_compose_config(tmp_path: Path) -> None:
    """The tool's own check, with throwaway values for the required variables."""
    cmd = compose_tool()
    if cmd is None:
        pytest.skip("no `docker compose` / `docker-compose` on this machine (the Docker CLI "
                    "here has no compose plugin); the structure tests above still run")
    env = {**os.environ, "MINIO_ROOT_USER": "u", "MINIO_ROOT_PASSWORD": "p",
           "MLFLOW_ADMIN_USER": "a"}
    out = subprocess.run([*cmd, "-f", str(COMPOSE), "config", "--quiet"], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr

