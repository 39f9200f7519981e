/* Sessions and connections kept for the next mttd. */
#include "keep.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fdstore.h"
#include "log.h"
#include "snapshot.h"
#include "target.h"

/* Where a running session's rows stand as of its report's last write: written by the writer
 * thread into the first bytes of its memfd once that write is in the file. */
#define PROGRESS_MAGIC "mttprog1"
typedef struct progress {
        char magic[8];
        uint64_t seq, saved_us;
        uint64_t n_rows, writes_done, last_sync_us, synced_writes;
        int64_t last_kb, peak_kb;
        uint64_t next_due_us;
        mttd_point last, held, max;
        uint32_t have_held, have_max;
        uint32_t finished; /* it was the last write: the report is whole */
} progress;
_Static_assert(sizeof(progress) <= MTTD_WRITE_AFTER_MAX, "a progress block fits an item");
_Static_assert(sizeof(progress) <= MTTD_KEEP_RECORD_AT, "a progress block fits before the record");

static bool storing;

void mttd_keep_init(bool store)
{
        storing = store;
}

bool mttd_keep_storing(void)
{
        return storing;
}

void mttd_keep_name(char buf[MTTD_KEEP_NAME_MAX], const char *kind, uint64_t id)
{
        snprintf(buf, MTTD_KEEP_NAME_MAX, "%s%" PRIx64, kind, id);
}

/* The bytes of the names kept now: systemd passes them all in one variable. */
static size_t names_bytes;
static bool warned_full;

bool mttd_keep_room(size_t bytes)
{
        if (names_bytes + bytes <= MTTD_KEEP_NAMES_MAX) {
                warned_full = false;
                return true;
        }
        if (!warned_full)
                mttd_log(LOG_WARNING,
                         "more sessions than systemd can pass to the next mttd (their names "
                         "fill %zu bytes): new ones are not kept across a restart",
                         names_bytes);
        warned_full = true;
        return false;
}

void mttd_keep_adopted_names(size_t bytes)
{
        names_bytes += bytes;
}

size_t mttd_keep_name_bytes(const char *kind, uint64_t id)
{
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_name(name, kind, id);
        return strlen(name) + 1; /* and a ':' */
}

static bool push(const char *name, int fd)
{
        int r = mttd_fdstore_push(name, fd);
        if (r < 0) {
                mttd_log(LOG_WARNING, "cannot keep %s in systemd's store: %s", name, strerror(-r));
                return false;
        }
        names_bytes += strlen(name) + 1;
        return true;
}

static bool store(const char *kind, uint64_t id, int fd)
{
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_name(name, kind, id);
        return push(name, fd);
}

static void unstore(const char *kind, uint64_t id)
{
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_name(name, kind, id);
        mttd_keep_unstore(name);
}

/* in_flight: a write of its report is out at a handover (stalled past the stop timeout): it
 * may be cut in the file, and nothing may follow it. */
static json_t *document(const mttd_session *s, uint64_t conn, uint64_t saved_us, bool in_flight)
{
        json_t *record = mttd_snapshot_session(s);
        if (!record)
                return NULL;
        return json_pack("{s:i, s:I, s:I, s:I, s:I, s:b, s:o}", "version", MTTD_SNAPSHOT_VERSION,
                         "id", (json_int_t)s->id, "conn", (json_int_t)conn, "seq",
                         (json_int_t)s->keep_seq, "saved_us", (json_int_t)saved_us, "in_flight",
                         in_flight, "session", record);
}

static int write_record(mttd_session *s, uint64_t conn, uint64_t saved_us, bool in_flight)
{
        if (s->state_fd < 0) {
                char name[MTTD_KEEP_NAME_MAX];
                mttd_keep_name(name, "mtt-state-", s->id);
                s->state_fd = memfd_create(name, MFD_CLOEXEC);
                if (s->state_fd < 0)
                        return -errno;
        }
        s->keep_seq++;
        json_t *doc = document(s, conn, saved_us, in_flight);
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!text)
                return -ENOMEM;
        size_t len = strlen(text);
        ssize_t n = pwrite(s->state_fd, text, len, MTTD_KEEP_RECORD_AT);
        int r = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
        free(text);
        if (r == 0 && ftruncate(s->state_fd, (off_t)(MTTD_KEEP_RECORD_AT + len)) < 0)
                r = -errno;
        return r;
}

int mttd_keep_write(mttd_session *s, uint64_t conn, uint64_t saved_us)
{
        return write_record(s, conn, saved_us, false);
}

