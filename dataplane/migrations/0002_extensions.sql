-- 0002_extensions: owns the `extensions` and `graphql_public` schemas, the extensions Supabase
-- preinstalls that a stock PostgreSQL ships, and the API roles' access to `public`.
--
-- Installed in `extensions` (as on Supabase): pgcrypto (crypt/gen_salt for bcrypt, digest, ...),
-- uuid-ossp, and pg_stat_statements when the migration runs as a superuser (it is not a trusted
-- extension). gen_random_uuid() is built into PostgreSQL 13+.
--
-- Not available on a stock PostgreSQL 15 and therefore NOT installed here: pg_graphql (schema
-- `graphql`), pgjwt, pgsodium, supabase_vault (schema `vault`), pg_net, pg_cron, pgmq, wrappers,
-- vector, postgis, http, index_advisor, hypopg, plv8, pg_tle. A Supabase dump begins with
-- `CREATE EXTENSION IF NOT EXISTS "pg_graphql" WITH SCHEMA "graphql"` and similar lines for
-- these: install the extension on the server first, or remove those lines (and whatever uses
-- them) from the dump before loading it.

CREATE SCHEMA IF NOT EXISTS extensions;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;

DO $stat$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions;
    END IF;
END
$stat$;

GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;

-- `public` is the schema the data API serves. Everything created there later (by these
-- migrations' runner, which also loads dumps and runs project migrations) is usable by the API
-- roles; row level security and explicit REVOKEs narrow it, exactly as on Supabase.
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;

-- The data API's second schema on Supabase. pg_graphql is not available, so `graphql` answers
-- with the same error Supabase gives while the extension is disabled.
CREATE SCHEMA IF NOT EXISTS graphql_public;
GRANT USAGE ON SCHEMA graphql_public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA graphql_public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA graphql_public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA graphql_public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;

CREATE FUNCTION graphql_public.graphql(
    "operationName" text DEFAULT NULL,
    query text DEFAULT NULL,
    variables jsonb DEFAULT NULL,
    extensions jsonb DEFAULT NULL
) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'errors', jsonb_build_array(jsonb_build_object('message', 'pg_graphql extension is not enabled.'))
    );
$$;

-- Objects a Supabase user creates belong to `postgres`, and Supabase sets the same defaults for
-- that role. Where `postgres` is a different role from the runner and the runner may act for it
-- (superuser or member), do the same, so tables a restored dump creates as `postgres` behave alike.
DO $postgres_defaults$
DECLARE
    target_schema text;
BEGIN
    IF current_user = 'postgres'
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'postgres')
       OR NOT ((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
               OR pg_catalog.pg_has_role(current_user, 'postgres', 'MEMBER')) THEN
        RETURN;
    END IF;
    FOREACH target_schema IN ARRAY ARRAY['public', 'graphql_public'] LOOP
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA %I GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role', target_schema);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA %I GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role', target_schema);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA %I GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role', target_schema);
    END LOOP;
    GRANT USAGE ON SCHEMA public, extensions, graphql_public TO postgres;
END
$postgres_defaults$;
