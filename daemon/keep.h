/* What outlives mttd: each session's state as plain data in a memfd of its own, and every fd
 * a session or a connection needs, under a name, so that a new mttd takes them up where the
 * old one left them. Under systemd they are in its file descriptor store from the moment
 * they exist (fdstore.h): a restart, and a crash, finds them there. A re-exec of mttd passes
 * the same names across exec (handover.h).
 *
 * A session's memfd holds, at offset 0, its progress as of its report's last write (a
 * fixed block the writer thread writes once that write is in the file), and at
 * MTTD_KEEP_RECORD_AT a JSON document: {"version": 1, "id": ID, "conn": N, "seq": K,
 * "saved_us": T, "session": the snapshot's record} rewritten at Open, Close, its end and at a
 * handover. Whichever of the two has the higher seq says where its rows stand. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "session.h"
#include "writer.h"

#define MTTD_KEEP_RECORD_AT 256

/* The names things are kept under (fdstore.h takes [A-Za-z0-9._-]): a letter and the id in
 * hex. Short: systemd passes every name in one variable, which exec takes up to 128 KiB. */
#define MTTD_KEEP_NAME_MAX 64
#define MTTD_KEEP_LISTENER "varlink"
#define MTTD_KEEP_STATE    "s"
#define MTTD_KEEP_REPORT   "r"
#define MTTD_KEEP_PIDFD    "p"
#define MTTD_KEEP_CONN     "c"
/* What the names kept at once may take (LISTEN_FDNAMES must fit MAX_ARG_STRLEN, 131072):
 * about 5000 sessions with a connection each. Sessions past it are not kept. */
#define MTTD_KEEP_NAMES_MAX 120000
/* "s1f": what a session's fd of that kind is kept under. */
void mttd_keep_name(char buf[MTTD_KEEP_NAME_MAX], const char *kind, uint64_t id);
/* The id in a name of that kind, 0 if it is not one. */
uint64_t mttd_keep_id_of(const char *name, const char *kind);
/* Bytes a name of that kind takes in the list (with its separator). */
size_t mttd_keep_name_bytes(const char *kind, uint64_t id);
/* Whether bytes more of names fit (logged once when not). */
bool mttd_keep_room(size_t bytes);
/* The names a new mttd took up (bytes, separators included) are in the store already. */
void mttd_keep_adopted_names(size_t bytes);

/* Whether mttd keeps its sessions in systemd's store as they open ($NOTIFY_SOCKET set). */
void mttd_keep_init(bool store);
bool mttd_keep_storing(void);

/* A session opened (conn: its connection's number, conn_kept: the connection is kept
 * already): its memfd is made, its record written, and its fds stored, when their names
 * fit (mttd_keep_room). Failing that it runs all the same, not kept (state_fd -1), logged. */
void mttd_keep_opened(mttd_session *s, uint64_t conn, bool conn_kept);
/* Its life changed (Close, its end): the record is rewritten, if it is kept. */
void mttd_keep_changed(mttd_session *s, uint64_t conn);
/* The record written now, its memfd made if it has none (a handover); saved_us: when its
 * last value was taken (the restart's gap counts from there). 0 or -errno. */
int mttd_keep_write(mttd_session *s, uint64_t conn, uint64_t saved_us);
/* The same at a handover, once the writes are back or the stop timeout passed: a session
 * whose write is still out is marked so (its report may be cut there: it cannot go on). */
int mttd_keep_hand_over(mttd_session *s, uint64_t conn, uint64_t saved_us);
/* A report write of a running session is cut into item: the progress it stands for goes
 * with it, written by the writer once the text is in the file. */
void mttd_keep_progress(mttd_session *s, mttd_write_item *item);
/* It finished: nothing of it stays in the store, its memfd is closed. */
void mttd_keep_finished(mttd_session *s);

/* A connection that owns sessions or watches is kept, under "cN", "cNwall" or "cNwID" (hex;
 * watch: NULL, or what it watches: 0 for every session). Whether it is. */
bool mttd_keep_conn(uint64_t conn, int fd, const uint64_t *watch);
/* What is kept under name is no longer. */
void mttd_keep_unstore(const char *name);
void mttd_keep_conn_name(char buf[MTTD_KEEP_NAME_MAX], uint64_t conn, const uint64_t *watch);
/* Reads a connection's name: its number, and whether and what it watched. */
bool mttd_keep_conn_parse(const char *name, uint64_t *conn, bool *watching, uint64_t *watch);

/* What a kept session's memfd says. */
typedef struct mttd_kept {
        uint64_t id;   /* 0 when not even that could be read */
        uint64_t conn; /* its connection's number, 0 for none */
        uint64_t saved_us;
        mttd_session *s; /* NULL when it cannot be resumed: why says so */
        const char *why;
} mttd_kept;
/* Reads a session back from its memfd (the session's from then on). 0 (k->why: NULL, or why
 * it may not go on: a write that had not come back); 1 when its report was finished already
 * (its last write is in: nothing to resume, k->s NULL); or -errno with k->why. k->id is set
 * whenever the record says it. */
int mttd_keep_read(int state_fd, mttd_kept *k);
