-- stopay schema, version 14: least privilege for the service.
--
-- Migrations run as the owner of the schema; `serve` may connect as an application role that owns
-- nothing (docs/security.md). stopay_grant_app(role, grants) gives that role exactly the privileges
-- named in grants, after taking every privilege it had in the schema away. The list lives in one
-- place, stopay/store/sql/grant_app_role.sql (`stopay db grant` and `serve --migrate-dsn` run it);
-- the function refuses to grant while a table or view of the schema is missing from the list, so a
-- migration that adds a table cannot leave it out.
--
-- The evidence is append-only for everyone: cases, the transfers reported and the banks' answers
-- join case_events (0001) and audit_checkpoints (0013) with triggers refusing UPDATE, DELETE and
-- TRUNCATE. The application role gets INSERT and SELECT on them, nothing more, so it is held back by
-- the grants as well; and it cannot alter a table or disable a trigger, which only the owner may.
--
-- The chain's writers (the case_events trigger and case_chain_lock, which writers call to lock the
-- heads of several cases in order) now run as the owner (SECURITY DEFINER, with a fixed
-- search_path), so the application role needs no privilege on case_chain_heads but SELECT: it
-- cannot move a head itself.

CREATE FUNCTION stopay_evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER cases_append_only BEFORE UPDATE OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION stopay_evidence_append_only();
CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION stopay_evidence_append_only();
CREATE TRIGGER entry_transfers_append_only BEFORE UPDATE OR DELETE ON entry_transfers
    FOR EACH ROW EXECUTE FUNCTION stopay_evidence_append_only();
CREATE TRIGGER entry_transfers_no_truncate BEFORE TRUNCATE ON entry_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION stopay_evidence_append_only();
CREATE TRIGGER bank_answers_append_only BEFORE UPDATE OR DELETE ON bank_answers
    FOR EACH ROW EXECUTE FUNCTION stopay_evidence_append_only();
CREATE TRIGGER bank_answers_no_truncate BEFORE TRUNCATE ON bank_answers
    FOR EACH STATEMENT EXECUTE FUNCTION stopay_evidence_append_only();

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION case_chain_lock(uuid) SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION case_events_chain() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
END $$;
REVOKE EXECUTE ON FUNCTION case_chain_lock(uuid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION case_events_chain() FROM PUBLIC;

-- grants: {"table or view": "SELECT, INSERT, UPDATE (col, ...)", "function(args)": "EXECUTE", ...};
-- an empty string grants nothing on that relation (it is named, on purpose). Returns the number of
-- GRANT statements run. Run by the owner (SECURITY INVOKER): it can grant only what the caller may.
CREATE FUNCTION stopay_grant_app(app name, grants jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    g       record;
    missing text;
    n       integer := 0;
    target  text;
BEGIN
    IF app = current_user THEN
        RAISE EXCEPTION 'role % runs the migrations: give the service another role', app
            USING ERRCODE = 'invalid_grant_operation';
    END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = app) THEN
        RAISE EXCEPTION 'role % is a superuser: grants cannot hold it back', app
            USING ERRCODE = 'invalid_grant_operation';
    END IF;
    SELECT string_agg(c.relname, ', ' ORDER BY c.relname) INTO missing
    FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND NOT grants ? c.relname;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the grants of the application role do not name %', missing
            USING ERRCODE = 'invalid_grant_operation',
                  HINT = 'add them to stopay/store/sql/grant_app_role.sql';
    END IF;
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), app);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', current_schema(), app);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %I', current_schema(), app);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), app);
    FOR g IN SELECT key, value FROM jsonb_each_text(grants) ORDER BY key LOOP
        CONTINUE WHEN g.value = '';
        IF g.value !~ '^[A-Z]+( \([a-z0-9_, ]+\))?(, [A-Z]+( \([a-z0-9_, ]+\))?)*$' THEN
            RAISE EXCEPTION 'not a list of privileges for %: %', g.key, g.value
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF strpos(g.key, '(') > 0 THEN
            target := 'FUNCTION ' || g.key::regprocedure::text;
        ELSIF (SELECT relkind FROM pg_class WHERE oid = g.key::regclass) = 'S' THEN
            target := 'SEQUENCE ' || g.key::regclass::text;
        ELSE
            target := 'TABLE ' || g.key::regclass::text;
        END IF;
        EXECUTE format('GRANT %s ON %s TO %I', g.value, target, app);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
REVOKE EXECUTE ON FUNCTION stopay_grant_app(name, jsonb) FROM PUBLIC;
