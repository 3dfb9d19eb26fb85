//! The data plane's settings: one typed contract shared by `madbase serve` (which reads it),
//! the operator (which renders it into a Deployment's environment) and `compose.yaml`.
//!
//! Every setting is declared once in [`SETTINGS`]: its file key, its environment variable, whether
//! it is required or secret, its default and its documentation. Parsing is table-driven, so a
//! setting cannot be read under one name and rendered under another. This crate does no I/O:
//! the caller hands it an environment lookup and the text of an optional TOML file.

mod auth;
pub use auth::{AuthSettings, JwtSigningAlg, OAuthProviderSettings, SmtpTls};

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

/// Prefix of every environment variable the data plane reads.
pub const ENV_PREFIX: &str = "MADBASE_";

/// Prefix of the environment variables that become `app.settings.<name>` in every `/rest/v1`
/// transaction (PostgREST's `app.settings.*`): `MADBASE_APP_SETTINGS_JWT_EXP=3600` is
/// `app.settings.jwt_exp`. In the TOML file, the table `[app_settings]`.
pub const APP_SETTINGS_PREFIX: &str = "MADBASE_APP_SETTINGS_";

/// Environment variable naming an optional TOML file with the same keys (lower-case, no prefix).
pub const CONFIG_FILE_ENV: &str = "MADBASE_CONFIG_FILE";

/// One setting of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Key in the TOML file, e.g. `database_url`.
    pub key: &'static str,
    /// Environment variable, e.g. `MADBASE_DATABASE_URL`.
    pub env: &'static str,
    /// Start-up fails when a required setting is missing.
    pub required: bool,
    /// Secret values are never printed and come from Kubernetes Secrets, not ConfigMaps.
    pub secret: bool,
    /// Value used when the setting is absent.
    pub default: Option<&'static str>,
    /// What the setting does, for `--help`, the README and the operator's docs.
    pub doc: &'static str,
}

macro_rules! settings {
    ($( $key:literal => $env:literal, required: $req:literal, secret: $sec:literal, default: $def:expr, $doc:literal; )*) => {
        /// The whole contract, in documentation order.
        pub const SETTINGS: &[Setting] = &[
            $( Setting { key: $key, env: $env, required: $req, secret: $sec, default: $def, doc: $doc }, )*
        ];
    };
}

