"""jobs/rayjob.yaml and jobs/Dockerfile, checked as far as this machine allows.

`kubectl apply --dry-run=client` needs an API server to map a custom kind, and there is no
Docker daemon here, so neither the manifest nor the image is applied or built. Instead:

* the manifest is validated against a JSON schema of the KubeRay v1 fields it uses
  (written from ray-operator/apis/ray/v1/rayjob_types.go and raycluster_types.go; unknown
  keys are errors, so a misspelt field fails here instead of being dropped by the API
  server). The pod templates are checked only for what this job relies on;
* its entrypoint is parsed by jobs/analyze.py's own command line;
* the sizes agree with each other (actors, GPUs, CPUs, deadline vs unit timeout), and the
  Dockerfile's base image with the Ray and Python versions the project pins.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
QUANTITY = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^[0-9.]+(m|Ki|Mi|Gi|Ti)?$"}]}
RESOURCES = {"type": "object", "additionalProperties": False, "properties": {
    k: {"type": "object", "additionalProperties": QUANTITY} for k in ("requests", "limits")}}
CONTAINER = {"type": "object", "required": ["name", "image"], "properties": {
    "name": {"type": "string"}, "image": {"type": "string"}, "resources": RESOURCES,
    "env": {"type": "array"}, "ports": {"type": "array"}, "volumeMounts": {"type": "array"}}}
POD_TEMPLATE = {"type": "object", "required": ["spec"], "properties": {"spec": {
    "type": "object", "required": ["containers"],
    "properties": {"containers": {"type": "array", "minItems": 1, "items": CONTAINER},
                   "volumes": {"type": "array"}, "tolerations": {"type": "array"}}}}}
START_PARAMS = {"type": "object", "additionalProperties": {"type": "string"}}


def _obj(required=(), **props):
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": props}


INT, STR, BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
RAYJOB_SCHEMA = _obj(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "ray.io/v1"}, kind={"const": "RayJob"},
    metadata={"type": "object", "required": ["name"]},
    spec=_obj(
        ["entrypoint", "rayClusterSpec"],
        entrypoint=STR, runtimeEnvYAML=STR, jobId=STR, metadata={"type": "object"},
        submissionMode={"enum": ["K8sJobMode", "HTTPMode", "InteractiveMode"]},
        shutdownAfterJobFinishes=BOOL, ttlSecondsAfterFinished={"type": "integer", "minimum": 0},
        activeDeadlineSeconds={"type": "integer", "minimum": 1}, backoffLimit={"type": "integer", "minimum": 0},
        suspend=BOOL, entrypointNumCpus={"type": "number"}, entrypointNumGpus={"type": "number"},
        entrypointResources=STR, submitterPodTemplate=POD_TEMPLATE, clusterSelector={"type": "object"},
        rayClusterSpec=_obj(
            ["headGroupSpec"],
            rayVersion=STR, enableInTreeAutoscaling=BOOL,
            autoscalerOptions=_obj(
                upscalingMode={"enum": ["Default", "Aggressive", "Conservative"]},
                idleTimeoutSeconds={"type": "integer", "minimum": 0}, resources=RESOURCES, image=STR,
                imagePullPolicy=STR, env={"type": "array"}, envFrom={"type": "array"},
                volumeMounts={"type": "array"}, version={"enum": ["v1", "v2"]}),
            headGroupSpec=_obj(["template"], rayStartParams=START_PARAMS, template=POD_TEMPLATE,
                               serviceType=STR, enableIngress=BOOL),
            workerGroupSpecs={"type": "array", "minItems": 1, "items": _obj(
                ["groupName", "template"], groupName=STR, replicas=INT, minReplicas=INT, maxReplicas=INT,
                idleTimeoutSeconds=INT, numOfHosts=INT, suspend=BOOL, rayStartParams=START_PARAMS,
                template=POD_TEMPLATE, scaleStrategy={"type": "object"})},
        ),
    ),
)


@pytest.fixture(scope="module")
def job() -> dict:
    return yaml.safe_load((REPO / "jobs/rayjob.yaml").read_text())


def test_manifest_matches_the_kuberay_v1_schema(job):
    jsonschema.validate(job, RAYJOB_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # the schema does catch a misspelt field
        bad = yaml.safe_load((REPO / "jobs/rayjob.yaml").read_text())
        bad["spec"]["rayClusterSpec"]["enableInTreeAutoScaling"] = True
        jsonschema.validate(bad, RAYJOB_SCHEMA)
    yaml.safe_load(job["spec"]["runtimeEnvYAML"])  # the runtime env is YAML too


def _options(job, tmp_path) -> dict:
    """The entrypoint's options as jobs/analyze.py parses them (the input swapped for a folder
    that exists here)."""
    import importlib.util

    args = shlex.split(job["spec"]["entrypoint"])
    assert args[:2] == ["python", "jobs/analyze.py"]
    args = [str(tmp_path) if a == "/mnt/videos" else a for a in args[2:]]
    spec = importlib.util.spec_from_file_location("analyze_job", REPO / "jobs/analyze.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main.make_context("analyze", args).params


def _cpus(q) -> float:
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def test_autoscaling_gpu_job_is_consistent(job, tmp_path):
    spec, cluster = job["spec"], job["spec"]["rayClusterSpec"]
    opts = _options(job, tmp_path)
    assert cluster["enableInTreeAutoscaling"] is True  # else min/max replicas do nothing
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    (gpu,) = [g for g in cluster["workerGroupSpecs"] if g["groupName"] == "gpu-workers"]
    assert 0 <= gpu["minReplicas"] <= gpu["replicas"] <= gpu["maxReplicas"] and gpu["maxReplicas"] > gpu["minReplicas"]
    (container,) = gpu["template"]["spec"]["containers"]
    limits = container["resources"]["limits"]
    assert container["resources"]["requests"] == limits  # guaranteed: what Ray sees is what it gets
    gpus_per_pod = int(limits["nvidia.com/gpu"])
    # GPU actors that wait for GPU pods (never CPU actors because the pods are late)
    assert opts["device"] == "cuda" and opts["gpus_per_actor"] == 1
    assert opts["actors"] == gpu["maxReplicas"] * gpus_per_pod and opts["min_actors"] >= 1
    assert opts["cpus_per_actor"] * gpus_per_pod <= _cpus(limits["cpu"]) - 1  # room for Ray and planning
    # a retry resumes from --out; the deadline leaves room for the slowest unit and its retries
    assert spec["backoffLimit"] >= 1 and spec["shutdownAfterJobFinishes"] is True
    assert spec["activeDeadlineSeconds"] > opts["unit_timeout_s"] * (opts["max_retries"] + 1)
    assert opts["out"].startswith("s3://")  # every pod writes there
    images = {c["image"] for g in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
              for c in g["template"]["spec"]["containers"]}
    assert len(images) == 1  # one image for head and workers


def test_dockerfile_builds_the_pinned_ray_and_python(job):
    import ray

    dockerfile = (REPO / "jobs/Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    pinned = re.search(r"^ray==(\S+)$", (REPO / "constraints.txt").read_text(), re.M)[1]
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == pinned == ray.__version__
    assert base == f"rayproject/ray:{pinned}-py311-gpu"
    assert "python_requires = >=3.11" in (REPO / "setup.cfg").read_text()
    assert "-c constraints.txt" in dockerfile
    workdir = yaml.safe_load(job["spec"]["runtimeEnvYAML"])["working_dir"]
    assert f"COPY --chown=ray:users . {workdir}" in dockerfile  # the job's working_dir is the repo
    ignored = (REPO / "jobs/Dockerfile.dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored
