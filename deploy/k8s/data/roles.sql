-- disparo's Postgres roles: one login role per service, allowed to read and write only its
-- own schema, and disparo_migrator, the only one that may change the schemas (the migration
-- Job). Run once by a superuser in disparo's database (the operator's bootstrap runs it from
-- the ConfigMap disparo-postgres-roles); safe to run again. Passwords are set apart
-- (ALTER ROLE ... PASSWORD, or the operator's managed roles), never here.
-- VACUUM of a table needs its owner (the migrator) before Postgres 17; a service's own
-- VACUUM after a large import is then skipped with a warning and autovacuum does it.

DO $roles$
DECLARE
    service record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'disparo_migrator') THEN
        CREATE ROLE disparo_migrator LOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO disparo_migrator', current_database());
    EXECUTE 'REVOKE CREATE ON SCHEMA public FROM PUBLIC';

    FOR service IN
        SELECT * FROM (VALUES
            ('disparo_campaign_api', 'campaign_api'),
            ('disparo_dispatcher', 'dispatcher'),
            ('disparo_followup', 'followup'),
            ('disparo_reporting', 'reporting'),
            ('disparo_console', 'console')
        ) AS s (role_name, schema_name)
    LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = service.role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', service.role_name);
        END IF;
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I',
                       current_database(), service.role_name);
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION disparo_migrator',
                       service.schema_name);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', service.schema_name, service.role_name);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA %I TO %I',
                       service.schema_name, service.role_name);
        EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I',
                       service.schema_name, service.role_name);
        EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I',
                       service.schema_name, service.role_name);
        -- what the migrator creates later is granted the same way
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE disparo_migrator IN SCHEMA %I '
                       'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO %I',
                       service.schema_name, service.role_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE disparo_migrator IN SCHEMA %I '
                       'GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I',
                       service.schema_name, service.role_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE disparo_migrator IN SCHEMA %I '
                       'GRANT EXECUTE ON FUNCTIONS TO %I',
                       service.schema_name, service.role_name);
    END LOOP;
END
$roles$;
