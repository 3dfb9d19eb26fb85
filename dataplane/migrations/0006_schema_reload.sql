-- 0006_schema_reload: owns the event triggers pgrst_ddl_watch and pgrst_drop_watch and their
-- functions extensions.pgrst_ddl_watch() / extensions.pgrst_drop_watch().
--
-- After DDL that can change what the data API serves, they send NOTIFY pgrst, 'reload schema':
-- the channel and payload PostgREST listens for, which the data plane's schema cache follows too.
-- Temporary objects are ignored.
--
-- Only a superuser may create event triggers. Run by a database owner that is not one, this
-- migration creates the functions, skips the triggers with a WARNING, and the schema cache must
-- be refreshed some other way (a superuser can create the triggers later; the statements are in
-- the DO block below).

CREATE FUNCTION extensions.pgrst_ddl_watch() RETURNS event_trigger
LANGUAGE plpgsql
AS $$
DECLARE
    command record;
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        IF command.command_tag IN (
               'CREATE SCHEMA', 'ALTER SCHEMA',
               'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
               'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE',
               'CREATE VIEW', 'ALTER VIEW',
               'CREATE MATERIALIZED VIEW', 'ALTER MATERIALIZED VIEW',
               'CREATE FUNCTION', 'ALTER FUNCTION',
               'CREATE TRIGGER',
               'CREATE TYPE', 'ALTER TYPE',
               'CREATE RULE',
               'COMMENT')
           AND command.schema_name IS DISTINCT FROM 'pg_temp' THEN
            NOTIFY pgrst, 'reload schema';
            -- One notification per statement is enough.
            RETURN;
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION extensions.pgrst_drop_watch() RETURNS event_trigger
LANGUAGE plpgsql
AS $$
DECLARE
    dropped record;
BEGIN
    FOR dropped IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
        IF dropped.object_type IN (
               'schema', 'table', 'foreign table', 'view', 'materialized view',
               'function', 'trigger', 'type', 'rule')
           AND NOT dropped.is_temporary THEN
            NOTIFY pgrst, 'reload schema';
            RETURN;
        END IF;
    END LOOP;
END
$$;

-- Event triggers are per database; the names may already exist if a superuser set them up.
DO $triggers$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE WARNING 'event triggers pgrst_ddl_watch and pgrst_drop_watch not created: % is not a superuser', current_user
            USING HINT = 'The data API will not reload its schema cache after DDL until a superuser creates them.';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'pgrst_ddl_watch') THEN
        CREATE EVENT TRIGGER pgrst_ddl_watch ON ddl_command_end
            EXECUTE FUNCTION extensions.pgrst_ddl_watch();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'pgrst_drop_watch') THEN
        CREATE EVENT TRIGGER pgrst_drop_watch ON sql_drop
            EXECUTE FUNCTION extensions.pgrst_drop_watch();
    END IF;
END
$triggers$;
