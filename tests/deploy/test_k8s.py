"""deploy/k8s: the base and the production overlay, rendered by `kubectl kustomize` (no
cluster needed), checked object by object. RabbitMQ and MongoDB are custom resources of
their operators: our manifests hold the resources, never the operators' CRDs."""
from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

import pytest

from gm_kernel.store.factory import mongo_database_name
from gm_platform import config

OVERLAYS = ["base", "production"]
SHUTDOWN_GRACE = 8.0  # GM_SHUTDOWN_GRACE in gm.env; checked below


def by_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def configmap(objects, prefix):
    (found,) = [o for o in objects if o["kind"] == "ConfigMap"
                and o["metadata"]["name"].rsplit("-", 1)[0] == prefix]
    return found


def port_number(container, port):
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return number


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_well_formed(overlay, rendered):
    objects = rendered(overlay)
    assert objects
    for o in objects:
        assert o.get("apiVersion") and o.get("kind") and o.get("metadata", {}).get("name"), o
    kinds = {o["kind"] for o in objects}
    assert "CustomResourceDefinition" not in kinds, "the operators install their own CRDs"
    assert "Secret" not in kinds, "Secrets are created out of band (deploy/k8s/README.md)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_deployment_a_service_and_an_autoscaler(overlay, rendered):
    objects = rendered(overlay)
    deployments, services = by_kind(objects, "Deployment"), by_kind(objects, "Service")
    autoscalers = by_kind(objects, "HorizontalPodAutoscaler")
    assert set(deployments) == set(services) == set(autoscalers) == set(config.SERVICES)
    for name in config.SERVICES:
        deployment, service, hpa = deployments[name], services[name], autoscalers[name]
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        (container,) = pod["spec"]["containers"]
        port = config.DEFAULT_PORTS[name]
        assert [p["containerPort"] for p in container["ports"]] == [port]
        assert container["image"]

        ready = container["readinessProbe"]["httpGet"]
        assert ready["path"] == "/health" and port_number(container, ready["port"]) == port
        # /health is readiness; liveness is /live, so a broker outage restarts nothing
        live = container["livenessProbe"]["httpGet"]
        assert live["path"] == "/live" and port_number(container, live["port"]) == port

        resources = container["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), f"{name}: {bound}"

        security = pod["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] > 0
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["spec"]["terminationGracePeriodSeconds"] > SHUTDOWN_GRACE

        assert service["spec"]["selector"].items() <= labels.items()
        (service_port,) = service["spec"]["ports"]
        assert port_number(container, service_port["targetPort"]) == port

        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_and_files_are_mounted_where_the_configuration_points(overlay, rendered):
    objects = rendered(overlay)
    settings = configmap(objects, "gm-config")["data"]
    assert float(settings["GM_SHUTDOWN_GRACE"]) == SHUTDOWN_GRACE
    data = configmap(objects, "gm-data")
    for name, deployment in by_kind(objects, "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in spec["containers"][0]["volumeMounts"]}

        tokens_dir, tokens_file = posixpath.split(settings["GM_TOKENS_FILE"])
        assert mounts[tokens_dir]["secret"]["secretName"] == "gm-tokens"
        assert tokens_file == "tokens.json"
        for variable in ("GM_DIRECTORY_FILE", "GM_RULES_FILE"):
            directory, file = posixpath.split(settings[variable])
            assert mounts[directory]["configMap"]["name"] == data["metadata"]["name"]
            assert file in data["data"], f"{variable}: {file} is not in the gm-data ConfigMap"

        refs = {e["name"]: e["valueFrom"]["secretKeyRef"]
                for e in spec["containers"][0]["env"] if "valueFrom" in e}
        amqp = f"GM_{name.upper()}_AMQP_URI"  # its own broker user
        assert refs[amqp] == {"name": f"gm-{name}-amqp", "key": amqp}
        store = f"GM_{name.upper()}_STORE_URI"
        assert refs[store] == {"name": f"gm-{name}-store", "key": store}


def test_the_directory_rules_and_calendar_in_the_configmap_are_the_deployed_ones(repo):
    for name in ("directory.yaml", "rules.yaml", "calendar.yaml"):
        copy = repo / "deploy/k8s/base/data" / name
        assert copy.read_bytes() == (repo / "deploy" / name).read_bytes(), (
            f"deploy/k8s/base/data/{name} differs from deploy/{name}: run `make k8s-data`")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rabbitmq_cluster_imports_the_definitions_from_a_secret(overlay, rendered):
    (cluster,) = by_kind(rendered(overlay), "RabbitmqCluster").values()
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert cluster["spec"]["replicas"] >= 3, "quorum queues need three nodes to tolerate one loss"
    config_text = cluster["spec"]["rabbitmq"]["additionalConfig"]
    (path,) = [line.split("=", 1)[1].strip() for line in config_text.splitlines()
               if line.strip().startswith("load_definitions")]
    pod = cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (rabbit,) = [c for c in pod["containers"] if c["name"] == "rabbitmq"]
    (mount,) = [m for m in rabbit["volumeMounts"]
                if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert volumes[mount["name"]]["secret"]["secretName"] == "gm-rabbitmq-definitions"
    assert posixpath.basename(path) == "definitions.json"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mongodb_is_a_replica_set_of_three_with_one_user_per_service(overlay, rendered, compose):
    (mongo,) = by_kind(rendered(overlay), "MongoDBCommunity").values()
    assert mongo["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    spec = mongo["spec"]
    assert spec["type"] == "ReplicaSet" and spec["members"] == 3
    assert spec["version"].startswith("7.")
    users = {u["name"]: u for u in spec["users"]}
    for service in config.SERVICES:
        # the same database the compose stack's store URI names
        uri = compose["services"][service]["environment"][f"GM_{service.upper()}_STORE_URI"]
        database = mongo_database_name(uri, service)
        user = users[f"gm-{service}"]
        assert user["roles"] == [{"name": "readWrite", "db": database}]
        assert user["passwordSecretRef"]["name"] and user["scramCredentialsSecretName"]


def _repository(image: str) -> str:
    return image.split(":", 1)[0] if "/" not in image.split(":", 1)[0] else image.rsplit(":", 1)[0]


def test_images_are_named_alike_in_compose_and_kubernetes(rendered, compose):
    base = by_kind(rendered("base"), "Deployment")
    production = by_kind(rendered("production"), "Deployment")
    for service in config.SERVICES:
        compose_image = compose["services"][service]["image"].split(":", 1)[0]
        base_image = base[service]["spec"]["template"]["spec"]["containers"][0]["image"]
        assert _repository(base_image) == compose_image == f"gm-{service}"
        released = production[service]["spec"]["template"]["spec"]["containers"][0]["image"]
        repository, _, tag = released.rpartition(":")
        assert urlsplit("//" + repository).path.endswith(f"/gm-{service}")
        assert tag and tag not in ("dev", "latest"), "production runs a release tag"


def test_production_runs_two_of_everything_in_its_namespace(rendered):
    objects = rendered("production")
    namespaces = by_kind(objects, "Namespace")
    assert list(namespaces) == ["grand-mediation"]
    for o in objects:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == "grand-mediation", o["metadata"]["name"]
    for name, hpa in by_kind(objects, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= 2, name
    budgets = by_kind(objects, "PodDisruptionBudget")
    assert set(budgets) == set(config.SERVICES)
    for name, pdb in budgets.items():
        assert pdb["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}
