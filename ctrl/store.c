/*
 * store.c — lscd's state in SQLite.
 *
 * The store is called from the event loop, so every call is one short
 * statement on a prepared statement kept for the life of the store, in WAL
 * mode with synchronous=NORMAL: a commit appends to the WAL without an
 * fsync (a power cut may lose the last commits, never the database's
 * consistency; a crash of lscd alone loses nothing). What must change
 * together (a new current certificate) runs in one savepoint, which nests
 * inside a caller's store_begin()/store_commit().
 *
 * A commit never waits on the disk either: SQLite's automatic checkpoint
 * (which copies the WAL back into the database and runs fdatasync twice,
 * up to a hundred milliseconds under load) is off, and a thread of the
 * store's own, with its own connection to the same file, checkpoints
 * instead (see "The checkpointer" below). Only that thread syncs; the
 * event loop never waits for it. WAL mode keeps kill -9 at any point safe
 * whether a checkpoint is running or not: the WAL is replayed on open.
 *
 * MACs are stored as 12 lower-case hex digits, the provisioning state by
 * its name, booleans as 0/1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ctrl/log.h"
#include "ctrl/store.h"

#define STORE_BUSY_MS 2000
/*
 * The checkpointer (see there) wakes when a commit left CKPT_PAGES in the
 * WAL (SQLite's own auto-checkpoint threshold), and every CKPT_INTERVAL_S.
 * A WAL that passive checkpoints never catch up with (a writer always
 * ahead of them) is reset at WAL_MAX_PAGES, which briefly holds off the
 * loop's writes; a WAL file left larger than WAL_KEEP_BYTES is cut back
 * once nothing has been written for a whole interval.
 */
#define CKPT_PAGES      1000
#define CKPT_INTERVAL_S 2
#define WAL_MAX_PAGES   16384
#define WAL_KEEP_BYTES  (4 * 1024 * 1024)
#define CKPT_BUSY_MS    1000

enum stmt_id {
	S_AP_GET, S_AP_PUT, S_AP_ALL, S_AP_COUNT, S_AP_ENSURE,
	S_CERT_SAME, S_CERT_DUP, S_CERT_CLEAR, S_CERT_SET, S_CERT_INSERT,
	S_CERT_CURRENT, S_CERT_COUNT_CURRENT,
	S_AUDIT_ADD, S_AUDIT_ALL, S_AUDIT_MAC,
	S_KV_SET, S_KV_GET, S_KV_DEL,
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	N_STMT
};

/* The checkpointer's state; lock guards everything below it. */
struct checkpointer {
	sqlite3 *db;               /* its own connection, used by its thread only */
	char *wal_path;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	bool wanted;               /* a commit left CKPT_PAGES in the WAL */
	unsigned commits;          /* since the thread last looked */
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[N_STMT];
	bool ap_walking;           /* the cached iterators are not reentrant */
	bool audit_walking;
	struct checkpointer ck;
};

static const char *const prov_names[] = {
	[STORE_PROV_NONE] = "none",
	[STORE_PROV_PARAMS_SENT] = "params-sent",
	[STORE_PROV_ENROLLING] = "enrolling",
	[STORE_PROV_CERT_SENT] = "cert-sent",
	[STORE_PROV_PROVISIONED] = "provisioned",
	[STORE_PROV_FAILED] = "failed",
	[STORE_PROV_LOOP_SUSPECTED] = "loop-suspected",
};
#define N_PROV (sizeof(prov_names) / sizeof(prov_names[0]))

/* ------------------------------------------------------------------------
 * Schema
 * ------------------------------------------------------------------------ */

/*
 * migrations[i] takes user_version i to i + 1. Append, never edit: a
 * database in the field went through exactly these steps.
 */