settings! {
    "database_url" => "MADBASE_DATABASE_URL", required: true, secret: true, default: None,
        "PostgreSQL connection URL (postgres://user:password@host:port/db). The role must be able to run MadBase's migrations.";
    "jwt_secret" => "MADBASE_JWT_SECRET", required: true, secret: true, default: None,
        "HS256 secret that signs API keys and user tokens; at least 32 characters.";
    "listen" => "MADBASE_LISTEN", required: false, secret: false, default: Some("0.0.0.0:8000"),
        "Address the HTTP gateway listens on.";
    "project_ref" => "MADBASE_PROJECT_REF", required: false, secret: false, default: Some("default"),
        "Project reference: lower-case letters, digits and dashes, at most 40 characters.";
    "api_external_url" => "MADBASE_API_EXTERNAL_URL", required: false, secret: false, default: None,
        "Public base URL clients use (e.g. https://abc.example.com); defaults to http://<listen>.";
    "db_ssl_mode" => "MADBASE_DB_SSL_MODE", required: false, secret: false, default: None,
        "TLS to PostgreSQL when the database URL sets no sslmode (libpq's sslmode): disable, allow, prefer (libpq's default), require, verify-ca or verify-full.";
    "db_ssl_root_cert" => "MADBASE_DB_SSL_ROOT_CERT", required: false, secret: false, default: None,
        "PEM file of the CAs trusted for PostgreSQL's certificate, or `system` for the operating system's store, when the database URL sets no sslrootcert (libpq's sslrootcert).";
    "db_ssl_crl" => "MADBASE_DB_SSL_CRL", required: false, secret: false, default: None,
        "PEM file of certificate revocation lists for PostgreSQL's certificate chain, when the database URL sets no sslcrl (libpq's sslcrl): every certificate of the chain then needs its issuer's list.";
    "db_schemas" => "MADBASE_DB_SCHEMAS", required: false, secret: false, default: Some("public,graphql_public"),
        "Comma-separated schemas exposed by /rest/v1; the first is the default.";
    "db_pool_size" => "MADBASE_DB_POOL_SIZE", required: false, secret: false, default: Some("10"),
        "Maximum connections the data plane opens to PostgreSQL.";
    "db_pool_acquisition_timeout" => "MADBASE_DB_POOL_ACQUISITION_TIMEOUT", required: false, secret: false, default: Some("10"),
        "Seconds a request waits for a free database connection before 504 PGRST003 (PostgREST's db-pool-acquisition-timeout).";
    "db_pool_max_idletime" => "MADBASE_DB_POOL_MAX_IDLETIME", required: false, secret: false, default: Some("30"),
        "Seconds after which an idle database connection is closed, so a quiet project holds no PostgreSQL backends beyond its schema listener (PostgREST's db-pool-max-idletime); 0 keeps them open.";
    "db_pool_max_lifetime" => "MADBASE_DB_POOL_MAX_LIFETIME", required: false, secret: false, default: Some("1800"),
        "Seconds after which a database connection is replaced by a new one once idle, so PostgreSQL backends do not grow for ever and new DNS answers are used (PostgREST's db-pool-max-lifetime); 0 keeps them.";
    "db_read_lanes" => "MADBASE_DB_READ_LANES", required: false, secret: false, default: Some("2"),
        "Connections, besides the pool, on which short /rest/v1 reads of many requests are sent in batches; 0 turns batching off.";
    "db_max_rows" => "MADBASE_DB_MAX_ROWS", required: false, secret: false, default: None,
        "Upper bound on rows returned by one /rest/v1 read (PostgREST's db-max-rows).";
    "db_aggregates_enabled" => "MADBASE_DB_AGGREGATES_ENABLED", required: false, secret: false, default: Some("false"),
        "Allow aggregate functions in /rest/v1 `select` (PostgREST's db-aggregates-enabled).";
    "db_api_user" => "MADBASE_DB_API_USER", required: false, secret: false, default: None,
        "Role the /rest/v1 connections log in as (PostgREST's db-uri role; Supabase's is authenticator): requests can then switch only to roles it is a member of, also from SQL. Default: the database URL's role. madbase dev uses authenticator.";
    "db_api_password" => "MADBASE_DB_API_PASSWORD", required: false, secret: true, default: None,
        "Password of MADBASE_DB_API_USER; none for trust, peer or certificate authentication.";
    "db_private" => "MADBASE_DB_PRIVATE", required: false, secret: false, default: Some("false"),
        "Close the project's database to other roles at start: revoke CONNECT and TEMPORARY from PUBLIC and grant CONNECT to MADBASE_DB_API_USER. For a database on a PostgreSQL cluster that other projects share, whose API roles they are members of too (the operator sets it).";
    "db_prepared_statements" => "MADBASE_DB_PREPARED_STATEMENTS", required: false, secret: false, default: Some("true"),
        "Keep /rest/v1 statements prepared on each connection (PostgREST's db-prepared-statements); false behind a pooler in transaction mode that cannot keep them.";
    "db_plan_enabled" => "MADBASE_DB_PLAN_ENABLED", required: false, secret: false, default: Some("false"),
        "Allow `Accept: application/vnd.pgrst.plan` EXPLAIN responses (PostgREST's db-plan-enabled).";
    "db_anon_role" => "MADBASE_DB_ANON_ROLE", required: false, secret: false, default: Some("anon"),
        "Role of /rest/v1 requests without a token, and of tokens that name none (PostgREST's db-anon-role); `none` turns anonymous access off (401 PGRST302).";
    "db_pre_request" => "MADBASE_DB_PRE_REQUEST", required: false, secret: false, default: None,
        "Function called before every /rest/v1 query (PostgREST's db-pre-request), e.g. public.check_request.";
    "db_hoisted_tx_settings" => "MADBASE_DB_HOISTED_TX_SETTINGS", required: false, secret: false, default: Some("statement_timeout,plan_filter.statement_cost_limit,default_transaction_isolation"),
        "Comma-separated settings a function's own `SET` clause applies to the whole transaction of a /rest/v1/rpc call, before the function runs (PostgREST's db-hoisted-tx-settings); `none` for none.";
    "db_root_spec" => "MADBASE_DB_ROOT_SPEC", required: false, secret: false, default: None,
        "Function in the exposed schema that answers GET /rest/v1/ instead of the OpenAPI description, called like an RPC (PostgREST's db-root-spec).";
    "db_tx_end" => "MADBASE_DB_TX_END", required: false, secret: false, default: Some("commit"),
        "How a /rest/v1 transaction ends (PostgREST's db-tx-end): commit, commit-allow-override, rollback or rollback-allow-override; -allow-override honours `Prefer: tx=commit|rollback`.";
    "db_extra_search_path" => "MADBASE_DB_EXTRA_SEARCH_PATH", required: false, secret: false, default: Some("public,extensions"),
        "Comma-separated schemas added to each /rest/v1 request's search_path after the exposed one (PostgREST's db-extra-search-path); `none` for none.";
    "db_channel" => "MADBASE_DB_CHANNEL", required: false, secret: false, default: Some("pgrst"),
        "The channel the data plane listens on for `NOTIFY <channel>, 'reload schema'` and `'reload config'` (PostgREST's db-channel). MadBase's own DDL trigger notifies `pgrst`.";
    "db_channel_enabled" => "MADBASE_DB_CHANNEL_ENABLED", required: false, secret: false, default: Some("true"),
        "Listen on that channel at all (PostgREST's db-channel-enabled); off, reloads come only from SIGUSR1 and SIGUSR2, and a project holds no listening connection.";
    "db_config" => "MADBASE_DB_CONFIG", required: false, secret: false, default: Some("true"),
        "Read the data API's settings from the database too, as PostgREST's db-config: `ALTER ROLE <the database URL's role> [IN DATABASE <db>] SET pgrst.<key> = '…'` for the keys listed in the README (pgrst.db_schemas, pgrst.jwt_aud…). They override the environment and the file, and are read again on `NOTIFY pgrst, 'reload config'`.";
    "db_pre_config" => "MADBASE_DB_PRE_CONFIG", required: false, secret: false, default: None,
        "Function (schema.fn) called before the in-database settings are read, whose `set_config('pgrst.<key>', …, true)` calls set them with the lowest precedence (PostgREST's db-pre-config).";
    "jwt_aud" => "MADBASE_JWT_AUD", required: false, secret: false, default: None,
        "Data API: the audience a token's `aud` claim must name, else 401 PGRST303 (PostgREST's jwt-aud); unset: any audience.";
    "jwt_role_claim_key" => "MADBASE_JWT_ROLE_CLAIM_KEY", required: false, secret: false, default: Some(".role"),
        "Data API: where a token's claims name the database role (PostgREST's jwt-role-claim-key), e.g. .app_metadata.role, .\"https://example.com/role\", .roles[0] or .roles[?(@ ^== \"app_\")]; a token without it runs as anon.";
    "jwt_cache_max_entries" => "MADBASE_JWT_CACHE_MAX_ENTRIES", required: false, secret: false, default: Some("1000"),
        "Data API: bearer tokens whose verified claims are kept, so a token is verified once rather than on every request (PostgREST's jwt-cache-max-entries); 0 turns the cache off.";
    "server_timing_enabled" => "MADBASE_SERVER_TIMING_ENABLED", required: false, secret: false, default: Some("false"),
        "Data API: add a `Server-Timing` header with the time spent on the token, parsing, planning, the transaction and the response (PostgREST's server-timing-enabled).";
    "client_error_verbosity" => "MADBASE_CLIENT_ERROR_VERBOSITY", required: false, secret: false, default: Some("verbose"),
        "Data API: verbose (errors carry details and hint) or minimal (only code and message), as PostgREST's client-error-verbosity.";
    "openapi_mode" => "MADBASE_OPENAPI_MODE", required: false, secret: false, default: Some("follow-privileges"),
        "What GET /rest/v1/ describes (PostgREST's openapi-mode): follow-privileges (what the caller's role may use), ignore-privileges (everything exposed) or disabled (404 PGRST126).";
    "cors_allowed_origins" => "MADBASE_CORS_ALLOWED_ORIGINS", required: false, secret: false, default: Some("*"),
        "Origins browsers may call the API from, comma-separated (https://app.example.com,http://localhost:3000), as PostgREST's server-cors-allowed-origins; `*` (the default, as Supabase) allows any. A request from another origin gets no CORS headers, so the browser withholds the answer.";
    "openapi_security_active" => "MADBASE_OPENAPI_SECURITY_ACTIVE", required: false, secret: false, default: Some("false"),
        "Declare the bearer token in GET /rest/v1/'s OpenAPI description (securityDefinitions), so tools like Swagger UI offer to send one (PostgREST's openapi-security-active).";
    "openapi_server_proxy_uri" => "MADBASE_OPENAPI_SERVER_PROXY_URI", required: false, secret: false, default: None,
        "The URL the OpenAPI description gives as the data API's address (scheme, host and basePath), as PostgREST's openapi-server-proxy-uri; defaults to <API external URL>/rest/v1, or without one to basePath /rest/v1 on the host that served the description.";
    "require_apikey" => "MADBASE_REQUIRE_APIKEY", required: false, secret: false, default: Some("true"),
        "Reject requests without a valid `apikey` header or query parameter, as Supabase's gateway does.";
    "log_level" => "MADBASE_LOG_LEVEL", required: false, secret: false, default: Some("info"),
        "Log filter: error, warn, info, debug, trace, or a tracing directive list.";
    "log_query" => "MADBASE_LOG_QUERY", required: false, secret: false, default: Some("disabled"),
        "main-query: log each /rest/v1 request's main SQL statement (its text, with $n placeholders, never the values) on the request's log line, as PostgREST's log-query; disabled by default.";
    "log_format" => "MADBASE_LOG_FORMAT", required: false, secret: false, default: Some("json"),
        "Log format: json (one object per line) or text.";
    "storage_backend" => "MADBASE_STORAGE_BACKEND", required: false, secret: false, default: Some("file"),
        "Object storage backend for /storage/v1: s3 or file.";
    "storage_file_dir" => "MADBASE_STORAGE_FILE_DIR", required: false, secret: false, default: Some("./storage"),
        "Directory for the file backend.";
    "s3_bucket" => "MADBASE_S3_BUCKET", required: false, secret: false, default: None,
        "S3 bucket holding this project's objects (s3 backend).";
    "s3_endpoint" => "MADBASE_S3_ENDPOINT", required: false, secret: false, default: None,
        "S3 endpoint URL; empty means AWS.";
    "s3_region" => "MADBASE_S3_REGION", required: false, secret: false, default: Some("us-east-1"),
        "S3 region.";
    "s3_force_path_style" => "MADBASE_S3_FORCE_PATH_STYLE", required: false, secret: false, default: Some("true"),
        "Use path-style S3 addressing (MinIO, Garage).";
    "s3_access_key_id" => "MADBASE_S3_ACCESS_KEY_ID", required: false, secret: true, default: None,
        "S3 access key id.";
    "s3_secret_access_key" => "MADBASE_S3_SECRET_ACCESS_KEY", required: false, secret: true, default: None,
        "S3 secret access key.";
    "site_url" => "MADBASE_SITE_URL", required: false, secret: false, default: None,
        "Auth: the app's URL; links go here by default and it is always an allowed redirect. Defaults to the API external URL.";
    "auth_uri_allow_list" => "MADBASE_AUTH_URI_ALLOW_LIST", required: false, secret: false, default: None,
        "Auth: comma-separated further allowed `redirect_to` URLs; `*` matches within a path segment, `**` across.";
    "auth_disable_signup" => "MADBASE_AUTH_DISABLE_SIGNUP", required: false, secret: false, default: Some("false"),
        "Auth: refuse new users except through the admin API.";
    "auth_external_email_enabled" => "MADBASE_AUTH_EXTERNAL_EMAIL_ENABLED", required: false, secret: false, default: Some("true"),
        "Auth: email sign-up and sign-in.";
    "auth_external_phone_enabled" => "MADBASE_AUTH_EXTERNAL_PHONE_ENABLED", required: false, secret: false, default: Some("false"),
        "Auth: phone sign-up and SMS sign-in.";
    "auth_external_anonymous_users_enabled" => "MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED", required: false, secret: false, default: Some("false"),
        "Auth: allow signInAnonymously.";
    "auth_mailer_autoconfirm" => "MADBASE_AUTH_MAILER_AUTOCONFIRM", required: false, secret: false, default: Some("false"),
        "Auth: new email users are confirmed without a confirmation email.";
    "auth_sms_autoconfirm" => "MADBASE_AUTH_SMS_AUTOCONFIRM", required: false, secret: false, default: Some("false"),
        "Auth: new phone users are confirmed without an SMS code.";
    "auth_jwt_exp" => "MADBASE_AUTH_JWT_EXP", required: false, secret: false, default: Some("3600"),
        "Auth: access-token lifetime (seconds, or 15m, 1h...).";
    "auth_jwt_issuer" => "MADBASE_AUTH_JWT_ISSUER", required: false, secret: false, default: None,
        "Auth: `iss` claim of access tokens; defaults to <API external URL>/auth/v1.";
    "auth_jwt_keys" => "MADBASE_AUTH_JWT_KEYS", required: false, secret: true, default: None,
        "Auth: JSON array of JWKs (or {\"keys\": [...]}), each with a `kid`: EC P-256 keys (ES256) and RSA keys of at least 2048 bits (RS256); private keys (with `d`) can sign, public ones only verify. The signer is chosen by MADBASE_AUTH_JWT_SIGNING_ALG, then by `key_ops` containing `sign`, then the first private key. Every listed key verifies and is published at /auth/v1/.well-known/jwks.json: keep a rotated-out key listed, without `sign`, until the tokens it signed have expired.";
    "auth_jwt_signing_alg" => "MADBASE_AUTH_JWT_SIGNING_ALG", required: false, secret: false, default: None,
        "Auth: which key signs access tokens: HS256 (the project secret, even with asymmetric keys listed), ES256 or RS256 (a private key of that type in MADBASE_AUTH_JWT_KEYS, the one marked `sign` first; start-up fails without one). Unset: the key marked `sign`, else the first private key, else HS256.";
    "auth_password_min_length" => "MADBASE_AUTH_PASSWORD_MIN_LENGTH", required: false, secret: false, default: Some("6"),
        "Auth: minimum password length (6 to 72).";
    "auth_password_required_characters" => "MADBASE_AUTH_PASSWORD_REQUIRED_CHARACTERS", required: false, secret: false, default: None,
        "Auth: `:`-separated character sets a password must each use, e.g. abcdefghijklmnopqrstuvwxyz:ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789.";
    "auth_security_manual_linking_enabled" => "MADBASE_AUTH_SECURITY_MANUAL_LINKING_ENABLED", required: false, secret: false, default: Some("false"),
        "Auth: signed-in users may link further OAuth/OIDC identities (linkIdentity) and unlink them (unlinkIdentity), as GoTrue's GOTRUE_SECURITY_MANUAL_LINKING_ENABLED; off, both answer 404 manual_linking_disabled.";
    "auth_mfa_phone_enroll_enabled" => "MADBASE_AUTH_MFA_PHONE_ENROLL_ENABLED", required: false, secret: false, default: Some("false"),
        "Auth: users may enroll phone (SMS) MFA factors (mfa.enroll({factorType: 'phone'})); opt-in, as GoTrue.";
    "auth_mfa_phone_verify_enabled" => "MADBASE_AUTH_MFA_PHONE_VERIFY_ENABLED", required: false, secret: false, default: Some("false"),
        "Auth: phone MFA factors may be challenged (a code by SMS) and verified, which lifts the session to aal2.";
    "auth_mfa_phone_otp_length" => "MADBASE_AUTH_MFA_PHONE_OTP_LENGTH", required: false, secret: false, default: Some("6"),
        "Auth: digits in phone MFA codes (6 to 10).";
    "auth_mfa_phone_max_frequency" => "MADBASE_AUTH_MFA_PHONE_MAX_FREQUENCY", required: false, secret: false, default: Some("60"),
        "Auth: minimum time between two phone MFA codes to one factor.";
    "auth_secure_password_change" => "MADBASE_AUTH_SECURE_PASSWORD_CHANGE", required: false, secret: false, default: Some("false"),
        "Auth: changing a password needs a sign-in within 24 h or a reauthentication nonce.";
    "auth_mailer_secure_email_change_enabled" => "MADBASE_AUTH_MAILER_SECURE_EMAIL_CHANGE_ENABLED", required: false, secret: false, default: Some("true"),
        "Auth: an email change is confirmed on both the old and the new address.";
    "auth_refresh_token_rotation_enabled" => "MADBASE_AUTH_REFRESH_TOKEN_ROTATION_ENABLED", required: false, secret: false, default: Some("true"),
        "Auth: detect refresh-token reuse and end the session when it happens.";
    "auth_refresh_token_reuse_interval" => "MADBASE_AUTH_REFRESH_TOKEN_REUSE_INTERVAL", required: false, secret: false, default: Some("10"),
        "Auth: seconds a rotated refresh token may still be presented (lost responses).";
    "auth_sessions_timebox" => "MADBASE_AUTH_SESSIONS_TIMEBOX", required: false, secret: false, default: Some("0"),
        "Auth: sessions end this long after sign-in (0: never).";
    "auth_sessions_inactivity_timeout" => "MADBASE_AUTH_SESSIONS_INACTIVITY_TIMEOUT", required: false, secret: false, default: Some("0"),
        "Auth: sessions end after this long without a refresh (0: never).";
    "auth_mailer_otp_exp" => "MADBASE_AUTH_MAILER_OTP_EXP", required: false, secret: false, default: Some("86400"),
        "Auth: lifetime of email links and codes.";
    "auth_mailer_otp_length" => "MADBASE_AUTH_MAILER_OTP_LENGTH", required: false, secret: false, default: Some("6"),
        "Auth: digits in email OTP codes (6 to 10).";
    "auth_sms_otp_exp" => "MADBASE_AUTH_SMS_OTP_EXP", required: false, secret: false, default: Some("60"),
        "Auth: lifetime of SMS codes.";
    "auth_email_max_frequency" => "MADBASE_AUTH_EMAIL_MAX_FREQUENCY", required: false, secret: false, default: Some("60"),
        "Auth: minimum time between two emails to one address.";
    "auth_sms_max_frequency" => "MADBASE_AUTH_SMS_MAX_FREQUENCY", required: false, secret: false, default: Some("60"),
        "Auth: minimum time between two SMS to one number.";
    "auth_rate_limit_email_sent" => "MADBASE_AUTH_RATE_LIMIT_EMAIL_SENT", required: false, secret: false, default: Some("30"),
        "Auth: emails sent per hour by the whole project.";
    "auth_rate_limit_otp" => "MADBASE_AUTH_RATE_LIMIT_OTP", required: false, secret: false, default: Some("30"),
        "Auth: sign-up, OTP, recovery and resend requests per 5 minutes per client (see MADBASE_AUTH_RATE_LIMIT_HEADER).";
    "auth_rate_limit_token" => "MADBASE_AUTH_RATE_LIMIT_TOKEN", required: false, secret: false, default: Some("150"),
        "Auth: /token requests per 5 minutes per client (see MADBASE_AUTH_RATE_LIMIT_HEADER).";
    "auth_rate_limit_verify" => "MADBASE_AUTH_RATE_LIMIT_VERIFY", required: false, secret: false, default: Some("30"),
        "Auth: /verify requests per 5 minutes per client (see MADBASE_AUTH_RATE_LIMIT_HEADER).";
    "auth_rate_limit_header" => "MADBASE_AUTH_RATE_LIMIT_HEADER", required: false, secret: false, default: None,
        "Auth: request header whose first comma-separated value identifies the client for rate limits and session IPs, e.g. X-Forwarded-For (GoTrue's GOTRUE_RATE_LIMIT_HEADER). Set it only when a proxy you run sets that header on every request. Unset: the TCP peer address, and headers such as X-Forwarded-For are ignored because any client can send them.";
    "auth_dev_mailbox" => "MADBASE_AUTH_DEV_MAILBOX", required: false, secret: false, default: Some("false"),
        "Auth, development only (set by `madbase dev`): keep emails and SMS in memory, readable with the service_role key at /auth/v1/_dev/mailbox, instead of sending them.";
    "smtp_host" => "MADBASE_SMTP_HOST", required: false, secret: false, default: None,
        "Auth: SMTP server host for emails; its TLS certificate must name this host.";
    "smtp_port" => "MADBASE_SMTP_PORT", required: false, secret: false, default: Some("25"),
        "Auth: SMTP server port (587 for STARTTLS submission, 465 for implicit TLS).";
    "smtp_tls" => "MADBASE_SMTP_TLS", required: false, secret: false, default: None,
        "Auth: how SMTP is secured: starttls (upgrade required, refused when the server does not offer it), implicit (TLS from the first byte, SMTPS) or off (plain, only for a relay on the local network). Defaults to implicit on port 465 and starttls elsewhere. Certificates are verified against the Mozilla roots and MADBASE_AUTH_OUTBOUND_CA_FILE.";
    "auth_outbound_ca_file" => "MADBASE_AUTH_OUTBOUND_CA_FILE", required: false, secret: false, default: None,
        "Auth: PEM file of extra CA certificates trusted for outbound TLS (SMTP, OAuth/OIDC providers), e.g. a private CA; the Mozilla (webpki) roots are always trusted. Read at start: a missing file or one without certificates stops start-up.";
    "smtp_user" => "MADBASE_SMTP_USER", required: false, secret: false, default: None,
        "Auth: SMTP user.";
    "smtp_pass" => "MADBASE_SMTP_PASS", required: false, secret: true, default: None,
        "Auth: SMTP password.";
    "smtp_admin_email" => "MADBASE_SMTP_ADMIN_EMAIL", required: false, secret: false, default: Some("noreply@madbase.local"),
        "Auth: sender address of emails.";
    "smtp_sender_name" => "MADBASE_SMTP_SENDER_NAME", required: false, secret: false, default: None,
        "Auth: sender display name of emails.";
    "auth_mailer_templates_dir" => "MADBASE_AUTH_MAILER_TEMPLATES_DIR", required: false, secret: false, default: None,
        "Auth: directory of email templates: <kind>.html and <kind>.subject for confirmation, invite, magic_link, recovery, email_change, reauthentication, with GoTrue's variables ({{ .ConfirmationURL }}, {{ .Token }}, {{ .TokenHash }}, {{ .SiteURL }}, {{ .Email }}, {{ .NewEmail }}, {{ .RedirectTo }}).";
    "auth_external_github_client_id" => "MADBASE_AUTH_EXTERNAL_GITHUB_CLIENT_ID", required: false, secret: false, default: None,
        "Auth: GitHub OAuth client id (enables the provider).";
    "auth_external_github_secret" => "MADBASE_AUTH_EXTERNAL_GITHUB_SECRET", required: false, secret: true, default: None,
        "Auth: GitHub OAuth client secret.";
    "auth_external_github_url" => "MADBASE_AUTH_EXTERNAL_GITHUB_URL", required: false, secret: false, default: None,
        "Auth: GitHub base URL (GitHub Enterprise: its URL).";
    "auth_external_google_client_id" => "MADBASE_AUTH_EXTERNAL_GOOGLE_CLIENT_ID", required: false, secret: false, default: None,
        "Auth: Google OAuth client id (enables the provider).";
    "auth_external_google_secret" => "MADBASE_AUTH_EXTERNAL_GOOGLE_SECRET", required: false, secret: true, default: None,
        "Auth: Google OAuth client secret.";
    "auth_external_google_url" => "MADBASE_AUTH_EXTERNAL_GOOGLE_URL", required: false, secret: false, default: None,
        "Auth: Google issuer URL (OpenID discovery).";
    "auth_external_gitlab_client_id" => "MADBASE_AUTH_EXTERNAL_GITLAB_CLIENT_ID", required: false, secret: false, default: None,
        "Auth: GitLab OAuth client id (enables the provider).";
    "auth_external_gitlab_secret" => "MADBASE_AUTH_EXTERNAL_GITLAB_SECRET", required: false, secret: true, default: None,
        "Auth: GitLab OAuth client secret.";
    "auth_external_gitlab_url" => "MADBASE_AUTH_EXTERNAL_GITLAB_URL", required: false, secret: false, default: None,
        "Auth: GitLab base URL (self-managed: its URL).";
    "auth_external_oidc_client_id" => "MADBASE_AUTH_EXTERNAL_OIDC_CLIENT_ID", required: false, secret: false, default: None,
        "Auth: generic OpenID Connect OAuth client id (enables the provider).";
    "auth_external_oidc_secret" => "MADBASE_AUTH_EXTERNAL_OIDC_SECRET", required: false, secret: true, default: None,
        "Auth: generic OpenID Connect OAuth client secret.";
    "auth_external_oidc_url" => "MADBASE_AUTH_EXTERNAL_OIDC_URL", required: false, secret: false, default: None,
        "Auth: OpenID Connect issuer URL; endpoints come from <issuer>/.well-known/openid-configuration. The provider is named `oidc`.";
}

