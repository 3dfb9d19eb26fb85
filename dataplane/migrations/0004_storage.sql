-- 0004_storage: owns the `storage` schema: Supabase Storage's tables as they stand after all of
-- supabase/storage's tenant migrations, the helpers policies use (storage.foldername, filename,
-- extension), storage.search as the Storage API's list endpoint calls it, and the triggers that
-- guard the tables.
--
-- Tables, columns (in order), defaults, constraints and indexes match upstream, so storage rows
-- dumped from a Supabase project load unchanged. storage.migrations (Storage's own ledger) is not
-- created: Supabase's dump tooling leaves it out, and so should a hand-made dump.
--
-- Contract for the storage service: like Supabase, a DELETE on storage.buckets or
-- storage.objects is refused unless the transaction first sets
-- `set_config('storage.allow_delete_query', 'true', true)`; this keeps ad-hoc SQL from leaving
-- files without rows. Policies may check which API operation is running through
-- storage.operation(), which reads `storage.operation`.

CREATE SCHEMA IF NOT EXISTS storage;

CREATE TYPE storage.buckettype AS ENUM ('STANDARD', 'ANALYTICS', 'VECTOR');

-- Buckets and objects --------------------------------------------------------------------------

CREATE TABLE storage.buckets (
    id text NOT NULL,
    name text NOT NULL,
    owner uuid,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now(),
    public boolean DEFAULT false,
    avif_autodetection boolean DEFAULT false,
    file_size_limit bigint,
    allowed_mime_types text[],
    owner_id text,
    type storage.buckettype NOT NULL DEFAULT 'STANDARD'::storage.buckettype,
    versioning_status text NOT NULL DEFAULT 'DISABLED'::text,
    CONSTRAINT buckets_pkey PRIMARY KEY (id),
    CONSTRAINT buckets_versioning_status_check
        CHECK (versioning_status = ANY (ARRAY['DISABLED'::text, 'ENABLED'::text, 'SUSPENDED'::text])),
    -- Versioning is schema-only upstream so far: only STANDARD buckets may ever use it, and for
    -- now no bucket may enable it.
    CONSTRAINT buckets_versioning_standard_only_check
        CHECK (type = 'STANDARD'::storage.buckettype OR versioning_status = 'DISABLED'::text),
    CONSTRAINT buckets_versioning_dark_check CHECK (versioning_status = 'DISABLED'::text)
);
COMMENT ON COLUMN storage.buckets.owner IS 'Field is deprecated, use owner_id instead';
CREATE UNIQUE INDEX bname ON storage.buckets USING btree (name);

-- path_tokens is generated; `owner` is the deprecated uuid form of owner_id (no foreign key to
-- auth.users, so objects outlive their uploader).
CREATE TABLE storage.objects (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    bucket_id text,
    name text,
    owner uuid,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now(),
    last_accessed_at timestamp with time zone DEFAULT now(),
    metadata jsonb,
    path_tokens text[] GENERATED ALWAYS AS (string_to_array(name, '/'::text)) STORED,
    version text,
    owner_id text,
    user_metadata jsonb,
    archived_at timestamp with time zone,
    is_delete_marker boolean NOT NULL DEFAULT false,
    is_versioned boolean NOT NULL DEFAULT false,
    CONSTRAINT objects_pkey PRIMARY KEY (id),
    CONSTRAINT "objects_bucketId_fkey" FOREIGN KEY (bucket_id) REFERENCES storage.buckets (id)
);
COMMENT ON COLUMN storage.objects.owner IS 'Field is deprecated, use owner_id instead';
CREATE UNIQUE INDEX bucketid_objname ON storage.objects USING btree (bucket_id, name);
CREATE INDEX name_prefix_search ON storage.objects USING btree (name text_pattern_ops);
CREATE INDEX idx_objects_bucket_id_name ON storage.objects USING btree (bucket_id, name COLLATE "C");
-- Serves storage.search's case-insensitive, byte-ordered walk.
CREATE INDEX idx_objects_bucket_id_name_lower ON storage.objects USING btree (bucket_id, lower(name) COLLATE "C");

-- S3 protocol multipart uploads ----------------------------------------------------------------

CREATE TABLE storage.s3_multipart_uploads (
    id text NOT NULL,
    in_progress_size bigint NOT NULL DEFAULT 0,
    upload_signature text NOT NULL,
    bucket_id text NOT NULL REFERENCES storage.buckets (id),
    key text NOT NULL COLLATE "C",
    version text NOT NULL,
    owner_id text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    user_metadata jsonb,
    metadata jsonb,
    CONSTRAINT s3_multipart_uploads_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_multipart_uploads_list ON storage.s3_multipart_uploads USING btree (bucket_id, key, created_at);

CREATE TABLE storage.s3_multipart_uploads_parts (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    upload_id text NOT NULL REFERENCES storage.s3_multipart_uploads (id) ON DELETE CASCADE,
    size bigint NOT NULL DEFAULT 0,
    part_number integer NOT NULL,
    bucket_id text NOT NULL REFERENCES storage.buckets (id),
    key text NOT NULL COLLATE "C",
    etag text NOT NULL,
    owner_id text,
    version text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT s3_multipart_uploads_parts_pkey PRIMARY KEY (id)
);

-- Analytics (Iceberg) and vector buckets. MadBase does not serve them; the tables exist so that a
-- Supabase storage data dump, which lists every storage table, loads.

CREATE TABLE storage.buckets_analytics (
    name text NOT NULL,
    type storage.buckettype NOT NULL DEFAULT 'ANALYTICS'::storage.buckettype,
    format text NOT NULL DEFAULT 'ICEBERG'::text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    deleted_at timestamp with time zone,
    CONSTRAINT buckets_analytics_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX buckets_analytics_unique_name_idx ON storage.buckets_analytics USING btree (name)
    WHERE (deleted_at IS NULL);

CREATE TABLE storage.iceberg_namespaces (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    bucket_name text NOT NULL,
    name text NOT NULL COLLATE "C",
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    catalog_id uuid NOT NULL REFERENCES storage.buckets_analytics (id) ON DELETE CASCADE,
    CONSTRAINT iceberg_namespaces_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX idx_iceberg_namespaces_bucket_id ON storage.iceberg_namespaces USING btree (catalog_id, name);

CREATE TABLE storage.iceberg_tables (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    namespace_id uuid NOT NULL REFERENCES storage.iceberg_namespaces (id) ON DELETE CASCADE,
    bucket_name text NOT NULL,
    name text NOT NULL COLLATE "C",
    location text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    remote_table_id text,
    shard_key text,
    shard_id text,
    catalog_id uuid NOT NULL REFERENCES storage.buckets_analytics (id) ON DELETE CASCADE,
    CONSTRAINT iceberg_tables_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX idx_iceberg_tables_location ON storage.iceberg_tables USING btree (location);
CREATE UNIQUE INDEX idx_iceberg_tables_namespace_id ON storage.iceberg_tables USING btree (catalog_id, namespace_id, name);

CREATE TABLE storage.buckets_vectors (
    id text NOT NULL,
    type storage.buckettype NOT NULL DEFAULT 'VECTOR'::storage.buckettype,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT buckets_vectors_pkey PRIMARY KEY (id)
);

CREATE TABLE storage.vector_indexes (
    id text NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL COLLATE "C",
    bucket_id text NOT NULL REFERENCES storage.buckets_vectors (id),
    data_type text NOT NULL,
    dimension integer NOT NULL,
    distance_metric text NOT NULL,
    metadata_configuration jsonb,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT vector_indexes_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX vector_indexes_name_bucket_id_idx ON storage.vector_indexes USING btree (name, bucket_id);

-- Path helpers for policies, e.g. (storage.foldername(name))[1] = auth.uid()::text ---------------

-- All segments of an object name but the last.
CREATE FUNCTION storage.foldername(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$
    SELECT segments[1 : array_length(segments, 1) - 1]
    FROM (SELECT string_to_array(name, '/') AS segments) AS split
$$;

-- The last segment of an object name.
CREATE FUNCTION storage.filename(name text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT segments[array_length(segments, 1)]
    FROM (SELECT string_to_array(name, '/') AS segments) AS split
$$;

-- What follows the last '.' of the file name; a name without a '.' is returned whole, as upstream.
CREATE FUNCTION storage.extension(name text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT reverse(split_part(reverse(storage.filename(name)), '.', 1))
$$;

-- Listing --------------------------------------------------------------------------------------

-- Lists one "directory" of a bucket the way the Storage API's POST /object/list/{bucket} does.
-- Entries are the objects and the immediate sub-folders whose names start, case-insensitively,
-- with prefix || search; names come back relative to `prefix`, folders without their trailing
-- '/' and with NULL id and timestamps. Sorted by name (byte order of the lower-cased name,
-- folders where their names fall), or with folders first and then files by updated_at,
-- created_at or last_accessed_at. At most 1500 rows per call. `levels` is accepted for
-- compatibility and, as upstream, not used.
CREATE FUNCTION storage.search(
    prefix text,
    bucketname text,
    limits integer DEFAULT 100,
    levels integer DEFAULT 1,
    offsets integer DEFAULT 0,
    search text DEFAULT ''::text,
    sortcolumn text DEFAULT 'name'::text,
    sortorder text DEFAULT 'asc'::text
) RETURNS TABLE (
    name text,
    id uuid,
    updated_at timestamp with time zone,
    created_at timestamp with time zone,
    last_accessed_at timestamp with time zone,
    metadata jsonb
)
LANGUAGE plpgsql STABLE
AS $search$
DECLARE
    row_limit integer := greatest(least(coalesce(limits, 100), 1500), 0);
    row_offset integer := greatest(coalesce(offsets, 0), 0);
    ascending boolean := lower(coalesce(sortorder, 'asc')) = 'asc';
    direction text := CASE WHEN lower(coalesce(sortorder, 'asc')) = 'asc' THEN 'ASC' ELSE 'DESC' END;
    order_column text := lower(coalesce(sortcolumn, 'name'));
    -- What names must start with, and how much of it the returned names drop.
    match_prefix text := coalesce(prefix, '') || coalesce(search, '');
    match_lower text := lower(coalesce(prefix, '') || coalesce(search, ''));
    relative_from integer := length(coalesce(prefix, '')) + 1;
    -- The walk's position, in lower-cased byte order: ascending it continues at names >= bound,
    -- descending at names < bound (NULL: from the top).
    bound text;
    probe_name text;
    probe_lower text;
    entry record;
    slash integer;
    emitted integer := 0;
    skipped integer := 0;
BEGIN
    IF order_column IN ('updated_at', 'created_at', 'last_accessed_at') THEN
        -- Folders (sorted by name) then files (sorted by the column), from path segments.
        RETURN QUERY EXECUTE format(
            $sql$
            WITH matching AS (
                SELECT o.path_tokens, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata,
                       array_length(o.path_tokens, 1) AS depth
                FROM storage.objects AS o
                WHERE o.bucket_id = $4 AND o.name ILIKE $3 || '%%'
            ),
            entries AS (
                SELECT 0 AS kind, folder AS name, NULL::uuid AS id, NULL::timestamptz AS updated_at,
                       NULL::timestamptz AS created_at, NULL::timestamptz AS last_accessed_at,
                       NULL::jsonb AS metadata
                FROM (SELECT DISTINCT array_to_string(m.path_tokens[$1:$2], '/') AS folder
                      FROM matching AS m WHERE m.depth <> $2) AS folders
                UNION ALL
                SELECT 1, array_to_string(m.path_tokens[$1:$2], '/'), m.id, m.updated_at,
                       m.created_at, m.last_accessed_at, m.metadata
                FROM matching AS m WHERE m.depth = $2
            )
            SELECT e.name, e.id, e.updated_at, e.created_at, e.last_accessed_at, e.metadata
            FROM entries AS e
            ORDER BY e.kind,
                     CASE WHEN e.kind = 0 THEN e.name END %2$s,
                     CASE WHEN e.kind = 1 THEN e.%1$I END %2$s
            LIMIT $5 OFFSET $6
            $sql$, order_column, direction)
        USING coalesce(array_length(string_to_array(coalesce(prefix, ''), '/'), 1), 1),
              coalesce(array_length(string_to_array(match_prefix, '/'), 1), 1),
              match_prefix, bucketname, row_limit, row_offset;
        RETURN;
    END IF;

    IF ascending THEN
        bound := match_lower;
    ELSIF match_lower <> '' THEN
        -- Just above every name that starts with match_lower.
        bound := left(match_lower, -1) || chr(ascii(right(match_lower, 1)) + 1);
    END IF;

    -- Name order: walk the (bucket_id, lower(name)) index one distinct lower-cased name at a
    -- time, so every step is a short index range scan. A folder is one step (the walk then jumps
    -- over every name inside it); a file step returns all objects whose names differ only in
    -- case, in byte order of the name.
    WHILE emitted < row_limit LOOP
        IF ascending THEN
            SELECT o.name INTO probe_name
            FROM storage.objects AS o
            WHERE o.bucket_id = bucketname AND lower(o.name) COLLATE "C" >= bound
            ORDER BY lower(o.name) COLLATE "C"
            LIMIT 1;
        ELSIF bound IS NOT NULL THEN
            SELECT o.name INTO probe_name
            FROM storage.objects AS o
            WHERE o.bucket_id = bucketname AND lower(o.name) COLLATE "C" < bound
            ORDER BY lower(o.name) COLLATE "C" DESC
            LIMIT 1;
        ELSE
            SELECT o.name INTO probe_name
            FROM storage.objects AS o
            WHERE o.bucket_id = bucketname
            ORDER BY lower(o.name) COLLATE "C" DESC
            LIMIT 1;
        END IF;
        probe_lower := lower(probe_name);
        -- The walk leaves the matching range at its first name that does not start with it.
        EXIT WHEN NOT FOUND OR NOT starts_with(probe_lower, match_lower);

        -- A '/' after the matched prefix makes this name part of a sub-folder.
        slash := position('/' IN substring(probe_lower FROM length(match_lower) + 1));
        IF slash > 0 THEN
            IF skipped < row_offset THEN
                skipped := skipped + 1;
            ELSE
                name := substring(rtrim(left(probe_name, length(match_lower) + slash), '/') FROM relative_from);
                id := NULL;
                updated_at := NULL;
                created_at := NULL;
                last_accessed_at := NULL;
                metadata := NULL;
                RETURN NEXT;
                emitted := emitted + 1;
            END IF;
            bound := left(probe_lower, length(match_lower) + slash);
            IF ascending THEN
                -- Everything inside lies in [folder/, folder0): '0' is the byte after '/'.
                bound := left(bound, -1) || '0';
            END IF;
        ELSE
            FOR entry IN
                SELECT o.name, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata
                FROM storage.objects AS o
                WHERE o.bucket_id = bucketname AND lower(o.name) COLLATE "C" = probe_lower
                ORDER BY CASE WHEN ascending THEN o.name END COLLATE "C",
                         CASE WHEN NOT ascending THEN o.name END COLLATE "C" DESC
            LOOP
                EXIT WHEN emitted >= row_limit;
                IF skipped < row_offset THEN
                    skipped := skipped + 1;
                ELSE
                    name := substring(entry.name FROM relative_from);
                    id := entry.id;
                    updated_at := entry.updated_at;
                    created_at := entry.created_at;
                    last_accessed_at := entry.last_accessed_at;
                    metadata := entry.metadata;
                    RETURN NEXT;
                    emitted := emitted + 1;
                END IF;
            END LOOP;
            -- Next: the smallest name above probe_lower (ascending), or below it (descending).
            bound := CASE WHEN ascending THEN probe_lower || chr(1) ELSE probe_lower END;
        END IF;
    END LOOP;
END
$search$;

-- Total object bytes per bucket.
CREATE FUNCTION storage.get_size_by_bucket() RETURNS TABLE (size bigint, bucket_id text)
LANGUAGE sql STABLE
AS $$
    SELECT sum((o.metadata ->> 'size')::bigint)::bigint, o.bucket_id
    FROM storage.objects AS o
    GROUP BY o.bucket_id
$$;

-- Answers "would row level security let the current role insert this object?": the insert runs
-- and is then always rolled back by raising SQLSTATE PT200, so the caller catches PT200 as "yes"
-- and 42501 as "no".
CREATE FUNCTION storage.can_insert_object(bucketid text, name text, owner uuid, metadata jsonb) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO storage.objects (bucket_id, name, owner, metadata) VALUES (bucketid, name, owner, metadata);
    RAISE SQLSTATE 'PT200' USING MESSAGE = 'ROLLBACK', DETAIL = 'rollback successful insert';
END
$$;

-- Operation checks for policies ----------------------------------------------------------------

-- The Storage API operation the current transaction serves (e.g. 'storage.object.upload').
CREATE FUNCTION storage.operation() RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT current_setting('storage.operation', true)
$$;

-- True when the current operation is `expected_operation`; the 'storage.' prefix is optional on
-- either side. Empty or NULL never matches.
CREATE FUNCTION storage.allow_only_operation(expected_operation text) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(expected_operation, '') <> ''
       AND coalesce(
               regexp_replace(storage.operation(), '^storage\.', '')
                   = regexp_replace(expected_operation, '^storage\.', ''),
               false)
$$;

-- True when the current operation is any of `expected_operations` (same matching rules).
CREATE FUNCTION storage.allow_any_operation(expected_operations text[]) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM unnest(expected_operations) AS expected
        WHERE storage.allow_only_operation(expected)
    )
$$;

-- Triggers -------------------------------------------------------------------------------------

CREATE FUNCTION storage.protect_delete() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF coalesce(current_setting('storage.allow_delete_query', true), 'false') <> 'true' THEN
        RAISE EXCEPTION 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
            USING ERRCODE = '42501',
                  HINT = 'This prevents accidental data loss from orphaned objects.';
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION storage.update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE FUNCTION storage.enforce_bucket_name_length() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF length(NEW.name) > 100 THEN
        RAISE EXCEPTION 'bucket name "%" is too long (% characters). Max is 100.', NEW.name, length(NEW.name);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER protect_buckets_delete BEFORE DELETE ON storage.buckets
    FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
CREATE TRIGGER protect_objects_delete BEFORE DELETE ON storage.objects
    FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
CREATE TRIGGER update_objects_updated_at BEFORE UPDATE ON storage.objects
    FOR EACH ROW EXECUTE FUNCTION storage.update_updated_at_column();
CREATE TRIGGER enforce_bucket_name_length_trigger BEFORE INSERT OR UPDATE OF name ON storage.buckets
    FOR EACH ROW EXECUTE FUNCTION storage.enforce_bucket_name_length();

-- Row level security and grants, as Supabase ships them ----------------------------------------
-- No policies: a fresh project denies anon and authenticated until the project adds some.

ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.s3_multipart_uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.s3_multipart_uploads_parts ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.buckets_analytics ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.iceberg_namespaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.iceberg_tables ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.buckets_vectors ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.vector_indexes ENABLE ROW LEVEL SECURITY;

GRANT USAGE ON SCHEMA storage TO anon, authenticated, service_role;
GRANT ALL ON storage.buckets, storage.objects TO anon, authenticated, service_role;
GRANT ALL ON storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts TO service_role;
GRANT SELECT ON storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts TO anon, authenticated;
GRANT ALL ON storage.buckets_analytics TO anon, authenticated, service_role;
GRANT ALL ON storage.iceberg_namespaces, storage.iceberg_tables TO service_role;
GRANT SELECT ON storage.iceberg_namespaces, storage.iceberg_tables TO anon, authenticated;
GRANT SELECT ON storage.buckets_vectors, storage.vector_indexes TO anon, authenticated, service_role;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA storage TO anon, authenticated, service_role;
