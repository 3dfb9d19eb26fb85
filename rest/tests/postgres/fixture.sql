-- Roles as Supabase lays them out.
CREATE ROLE anon NOLOGIN;
CREATE ROLE authenticated NOLOGIN;
CREATE ROLE service_role NOLOGIN BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;

CREATE SCHEMA api;
CREATE SCHEMA private;

CREATE TYPE public.task_status AS ENUM ('open', 'closed');

CREATE TABLE public.users (
  id int PRIMARY KEY,
  name text NOT NULL,
  email text UNIQUE,
  manager_id int REFERENCES public.users(id)
);
COMMENT ON TABLE public.users IS 'People';

CREATE TABLE public.profiles (
  user_id int PRIMARY KEY REFERENCES public.users(id),
  bio text
);

CREATE TABLE public.projects (
  id int PRIMARY KEY,
  name text NOT NULL,
  owner_id int REFERENCES public.users(id),
  budget numeric
);

CREATE TABLE public.tasks (
  id int PRIMARY KEY,
  project_id int REFERENCES public.projects(id),
  title text NOT NULL,
  status public.task_status NOT NULL DEFAULT 'open',
  tags text[] NOT NULL DEFAULT '{}',
  meta jsonb,
  due date
);

CREATE TABLE public.teams (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.members (
  user_id int REFERENCES public.users(id),
  team_id int REFERENCES public.teams(id),
  PRIMARY KEY (user_id, team_id)
);

CREATE TABLE public.addresses (id int PRIMARY KEY, city text);
CREATE TABLE public.shipments (
  id int PRIMARY KEY,
  billing_id int CONSTRAINT billing REFERENCES public.addresses(id),
  shipping_id int CONSTRAINT shipping REFERENCES public.addresses(id)
);

CREATE TABLE public.regions (country text, code text, name text, PRIMARY KEY (country, code));
CREATE TABLE public.cities (
  id int PRIMARY KEY,
  name text,
  country text,
  region_code text,
  FOREIGN KEY (country, region_code) REFERENCES public.regions(country, code)
);

CREATE TABLE public.articles (
  id int PRIMARY KEY,
  body text,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED
);

CREATE TABLE public.reservations (id int PRIMARY KEY, during int4range);
CREATE TABLE public.audit (at int, msg text);

-- Written to by tests; each test uses its own id range.
CREATE TABLE public.items (
  id serial PRIMARY KEY,
  name text NOT NULL,
  qty int DEFAULT 1,
  sku text UNIQUE,
  note text
);

CREATE TABLE public.todos (
  id serial PRIMARY KEY,
  user_id text,
  title text NOT NULL,
  is_public boolean NOT NULL DEFAULT false
);
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY anon_reads_public ON public.todos FOR SELECT TO anon USING (is_public);
CREATE POLICY own_todos ON public.todos FOR ALL TO authenticated
  USING (user_id = current_setting('request.jwt.claims', true)::json->>'sub')
  WITH CHECK (user_id = current_setting('request.jwt.claims', true)::json->>'sub');

-- A view over a private table keeps its relationships.
CREATE TABLE private.secrets (id int PRIMARY KEY, owner_id int REFERENCES public.users(id), value text);
CREATE VIEW public.project_summaries AS SELECT id, name AS title, owner_id FROM public.projects;
CREATE VIEW public.visible_secrets AS SELECT id, owner_id FROM private.secrets;
CREATE MATERIALIZED VIEW public.project_counts AS SELECT owner_id, count(*) AS n FROM public.projects GROUP BY owner_id;

CREATE TABLE api.widgets (id int PRIMARY KEY, label text);

-- Functions.
CREATE FUNCTION public.add(a int, b int DEFAULT 0) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION public.echo(body json) RETURNS json LANGUAGE sql IMMUTABLE AS $$ SELECT body $$;
CREATE FUNCTION public.echo_raw(json) RETURNS json LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
CREATE FUNCTION public.all_projects() RETURNS SETOF public.projects LANGUAGE sql STABLE AS $$ SELECT * FROM public.projects $$;
CREATE FUNCTION public.project_by_id(pid int) RETURNS public.projects LANGUAGE sql STABLE AS $$ SELECT * FROM public.projects WHERE id = pid $$;
CREATE FUNCTION public.project_rows() RETURNS TABLE(pid int, pname text) LANGUAGE sql STABLE AS $$ SELECT id, name FROM public.projects $$;
CREATE FUNCTION public.project_names() RETURNS TABLE(pname text) LANGUAGE sql STABLE AS $$ SELECT name FROM public.projects ORDER BY id $$;
CREATE FUNCTION public.plus_one(num int, OUT num_plus_one int) LANGUAGE sql IMMUTABLE AS $$ SELECT num + 1 $$;
CREATE FUNCTION public.bump(INOUT num int) LANGUAGE sql IMMUTABLE AS $$ SELECT num + 1 $$;
CREATE FUNCTION public.doc_of(a int, b text, OUT doc json) LANGUAGE sql IMMUTABLE AS $$ SELECT json_build_object('a', a, 'b', b) $$;
CREATE FUNCTION public.noop() RETURNS void LANGUAGE sql VOLATILE AS $$ SELECT $$;
CREATE FUNCTION public.total(VARIADIC nums int[]) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT sum(n)::int FROM unnest(nums) n $$;
CREATE FUNCTION public.numbers(n int) RETURNS SETOF int LANGUAGE sql IMMUTABLE AS $$ SELECT generate_series(1, n) $$;
CREATE FUNCTION public.people() RETURNS SETOF jsonb LANGUAGE sql STABLE AS $$
  VALUES ('{"name": "Ben", "age": 41}'::jsonb), ('{"name": "Ada", "age": 36}'), ('{"name": "Cy", "age": 7}')
$$;
CREATE FUNCTION public.add_item(item_name text) RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO public.items(name) VALUES (item_name) RETURNING id $$;
CREATE FUNCTION public.payment_required() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE SQLSTATE 'PT402' USING message = 'Pay up', detail = 'Quota', hint = 'Upgrade'; END $$;
CREATE FUNCTION public.plain_raise() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'bad thing' USING detail = 'd'; END $$;
CREATE FUNCTION public.one_record() RETURNS record LANGUAGE sql STABLE AS $$ SELECT 1 AS id, 'a'::text AS name $$;
CREATE FUNCTION public.some_records() RETURNS SETOF record LANGUAGE sql STABLE AS $$
  SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name) $$;
