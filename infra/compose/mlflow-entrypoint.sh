#!/bin/sh
# MLflow tracking server on PostgreSQL, behind MLflow's basic-auth app, artifacts proxied to
# MLFLOW_ARTIFACTS_DESTINATION (s3://bucket with MLFLOW_S3_ENDPOINT_URL for MinIO).
#
# Every credential comes from the environment or from a file named by <VAR>_FILE (a Docker or
# Kubernetes secret). The database URIs travel in environment variables, never on the command
# line (where `ps` would show them); the auth config is written 0600 into a private temp dir.
# The same script runs in infra/compose/compose.yaml and in tests/infra/test_mlflow_postgres.py.
set -eu

secret() {  # secret VAR: $VAR if set, else the content of the file named by $VAR_FILE
    eval "value=\${$1:-}"
    eval "file=\${$1_FILE:-}"
    if [ -z "$value" ] && [ -n "$file" ]; then value=$(cat "$file"); fi
    if [ -z "$value" ]; then echo "mlflow-entrypoint: set $1 or $1_FILE" >&2; exit 2; fi
    printf '%s' "$value"
}
need() {
    eval "value=\${$1:-}"
    if [ -z "$value" ]; then echo "mlflow-entrypoint: set $1" >&2; exit 2; fi
}
for var in POSTGRES_HOST POSTGRES_USER MLFLOW_DB MLFLOW_AUTH_DB MLFLOW_ARTIFACTS_DESTINATION \
           MLFLOW_AUTH_ADMIN_USERNAME; do need "$var"; done

pg_password=$(secret POSTGRES_PASSWORD)
MLFLOW_AUTH_ADMIN_PASSWORD=$(secret MLFLOW_AUTH_ADMIN_PASSWORD)
MLFLOW_FLASK_SERVER_SECRET_KEY=$(secret MLFLOW_FLASK_SERVER_SECRET_KEY)
export MLFLOW_AUTH_ADMIN_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY

quote() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
pg="postgresql+psycopg2://$(quote "$POSTGRES_USER"):$(quote "$pg_password")@${POSTGRES_HOST}:${POSTGRES_PORT:-5432}"
MLFLOW_BACKEND_STORE_URI="$pg/$MLFLOW_DB"
export MLFLOW_BACKEND_STORE_URI

umask 077  # configparser reads '%' as interpolation: URL-encoded passwords need '%%'
conf_dir=$(mktemp -d)
cat > "$conf_dir/basic_auth.ini" <<INI
[mlflow]
default_permission = ${MLFLOW_DEFAULT_PERMISSION:-READ}
database_uri = $(printf '%s' "$pg/$MLFLOW_AUTH_DB" | sed 's/%/%%/g')
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
MLFLOW_AUTH_CONFIG_PATH="$conf_dir/basic_auth.ini"
export MLFLOW_AUTH_CONFIG_PATH

exec mlflow server --app-name basic-auth \
    --host "${MLFLOW_HOST:-127.0.0.1}" --port "${MLFLOW_PORT:-5000}" \
    --workers "${MLFLOW_WORKERS:-2}" \
    --serve-artifacts --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION"
