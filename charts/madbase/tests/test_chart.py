"""Offline checks of the Helm chart: lint, render with default and non-default values, validate
every manifest against the Kubernetes schemas of the oldest and newest supported minors, and check
that values.schema.json rejects bad values. No cluster and no helm binary are needed.

    python3 -m venv .venv && .venv/bin/pip install -r charts/madbase/tests/requirements.txt
    .venv/bin/pytest charts/madbase/tests
"""

import copy
import pathlib
import re

import kubernetes_validate
import pytest
import yaml
from helm_python import Chart, lint
from helm_python.errors import HelmError

CHART = pathlib.Path(__file__).resolve().parent.parent
REPO = CHART.parent.parent
KUBE_VERSIONS = ["1.32.0", "1.37.0"]
# Kinds whose schemas kubernetes-validate does not bundle (custom resources).
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

NON_DEFAULT = {
    "crds": {"create": False},
    "rbac": {"scope": "namespace", "watchNamespace": "tenants"},
    "cnpg": {"enabled": True},
    "gatewayApi": {"enabled": True},
    "controlPlane": {"enabled": False},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "config": {
        "databasePools": {
            "default": {"adminUrlSecret": {"name": "pg-admin", "key": "url"}, "host": "pg-rw.db.svc", "port": 5432}
        },
        "objectStores": {
            "default": {
                "endpoint": "http://minio.minio.svc:9000",
                "credentialsSecret": {"name": "s3-creds"},
            },
            "aws": {"region": "eu-west-1", "forcePathStyle": False},
        },
        "cnpgClusters": ["databases/shared-pg"],
    },
    "logFormat": "text",
    "replicaCount": 2,
    "leaderElection": {"leaseName": "mb-lease", "leaseDuration": "30s", "renewDeadline": "20s", "retryPeriod": "4s"},
    "extraVolumes": [{"name": "pool-ca", "configMap": {"name": "pool-ca"}}],
    "extraVolumeMounts": [{"name": "pool-ca", "mountPath": "/etc/madbase-operator/ca", "readOnly": True}],
}


def render(values=None):
    chart = Chart.load(CHART)
    rendered = chart.render(values or {}, name="madbase", namespace="madbase-system", is_install=True)
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append((path, doc))
    return docs


def kinds(docs):
    return sorted((d["kind"], d["metadata"]["name"]) for _, d in docs)


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "non-default"])
def test_lint_is_clean(values):
    report = lint(str(CHART), values, strict=True, namespace="madbase-system")
    errors = [m for m in report["messages"] if m["severity"] >= 2]
    assert not errors and not report["errors"], report


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "non-default"])
@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_every_manifest_matches_kubernetes_schemas(values, kube):
    docs = render(values)
    assert docs
    for path, doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, kube, strict=True)


def test_default_render():
    docs = render()
    assert kinds(docs) == [
        ("ClusterRole", "madbase"),
        ("ClusterRoleBinding", "madbase"),
        ("ConfigMap", "madbase"),
        ("CustomResourceDefinition", "madbaseprojects.madbase.io"),
        ("Deployment", "madbase"),
        ("Role", "madbase-leader-election"),
        ("RoleBinding", "madbase-leader-election"),
        ("Service", "madbase"),
        ("ServiceAccount", "madbase"),
    ]
    crd = next(d for _, d in docs if d["kind"] == "CustomResourceDefinition")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    committed = yaml.safe_load((REPO / "crds" / "madbaseproject.yaml").read_text())
    crd_without_annotation = copy.deepcopy(crd)
    del crd_without_annotation["metadata"]["annotations"]
    assert crd_without_annotation == committed, "chart CRD differs from crds/madbaseproject.yaml"