CREATE FUNCTION public.custom_raise() RETURNS int LANGUAGE plpgsql AS $$ BEGIN
  RAISE SQLSTATE 'PGRST' USING message = '{"code":"123","message":"Custom","details":"x","hint":"y"}',
    detail = '{"status":418,"headers":{"X-Teapot":"yes"}}'; END $$;
CREATE FUNCTION public.with_headers() RETURNS int LANGUAGE plpgsql STABLE AS $$ BEGIN
  PERFORM set_config('response.headers', '[{"Cache-Control":"public, max-age=5"}]', true);
  PERFORM set_config('response.status', '202', true);
  RETURN 1; END $$;
CREATE FUNCTION public.whoami() RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('role', current_user, 'claims', current_setting('request.jwt.claims', true)::json,
    'method', current_setting('request.method', true), 'path', current_setting('request.path', true),
    'ua', current_setting('request.headers', true)::json->>'user-agent',
    'cookie', current_setting('request.cookies', true)::json->>'session',
    'pre', current_setting('app.pre', true)) $$;
-- Sleeps, then answers: a read slow enough to keep off the read lanes.
CREATE FUNCTION public.nap(ms int) RETURNS int LANGUAGE sql STABLE AS $$ SELECT ms FROM pg_sleep(ms / 1000.0) $$;
CREATE FUNCTION public.check_request() RETURNS void LANGUAGE plpgsql AS $$ BEGIN
  IF current_setting('request.headers', true)::json->>'x-block' = 'yes' THEN
    RAISE SQLSTATE 'PT403' USING message = 'Blocked by pre-request';
  END IF;
  PERFORM set_config('app.pre', 'ran', true);
END $$;
-- Computed fields and relationships: functions taking a table's row.
CREATE FUNCTION public.label(public.projects) RETURNS text LANGUAGE sql STABLE AS $$ SELECT $1.name || ' #' || $1.id $$;
CREATE FUNCTION public.summary(public.tasks) RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT jsonb_build_object('title', $1.title, 'tags', $1.tags) $$;
CREATE FUNCTION public.shout(public.items) RETURNS text LANGUAGE sql STABLE AS $$ SELECT upper($1.name) $$;
CREATE FUNCTION public.open_tasks(public.projects) RETURNS SETOF public.tasks LANGUAGE sql STABLE AS $$ SELECT * FROM public.tasks WHERE project_id = $1.id AND status = 'open' $$;
CREATE FUNCTION public.first_task(public.projects) RETURNS SETOF public.tasks ROWS 1 LANGUAGE sql STABLE AS $$ SELECT * FROM public.tasks WHERE project_id = $1.id ORDER BY id LIMIT 1 $$;
CREATE FUNCTION public.owner(public.projects) RETURNS public.users LANGUAGE sql STABLE AS $$ SELECT * FROM public.users WHERE id = $1.owner_id $$;
CREATE FUNCTION private.hidden_label(public.projects) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'hidden' $$;
CREATE FUNCTION api.loud(api.widgets) RETURNS text LANGUAGE sql STABLE AS $$ SELECT upper($1.label) $$;
-- Two foreign keys to addresses would be ambiguous; a function named like the table replaces both.
CREATE TABLE public.parcels (
  id int PRIMARY KEY,
  sender_id int REFERENCES public.addresses(id),
  recipient_id int REFERENCES public.addresses(id)
);
CREATE FUNCTION public.addresses(public.parcels) RETURNS SETOF public.addresses ROWS 1 LANGUAGE sql STABLE AS $$ SELECT * FROM public.addresses WHERE id = $1.recipient_id $$;

