-- 0001_roles: owns the cluster-wide roles of the Supabase layout.
--
--   anon, authenticated   NOLOGIN NOINHERIT; what API requests run as (chosen by the JWT `role`)
--   service_role          NOLOGIN NOINHERIT BYPASSRLS; the service key's role
--   authenticator         LOGIN NOINHERIT, member of the three above; no password is set here
--   postgres, supabase_admin, supabase_auth_admin, supabase_storage_admin,
--   supabase_realtime_admin, dashboard_user
--                         NOLOGIN placeholders, so that a schema dumped from a Supabase project
--                         (which names them in OWNER TO, GRANT ... TO and
--                         ALTER DEFAULT PRIVILEGES FOR ROLE) loads. They hold no privileges here.
--
-- Roles belong to the cluster, not to the database: a second project on the same cluster finds
-- them already there (possibly created concurrently), so every role is created only when missing
-- and an existing role is never altered. Attributes Supabase sets that would weaken a shared
-- cluster (SUPERUSER on supabase_admin, LOGIN and CREATEROLE on the admin roles) are not copied.

DO $roles$
DECLARE
    is_superuser boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
    spec record;
BEGIN
    FOR spec IN
        SELECT * FROM (VALUES
            -- name,                     attributes,                     statement_timeout
            ('anon',                     'NOLOGIN NOINHERIT',            '3s'),
            ('authenticated',            'NOLOGIN NOINHERIT',            '8s'),
            ('service_role',             'NOLOGIN NOINHERIT BYPASSRLS',  NULL),
            ('authenticator',            'LOGIN NOINHERIT',              '8s'),
            ('postgres',                 'NOLOGIN',                      NULL),
            ('supabase_admin',           'NOLOGIN',                      NULL),
            ('supabase_auth_admin',      'NOLOGIN NOINHERIT',            NULL),
            ('supabase_storage_admin',   'NOLOGIN NOINHERIT',            NULL),
            ('supabase_realtime_admin',  'NOLOGIN NOINHERIT',            NULL),
            ('dashboard_user',           'NOLOGIN',                      NULL)
        ) AS s(name, attributes, statement_timeout)
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = spec.name);

        -- Only a superuser may hand out BYPASSRLS. A database owner with CREATEROLE still gets a
        -- working layout; service_role then obeys row level security until a superuser runs
        -- ALTER ROLE service_role BYPASSRLS.
        IF spec.attributes LIKE '%BYPASSRLS%' AND NOT is_superuser THEN
            spec.attributes := replace(spec.attributes, ' BYPASSRLS', '');
            RAISE WARNING 'role % created without BYPASSRLS: % is not a superuser', spec.name, current_user
                USING HINT = 'As a superuser: ALTER ROLE ' || spec.name || ' BYPASSRLS;';
        END IF;

        BEGIN
            EXECUTE format('CREATE ROLE %I %s', spec.name, spec.attributes);
            -- Per-role timeouts as Supabase ships them; set only on creation so that a role
            -- another project already tuned is left alone.
            IF spec.statement_timeout IS NOT NULL THEN
                EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', spec.name, spec.statement_timeout);
            END IF;
        EXCEPTION
            -- Another database on this cluster created it between our check and our CREATE.
            WHEN duplicate_object OR unique_violation THEN
                RAISE NOTICE 'role % was created concurrently; keeping it', spec.name;
        END;
    END LOOP;
END
$roles$;

-- authenticator switches to the API roles with SET ROLE. Granted only when missing, so re-running
-- against roles someone else set up needs no privilege over them.
DO $membership$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT pg_catalog.pg_has_role('authenticator', api_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO authenticator', api_role);
        END IF;
        -- The role running the migrations owns the project's objects. When it is not a superuser
        -- it needs membership to SET ROLE to the API roles, as Supabase grants them to postgres.
        IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
           AND NOT pg_catalog.pg_has_role(current_user, api_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', api_role, current_user);
        END IF;
    END LOOP;
END
$membership$;