static const char *const migrations[] = {
	/* 0 → 1 */
	"CREATE TABLE aps ("
	" mac TEXT PRIMARY KEY NOT NULL CHECK (length(mac) = 12),"
	" name TEXT NOT NULL DEFAULT '',"
	" model TEXT NOT NULL DEFAULT '',"
	" serial TEXT NOT NULL DEFAULT '',"
	" last_address TEXT NOT NULL DEFAULT '',"
	" first_seen INTEGER NOT NULL DEFAULT 0,"
	" last_seen INTEGER NOT NULL DEFAULT 0,"
	" last_join INTEGER NOT NULL DEFAULT 0,"
	" last_cert_type TEXT NOT NULL DEFAULT '',"
	" prov_state TEXT NOT NULL DEFAULT 'none',"
	" txid INTEGER NOT NULL DEFAULT 0,"
	" mic_joins INTEGER NOT NULL DEFAULT 0,"
	" lsc_joins INTEGER NOT NULL DEFAULT 0,"
	" lsc_join_failures INTEGER NOT NULL DEFAULT 0,"
	" mic_fallbacks INTEGER NOT NULL DEFAULT 0,"
	" provisions INTEGER NOT NULL DEFAULT 0,"
	" reprovisions_in_window INTEGER NOT NULL DEFAULT 0,"
	" reprovision_window_start INTEGER NOT NULL DEFAULT 0,"
	" loop_suspected INTEGER NOT NULL DEFAULT 0,"
	" last_failure TEXT NOT NULL DEFAULT '',"
	" last_failure_at INTEGER NOT NULL DEFAULT 0,"
	" reprovision_requested INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE TABLE certificates ("
	" id INTEGER PRIMARY KEY,"
	" mac TEXT NOT NULL REFERENCES aps(mac),"
	" serial_hex TEXT NOT NULL,"
	" serial_key TEXT NOT NULL,"      /* serial_hex normalised, for duplicate detection */
	" sha256_hex TEXT NOT NULL,"
	" sha1_hex TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" issuer TEXT NOT NULL,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" current INTEGER NOT NULL CHECK (current IN (0, 1)),"
	" duplicate_serial INTEGER NOT NULL DEFAULT 0"
	");"
	/* The database itself refuses a second current LSC for one AP. */
	"CREATE UNIQUE INDEX certificates_one_current ON certificates(mac) WHERE current = 1;"
	"CREATE INDEX certificates_by_mac ON certificates(mac, sha256_hex);"
	"CREATE INDEX certificates_by_serial ON certificates(issuer, serial_key);"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" at INTEGER NOT NULL,"
	" mac TEXT NOT NULL,"
	" event TEXT NOT NULL,"
	" detail TEXT NOT NULL"
	");"
	"CREATE INDEX audit_by_mac ON audit(mac, id);"
	"CREATE TABLE kv ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" value TEXT NOT NULL"
	") WITHOUT ROWID;",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define AP_COLS \
	"mac, name, model, serial, last_address, first_seen, last_seen, last_join," \
	" last_cert_type, prov_state, txid, mic_joins, lsc_joins, lsc_join_failures," \
	" mic_fallbacks, provisions, reprovisions_in_window, reprovision_window_start," \
	" loop_suspected, last_failure, last_failure_at, reprovision_requested"

#define CERT_COLS \
	"mac, serial_hex, sha256_hex, sha1_hex, subject, issuer, not_before, not_after," \
	" issued_at, current"

#define AUDIT_COLS "id, at, mac, event, detail"

static const char *const stmt_sql[N_STMT] = {
	[S_AP_GET] = "SELECT " AP_COLS " FROM aps WHERE mac = ?1",
	[S_AP_PUT] = "INSERT INTO aps (" AP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
		" ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
		" ON CONFLICT (mac) DO UPDATE SET name = excluded.name, model = excluded.model,"
		" serial = excluded.serial, last_address = excluded.last_address,"
		" first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
		" last_join = excluded.last_join, last_cert_type = excluded.last_cert_type,"
		" prov_state = excluded.prov_state, txid = excluded.txid,"
		" mic_joins = excluded.mic_joins, lsc_joins = excluded.lsc_joins,"
		" lsc_join_failures = excluded.lsc_join_failures,"
		" mic_fallbacks = excluded.mic_fallbacks, provisions = excluded.provisions,"
		" reprovisions_in_window = excluded.reprovisions_in_window,"
		" reprovision_window_start = excluded.reprovision_window_start,"
		" loop_suspected = excluded.loop_suspected, last_failure = excluded.last_failure,"
		" last_failure_at = excluded.last_failure_at,"
		" reprovision_requested = excluded.reprovision_requested",
	[S_AP_ALL] = "SELECT " AP_COLS " FROM aps ORDER BY mac",
	[S_AP_COUNT] = "SELECT count(*) FROM aps",
	[S_AP_ENSURE] = "INSERT OR IGNORE INTO aps (mac) VALUES (?1)",
	[S_CERT_SAME] = "SELECT id FROM certificates WHERE mac = ?1 AND sha256_hex = ?2"
		" ORDER BY id DESC LIMIT 1",
	[S_CERT_DUP] = "SELECT 1 FROM certificates WHERE issuer = ?1 AND serial_key = ?2"
		" AND sha256_hex <> ?3 LIMIT 1",
	[S_CERT_CLEAR] = "UPDATE certificates SET current = 0 WHERE mac = ?1 AND current = 1",
	[S_CERT_SET] = "UPDATE certificates SET current = 1 WHERE id = ?1",
	[S_CERT_INSERT] = "INSERT INTO certificates (" CERT_COLS ", serial_key, duplicate_serial)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11)",
	[S_CERT_CURRENT] = "SELECT " CERT_COLS " FROM certificates WHERE mac = ?1 AND current = 1",
	[S_CERT_COUNT_CURRENT] = "SELECT count(*) FROM certificates WHERE mac = ?1 AND current = 1",
	[S_AUDIT_ADD] = "INSERT INTO audit (at, mac, event, detail) VALUES (?1, ?2, ?3, ?4)",
	/* The newest ?1 lines (all when -1), handed out oldest first. */
	[S_AUDIT_ALL] = "SELECT * FROM (SELECT " AUDIT_COLS " FROM audit ORDER BY id DESC"
		" LIMIT ?1) ORDER BY id",
	[S_AUDIT_MAC] = "SELECT * FROM (SELECT " AUDIT_COLS " FROM audit WHERE mac = ?2"
		" ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_KV_SET] = "INSERT INTO kv (key, value) VALUES (?1, ?2)"
		" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[S_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
	[S_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT store_op",
	[S_RELEASE] = "RELEASE store_op",
	[S_ROLLBACK_TO] = "ROLLBACK TO store_op",
};

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static void mac_key(const uint8_t mac[6], char out[13])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 6; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[12] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void mac_from_key(const unsigned char *s, uint8_t mac[6])
{
	int i;

	memset(mac, 0, 6);
	if (!s || strlen((const char *)s) != 12)
		return;
	for (i = 0; i < 6; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			memset(mac, 0, 6);
			return;
		}
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
}

/*
 * "0A:1b:00" and "a1b00" name the same serial: compare without separators,
 * case or the leading zeros DER adds to keep an integer positive.
 */
static void serial_key(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in && o + 1 < size; in++) {
		if (*in == ':' || *in == ' ')
			continue;
		if (o == 0 && *in == '0')
			continue;
		out[o++] = (*in >= 'A' && *in <= 'Z') ? (char)(*in - 'A' + 'a') : *in;
	}
	if (o == 0)
		out[o++] = '0';
	out[o] = '\0';
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, size, "%s", t ? (const char *)t : "");
}

