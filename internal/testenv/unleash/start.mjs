// start.mjs starts the npm unleash-server that internal/testenv drives in the
// edge-mode tests. Everything comes from the environment that testenv sets:
//
//   BRINK_UNLEASH_MODULE  absolute path of unleash-server's dist/lib/server-impl.js
//   BRINK_UNLEASH_PORT    HTTP port on 127.0.0.1
//   BRINK_PG_PORT         PostgreSQL port on 127.0.0.1 (user postgres, trust auth)
//   INIT_ADMIN_API_TOKENS "*:*.<secret>": the admin API token the tests use
//
// Unleash reads further settings from its own environment variables
// (SEND_TELEMETRY, CHECK_VERSION, LOG_LEVEL, ...), which testenv also sets.
import { pathToFileURL } from 'node:url';

const env = (name) => {
    const v = process.env[name];
    if (!v) {
        console.error(`start.mjs: ${name} is not set`);
        process.exit(2);
    }
    return v;
};

const { start } = await import(pathToFileURL(env('BRINK_UNLEASH_MODULE')).href);

try {
    await start({
        db: {
            host: '127.0.0.1',
            port: Number(env('BRINK_PG_PORT')),
            user: 'postgres',
            password: 'unused',
            database: 'unleash',
            ssl: false,
            pool: { min: 0, max: 4 },
        },
        server: {
            host: '127.0.0.1',
            port: Number(env('BRINK_UNLEASH_PORT')),
            // Quick stop: tests kill and restart the upstream mid-run.
            gracefulShutdownEnable: false,
        },
        authentication: {
            type: 'open-source',
            enableApiToken: true,
            createAdminUser: true,
        },
        versionCheck: { enable: false },
        // The frontend API keeps its own copy of the flags, 45 minutes stale
        // by default; tests change flags and read them back at once.
        frontendApi: { refreshIntervalInMs: 1000 },
        logLevel: process.env.LOG_LEVEL || 'warn',
    });
} catch (err) {
    console.error(err);
    process.exit(1);
}