-- Functions taking a request body whole, by content type.
CREATE FUNCTION public.shout_text(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper($1) $$;
CREATE FUNCTION public.xml_root(xml) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT (xpath('name(/*)', $1))[1]::text $$;
CREATE FUNCTION public.bytes_hex(bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT encode($1, 'hex') $$;
CREATE FUNCTION public.only_int(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
CREATE FUNCTION public.multi() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'none' $$;
CREATE FUNCTION public.multi(x int, y int) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'sum ' || (x + y) $$;
CREATE FUNCTION public.multi(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'text ' || $1 $$;
CREATE FUNCTION public.multi(bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'bytes ' || length($1) $$;
CREATE FUNCTION public.multi(json) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'json ' || $1::text $$;
CREATE FUNCTION public.greet(name text, punct text DEFAULT '!') RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'hi ' || name || punct $$;

CREATE FUNCTION api.widget_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM api.widgets $$;

GRANT USAGE ON SCHEMA public, api TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public, api TO anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public, api TO anon, authenticated, service_role;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public, api TO anon, authenticated, service_role;
REVOKE ALL ON public.reservations FROM anon;
-- Only service_role may call this one, so only its OpenAPI lists it.
CREATE FUNCTION public.admin_only() RETURNS int LANGUAGE sql STABLE AS $$ SELECT 1 $$;
REVOKE EXECUTE ON FUNCTION public.admin_only() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.admin_only() TO service_role;
-- A column privilege alone is enough to see a table.
CREATE TABLE public.ledger (id int PRIMARY KEY, amount numeric, note text);
REVOKE ALL ON public.ledger FROM anon, authenticated;
GRANT SELECT (id, note) ON public.ledger TO authenticated;
GRANT ALL ON public.ledger TO service_role;

INSERT INTO public.users VALUES (1, 'Ada', 'ada@example.com', NULL), (2, 'Bob', 'bob@example.com', 1), (3, 'Cy', NULL, 1);
INSERT INTO public.profiles VALUES (1, 'Mathematician');
INSERT INTO public.projects VALUES (1, 'Engine', 1, 100.5), (2, 'Loom', 1, 50), (3, 'Mill', 2, NULL);
INSERT INTO public.tasks VALUES
  (1, 1, 'Design', 'open', '{a,b}', '{"priority": 1, "owner": {"name": "Ada"}}', '2024-01-01'),
  (2, 1, 'Build', 'closed', '{b}', '{"priority": 2}', '2024-02-01'),
  (3, 2, 'Weave, carefully', 'open', '{}', NULL, NULL),
  (4, 3, 'Grind "fine"', 'closed', '{c}', '{"priority": 3}', '2024-03-01');
INSERT INTO public.teams VALUES (1, 'Core'), (2, 'Docs');
INSERT INTO public.members VALUES (1, 1), (2, 1), (2, 2);
INSERT INTO public.addresses VALUES (1, 'London'), (2, 'Paris');
INSERT INTO public.shipments VALUES (1, 1, 2);
INSERT INTO public.regions VALUES ('FR', 'IDF', 'Ile-de-France'), ('UK', 'LDN', 'London');
INSERT INTO public.cities VALUES (1, 'Paris', 'FR', 'IDF'), (2, 'Camden', 'UK', 'LDN');
INSERT INTO public.articles VALUES (1, 'The quick brown fox jumps'), (2, 'Lazy dogs sleep all day');
INSERT INTO public.reservations VALUES (1, '[1,5)'), (2, '[10,20)');
INSERT INTO private.secrets VALUES (1, 1, 's1');
INSERT INTO public.todos (user_id, title, is_public) VALUES ('u1', 'public one', true), ('u1', 'private one', false), ('u2', 'other', false);
INSERT INTO public.parcels VALUES (1, 1, 2), (2, 2, 1);
INSERT INTO api.widgets VALUES (1, 'gear'), (2, 'cog');
REFRESH MATERIALIZED VIEW public.project_counts;

-- Impersonated role settings (ALTER ROLE … SET), applied to each request of the role.
CREATE ROLE settings_user NOLOGIN;
GRANT settings_user TO authenticator;
ALTER ROLE settings_user SET statement_timeout = '300ms';
ALTER ROLE settings_user SET default_transaction_isolation = 'serializable';
ALTER ROLE settings_user SET log_min_duration_statement = 0;  -- superuser-only: never applied
CREATE FUNCTION public.session_settings() RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('statement_timeout', current_setting('statement_timeout'),
                           'isolation', current_setting('transaction_isolation'),
                           'read_only', current_setting('transaction_read_only'))
$$;
CREATE FUNCTION public.sleep_a_second() RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT 1 FROM pg_sleep(1) $$;