/* Run a statement that returns no rows we need; reset it whatever happens. */
static bool run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

static void done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static bool bind_text(sqlite3_stmt *s, int i, const char *t)
{
	return sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT) == SQLITE_OK;
}

static bool bind_mac(sqlite3_stmt *s, int i, const uint8_t mac[6])
{
	char key[13];

	mac_key(mac, key);
	return bind_text(s, i, key);
}

/* Strings from the structs may fill their buffer without a NUL. */
static bool bind_field(sqlite3_stmt *s, int i, const char *t, size_t size)
{
	return sqlite3_bind_text(s, i, t, (int)strnlen(t, size), SQLITE_TRANSIENT) == SQLITE_OK;
}

/* ------------------------------------------------------------------------
 * Open, migrate, close
 * ------------------------------------------------------------------------ */

static bool exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return true;
	snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return false;
}

static bool user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s;
	bool ok;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return false;
	ok = sqlite3_step(s) == SQLITE_ROW;
	if (ok)
		*v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return ok;
}

static bool migrate(sqlite3 *db, char *err, size_t errlen)
{
	char sql[64];
	int v;

	/* IMMEDIATE: two processes opening a new database at once must not
	 * both run a step. */
	if (!exec(db, "BEGIN IMMEDIATE", err, errlen))
		return false;
	if (!user_version(db, &v)) {
		snprintf(err, errlen, "reading the schema version: %s", sqlite3_errmsg(db));
		goto fail;
	}
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %d is newer than this lscd's (%d)",
			 v, SCHEMA_VERSION);
		goto fail;
	}
	for (; v < SCHEMA_VERSION; v++) {
		if (!exec(db, migrations[v], err, errlen))
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (!exec(db, sql, err, errlen))
			goto fail;
	}
	return exec(db, "COMMIT", err, errlen);
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return false;
}