/// The settings also read from the database, as `pgrst.<key>` role settings (PostgREST's
/// in-database configuration): those PostgREST reads there that MadBase has, and only those
/// that can change while the data plane runs.
pub const DB_SETTINGS: &[&str] = &[
    "db_schemas",
    "db_anon_role",
    "db_max_rows",
    "db_aggregates_enabled",
    "db_plan_enabled",
    "db_pre_request",
    "db_root_spec",
    "db_hoisted_tx_settings",
    "db_tx_end",
    "db_extra_search_path",
    "openapi_mode",
    "openapi_security_active",
    "openapi_server_proxy_uri",
    "jwt_aud",
    "jwt_role_claim_key",
    "server_timing_enabled",
    "client_error_verbosity",
];

/// Looks a setting up in the table.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// A secret string whose `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// What `GET /rest/v1/` describes (`MADBASE_OPENAPI_MODE`, PostgREST's `openapi-mode`); the
/// default is `follow-privileges`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum OpenApiMode {
    /// The relations and functions the caller's role may use.
    #[default]
    FollowPrivileges,
    /// Everything exposed, whoever asks.
    IgnorePrivileges,
    /// No description: the root answers 404 PGRST126.
    Disabled,
}

impl OpenApiMode {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenApiMode::FollowPrivileges => "follow-privileges",
            OpenApiMode::IgnorePrivileges => "ignore-privileges",
            OpenApiMode::Disabled => "disabled",
        }
    }
}

/// How a `/rest/v1` transaction ends (`MADBASE_DB_TX_END`, PostgREST's `db-tx-end`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DbTxEnd {
    /// Commit; `Prefer: tx` is ignored.
    #[default]
    Commit,
    /// Commit unless `Prefer: tx=rollback`.
    CommitAllowOverride,
    /// Roll back (a database nothing writes to, for tests and demos); `Prefer: tx` is ignored.
    Rollback,
    /// Roll back unless `Prefer: tx=commit`.
    RollbackAllowOverride,
}

impl DbTxEnd {
    /// Every value, in documentation order.
    pub const ALL: [DbTxEnd; 4] = [
        DbTxEnd::Commit,
        DbTxEnd::CommitAllowOverride,
        DbTxEnd::Rollback,
        DbTxEnd::RollbackAllowOverride,
    ];

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DbTxEnd::Commit => "commit",
            DbTxEnd::CommitAllowOverride => "commit-allow-override",
            DbTxEnd::Rollback => "rollback",
            DbTxEnd::RollbackAllowOverride => "rollback-allow-override",
        }
    }

    /// Whether a transaction rolls back unless the request asks otherwise.
    pub fn rolls_back(self) -> bool {
        matches!(self, DbTxEnd::Rollback | DbTxEnd::RollbackAllowOverride)
    }

    /// Whether `Prefer: tx=commit|rollback` is honoured.
    pub fn allows_override(self) -> bool {
        matches!(
            self,
            DbTxEnd::CommitAllowOverride | DbTxEnd::RollbackAllowOverride
        )
    }
}

/// How much a `/rest/v1` error tells the client (`MADBASE_CLIENT_ERROR_VERBOSITY`, PostgREST's
/// `client-error-verbosity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ClientErrorVerbosity {
    /// `code`, `message`, `details` and `hint`.
    #[default]
    Verbose,
    /// `code` and `message` only.
    Minimal,
}

impl ClientErrorVerbosity {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientErrorVerbosity::Verbose => "verbose",
            ClientErrorVerbosity::Minimal => "minimal",
        }
    }
}

/// Where a token's claims name the database role (`MADBASE_JWT_ROLE_CLAIM_KEY`, PostgREST's
/// `jwt-role-claim-key`): keys (`.role`, `."https://example.com/role"`), array indexes
/// (`[0]`) and, last, one filter picking the first string of an array that matches
/// (`[?(@ == "admin")]`, with `!=`, `^==` starts with, `==^` ends with, `*==` contains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleClaimKey {
    text: String,
    steps: Vec<ClaimStep>,
}

/// One step of a [`RoleClaimKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimStep {
    /// An object's member.
    Key(String),
    /// An array's element.
    Index(usize),
    /// The first string element of an array that matches.
    Filter(ClaimMatch, String),
}

/// How a [`ClaimStep::Filter`] compares an element with its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimMatch {
    /// `==`
    Equals,
    /// `!=`
    NotEquals,
    /// `^==`: the element starts with the text.
    StartsWith,
    /// `==^`: the element ends with the text.
    EndsWith,
    /// `*==`: the element contains the text.
    Contains,
}

