#!/usr/bin/env bash
# End-to-end lane on a kind cluster: build images, install the chart with an in-cluster
# PostgreSQL pool and MinIO object store, create crds/examples/shared.yaml, wait for Ready and run
# the supabase-js smoke tests against the project's endpoint.
#
# Needs: kind, kubectl, helm, podman or docker, node/npm. Not run in CI (no cluster there).
# Usage: tests/e2e/kind.sh            (KEEP_CLUSTER=1 to keep the cluster afterwards)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLUSTER=madbase
ENGINE=${ENGINE:-$(command -v podman || command -v docker)}
TAG=e2e
NS=madbase-system

cleanup() {
  if [[ -z "${KEEP_CLUSTER:-}" ]]; then kind delete cluster --name "$CLUSTER"; fi
}
trap cleanup EXIT

echo "== cluster"
kind create cluster --config "$ROOT/kind-config.yaml" --wait 120s

echo "== images"
"$ENGINE" build -f "$ROOT/Containerfile" --target madbase -t "ghcr.io/madbase/madbase:$TAG" "$ROOT"
"$ENGINE" build -f "$ROOT/Containerfile" --target madbase-operator -t "ghcr.io/madbase/madbase-operator:$TAG" "$ROOT"
for image in madbase madbase-operator; do
  "$ENGINE" save "ghcr.io/madbase/$image:$TAG" -o "/tmp/$image-$TAG.tar"
  kind load image-archive "/tmp/$image-$TAG.tar" --name "$CLUSTER"
done

echo "== PostgreSQL and MinIO in the cluster"
kubectl create namespace "$NS"
kubectl -n "$NS" apply -f - <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: e2e-backing}
stringData:
  postgres-password: e2e-postgres-password
  pool-url: postgres://postgres:e2e-postgres-password@postgres.madbase-system.svc:5432/postgres
  access-key-id: e2eminio
  secret-access-key: e2e-minio-secret-key
  token: e2e-admin-token
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres}
spec:
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec:
      containers:
        - name: postgres
          image: docker.io/library/postgres:17
          args: ["-c", "wal_level=logical"]
          env:
            - {name: POSTGRES_PASSWORD, valueFrom: {secretKeyRef: {name: e2e-backing, key: postgres-password}}}
          ports: [{containerPort: 5432}]
          readinessProbe: {exec: {command: ["pg_isready", "-U", "postgres"]}}
---
apiVersion: v1
kind: Service
metadata: {name: postgres}
spec: {selector: {app: postgres}, ports: [{port: 5432}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: minio}
spec:
  selector: {matchLabels: {app: minio}}
  template:
    metadata: {labels: {app: minio}}
    spec:
      containers:
        - name: minio
          image: docker.io/minio/minio:latest
          args: ["server", "/data"]
          env:
            - {name: MINIO_ROOT_USER, valueFrom: {secretKeyRef: {name: e2e-backing, key: access-key-id}}}
            - {name: MINIO_ROOT_PASSWORD, valueFrom: {secretKeyRef: {name: e2e-backing, key: secret-access-key}}}
          ports: [{containerPort: 9000}]
          readinessProbe: {httpGet: {path: /minio/health/ready, port: 9000}}
---
apiVersion: v1
kind: Service
metadata: {name: minio}
spec: {selector: {app: minio}, ports: [{port: 9000}]}
YAML
kubectl -n "$NS" rollout status deployment/postgres --timeout=180s
kubectl -n "$NS" rollout status deployment/minio --timeout=180s

echo "== operator"
helm install madbase "$ROOT/charts/madbase" --namespace "$NS" --wait --timeout 180s \
  --set image.tag="$TAG" --set image.pullPolicy=Never \
  --set config.defaultImage="ghcr.io/madbase/madbase:$TAG" \
  --set controlPlane.adminTokenSecret.name=e2e-backing \
  --set config.databasePools.default.adminUrlSecret.name=e2e-backing \
  --set config.databasePools.default.adminUrlSecret.key=pool-url \
  --set config.objectStores.default.endpoint=http://minio.madbase-system.svc:9000 \
  --set config.objectStores.default.credentialsSecret.name=e2e-backing

echo "== project"
kubectl apply -f "$ROOT/crds/examples/shared.yaml"
kubectl wait mbp/demo --for=condition=Ready --timeout=300s
kubectl get mbp -o wide
kubectl patch service demo --type merge -p '{"spec":{"ports":[{"name":"http","port":8000,"nodePort":30800}]}}'

echo "== supabase-js smoke tests"
ANON_KEY=$(kubectl get secret demo-keys -o jsonpath='{.data.anon-key}' | base64 -d)
SERVICE_KEY=$(kubectl get secret demo-keys -o jsonpath='{.data.service-role-key}' | base64 -d)
JWT_SECRET=$(kubectl get secret demo-keys -o jsonpath='{.data.jwt-secret}' | base64 -d)
# The suite targets an already running data plane when these are set (instead of `madbase dev`).
# Fixtures are loaded straight into the project's database through a port-forward.
kubectl -n madbase-system port-forward svc/postgres 15432:5432 >/dev/null 2>&1 &
PF_PID=$!
trap 'kill $PF_PID 2>/dev/null || true' EXIT
sleep 2
PROJECT_DB=$(kubectl get secret demo-database -o jsonpath='{.data.uri}' 2>/dev/null | base64 -d | sed -E 's#@[^/]+/#@127.0.0.1:15432/#')
export MADBASE_URL=http://127.0.0.1:30800 MADBASE_ANON_KEY="$ANON_KEY" \
  MADBASE_SERVICE_KEY="$SERVICE_KEY" MADBASE_JWT_SECRET="$JWT_SECRET" \
  MADBASE_DB_URL="${PROJECT_DB:-postgres://postgres:e2e-postgres-password@127.0.0.1:15432/postgres}"
npm --prefix "$ROOT/tests/js" ci
npm --prefix "$ROOT/tests/js" test

echo "== deletion (deletionPolicy: Delete drops the database and bucket)"
kubectl delete mbp demo --timeout=120s
echo "kind lane passed"
