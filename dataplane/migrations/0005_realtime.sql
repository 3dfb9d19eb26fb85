-- 0005_realtime: owns the `realtime` schema and the `supabase_realtime` publication, kept to what
-- projects' own SQL touches:
--   * the publication `supabase_realtime` (empty; `ALTER PUBLICATION supabase_realtime ADD TABLE`
--     opts a table into Postgres Changes, and Supabase dumps contain exactly such lines);
--   * realtime.messages, whose row level security policies authorize private channels (using
--     realtime.topic()), and realtime.send / send_binary / broadcast_changes that broadcast from
--     SQL by inserting into it;
--   * realtime.subscription and its types, name-compatible with Supabase Realtime's.
--
-- Differences from Supabase Realtime, on purpose: realtime.messages is a plain table (upstream
-- partitions it by day and its server creates the partitions), and Realtime's change-decoding
-- functions (apply_rls, list_changes, cast, check_equality_op, ...) and the filter-checking
-- trigger on realtime.subscription are not created: the data plane does that work itself.

CREATE SCHEMA IF NOT EXISTS realtime;

DO $publication$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END
$publication$;

-- Broadcast messages ---------------------------------------------------------------------------

CREATE TABLE realtime.messages (
    topic text NOT NULL,
    extension text NOT NULL,
    payload jsonb,
    event text,
    private boolean DEFAULT false,
    updated_at timestamp without time zone NOT NULL DEFAULT now(),
    inserted_at timestamp without time zone NOT NULL DEFAULT now(),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    binary_payload bytea,
    CONSTRAINT messages_pkey PRIMARY KEY (id, inserted_at),
    -- A message carries JSON or bytes, never both.
    CONSTRAINT messages_payload_exclusive CHECK (payload IS NULL OR binary_payload IS NULL)
);
-- Replay of recent private broadcasts per topic.
CREATE INDEX messages_inserted_at_topic_index ON realtime.messages USING btree (inserted_at DESC, topic)
    WHERE (extension = 'broadcast'::text AND private IS TRUE);

-- The channel topic being authorized, for policies on realtime.messages.
CREATE FUNCTION realtime.topic() RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT nullif(current_setting('realtime.topic', true), '')::text
$$;

-- Broadcasts `payload` as `event` on `topic`. The payload gets an "id" (the message id) unless it
-- has one. Failures are reported as a WARNING and swallowed, so a trigger calling this never
-- aborts the caller's write.
CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    message_id uuid := gen_random_uuid();
BEGIN
    BEGIN
        -- Insert policies on realtime.messages see the topic through realtime.topic().
        PERFORM set_config('realtime.topic', topic, true);
        INSERT INTO realtime.messages (id, payload, event, topic, private, extension)
        VALUES (
            message_id,
            CASE WHEN payload ? 'id' THEN payload ELSE jsonb_set(payload, '{id}', to_jsonb(message_id)) END,
            event, topic, private, 'broadcast'
        );
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'WarnSendingBroadcastMessage: %', SQLERRM;
    END;
END
$$;

-- Same as realtime.send for a binary payload.
CREATE FUNCTION realtime.send_binary(payload bytea, event text, topic text, private boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    BEGIN
        PERFORM set_config('realtime.topic', topic, true);
        INSERT INTO realtime.messages (id, binary_payload, event, topic, private, extension)
        VALUES (gen_random_uuid(), payload, event, topic, private, 'broadcast');
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'WarnSendingBroadcastMessage: %', SQLERRM;
    END;
END
$$;

-- For row triggers: broadcasts {old_record, record, operation, table, schema} on a topic.
--   CREATE TRIGGER ... AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION f();
--   where f() does PERFORM realtime.broadcast_changes('t:' || NEW.id, TG_OP, TG_OP,
--   TG_TABLE_NAME, TG_TABLE_SCHEMA, NEW, OLD);
CREATE FUNCTION realtime.broadcast_changes(
    topic_name text,
    event_name text,
    operation text,
    table_name text,
    table_schema text,
    new record,
    old record,
    level text DEFAULT 'ROW'::text
) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF level = 'STATEMENT' THEN
        RAISE EXCEPTION 'function can only be triggered for each row, not for each statement';
    END IF;
    IF operation NOT IN ('INSERT', 'UPDATE', 'DELETE') THEN
        RAISE EXCEPTION 'Unexpected operation type: %', operation;
    END IF;
    PERFORM realtime.send(
        jsonb_build_object(
            'old_record', old,
            'record', new,
            'operation', operation,
            'table', table_name,
            'schema', table_schema
        ),
        event_name,
        topic_name
    );
END
$$;

-- Postgres Changes subscriptions ---------------------------------------------------------------

CREATE TYPE realtime.action AS ENUM ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'ERROR');
CREATE TYPE realtime.equality_op AS ENUM (
    'eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'like', 'ilike', 'is', 'match', 'imatch', 'isdistinct'
);
-- One `column=op.value` filter; negate is PostgREST's `not.`.
CREATE TYPE realtime.user_defined_filter AS (
    column_name text,
    op realtime.equality_op,
    value text,
    negate boolean
);

-- Immutable so it may back the generated claims_role column; an unknown role fails the insert.
CREATE FUNCTION realtime.to_regrole(role_name text) RETURNS regrole
LANGUAGE sql IMMUTABLE
AS $$
    SELECT role_name::regrole
$$;

CREATE TABLE realtime.subscription (
    id bigint GENERATED ALWAYS AS IDENTITY,
    subscription_id uuid NOT NULL,
    entity regclass NOT NULL,
    filters realtime.user_defined_filter[] NOT NULL DEFAULT '{}',
    claims jsonb NOT NULL,
    claims_role regrole NOT NULL GENERATED ALWAYS AS (realtime.to_regrole(claims ->> 'role')) STORED,
    created_at timestamp without time zone NOT NULL DEFAULT timezone('utc'::text, now()),
    action_filter text DEFAULT '*'::text
        CHECK (action_filter = ANY (ARRAY['*'::text, 'INSERT'::text, 'UPDATE'::text, 'DELETE'::text])),
    selected_columns text[],
    CONSTRAINT pk_subscription PRIMARY KEY (id)
);
CREATE INDEX ix_realtime_subscription_entity ON realtime.subscription USING btree (entity);
CREATE UNIQUE INDEX subscription_subscription_id_entity_filters_action_filter_selec
    ON realtime.subscription USING btree (subscription_id, entity, filters, action_filter, coalesce(selected_columns, '{}'::text[]));

-- Access ---------------------------------------------------------------------------------------
-- API roles read, send and update broadcast messages subject to the project's policies (none by
-- default, so private channels start closed). realtime.subscription holds other clients' JWT
-- claims and stays with the owner.
ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
GRANT USAGE ON SCHEMA realtime TO anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE ON realtime.messages TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION realtime.topic(), realtime.send(jsonb, text, text, boolean),
    realtime.send_binary(bytea, text, text, boolean),
    realtime.broadcast_changes(text, text, text, text, text, record, record, text)
    TO anon, authenticated, service_role;
