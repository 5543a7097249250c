-- Runs once, on an empty data volume: MLflow's own database is POSTGRES_DB (mlflow); its
-- basic-auth users and Prefect's state get databases of their own, owned by the same role.
CREATE DATABASE mlflow_auth OWNER arcadelab;
CREATE DATABASE prefect OWNER arcadelab;