/* The file holds the audit trail: owner only, even if it existed before. */
static bool private_file(const char *path, bool create, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | (create ? O_CREAT : 0), 0600);
	if (fd < 0) {
		if (!create && errno == ENOENT)
			return true;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return false;
	}
	if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) < 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* ------------------------------------------------------------------------
 * The checkpointer
 *
 * SQLite's automatic checkpoint runs inside the commit that passes its
 * threshold: it copies the WAL into the database and runs fdatasync twice,
 * which under load took up to 128 ms of the event loop. This thread exists
 * so that the loop never waits on the disk: with its own connection to the
 * same file it makes PASSIVE checkpoints, which hold up neither the loop's
 * readers nor its writers, and does all the store's syncing. It shares
 * nothing with the daemon but struct checkpointer; its errors go to the
 * log, once when they start and once when they end.
 * ------------------------------------------------------------------------ */

/* After every commit of the loop's connection (SQLite's WAL hook): count,
 * and signal past the threshold; never the checkpoint itself. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct checkpointer *ck = arg;
	(void)db;
	(void)name;

	pthread_mutex_lock(&ck->lock);
	ck->commits++;
	if (pages >= CKPT_PAGES && !ck->wanted) {
		ck->wanted = true;
		pthread_cond_signal(&ck->wake);
	}
	pthread_mutex_unlock(&ck->lock);
	return SQLITE_OK;
}

static long long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/*
 * One round: a passive checkpoint when there was anything to copy; or, at
 * a quiet moment after one caught up, cutting the WAL file back. Returns
 * whether the WAL is all in the database now.
 */
