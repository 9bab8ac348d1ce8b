-- Roles of the complaint platform. Idempotent: safe to run on every start.
--
-- Used in two places:
--   * deploy/local/infra.py runs it with psql as the superuser, passing
--       -v app_user=... -v app_password=... -v app_db=...
--     taken from COMPLAINTS_DATABASE_URL, then creates the database itself
--     (CREATE DATABASE cannot run inside a DO block / transaction).
--   * the official postgres Docker image, mounted into /docker-entrypoint-initdb.d/;
--     there no variables are passed (the defaults below apply) and the image's
--     POSTGRES_DB creates the database.
--
-- The reporting service grants the analyst role USAGE/SELECT on its `reporting`
-- schema itself; here only the role is created.

\if :{?app_user}
\else
\set app_user complaints
\endif
\if :{?app_password}
\else
\set app_password complaints
\endif
\if :{?app_db}
\else
\set app_db complaints
\endif

-- psql does not substitute variables inside dollar-quoted DO bodies: hand them
-- over as session settings.
SET complaints.app_user = :'app_user';
SET complaints.app_password = :'app_password';
SET complaints.app_db = :'app_db';

-- The application's login role (owner of the application database).
DO $$
DECLARE
    app_user     text := current_setting('complaints.app_user');
    app_password text := current_setting('complaints.app_password');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = app_user) THEN
        EXECUTE format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', app_user, app_password);
    END IF;
END
$$;

-- Read-only login for ad-hoc reporting queries.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'analyst') THEN
        CREATE ROLE analyst LOGIN PASSWORD 'analyst'
            NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
        ALTER ROLE analyst SET default_transaction_read_only = on;
    END IF;
END
$$;
-- Unqualified names in reporting's functions (reporting.complaint_states(T) …) are the live
-- generation's views in `reporting` (services/reporting/functions.sql). On every start, so a
-- role created by an earlier release gets it too.
ALTER ROLE analyst SET search_path = reporting, public;

-- If the database already exists (Docker: POSTGRES_DB created it, owned by
-- POSTGRES_USER), make the application role its owner.
DO $$
DECLARE
    app_user text := current_setting('complaints.app_user');
    app_db   text := current_setting('complaints.app_db');
BEGIN
    IF EXISTS (
        SELECT 1
        FROM pg_catalog.pg_database d
        JOIN pg_catalog.pg_roles r ON r.oid = d.datdba
        WHERE d.datname = app_db AND r.rolname <> app_user
    ) THEN
        EXECUTE format('ALTER DATABASE %I OWNER TO %I', app_db, app_user);
    END IF;
END
$$;

RESET complaints.app_user;
RESET complaints.app_password;
RESET complaints.app_db;
