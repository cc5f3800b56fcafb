-- hotline12345: the application role and one database per service (ARCHITECTURE.md "Storage").
--
-- The postgres image runs this once, on an empty data directory, as the superuser
-- (docker-compose.yml mounts deploy/postgres-init/ at /docker-entrypoint-initdb.d). The
-- role's password comes from the HOTLINE_DB_PASSWORD environment variable through psql's
-- \getenv (psql 15 or newer), so no password is written in this file.
--
-- On a managed or existing server run it by hand as a superuser (or a role with CREATEROLE
-- and CREATEDB); it is safe to run again, and running it again resets the password:
--
--   HOTLINE_DB_PASSWORD='...' psql -v ON_ERROR_STOP=1 -h HOST -U postgres -d postgres \
--        -f deploy/postgres-init/01-databases.sql
--
-- The role gets no CREATEDB: the databases exist before `hotline migrate` runs, and migrate
-- only creates a database when it is missing. Each database is owned by `hotline`, so
-- Alembic can create and alter tables in its public schema (PostgreSQL 15+ gives the public
-- schema to the database owner). For one role per service, see deploy/README.md.

\set ON_ERROR_STOP on

\getenv hotline_password HOTLINE_DB_PASSWORD
\if :{?hotline_password}
\else
  \set hotline_password ''
\endif
SELECT :'hotline_password' = '' AS hotline_password_missing \gset
\if :hotline_password_missing
  DO $$ BEGIN RAISE EXCEPTION 'HOTLINE_DB_PASSWORD is not set: the hotline role needs a password'; END $$;
\endif

-- The role: created if missing, its password (re)set either way.
SELECT 'CREATE ROLE hotline LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline') \gexec
ALTER ROLE hotline WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'hotline_password';

-- One database per service, owned by hotline. CREATE DATABASE cannot run inside a
-- transaction or a DO block, hence \gexec.
SELECT format('CREATE DATABASE %I OWNER hotline ENCODING ''UTF8'' TEMPLATE template0', d)
  FROM unnest(ARRAY['hotline_intake', 'hotline_dispatch', 'hotline_supervision',
                    'hotline_knowledge', 'hotline_reporting', 'hotline_gateway']) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec

-- Only the owner (and superusers) may connect to the service databases.
REVOKE CONNECT, TEMPORARY ON DATABASE hotline_intake, hotline_dispatch, hotline_supervision,
       hotline_knowledge, hotline_reporting, hotline_gateway FROM PUBLIC;