static bool checkpoint(struct checkpointer *ck, bool busy, bool caught_up, bool *failing)
{
	int rc, log = 0, done = 0;

	if (busy || !caught_up) {
		rc = sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		/* A passive checkpoint lets the next commit start the WAL afresh
		 * only when it caught up; a writer that is always ahead of it
		 * would let the WAL grow without bound. */
		if (rc == SQLITE_OK && log >= WAL_MAX_PAGES)
			rc = sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_RESTART, &log, &done);
	} else if (file_size(ck->wal_path) > WAL_KEEP_BYTES) {
		/* Nothing to copy and nobody writing: the truncation (tens of
		 * milliseconds for a large file) holds up no commit. */
		rc = sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
	} else {
		return true;
	}
	/* SQLITE_BUSY: a RESTART or TRUNCATE that did not get the database in
	 * time; the next round tries again. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && !*failing) {
		*failing = true;
		log_error("state database: checkpoint failed, the WAL grows until one works: %s",
			  sqlite3_errmsg(ck->db));
	} else if (rc == SQLITE_OK && *failing) {
		*failing = false;
		log_info("state database: checkpoints work again");
	}
	return rc == SQLITE_OK && log == done;
}

static void *checkpointer_main(void *arg)
{
	struct checkpointer *ck = arg;
	bool failing = false, caught_up = false;

	pthread_mutex_lock(&ck->lock);
	while (!ck->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += CKPT_INTERVAL_S;
		while (!ck->stop && !ck->wanted &&
		       pthread_cond_timedwait(&ck->wake, &ck->lock, &until) == 0)
			;
		if (ck->stop)
			break;
		bool busy = ck->commits > 0;
		ck->wanted = false;
		ck->commits = 0;
		pthread_mutex_unlock(&ck->lock);
		caught_up = checkpoint(ck, busy, caught_up, &failing);
		pthread_mutex_lock(&ck->lock);
	}
	pthread_mutex_unlock(&ck->lock);
	return NULL;
}

static bool checkpointer_start(struct store *st, const char *path, char *err, size_t errlen)
{
	struct checkpointer *ck = &st->ck;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (asprintf(&ck->wal_path, "%s-wal", path) < 0) {
		ck->wal_path = NULL;
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: checkpointer connection: %s", path,
			 ck->db ? sqlite3_errmsg(ck->db) : "out of memory");
		return false;
	}
	sqlite3_busy_timeout(ck->db, CKPT_BUSY_MS);
	/* A connection checkpoints nothing before it has read the database
	 * and so found the WAL: read the schema once. */
	if (!exec(ck->db, "SELECT count(*) FROM sqlite_schema;", err, errlen))
		return false;
	if (pthread_condattr_init(&ca) != 0)
		goto fail;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	     pthread_cond_init(&ck->wake, &ca) != 0;
	pthread_condattr_destroy(&ca);
	if (rc)
		goto fail;
	if (pthread_mutex_init(&ck->lock, NULL) != 0) {
		pthread_cond_destroy(&ck->wake);
		goto fail;
	}
	/* From now on the loop's commits wake the thread instead of checkpointing. */
	sqlite3_wal_hook(st->db, wal_hook, ck);
	/* Signals are the loop's business: the thread blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ck->thread, NULL, checkpointer_main, ck);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		sqlite3_wal_hook(st->db, NULL, NULL);
		pthread_mutex_destroy(&ck->lock);
		pthread_cond_destroy(&ck->wake);
		goto fail;
	}
	ck->running = true;
	return true;
fail:
	snprintf(err, errlen, "%s: cannot start the checkpointer thread", path);
	return false;
}

static void checkpointer_stop(struct store *st)
{
	struct checkpointer *ck = &st->ck;

	if (ck->running) {
		pthread_mutex_lock(&ck->lock);
		ck->stop = true;
		pthread_cond_signal(&ck->wake);
		pthread_mutex_unlock(&ck->lock);
		pthread_join(ck->thread, NULL);
		sqlite3_wal_hook(st->db, NULL, NULL);
		pthread_mutex_destroy(&ck->lock);
		pthread_cond_destroy(&ck->wake);
		ck->running = false;
	}
	sqlite3_close(ck->db);
	ck->db = NULL;
	free(ck->wal_path);
	ck->wal_path = NULL;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	static const char *const sidecars[] = { "-wal", "-shm", "-journal" };
	struct store *st;
	char side[4096];
	size_t i;
	int rc;

	/* SQLite creates -wal and -shm with the database file's mode, so a
	 * 0600 database is enough for all three; existing ones are fixed too. */
	if (!private_file(path, true, err, errlen))
		return NULL;
	for (i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
		if ((size_t)snprintf(side, sizeof(side), "%s%s", path, sidecars[i]) >= sizeof(side)) {
			snprintf(err, errlen, "%s: path too long", path);
			return NULL;
		}
		if (!private_file(side, false, err, errlen))
			return NULL;
	}

	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if (!exec(st->db, "PRAGMA foreign_keys = ON;"
		  "PRAGMA synchronous = NORMAL;"
		  "PRAGMA wal_autocheckpoint = 0;"   /* the checkpointer's job */
		  "PRAGMA trusted_schema = OFF;", err, errlen))
		goto fail;
	{
		sqlite3_stmt *s;
		bool wal = false;

		if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) == SQLITE_OK) {
			wal = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) &&
			      !strcmp((const char *)sqlite3_column_text(s, 0), "wal");
			sqlite3_finalize(s);
		}
		if (!wal) {
			snprintf(err, errlen, "%s: cannot switch to WAL mode: %s", path,
				 sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	if (!migrate(st->db, err, errlen))
		goto fail;
	for (i = 0; i < N_STMT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "preparing statement %zu: %s", i,
				 sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	if (!checkpointer_start(st, path, err, errlen))
		goto fail;
	return st;
fail:
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	size_t i;

	if (!st)
		return;
	/* First: the last connection to close checkpoints the whole WAL. */
	checkpointer_stop(st);
	for (i = 0; i < N_STMT; i++)
		sqlite3_finalize(st->st[i]);
	if (st->db) {
		sqlite3_exec(st->db, "PRAGMA optimize", NULL, NULL, NULL);
		sqlite3_close(st->db);
	}
	free(st);
}

const char *store_errmsg(struct store *st)
{
	return st && st->db ? sqlite3_errmsg(st->db) : "no database";
}

/* ------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------ */

bool store_begin(struct store *st)
{
	return run(st->st[S_BEGIN]);
}

bool store_commit(struct store *st)
{
	return run(st->st[S_COMMIT]);
}

bool store_rollback(struct store *st)
{
	return run(st->st[S_ROLLBACK]);
}

/* A savepoint works inside and outside a caller's transaction alike. */
static bool op_begin(struct store *st)
{
	return run(st->st[S_SAVEPOINT]);
}

static bool op_end(struct store *st, bool ok)
{
	if (!ok)
		run(st->st[S_ROLLBACK_TO]);
	return run(st->st[S_RELEASE]) && ok;
}

/* ------------------------------------------------------------------------
 * APs
 * ------------------------------------------------------------------------ */

static void row_ap(sqlite3_stmt *s, struct store_ap *r)
{
	enum store_prov_state ps;

	memset(r, 0, sizeof(*r));
	mac_from_key(sqlite3_column_text(s, 0), r->mac);
	col_text(s, 1, r->name, sizeof(r->name));
	col_text(s, 2, r->model, sizeof(r->model));
	col_text(s, 3, r->serial, sizeof(r->serial));
	col_text(s, 4, r->last_address, sizeof(r->last_address));
	r->first_seen = sqlite3_column_int64(s, 5);
	r->last_seen = sqlite3_column_int64(s, 6);
	r->last_join = sqlite3_column_int64(s, 7);
	col_text(s, 8, r->last_cert_type, sizeof(r->last_cert_type));
	r->prov_state = store_prov_state_parse((const char *)sqlite3_column_text(s, 9), &ps) ?
			ps : STORE_PROV_NONE;
	r->txid = (uint32_t)sqlite3_column_int64(s, 10);
	r->mic_joins = (uint32_t)sqlite3_column_int64(s, 11);
	r->lsc_joins = (uint32_t)sqlite3_column_int64(s, 12);
	r->lsc_join_failures = (uint32_t)sqlite3_column_int64(s, 13);
	r->mic_fallbacks = (uint32_t)sqlite3_column_int64(s, 14);
	r->provisions = (uint32_t)sqlite3_column_int64(s, 15);
	r->reprovisions_in_window = (uint32_t)sqlite3_column_int64(s, 16);
	r->reprovision_window_start = sqlite3_column_int64(s, 17);
	r->loop_suspected = sqlite3_column_int(s, 18) != 0;
	col_text(s, 19, r->last_failure, sizeof(r->last_failure));
	r->last_failure_at = sqlite3_column_int64(s, 20);
	r->reprovision_requested = sqlite3_column_int(s, 21) != 0;
}

bool store_ap_get(struct store *st, const uint8_t mac[6], struct store_ap *rec)
{
	sqlite3_stmt *s = st->st[S_AP_GET];
	bool found = false;

	memset(rec, 0, sizeof(*rec));
	memcpy(rec->mac, mac, 6);
	if (bind_mac(s, 1, mac) && sqlite3_step(s) == SQLITE_ROW) {
		row_ap(s, rec);
		found = true;
	}
	done(s);
	return found;
}

bool store_ap_put(struct store *st, const struct store_ap *r)
{
	sqlite3_stmt *s = st->st[S_AP_PUT];
	bool ok;

	ok = bind_mac(s, 1, r->mac) &&
	     bind_field(s, 2, r->name, sizeof(r->name)) &&
	     bind_field(s, 3, r->model, sizeof(r->model)) &&
	     bind_field(s, 4, r->serial, sizeof(r->serial)) &&
	     bind_field(s, 5, r->last_address, sizeof(r->last_address)) &&
	     sqlite3_bind_int64(s, 6, r->first_seen) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 7, r->last_seen) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 8, r->last_join) == SQLITE_OK &&
	     bind_field(s, 9, r->last_cert_type, sizeof(r->last_cert_type)) &&
	     bind_text(s, 10, store_prov_state_name(r->prov_state)) &&
	     sqlite3_bind_int64(s, 11, r->txid) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 12, r->mic_joins) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 13, r->lsc_joins) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 14, r->lsc_join_failures) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 15, r->mic_fallbacks) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 16, r->provisions) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 17, r->reprovisions_in_window) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 18, r->reprovision_window_start) == SQLITE_OK &&
	     sqlite3_bind_int(s, 19, r->loop_suspected) == SQLITE_OK &&
	     bind_field(s, 20, r->last_failure, sizeof(r->last_failure)) &&
	     sqlite3_bind_int64(s, 21, r->last_failure_at) == SQLITE_OK &&
	     sqlite3_bind_int(s, 22, r->reprovision_requested) == SQLITE_OK;
	if (!ok) {
		done(s);
		return false;
	}
	return run(s);
}