int mttd_keep_hand_over(mttd_session *s, uint64_t conn, uint64_t saved_us)
{
        return write_record(s, conn, saved_us, s->writing);
}

void mttd_keep_opened(mttd_session *s, uint64_t conn, bool conn_kept)
{
        if (!storing)
                return;
        size_t bytes = mttd_keep_name_bytes(MTTD_KEEP_STATE, s->id) +
                       mttd_keep_name_bytes(MTTD_KEEP_REPORT, s->id) +
                       (s->source ? mttd_keep_name_bytes(MTTD_KEEP_PIDFD, s->id) : 0) +
                       (conn_kept ? 0 : mttd_keep_name_bytes(MTTD_KEEP_CONN, conn));
        if (!mttd_keep_room(bytes))
                return;
        int r = mttd_keep_write(s, conn, mttd_now_us());
        if (r < 0) {
                mttd_log(LOG_WARNING, "session %" PRIu64 ": cannot keep its state: %s", s->id,
                         strerror(-r));
                return;
        }
        store(MTTD_KEEP_STATE, s->id, s->state_fd);
        store(MTTD_KEEP_REPORT, s->id, s->fd);
        /* Sessions of one process share its pidfd, and systemd keeps one file once: each
         * has a pidfd of its own, made while the shared one says the process lives (so the
         * pid is not another's). */
        int pidfd = s->source ? mttd_target_pidfd_again(s->source->pidfd, s->tracked_pid) : -1;
        if (pidfd >= 0) {
                s->pidfd_kept = store(MTTD_KEEP_PIDFD, s->id, pidfd);
                close(pidfd); /* systemd has its own */
        }
}

void mttd_keep_changed(mttd_session *s, uint64_t conn)
{
        if (s->state_fd < 0 || !storing) /* without systemd a handover writes it */
                return;
        int r = mttd_keep_write(s, conn, mttd_now_us());
        if (r < 0)
                mttd_log(LOG_WARNING, "session %" PRIu64 ": cannot keep its state: %s", s->id,
                         strerror(-r));
}

void mttd_keep_progress(mttd_session *s, mttd_write_item *item)
{
        if (s->state_fd < 0 || !storing)
                return;
        progress p = {
            .finished = !mttd_session_running(s),
            .seq = ++s->keep_seq,
            .saved_us = mttd_now_us(),
            .n_rows = s->n_rows,
            .writes_done = s->writes_done + 1, /* this one, when the block is written */
            .last_sync_us = s->last_sync_us,
            .synced_writes = s->synced_writes,
            .last_kb = s->last_kb,
            .peak_kb = s->peak_kb,
            .next_due_us = s->rows.next_due_us,
            .last = s->rows.last,
            .held = s->rows.held,
            .max = s->rows.max,
            .have_held = s->rows.have_held,
            .have_max = s->rows.have_max,
        };
        memcpy(p.magic, PROGRESS_MAGIC, sizeof(p.magic));
        memcpy(item->after, &p, sizeof(p));
        item->after_len = sizeof(p);
        item->after_fd = s->state_fd;
}

void mttd_keep_finished(mttd_session *s)
{
        if (s->state_fd < 0)
                return;
        unstore(MTTD_KEEP_STATE, s->id);
        unstore(MTTD_KEEP_REPORT, s->id);
        if (s->pidfd_kept)
                unstore(MTTD_KEEP_PIDFD, s->id);
        s->pidfd_kept = false;
        close(s->state_fd);
        s->state_fd = -1;
}

void mttd_keep_conn_name(char buf[MTTD_KEEP_NAME_MAX], uint64_t conn, const uint64_t *watch)
{
        if (!watch)
                snprintf(buf, MTTD_KEEP_NAME_MAX, MTTD_KEEP_CONN "%" PRIx64, conn);
        else if (*watch == 0)
                snprintf(buf, MTTD_KEEP_NAME_MAX, MTTD_KEEP_CONN "%" PRIx64 "wall", conn);
        else
                snprintf(buf, MTTD_KEEP_NAME_MAX, MTTD_KEEP_CONN "%" PRIx64 "w%" PRIx64, conn,
                         *watch);
}

bool mttd_keep_conn(uint64_t conn, int fd, const uint64_t *watch)
{
        if (!storing)
                return false;
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_conn_name(name, conn, watch);
        return mttd_keep_room(strlen(name) + 1) && push(name, fd);
}

void mttd_keep_unstore(const char *name)
{
        if (!storing)
                return;
        mttd_fdstore_remove(name);
        size_t n = strlen(name) + 1;
        names_bytes = names_bytes > n ? names_bytes - n : 0;
}