impl ClaimMatch {
    /// Whether `element` matches `text`.
    pub fn matches(self, element: &str, text: &str) -> bool {
        match self {
            ClaimMatch::Equals => element == text,
            ClaimMatch::NotEquals => element != text,
            ClaimMatch::StartsWith => element.starts_with(text),
            ClaimMatch::EndsWith => element.ends_with(text),
            ClaimMatch::Contains => element.contains(text),
        }
    }
}

impl Default for RoleClaimKey {
    fn default() -> Self {
        RoleClaimKey {
            text: ".role".into(),
            steps: vec![ClaimStep::Key("role".into())],
        }
    }
}

impl RoleClaimKey {
    /// Parses PostgREST's syntax; `None` when `text` is not a path.
    pub fn parse(text: &str) -> Option<Self> {
        let mut steps = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let (key, tail) = match after.strip_prefix('"') {
                    Some(quoted) => {
                        let end = quoted.find('"')?;
                        (&quoted[..end], &quoted[end + 1..])
                    }
                    None => {
                        let end = after
                            .find(|c: char| !(c.is_alphanumeric() || "_$@".contains(c)))
                            .unwrap_or(after.len());
                        (&after[..end], &after[end..])
                    }
                };
                if key.is_empty() && !after.starts_with('"') {
                    return None;
                }
                steps.push(ClaimStep::Key(key.to_owned()));
                rest = tail;
            } else if let Some(filter) = rest.strip_prefix("[?(") {
                let body = filter.strip_prefix('@')?.trim_start();
                let (how, body) = [
                    ("==^", ClaimMatch::EndsWith),
                    ("==", ClaimMatch::Equals),
                    ("!=", ClaimMatch::NotEquals),
                    ("^==", ClaimMatch::StartsWith),
                    ("*==", ClaimMatch::Contains),
                ]
                .into_iter()
                .find_map(|(op, how)| body.strip_prefix(op).map(|b| (how, b)))?;
                let quoted = body.trim_start().strip_prefix('"')?;
                let end = quoted.find('"')?;
                // The filter ends the path.
                if &quoted[end + 1..] != ")]" {
                    return None;
                }
                steps.push(ClaimStep::Filter(how, quoted[..end].to_owned()));
                rest = "";
            } else if let Some(index) = rest.strip_prefix('[') {
                let end = index.find(']')?;
                let digits = &index[..end];
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                steps.push(ClaimStep::Index(digits.parse().ok()?));
                rest = &index[end + 1..];
            } else {
                return None;
            }
        }
        (!steps.is_empty()).then(|| RoleClaimKey {
            text: text.to_owned(),
            steps,
        })
    }

    /// The path's steps, in order.
    pub fn steps(&self) -> &[ClaimStep] {
        &self.steps
    }

    /// The setting's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// libpq's `sslmode`: whether and how the data plane's connections to PostgreSQL use TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DbSslMode {
    /// Plain connections only.
    Disable,
    /// Plain, or TLS when the server insists; taken as `prefer`, which differs only in which
    /// is tried first.
    Allow,
    /// TLS when the server offers it, its certificate not checked (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is checked only against a root certificate given.
    Require,
    /// TLS, with a certificate that chains to a trusted root.
    VerifyCa,
    /// TLS, with a certificate that chains to a trusted root and names the host.
    VerifyFull,
}

impl DbSslMode {
    /// Every mode, weakest first.
    pub const ALL: [DbSslMode; 6] = [
        DbSslMode::Disable,
        DbSslMode::Allow,
        DbSslMode::Prefer,
        DbSslMode::Require,
        DbSslMode::VerifyCa,
        DbSslMode::VerifyFull,
    ];

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DbSslMode::Disable => "disable",
            DbSslMode::Allow => "allow",
            DbSslMode::Prefer => "prefer",
            DbSslMode::Require => "require",
            DbSslMode::VerifyCa => "verify-ca",
            DbSslMode::VerifyFull => "verify-full",
        }
    }

    /// The mode spelled `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// Whether a server that offers no TLS must be refused.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            DbSslMode::Require | DbSslMode::VerifyCa | DbSslMode::VerifyFull
        )
    }
}

/// Where `/storage/v1` keeps object bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    /// Files under a local directory.
    File { dir: String },
    /// An S3-compatible object store.
    S3(S3Settings),
}

/// S3 connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint URL, `None` for AWS.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Path-style addressing.
    pub force_path_style: bool,
    /// Access key id.
    pub access_key_id: Option<Secret>,
    /// Secret access key.
    pub secret_access_key: Option<Secret>,
}

/// The data plane's configuration, validated.
#[derive(Debug, Clone)]
pub struct DataPlaneConfig {
    /// The TOML file it was read from, if any (not a setting: the caller sets it). `madbase
    /// serve` reads it again on `reload config`, as PostgREST re-reads its file.
    pub config_file: Option<std::path::PathBuf>,
    /// See [`SETTINGS`] `database_url`.
    pub database_url: Secret,
    /// See `jwt_secret`.
    pub jwt_secret: Secret,
    /// See `listen`.
    pub listen: SocketAddr,
    /// See `project_ref`.
    pub project_ref: String,
    /// See `api_external_url`.
    pub api_external_url: Option<String>,
    /// See `db_schemas`.
    pub db_schemas: Vec<String>,
    /// See `db_pool_size`.
    pub db_pool_size: usize,
    /// See `db_read_lanes`.
    pub db_read_lanes: usize,
    /// See `db_pool_acquisition_timeout`, in seconds.
    pub db_pool_acquisition_timeout: u64,
    /// See `db_pool_max_idletime`, in seconds; 0 for never.
    pub db_pool_max_idletime: u64,
    /// See `db_pool_max_lifetime`, in seconds; 0 for never.
    pub db_pool_max_lifetime: u64,
    /// See `db_max_rows`.
    pub db_max_rows: Option<i64>,
    /// See `db_aggregates_enabled`.
    pub db_aggregates_enabled: bool,
    /// See `db_plan_enabled`.
    pub db_plan_enabled: bool,
    /// See `db_api_user`.
    pub db_api_user: Option<String>,
    /// See `db_private`.
    pub db_private: bool,
    /// See `db_api_password`.
    pub db_api_password: Option<Secret>,
    /// See `db_prepared_statements`.
    pub db_prepared_statements: bool,
    /// See `db_pre_request`.
    pub db_pre_request: Option<String>,
    /// See `db_anon_role`: `None` when anonymous access is off.
    pub db_anon_role: Option<String>,
    /// See `db_root_spec`.
    pub db_root_spec: Option<String>,
    /// See `db_hoisted_tx_settings`.
    pub db_hoisted_tx_settings: Vec<String>,
    /// See `db_ssl_mode`.
    pub db_ssl_mode: Option<DbSslMode>,
    /// See `db_ssl_root_cert`.
    pub db_ssl_root_cert: Option<String>,
    /// See `db_ssl_crl`.
    pub db_ssl_crl: Option<String>,
    /// See `openapi_mode`.
    pub openapi_mode: OpenApiMode,
    /// See `db_tx_end`.
    pub db_tx_end: DbTxEnd,
    /// See `db_extra_search_path`.
    pub db_extra_search_path: Vec<String>,
    /// See `db_channel`.
    pub db_channel: String,
    /// See `db_channel_enabled`.
    pub db_channel_enabled: bool,
    /// See `db_config`.
    pub db_config: bool,
    /// See `db_pre_config`.
    pub db_pre_config: Option<String>,
    /// See `jwt_aud`.
    pub jwt_aud: Option<String>,
    /// See `jwt_role_claim_key`.
    pub jwt_role_claim_key: RoleClaimKey,
    /// See `jwt_cache_max_entries`.
    pub jwt_cache_max_entries: usize,
    /// See `server_timing_enabled`.
    pub server_timing_enabled: bool,
    /// See `client_error_verbosity`.
    pub client_error_verbosity: ClientErrorVerbosity,
    /// See `openapi_security_active`.
    pub openapi_security_active: bool,
    /// See `openapi_server_proxy_uri`.
    pub openapi_server_proxy_uri: Option<String>,
    /// `app.settings.*` by name (see [`APP_SETTINGS_PREFIX`]); values kept as secrets, since
    /// Supabase's own put the JWT secret there.
    pub app_settings: BTreeMap<String, Secret>,
    /// See `cors_allowed_origins`: `None` for any origin.
    pub cors_allowed_origins: Option<Vec<String>>,
    /// See `require_apikey`.
    pub require_apikey: bool,
    /// See `log_level`.
    pub log_level: String,
    /// See `log_query`: whether it is `main-query`.
    pub log_query: bool,
    /// See `log_format`.
    pub log_format: LogFormat,
    /// See `storage_backend` and the `s3_*` settings.
    pub storage: StorageBackend,
    /// The `/auth/v1` settings (`site_url`, `auth_*`, `smtp_*`).
    pub auth: AuthSettings,
}

/// Every problem found in one pass, so a user fixes them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// One line per problem, naming the setting's environment variable.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Raw values gathered from the file and the environment, environment winning, and over
/// both the database's (`pgrst.*`) when read.
struct Raw {
    values: BTreeMap<&'static str, String>,
    /// `app.settings.*`, by name: the file's, then the environment's over them.
    app_settings: BTreeMap<String, Secret>,
    /// Keys whose value came from the database, named `pgrst.<key>` in problems.
    from_db: Vec<&'static str>,
    problems: Vec<String>,
}