bool store_ap_foreach(struct store *st, bool (*fn)(const struct store_ap *rec, void *arg),
		      void *arg)
{
	sqlite3_stmt *s = st->st[S_AP_ALL];
	struct store_ap rec;
	int rc;

	if (st->ap_walking)
		return false;
	st->ap_walking = true;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_ap(s, &rec);
		if (!fn(&rec, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	done(s);
	st->ap_walking = false;
	return rc == SQLITE_DONE;
}

size_t store_ap_count(struct store *st)
{
	sqlite3_stmt *s = st->st[S_AP_COUNT];
	size_t n = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(s, 0);
	done(s);
	return n;
}

/* ------------------------------------------------------------------------
 * Certificates
 * ------------------------------------------------------------------------ */

/* The id of the row holding this very certificate for mac, or 0. */
static int64_t cert_same(struct store *st, const struct store_cert *c)
{
	sqlite3_stmt *s = st->st[S_CERT_SAME];
	int64_t id = 0;

	if (bind_mac(s, 1, c->mac) && bind_field(s, 2, c->sha256_hex, sizeof(c->sha256_hex)) &&
	    sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	done(s);
	return id;
}

static bool cert_dup(struct store *st, const struct store_cert *c, const char *skey, bool *dup)
{
	sqlite3_stmt *s = st->st[S_CERT_DUP];
	int rc = SQLITE_ERROR;

	if (bind_field(s, 1, c->issuer, sizeof(c->issuer)) && bind_text(s, 2, skey) &&
	    bind_field(s, 3, c->sha256_hex, sizeof(c->sha256_hex)))
		rc = sqlite3_step(s);
	done(s);
	*dup = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

static bool cert_insert(struct store *st, const struct store_cert *c, const char *skey,
			bool dup)
{
	sqlite3_stmt *s = st->st[S_CERT_INSERT];
	bool ok;

	ok = bind_mac(s, 1, c->mac) &&
	     bind_field(s, 2, c->serial_hex, sizeof(c->serial_hex)) &&
	     bind_field(s, 3, c->sha256_hex, sizeof(c->sha256_hex)) &&
	     bind_field(s, 4, c->sha1_hex, sizeof(c->sha1_hex)) &&
	     bind_field(s, 5, c->subject, sizeof(c->subject)) &&
	     bind_field(s, 6, c->issuer, sizeof(c->issuer)) &&
	     sqlite3_bind_int64(s, 7, c->not_before) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 8, c->not_after) == SQLITE_OK &&
	     sqlite3_bind_int64(s, 9, c->issued_at ? c->issued_at : (int64_t)time(NULL)) == SQLITE_OK &&
	     bind_text(s, 10, skey) &&
	     sqlite3_bind_int(s, 11, dup) == SQLITE_OK;
	if (!ok) {
		done(s);
		return false;
	}
	return run(s);
}

bool store_cert_add(struct store *st, const struct store_cert *cert, bool *duplicate)
{
	char serial[sizeof(cert->serial_hex) + 1], skey[sizeof(cert->serial_hex) + 1];
	bool dup = false, ok;
	int64_t same;

	if (duplicate)
		*duplicate = false;
	snprintf(serial, sizeof(serial), "%.*s", (int)sizeof(cert->serial_hex), cert->serial_hex);
	serial_key(serial, skey, sizeof(skey));
	if (!op_begin(st))
		return false;
	/* A certificate belongs to a known AP; create the bare record if the
	 * caller recorded the certificate first. */
	ok = bind_mac(st->st[S_AP_ENSURE], 1, cert->mac) && run(st->st[S_AP_ENSURE]);
	ok = ok && cert_dup(st, cert, skey, &dup);
	same = ok ? cert_same(st, cert) : 0;
	ok = ok && bind_mac(st->st[S_CERT_CLEAR], 1, cert->mac) && run(st->st[S_CERT_CLEAR]);
	if (ok && same) {
		/* Recorded already (a retry after a restart): make it current again. */
		ok = sqlite3_bind_int64(st->st[S_CERT_SET], 1, same) == SQLITE_OK &&
		     run(st->st[S_CERT_SET]);
	} else if (ok) {
		ok = cert_insert(st, cert, skey, dup);
	}
	if (!op_end(st, ok))
		return false;
	if (duplicate)
		*duplicate = dup;
	return !dup;
}

static void row_cert(sqlite3_stmt *s, struct store_cert *c)
{
	memset(c, 0, sizeof(*c));
	mac_from_key(sqlite3_column_text(s, 0), c->mac);
	col_text(s, 1, c->serial_hex, sizeof(c->serial_hex));
	col_text(s, 2, c->sha256_hex, sizeof(c->sha256_hex));
	col_text(s, 3, c->sha1_hex, sizeof(c->sha1_hex));
	col_text(s, 4, c->subject, sizeof(c->subject));
	col_text(s, 5, c->issuer, sizeof(c->issuer));
	c->not_before = sqlite3_column_int64(s, 6);
	c->not_after = sqlite3_column_int64(s, 7);
	c->issued_at = sqlite3_column_int64(s, 8);
	c->current = sqlite3_column_int(s, 9) != 0;
}

bool store_cert_current(struct store *st, const uint8_t mac[6], struct store_cert *cert)
{
	sqlite3_stmt *s = st->st[S_CERT_CURRENT];
	bool found = false;

	memset(cert, 0, sizeof(*cert));
	if (bind_mac(s, 1, mac) && sqlite3_step(s) == SQLITE_ROW) {
		row_cert(s, cert);
		found = true;
	}
	done(s);
	return found;
}

size_t store_cert_count_current(struct store *st, const uint8_t mac[6])
{
	sqlite3_stmt *s = st->st[S_CERT_COUNT_CURRENT];
	size_t n = 0;

	if (bind_mac(s, 1, mac) && sqlite3_step(s) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(s, 0);
	done(s);
	return n;
}

/* ------------------------------------------------------------------------
 * Audit
 * ------------------------------------------------------------------------ */

bool store_audit(struct store *st, const uint8_t mac[6], const char *event, const char *fmt, ...)
{
	static const uint8_t none[6];
	sqlite3_stmt *s = st->st[S_AUDIT_ADD];
	char detail[sizeof(((struct store_audit *)0)->detail)];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* Do not leave half a UTF-8 sequence where the detail was cut. */
	n = strlen(detail);
	if (n == sizeof(detail) - 1) {
		while (n > 0 && ((unsigned char)detail[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && ((unsigned char)detail[n - 1] & 0xc0) == 0xc0)
			n--;
		detail[n] = '\0';
	}
	if (sqlite3_bind_int64(s, 1, (int64_t)time(NULL)) != SQLITE_OK ||
	    !bind_mac(s, 2, mac ? mac : none) ||
	    sqlite3_bind_text(s, 3, event, (int)strnlen(event, sizeof(((struct store_audit *)0)->event) - 1),
			      SQLITE_TRANSIENT) != SQLITE_OK ||
	    !bind_text(s, 4, detail)) {
		done(s);
		return false;
	}
	return run(s);
}

bool store_audit_foreach(struct store *st, const uint8_t *mac, size_t limit,
			 bool (*fn)(const struct store_audit *a, void *arg), void *arg)
{
	sqlite3_stmt *s = st->st[mac ? S_AUDIT_MAC : S_AUDIT_ALL];
	struct store_audit a;
	int rc;

	if (st->audit_walking)
		return false;
	if (sqlite3_bind_int64(s, 1, limit ? (int64_t)limit : -1) != SQLITE_OK ||
	    (mac && !bind_mac(s, 2, mac))) {
		done(s);
		return false;
	}
	st->audit_walking = true;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&a, 0, sizeof(a));
		a.id = sqlite3_column_int64(s, 0);
		a.at = sqlite3_column_int64(s, 1);
		mac_from_key(sqlite3_column_text(s, 2), a.mac);
		col_text(s, 3, a.event, sizeof(a.event));
		col_text(s, 4, a.detail, sizeof(a.detail));
		if (!fn(&a, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	done(s);
	st->audit_walking = false;
	return rc == SQLITE_DONE;
}

/* ------------------------------------------------------------------------
 * Key/value
 * ------------------------------------------------------------------------ */

bool store_kv_set(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *s = st->st[S_KV_SET];

	if (!bind_text(s, 1, key) || !bind_text(s, 2, value)) {
		done(s);
		return false;
	}
	return run(s);
}

bool store_kv_get(struct store *st, const char *key, char **value)
{
	sqlite3_stmt *s = st->st[S_KV_GET];
	bool ok = false;

	*value = NULL;
	if (bind_text(s, 1, key) && sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);

		*value = strdup(t ? (const char *)t : "");
		ok = *value != NULL;
	}
	done(s);
	return ok;
}

bool store_kv_delete(struct store *st, const char *key)
{
	sqlite3_stmt *s = st->st[S_KV_DEL];

	if (!bind_text(s, 1, key)) {
		done(s);
		return false;
	}
	return run(s);
}

/* ------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------ */

const char *store_prov_state_name(enum store_prov_state s)
{
	if ((unsigned)s < N_PROV)
		return prov_names[s];
	return "none";
}

bool store_prov_state_parse(const char *name, enum store_prov_state *s)
{
	size_t i;

	if (!name)
		return false;
	for (i = 0; i < N_PROV; i++) {
		if (!strcmp(name, prov_names[i])) {
			*s = (enum store_prov_state)i;
			return true;
		}
	}
	return false;
}