def test_non_default_render():
    docs = render(NON_DEFAULT)
    assert kinds(docs) == [
        ("ConfigMap", "madbase"),
        ("Deployment", "madbase"),
        ("PodDisruptionBudget", "madbase"),
        ("Role", "madbase"),
        ("Role", "madbase-leader-election"),
        ("RoleBinding", "madbase"),
        ("RoleBinding", "madbase-leader-election"),
        ("Service", "madbase"),
        ("ServiceAccount", "madbase"),
        ("ServiceMonitor", "madbase"),
    ]
    role = next(d for _, d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "madbase")
    assert role["metadata"]["namespace"] == "tenants"
    groups = {g for rule in role["rules"] for g in rule["apiGroups"]}
    assert {"postgresql.cnpg.io", "gateway.networking.k8s.io"} <= groups
    deployment = next(d for _, d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MADBASE_OPERATOR_WATCH_NAMESPACE"] == "tenants"
    assert "MADBASE_OPERATOR_API_ADDR" not in env
    config = yaml.safe_load(next(d for _, d in docs if d["kind"] == "ConfigMap")["data"]["config.yaml"])
    assert config["databasePools"]["default"] == {
        "adminUrlFile": "/etc/madbase-operator/pools/default/url",
        "host": "pg-rw.db.svc",
        "port": 5432,
    }
    assert config["objectStores"]["aws"] == {"region": "eu-west-1", "forcePathStyle": False}
    assert config["cnpgClusters"] == ["databases/shared-pg"]
    assert config["objectStores"]["default"]["accessKeyIdFile"].endswith("/stores/default/access-key-id")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/etc/madbase-operator/pools/default" in mounts
    assert "/etc/madbase-operator/stores/default" in mounts
    # Extra volumes (a pool's private CA for its admin URL's sslrootcert) reach the pod.
    assert "/etc/madbase-operator/ca" in mounts
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["pool-ca"]["configMap"] == {"name": "pool-ca"}


def test_operator_pod_is_hardened():
    deployment = next(d for _, d in render() if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["limits"]["memory"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate", "leader election is on by default"


# What the operator and the control-plane API call: (group, resource, verb).
USED = [
    ("madbase.io", "madbaseprojects", v) for v in ["get", "list", "watch", "create", "patch", "delete"]
] + [
    ("madbase.io", "madbaseprojects/status", "patch"),
    ("", "secrets", "create"), ("", "secrets", "patch"), ("", "secrets", "get"), ("", "secrets", "watch"),
    ("", "configmaps", "patch"), ("", "services", "patch"), ("", "services", "watch"),
    ("apps", "deployments", "patch"), ("apps", "deployments", "watch"),
    ("networking.k8s.io", "ingresses", "delete"), ("policy", "poddisruptionbudgets", "delete"),
    ("events.k8s.io", "events", "create"),
]
# What leader election calls, granted by the release-namespace Role.
USED_LEASES = [("coordination.k8s.io", "leases", v) for v in ["get", "create", "update"]]


def test_rbac_covers_what_the_operator_uses_and_every_rule_is_commented():
    role = next(d for _, d in render() if d["kind"] == "ClusterRole")
    granted = {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    missing = [u for u in USED if u not in granted]
    assert not missing, missing
    lease_grants = granted_rules(render(), "Role")
    assert not [u for u in USED_LEASES if u not in lease_grants]
    assert not any("*" in v for _, _, v in granted), "no wildcard verbs"
    for name in ["rbac.yaml", "leader-election.yaml"]:
        source = (CHART / "templates" / name).read_text().splitlines()
        for i, line in enumerate(source):
            if line.strip().startswith("- apiGroups:"):
                assert source[i - 1].strip().startswith("#"), f"{name}:{i + 1} has no comment saying why"


def granted_rules(docs, kind):
    role = next(d for _, d in docs if d["kind"] == kind)
    return {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def test_cnpg_rbac_is_exactly_what_cnpg_mode_needs():
    # Roles: read the Cluster and merge-patch its spec.managed.roles; databases: server-side
    # apply, read status, delete under deletionPolicy: Delete. Nothing else in the group.
    granted = granted_rules(render({"cnpg": {"enabled": True}}), "ClusterRole")
    cnpg = {(r, v) for g, r, v in granted if g == "postgresql.cnpg.io"}
    assert cnpg == {
        ("clusters", "get"),
        ("clusters", "patch"),
        ("databases", "get"),
        ("databases", "create"),
        ("databases", "patch"),
        ("databases", "delete"),
    }
    assert not any(g == "postgresql.cnpg.io" for g, _, _ in granted_rules(render(), "ClusterRole"))


def test_leader_election_renders_lease_settings_rbac_and_rollout():
    docs = render(NON_DEFAULT)
    deployment = next(d for _, d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MADBASE_OPERATOR_LEADER_ELECTION"] == "true"
    assert env["MADBASE_OPERATOR_LEASE_NAME"] == "mb-lease"
    assert env["MADBASE_OPERATOR_LEASE_NAMESPACE"] == "madbase-system"
    assert (env["MADBASE_OPERATOR_LEASE_DURATION"], env["MADBASE_OPERATOR_LEASE_RENEW_DEADLINE"],
            env["MADBASE_OPERATOR_LEASE_RETRY_PERIOD"]) == ("30s", "20s", "4s")
    # The Lease Role lives in the release namespace, also when projects are watched elsewhere,
    # and names the Lease for everything but create.
    role = next(d for _, d in docs if d["kind"] == "Role" and d["metadata"]["name"].endswith("leader-election"))
    assert role["metadata"]["namespace"] == "madbase-system"
    rules = {(tuple(r.get("resourceNames", [])), v) for r in role["rules"] for v in r["verbs"]}
    assert rules == {((), "create"), (("mb-lease",), "get"), (("mb-lease",), "update")}
    pdb = next(d for _, d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1


def test_without_leader_election_one_replica_recreates_and_more_are_refused():
    docs = render({"leaderElection": {"enabled": False}})
    assert not any(d["kind"] == "Role" for _, d in docs)
    deployment = next(d for _, d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MADBASE_OPERATOR_LEADER_ELECTION"] == "false"
    assert "MADBASE_OPERATOR_LEASE_NAME" not in env
    with pytest.raises(HelmError) as err:
        render({"replicaCount": 3, "leaderElection": {"enabled": False}})
    assert "leaderElection.enabled" in str(err.value)


def test_values_yaml_passes_the_schema():
    Chart.load(CHART).validate_schema(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.mark.parametrize(
    "values,needle",
    [
        ({"replicaCount": 11}, "replicaCount"),
        ({"leaderElection": {"leaseDuration": "1.5s"}}, "leaseDuration"),
        ({"leaderElection": {"leaseName": "Not_A_Name"}}, "leaseName"),
        ({"rbac": {"scope": "everywhere"}}, "scope"),
        ({"logFormat": "xml"}, "logFormat"),
        ({"unknownKey": True}, "unknownKey"),
        ({"config": {"databasePools": {"default": {"host": "x"}}}}, "adminUrlSecret"),
        ({"config": {"objectStores": {"default": {"endpoint": "minio:9000"}}}}, "endpoint"),
        ({"config": {"cnpgClusters": ["shared-pg"]}}, "shared-pg"),
        ({"controlPlane": {"port": "eighty"}}, "port"),
        ({"extraVolumeMounts": [{"name": "pool-ca"}]}, "mountPath"),
    ],
)
def test_schema_rejects_bad_values(values, needle):
    chart = Chart.load(CHART)
    with pytest.raises(HelmError) as err:
        chart.validate_schema(values)
    assert re.search(needle, str(err.value)), str(err.value)