impl Raw {
    fn gather(
        env: &dyn Fn(&str) -> Option<String>,
        env_keys: &[String],
        file: Option<&str>,
    ) -> Raw {
        let mut values = BTreeMap::new();
        let mut app_settings = BTreeMap::new();
        let mut problems = Vec::new();
        let mut app_setting = |name: String,
                               value: String,
                               problems: &mut Vec<String>,
                               whence: &str| {
            if valid_app_setting_name(&name) {
                app_settings.insert(name, Secret::new(value));
            } else {
                problems.push(format!(
                    "{whence}: `{name}` is not an app setting name (lower-case letters, digits and _)"
                ));
            }
        };
        if let Some(text) = file {
            match toml::from_str::<toml::Table>(text) {
                Ok(table) => {
                    for (key, value) in table {
                        if key == "app_settings" {
                            let toml::Value::Table(entries) = value else {
                                problems.push("config file: `app_settings` must be a table".into());
                                continue;
                            };
                            for (name, v) in entries {
                                let text = match v {
                                    toml::Value::String(s) => s,
                                    toml::Value::Integer(i) => i.to_string(),
                                    toml::Value::Boolean(b) => b.to_string(),
                                    _ => {
                                        problems.push(format!(
                                            "config file: app setting `{name}` must be a string, number or boolean"
                                        ));
                                        continue;
                                    }
                                };
                                app_setting(name, text, &mut problems, "config file");
                            }
                            continue;
                        }
                        let Some(s) = setting(&key) else {
                            problems.push(format!("config file: unknown key `{key}`"));
                            continue;
                        };
                        let text = match value {
                            toml::Value::String(s) => s,
                            toml::Value::Integer(i) => i.to_string(),
                            toml::Value::Boolean(b) => b.to_string(),
                            toml::Value::Array(items) => {
                                let mut parts = Vec::new();
                                for item in items {
                                    match item {
                                        toml::Value::String(s) => parts.push(s),
                                        _ => problems.push(format!(
                                            "config file: `{key}` must be a list of strings"
                                        )),
                                    }
                                }
                                parts.join(",")
                            }
                            _ => {
                                problems
                                    .push(format!("config file: `{key}` has an unsupported type"));
                                continue;
                            }
                        };
                        values.insert(s.key, text);
                    }
                }
                Err(e) => problems.push(format!("config file is not valid TOML: {}", e.message())),
            }
        }
        for name in env_keys {
            if let Some(app) = name.strip_prefix(APP_SETTINGS_PREFIX) {
                if let Some(v) = env(name) {
                    app_setting(app.to_ascii_lowercase(), v, &mut problems, name);
                }
            } else if name.starts_with(ENV_PREFIX)
                && name != CONFIG_FILE_ENV
                && !SETTINGS.iter().any(|s| s.env == name)
            {
                problems.push(format!("unknown environment variable {name}"));
            }
        }
        for s in SETTINGS {
            if let Some(v) = env(s.env) {
                values.insert(s.key, v);
            }
        }
        Raw {
            values,
            app_settings,
            from_db: Vec::new(),
            problems,
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        let s = setting(key)?;
        self.values
            .get(s.key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .or(s.default)
    }

    /// How problems name a setting: its environment variable, or `pgrst.<key>` when the
    /// database set it.
    fn env_name(&self, key: &str) -> String {
        match setting(key) {
            Some(s) if self.from_db.contains(&s.key) => format!("pgrst.{}", s.key),
            Some(s) => s.env.to_owned(),
            None => "MADBASE_?".to_owned(),
        }
    }

    fn required(&mut self, key: &str) -> Option<String> {
        match self.get(key) {
            Some(v) => Some(v.to_owned()),
            None => {
                let name = self.env_name(key);
                self.problems.push(format!("{name} is required"));
                None
            }
        }
    }

    fn parse<T>(&mut self, key: &str, what: &str, f: impl Fn(&str) -> Option<T>) -> Option<T> {
        let raw = self.get(key)?.to_owned();
        match f(raw.trim()) {
            Some(v) => Some(v),
            None => {
                let shown = if setting(key).is_some_and(|s| s.secret) {
                    "***".to_owned()
                } else {
                    raw
                };
                let name = self.env_name(key);
                self.problems
                    .push(format!("{name} must be {what} (got `{shown}`)"));
                None
            }
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Whether `name` is a valid project reference.
pub fn valid_project_ref(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A function name as `db_pre_request` takes it: `fn` or `schema.fn`, letters, digits and `_`.
pub fn valid_function_name(name: &str) -> bool {
    name.split('.').count() <= 2 && name.split('.').all(valid_unqualified_function_name)
}

/// A function name without schema, as `db_root_spec` takes it.
pub fn valid_unqualified_function_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A PostgreSQL setting's name as `db_hoisted_tx_settings` lists it: lower-case letters,
/// digits, `_` and `.` (for extension settings like `plan_filter.statement_cost_limit`).
pub fn valid_setting_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

/// A comma-separated list whose every item passes `valid`, or `none` for an empty one.
fn parse_list_or_none(v: &str, valid: fn(&str) -> bool) -> Option<Vec<String>> {
    if v == "none" {
        return Some(Vec::new());
    }
    let list: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).collect();
    list.iter().all(|s| valid(s)).then_some(list)
}

/// A list setting's value: its items joined by commas, or `none` for an empty list (an empty
/// value would mean the default).
pub fn list_or_none(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(",")
    }
}

/// A URL as `openapi_server_proxy_uri` takes it: an origin and an optional path, nothing else.
pub fn valid_proxy_uri(uri: &str) -> bool {
    let scheme_len = if uri.starts_with("https://") { 8 } else { 7 };
    let (origin, path) = match uri.get(scheme_len..).and_then(|r| r.find('/')) {
        Some(i) => uri.split_at(scheme_len + i),
        None => (uri, ""),
    };
    valid_origin(origin)
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
}

/// An app setting's name: lower-case letters, digits and `_`.
pub fn valid_app_setting_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An origin as browsers send it: `http` or `https`, a host, an optional port, nothing else.
pub fn valid_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal's colons are inside its brackets.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
        && port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

/// A role name as `db_anon_role` takes it: 1 to 63 characters, no NUL.
pub fn valid_role_name(name: &str) -> bool {
    valid_identifier(name)
}

fn valid_identifier(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && !name.contains('\0')
}

/// A schema name as a list setting (`db_schemas`, `db_extra_search_path`) can hold it: 1 to
/// 63 characters, no comma (the separator) and no NUL.
pub fn valid_schema_name(name: &str) -> bool {
    valid_identifier(name) && !name.contains(',')
}

impl DataPlaneConfig {
    /// Parses and validates the configuration from an environment lookup, the names of the
    /// environment variables present (to reject unknown `MADBASE_*` ones) and an optional TOML
    /// file's text. Environment variables override file keys.
    pub fn from_sources(
        env: &dyn Fn(&str) -> Option<String>,
        env_keys: &[String],
        file: Option<&str>,
    ) -> Result<Self, ConfigError> {
        Self::from_raw(Raw::gather(env, env_keys, file))
    }

    /// This configuration with the settings read from the database (`pgrst.<key>` role
    /// settings, by key without the prefix) laid over it, as PostgREST's in-database
    /// configuration: they win over the environment and the file. Keys outside
    /// [`DB_SETTINGS`] are ignored (the caller reports them); a bad value is an error naming
    /// `pgrst.<key>`.
    pub fn with_db_settings(&self, db: &[(String, String)]) -> Result<Self, ConfigError> {
        let rendered = self.to_env();
        let keys: Vec<String> = rendered.iter().map(|(k, _)| (*k).to_owned()).collect();
        let env = |name: &str| {
            rendered
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        let mut raw = Raw::gather(&env, &keys, None);
        raw.app_settings = self.app_settings.clone();
        for (key, value) in db {
            if let Some(s) = setting(key).filter(|s| DB_SETTINGS.contains(&s.key)) {
                // PostgREST reads an empty anonymous role as none: anonymous access off.
                let value = if s.key == "db_anon_role" && value.trim().is_empty() {
                    "none".to_owned()
                } else {
                    value.clone()
                };
                raw.values.insert(s.key, value);
                raw.from_db.push(s.key);
            }
        }
        let mut out = Self::from_raw(raw)?;
        out.config_file = self.config_file.clone();
        Ok(out)
    }

    fn from_raw(mut raw: Raw) -> Result<Self, ConfigError> {
        let database_url = raw.required("database_url");
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            raw.problems
                .push("MADBASE_DATABASE_URL must start with postgres:// or postgresql://".into());
        }
        let jwt_secret = raw.required("jwt_secret");
        if let Some(secret) = &jwt_secret
            && secret.len() < 32
        {
            raw.problems
                .push("MADBASE_JWT_SECRET must be at least 32 characters".into());
        }
        let listen = raw.parse("listen", "a socket address like 0.0.0.0:8000", |v| {
            v.parse().ok()
        });
        let project_ref = raw.parse(
            "project_ref",
            "lower-case letters, digits and dashes (at most 40)",
            |v| valid_project_ref(v).then(|| v.to_owned()),
        );
        let api_external_url = raw.parse("api_external_url", "an http(s) URL", |v| {
            (v.starts_with("http://") || v.starts_with("https://"))
                .then(|| v.trim_end_matches('/').to_owned())
        });
        let db_schemas = raw.parse(
            "db_schemas",
            "a comma-separated list of schema names",
            |v| {
                let list: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).collect();
                list.iter().all(|s| valid_identifier(s)).then_some(list)
            },
        );
        let db_pool_size = raw.parse("db_pool_size", "an integer between 1 and 1000", |v| {
            v.parse::<usize>().ok().filter(|n| (1..=1000).contains(n))
        });
        let db_ssl_mode = raw.parse(
            "db_ssl_mode",
            "disable, allow, prefer, require, verify-ca or verify-full",
            DbSslMode::parse,
        );
        let db_ssl_root_cert = raw.get("db_ssl_root_cert").map(str::to_owned);
        let db_ssl_crl = raw.get("db_ssl_crl").map(str::to_owned);
        let db_root_spec = raw.parse("db_root_spec", "a function name like root", |v| {
            valid_unqualified_function_name(v).then(|| v.to_owned())
        });
        let db_hoisted_tx_settings = raw.parse(
            "db_hoisted_tx_settings",
            "a comma-separated list of setting names, or none",
            |v| parse_list_or_none(v, valid_setting_name),
        );
        let seconds = |v: &str| v.parse::<u64>().ok().filter(|n| *n <= 604_800);
        let db_pool_acquisition_timeout = raw.parse(
            "db_pool_acquisition_timeout",
            "a number of seconds (1 to 3600)",
            |v| v.parse::<u64>().ok().filter(|n| (1..=3600).contains(n)),
        );
        let db_pool_max_idletime = raw.parse(
            "db_pool_max_idletime",
            "a number of seconds (0 to 604800)",
            seconds,
        );
        let db_pool_max_lifetime = raw.parse(
            "db_pool_max_lifetime",
            "a number of seconds (0 to 604800)",
            seconds,
        );
        let db_read_lanes = raw.parse("db_read_lanes", "an integer between 0 and 16", |v| {
            v.parse::<usize>().ok().filter(|n| *n <= 16)
        });
        let db_max_rows = raw.parse("db_max_rows", "a positive integer", |v| {
            v.parse::<i64>().ok().filter(|n| *n > 0)
        });
        let require_apikey = raw.parse("require_apikey", "true or false", parse_bool);
        let db_aggregates_enabled = raw.parse("db_aggregates_enabled", "true or false", parse_bool);
        let db_plan_enabled = raw.parse("db_plan_enabled", "true or false", parse_bool);
        let db_private = raw.parse("db_private", "true or false", parse_bool);
        let db_api_user = raw.parse("db_api_user", "a role name of 1 to 63 bytes", |v| {
            (!v.is_empty() && v.len() <= 63 && !v.contains('\0')).then(|| v.to_owned())
        });
        let db_prepared_statements =
            raw.parse("db_prepared_statements", "true or false", parse_bool);
        let db_anon_role = raw.parse("db_anon_role", "a role name, or none", |v| {
            Some((v != "none").then(|| v.to_owned())).filter(|_| valid_role_name(v))
        });
        let db_pre_request = raw.parse("db_pre_request", "a function name like schema.fn", |v| {
            valid_function_name(v).then(|| v.to_owned())
        });
        let openapi_mode = raw.parse(
            "openapi_mode",
            "follow-privileges, ignore-privileges or disabled",
            |v| {
                [
                    OpenApiMode::FollowPrivileges,
                    OpenApiMode::IgnorePrivileges,
                    OpenApiMode::Disabled,
                ]
                .into_iter()
                .find(|m| m.as_str() == v)
            },
        );
        let db_tx_end = raw.parse(
            "db_tx_end",
            "commit, commit-allow-override, rollback or rollback-allow-override",
            |v| DbTxEnd::ALL.into_iter().find(|m| m.as_str() == v),
        );
        let db_extra_search_path = raw.parse(
            "db_extra_search_path",
            "a comma-separated list of schema names, or none",
            |v| parse_list_or_none(v, valid_identifier),
        );
        let db_config = raw.parse("db_config", "true or false", parse_bool);
        let db_channel = raw.parse(
            "db_channel",
            "a channel name (letters, digits and _)",
            |v| valid_unqualified_function_name(v).then(|| v.to_owned()),
        );
        let db_channel_enabled = raw.parse("db_channel_enabled", "true or false", parse_bool);
        let db_pre_config = raw.parse("db_pre_config", "a function name like schema.fn", |v| {
            valid_function_name(v).then(|| v.to_owned())
        });
        let jwt_aud = raw.parse("jwt_aud", "an audience without control characters", |v| {
            (!v.chars().any(char::is_control)).then(|| v.to_owned())
        });
        let jwt_role_claim_key = raw.parse(
            "jwt_role_claim_key",
            "a claim path like .role, .app_metadata.role or .roles[0]",
            RoleClaimKey::parse,
        );
        let jwt_cache_max_entries = raw.parse(
            "jwt_cache_max_entries",
            "an integer between 0 and 1000000",
            |v| v.parse::<usize>().ok().filter(|n| *n <= 1_000_000),
        );
        let server_timing_enabled = raw.parse("server_timing_enabled", "true or false", parse_bool);
        let client_error_verbosity =
            raw.parse("client_error_verbosity", "verbose or minimal", |v| {
                [ClientErrorVerbosity::Verbose, ClientErrorVerbosity::Minimal]
                    .into_iter()
                    .find(|m| m.as_str() == v)
            });
        let openapi_security_active =
            raw.parse("openapi_security_active", "true or false", parse_bool);
        let openapi_server_proxy_uri = raw.parse(
            "openapi_server_proxy_uri",
            "an http(s) URL like https://api.example.com/rest/v1",
            |v| valid_proxy_uri(v).then(|| v.trim_end_matches('/').to_owned()),
        );
        let cors_allowed_origins = raw.parse(
            "cors_allowed_origins",
            "`*` or a comma-separated list of origins like https://app.example.com",
            |v| {
                if v == "*" {
                    return Some(None);
                }
                let list: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).collect();
                list.iter().all(|o| valid_origin(o)).then_some(Some(list))
            },
        );
        let log_query = raw.parse("log_query", "disabled or main-query", |v| match v {
            "disabled" => Some(false),
            "main-query" => Some(true),
            _ => None,
        });
        let log_level = raw.get("log_level").map(str::to_owned);
        let log_format = raw.parse("log_format", "json or text", |v| match v {
            "json" => Some(LogFormat::Json),
            "text" => Some(LogFormat::Text),
            _ => None,
        });
        let backend = raw.parse("storage_backend", "s3 or file", |v| match v {
            "s3" | "file" => Some(v.to_owned()),
            _ => None,
        });
        let storage = match backend.as_deref() {
            Some("s3") => {
                let bucket = raw.get("s3_bucket").map(str::to_owned);
                if bucket.is_none() {
                    raw.problems.push(
                        "MADBASE_S3_BUCKET is required when MADBASE_STORAGE_BACKEND=s3".into(),
                    );
                }
                let force_path_style =
                    raw.parse("s3_force_path_style", "true or false", parse_bool);
                Some(StorageBackend::S3(S3Settings {
                    bucket: bucket.unwrap_or_default(),
                    endpoint: raw.get("s3_endpoint").map(str::to_owned),
                    region: raw.get("s3_region").unwrap_or("us-east-1").to_owned(),
                    force_path_style: force_path_style.unwrap_or(true),
                    access_key_id: raw.get("s3_access_key_id").map(Secret::new),
                    secret_access_key: raw.get("s3_secret_access_key").map(Secret::new),
                }))
            }
            Some(_) => Some(StorageBackend::File {
                dir: raw
                    .get("storage_file_dir")
                    .unwrap_or("./storage")
                    .to_owned(),
            }),
            None => None,
        };
        let auth = AuthSettings::parse(&mut raw, api_external_url.as_deref());
        match (
            database_url,
            jwt_secret,
            listen,
            project_ref,
            db_schemas,
            db_pool_size,
            require_apikey,
            log_level,
            log_format,
            storage,
        ) {
            (
                Some(database_url),
                Some(jwt_secret),
                Some(listen),
                Some(project_ref),
                Some(db_schemas),
                Some(db_pool_size),
                Some(require_apikey),
                Some(log_level),
                Some(log_format),
                Some(storage),
            ) if raw.problems.is_empty() => Ok(DataPlaneConfig {
                config_file: None,
                auth,
                database_url: Secret::new(database_url),
                jwt_secret: Secret::new(jwt_secret),
                listen,
                project_ref,
                api_external_url,
                db_schemas,
                db_pool_size,
                db_read_lanes: db_read_lanes.unwrap_or(2),
                db_pool_acquisition_timeout: db_pool_acquisition_timeout.unwrap_or(10),
                db_pool_max_idletime: db_pool_max_idletime.unwrap_or(30),
                db_pool_max_lifetime: db_pool_max_lifetime.unwrap_or(1800),
                db_ssl_mode,
                db_ssl_root_cert,
                db_ssl_crl,
                db_root_spec,
                db_hoisted_tx_settings: db_hoisted_tx_settings.unwrap_or_default(),
                db_max_rows,
                db_aggregates_enabled: db_aggregates_enabled.unwrap_or(false),
                db_plan_enabled: db_plan_enabled.unwrap_or(false),
                db_api_user,
                db_private: db_private.unwrap_or(false),
                db_api_password: raw.get("db_api_password").map(Secret::new),
                db_prepared_statements: db_prepared_statements.unwrap_or(true),
                db_pre_request,
                db_anon_role: db_anon_role.unwrap_or_else(|| Some("anon".into())),
                openapi_mode: openapi_mode.unwrap_or_default(),
                db_tx_end: db_tx_end.unwrap_or_default(),
                db_extra_search_path: db_extra_search_path.unwrap_or_default(),
                db_config: db_config.unwrap_or(true),
                db_channel: db_channel.unwrap_or_else(|| "pgrst".into()),
                db_channel_enabled: db_channel_enabled.unwrap_or(true),
                db_pre_config,
                jwt_aud,
                jwt_role_claim_key: jwt_role_claim_key.unwrap_or_default(),
                jwt_cache_max_entries: jwt_cache_max_entries.unwrap_or(1000),
                server_timing_enabled: server_timing_enabled.unwrap_or(false),
                client_error_verbosity: client_error_verbosity.unwrap_or_default(),
                openapi_security_active: openapi_security_active.unwrap_or(false),
                openapi_server_proxy_uri,
                cors_allowed_origins: cors_allowed_origins.flatten(),
                app_settings: std::mem::take(&mut raw.app_settings),
                require_apikey,
                log_query: log_query.unwrap_or(false),
                log_level,
                log_format,
                storage,
            }),
            _ => Err(ConfigError {
                problems: raw.problems,
            }),
        }
    }

    /// The public base URL: `api_external_url`, else `http://<listen>`.
    pub fn external_url(&self) -> String {
        self.api_external_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The settings that differ between this configuration and `newer` and that a running
    /// data plane cannot take without a restart, by environment variable: all but the data
    /// API's own ([`DB_SETTINGS`], `log_query` and the app settings), which `reload config`
    /// applies, as PostgREST applies a reloaded file.
    pub fn restart_needed(&self, newer: &Self) -> Vec<&'static str> {
        let reloadable = |env: &str| {
            SETTINGS
                .iter()
                .find(|s| s.env == env)
                .is_some_and(|s| DB_SETTINGS.contains(&s.key) || s.key == "log_query")
        };
        let old = self.to_env();
        let new = newer.to_env();
        let value = |list: &[(&'static str, String)], env: &str| {
            list.iter().find(|(k, _)| *k == env).map(|(_, v)| v.clone())
        };
        let mut changed: Vec<&'static str> = old
            .iter()
            .chain(new.iter())
            .map(|(k, _)| *k)
            .filter(|k| !reloadable(k) && value(&old, k) != value(&new, k))
            .collect();
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// Renders the configuration as the environment variables `from_sources` reads back, but
    /// for [`DataPlaneConfig::app_settings`], whose variables are named after them.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (
                "MADBASE_DATABASE_URL",
                self.database_url.expose().to_owned(),
            ),
            ("MADBASE_JWT_SECRET", self.jwt_secret.expose().to_owned()),
            ("MADBASE_LISTEN", self.listen.to_string()),
            ("MADBASE_PROJECT_REF", self.project_ref.clone()),
            ("MADBASE_DB_SCHEMAS", self.db_schemas.join(",")),
            ("MADBASE_DB_POOL_SIZE", self.db_pool_size.to_string()),
            ("MADBASE_DB_READ_LANES", self.db_read_lanes.to_string()),
            (
                "MADBASE_DB_POOL_ACQUISITION_TIMEOUT",
                self.db_pool_acquisition_timeout.to_string(),
            ),
            (
                "MADBASE_DB_POOL_MAX_IDLETIME",
                self.db_pool_max_idletime.to_string(),
            ),
            (
                "MADBASE_DB_POOL_MAX_LIFETIME",
                self.db_pool_max_lifetime.to_string(),
            ),
            ("MADBASE_REQUIRE_APIKEY", self.require_apikey.to_string()),
            (
                "MADBASE_CORS_ALLOWED_ORIGINS",
                self.cors_allowed_origins
                    .as_ref()
                    .map_or_else(|| "*".to_owned(), |list| list.join(",")),
            ),
            ("MADBASE_LOG_LEVEL", self.log_level.clone()),
            (
                "MADBASE_LOG_QUERY",
                if self.log_query {
                    "main-query"
                } else {
                    "disabled"
                }
                .to_owned(),
            ),
            (
                "MADBASE_LOG_FORMAT",
                match self.log_format {
                    LogFormat::Json => "json",
                    LogFormat::Text => "text",
                }
                .to_owned(),
            ),
        ];
        if let Some(url) = &self.api_external_url {
            out.push(("MADBASE_API_EXTERNAL_URL", url.clone()));
        }
        if let Some(n) = self.db_max_rows {
            out.push(("MADBASE_DB_MAX_ROWS", n.to_string()));
        }
        if let Some(mode) = &self.db_ssl_mode {
            out.push(("MADBASE_DB_SSL_MODE", mode.as_str().to_owned()));
        }
        if let Some(path) = &self.db_ssl_root_cert {
            out.push(("MADBASE_DB_SSL_ROOT_CERT", path.clone()));
        }
        if let Some(path) = &self.db_ssl_crl {
            out.push(("MADBASE_DB_SSL_CRL", path.clone()));
        }
        if let Some(f) = &self.db_root_spec {
            out.push(("MADBASE_DB_ROOT_SPEC", f.clone()));
        }
        out.push((
            "MADBASE_DB_HOISTED_TX_SETTINGS",
            list_or_none(&self.db_hoisted_tx_settings),
        ));
        out.push((
            "MADBASE_DB_AGGREGATES_ENABLED",
            self.db_aggregates_enabled.to_string(),
        ));
        out.push(("MADBASE_DB_PLAN_ENABLED", self.db_plan_enabled.to_string()));
        out.push((
            "MADBASE_DB_PREPARED_STATEMENTS",
            self.db_prepared_statements.to_string(),
        ));
        if let Some(user) = &self.db_api_user {
            out.push(("MADBASE_DB_API_USER", user.clone()));
        }
        out.push(("MADBASE_DB_PRIVATE", self.db_private.to_string()));
        if let Some(password) = &self.db_api_password {
            out.push(("MADBASE_DB_API_PASSWORD", password.expose().to_owned()));
        }
        out.push((
            "MADBASE_DB_ANON_ROLE",
            self.db_anon_role.clone().unwrap_or_else(|| "none".into()),
        ));
        if let Some(f) = &self.db_pre_request {
            out.push(("MADBASE_DB_PRE_REQUEST", f.clone()));
        }
        out.push((
            "MADBASE_OPENAPI_MODE",
            self.openapi_mode.as_str().to_owned(),
        ));
        out.push(("MADBASE_DB_TX_END", self.db_tx_end.as_str().to_owned()));
        out.push((
            "MADBASE_DB_EXTRA_SEARCH_PATH",
            list_or_none(&self.db_extra_search_path),
        ));
        out.push(("MADBASE_DB_CONFIG", self.db_config.to_string()));
        out.push(("MADBASE_DB_CHANNEL", self.db_channel.clone()));
        out.push((
            "MADBASE_DB_CHANNEL_ENABLED",
            self.db_channel_enabled.to_string(),
        ));
        out.push((
            "MADBASE_OPENAPI_SECURITY_ACTIVE",
            self.openapi_security_active.to_string(),
        ));
        if let Some(uri) = &self.openapi_server_proxy_uri {
            out.push(("MADBASE_OPENAPI_SERVER_PROXY_URI", uri.clone()));
        }
        if let Some(f) = &self.db_pre_config {
            out.push(("MADBASE_DB_PRE_CONFIG", f.clone()));
        }
        if let Some(aud) = &self.jwt_aud {
            out.push(("MADBASE_JWT_AUD", aud.clone()));
        }
        out.push((
            "MADBASE_JWT_ROLE_CLAIM_KEY",
            self.jwt_role_claim_key.as_str().to_owned(),
        ));
        out.push((
            "MADBASE_JWT_CACHE_MAX_ENTRIES",
            self.jwt_cache_max_entries.to_string(),
        ));
        out.push((
            "MADBASE_SERVER_TIMING_ENABLED",
            self.server_timing_enabled.to_string(),
        ));
        out.push((
            "MADBASE_CLIENT_ERROR_VERBOSITY",
            self.client_error_verbosity.as_str().to_owned(),
        ));
        out.extend(self.auth.to_env());
        match &self.storage {
            StorageBackend::File { dir } => {
                out.push(("MADBASE_STORAGE_BACKEND", "file".into()));
                out.push(("MADBASE_STORAGE_FILE_DIR", dir.clone()));
            }
            StorageBackend::S3(s3) => {
                out.push(("MADBASE_STORAGE_BACKEND", "s3".into()));
                out.push(("MADBASE_S3_BUCKET", s3.bucket.clone()));
                if let Some(e) = &s3.endpoint {
                    out.push(("MADBASE_S3_ENDPOINT", e.clone()));
                }
                out.push(("MADBASE_S3_REGION", s3.region.clone()));
                out.push((
                    "MADBASE_S3_FORCE_PATH_STYLE",
                    s3.force_path_style.to_string(),
                ));
                if let Some(k) = &s3.access_key_id {
                    out.push(("MADBASE_S3_ACCESS_KEY_ID", k.expose().to_owned()));
                }
                if let Some(k) = &s3.secret_access_key {
                    out.push(("MADBASE_S3_SECRET_ACCESS_KEY", k.expose().to_owned()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)], file: Option<&str>) -> Result<DataPlaneConfig, ConfigError> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let keys: Vec<String> = map.keys().cloned().collect();
        DataPlaneConfig::from_sources(&|k| map.get(k).cloned(), &keys, file)
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("MADBASE_DATABASE_URL", "postgres://u:p@localhost/db"),
            ("MADBASE_JWT_SECRET", SECRET),
        ]
    }

    #[test]
    fn every_setting_is_prefixed_and_unique() {
        for s in SETTINGS {
            assert!(s.env.starts_with(ENV_PREFIX), "{}", s.env);
            assert_eq!(s.env, format!("MADBASE_{}", s.key.to_ascii_uppercase()));
            assert_eq!(SETTINGS.iter().filter(|o| o.key == s.key).count(), 1);
        }
    }

    #[test]
    fn the_data_api_login_is_checked_and_its_password_kept_secret() {
        let mut vars = minimal();
        vars.push(("MADBASE_DB_API_USER", "authenticator"));
        vars.push(("MADBASE_DB_API_PASSWORD", "hunter2-hunter2"));
        let c = parse(&vars, None).expect("valid");
        assert_eq!(c.db_api_user.as_deref(), Some("authenticator"));
        assert!(!format!("{c:?}").contains("hunter2"));
        let env = c.to_env();
        let keys: Vec<String> = env.iter().map(|(k, _)| (*k).to_owned()).collect();
        let back = DataPlaneConfig::from_sources(
            &|k| env.iter().find(|(e, _)| *e == k).map(|(_, v)| v.clone()),
            &keys,
            None,
        )
        .expect("round trip");
        assert_eq!(back.db_api_user.as_deref(), Some("authenticator"));
        assert_eq!(
            back.db_api_password.as_ref().map(Secret::expose),
            Some("hunter2-hunter2")
        );
        let long = "r".repeat(64);
        let mut bad = minimal();
        bad.push(("MADBASE_DB_API_USER", long.as_str()));
        let text = parse(&bad, None).expect_err("too long").to_string();
        assert!(text.contains("MADBASE_DB_API_USER"), "{text}");
    }

    #[test]
    fn a_reloaded_file_names_what_needs_a_restart() {
        let before =
            parse(&minimal(), Some("db_max_rows = 10\ndb_pool_size = 5\n")).expect("valid");
        let file = "db_max_rows = 20\ndb_pool_size = 6\nlog_query = \"main-query\"\n\
                    jwt_aud = \"app\"\ncors_allowed_origins = \"https://a.example\"\n\
                    [app_settings]\njwt_exp = \"60\"\n";
        let mut vars = minimal();
        let rotated = "fedcba9876543210fedcba9876543210";
        vars[1] = ("MADBASE_JWT_SECRET", rotated);
        let after = parse(&vars, Some(file)).expect("valid");
        assert_eq!(
            before.restart_needed(&after),
            [
                "MADBASE_CORS_ALLOWED_ORIGINS",
                "MADBASE_DB_POOL_SIZE",
                "MADBASE_JWT_SECRET"
            ]
        );
        assert!(before.restart_needed(&before.clone()).is_empty());
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(&minimal(), None).expect("valid");
        assert_eq!(c.listen.to_string(), "0.0.0.0:8000");
        assert_eq!(c.db_schemas, vec!["public", "graphql_public"]);
        assert_eq!(c.db_pool_size, 10);
        assert_eq!(c.openapi_mode, OpenApiMode::FollowPrivileges);
        assert!(c.require_apikey);
        assert_eq!(
            c.storage,
            StorageBackend::File {
                dir: "./storage".into()
            }
        );
    }

    #[test]
    fn missing_required_settings_are_all_reported() {
        let err = parse(&[], None).expect_err("missing");
        assert_eq!(
            err.problems,
            vec![
                "MADBASE_DATABASE_URL is required",
                "MADBASE_JWT_SECRET is required"
            ]
        );
    }

    #[test]
    fn bad_values_are_named_and_secrets_hidden() {
        let mut vars = minimal();
        vars[1] = ("MADBASE_JWT_SECRET", "short");
        vars.push(("MADBASE_DB_POOL_SIZE", "zero"));
        vars.push(("MADBASE_LISTEN", "nowhere"));
        vars.push(("MADBASE_PROJECT_REF", "Bad_Ref"));
        vars.push(("MADBASE_OPENAPI_MODE", "Disabled"));
        vars.push(("MADBASE_DB_SSL_MODE", "verify"));
        vars.push(("MADBASE_DB_PREPARED_STATEMENTS", "sometimes"));
        vars.push(("MADBASE_DB_ROOT_SPEC", "api.root; drop"));
        vars.push((
            "MADBASE_DB_HOISTED_TX_SETTINGS",
            "statement_timeout,,Work Mem",
        ));
        vars.push(("MADBASE_DB_TX_END", "abort"));
        let err = parse(&vars, None).expect_err("invalid");
        let text = err.to_string();
        assert!(
            text.contains("MADBASE_JWT_SECRET must be at least 32"),
            "{text}"
        );
        assert!(
            text.contains("MADBASE_DB_POOL_SIZE must be an integer"),
            "{text}"
        );
        assert!(
            text.contains("MADBASE_LISTEN must be a socket address"),
            "{text}"
        );
        assert!(text.contains("MADBASE_PROJECT_REF"), "{text}");
        assert!(
            text.contains("MADBASE_OPENAPI_MODE must be follow-privileges, ignore-privileges or disabled (got `Disabled`)"),
            "{text}"
        );
        assert!(
            text.contains("MADBASE_DB_SSL_MODE must be disable, allow, prefer, require, verify-ca or verify-full (got `verify`)"),
            "{text}"
        );
        assert!(
            text.contains("MADBASE_DB_PREPARED_STATEMENTS must be true or false"),
            "{text}"
        );
        assert!(
            text.contains("MADBASE_DB_ROOT_SPEC must be a function name like root"),
            "{text}"
        );
        assert!(
            text.contains("MADBASE_DB_HOISTED_TX_SETTINGS must be a comma-separated list of setting names, or none"),
            "{text}"
        );
        assert!(
            text.contains("MADBASE_DB_TX_END must be commit, commit-allow-override, rollback or rollback-allow-override (got `abort`)"),
            "{text}"
        );
        assert!(!text.contains("short"), "secret leaked: {text}");
    }

    #[test]
    fn hoisted_settings_default_to_postgrest_s_and_none_means_none() {
        let c = parse(&minimal(), None).expect("valid");
        assert_eq!(
            c.db_hoisted_tx_settings,
            vec![
                "statement_timeout",
                "plan_filter.statement_cost_limit",
                "default_transaction_isolation"
            ]
        );
        let mut vars = minimal();
        vars.push(("MADBASE_DB_HOISTED_TX_SETTINGS", "none"));
        let c = parse(&vars, None).expect("valid");
        assert!(c.db_hoisted_tx_settings.is_empty());
        assert_eq!(c.db_tx_end, DbTxEnd::Commit);
        assert_eq!(c.db_extra_search_path, vec!["public", "extensions"]);
        assert!(
            c.to_env()
                .contains(&("MADBASE_DB_HOISTED_TX_SETTINGS", "none".into()))
        );
        vars.pop();
        vars.push((
            "MADBASE_DB_HOISTED_TX_SETTINGS",
            " work_mem , statement_timeout",
        ));
        let c = parse(&vars, None).expect("valid");
        assert_eq!(
            c.db_hoisted_tx_settings,
            vec!["work_mem", "statement_timeout"]
        );
    }

    #[test]
    fn unknown_environment_variables_and_file_keys_are_rejected() {
        let mut vars = minimal();
        vars.push(("MADBASE_DATABSE_URL", "typo"));
        let err = parse(&vars, Some("listne = \"x\"")).expect_err("unknown");
        assert!(
            err.problems
                .iter()
                .any(|p| p.contains("MADBASE_DATABSE_URL"))
        );
        assert!(err.problems.iter().any(|p| p.contains("`listne`")));
    }

    #[test]
    fn file_values_are_overridden_by_environment() {
        let file =
            "listen = \"127.0.0.1:9000\"\ndb_pool_size = 4\ndb_schemas = [\"api\", \"public\"]";
        let mut vars = minimal();
        vars.push(("MADBASE_DB_POOL_SIZE", "7"));
        let c = parse(&vars, Some(file)).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.db_pool_size, 7);
        assert_eq!(c.db_schemas, vec!["api", "public"]);
    }

    #[test]
    fn invalid_toml_is_a_clear_error() {
        let err = parse(&minimal(), Some("listen = ")).expect_err("bad toml");
        assert!(err.problems[0].starts_with("config file is not valid TOML"));
    }

    #[test]
    fn s3_backend_needs_a_bucket() {
        let mut vars = minimal();
        vars.push(("MADBASE_STORAGE_BACKEND", "s3"));
        let err = parse(&vars, None).expect_err("no bucket");
        assert!(err.problems.iter().any(|p| p.contains("MADBASE_S3_BUCKET")));
    }

    #[test]
    fn rendering_round_trips() {
        let mut vars = minimal();
        vars.extend([
            ("MADBASE_STORAGE_BACKEND", "s3"),
            ("MADBASE_S3_BUCKET", "proj"),
            ("MADBASE_S3_ENDPOINT", "http://minio:9000"),
            ("MADBASE_S3_ACCESS_KEY_ID", "ak"),
            ("MADBASE_S3_SECRET_ACCESS_KEY", "sk"),
            ("MADBASE_DB_MAX_ROWS", "1000"),
            ("MADBASE_API_EXTERNAL_URL", "https://x.example.com/"),
            ("MADBASE_OPENAPI_MODE", "ignore-privileges"),
            ("MADBASE_DB_SSL_MODE", "verify-full"),
            ("MADBASE_DB_SSL_ROOT_CERT", "/etc/madbase/db-ca/ca.crt"),
            ("MADBASE_DB_SSL_CRL", "/etc/madbase/db-crl/root.crl"),
            ("MADBASE_DB_PRIVATE", "true"),
            ("MADBASE_DB_PREPARED_STATEMENTS", "false"),
            ("MADBASE_DB_ROOT_SPEC", "root_doc"),
            (
                "MADBASE_DB_HOISTED_TX_SETTINGS",
                "statement_timeout,work_mem",
            ),
            ("MADBASE_DB_TX_END", "rollback-allow-override"),
            ("MADBASE_DB_EXTRA_SEARCH_PATH", "extensions, api"),
            ("MADBASE_DB_CONFIG", "false"),
            ("MADBASE_DB_PRE_CONFIG", "postgrest.pre_config"),
            ("MADBASE_JWT_AUD", "https://app.example.com"),
            ("MADBASE_JWT_ROLE_CLAIM_KEY", ".roles[?(@ *== \"app\")]"),
            ("MADBASE_SERVER_TIMING_ENABLED", "true"),
            ("MADBASE_JWT_CACHE_MAX_ENTRIES", "0"),
            (
                "MADBASE_CORS_ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:3000",
            ),
            ("MADBASE_OPENAPI_SECURITY_ACTIVE", "true"),
            ("MADBASE_LOG_QUERY", "main-query"),
            ("MADBASE_DB_ANON_ROLE", "none"),
            ("MADBASE_DB_CHANNEL", "my_reloads"),
            ("MADBASE_DB_CHANNEL_ENABLED", "false"),
            ("MADBASE_DB_POOL_MAX_IDLETIME", "0"),
            ("MADBASE_DB_POOL_ACQUISITION_TIMEOUT", "3"),
            ("MADBASE_DB_POOL_MAX_LIFETIME", "600"),
            (
                "MADBASE_OPENAPI_SERVER_PROXY_URI",
                "https://api.example.com:8443/rest/v1/",
            ),
            ("MADBASE_CLIENT_ERROR_VERBOSITY", "minimal"),
        ]);
        let c = parse(&vars, None).expect("valid");
        assert_eq!(c.openapi_mode, OpenApiMode::IgnorePrivileges);
        assert_eq!(c.db_ssl_mode, Some(DbSslMode::VerifyFull));
        assert!(!c.db_prepared_statements);
        let rendered: Vec<(String, String)> = c
            .to_env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for (k, _) in &rendered {
            assert!(SETTINGS.iter().any(|s| s.env == k), "{k} not in contract");
        }
        let refs: Vec<(&str, &str)> = rendered
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let again = parse(&refs, None).expect("round trip");
        assert_eq!(again.to_env(), c.to_env());
        assert_eq!(
            again.api_external_url.as_deref(),
            Some("https://x.example.com")
        );
    }

    #[test]
    fn role_claim_keys_parse_as_postgrest_s() {
        let key = |t: &str| RoleClaimKey::parse(t).map(|k| k.steps().to_vec());
        use ClaimStep::{Filter, Index, Key};
        assert_eq!(key(".role"), Some(vec![Key("role".into())]));
        assert_eq!(
            key(".app_metadata.role"),
            Some(vec![Key("app_metadata".into()), Key("role".into())])
        );
        assert_eq!(
            key(".\"https://example.com/claims\".role"),
            Some(vec![
                Key("https://example.com/claims".into()),
                Key("role".into())
            ])
        );
        assert_eq!(key(".roles[1]"), Some(vec![Key("roles".into()), Index(1)]));
        assert_eq!(
            key(".roles[?(@ ^== \"app_\")]"),
            Some(vec![
                Key("roles".into()),
                Filter(ClaimMatch::StartsWith, "app_".into())
            ])
        );
        assert_eq!(
            key(".a[?(@==^\"x\")]"),
            Some(vec![
                Key("a".into()),
                Filter(ClaimMatch::EndsWith, "x".into())
            ])
        );
        for bad in [
            "",
            "role",
            ".",
            ".a..b",
            ".a[x]",
            ".a[]",
            ".a[?(@ = \"x\")]",
            ".a[?(@ == x)]",
            ".a[?(@ == \"x\")].b",
            ".\"open",
            ".a b",
        ] {
            assert_eq!(key(bad), None, "{bad}");
        }
        assert!(ClaimMatch::Contains.matches("my_app_role", "app"));
        assert!(!ClaimMatch::NotEquals.matches("x", "x"));
    }

    #[test]
    fn database_settings_win_and_bad_ones_are_named() {
        let mut vars = minimal();
        vars.push(("MADBASE_DB_SCHEMAS", "public"));
        vars.push(("MADBASE_DB_MAX_ROWS", "10"));
        let c = parse(&vars, None).expect("valid");
        assert!(c.db_config);
        let db = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let over = c
            .with_db_settings(&db(&[
                ("db_schemas", "api, public"),
                ("jwt_aud", "my-app"),
                ("jwt_role_claim_key", ".app_metadata.role"),
                ("client_error_verbosity", "minimal"),
                // Not read from the database: left as configured.
                ("db_pool_size", "99"),
                ("jwt_secret", "from-the-database-from-the-database"),
            ]))
            .expect("valid");
        assert_eq!(over.db_schemas, vec!["api", "public"]);
        assert_eq!(over.db_max_rows, Some(10));
        assert_eq!(over.jwt_aud.as_deref(), Some("my-app"));
        assert_eq!(over.jwt_role_claim_key.as_str(), ".app_metadata.role");
        assert_eq!(over.client_error_verbosity, ClientErrorVerbosity::Minimal);
        assert_eq!(over.db_pool_size, c.db_pool_size);
        assert_eq!(over.jwt_secret.expose(), SECRET);
        // An empty value means the default, as an empty environment variable does.
        let reset = c
            .with_db_settings(&db(&[("db_max_rows", "")]))
            .expect("valid");
        assert_eq!(reset.db_max_rows, None);
        let err = c
            .with_db_settings(&db(&[
                ("db_tx_end", "later"),
                ("jwt_role_claim_key", "role"),
            ]))
            .expect_err("invalid");
        assert_eq!(
            err.problems,
            vec![
                "pgrst.db_tx_end must be commit, commit-allow-override, rollback or rollback-allow-override (got `later`)",
                "pgrst.jwt_role_claim_key must be a claim path like .role, .app_metadata.role or .roles[0] (got `role`)",
            ]
        );
        for key in DB_SETTINGS {
            assert!(setting(key).is_some(), "{key}");
        }
    }

    #[test]
    fn cors_origins_are_checked() {
        let c = parse(&minimal(), None).expect("valid");
        assert_eq!(c.cors_allowed_origins, None);
        for good in [
            "https://app.example.com",
            "http://localhost:3000",
            "http://[::1]:8080",
            "https://xn--bcher-kva.example",
        ] {
            assert!(valid_origin(good), "{good}");
        }
        for bad in [
            "app.example.com",
            "https://",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com:port",
            "ftp://app.example.com",
            "https://a b",
            "*",
        ] {
            assert!(!valid_origin(bad), "{bad}");
        }
        for (uri, ok) in [
            ("https://api.example.com/rest/v1", true),
            ("http://localhost:54321", true),
            ("https://api.example.com:8443/v1/", true),
            ("api.example.com/rest/v1", false),
            ("https://api.example.com/rest v1", false),
            ("https://api.example.com/rest?x=1", false),
            ("https://", false),
        ] {
            assert_eq!(valid_proxy_uri(uri), ok, "{uri}");
        }
        let mut vars = minimal();
        vars.push((
            "MADBASE_CORS_ALLOWED_ORIGINS",
            "https://ok.example, https://bad.example/",
        ));
        let err = parse(&vars, None).expect_err("invalid");
        assert!(
            err.problems[0].starts_with("MADBASE_CORS_ALLOWED_ORIGINS must be"),
            "{err}"
        );
    }

    #[test]
    fn app_settings_come_from_their_own_variables_and_the_file_s_table() {
        let mut vars = minimal();
        vars.push(("MADBASE_APP_SETTINGS_JWT_EXP", "3600"));
        vars.push(("MADBASE_APP_SETTINGS_JWT_SECRET", "app-secret-value"));
        let file = "[app_settings]\njwt_exp = 60\ntenant = \"acme\"\nflag = true";
        let c = parse(&vars, Some(file)).expect("valid");
        let shown: Vec<(&str, &str)> = c
            .app_settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(
            shown,
            [
                ("flag", "true"),
                ("jwt_exp", "3600"),
                ("jwt_secret", "app-secret-value"),
                ("tenant", "acme")
            ],
            "the environment wins over the file"
        );
        assert!(!format!("{c:?}").contains("app-secret-value"));
        // In-database settings leave them as they are.
        let again = c.with_db_settings(&[]).expect("valid");
        assert_eq!(again.app_settings, c.app_settings);
        let mut bad = minimal();
        bad.push(("MADBASE_APP_SETTINGS_", "x"));
        bad.push(("MADBASE_APP_SETTINGS_A-B", "x"));
        let err = parse(&bad, Some("app_settings = 3")).expect_err("invalid");
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(
            err.problems
                .iter()
                .any(|p| p.contains("`app_settings` must be a table"))
        );
        assert!(
            err.problems
                .iter()
                .any(|p| p.contains("`a-b` is not an app setting name"))
        );
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = parse(&minimal(), None).expect("valid");
        let debug = format!("{c:?}");
        assert!(!debug.contains(SECRET));
        assert!(!debug.contains("u:p@localhost"));
    }
}
