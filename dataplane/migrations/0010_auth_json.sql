-- 0010_auth_json: how /auth/v1 renders users, built in PostgreSQL so one query returns the
-- whole object GoTrue would send (user, identities, factors). Lives in MadBase's private
-- `madbase` schema, so the `auth` schema stays exactly GoTrue's and dumps are unaffected.
--
-- Timestamps are RFC 3339 in UTC with microseconds, as GoTrue's JSON; empty optional fields
-- are omitted, `email` and `phone` are '' when unset.

CREATE OR REPLACE FUNCTION madbase.auth_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE OR REPLACE FUNCTION madbase.auth_identity_json(i auth.identities) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'identity_id', i.id,
        'id', i.provider_id,
        'user_id', i.user_id,
        'identity_data', coalesce(i.identity_data, '{}'::jsonb),
        'provider', i.provider,
        'created_at', madbase.auth_ts(i.created_at),
        'updated_at', madbase.auth_ts(i.updated_at)
    ) || jsonb_strip_nulls(jsonb_build_object(
        'last_sign_in_at', madbase.auth_ts(i.last_sign_in_at),
        'email', i.email
    ))
$$;

CREATE OR REPLACE FUNCTION madbase.auth_user_json(u auth.users) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', u.id,
        'aud', coalesce(u.aud, ''),
        'role', coalesce(u.role, ''),
        'email', coalesce(u.email, ''),
        'phone', coalesce(u.phone, ''),
        'app_metadata', coalesce(u.raw_app_meta_data, '{}'::jsonb),
        'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb),
        'identities', coalesce((
            SELECT jsonb_agg(madbase.auth_identity_json(i) ORDER BY i.created_at, i.id)
            FROM auth.identities i WHERE i.user_id = u.id
        ), '[]'::jsonb),
        'created_at', madbase.auth_ts(u.created_at),
        'updated_at', madbase.auth_ts(u.updated_at),
        'is_anonymous', u.is_anonymous
    ) || jsonb_strip_nulls(jsonb_build_object(
        'email_confirmed_at', madbase.auth_ts(u.email_confirmed_at),
        'phone_confirmed_at', madbase.auth_ts(u.phone_confirmed_at),
        'confirmation_sent_at', madbase.auth_ts(u.confirmation_sent_at),
        'confirmed_at', madbase.auth_ts(u.confirmed_at),
        'invited_at', madbase.auth_ts(u.invited_at),
        'recovery_sent_at', madbase.auth_ts(u.recovery_sent_at),
        'new_email', nullif(u.email_change, ''),
        'email_change_sent_at', madbase.auth_ts(u.email_change_sent_at),
        'new_phone', nullif(u.phone_change, ''),
        'phone_change_sent_at', madbase.auth_ts(u.phone_change_sent_at),
        'reauthentication_sent_at', madbase.auth_ts(u.reauthentication_sent_at),
        'last_sign_in_at', madbase.auth_ts(u.last_sign_in_at),
        'banned_until', madbase.auth_ts(u.banned_until),
        'deleted_at', madbase.auth_ts(u.deleted_at),
        'factors', (
            SELECT jsonb_agg(jsonb_build_object(
                'id', f.id,
                'friendly_name', coalesce(f.friendly_name, ''),
                'factor_type', f.factor_type,
                'status', f.status,
                'created_at', madbase.auth_ts(f.created_at),
                'updated_at', madbase.auth_ts(f.updated_at),
                'last_challenged_at', madbase.auth_ts(f.last_challenged_at),
                'phone', f.phone
            ) ORDER BY f.created_at)
            FROM auth.mfa_factors f WHERE f.user_id = u.id
        )
    ))
$$;