/* A number in hex, above 0, up to the end or a 'w'. */
static bool parse_hex(const char *s, char **end, uint64_t *out)
{
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                return false;
        errno = 0;
        unsigned long long v = strtoull(s, end, 16);
        *out = v;
        return errno == 0 && v > 0;
}

bool mttd_keep_conn_parse(const char *name, uint64_t *conn, bool *watching, uint64_t *watch)
{
        if (name[0] != MTTD_KEEP_CONN[0])
                return false;
        char *end;
        if (!parse_hex(name + 1, &end, conn))
                return false;
        *watching = false;
        *watch = 0;
        if (*end == '\0')
                return true;
        if (*end != 'w')
                return false;
        *watching = true;
        if (strcmp(end, "wall") == 0)
                return true;
        return parse_hex(end + 1, &end, watch) && *end == '\0';
}

uint64_t mttd_keep_id_of(const char *name, const char *kind)
{
        size_t k = strlen(kind);
        char *end;
        uint64_t id;
        if (strncmp(name, kind, k) != 0 || !parse_hex(name + k, &end, &id) || *end != '\0')
                return 0;
        return id;
}

/* The record's number fields read as unsigned, 0 when absent. */
static uint64_t number(const json_t *doc, const char *key)
{
        json_int_t v = json_integer_value(json_object_get(doc, key));
        return v > 0 ? (uint64_t)v : 0;
}

/* The progress block, when it is newer than the record: where the rows stand. */
static bool apply_progress(const progress *p, uint64_t seq, mttd_kept *k)
{
        mttd_session *s = k->s;
        if (memcmp(p->magic, PROGRESS_MAGIC, sizeof(p->magic)) != 0 || p->seq <= seq)
                return false;
        if (p->finished)
                return true;
        s->first_written = true; /* a write went well after the record */
        s->text_len = 0;         /* what the record had unwritten, that write took */
        s->keep_seq = p->seq;
        k->saved_us = p->saved_us;
        if (!mttd_session_making_rows(s)) /* its header only: its rows had not started */
                return false;
        s->n_rows = p->n_rows;
        s->writes_done = p->writes_done;
        s->last_sync_us = p->last_sync_us;
        s->synced_writes = p->synced_writes;
        s->last_kb = p->last_kb;
        s->peak_kb = p->peak_kb;
        s->rows.next_due_us = p->next_due_us;
        s->rows.last = p->last;
        s->rows.held = p->held;
        s->rows.max = p->max;
        s->rows.have_held = p->have_held;
        s->rows.have_max = p->have_max;
        return false;
}

int mttd_keep_read(int state_fd, mttd_kept *k)
{
        *k = (mttd_kept){.why = "its saved state cannot be read"};
        struct stat st;
        if (fstat(state_fd, &st) < 0 || st.st_size < MTTD_KEEP_RECORD_AT)
                return -EBADMSG;
        size_t len = (size_t)st.st_size;
        char *buf = malloc(len);
        if (!buf)
                return -ENOMEM;
        ssize_t n = pread(state_fd, buf, len, 0);
        if (n != (ssize_t)len) {
                free(buf);
                return -EIO;
        }
        progress p;
        memcpy(&p, buf, sizeof(p));
        json_t *doc = json_loadb(buf + MTTD_KEEP_RECORD_AT, len - MTTD_KEEP_RECORD_AT, 0, NULL);
        free(buf);
        if (!doc) {
                k->why = "its saved state is not whole (truncated?)";
                return -EBADMSG;
        }
        k->id = number(doc, "id");
        k->conn = number(doc, "conn");
        k->saved_us = number(doc, "saved_us");
        int r = 0;
        if (number(doc, "version") != MTTD_SNAPSHOT_VERSION) {
                k->why = "its saved state is of a version this mttd does not know";
                r = -EPROTONOSUPPORT;
        } else if ((r = mttd_snapshot_restore(json_object_get(doc, "session"), &k->s, &k->why)) ==
                   0) {
                k->s->keep_seq = number(doc, "seq");
                k->why = json_is_true(json_object_get(doc, "in_flight"))
                             ? "a write of its report had not come back when mttd restarted"
                             : NULL;
                if (apply_progress(&p, k->s->keep_seq, k)) {
                        mttd_session_free(k->s); /* its last write is in: nothing to resume */
                        k->s = NULL;
                        r = 1;
                } else {
                        k->s->state_fd = state_fd;
                }
        }
        json_decref(doc);
        return r;
}
